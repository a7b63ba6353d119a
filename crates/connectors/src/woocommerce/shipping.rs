//! WooCommerce shipments: Shipment Tracking entries (added by number,
//! looked up before adding so a retry never adds one twice), replaced when a
//! number is corrected, removed when a shipment is cancelled; and order
//! cancellation.

use serde_json::{Value, json};

use super::WooCommerce;
use crate::channel::FulfilmentPush;
use crate::error::ConnectorError;

/// Our id of a WooCommerce shipment: its tracking entries' ids, or, for one
/// without track and trace, `note:` and our reference.
pub(crate) fn shipment_id(tracking_ids: &[String], reference: &str) -> String {
    if tracking_ids.is_empty() {
        format!("note:{reference}")
    } else {
        tracking_ids.join(",")
    }
}

/// The tracking entry ids in a shipment id.
fn tracking_ids(shipment_id: &str) -> Vec<&str> {
    if shipment_id.starts_with("note:") {
        return Vec::new();
    }
    shipment_id.split(',').filter(|s| !s.is_empty()).collect()
}

impl WooCommerce {
    /// Add a tracking entry per number (unless one with the number exists).
    /// Returns the entries' ids and whether all of them existed already.
    pub(crate) async fn add_trackings(
        &self,
        order_id: &str,
        shipment: &FulfilmentPush,
    ) -> Result<(Vec<String>, bool), ConnectorError> {
        let mut existed = true;
        let mut ids = Vec::new();
        for t in &shipment.tracking {
            let number = t.number.clone();
            let check = || {
                let number = number.clone();
                async move {
                    Ok(self
                        .trackings(order_id)
                        .await?
                        .into_iter()
                        .find(|e| {
                            e.get("tracking_number").and_then(Value::as_str)
                                == Some(number.as_str())
                        })
                        .and_then(|e| {
                            e.get("tracking_id")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        }))
                }
            };
            let mut body = json!({
                "tracking_number": t.number,
                "date_shipped": shipment.shipped_at.timestamp().to_string(),
            });
            match &shipment.carrier {
                Some(c) => body["custom_tracking_provider"] = json!(c),
                None => body["custom_tracking_provider"] = json!("Other"),
            }
            if let Some(u) = &t.url {
                body["custom_tracking_link"] = json!(u);
            }
            let create = || {
                let req = self
                    .send_body(
                        reqwest::Method::POST,
                        &format!("/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings"),
                        &body,
                    )
                    .not_idempotent();
                async move {
                    let (_, made) = self.http.send_json(&req).await?;
                    made.get("tracking_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| self.malformed("created tracking has no tracking_id"))
                }
            };
            let (id, found) = self.ensure(check, create).await?;
            existed &= found;
            ids.push(id);
        }
        Ok((ids, existed))
    }

    /// Delete tracking entries; one already gone is fine.
    async fn delete_trackings(&self, order_id: &str, ids: &[&str]) -> Result<(), ConnectorError> {
        for id in ids {
            let req = self.send_body(
                reqwest::Method::DELETE,
                &format!("/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings/{id}"),
                &Value::Null,
            );
            match self.http.send_json(&req).await {
                Ok(_) => {}
                Err(ConnectorError::Rejected { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The order id a shipment id belongs to is needed to address its
    /// entries: it travels in the shipment.
    pub(crate) async fn replace_trackings(
        &self,
        channel_fulfilment_id: &str,
        shipment: &FulfilmentPush,
    ) -> Result<Option<String>, ConnectorError> {
        let order_id = shipment.channel_order_id.as_str();
        let wanted: Vec<&str> = shipment
            .tracking
            .iter()
            .map(|t| t.number.as_str())
            .collect();
        // Entries of the old numbers go; entries of numbers kept stay.
        let current = self.trackings(order_id).await?;
        let stale: Vec<&str> = tracking_ids(channel_fulfilment_id)
            .into_iter()
            .filter(|id| {
                current.iter().any(|e| {
                    e.get("tracking_id").and_then(Value::as_str) == Some(*id)
                        && !e
                            .get("tracking_number")
                            .and_then(Value::as_str)
                            .is_some_and(|n| wanted.contains(&n))
                })
            })
            .collect();
        let (ids, _) = self.add_trackings(order_id, shipment).await?;
        self.delete_trackings(order_id, &stale).await?;
        Ok(Some(shipment_id(&ids, &shipment.reference)))
    }

    /// Cancel a shipment: its entries go, the order is open again and a
    /// note says why.
    pub(crate) async fn remove_shipment(
        &self,
        order_id: &str,
        channel_fulfilment_id: &str,
    ) -> Result<(), ConnectorError> {
        self.delete_trackings(order_id, &tracking_ids(channel_fulfilment_id))
            .await?;
        let (_, order) = self.get_json(&format!("/wc/v3/orders/{order_id}")).await?;
        if order.get("status").and_then(Value::as_str) == Some("completed") {
            self.http
                .send_json(&self.send_body(
                    reqwest::Method::PUT,
                    &format!("/wc/v3/orders/{order_id}"),
                    &json!({ "status": "processing" }),
                ))
                .await?;
        }
        Ok(())
    }

    /// Cancel an order (idempotent: setting the status again changes nothing).
    pub(crate) async fn set_cancelled(
        &self,
        order_id: &str,
        reason: &str,
    ) -> Result<(), ConnectorError> {
        let (_, order) = self.get_json(&format!("/wc/v3/orders/{order_id}")).await?;
        if matches!(
            order.get("status").and_then(Value::as_str),
            Some("cancelled" | "refunded")
        ) {
            return Ok(());
        }
        self.http
            .send_json(&self.send_body(
                reqwest::Method::PUT,
                &format!("/wc/v3/orders/{order_id}"),
                &json!({ "status": "cancelled" }),
            ))
            .await?;
        let note =
            json!({ "note": format!("Cancelled by Switchyard: {reason}"), "customer_note": false });
        self.http
            .send_json(&self.send_body(
                reqwest::Method::POST,
                &format!("/wc/v3/orders/{order_id}/notes"),
                &note,
            ))
            .await?;
        Ok(())
    }
}
