//! Orders: the list (the API's filters, newest first) and an order's page
//! (lines, fulfilments with their sync, the back office and the plugin,
//! the journal, the unified order, the channel's payload) with its
//! actions.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_domain::back_office::BackOfficeState;
use switchyard_domain::fulfilment::FulfilmentSource;
use switchyard_domain::fulfilment::SyncState;
use switchyard_domain::ids::{FulfilmentId, OrderId, StoreId};
use switchyard_domain::order::{OrderAction, OrderState};
use switchyard_domain::values::check_text;
use switchyard_storage::{
    OrderFilter, OrderRecord, PageRequest, PluginMessage, StorageError, Store,
};

use super::order_invoices;
use super::pages::{failed, html_response, not_found, page};
use super::{Fields, Need, Session, say, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::fulfilments::{FulfilmentIn, LineIn, TrackingIn};

/// Orders on one page of the list.
const PAGE: u32 = 50;

const STATES: [OrderState; 6] = [
    OrderState::Open,
    OrderState::OnHold,
    OrderState::Excluded,
    OrderState::Cancelled,
    OrderState::PartiallyFulfilled,
    OrderState::Fulfilled,
];

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    store: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
}

fn state_badge(state: OrderState) -> Markup {
    html! { span class={ "state state-" (state.as_str()) } { (state.as_str().replace('_', " ")) } }
}

/// An address on one line: name, street, postal code and city, country.
fn address(a: &switchyard_domain::order::Address) -> String {
    let country = a.country.map(|c| c.to_string());
    [
        a.name.as_deref(),
        a.company.as_deref(),
        a.line1.as_deref(),
        a.line2.as_deref(),
        a.postal_code.as_deref(),
        a.city.as_deref(),
        a.region.as_deref(),
        country.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(", ")
}

fn customer(o: &OrderRecord) -> String {
    o.unified
        .as_ref()
        .and_then(|u| u.customer.name.clone().or_else(|| u.customer.email.clone()))
        .unwrap_or_default()
}

/// The store a list or its live feed is limited to: the one asked for
/// (one of `stores`, the account's stores the user reaches), or for a staff user limited to stores the
/// first of theirs. `Err` when the asked store is not theirs.
fn store_scope(session: &Session, stores: &[Store], asked: &str) -> Result<Option<StoreId>, ()> {
    let u = &session.user;
    if asked.is_empty() {
        return Ok(match &u.stores {
            None => None,
            Some(_) => stores.first().map(|st| st.id.clone()),
        });
    }
    // Only a store of the account that this user reaches.
    match StoreId::parse(asked) {
        Ok(id) if stores.iter().any(|st| st.id == id) => Ok(Some(id)),
        _ => Err(()),
    }
}

async fn reachable_stores(s: &AppState, session: &Session) -> Result<Vec<Store>, Response> {
    let u = &session.user;
    match s
        .storage
        .list_stores(&u.account_id, None, &PageRequest::first(100))
        .await
    {
        Ok(p) => Ok(p.items.into_iter().filter(|st| u.reaches(&st.id)).collect()),
        Err(e) => Err(failed(&e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LiveQuery {
    #[serde(default)]
    store: String,
    #[serde(default)]
    since: String,
}

/// How often the live feed looks for changed orders.
const LIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Server-sent events for the orders list: a `changed` event each time an
/// order of the list's store (or of every store the user reaches) was
/// imported or changed after `since`. The page's script then reloads the
/// list; the event carries no order data.
pub(super) async fn live(
    State(s): State<AppState>,
    session: Session,
    Query(q): Query<LiveQuery>,
) -> Response {
    let stores = match reachable_stores(&s, &session).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let Ok(store) = store_scope(&session, &stores, &q.store) else {
        return not_found().await;
    };
    if session.user.stores.is_some() && store.is_none() {
        return not_found().await;
    }
    let since = chrono::DateTime::parse_from_rfc3339(&q.since)
        .map_or_else(|_| chrono::Utc::now(), |t| t.with_timezone(&chrono::Utc));
    let filter = OrderFilter {
        store_id: store,
        ..OrderFilter::default()
    };
    let account = session.user.account_id.clone();
    let stream = futures::stream::unfold(since, move |mut last| {
        let (s, filter, account) = (s.clone(), filter.clone(), account.clone());
        async move {
            loop {
                tokio::time::sleep(LIVE_EVERY).await;
                let mut f = filter.clone();
                f.updated_since = Some(last);
                let page = match s
                    .storage
                    .list_orders(&account, &f, &PageRequest::first(50))
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        // The browser reconnects by itself.
                        tracing::warn!(error = %e, "console live orders feed stopped");
                        return None;
                    }
                };
                if let Some(newest) = page
                    .items
                    .iter()
                    .map(|o| o.updated_at)
                    .max()
                    .filter(|t| *t > last)
                {
                    last = newest;
                    let event = Event::default().event("changed").data(newest.to_rfc3339());
                    return Some((Ok::<_, std::convert::Infallible>(event), last));
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

pub(super) async fn list(
    State(s): State<AppState>,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Response {
    let u = &session.user;
    let stores = match reachable_stores(&s, &session).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    // A staff user limited to stores sees one of them at a time.
    let Ok(store) = store_scope(&session, &stores, &q.store) else {
        return not_found().await;
    };
    if u.stores.is_some() && store.is_none() {
        return html_response(
            StatusCode::OK,
            page(
                "Orders",
                Some((u, &session.csrf)),
                html! { p.empty { "You reach no store yet." } },
            ),
        );
    }
    let state = if q.state.is_empty() {
        None
    } else {
        match OrderState::parse(&q.state) {
            Ok(st) => Some(st),
            Err(_) => return not_found().await,
        }
    };
    let text = q.q.trim();
    // What the live feed counts as new: anything changed after this.
    let rendered = chrono::Utc::now();
    let filter = OrderFilter {
        store_id: store.clone(),
        state,
        q: (!text.is_empty()).then(|| text.chars().take(200).collect()),
        newest_first: true,
        ..OrderFilter::default()
    };
    let after = (!q.after.is_empty() && OrderId::parse(&q.after).is_ok()).then(|| q.after.clone());
    let orders = match s
        .storage
        .list_orders(&u.account_id, &filter, &PageRequest { after, limit: PAGE })
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let store_name = |id: &StoreId| {
        stores
            .iter()
            .find(|st| &st.id == id)
            .map_or_else(|| id.to_string(), |st| st.name.clone())
    };
    let next = orders.next.as_ref().map(|n| {
        let mut url = form_urlencoded::Serializer::new(String::new());
        url.append_pair("store", &q.store)
            .append_pair("state", &q.state)
            .append_pair("q", text)
            .append_pair("after", n);
        format!("/console/orders?{}", url.finish())
    });
    let body = html! {
        form.filters method="get" action="/console/orders" {
            label { "Store"
                select name="store" {
                    @if u.stores.is_none() { option value="" { "every store" } }
                    @for st in &stores {
                        option value=(st.id) selected[store.as_ref() == Some(&st.id)] { (st.name) }
                    }
                }
            }
            label { "State"
                select name="state" {
                    option value="" { "any" }
                    @for st in STATES {
                        option value=(st.as_str()) selected[state == Some(st)] { (st.as_str().replace('_', " ")) }
                    }
                }
            }
            label { "Search" input type="search" name="q" value=(text) maxlength="200" placeholder="number, customer name or email"; }
            button type="submit" { "Show" }
        }
        div.live data-live="orders" data-since=(rendered.to_rfc3339()) data-store=(store.as_ref().map(ToString::to_string).unwrap_or_default()) {
        @if orders.items.is_empty() {
            p.empty { "No orders match." }
        } @else {
            table.orders {
                thead { tr { th { "Order" } th { "Store" } th { "Customer" } th { "State" } th { "Lines" } th { "Imported" } } }
                tbody {
                    @for o in &orders.items {
                        tr data-order=(o.id) {
                            td { a href={ "/console/orders/" (o.id) } { (o.number) } }
                            td { (store_name(&o.store_id)) }
                            td { (customer(o)) }
                            td { (state_badge(o.state)) @if o.oversold { " " span.bad { "oversold" } } }
                            td { (o.lines.len()) }
                            td { (o.created_at.format("%Y-%m-%d %H:%M:%S")) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next { p { a.more href=(next) { "Older orders →" } } }
        }
    };
    html_response(
        StatusCode::OK,
        page("Orders", Some((u, &session.csrf)), body),
    )
}

/// Messages to a plugin about an order: what, state, attempts, the last
/// answer.
pub(super) fn plugin_messages(messages: &[PluginMessage]) -> Markup {
    html! {
        @if messages.is_empty() { p.empty { "No messages." } } @else {
            table.plugin-messages {
                thead { tr { th { "Message" } th { "State" } th { "Attempts" } th { "Last answer" } } }
                tbody {
                    @for m in messages {
                        tr data-message=(m.id) {
                            td { code { (m.kind.as_str()) } }
                            td {
                                span class={ "msg msg-" (m.state) } { (m.state) }
                                @if let Some(t) = m.delivered_at { br; small.muted { (t.format("%Y-%m-%d %H:%M:%S")) } }
                                @else if let Some(t) = m.next_attempt_at { br; small.muted { "next try " (t.format("%H:%M:%S")) } }
                            }
                            td { (m.attempts) }
                            td {
                                @if let Some(st) = m.last_status { code { (st) } " " }
                                @if let Some(e) = &m.last_error { span.bad { (e) } " " }
                                @if let Some(r) = &m.response { details { summary { "answer" } pre { (r) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn show(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = OrderId::parse(&id) else {
        return not_found().await;
    };
    order_page(&s, &session, &id, StatusCode::OK, None).await
}

/// The order, if this user reaches it (another account's, or one of a
/// store outside a staff user's limit, is not found).
async fn reached(s: &AppState, session: &Session, id: &str) -> Result<OrderRecord, Response> {
    let Ok(id) = OrderId::parse(id) else {
        return Err(not_found().await);
    };
    match s.storage.get_order(&session.user.account_id, &id).await {
        Ok(o) if session.user.reaches(&o.store_id) => Ok(o),
        Ok(_) => Err(not_found().await),
        Err(e) => Err(failed(&e)),
    }
}

async fn order_page(
    s: &AppState,
    session: &Session,
    id: &OrderId,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let u = &session.user;
    let order = match reached(s, session, id.as_str()).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let (events, fulfilments, back_office) = match (
        s.storage.order_events(&u.account_id, id).await,
        s.storage.list_fulfilments(&u.account_id, id).await,
        s.storage.back_office_order(&u.account_id, id).await,
    ) {
        (Ok(e), Ok(f), Ok(b)) => (e, f, b),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return failed(&e),
    };
    // The plugin the order was routed to, with the messages sent about it.
    let plugin = match &order.plugin_id {
        Some(p) => match (
            s.storage.get_plugin(&u.account_id, p).await,
            s.storage.plugin_order(&u.account_id, p, id).await,
        ) {
            (Ok(plugin), Ok(routed)) => Some((plugin, routed)),
            (Err(StorageError::NotFound { .. }), _) | (_, Err(StorageError::NotFound { .. })) => {
                None
            }
            (Err(e), _) | (_, Err(e)) => return failed(&e),
        },
        None => None,
    };
    let documents = match order_invoices::documents_of(s, &u.account_id, &order).await {
        Ok(d) => d,
        Err(e) => return failed(&e),
    };
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let unified = order
        .unified
        .as_ref()
        .and_then(|o| serde_json::to_value(o).ok())
        .map(|v| pretty(&v));
    let csrf = &session.csrf;
    let action = |name: &str| format!("/console/orders/{}/{name}", order.id);
    let open_units: i64 = order.lines.iter().map(|l| l.open_quantity).sum();
    let body = html! {
        p {
            (state_badge(order.state))
            @if order.oversold { " " span.bad { "oversold when imported" } }
            @if order.manual { " " span.muted { "handled manually" } }
            " · channel order " code { (order.channel_order_id) }
            " · imported " (order.created_at.format("%Y-%m-%d %H:%M:%S UTC"))
        }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if let Some(r) = &order.hold_reason { p.notice { "On hold: " (r) } }
        @if let Some(r) = &order.excluded_reason { p.notice { "Excluded: " (r) } }
        div.actions {
            @match order.state {
                OrderState::Open | OrderState::PartiallyFulfilled => {
                    form.inline method="post" action=(action("hold")) {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="text" name="reason" required maxlength="500" placeholder="why it waits" aria-label="Hold reason";
                        button.secondary type="submit" { "Hold" }
                    }
                }
                OrderState::OnHold => {
                    form.inline method="post" action=(action("release")) {
                        input type="hidden" name="csrf" value=(csrf);
                        button.secondary type="submit" { "Release" }
                    }
                }
                _ => {}
            }
            @if matches!(order.state, OrderState::Open | OrderState::OnHold | OrderState::Excluded) {
                form.inline method="post" action=(action("cancel")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button.danger type="submit" { "Cancel order" }
                }
            }
            form.inline method="post" action=(action("manual")) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="manual" value=(if order.manual { "false" } else { "true" });
                button.secondary type="submit" { @if order.manual { "Stop handling manually" } @else { "Handle manually" } }
            }
        }
        @if let Some(u) = &order.unified {
            dl.facts.order-facts {
                dt { "Customer" }
                dd { (u.customer.name.as_deref().unwrap_or("—")) @if let Some(e) = &u.customer.email { " · " (e) } }
                dt { "Ships to" }
                dd { (address(&u.shipping_address)) @if let Some(m) = &u.shipping_method { " · " (m) } }
                dt { "Total" }
                dd {
                    strong { (u.currency.format_amount(u.total)) " " (u.currency.as_str()) }
                    span.muted { " (shipping " (u.currency.format_amount(u.shipping_total)) ", tax " (u.currency.format_amount(u.tax_total)) ", discounts " (u.currency.format_amount(u.discount_total)) ")" }
                }
                dt { "Payment" } dd { (serde_json::to_value(u.payment_status).ok().and_then(|v| v.as_str().map(|p| p.replace('_', " "))).unwrap_or_default()) }
            }
        }
        h2 { "Lines" }
        table.lines {
            thead { tr { th { "#" } th { "SKU" } th { "Item" } th { "Unit price" } th { "Ordered" } th { "Still to ship" } } }
            tbody {
                @for l in &order.lines {
                    @let channel_line = order.unified.as_ref().and_then(|u| {
                        u.lines.iter().find(|c| Some(c.channel_line_id.as_str()) == l.channel_line_id.as_deref())
                    });
                    tr {
                        td { (l.line_no + 1) }
                        td { code { (l.sku) } }
                        td { @if let Some(c) = channel_line { (c.title) } }
                        td { @if let (Some(c), Some(u)) = (channel_line, &order.unified) { (u.currency.format_amount(c.unit_price)) } }
                        td { @if let Some(q) = l.quantity { (q) } }
                        td { (l.open_quantity) }
                    }
                }
            }
        }
        h2 { "Fulfilments" }
        @if fulfilments.is_empty() { p.empty { "Nothing shipped yet." } } @else {
            table.fulfilments {
                thead { tr { th { "Shipped" } th { "Carrier" } th { "Tracking" } th { "Lines" } th { "Sync to the channel" } } }
                tbody {
                    @for f in &fulfilments {
                        tr data-fulfilment=(f.id) {
                            td { (f.shipped_at.format("%Y-%m-%d %H:%M")) }
                            td { (f.carrier.as_str()) @if f.carrier_detected { " " span.muted { "(from the number)" } } @if let Some(sv) = &f.service { br; small.muted { (sv) } } }
                            td { @for t in &f.tracking { code { (t.number) } " " } }
                            td { @for l in &f.lines { (l.quantity) " × " code { (l.sku) } br; } }
                            td.sync {
                                span class={ "sync sync-" (f.sync.state.as_str()) } { (f.sync.state.as_str()) }
                                @if let Some(e) = &f.sync.last_error { " " span.bad { (e) } }
                                @if f.sync.state == SyncState::Failed {
                                    form.inline method="post" action=(action("retry")) {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="fulfilment" value=(f.id);
                                        button.secondary type="submit" { "Retry sync" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if open_units > 0 && !matches!(order.state, OrderState::Cancelled | OrderState::Excluded) {
            form.card.ship method="post" action=(action("ship")) {
                input type="hidden" name="csrf" value=(csrf);
                p { (open_units) " unit(s) still open. Ship them all, or lower a line's number to ship part of the order." }
                table.ship-lines {
                    thead { tr { th { "SKU" } th { "Open" } th { "Ship now" } } }
                    tbody {
                        @for l in order.lines.iter().filter(|l| l.open_quantity > 0) {
                            tr {
                                td { code { (l.sku) } }
                                td { (l.open_quantity) }
                                td { input type="number" name={ "line-" (l.line_no) } value=(l.open_quantity) min="0" max=(l.open_quantity) aria-label={ "Units of " (l.sku) " to ship" }; }
                            }
                        }
                    }
                }
                label { "Tracking numbers" input type="text" name="tracking" maxlength="2000" placeholder="e.g. RM123456785GB (several: separate with commas)"; }
                label { "Carrier"
                    select name="carrier" {
                        option value="" { "from the tracking number" }
                        @for c in switchyard_domain::carrier::Carrier::ALL { option value=(c.as_str()) { (c.as_str().replace('_', " ")) } }
                    }
                }
                label { span { "Service " span.muted { "(optional)" } } input type="text" name="service" maxlength="100" placeholder="e.g. Tracked 24"; }
                button type="submit" { "Ship" }
            }
        }
        (order_invoices::section(&order, &documents, csrf))
        @if let Some(b) = &back_office {
            h2 { "Back office" }
            dl.facts.back-office {
                dt { "State" } dd { span class={ "bo bo-" (b.state.as_str()) } { (b.state.as_str().replace('_', " ")) } }
                @if let Some(n) = b.remote_number.as_ref().or(b.remote_id.as_ref()) { dt { "Order there" } dd { code { (n) } @if let Some(st) = &b.remote_status { " · " (st) } } }
                dt { "Attempts" } dd { (b.attempts) }
                @if let Some(e) = &b.last_error { dt { "Last error" } dd.bad { (e) } }
                @if let Some(t) = b.waiting_since { dt { "Completed without tracking since" } dd { (t.format("%Y-%m-%d %H:%M UTC")) } }
                @if let Some(c) = &b.channel_cancel { dt { "Cancelling on the channel" } dd { (c) } }
            }
            @if matches!(b.state, BackOfficeState::Failed | BackOfficeState::Manual) {
                div.actions {
                    form.inline method="post" action=(action("back-office-resend")) {
                        input type="hidden" name="csrf" value=(csrf);
                        button.secondary type="submit" { "Resend to the back office" }
                    }
                    @if b.state == BackOfficeState::Failed {
                        form.inline method="post" action=(action("back-office-manual")) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.secondary type="submit" { "Handle manually" }
                        }
                    }
                }
            }
        }
        @if let Some((p, routed)) = &plugin {
            h2 { "Plugin" }
            p {
                "Routed to " a href={ "/console/stores/" (order.store_id) "/plugins/" (p.id) } { (p.name) }
                @if let Some(r) = &routed.routed_by { " by the rule " em { (r) } }
                @if !p.enabled { " " span.bad { "(disabled: messages wait)" } }
            }
            (plugin_messages(&routed.messages))
            @if routed.messages.iter().any(|m| m.state == "pending") {
                form.inline method="post" action=(action("plugin-resend")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary type="submit" { "Send to the plugin now" }
                }
            }
        }
        h2 { "Journal" }
        ol.timeline {
            @for e in &events {
                li {
                    time { (e.created_at.format("%Y-%m-%d %H:%M:%S%.3f")) }
                    " " strong { (e.event_type) }
                    details { summary { "payload" } pre { (pretty(&e.payload)) } }
                }
            }
        }
        h2 { "Unified order" }
        @if let Some(u) = unified { pre.json { (u) } } @else { p.empty { "Stored before the unified format." } }
        h2 { "The channel's payload" }
        @if let Some(raw) = &order.raw { details { summary { "show" } pre.json { (pretty(raw)) } } } @else { p.empty { "None stored." } }
    };
    html_response(
        status,
        page(&format!("Order {}", order.number), Some((u, csrf)), body),
    )
}

/// The shipment a ship form asks for: the units per line (`line-{no}`),
/// tracking, carrier, service.
fn shipment(order: &OrderRecord, f: &Fields) -> Result<FulfilmentIn, ApiError> {
    let mut lines = Vec::new();
    for l in order.lines.iter().filter(|l| l.open_quantity > 0) {
        let field = format!("line-{}", l.line_no);
        let v = f.get(&field);
        let quantity = if v.is_empty() {
            0
        } else {
            v.parse::<i64>().map_err(|_| {
                ApiError::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_quantity",
                    &field,
                    format!("units of {} must be a whole number", l.sku),
                )
            })?
        };
        if quantity != 0 {
            lines.push(LineIn {
                line_no: Some(l.line_no),
                sku: None,
                quantity,
            });
        }
    }
    if lines.is_empty() {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_ship",
            "lines",
            "choose at least one unit to ship",
        ));
    }
    // One or more numbers (a shipment in several parcels), separated by
    // commas, spaces or new lines.
    let tracking = f
        .get("tracking")
        .split([',', ' ', '\n', '\r'])
        .filter(|n| !n.is_empty())
        .map(|n| TrackingIn {
            number: n.to_owned(),
            url: None,
        })
        .collect();
    Ok(FulfilmentIn {
        lines: Some(lines),
        tracking,
        carrier: f.optional("carrier"),
        service: f.optional("service"),
        shipped_at: None,
        reference: None,
    })
}

/// Hold, release, cancel, mark manual or ship an order from its page;
/// retry a fulfilment's sync; resend it to the back office or the plugin;
/// invoice it, credit an invoice in full, send a document to an accounting
/// package again.
pub(super) async fn act(
    State(s): State<AppState>,
    session: Session,
    Path((id, what)): Path<(String, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let f = Fields(f);
    if let Err(r) = session.accept(f.get("csrf"), Need::Anyone) {
        return r.into_response();
    }
    let order = match reached(&s, &session, &id).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let account = &session.user.account_id;
    let act = |a: OrderAction| async {
        s.storage
            .act_on_order(account, &order.id, a)
            .await
            .map(drop)
            .map_err(ApiError::from)
    };
    let done: Result<(), ApiError> = match what.as_str() {
        "hold" => match check_text("reason", f.get("reason"), 500) {
            Ok(()) => act(OrderAction::Hold(f.get("reason").to_owned())).await,
            Err(e) => Err(e.into()),
        },
        "release" => act(OrderAction::Release).await,
        "cancel" => act(OrderAction::Cancel(None)).await,
        "manual" => act(OrderAction::Manual(f.get("manual") == "true")).await,
        "ship" => match shipment(&order, &f).and_then(|sh| sh.into_new(FulfilmentSource::Api)) {
            Ok(new) => s
                .storage
                .create_fulfilment(account, &order.id, new)
                .await
                .map(drop)
                .map_err(ApiError::from),
            Err(e) => Err(e),
        },
        "retry" => {
            // Only a fulfilment of this order.
            let Ok(fid) = FulfilmentId::parse(f.get("fulfilment")) else {
                return not_found().await;
            };
            match s.storage.get_fulfilment(account, &fid).await {
                Ok(ful) if ful.order_id == order.id => s
                    .storage
                    .retry_fulfilment(account, &fid)
                    .await
                    .map(drop)
                    .map_err(ApiError::from),
                Ok(_) | Err(StorageError::NotFound { .. }) => return not_found().await,
                Err(e) => return failed(&e),
            }
        }
        "back-office-resend" => s
            .storage
            .resend_back_office_order(account, &order.id)
            .await
            .map(drop)
            .map_err(ApiError::from),
        "back-office-manual" => s
            .storage
            .handle_back_office_manually(account, &order.id)
            .await
            .map(drop)
            .map_err(ApiError::from),
        "plugin-resend" => match &order.plugin_id {
            Some(p) => s
                .storage
                .resend_plugin_order(account, p, &order.id, chrono::Utc::now())
                .await
                .map(drop)
                .map_err(ApiError::from),
            None => return not_found().await,
        },
        "invoice" | "credit" | "invoice-sync-retry" => {
            match order_invoices::act(&s, account, &order, &what, &f).await {
                Ok(done) => done,
                Err(r) => return r,
            }
        }
        _ => return not_found().await,
    };
    match done {
        Ok(()) => {
            s.wake.notify_one();
            tracing::info!(user = %session.user.id, order = %order.id, action = %what, "order action in the console");
            see_other(&format!("/console/orders/{}", order.id))
        }
        Err(e) => match say(&e) {
            Some(m) => {
                let status = e.status();
                order_page(&s, &session, &order.id, status, Some(&m)).await
            }
            None => super::pages::internal(&e),
        },
    }
}
