//! A channel's page (connecting one is `channel_connect`): test the
//! credentials, change the switches, stock rules, order filters
//! and cadence, see its health and import errors (Retry, Handle manually),
//! import now, backfill a window, download listings, and map SKUs. Every
//! change goes through the same functions as the API.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use switchyard_connectors::registry::credential_form;
use switchyard_domain::filter::UnmappedLines;
use switchyard_domain::ids::ChannelId;
use switchyard_domain::values::{Sku, check_text};
use switchyard_storage::{Channel, JobKind, PageRequest, Store};

use super::channel_connect::{credential_inputs, credentials_from};
use super::pages::{failed, html_response, internal, not_found, page};
use super::{Need, Session, local_time, say, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::channel_ops::{
    TestOut, backfill_window, hand_over, retry_import, test_credentials,
};
use crate::routes::channels::{ChannelPatchIn, StockRulesDto, change_channel};

/// Listings shown per page.
const LISTINGS_PAGE: u32 = 50;

/// A store and one of its channels, if this user reaches them.
async fn reached(
    s: &AppState,
    session: &Session,
    store: &str,
    channel: &str,
) -> Result<(Store, Channel), Response> {
    let store = session.store(s, store).await?;
    let Ok(id) = ChannelId::parse(channel) else {
        return Err(not_found().await);
    };
    match s
        .storage
        .get_channel(&session.user.account_id, &store.id, &id)
        .await
    {
        Ok(ch) => Ok((store, ch)),
        Err(e) => Err(failed(&e)),
    }
}

pub(super) fn channel_path(store: &Store, ch: &Channel) -> String {
    format!("/console/stores/{}/channels/{}", store.id, ch.id)
}

// ---- The channel page ----

#[derive(Debug, Default, Deserialize)]
pub(super) struct ChannelQuery {
    /// What was just done (a fixed word, shown as a fixed sentence).
    #[serde(default)]
    done: String,
    /// Only unmapped listings.
    #[serde(default)]
    unmapped: bool,
    /// Listings after this one.
    #[serde(default)]
    after: String,
}

/// What the page says after a form, by the word in `?done=`.
fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "connected" => {
            "Channel connected. Test its credentials to see that the channel accepts them."
        }
        "import" => "Import queued: the engine fetches orders changed since the last import now.",
        "listings" => "Listing download queued.",
        "backfill" => {
            "Backfill queued: every order changed in the window is imported again (never twice)."
        }
        "settings" => "Settings saved.",
        "credentials" => "Credentials replaced.",
        "retry" => "Retry queued: the order is fetched from the channel again.",
        "handled" => "Marked as handled manually.",
        "mapped" => "SKU mapping saved.",
        "unmapped" => "SKU mapping removed.",
        _ => return None,
    })
}

/// What to show on a channel page beyond the channel.
#[derive(Default)]
struct Shown<'a> {
    status: Option<StatusCode>,
    error: Option<&'a str>,
    notice: Option<&'static str>,
    test: Option<&'a TestOut>,
    unmapped: bool,
    after: Option<String>,
}

fn when(t: Option<DateTime<Utc>>, none: &str) -> Markup {
    html! {
        @match t {
            Some(t) => time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) },
            None => span.muted { (none) },
        }
    }
}

fn list_text(v: &[String]) -> String {
    v.join(", ")
}

async fn channel_page(
    s: &AppState,
    session: &Session,
    store: &Store,
    ch: &Channel,
    shown: Shown<'_>,
) -> Response {
    let account = &session.user.account_id;
    let health = match s.storage.channel_health(account, &store.id, &ch.id).await {
        Ok(h) => h,
        Err(e) => return failed(&e),
    };
    let errors = match s
        .storage
        .list_import_errors(account, &store.id, &ch.id, false, &PageRequest::first(50))
        .await
    {
        Ok(p) => p.items,
        Err(e) => return failed(&e),
    };
    let listings = match s
        .storage
        .list_listings(
            account,
            &store.id,
            &ch.id,
            &PageRequest {
                after: shown.after.clone(),
                limit: LISTINGS_PAGE,
            },
            shown.unmapped,
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let mappings = match s
        .storage
        .list_sku_mappings(account, &store.id, &ch.id)
        .await
    {
        Ok(m) => m,
        Err(e) => return failed(&e),
    };
    let csrf = &session.csrf;
    let base = channel_path(store, ch);
    let act = |a: &str| format!("{base}/{a}");
    let st = &ch.settings;
    let rules = &ch.stock_rules;
    let filters = &st.order_filters;
    let num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let body = html! {
        p.muted {
            "Store " a href={ "/console/stores/" (store.id) } { (store.name) }
            " · " strong { (ch.kind.as_str()) }
            " · " @if let Some(u) = &ch.base_url { code { (u) } } @else { span.muted { "no base URL" } }
            " · credentials " @if ch.has_credentials { span.good { "stored" } } @else { span.bad { "none" } }
        }
        @if let Some(e) = shown.error { p.error role="alert" { (e) } }
        @if let Some(n) = shown.notice { p.created role="status" { (n) } }
        @if let Some(t) = shown.test {
            div class={ "test " @if t.ok { "test-ok" } @else { "test-failed" } } role="status" {
                p { strong { @if t.ok { "Test passed: " } @else { "Test failed: " } } (t.message) " (" (t.latency_ms) " ms)" }
                @if let Some(h) = &t.hint { p.muted { (h) } }
            }
        }
        div.actions {
            @for (a, label) in [("test", "Test credentials"), ("import", "Import now"), ("listings", "Download listings")] {
                form.inline method="post" action=(act(a)) {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary type="submit" { (label) }
                }
            }
        }
        h2 { "Health" }
        table.health {
            tbody {
                tr { th { "Last import" } td { (when(ch.sync.last_import_at, "never")) } }
                tr { th { "Last successful import" } td { (when(ch.sync.last_success_at, "never")) } }
                tr { th { "Next import" } td { (when(ch.sync.next_import_at, "not scheduled")) } }
                tr { th { "Last error" } td {
                    @if let Some(e) = &ch.sync.last_error { span.bad { (e) } " " (when(ch.sync.last_error_at, "")) @if ch.sync.failures > 0 { " · " (ch.sync.failures) " failure(s) in a row" } }
                    @else { span.good { "none" } }
                } }
                tr { th { "Orders imported today" } td { (health.orders_imported_today) } }
                tr { th { "Open import errors" } td { (health.open_import_errors) } }
                tr { th { "Stock changes not yet pushed" } td { (health.unpushed_stock_changes) @if let Some(t) = health.oldest_unpushed_stock_change { " · oldest " (when(Some(t), "")) } } }
                tr { th { "Failing stock pushes" } td { (health.failing_stock_pushes) } }
                tr { th { "Listings mapped to no product" } td { (health.unmapped_listings) } }
                tr { th { "Open order lines mapped to no product" } td { (health.unmapped_order_lines) } }
                tr { th { "Listings downloaded" } td { (when(ch.sync.listings_synced_at, "never")) } }
                tr { th { "Order notifications" } td {
                    @if let Some(e) = &ch.sync.notifications_error { span.bad { (e) } }
                    @else { (when(ch.sync.notifications_at, "not registered")) }
                } }
            }
        }
        h2 { "Import errors" }
        @if errors.is_empty() { p.empty { "No open import errors." } } @else {
            table.errors {
                thead { tr { th { "Channel order" } th { "Problem" } th { "Seen" } th { "" } } }
                tbody {
                    @for e in &errors {
                        tr data-error=(e.id) {
                            td { code { (e.channel_order_id) } }
                            td { strong { (e.code) } ": " (e.message) }
                            td { (e.attempts) "× · last " (when(Some(e.last_seen_at), "")) }
                            td {
                                div.actions {
                                    form.inline method="post" action={ (base) "/errors/" (e.id) "/retry" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button.secondary type="submit" { "Retry" }
                                    }
                                    form.inline method="post" action={ (base) "/errors/" (e.id) "/handle" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        button.secondary type="submit" title="You dealt with this order outside Switchyard" { "Handle manually" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Backfill" }
        form.card.backfill method="post" action=(act("backfill")) {
            input type="hidden" name="csrf" value=(csrf);
            p { "Import again every order changed in a past window (UTC). Orders already imported are updated, never duplicated." }
            label { "From" input type="datetime-local" name="from" required; }
            label { span { "To " span.muted { "(empty: now)" } } input type="datetime-local" name="to"; }
            button type="submit" { "Backfill" }
        }
        h2 { "Settings" }
        form.card.settings method="post" action=(act("settings")) {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name" input type="text" name="name" value=(ch.name) maxlength="200" required; }
            label { "Import every (seconds)" input type="number" name="cadence_secs" min=(switchyard_domain::filter::MIN_CADENCE_SECS) max=(switchyard_domain::filter::MAX_CADENCE_SECS) value=(st.cadence_secs) required; }
            fieldset {
                legend { "Switches" }
                label.check { input type="checkbox" name="download_products" value="true" checked[st.download_products]; " Download products (read the channel's listings)" }
                label.check { input type="checkbox" name="add_to_main_products" value="true" checked[st.add_to_main_products]; " Add to main products (listings with unknown SKUs become products)" }
                label.check { input type="checkbox" name="auto_sync_stock" value="true" checked[st.auto_sync_stock]; " Auto sync stock (push stock to the channel)" }
                label.check { input type="checkbox" name="push_notifications" value="true" checked[st.push_notifications]; " Register for the channel's order notifications" }
            }
            fieldset {
                legend { "Stock rules" }
                p { "Applied in this order; leave a rule empty to skip it." }
                label { "Always show exactly" input type="number" name="fixed" min="0" value=(num(rules.fixed)); }
                label { "Show 0 at or below" input type="number" name="zero_at_or_below" min="0" value=(num(rules.zero_at_or_below)); }
                label { "Hold back (buffer)" input type="number" name="buffer" min="0" value=(num(rules.buffer)); }
                label { "Show this percentage" input type="number" name="percentage" min="1" max="100" value=(num(rules.percentage)); }
                label { "Never show more than" input type="number" name="maximum" min="0" value=(num(rules.maximum)); }
            }
            fieldset {
                legend { "Order filters" }
                label.check { input type="checkbox" name="import_unpaid" value="true" checked[filters.import_unpaid]; " Import unpaid orders" }
                label.check { input type="checkbox" name="import_not_ready" value="true" checked[filters.import_not_ready]; " Import orders already fulfilled on the channel" }
                p { "Orders outside these lists are imported as excluded, with the reason; never dropped. Separate entries with commas." }
                label { "Only these countries" input type="text" name="countries_allow" value=(list_text(&filters.countries.allow)) placeholder="e.g. GB, IE"; }
                label { "Never these countries" input type="text" name="countries_deny" value=(list_text(&filters.countries.deny)); }
                label { "Only these SKUs (glob)" input type="text" name="skus_allow" value=(list_text(&filters.skus.allow)) placeholder="e.g. MUG-*"; }
                label { "Never these SKUs (glob)" input type="text" name="skus_deny" value=(list_text(&filters.skus.deny)); }
                label { "Orders with lines that map to no product"
                    select name="unmapped_lines" {
                        option value="ignore" selected[filters.unmapped_lines == UnmappedLines::Ignore] { "import as usual" }
                        option value="hold" selected[filters.unmapped_lines == UnmappedLines::Hold] { "put on hold" }
                    }
                }
            }
            button type="submit" { "Save settings" }
        }
        h2 { "Credentials" }
        form.card.credentials method="post" action=(act("credentials")) {
            input type="hidden" name="csrf" value=(csrf);
            p { @if ch.has_credentials { "Stored, and never shown. Enter new ones to replace them all." } @else { "None stored yet." } }
            label { "Base URL" input type="url" name="base_url" value=(ch.base_url.as_deref().unwrap_or("")); }
            (credential_inputs(credential_form(ch.kind), false))
            button type="submit" { "Replace credentials" }
        }
        h2 { "Listings" }
        p {
            @if shown.unmapped { a href=(base) { "All listings" } " · " strong { "Mapped to no product" } }
            @else { strong { "All listings" } " · " a href={ (base) "?unmapped=true" } { "Mapped to no product" } }
        }
        @if listings.items.is_empty() { p.empty { "No listings downloaded." } } @else {
            table.listings {
                thead { tr { th { "Listing" } th { "Channel SKU" } th { "Product" } th { "Channel showed" } th { "Stock push" } } }
                tbody {
                    @for l in &listings.items {
                        tr {
                            td { (l.title) br; small.muted { code { (l.listing_id) } } }
                            td { @if let Some(c) = &l.channel_sku { code { (c) } } }
                            td { @if let Some(p) = &l.sku { a href={ "/console/stores/" (store.id) "/products/" (p) } { code { (p) } } } @else { span.bad { "none" } } }
                            td { @if let Some(q) = l.channel_quantity { (q) } }
                            td {
                                @if let Some(state) = &l.push_state {
                                    span class={ "sync sync-" (state) } { (state) } " " @if let Some(q) = l.push_quantity { (q) }
                                    @if let Some(e) = &l.push_error { " " span.bad { (e) } }
                                } @else { span.muted { "none" } }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &listings.next {
                p { a.more href={ (base) "?after=" (urlencoding(next)) @if shown.unmapped { "&unmapped=true" } } { "Next " (LISTINGS_PAGE) " listings →" } }
            }
        }
        h2 { "SKU mappings" }
        p.muted { "A channel SKU that differs from the main product's SKU: its listings and order lines follow the mapping." }
        @if !mappings.is_empty() {
            table.mappings {
                thead { tr { th { "Channel SKU" } th { "Product SKU" } th { "" } } }
                tbody {
                    @for m in &mappings {
                        tr {
                            td { code { (m.channel_sku) } }
                            td { code { (m.sku) } }
                            td {
                                form.inline method="post" action=(act("unmap")) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="channel_sku" value=(m.channel_sku);
                                    button.danger type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        form.card.map method="post" action=(act("map")) {
            input type="hidden" name="csrf" value=(csrf);
            label { "Channel SKU" input type="text" name="channel_sku" required maxlength="255"; }
            label { "Product SKU" input type="text" name="sku" required maxlength="255"; }
            button type="submit" { "Map" }
        }
        h2 { "Disconnect" }
        form.card method="post" action=(act("delete")) {
            input type="hidden" name="csrf" value=(csrf);
            p { "Removes the channel, its listings and its settings. A channel with orders is kept." }
            button.danger type="submit" { "Disconnect channel" }
        }
    };
    html_response(
        shown.status.unwrap_or(StatusCode::OK),
        page(&ch.name, Some((&session.user, csrf)), body),
    )
}

/// A listing cursor for a query string.
fn urlencoding(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

pub(super) async fn show(
    State(s): State<AppState>,
    session: Session,
    Path((store, channel)): Path<(String, String)>,
    Query(q): Query<ChannelQuery>,
) -> Response {
    let (store, ch) = match reached(&s, &session, &store, &channel).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let shown = Shown {
        notice: done_message(&q.done),
        unmapped: q.unmapped,
        after: (!q.after.is_empty()).then(|| q.after.clone()),
        ..Shown::default()
    };
    channel_page(&s, &session, &store, &ch, shown).await
}

/// A stock rule from its form field: empty is no rule.
fn rule(form: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    let v = form.get(name).map_or("", |v| v.trim());
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| {
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_stock_rules",
            format!("stock_rules.{name}"),
            "must be a whole number",
        )
    })
}

/// The settings form as a change to the channel: every switch, rule and
/// filter replaced by what the form shows.
fn settings_patch(form: &HashMap<String, String>) -> Result<ChannelPatchIn, ApiError> {
    let on = |k: &str| form.get(k).is_some_and(|v| v == "true");
    let list = |k: &str| -> Vec<String> {
        form.get(k)
            .map(|v| {
                v.split([',', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let cadence: u32 = form
        .get("cadence_secs")
        .map_or("", |v| v.trim())
        .parse()
        .map_err(|_| {
            ApiError::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_settings",
                "settings.cadence_secs",
                "must be a whole number of seconds",
            )
        })?;
    let unmapped = match form.get("unmapped_lines").map(String::as_str) {
        Some("hold") => UnmappedLines::Hold,
        _ => UnmappedLines::Ignore,
    };
    let settings = json!({
        "cadence_secs": cadence,
        "download_products": on("download_products"),
        "add_to_main_products": on("add_to_main_products"),
        "auto_sync_stock": on("auto_sync_stock"),
        "push_notifications": on("push_notifications"),
        "order_filters": {
            "import_unpaid": on("import_unpaid"),
            "import_not_ready": on("import_not_ready"),
            "countries": { "allow": list("countries_allow"), "deny": list("countries_deny") },
            "skus": { "allow": list("skus_allow"), "deny": list("skus_deny") },
            "unmapped_lines": unmapped,
        },
    });
    Ok(ChannelPatchIn {
        name: Some(form.get("name").map_or("", |v| v.trim()).to_owned()),
        base_url: None,
        credentials: None,
        stock_rules: Some(StockRulesDto {
            fixed: rule(form, "fixed")?,
            zero_at_or_below: rule(form, "zero_at_or_below")?,
            buffer: rule(form, "buffer")?,
            percentage: rule(form, "percentage")?,
            maximum: rule(form, "maximum")?,
        }),
        settings: Some(settings),
    })
}

/// A form on a channel page: test, import, listings, backfill, settings,
/// credentials, map, unmap or delete.
pub(super) async fn act(
    State(s): State<AppState>,
    session: Session,
    Path((store, channel, what)): Path<(String, String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = session.accept(form.get("csrf").map_or("", String::as_str), Need::Anyone) {
        return r.into_response();
    }
    let (store, ch) = match reached(&s, &session, &store, &channel).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let account = &session.user.account_id;
    let field = |k: &str| form.get(k).map_or("", |v| v.trim()).to_owned();
    let done: Result<&str, ApiError> = match what.as_str() {
        "test" => {
            return match test_credentials(&s, account, &store.id, &ch.id).await {
                Ok(t) => {
                    let shown = Shown {
                        test: Some(&t),
                        ..Shown::default()
                    };
                    channel_page(&s, &session, &store, &ch, shown).await
                }
                Err(e) => refused(&s, &session, &store, &ch, &e).await,
            };
        }
        "import" => hand_over(
            &s,
            account,
            store.id.clone(),
            ch.id.clone(),
            JobKind::Import,
            json!({}),
        )
        .await
        .map(|_| "import"),
        "listings" => hand_over(
            &s,
            account,
            store.id.clone(),
            ch.id.clone(),
            JobKind::Listings,
            json!({}),
        )
        .await
        .map(|_| "listings"),
        "backfill" => {
            let window = local_time("from", &field("from")).and_then(|from| {
                let from = from.ok_or_else(|| {
                    ApiError::field(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_window",
                        "from",
                        "say where the window starts",
                    )
                })?;
                backfill_window(from, local_time("to", &field("to"))?)
            });
            match window {
                Ok(payload) => hand_over(
                    &s,
                    account,
                    store.id.clone(),
                    ch.id.clone(),
                    JobKind::Backfill,
                    payload,
                )
                .await
                .map(|_| "backfill"),
                Err(e) => Err(e),
            }
        }
        "settings" => match settings_patch(&form) {
            Ok(patch) => change_channel(&s, account, &store.id, &ch.id, patch)
                .await
                .map(|_| "settings"),
            Err(e) => Err(e),
        },
        "credentials" => match credentials_from(ch.kind, &form) {
            Ok(creds) => {
                let url = field("base_url");
                let patch = ChannelPatchIn {
                    name: None,
                    base_url: (!url.is_empty()).then_some(Some(url)),
                    credentials: creds.map(Some),
                    stock_rules: None,
                    settings: None,
                };
                if patch.base_url.is_none() && patch.credentials.is_none() {
                    Err(ApiError::field(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_credentials",
                        "credentials",
                        "enter the new credentials (or a new base URL)",
                    ))
                } else {
                    change_channel(&s, account, &store.id, &ch.id, patch)
                        .await
                        .map(|_| "credentials")
                }
            }
            Err(e) => Err(e),
        },
        "map" => {
            let channel_sku = field("channel_sku");
            match check_text("channel_sku", &channel_sku, 255)
                .map_err(ApiError::from)
                .and_then(|()| Sku::parse(&field("sku")).map_err(ApiError::from))
            {
                Ok(sku) => s
                    .storage
                    .set_sku_mapping(account, &store.id, &ch.id, &channel_sku, &sku)
                    .await
                    .map(|_| {
                        s.wake.notify_one();
                        "mapped"
                    })
                    .map_err(ApiError::from),
                Err(e) => Err(e),
            }
        }
        "unmap" => s
            .storage
            .delete_sku_mapping(account, &store.id, &ch.id, &field("channel_sku"))
            .await
            .map(|()| {
                s.wake.notify_one();
                "unmapped"
            })
            .map_err(ApiError::from),
        "delete" => {
            return match s.storage.delete_channel(account, &store.id, &ch.id).await {
                Ok(()) => {
                    tracing::info!(user = %session.user.id, channel = %ch.id, "channel disconnected in the console");
                    see_other(&format!("/console/stores/{}", store.id))
                }
                Err(e) => refused(&s, &session, &store, &ch, &ApiError::from(e)).await,
            };
        }
        _ => return not_found().await,
    };
    match done {
        Ok(done) => {
            tracing::info!(user = %session.user.id, channel = %ch.id, action = %what, "channel action in the console");
            see_other(&format!("{}?done={done}", channel_path(&store, &ch)))
        }
        Err(e) => refused(&s, &session, &store, &ch, &e).await,
    }
}

/// The channel page again with why a form was refused (or the error page
/// when it was not the user's doing).
async fn refused(
    s: &AppState,
    session: &Session,
    store: &Store,
    ch: &Channel,
    e: &ApiError,
) -> Response {
    let (Some(message), ApiError::Client { status, .. }) = (say(e), e) else {
        return internal(e);
    };
    // Show the channel as it is now (a failed form changed nothing).
    let ch = match s
        .storage
        .get_channel(&session.user.account_id, &store.id, &ch.id)
        .await
    {
        Ok(c) => c,
        Err(e) => return failed(&e),
    };
    let shown = Shown {
        status: Some(*status),
        error: Some(&message),
        ..Shown::default()
    };
    channel_page(s, session, store, &ch, shown).await
}

/// Retry an import error, or mark it handled manually.
pub(super) async fn act_on_error(
    State(s): State<AppState>,
    session: Session,
    Path((store, channel, error, what)): Path<(String, String, i64, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = session.accept(form.get("csrf").map_or("", String::as_str), Need::Anyone) {
        return r.into_response();
    }
    let (store, ch) = match reached(&s, &session, &store, &channel).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let account = &session.user.account_id;
    let done = match what.as_str() {
        "retry" => retry_import(&s, account, store.id.clone(), ch.id.clone(), error)
            .await
            .map(|_| "retry"),
        "handle" => s
            .storage
            .handle_import_error_manually(
                account,
                &store.id,
                &ch.id,
                error,
                session.user.id.as_str(),
            )
            .await
            .map(|_| "handled")
            .map_err(ApiError::from),
        _ => return not_found().await,
    };
    match done {
        Ok(done) => see_other(&format!("{}?done={done}", channel_path(&store, &ch))),
        Err(ApiError::Client { status, .. }) if status == StatusCode::NOT_FOUND => {
            not_found().await
        }
        Err(e) => refused(&s, &session, &store, &ch, &e).await,
    }
}
