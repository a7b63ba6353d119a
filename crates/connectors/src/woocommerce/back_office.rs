//! WooCommerce as a back office: marketplace orders are created through
//! `POST /orders` with our order id in `meta_data` (a public key: keys
//! starting with `_` are hidden from the REST API), found again by that key
//! before any retry creates one, read back with `include`, and cancelled by
//! status. Track and trace comes from the Shipment Tracking extension.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::WooCommerce;
use crate::back_office::{
    BackOffice, NewBackOfficeOrder, RemoteOrder, RemoteOrderState, RemoteProgress,
};
use crate::channel::Tracking;
use crate::error::ConnectorError;
use crate::support::split_name;

/// The meta key holding our order id.
pub(crate) const REFERENCE_KEY: &str = "switchyard_order_id";

/// Pages scanned when looking for an earlier attempt.
const FIND_PAGES: u32 = 20;

fn address(a: &switchyard_domain::order::Address, email: Option<&str>) -> Value {
    let (first, last) = split_name(a.name.as_deref());
    let mut v = json!({
        "first_name": first, "last_name": last,
        "company": a.company.clone().unwrap_or_default(),
        "address_1": a.line1.clone().unwrap_or_default(),
        "address_2": a.line2.clone().unwrap_or_default(),
        "city": a.city.clone().unwrap_or_default(),
        "state": a.region.clone().unwrap_or_default(),
        "postcode": a.postal_code.clone().unwrap_or_default(),
        "country": a.country.map(|c| c.as_str().to_owned()).unwrap_or_default(),
    });
    if let Some(e) = email {
        v["email"] = json!(e);
        v["phone"] = json!(a.phone.clone().unwrap_or_default());
    }
    v
}

/// The reference stored on a WooCommerce order, if any.
pub(crate) fn reference_of(order: &Value) -> Option<&str> {
    order
        .get("meta_data")?
        .as_array()?
        .iter()
        .find(|m| m.get("key").and_then(Value::as_str) == Some(REFERENCE_KEY))?
        .get("value")?
        .as_str()
}

fn remote(order: &Value) -> Option<RemoteOrder> {
    Some(RemoteOrder {
        id: order.get("id")?.as_u64()?.to_string(),
        number: order
            .get("number")
            .and_then(Value::as_str)
            .map(str::to_owned),
        status: order
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    })
}

impl WooCommerce {
    /// An order created for `reference` since `since`, if one exists.
    async fn find_created(
        &self,
        reference: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<RemoteOrder>, ConnectorError> {
        let after = (since - chrono::Duration::hours(1))
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        for page in 1..=FIND_PAGES {
            let (_, body) = self
                .get_json(&format!(
                    "/wc/v3/orders?after={after}&dates_are_gmt=true&orderby=date&order=asc&per_page=100&page={page}"
                ))
                .await?;
            let list = body
                .as_array()
                .ok_or_else(|| self.malformed("order list is not an array"))?;
            if let Some(o) = list.iter().find(|o| reference_of(o) == Some(reference)) {
                return Ok(remote(o));
            }
            if list.len() < 100 {
                break;
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl BackOffice for WooCommerce {
    async fn create_order(&self, new: &NewBackOfficeOrder) -> Result<RemoteOrder, ConnectorError> {
        if new.maybe_created
            && let Some(found) = self
                .find_created(&new.reference, new.first_attempt_at)
                .await?
        {
            tracing::info!(reference = %new.reference, remote = %found.id, "back-office order existed already");
            return Ok(found);
        }
        let o = &new.order;
        let lines: Vec<Value> = new
            .lines
            .iter()
            .map(|l| {
                let total = o
                    .currency
                    .format_amount(l.unit_price.saturating_mul(l.quantity));
                let mut item = json!({
                    "quantity": l.quantity, "subtotal": total, "total": total,
                    "meta_data": [{ "key": "switchyard_sku", "value": l.sku }],
                });
                let ids = l.listing_id.as_deref().map(|id| match id.split_once('/') {
                    Some((p, v)) => (p.parse::<u64>().ok(), v.parse::<u64>().ok()),
                    None => (id.parse::<u64>().ok(), None),
                });
                match ids {
                    Some((Some(p), v)) => {
                        item["product_id"] = json!(p);
                        if let Some(v) = v {
                            item["variation_id"] = json!(v);
                        }
                    }
                    // Not sold in this shop: a line by name keeps the order whole.
                    _ => item["name"] = json!(format!("{} ({})", l.title, l.sku)),
                }
                item
            })
            .collect();
        let body = json!({
            "status": "processing",
            "set_paid": true,
            "currency": o.currency.as_str(),
            "customer_note": format!("{} order {}", new.source, o.number),
            "billing": address(&o.billing_address, o.customer.email.as_deref()),
            "shipping": address(&o.shipping_address, None),
            "line_items": lines,
            "shipping_lines": [{
                "method_id": "switchyard",
                "method_title": o.shipping_method.clone().unwrap_or_else(|| "Shipping".into()),
                "total": o.currency.format_amount(o.shipping_total),
            }],
            "meta_data": [
                { "key": REFERENCE_KEY, "value": new.reference },
                { "key": "switchyard_source", "value": new.source },
                { "key": "switchyard_channel_order", "value": o.number },
            ],
        });
        let req = self
            .send_body(reqwest::Method::POST, "/wc/v3/orders", &body)
            .not_idempotent();
        let (_, made) = match self.http.send_json(&req).await {
            Ok(r) => r,
            // The request may have arrived: look before anyone resends it.
            Err(e) if !e.never_reached() => {
                if let Some(found) = self
                    .find_created(&new.reference, new.first_attempt_at)
                    .await?
                {
                    return Ok(found);
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        remote(&made).ok_or_else(|| self.malformed("the created order has no id"))
    }

    async fn read_orders(&self, ids: &[String]) -> Result<Vec<RemoteOrderState>, ConnectorError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            let include = chunk.join(",");
            let (_, body) = self
                .get_json(&format!(
                    "/wc/v3/orders?include={include}&per_page=100&status=any"
                ))
                .await?;
            let list = body
                .as_array()
                .ok_or_else(|| self.malformed("order list is not an array"))?;
            for o in list {
                let Some(r) = remote(o) else { continue };
                let progress = match r.status.as_str() {
                    "completed" => RemoteProgress::Completed,
                    "cancelled" | "refunded" | "failed" | "trash" => RemoteProgress::Cancelled,
                    _ => RemoteProgress::Open,
                };
                let (tracking, carrier, shipped_at) = if progress == RemoteProgress::Completed {
                    let entries = self.trackings(&r.id).await?;
                    let carrier = entries.iter().find_map(|e| {
                        ["tracking_provider", "custom_tracking_provider"]
                            .iter()
                            .find_map(|k| {
                                e.get(*k)
                                    .and_then(Value::as_str)
                                    .filter(|p| !p.is_empty() && *p != "Other")
                            })
                            .map(str::to_owned)
                    });
                    let shipped_at = entries
                        .iter()
                        .filter_map(|e| {
                            let t = e.get("date_shipped")?;
                            let secs = t
                                .as_i64()
                                .or_else(|| t.as_str().and_then(|s| s.parse().ok()))?;
                            DateTime::from_timestamp(secs, 0)
                        })
                        .max();
                    let tracking = entries
                        .iter()
                        .filter_map(|e| {
                            let number = e.get("tracking_number")?.as_str()?.trim();
                            (!number.is_empty()).then(|| Tracking {
                                number: number.to_owned(),
                                url: e
                                    .get("tracking_link")
                                    .and_then(Value::as_str)
                                    .filter(|u| u.starts_with("http"))
                                    .map(str::to_owned),
                            })
                        })
                        .collect();
                    (tracking, carrier, shipped_at)
                } else {
                    (Vec::new(), None, None)
                };
                out.push(RemoteOrderState {
                    id: r.id,
                    status: r.status,
                    progress,
                    tracking,
                    carrier,
                    shipped_at,
                });
            }
        }
        Ok(out)
    }

    async fn cancel_remote_order(&self, id: &str) -> Result<(), ConnectorError> {
        self.set_cancelled(id, "the marketplace order was cancelled")
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_last_space() {
        assert_eq!(
            split_name(Some("Ada King Lovelace")),
            ("Ada King".into(), "Lovelace".into())
        );
        assert_eq!(split_name(None), (String::new(), String::new()));
    }
}
