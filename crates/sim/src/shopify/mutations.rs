//! The mutations the hub uses, with Shopify's validation and user errors.

use serde_json::{Value, json};

use crate::core::Core;

use super::state::{self, Fulfillment, LOCATION_ID, Shop, Webhook, gid, parse_gid, time};

fn user_error(field: &[&str], message: &str, code: Option<&str>) -> Value {
    let mut e = json!({ "field": field, "message": message });
    if let Some(c) = code {
        e["code"] = json!(c);
    }
    e
}

const REASONS: [&str; 17] = [
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_updated",
    "movement_received",
    "movement_canceled",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

/// `inventorySetQuantities`: all or nothing; `compareQuantity` is required
/// unless `ignoreCompareQuantity` is true, and must match (API 2025-01).
pub(crate) fn inventory_set_quantities(core: &Core, shop: &mut Shop, input: &Value) -> Value {
    let mut errors = Vec::new();
    let name = input["name"].as_str().unwrap_or_default();
    if name != "available" && name != "on_hand" {
        errors.push(user_error(
            &["input", "name"],
            "The quantity name must be either 'available' or 'on_hand'.",
            Some("INVALID_NAME"),
        ));
    }
    let reason = input["reason"].as_str().unwrap_or_default();
    if !REASONS.contains(&reason) {
        errors.push(user_error(
            &["input", "reason"],
            "The specified reason is invalid.",
            Some("INVALID_REASON"),
        ));
    }
    let ignore_compare = input["ignoreCompareQuantity"].as_bool() == Some(true);
    let quantities = input["quantities"].as_array().cloned().unwrap_or_default();
    let mut planned = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, q) in quantities.iter().enumerate() {
        let idx = i.to_string();
        let field = |f: &'static str| ["input", "quantities", idx.as_str(), f].map(str::to_owned);
        let item = q["inventoryItemId"]
            .as_str()
            .and_then(|s| parse_gid("InventoryItem", s));
        let Some(item) = item.filter(|i| shop.items.contains_key(i)) else {
            errors.push(json!({ "field": field("inventoryItemId"), "message": "The specified inventory item could not be found.", "code": "INVALID_INVENTORY_ITEM" }));
            continue;
        };
        if q["locationId"]
            .as_str()
            .and_then(|s| parse_gid("Location", s))
            != Some(LOCATION_ID)
        {
            errors.push(json!({ "field": field("locationId"), "message": "The specified location could not be found.", "code": "INVALID_LOCATION" }));
            continue;
        }
        if !seen.insert(item) {
            errors.push(json!({ "field": field("inventoryItemId"), "message": "The combination of inventoryItemId and locationId must be unique.", "code": "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR" }));
            continue;
        }
        let quantity = q["quantity"].as_i64().unwrap_or(0);
        if quantity > 1_000_000_000 {
            errors.push(json!({ "field": field("quantity"), "message": "The quantity can't be higher than 1,000,000,000.", "code": "INVALID_QUANTITY_TOO_HIGH" }));
            continue;
        }
        if quantity < 0 && name == "on_hand" {
            errors.push(json!({ "field": field("quantity"), "message": "The quantity can't be negative.", "code": "INVALID_QUANTITY_NEGATIVE" }));
            continue;
        }
        let current = shop.available.get(&item).copied().unwrap_or(0);
        if !ignore_compare {
            match q["compareQuantity"].as_i64() {
                None => {
                    errors.push(json!({ "field": field("compareQuantity"), "message": "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.", "code": "COMPARE_QUANTITY_REQUIRED" }));
                    continue;
                }
                Some(c) if c != current => {
                    errors.push(json!({ "field": field("compareQuantity"), "message": "The specified compare quantity does not match the current quantity.", "code": "COMPARE_QUANTITY_STALE" }));
                    continue;
                }
                Some(_) => {}
            }
        }
        planned.push((item, current, quantity));
    }
    if !errors.is_empty() {
        return json!({ "__typename": "InventorySetQuantitiesPayload", "inventoryAdjustmentGroup": null, "userErrors": errors });
    }
    let at = shop.stamp();
    let mut changes = Vec::new();
    for (item, before, after) in planned {
        shop.available.insert(item, after);
        if let Some(v) = shop.items.get(&item).copied()
            && let Some(variant) = shop.variants.get_mut(&v)
        {
            variant.updated_ms = at;
        }
        let variant = shop.items.get(&item).and_then(|v| shop.variants.get(v));
        if let Some(sku) = variant.and_then(|v| v.sku.as_deref()) {
            core.record_stock(sku, after);
        }
        for n in [
            name,
            if name == "available" {
                "on_hand"
            } else {
                "available"
            },
        ] {
            changes.push(json!({
                "__typename": "InventoryChange", "name": n, "delta": after - before,
                "quantityAfterChange": after, "ledgerDocumentUri": null,
                "item": { "__typename": "InventoryItem", "id": gid("InventoryItem", item), "sku": variant.and_then(|v| v.sku.clone()), "tracked": true },
                "location": state::location_json(),
            }));
        }
    }
    let group = shop.id();
    json!({
        "__typename": "InventorySetQuantitiesPayload",
        "inventoryAdjustmentGroup": {
            "__typename": "InventoryAdjustmentGroup",
            "id": gid("InventoryAdjustmentGroup", group),
            "createdAt": time(at), "reason": reason,
            "referenceDocumentUri": input["referenceDocumentUri"],
            "changes": changes,
        },
        "userErrors": [],
    })
}

/// `(number, url)` pairs of a `FulfillmentTrackingInput`: `numbers` (with
/// `number` first when it is not among them) and `urls`, or `url`.
pub(crate) fn tracking_input(t: &Value) -> Vec<(String, Option<String>)> {
    let mut numbers: Vec<String> = t["numbers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(n) = t["number"].as_str()
        && !numbers.iter().any(|x| x == n)
    {
        numbers.insert(0, n.to_owned());
    }
    let mut urls: Vec<Option<String>> = t["urls"]
        .as_array()
        .map(|a| a.iter().map(|u| u.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if urls.is_empty()
        && let Some(u) = t["url"].as_str()
    {
        urls.push(Some(u.to_owned()));
    }
    numbers
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, urls.get(i).cloned().flatten()))
        .collect()
}

/// `fulfillmentCreate`: ships fulfillment order line items (all remaining
/// when none are listed) with one or more tracking numbers.
pub(crate) fn fulfillment_create(shop: &mut Shop, input: &Value) -> (Value, Option<u64>) {
    let fail = |errors: Vec<Value>| {
        (
            json!({ "__typename": "FulfillmentCreatePayload", "fulfillment": null, "userErrors": errors }),
            None,
        )
    };
    let groups = input["lineItemsByFulfillmentOrder"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if groups.is_empty() {
        return fail(vec![user_error(
            &["fulfillment", "lineItemsByFulfillmentOrder"],
            "Line items by fulfillment order can't be blank.",
            None,
        )]);
    }
    let mut order_id = None;
    // (fulfillment order id, fo line id, quantity)
    let mut plan: Vec<(u64, u64, i64)> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let gi = gi.to_string();
        let fo_id = g["fulfillmentOrderId"]
            .as_str()
            .and_then(|s| parse_gid("FulfillmentOrder", s));
        let found = fo_id.and_then(|f| {
            shop.orders.values().find_map(|o| {
                o.fulfillment_orders
                    .iter()
                    .find(|fo| fo.id == f)
                    .map(|fo| (o.id, fo.clone()))
            })
        });
        let Some((oid, fo)) = found else {
            return fail(vec![user_error(
                &[
                    "fulfillment",
                    "lineItemsByFulfillmentOrder",
                    &gi,
                    "fulfillmentOrderId",
                ],
                "Fulfillment order does not exist.",
                None,
            )]);
        };
        if *order_id.get_or_insert(oid) != oid {
            return fail(vec![user_error(
                &["fulfillment"],
                "All fulfillment orders must belong to the same order.",
                None,
            )]);
        }
        if !matches!(fo.status, "OPEN" | "IN_PROGRESS") {
            return fail(vec![user_error(
                &["fulfillment"],
                &format!(
                    "Fulfillment order {} has an unfulfillable status= {}.",
                    fo.id,
                    fo.status.to_lowercase()
                ),
                None,
            )]);
        }
        match g["fulfillmentOrderLineItems"].as_array() {
            None => plan.extend(
                fo.lines
                    .iter()
                    .filter(|l| l.remaining > 0)
                    .map(|l| (fo.id, l.id, l.remaining)),
            ),
            Some(items) => {
                for it in items {
                    let lid = it["id"]
                        .as_str()
                        .and_then(|s| parse_gid("FulfillmentOrderLineItem", s));
                    let qty = it["quantity"].as_i64().unwrap_or(0);
                    match fo.lines.iter().find(|l| Some(l.id) == lid) {
                        Some(l) if qty > 0 && qty <= l.remaining => plan.push((fo.id, l.id, qty)),
                        Some(_) => {
                            return fail(vec![user_error(
                                &["fulfillment"],
                                "Invalid fulfillment order line item quantity requested.",
                                None,
                            )]);
                        }
                        None => {
                            return fail(vec![user_error(
                                &["fulfillment"],
                                "Fulfillment order line item does not exist.",
                                None,
                            )]);
                        }
                    }
                }
            }
        }
    }
    if plan.is_empty() {
        return fail(vec![user_error(
            &["fulfillment"],
            "Fulfillment order has no remaining line items to fulfill.",
            None,
        )]);
    }
    let tracking = tracking_input(&input["trackingInfo"]);
    let Some(oid) = order_id else {
        return fail(vec![]);
    };
    let at = shop.stamp();
    let fid = shop.id();
    let Some(o) = shop.orders.get_mut(&oid) else {
        return fail(vec![]);
    };
    let mut shipped = Vec::new();
    for (fo_id, fl_id, qty) in &plan {
        if let Some(fo) = o.fulfillment_orders.iter_mut().find(|f| f.id == *fo_id)
            && let Some(fl) = fo.lines.iter_mut().find(|l| l.id == *fl_id)
        {
            fl.remaining -= qty;
            shipped.push((fl.id, fl.line_id, *qty));
            if let Some(line) = o.lines.iter_mut().find(|l| l.id == fl.line_id) {
                line.fulfilled += qty;
            }
        }
    }
    for fo in &mut o.fulfillment_orders {
        if plan.iter().any(|(f, _, _)| *f == fo.id) {
            fo.status = if fo.lines.iter().all(|l| l.remaining == 0) {
                "CLOSED"
            } else {
                "IN_PROGRESS"
            };
        }
    }
    let name = format!("#{}-F{}", o.number, o.fulfillments.len() + 1);
    o.fulfillments.push(Fulfillment {
        id: fid,
        name,
        created_ms: at,
        company: input["trackingInfo"]["company"].as_str().map(str::to_owned),
        tracking,
        lines: shipped,
        updated_ms: at,
        cancelled: false,
    });
    o.updated_ms = at;
    let order = state::order_json(o);
    let fulfillment = order["fulfillments"]
        .as_array()
        .and_then(|f| f.last().cloned())
        .unwrap_or(Value::Null);
    (
        json!({ "__typename": "FulfillmentCreatePayload", "fulfillment": fulfillment, "userErrors": [] }),
        Some(oid),
    )
}

pub(crate) fn webhook_json(w: &Webhook) -> Value {
    json!({
        "__typename": "WebhookSubscription",
        "id": gid("WebhookSubscription", w.id),
        "legacyResourceId": w.id.to_string(),
        "topic": w.topic,
        "format": "JSON",
        "createdAt": time(w.created_ms),
        "updatedAt": time(w.created_ms),
        "callbackUrl": w.callback_url,
        "includeFields": [],
        "metafieldNamespaces": [],
        "endpoint": { "__typename": "WebhookHttpEndpoint", "callbackUrl": w.callback_url },
    })
}

/// `webhookSubscriptionCreate` with an HTTP(S) callback (Shopify requires
/// HTTPS; the simulator also takes HTTP for loopback receivers).
pub(crate) fn webhook_subscription_create(shop: &mut Shop, a: &Value) -> Value {
    let topic = a["topic"].as_str().unwrap_or_default().to_owned();
    let url = a["webhookSubscription"]["callbackUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let fail = |m: &str| {
        json!({ "__typename": "WebhookSubscriptionCreatePayload", "webhookSubscription": null,
        "userErrors": [user_error(&["webhookSubscription", "callbackUrl"], m, None)] })
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return fail("Address is invalid");
    }
    if shop
        .webhooks
        .iter()
        .any(|w| w.topic == topic && w.callback_url == url)
    {
        return fail("Address for this topic has already been taken");
    }
    let w = Webhook {
        id: shop.id(),
        topic,
        callback_url: url,
        created_ms: shop.stamp(),
    };
    let out = webhook_json(&w);
    shop.webhooks.push(w);
    json!({ "__typename": "WebhookSubscriptionCreatePayload", "webhookSubscription": out, "userErrors": [] })
}
