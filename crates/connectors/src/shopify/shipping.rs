//! Shipments on Shopify: `fulfillmentCreate` over the order's fulfillment
//! orders (an earlier attempt is looked for first), tracking corrected with
//! `fulfillmentTrackingInfoUpdate`, `fulfillmentCancel`, and `orderCancel`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{Shopify, gid};
use crate::channel::{FulfilmentAck, FulfilmentPush};
use crate::error::ConnectorError;
use crate::support;

/// `FulfillmentTrackingInput` of a shipment.
fn tracking_input(shipment: &FulfilmentPush) -> Value {
    let mut tracking = json!({
        "numbers": shipment.tracking.iter().map(|t| t.number.clone()).collect::<Vec<_>>(),
    });
    if shipment.tracking.iter().any(|t| t.url.is_some()) {
        tracking["urls"] = json!(
            shipment
                .tracking
                .iter()
                .map(|t| t.url.clone().unwrap_or_default())
                .filter(|u| !u.is_empty())
                .collect::<Vec<_>>()
        );
    }
    if let Some(c) = &shipment.carrier {
        tracking["company"] = json!(c);
    }
    tracking
}

/// Units per order line (`LineItem` gid) of a fulfillment.
fn shipped_lines(fulfilment: &Value) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for n in fulfilment["fulfillmentLineItems"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(line) = n["lineItem"]["id"].as_str() {
            *out.entry(line.to_owned()).or_default() += n["quantity"].as_i64().unwrap_or(0);
        }
    }
    out
}

fn tracking_set(fulfilment: &Value) -> BTreeSet<String> {
    fulfilment["trackingInfo"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .filter_map(|t| t["number"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl Shopify {
    pub(super) async fn create_shipment(
        &self,
        shipment: &FulfilmentPush,
    ) -> Result<FulfilmentAck, ConnectorError> {
        let order_gid = gid("Order", &shipment.channel_order_id);
        let wanted: BTreeSet<String> = shipment.tracking.iter().map(|t| t.number.clone()).collect();
        let wanted_lines: BTreeMap<String, i64> =
            shipment
                .lines
                .iter()
                .fold(BTreeMap::new(), |mut m, (line, q)| {
                    *m.entry(gid("LineItem", line)).or_default() += q;
                    m
                });
        // Shopify takes no reference of ours on a fulfillment: an earlier
        // attempt is recognised by its tracking numbers, or, for a shipment
        // without any, by the very same lines and quantities.
        let find = |order: &Value| -> Option<String> {
            order["fulfillments"]
                .as_array()?
                .iter()
                .filter(|f| f["status"].as_str() != Some("CANCELLED"))
                .find(|f| {
                    tracking_set(f) == wanted
                        && (!wanted.is_empty()
                            || wanted_lines.is_empty()
                            || shipped_lines(f) == wanted_lines)
                })
                .and_then(|f| f["id"].as_str().map(str::to_owned))
        };
        let order = self.order_shipments(&order_gid).await?;
        if let Some(id) = find(&order) {
            return Ok(FulfilmentAck {
                channel_fulfilment_id: id,
                already_existed: true,
            });
        }
        // Which fulfillment order lines carry the shipped order lines.
        let mut groups: Vec<Value> = Vec::new();
        let open: Vec<&Value> = order["fulfillmentOrders"]["nodes"]
            .as_array()
            .map(|fos| {
                fos.iter()
                    .filter(|fo| matches!(fo["status"].as_str(), Some("OPEN" | "IN_PROGRESS")))
                    .collect()
            })
            .unwrap_or_default();
        if open.is_empty() {
            return Err(ConnectorError::Rejected {
                channel: self.http.label().to_owned(),
                status: 422,
                body: format!(
                    "order {} has nothing left to fulfil",
                    shipment.channel_order_id
                ),
            });
        }
        if shipment.lines.is_empty() {
            groups.extend(
                open.iter()
                    .map(|fo| json!({ "fulfillmentOrderId": fo["id"] })),
            );
        } else {
            let mut need: BTreeMap<String, i64> = BTreeMap::new();
            for (line, q) in &shipment.lines {
                *need.entry(gid("LineItem", line)).or_default() += q;
            }
            for fo in &open {
                let mut items = Vec::new();
                for fl in fo["lineItems"]["nodes"].as_array().into_iter().flatten() {
                    let line = fl["lineItem"]["id"].as_str().unwrap_or_default();
                    let remaining = fl["remainingQuantity"].as_i64().unwrap_or(0);
                    if let Some(n) = need.get_mut(line)
                        && *n > 0
                        && remaining > 0
                    {
                        let take = (*n).min(remaining);
                        *n -= take;
                        items.push(json!({ "id": fl["id"], "quantity": take }));
                    }
                }
                if !items.is_empty() {
                    groups.push(json!({ "fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": items }));
                }
            }
            if let Some((line, n)) = need.iter().find(|(_, n)| **n > 0) {
                return Err(ConnectorError::Rejected {
                    channel: self.http.label().to_owned(),
                    status: 422,
                    body: format!("{n} unit(s) of line {line} are not open for fulfilment"),
                });
            }
        }
        let tracking = tracking_input(shipment);
        let mutation = "mutation SwitchyardFulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id status } userErrors { field message } }
}";
        let vars = json!({ "fulfillment": {
            "lineItemsByFulfillmentOrder": groups,
            "trackingInfo": tracking,
            "notifyCustomer": true,
        }});
        let fetched = std::sync::Mutex::new(Some(order.clone()));
        let (id, existed) = support::ensure(
            self.attempts,
            self.pause,
            || {
                // The first look reuses the order read above; later ones ask again.
                let known = fetched.lock().ok().and_then(|mut f| f.take());
                async {
                    let order = match known {
                        Some(o) => o,
                        None => self.order_shipments(&order_gid).await?,
                    };
                    Ok(find(&order))
                }
            },
            || async {
                let d = self.graphql(mutation, &vars, false).await?;
                let payload = &d["fulfillmentCreate"];
                self.user_errors(&payload["userErrors"])?;
                payload["fulfillment"]["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.malformed("fulfillmentCreate returned no fulfillment"))
            },
        )
        .await?;
        Ok(FulfilmentAck {
            channel_fulfilment_id: id,
            already_existed: existed,
        })
    }

    pub(super) async fn update_tracking(
        &self,
        channel_fulfilment_id: &str,
        shipment: &FulfilmentPush,
    ) -> Result<Option<String>, ConnectorError> {
        // Replacing tracking is idempotent: a retry sets the same numbers.
        let mutation = "mutation SwitchyardTracking($id: ID!, $tracking: FulfillmentTrackingInput!) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $tracking, notifyCustomer: true) { fulfillment { id } userErrors { field message } }
}";
        let vars = json!({
            "id": gid("Fulfillment", channel_fulfilment_id),
            "tracking": tracking_input(shipment),
        });
        let d = self.graphql(mutation, &vars, true).await?;
        self.user_errors(&d["fulfillmentTrackingInfoUpdate"]["userErrors"])?;
        Ok(None)
    }

    pub(super) async fn cancel_shipment(
        &self,
        channel_order_id: &str,
        channel_fulfilment_id: &str,
    ) -> Result<(), ConnectorError> {
        let fid = gid("Fulfillment", channel_fulfilment_id);
        let order = self
            .order_shipments(&gid("Order", channel_order_id))
            .await?;
        let current = order["fulfillments"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["id"].as_str() == Some(fid.as_str())));
        match current {
            None => {
                return Err(ConnectorError::Rejected {
                    channel: self.http.label().to_owned(),
                    status: 404,
                    body: format!(
                        "fulfillment {channel_fulfilment_id} not found on order {channel_order_id}"
                    ),
                });
            }
            Some(f) if f["status"].as_str() == Some("CANCELLED") => return Ok(()),
            Some(_) => {}
        }
        let mutation = "mutation SwitchyardCancelFulfilment($id: ID!) {
  fulfillmentCancel(id: $id) { fulfillment { id status } userErrors { field message } }
}";
        let d = self.graphql(mutation, &json!({ "id": fid }), false).await?;
        self.user_errors(&d["fulfillmentCancel"]["userErrors"])
    }

    pub(super) async fn cancel(
        &self,
        channel_order_id: &str,
        reason: &str,
    ) -> Result<(), ConnectorError> {
        let order_gid = gid("Order", channel_order_id);
        let order = self.order_shipments(&order_gid).await?;
        if !order["cancelledAt"].is_null() {
            return Ok(());
        }
        let mutation = "mutation SwitchyardCancelOrder($id: ID!, $note: String) {
  orderCancel(orderId: $id, refund: true, restock: true, reason: OTHER, notifyCustomer: true, staffNote: $note) {
    job { id done } orderCancelUserErrors { field message code }
  }
}";
        let d = self
            .graphql(mutation, &json!({ "id": order_gid, "note": reason }), false)
            .await?;
        self.user_errors(&d["orderCancel"]["orderCancelUserErrors"])
    }
}
