//! The SP-API routes: the token and usage-plan gate, LWA, Orders v0 and
//! Listings Items.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{Package, item_json, listing_json, order_json};
use super::{App, Sim, TOKEN_LIFETIME, errors};
use crate::core::{TokenCheck, form, lock, oauth_error};

/// The operation a request calls, for its usage plan.
fn operation(method: &str, path: &str) -> Option<&'static str> {
    let p = path.trim_end_matches('/');
    match method {
        "GET" if p == "/orders/v0/orders" => Some("getOrders"),
        "GET" if p.ends_with("/orderItems") => Some("getOrderItems"),
        "GET" if p.ends_with("/address") => Some("getOrderAddress"),
        "POST" if p.ends_with("/shipmentConfirmation") => Some("confirmShipment"),
        "PATCH" if p.starts_with("/listings/") => Some("patchListingsItem"),
        "GET" if p.starts_with("/listings/") && p.matches('/').count() == 4 => {
            Some("searchListingsItems")
        }
        "POST" if p == "/feeds/2021-06-30/documents" => Some("createFeedDocument"),
        "POST" if p == "/feeds/2021-06-30/feeds" => Some("createFeed"),
        "GET" if p.starts_with("/feeds/2021-06-30/feeds/") => Some("getFeed"),
        "GET" if p.starts_with("/feeds/2021-06-30/documents/") => Some("getFeedDocument"),
        _ => None,
    }
}

/// `x-amz-access-token` on every API route and each operation's bucket.
pub(super) async fn gate(State(sim): State<App>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path == "/auth/o2/token" {
        return next.run(req).await;
    }
    if let Err(r) = authorize(&sim, req.headers()) {
        return r;
    }
    let op = operation(req.method().as_str(), &path);
    let verdict = op.map(|op| {
        let mut b = lock(&sim.buckets);
        b.get_mut(op)
            .map_or((true, 1.0), |bucket| (bucket.take(), bucket.rate))
    });
    let mut resp = match verdict {
        Some((false, _)) => errors(
            StatusCode::TOO_MANY_REQUESTS,
            "QuotaExceeded",
            "You exceeded your quota for the requested resource.",
        ),
        _ => next.run(req).await,
    };
    if let Some((_, rate)) = verdict
        && let Ok(v) = HeaderValue::from_str(&rate.to_string())
    {
        resp.headers_mut().insert("x-amzn-ratelimit-limit", v);
    }
    resp
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn authorize(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    let denied = || {
        errors(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
        )
    };
    if sim.core.faults().auth_revoked {
        return Err(denied());
    }
    let sent = headers
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok());
    let store = lock(&sim.store);
    match store.access_tokens.check(sent, Utc::now().timestamp()) {
        TokenCheck::Valid => Ok(()),
        TokenCheck::Expired => Err(errors(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "The access token you provided has expired.",
        )),
        TokenCheck::Unknown => Err(denied()),
    }
}

/// Login with Amazon: `grant_type=refresh_token`.
pub(super) async fn token(State(sim): State<App>, body: Bytes) -> Response {
    let f = form(&body);
    let refuse = |e: &str, d: &str| oauth_error(StatusCode::BAD_REQUEST, e, d);
    let grant = f.get("grant_type").map(String::as_str);
    if !matches!(grant, Some("refresh_token" | "authorization_code")) {
        return refuse("unsupported_grant_type", "The grant type is not supported");
    }
    if f.get("client_id") != Some(&sim.creds.client_id)
        || f.get("client_secret") != Some(&sim.creds.client_secret)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if grant == Some("authorization_code") {
        if !super::consent::redeem(&sim, f.get("code")) {
            return refuse(
                "invalid_grant",
                "The request has an invalid grant parameter : code",
            );
        }
    } else if f.get("refresh_token") != Some(&sim.creds.refresh_token)
        || sim.core.faults().auth_revoked
    {
        return refuse(
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    }
    let mut store = lock(&sim.store);
    let n = store.id();
    let token = format!("Atza|IwEBI{n:x}");
    let now = Utc::now().timestamp();
    store
        .access_tokens
        .issue(token.clone(), now + TOKEN_LIFETIME, now);
    Json(
        json!({ "access_token": token, "refresh_token": sim.creds.refresh_token,
                 "token_type": "bearer", "expires_in": TOKEN_LIFETIME }),
    )
    .into_response()
}

fn invalid(message: &str) -> Response {
    errors(StatusCode::BAD_REQUEST, "InvalidInput", message)
}

#[derive(Debug, Deserialize)]
pub(super) struct OrdersQuery {
    #[serde(rename = "MarketplaceIds")]
    marketplaces: Option<String>,
    #[serde(rename = "CreatedAfter")]
    created_after: Option<String>,
    #[serde(rename = "LastUpdatedAfter")]
    updated_after: Option<String>,
    #[serde(rename = "LastUpdatedBefore")]
    updated_before: Option<String>,
    #[serde(rename = "FulfillmentChannels")]
    channels: Option<String>,
    #[serde(rename = "MaxResultsPerPage")]
    per_page: Option<String>,
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
    #[serde(rename = "CreatedBefore")]
    created_before: Option<String>,
    #[serde(rename = "OrderStatuses")]
    statuses: Option<String>,
    #[serde(rename = "AmazonOrderIds")]
    order_ids: Option<String>,
    #[serde(rename = "BuyerEmail")]
    buyer_email: Option<String>,
    #[serde(rename = "SellerOrderId")]
    seller_order_id: Option<String>,
    #[serde(rename = "PaymentMethods")]
    payment_methods: Option<String>,
}

/// `OrderStatuses` values Amazon knows.
const ORDER_STATUSES: [&str; 8] = [
    "PendingAvailability",
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "InvoiceUnconfirmed",
    "Canceled",
    "Unfulfillable",
];

/// `PaymentMethods` values Amazon knows.
const PAYMENT_METHODS: [&str; 3] = ["COD", "CVS", "Other"];

/// A comma-separated list parameter, each value one of `known`.
#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn list_of<'a>(
    name: &str,
    v: Option<&'a str>,
    known: &[&str],
) -> Result<Option<Vec<&'a str>>, Response> {
    let Some(v) = v else { return Ok(None) };
    let values: Vec<&str> = v.split(',').map(str::trim).collect();
    if let Some(bad) = values.iter().find(|x| !known.contains(x)) {
        return Err(invalid(&format!(
            "{bad} is not a valid value for {name}; valid values are {}",
            known.join(", ")
        )));
    }
    Ok(Some(values))
}

/// What a first `getOrders` page selects, checked as Amazon checks it.
struct Selection<'a> {
    created: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    before: DateTime<Utc>,
    channels: Option<Vec<&'a str>>,
    statuses: Option<Vec<&'a str>>,
    payment_methods: Option<Vec<&'a str>>,
    order_ids: Option<Vec<&'a str>>,
    buyer_email: Option<&'a str>,
    seller_order_id: Option<&'a str>,
}

impl<'a> Selection<'a> {
    #[allow(
        clippy::result_large_err,
        reason = "the error is the finished response, as handlers return it"
    )]
    fn of(q: &'a OrdersQuery, latest: DateTime<Utc>) -> Result<Self, Response> {
        let created = when("CreatedAfter", q.created_after.as_ref())?;
        let created_before = when("CreatedBefore", q.created_before.as_ref())?;
        let updated = when("LastUpdatedAfter", q.updated_after.as_ref())?;
        let upto = when("LastUpdatedBefore", q.updated_before.as_ref())?;
        let order_ids: Option<Vec<&str>> = q
            .order_ids
            .as_deref()
            .map(|v| v.split(',').map(str::trim).collect());
        if order_ids.as_ref().is_some_and(|ids| ids.len() > 50) {
            return Err(invalid("AmazonOrderIds accepts at most 50 values"));
        }
        // Looked up by id, the other filters are ignored (as Amazon does).
        if order_ids.is_none() {
            if created.is_none() && updated.is_none() {
                return Err(invalid(
                    "Either CreatedAfter or LastUpdatedAfter must be specified",
                ));
            }
            if created.is_some() && updated.is_some() {
                return Err(invalid(
                    "LastUpdatedAfter cannot be set when CreatedAfter is set",
                ));
            }
            if created_before.is_some() && created.is_none() {
                return Err(invalid(
                    "CreatedBefore can only be specified if CreatedAfter is specified",
                ));
            }
            if upto.is_some() && updated.is_none() {
                return Err(invalid(
                    "LastUpdatedBefore can only be specified if LastUpdatedAfter is specified",
                ));
            }
            if upto.is_some_and(|u| u > latest) || created_before.is_some_and(|c| c > latest) {
                return Err(invalid(
                    "LastUpdatedBefore and CreatedBefore must be no later than two minutes before the request",
                ));
            }
            if (q.buyer_email.is_some() || q.seller_order_id.is_some())
                && (q.channels.is_some()
                    || q.statuses.is_some()
                    || q.payment_methods.is_some()
                    || updated.is_some())
            {
                return Err(invalid(
                    "When BuyerEmail or SellerOrderId is specified, FulfillmentChannels, OrderStatuses, PaymentMethods, LastUpdatedAfter and LastUpdatedBefore cannot be specified",
                ));
            }
        }
        Ok(Self {
            created,
            created_before,
            updated,
            before: upto.unwrap_or(latest),
            channels: list_of(
                "FulfillmentChannels",
                q.channels.as_deref(),
                &["AFN", "MFN"],
            )?,
            statuses: list_of("OrderStatuses", q.statuses.as_deref(), &ORDER_STATUSES)?,
            payment_methods: list_of(
                "PaymentMethods",
                q.payment_methods.as_deref(),
                &PAYMENT_METHODS,
            )?,
            order_ids,
            buyer_email: q.buyer_email.as_deref(),
            seller_order_id: q.seller_order_id.as_deref(),
        })
    }

    fn selects(&self, o: &super::store::Order) -> bool {
        if let Some(ids) = &self.order_ids {
            return ids.contains(&o.id.as_str());
        }
        self.created.is_none_or(|c| o.purchased >= c)
            && self.created_before.is_none_or(|c| o.purchased <= c)
            && self
                .updated
                .is_none_or(|u| o.updated >= u && o.updated <= self.before)
            && self
                .channels
                .as_ref()
                .is_none_or(|c| c.contains(&if o.afn { "AFN" } else { "MFN" }))
            && self
                .statuses
                .as_ref()
                .is_none_or(|s| s.contains(&o.status()))
            // Every order of the simulator is paid with `Other`.
            && self
                .payment_methods
                .as_ref()
                .is_none_or(|m| m.contains(&"Other"))
            && self
                .buyer_email
                .is_none_or(|e| e.eq_ignore_ascii_case(&super::store::buyer_email(&o.buyer)))
            && self.seller_order_id.is_none_or(|id| id == o.id)
    }
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the finished response, as handlers return it"
)]
fn when(name: &str, v: Option<&String>) -> Result<Option<DateTime<Utc>>, Response> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| invalid(&format!("{name} is not a valid ISO 8601 date: {s}")))
    })
    .transpose()
}

/// `getOrders`: the first page takes a snapshot behind `NextToken`.
pub(super) async fn orders(State(sim): State<App>, Query(q): Query<OrdersQuery>) -> Response {
    let per_page = match q.per_page.as_deref().map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return invalid("MaxResultsPerPage must be between 1 and 100"),
    };
    let mut store = lock(&sim.store);
    let (ids, start, before) = if let Some(token) = &q.next_token {
        match store.snapshots.get(token) {
            Some((ids, start)) => (std::sync::Arc::clone(ids), *start, None),
            None => return invalid("Invalid NextToken"),
        }
    } else {
        if q.marketplaces
            .as_deref()
            .is_none_or(|m| !m.split(',').any(|m| m == sim.creds.marketplace_id))
        {
            return invalid("MarketplaceIds must name the seller's marketplace");
        }
        // Amazon lists a change only two minutes after it happened.
        let latest = Utc::now() - chrono::Duration::seconds(store.lag_secs);
        let selection = match Selection::of(&q, latest) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let before = selection.before;
        let mut matched: Vec<_> = store
            .orders
            .values()
            .filter(|o| selection.selects(o))
            .map(|o| (o.updated, o.id.clone()))
            .collect();
        matched.sort();
        (
            matched
                .into_iter()
                .map(|(_, id)| id)
                .collect::<std::sync::Arc<[String]>>(),
            0,
            Some(before),
        )
    };
    let page: Vec<Value> = ids
        .iter()
        .skip(start)
        .take(per_page)
        .filter_map(|id| store.orders.get(id))
        .map(order_json)
        .collect();
    let next = (start + per_page < ids.len()).then(|| {
        // Fixed width, so tokens sort by age.
        let token = format!("{:016x}", store.id());
        store.snapshots.insert(
            token.clone(),
            (std::sync::Arc::clone(&ids), start + per_page),
        );
        while store.snapshots.len() > super::store::SNAPSHOTS {
            store.snapshots.pop_first();
        }
        token
    });
    drop(store);
    let mut orders = page;
    sim.core.disturb_page(&mut orders, None);
    let mut payload = json!({ "Orders": orders });
    if let Some(n) = next {
        payload["NextToken"] = json!(n);
    }
    if let Some(b) = before {
        payload["LastUpdatedBefore"] = json!(super::store::time(b));
    }
    Json(json!({ "payload": payload })).into_response()
}

pub(super) async fn one_order(State(sim): State<App>, Path(id): Path<String>) -> Response {
    match lock(&sim.store).orders.get(&id) {
        Some(o) => Json(json!({ "payload": order_json(o) })).into_response(),
        None => errors(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Order {id} not found"),
        ),
    }
}

/// `getOrderAddress`: the address as the order shows it without a
/// restricted data token.
pub(super) async fn order_address(State(sim): State<App>, Path(id): Path<String>) -> Response {
    match lock(&sim.store).orders.get(&id) {
        Some(o) => Json(json!({ "payload": {
            "AmazonOrderId": o.id,
            "ShippingAddress": super::store::address_json(&o.buyer),
        }}))
        .into_response(),
        None => errors(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Order {id} not found"),
        ),
    }
}

/// Any path the simulator does not serve: Amazon's JSON error, never an
/// empty body a client would read as "nothing".
pub(super) async fn no_route(req: Request) -> Response {
    errors(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!(
            "Resource {} is not found (the simulator implements the operations its README lists)",
            req.uri().path()
        ),
    )
}

/// A served path with a method it does not take.
pub(super) async fn no_method(req: Request) -> Response {
    errors(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// `getOrderItems`.
pub(super) async fn order_items(State(sim): State<App>, Path(id): Path<String>) -> Response {
    match lock(&sim.store).orders.get(&id) {
        Some(o) => Json(json!({ "payload": {
            "AmazonOrderId": o.id,
            "OrderItems": o.items.iter().map(|i| item_json(o, i)).collect::<Vec<_>>(),
        }}))
        .into_response(),
        None => errors(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Order {id} not found"),
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmIn {
    marketplace_id: String,
    package_detail: PackageIn,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageIn {
    package_reference_id: String,
    carrier_code: String,
    carrier_name: Option<String>,
    shipping_method: Option<String>,
    tracking_number: String,
    ship_date: String,
    order_items: Vec<ItemIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemIn {
    order_item_id: String,
    quantity: i64,
}

/// `confirmShipment`: 204; the same `packageReferenceId` edits its package.
pub(super) async fn confirm_shipment(
    State(sim): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let input: ConfirmIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return invalid(&format!("Invalid request body: {e}")),
    };
    let p = input.package_detail;
    if input.marketplace_id != sim.creds.marketplace_id {
        return invalid("marketplaceId does not match the order");
    }
    if p.package_reference_id.is_empty()
        || !p.package_reference_id.bytes().all(|b| b.is_ascii_digit())
        || p.package_reference_id.bytes().all(|b| b == b'0')
    {
        return invalid("packageReferenceId must be a positive number");
    }
    if p.tracking_number.trim().is_empty() {
        return invalid("trackingNumber is required");
    }
    if p.carrier_code == "Other" && p.carrier_name.as_deref().is_none_or(str::is_empty) {
        return invalid("carrierName is required when carrierCode is Other");
    }
    if DateTime::parse_from_rfc3339(&p.ship_date).is_err() {
        return invalid("shipDate is not a valid ISO 8601 date");
    }
    let mut store = lock(&sim.store);
    let now = store.tick();
    let Some(o) = store.orders.get_mut(&id) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Order {id} not found"),
        );
    };
    if o.afn {
        return invalid("Amazon fulfils this order (AFN)");
    }
    if o.cancelled || !o.paid {
        return invalid(&format!(
            "Order {id} is {} and cannot be shipped",
            o.status()
        ));
    }
    // Units in other packages, which this one must not push past the order.
    let others: Vec<&Package> = o
        .packages
        .iter()
        .filter(|x| x.reference != p.package_reference_id)
        .collect();
    let mut items = Vec::new();
    for it in &p.order_items {
        let Some(item) = o.items.iter().find(|i| i.id == it.order_item_id) else {
            return invalid(&format!("Invalid orderItemId {}", it.order_item_id));
        };
        let elsewhere: i64 = others
            .iter()
            .flat_map(|x| &x.items)
            .filter(|(i, _)| *i == it.order_item_id)
            .map(|(_, q)| q)
            .sum();
        if it.quantity < 1 || elsewhere + it.quantity > item.quantity {
            return invalid(&format!(
                "quantity {} for orderItemId {} exceeds what is left to ship",
                it.quantity, it.order_item_id
            ));
        }
        items.push((it.order_item_id.clone(), it.quantity));
    }
    let pkg = Package {
        reference: p.package_reference_id.clone(),
        carrier_code: p.carrier_code,
        carrier_name: p.carrier_name,
        method: p.shipping_method,
        tracking: p.tracking_number,
        ship_date: p.ship_date,
        items,
    };
    match o.packages.iter_mut().find(|x| x.reference == pkg.reference) {
        Some(existing) => *existing = pkg,
        None => o.packages.push(pkg),
    }
    o.updated = now;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ListingsQuery {
    marketplace_ids: Option<String>,
    page_size: Option<String>,
    page_token: Option<String>,
}

/// `searchListingsItems`: 20 a page at most, SKU order.
pub(super) async fn search_listings(
    State(sim): State<App>,
    Path(seller): Path<String>,
    Query(q): Query<ListingsQuery>,
) -> Response {
    if seller != sim.creds.seller_id {
        return errors(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
        );
    }
    if q.marketplace_ids.as_deref() != Some(sim.creds.marketplace_id.as_str()) {
        return invalid("marketplaceIds must name one marketplace of the seller");
    }
    let size = match q.page_size.as_deref().map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=20).contains(&n) => n,
        Some(_) => return invalid("pageSize must be between 1 and 20"),
    };
    let start = match q.page_token.as_deref().map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return invalid("Invalid pageToken"),
    };
    let store = lock(&sim.store);
    let items: Vec<Value> = store
        .listings
        .values()
        .skip(start)
        .take(size)
        .map(listing_json)
        .collect();
    let mut body = json!({ "numberOfResults": store.listings.len(), "items": items });
    if start + size < store.listings.len() {
        body["pagination"] = json!({ "nextToken": (start + size).to_string() });
    }
    Json(body).into_response()
}

pub(super) async fn get_listing(
    State(sim): State<App>,
    Path((seller, sku)): Path<(String, String)>,
) -> Response {
    if seller != sim.creds.seller_id {
        return errors(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
        );
    }
    match lock(&sim.store).listings.get(&sku) {
        Some(l) => Json(listing_json(l)).into_response(),
        None => errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("SKU '{sku}' not found in marketplace"),
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchIn {
    product_type: String,
    patches: Vec<PatchOp>,
}

#[derive(Debug, Deserialize)]
struct PatchOp {
    op: String,
    path: String,
    #[serde(default)]
    value: Vec<Value>,
}

/// `patchListingsItem`: only `/attributes/fulfillment_availability` is
/// simulated; any other path is accepted and ignored.
pub(super) async fn patch_listing(
    State(sim): State<App>,
    Path((seller, sku)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if seller != sim.creds.seller_id {
        return errors(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "Access to requested resource is denied.",
        );
    }
    let input: PatchIn = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => return invalid(&format!("Invalid request body: {e}")),
    };
    if input.product_type.is_empty() || input.patches.is_empty() {
        return invalid("productType and patches are required");
    }
    let mut store = lock(&sim.store);
    let now = store.tick();
    let n = store.id();
    let Some(l) = store.listings.get_mut(&sku) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("SKU '{sku}' not found in marketplace"),
        );
    };
    let mut issues = Vec::new();
    for p in &input.patches {
        if !["add", "replace", "merge", "delete"].contains(&p.op.as_str()) {
            return invalid(&format!(
                "op must be add, replace, merge or delete, not {}",
                p.op
            ));
        }
        if p.path != "/attributes/fulfillment_availability" {
            continue;
        }
        let q = p.value.first().and_then(|v| v["quantity"].as_i64());
        let code = p
            .value
            .first()
            .and_then(|v| v["fulfillment_channel_code"].as_str());
        match (q, code) {
            (Some(q), Some("DEFAULT")) if q >= 0 => {
                l.quantity = q;
                l.updated = now;
            }
            _ => issues.push(json!({ "code": "90220", "severity": "ERROR", "categories": ["INVALID_ATTRIBUTE"],
                "message": "'fulfillment_availability' needs fulfillment_channel_code DEFAULT and a quantity of 0 or more",
                "attributeNames": ["fulfillment_availability"] })),
        }
    }
    let status = if issues.is_empty() {
        "ACCEPTED"
    } else {
        "INVALID"
    };
    Json(json!({ "sku": sku, "status": status, "submissionId": format!("{n:032x}"), "issues": issues }))
        .into_response()
}
