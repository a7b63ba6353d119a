//! Mutations on shipments and orders after the fact: tracking corrected,
//! a fulfillment cancelled, an order cancelled.

use serde_json::{Value, json};

use super::state::{Shop, parse_gid};

fn user_error(field: &[&str], message: &str) -> Value {
    json!({ "field": field, "message": message })
}

/// The order holding fulfillment `fid`.
fn order_of(shop: &Shop, fid: u64) -> Option<u64> {
    shop.orders
        .values()
        .find(|o| o.fulfillments.iter().any(|f| f.id == fid))
        .map(|o| o.id)
}

/// Fulfillment `fid` of an order, as the API renders it.
fn fulfillment_json(o: &super::state::Order, fid: u64) -> Value {
    super::state::order_json(o)["fulfillments"]
        .as_array()
        .and_then(|fs| {
            fs.iter()
                .find(|x| x["legacyResourceId"] == json!(fid.to_string()))
                .cloned()
        })
        .unwrap_or(Value::Null)
}

/// `fulfillmentTrackingInfoUpdate`: replace a fulfillment's tracking.
pub(crate) fn tracking_update(shop: &mut Shop, a: &Value) -> (Value, Option<u64>) {
    let payload = |f: Value, errors: Vec<Value>| json!({ "__typename": "FulfillmentTrackingInfoUpdatePayload", "fulfillment": f, "userErrors": errors });
    let fid = a["fulfillmentId"]
        .as_str()
        .and_then(|s| parse_gid("Fulfillment", s));
    let Some((fid, oid)) = fid.and_then(|f| order_of(shop, f).map(|o| (f, o))) else {
        return (
            payload(
                Value::Null,
                vec![user_error(
                    &["fulfillmentId"],
                    "Fulfillment does not exist.",
                )],
            ),
            None,
        );
    };
    let tracking = super::mutations::tracking_input(&a["trackingInfoInput"]);
    let company = a["trackingInfoInput"]["company"]
        .as_str()
        .map(str::to_owned);
    let at = shop.stamp();
    let Some(o) = shop.orders.get_mut(&oid) else {
        return (payload(Value::Null, vec![]), None);
    };
    let Some(f) = o.fulfillments.iter_mut().find(|f| f.id == fid) else {
        return (payload(Value::Null, vec![]), None);
    };
    if f.cancelled {
        return (
            payload(
                Value::Null,
                vec![user_error(
                    &["fulfillmentId"],
                    "Cannot update tracking of a cancelled fulfillment.",
                )],
            ),
            None,
        );
    }
    f.tracking = tracking;
    if company.is_some() {
        f.company = company;
    }
    f.updated_ms = at;
    o.updated_ms = at;
    (payload(fulfillment_json(o, fid), vec![]), Some(oid))
}

/// `fulfillmentCancel`: cancel a fulfillment; its units are open again.
pub(crate) fn fulfillment_cancel(shop: &mut Shop, a: &Value) -> (Value, Option<u64>) {
    let payload = |f: Value, errors: Vec<Value>| json!({ "__typename": "FulfillmentCancelPayload", "fulfillment": f, "userErrors": errors });
    let fid = a["id"].as_str().and_then(|s| parse_gid("Fulfillment", s));
    let Some((fid, oid)) = fid.and_then(|f| order_of(shop, f).map(|o| (f, o))) else {
        return (
            payload(
                Value::Null,
                vec![user_error(&["id"], "Fulfillment does not exist.")],
            ),
            None,
        );
    };
    let at = shop.stamp();
    let Some(o) = shop.orders.get_mut(&oid) else {
        return (payload(Value::Null, vec![]), None);
    };
    let Some(idx) = o.fulfillments.iter().position(|f| f.id == fid) else {
        return (payload(Value::Null, vec![]), None);
    };
    if o.fulfillments[idx].cancelled {
        return (
            payload(
                Value::Null,
                vec![user_error(&["id"], "Fulfillment is already cancelled.")],
            ),
            None,
        );
    }
    o.fulfillments[idx].cancelled = true;
    o.fulfillments[idx].updated_ms = at;
    let shipped = o.fulfillments[idx].lines.clone();
    for (fl_id, line_id, qty) in shipped {
        for fo in &mut o.fulfillment_orders {
            if let Some(fl) = fo.lines.iter_mut().find(|l| l.id == fl_id) {
                fl.remaining += qty;
                fo.status = "OPEN";
            }
        }
        if let Some(l) = o.lines.iter_mut().find(|l| l.id == line_id) {
            l.fulfilled -= qty;
        }
    }
    o.updated_ms = at;
    (payload(fulfillment_json(o, fid), vec![]), Some(oid))
}

/// `orderCancel`: cancel an order (an asynchronous job on Shopify; done at
/// once here).
pub(crate) fn order_cancel(shop: &mut Shop, a: &Value) -> (Value, Option<u64>) {
    let fail = |message: &str, code: &str| {
        let e = json!({ "field": ["orderId"], "message": message, "code": code });
        (
            json!({ "__typename": "OrderCancelPayload", "job": null, "orderCancelUserErrors": [e.clone()], "userErrors": [e] }),
            None,
        )
    };
    let Some(oid) = a["orderId"].as_str().and_then(|s| parse_gid("Order", s)) else {
        return fail("Order does not exist.", "NOT_FOUND");
    };
    let restock = a["restock"].as_bool().unwrap_or(false);
    match shop.cancel_order(oid, restock) {
        Ok(_) => {
            let job = shop.id();
            (
                json!({
                    "__typename": "OrderCancelPayload",
                    "job": { "__typename": "Job", "id": format!("gid://shopify/Job/{job}"), "done": true },
                    "orderCancelUserErrors": [], "userErrors": []
                }),
                Some(oid),
            )
        }
        Err(e) if e.contains("no such") => fail("Order does not exist.", "NOT_FOUND"),
        Err(_) => fail(
            "Cannot cancel an order that has already been cancelled.",
            "INVALID",
        ),
    }
}
