//! Medusa as a back office: a marketplace order becomes a draft order
//! (`POST /admin/draft-orders`, our order id in `metadata`), with the
//! shop's own variants, the addresses and the store's first shipping
//! option, converted to an order and marked paid (a payment collection for
//! the order total, `mark-as-paid`). Prices are Medusa's own. Read back by
//! id: shipped when Medusa says `shipped`/`delivered`, with the labels'
//! tracking numbers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{Medusa, ORDER_FIELDS};
use crate::back_office::{
    BackOffice, NewBackOfficeOrder, RemoteOrder, RemoteOrderState, RemoteProgress,
};
use crate::channel::Tracking;
use crate::error::ConnectorError;
use crate::support;

/// The metadata key holding our order id.
const REFERENCE_KEY: &str = "switchyard_order_id";
/// Pages scanned when looking for an earlier attempt.
const FIND_PAGES: usize = 20;
/// Orders per page when reading back or looking.
const PAGE: usize = 50;

/// The reference Switchyard stored on an order, if it created it.
pub(crate) fn reference_of(order: &Value) -> Option<&str> {
    order["metadata"][REFERENCE_KEY].as_str()
}

fn remote(order: &Value) -> Option<RemoteOrder> {
    Some(RemoteOrder {
        id: order["id"].as_str()?.to_owned(),
        number: order["display_id"].as_i64().map(|n| n.to_string()),
        status: order["status"].as_str().unwrap_or("").to_owned(),
    })
}

fn address_input(a: &switchyard_domain::order::Address) -> Value {
    let (first, last) = support::split_name(a.name.as_deref());
    json!({
        "first_name": first, "last_name": last,
        "company": a.company.clone().unwrap_or_default(),
        "address_1": a.line1.clone().unwrap_or_default(),
        "address_2": a.line2.clone().unwrap_or_default(),
        "city": a.city.clone().unwrap_or_default(),
        "province": a.region.clone().unwrap_or_default(),
        "postal_code": a.postal_code.clone().unwrap_or_default(),
        "country_code": a.country.map(|c| c.as_str().to_ascii_lowercase()).unwrap_or_default(),
        "phone": a.phone.clone().unwrap_or_default(),
    })
}

impl Medusa {
    /// An order (or a draft, `draft` set) created for `reference` since `since`.
    async fn find_created(
        &self,
        reference: &str,
        since: DateTime<Utc>,
        draft: bool,
    ) -> Result<Option<Value>, ConnectorError> {
        let after =
            (since - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (path, key) = if draft {
            ("/admin/draft-orders", "draft_orders")
        } else {
            ("/admin/orders", "orders")
        };
        for page in 0..FIND_PAGES {
            let body = self
                .get(&format!(
                    "{path}?created_at[$gte]={}&order=created_at&offset={}&limit={PAGE}&fields=id,display_id,status,metadata",
                    support::encode(&after),
                    page * PAGE
                ))
                .await?;
            let list = body[key].as_array().cloned().unwrap_or_default();
            if let Some(o) = list.iter().find(|o| reference_of(o) == Some(reference)) {
                return Ok(Some(o.clone()));
            }
            if list.len() < PAGE {
                break;
            }
        }
        Ok(None)
    }

    async fn delete_draft(&self, id: &str) {
        let req = crate::http::HttpRequest::delete(format!(
            "{}/admin/draft-orders/{}",
            self.base,
            support::encode(id)
        ))
        .secret_header("authorization", self.auth.expose_secret());
        if let Err(e) = self.http.send(&req).await {
            tracing::warn!(draft = id, error = %e, "could not delete an unfinished draft order");
        }
    }

    /// Make the draft order and place it.
    async fn place(&self, new: &NewBackOfficeOrder) -> Result<RemoteOrder, ConnectorError> {
        let o = &new.order;
        let mut items = Vec::with_capacity(new.lines.len());
        for l in &new.lines {
            let Some(variant) = &l.listing_id else {
                return Err(self.refused(format!(
                    "SKU {} is not a product variant of this Medusa store; download its products first",
                    l.sku
                )));
            };
            items.push(json!({ "variant_id": variant, "quantity": l.quantity }));
        }
        let store = self.store().await?;
        let region = store["default_region_id"]
            .as_str()
            .ok_or_else(|| self.refused("the store has no default region"))?
            .to_owned();
        let options = self
            .get("/admin/shipping-options?fields=id,name,*prices&limit=20")
            .await?;
        let option = options["shipping_options"]
            .as_array()
            .into_iter()
            .flatten()
            .next()
            .ok_or_else(|| self.refused("the store has no shipping option"))?;
        let price = option["prices"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["currency_code"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case(o.currency.as_str()))
            })
            .map_or(json!(0), |p| p["amount"].clone());
        // Medusa requires an email address.
        let email = new.buyer_email();
        let mut body = json!({
            "email": email, "region_id": region, "items": items,
            "shipping_address": address_input(&o.shipping_address),
            "billing_address": address_input(&o.billing_address),
            "shipping_methods": [{ "shipping_option_id": option["id"], "name": option["name"], "amount": price }],
            "metadata": { REFERENCE_KEY: new.reference, "switchyard_source": new.source,
                          "switchyard_channel_order": o.number },
        });
        if let Some(sc) = store["default_sales_channel_id"].as_str() {
            body["sales_channel_id"] = json!(sc);
        }
        let draft = self.post("/admin/draft-orders", &body, false).await?;
        let id = draft["draft_order"]["id"]
            .as_str()
            .ok_or_else(|| self.malformed("the draft order has no id"))?
            .to_owned();
        let placed = async {
            let order = self
                .post(
                    &format!(
                        "/admin/draft-orders/{}/convert-to-order?fields=id,display_id,status,total",
                        support::encode(&id)
                    ),
                    &json!({}),
                    false,
                )
                .await?;
            let order = &order["order"];
            // A converted draft has no payment collection: make one for the
            // total and mark it paid (the marketplace took the money).
            let pc = self
                .post(
                    "/admin/payment-collections",
                    &json!({ "order_id": id, "amount": order["total"] }),
                    false,
                )
                .await?;
            let pc = pc["payment_collection"]["id"]
                .as_str()
                .ok_or_else(|| self.malformed("the payment collection has no id"))?
                .to_owned();
            self.post(
                &format!(
                    "/admin/payment-collections/{}/mark-as-paid",
                    support::encode(&pc)
                ),
                &json!({ "order_id": id }),
                false,
            )
            .await?;
            remote(order).ok_or_else(|| self.malformed("the converted order has no id"))
        }
        .await;
        if let Err(e) = &placed
            && !e.is_retryable()
        {
            self.delete_draft(&id).await;
        }
        placed
    }
}

#[async_trait]
impl BackOffice for Medusa {
    async fn create_order(&self, new: &NewBackOfficeOrder) -> Result<RemoteOrder, ConnectorError> {
        if new.maybe_created {
            if let Some(found) = self
                .find_created(&new.reference, new.first_attempt_at, false)
                .await?
            {
                tracing::info!(reference = %new.reference, remote = ?found["id"], "back-office order existed already");
                return remote(&found).ok_or_else(|| self.malformed("found order has no id"));
            }
            // An attempt stopped before its draft became an order: start over.
            if let Some(draft) = self
                .find_created(&new.reference, new.first_attempt_at, true)
                .await?
                && let Some(id) = draft["id"].as_str()
            {
                self.delete_draft(id).await;
            }
        }
        self.place(new).await
    }

    async fn read_orders(&self, ids: &[String]) -> Result<Vec<RemoteOrderState>, ConnectorError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PAGE) {
            let filter: String = chunk
                .iter()
                .map(|id| format!("&id[]={}", support::encode(id)))
                .collect();
            let body = self
                .get(&format!(
                    "/admin/orders?limit={}&fields={ORDER_FIELDS}{filter}",
                    chunk.len()
                ))
                .await?;
            for o in body["orders"].as_array().into_iter().flatten() {
                let Some(r) = remote(o) else { continue };
                let progress = if r.status == "canceled" {
                    RemoteProgress::Cancelled
                } else if matches!(
                    o["fulfillment_status"].as_str(),
                    Some("shipped" | "delivered")
                ) {
                    RemoteProgress::Completed
                } else {
                    RemoteProgress::Open
                };
                let shipped: Vec<&Value> = o["fulfillments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|f| f["canceled_at"].is_null() && !f["shipped_at"].is_null())
                    .collect();
                let tracking = shipped
                    .iter()
                    .flat_map(|f| f["labels"].as_array().cloned().unwrap_or_default())
                    .filter_map(|l| {
                        let number = l["tracking_number"].as_str()?.trim().to_owned();
                        (!number.is_empty()).then(|| Tracking {
                            number,
                            url: l["tracking_url"]
                                .as_str()
                                .filter(|u| u.starts_with("http"))
                                .map(str::to_owned),
                        })
                    })
                    .collect();
                let carrier = shipped
                    .iter()
                    .filter_map(|f| f["metadata"]["carrier"].as_str())
                    .find(|c| !c.is_empty())
                    .map(str::to_owned);
                let shipped_at = shipped
                    .iter()
                    .filter_map(|f| f["shipped_at"].as_str())
                    .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .max();
                out.push(RemoteOrderState {
                    id: r.id,
                    status: o["fulfillment_status"]
                        .as_str()
                        .map_or(r.status.clone(), |f| format!("{} ({f})", r.status)),
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
        self.cancel(id).await
    }
}
