//! Products and stock: a store's products and kits with their figures, a
//! SKU's explanation drawn as a picture (sources → committed → available,
//! then each channel's rules step by step to the number pushed; for kits,
//! each component and the one that limits), and setting or adjusting the
//! `api` stock. The figures are the API's own (`…/stock/{sku}/explain`).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_domain::values::Sku;
use switchyard_storage::{PageRequest, Product, Store};

use super::pages::{failed, html_response, internal, not_found, page};
use super::{Need, Session, say, see_other};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::stock::{
    AdjustStockIn, ExplainOut, SetStockIn, explain_entry, explain_out, read_one, write_one,
};

/// Products per page.
const PAGE: u32 = 50;

fn encode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn product_path(store: &Store, sku: &str) -> String {
    format!("/console/stores/{}/products/{}", store.id, encode(sku))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    after: String,
}

pub(super) async fn list(
    State(s): State<AppState>,
    session: Session,
    Path(store): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let store = match session.store(&s, &store).await {
        Ok(st) => st,
        Err(r) => return r,
    };
    let account = &session.user.account_id;
    let after = (!q.after.is_empty() && Sku::parse(&q.after).is_ok()).then(|| q.after.clone());
    let products = match s
        .storage
        .list_products(account, &store.id, &PageRequest { after, limit: PAGE })
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let skus: Vec<Sku> = products.items.iter().map(|p| p.sku.clone()).collect();
    let snap = match s.storage.stock_snapshot(account, &store.id, &skus).await {
        Ok(snap) => snap,
        Err(e) => return failed(&e),
    };
    let body = html! {
        p.muted { "Store " a href={ "/console/stores/" (store.id) } { (store.name) } }
        @if products.items.is_empty() {
            p.empty { "No products yet. Create them through the API, or switch on “Add to main products” on a channel." }
        } @else {
            table.products {
                thead { tr { th { "SKU" } th { "Title" } th { "On hand" } th { "Committed" } th { "Available" } th { "Channels show" } } }
                tbody {
                    @for p in &products.items {
                        @let e = explain_entry(&p.sku, &snap);
                        tr data-sku=(p.sku) {
                            td { a href=(product_path(&store, p.sku.as_str())) { code { (p.sku) } } @if p.is_kit() { " " span.state { "kit" } } }
                            td { (p.attributes.title) }
                            @if let Some(e) = e {
                                td { @if let Some(n) = e.on_hand { (n) } @else { span.muted { "—" } } }
                                td { @if let Some(n) = e.committed { (n) } @else { span.muted { "—" } } }
                                td { strong { (e.available) } @if let Some(l) = &e.limiting_component { " " small.muted { "limited by " (l) } } }
                                td {
                                    @for (i, l) in e.listings.iter().enumerate() {
                                        @if i > 0 { " · " }
                                        (l.channel_name) " " strong { (l.quantity) }
                                    }
                                }
                            } @else {
                                td colspan="4" { span.muted { "no figures" } }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &products.next {
                p { a.more href={ "/console/stores/" (store.id) "/products?after=" (encode(next)) } { "Next " (PAGE) " products →" } }
            }
        }
    };
    html_response(
        StatusCode::OK,
        page(
            "Products and stock",
            Some((&session.user, &session.csrf)),
            body,
        ),
    )
}

// ---- The picture ----

const BOX_H: i64 = 56;
const GAP: i64 = 14;
const TOP: i64 = 30;

/// One box of the picture: a caption, a figure, and a class for its look.
fn boxed(x: i64, y: i64, w: i64, caption: &str, figure: &str, class: &str) -> Markup {
    html! {
        g class={ "node " (class) } {
            rect x=(x) y=(y) width=(w) height=(BOX_H) rx="6" {}
            text.caption x=(x + w / 2) y=(y + 21) text-anchor="middle" { (caption) }
            text.figure x=(x + w / 2) y=(y + 44) text-anchor="middle" { (figure) }
        }
    }
}

fn arrow(x1: i64, y1: i64, x2: i64, y2: i64) -> Markup {
    html! { line.arrow x1=(x1) y1=(y1) x2=(x2) y2=(y2) marker-end="url(#arrowhead)" {} }
}

fn row_y(i: usize) -> i64 {
    TOP + GAP + i64::try_from(i).unwrap_or(0) * (BOX_H + GAP)
}

fn centre(i: usize) -> i64 {
    row_y(i) + BOX_H / 2
}

/// The explanation as an SVG: where the availability comes from on the
/// left, the channels' rules on the right. Drawn here, on the server.
fn picture(e: &ExplainOut) -> Markup {
    // Left column: sources (plain) or components (kit).
    let left: Vec<(String, String, &str)> = if e.kit {
        e.components
            .iter()
            .map(|c| {
                let limit = e.limiting_component.as_deref() == Some(c.sku.as_str());
                (
                    format!("{} · {} per kit", c.sku, c.per_kit),
                    format!("{} free → {} kits", c.available, c.kits_possible),
                    if limit { "limit" } else { "source" },
                )
            })
            .collect()
    } else if e.sources.is_empty() {
        vec![("no sources".to_owned(), "0".to_owned(), "source")]
    } else {
        e.sources
            .iter()
            .map(|l| {
                let name = if l.location.is_empty() {
                    l.source.clone()
                } else {
                    format!("{} @ {}", l.source, l.location)
                };
                (name, l.quantity.to_string(), "source")
            })
            .collect()
    };
    let (c1, w1) = (10, 220);
    let (c2, w2) = (c1 + w1 + 50, 170);
    let avail_x = if e.kit { c2 } else { c2 + w2 + 50 };
    let avail_w = 160;
    let chan_x = avail_x + avail_w + 60;
    let (name_w, step_w, step_gap, end_w) = (170, 140, 26, 120);
    let steps = e.listings.iter().map(|l| l.steps.len()).max().unwrap_or(0);
    let steps = i64::try_from(steps).unwrap_or(0);
    let width = chan_x + name_w + steps * (step_w + step_gap) + step_gap + end_w + 10;
    let rows = left
        .len()
        .max(if e.kit { 1 } else { 2 })
        .max(e.listings.len());
    let height = row_y(rows) + 4;
    let mid = |n: usize| {
        // The vertical middle of `n` rows, for the boxes that stand alone.
        (centre(0) + centre(n.max(1) - 1)) / 2 - BOX_H / 2
    };
    let avail_y = mid(rows);
    let commitments = e.commitments.len();
    let summary = format!(
        "{}: {}",
        e.sku,
        std::iter::once(e.summary.clone())
            .chain(
                e.listings
                    .iter()
                    .map(|l| format!("{}: {}", l.channel_name, l.summary))
            )
            .collect::<Vec<_>>()
            .join("; ")
    );
    html! {
        div.picture {
            svg.explain xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(summary)
                width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } {
                title { (summary) }
                defs {
                    marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                        path d="M 0 0 L 10 5 L 0 10 z" {}
                    }
                }
                text.heading x=(c1) y="18" { @if e.kit { "Components" } @else { "Sources" } }
                @if !e.kit { text.heading x=(c2) y="18" { "Totals" } }
                text.heading x=(avail_x) y="18" { "Available" }
                text.heading x=(chan_x) y="18" { "Each channel's rules → pushed" }
                @for (i, (caption, figure, class)) in left.iter().enumerate() {
                    (boxed(c1, row_y(i), w1, caption, figure, class))
                    @if e.kit {
                        (arrow(c1 + w1, centre(i), avail_x - 2, avail_y + BOX_H / 2))
                    } @else {
                        (arrow(c1 + w1, centre(i), c2 - 2, centre(0)))
                    }
                }
                @if !e.kit {
                    (boxed(c2, row_y(0), w2, "on hand", &e.on_hand.unwrap_or(0).to_string(), "total"))
                    (boxed(c2, row_y(1), w2, &format!("committed · {commitments} order line(s)"), &format!("− {}", e.committed.unwrap_or(0)), "committed"))
                    (arrow(c2 + w2, centre(0), avail_x - 2, avail_y + BOX_H / 2))
                    (arrow(c2 + w2, centre(1), avail_x - 2, avail_y + BOX_H / 2))
                }
                (boxed(avail_x, avail_y, avail_w, if e.kit { "kits possible (min)" } else { "available" }, &e.available.to_string(), "available"))
                @if e.listings.is_empty() {
                    text.caption x=(chan_x) y=(avail_y + BOX_H / 2) { "No channel of this store lists it." }
                }
                @for (i, l) in e.listings.iter().enumerate() {
                    @let y = row_y(i);
                    (arrow(avail_x + avail_w, avail_y + BOX_H / 2, chan_x - 2, centre(i)))
                    (boxed(chan_x, y, name_w, &l.channel_name, &format!("starts at {}", l.base), "channel"))
                    @for (j, st) in l.steps.iter().enumerate() {
                        @let x = chan_x + name_w + step_gap + i64::try_from(j).unwrap_or(0) * (step_w + step_gap);
                        (arrow(x - step_gap, centre(i), x - 2, centre(i)))
                        (boxed(x, y, step_w, &st.label(), &format!("{} → {}", st.before, st.after), if st.before == st.after { "step same" } else { "step" }))
                    }
                    @let end = chan_x + name_w + step_gap + steps * (step_w + step_gap);
                    @let from = chan_x + name_w + i64::try_from(l.steps.len()).unwrap_or(0) * (step_w + step_gap);
                    (arrow(from, centre(i), end - 2, centre(i)))
                    (boxed(end, y, end_w, "pushed", &l.quantity.to_string(), "pushed"))
                }
            }
        }
    }
}

// ---- A product's page ----

#[derive(Default)]
struct Shown<'a> {
    status: Option<StatusCode>,
    error: Option<&'a str>,
    notice: Option<String>,
}

async fn product_page(
    s: &AppState,
    session: &Session,
    store: &Store,
    product: &Product,
    shown: Shown<'_>,
) -> Response {
    let account = &session.user.account_id;
    let e = match read_one(s, account, &store.id, &product.sku).await {
        Ok(e) => explain_out(e),
        Err(e) => return internal(&e),
    };
    let csrf = &session.csrf;
    let action = format!("{}/stock", product_path(store, product.sku.as_str()));
    let body = html! {
        p.muted {
            "Store " a href={ "/console/stores/" (store.id) } { (store.name) }
            " · " a href={ "/console/stores/" (store.id) "/products" } { "Products" }
            " · " code { (product.sku) }
            @if product.is_kit() { " · " span.state { "kit" } }
        }
        @if let Some(err) = shown.error { p.error role="alert" { (err) } }
        @if let Some(n) = &shown.notice { p.created role="status" { (n) } }
        h2 { "How the numbers come about" }
        (picture(&e))
        p.summary { code { (e.summary) } }
        @if !e.listings.is_empty() {
            table.rules {
                thead { tr { th { "Channel" } th { "From available to pushed" } } }
                tbody {
                    @for l in &e.listings {
                        tr { td { (l.channel_name) } td { code { (l.summary) } } }
                    }
                }
            }
        }
        @if e.kit {
            h2 { "Components" }
            table.components {
                thead { tr { th { "SKU" } th { "Per kit" } th { "On hand" } th { "Committed" } th { "Free" } th { "Kits possible" } } }
                tbody {
                    @for c in &e.components {
                        tr class=[(e.limiting_component.as_deref() == Some(c.sku.as_str())).then_some("limiting")] {
                            td { a href=(product_path(store, &c.sku)) { code { (c.sku) } } }
                            td { (c.per_kit) }
                            td { (c.on_hand) }
                            td { (c.committed) }
                            td { (c.available) }
                            td { strong { (c.kits_possible) } @if e.limiting_component.as_deref() == Some(c.sku.as_str()) { " " span.bad { "limits the kit" } } }
                        }
                    }
                }
            }
            p.muted { "A kit has no stock of its own: change its components' stock." }
        } @else {
            h2 { "Sources" }
            @if e.sources.is_empty() { p.empty { "No stock recorded." } } @else {
                table.sources {
                    thead { tr { th { "Source" } th { "Location" } th { "On hand" } } }
                    tbody { @for l in &e.sources { tr { td { code { (l.source) } } td { (l.location) } td { (l.quantity) } } } }
                }
            }
            h2 { "Open commitments" }
            @if e.commitments.is_empty() { p.empty { "No open order holds any." } } @else {
                table.commitments {
                    thead { tr { th { "Order" } th { "Units" } th { "Through kit" } } }
                    tbody {
                        @for c in &e.commitments {
                            tr {
                                td { a href={ "/console/orders/" (c.order_id) } { code { (c.order_id) } } }
                                td { (c.quantity) }
                                td { @if let Some(k) = &c.via_kit { code { (k) } } }
                            }
                        }
                    }
                }
            }
            h2 { "Change the stock" }
            p.muted { "These change the " code { "api" } " source; a plugin's stock is reported by the plugin." }
            div.forms {
                form.card.set method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="set";
                    label { "Set to" input type="number" name="quantity" min="0" required; }
                    label { span { "Location " span.muted { "(optional)" } } input type="text" name="location" maxlength="100"; }
                    label { span { "Why " span.muted { "(kept in the journal)" } } input type="text" name="reason" maxlength="500"; }
                    button type="submit" { "Set" }
                }
                form.card.adjust method="post" action=(action) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="adjust";
                    label { "Add (negative to remove)" input type="number" name="delta" required; }
                    label { span { "Location " span.muted { "(optional)" } } input type="text" name="location" maxlength="100"; }
                    label { span { "Why " span.muted { "(kept in the journal)" } } input type="text" name="reason" maxlength="500"; }
                    button type="submit" { "Adjust" }
                }
            }
        }
    };
    html_response(
        shown.status.unwrap_or(StatusCode::OK),
        page(&product.attributes.title, Some((&session.user, csrf)), body),
    )
}

async fn reached(
    s: &AppState,
    session: &Session,
    store: &str,
    sku: &str,
) -> Result<(Store, Product), Response> {
    let store = session.store(s, store).await?;
    let Ok(sku) = Sku::parse(sku) else {
        return Err(not_found().await);
    };
    match s
        .storage
        .get_product(&session.user.account_id, &store.id, &sku)
        .await
    {
        Ok(p) => Ok((store, p)),
        Err(e) => Err(failed(&e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ShowQuery {
    #[serde(default)]
    changed: String,
}

pub(super) async fn show(
    State(s): State<AppState>,
    session: Session,
    Path((store, sku)): Path<(String, String)>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let (store, product) = match reached(&s, &session, &store, &sku).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    // `?changed=7` after a change: the `api` source is now 7.
    let notice = q
        .changed
        .parse::<i64>()
        .ok()
        .map(|n| format!("Stock changed: the api source is now {n}."));
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    product_page(&s, &session, &store, &product, shown).await
}

/// An optional text field: empty is absent.
fn optional(form: &HashMap<String, String>, k: &str) -> Option<String> {
    form.get(k)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn number(form: &HashMap<String, String>, k: &str) -> Result<i64, ApiError> {
    form.get(k).map_or("", |v| v.trim()).parse().map_err(|_| {
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
            k,
            "must be a whole number",
        )
    })
}

/// Set or adjust the `api` stock of a plain product.
pub(super) async fn change(
    State(s): State<AppState>,
    session: Session,
    Path((store, sku)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = session.accept(form.get("csrf").map_or("", String::as_str), Need::Anyone) {
        return r.into_response();
    }
    let (store, product) = match reached(&s, &session, &store, &sku).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let location = optional(&form, "location");
    let reason = optional(&form, "reason");
    let change = match form.get("op").map(String::as_str) {
        Some("set") => number(&form, "quantity").and_then(|quantity| {
            SetStockIn {
                quantity,
                expected: None,
                location,
                reason,
            }
            .into_change(product.sku.clone())
        }),
        Some("adjust") => number(&form, "delta").and_then(|delta| {
            AdjustStockIn {
                delta,
                expected: None,
                location,
                reason,
            }
            .into_change(product.sku.clone())
        }),
        _ => return not_found().await,
    };
    let done = match change {
        Ok(c) => write_one(&s, &session.user.account_id, &store.id, c).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(out) => {
            tracing::info!(user = %session.user.id, sku = %product.sku, before = out.change.before, after = out.change.after, "stock changed in the console");
            see_other(&format!(
                "{}?changed={}",
                product_path(&store, product.sku.as_str()),
                out.change.after
            ))
        }
        Err(e) => {
            let (Some(message), ApiError::Client { status, .. }) = (say(&e), &e) else {
                return internal(&e);
            };
            let shown = Shown {
                status: Some(*status),
                error: Some(&message),
                ..Shown::default()
            };
            product_page(&s, &session, &store, &product, shown).await
        }
    }
}
