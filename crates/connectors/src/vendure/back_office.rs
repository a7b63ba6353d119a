//! Vendure as a back office: a marketplace order becomes a draft order
//! (`createDraftOrder`), marked with a private note carrying our order id
//! (Vendure has no free reference field on orders without custom fields),
//! filled with the shop's own variants, customer, addresses and its first
//! eligible shipping method, then placed with a manual payment named after
//! the marketplace. Prices are Vendure's own: a draft order cannot take
//! the marketplace's line prices. Read back by id; shipped when Vendure says
//! `Shipped`/`Delivered`, with the fulfilments' tracking codes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{ORDER_FIELDS, Vendure};
use crate::back_office::{
    BackOffice, NewBackOfficeOrder, RemoteOrder, RemoteOrderState, RemoteProgress,
};
use crate::channel::Tracking;
use crate::error::ConnectorError;
use crate::support;

/// Order pages scanned when looking for an earlier attempt.
const FIND_PAGES: usize = 20;
/// Orders per page when reading back or looking.
const PAGE: usize = 50;

/// The note text that marks an order as ours.
fn marker(reference: &str) -> String {
    format!("[switchyard:{reference}]")
}

/// The reference in an order's private notes, if Switchyard created it.
pub(crate) fn reference_of(order: &Value) -> Option<&str> {
    order["history"]["items"].as_array()?.iter().find_map(|h| {
        let note = h["data"]["note"].as_str()?;
        let start = note.find("[switchyard:")? + "[switchyard:".len();
        let len = note[start..].find(']')?;
        Some(&note[start..start + len])
    })
}

fn remote(order: &Value) -> Option<RemoteOrder> {
    Some(RemoteOrder {
        id: order["id"].as_str()?.to_owned(),
        number: order["code"].as_str().map(str::to_owned),
        status: order["state"].as_str().unwrap_or("").to_owned(),
    })
}

fn address_input(a: &switchyard_domain::order::Address) -> Value {
    json!({
        "fullName": a.name.clone().unwrap_or_default(),
        "company": a.company.clone().unwrap_or_default(),
        "streetLine1": a.line1.clone().unwrap_or_default(),
        "streetLine2": a.line2.clone().unwrap_or_default(),
        "city": a.city.clone().unwrap_or_default(),
        "province": a.region.clone().unwrap_or_default(),
        "postalCode": a.postal_code.clone().unwrap_or_default(),
        "countryCode": a.country.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        "phoneNumber": a.phone.clone().unwrap_or_default(),
    })
}

impl Vendure {
    /// An order created for `reference` since `since`, if one exists.
    async fn find_created(
        &self,
        reference: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Value>, ConnectorError> {
        let after =
            (since - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let filter = json!({ "createdAt": { "after": after } });
        for page in 0..FIND_PAGES {
            let (items, total) = self.orders(&filter, page * PAGE, PAGE).await?;
            if let Some(o) = items.iter().find(|o| reference_of(o) == Some(reference)) {
                return Ok(Some(o.clone()));
            }
            if u64::try_from((page + 1) * PAGE).unwrap_or(u64::MAX) >= total {
                break;
            }
        }
        Ok(None)
    }

    /// Run a draft-order mutation on `id` and check its result.
    async fn draft_step(
        &self,
        query: &str,
        field: &str,
        variables: Value,
    ) -> Result<Value, ConnectorError> {
        let d = self.graphql(query, &variables, false).await?;
        self.result(&d, field)
    }

    async fn delete_draft(&self, id: &str) {
        let r = self
            .graphql(
                "mutation SwitchyardDeleteDraft($id: ID!) { deleteDraftOrder(orderId: $id) { result message } }",
                &json!({ "id": id }),
                false,
            )
            .await;
        if let Err(e) = r {
            tracing::warn!(draft = id, error = %e, "could not delete an unfinished draft order");
        }
    }

    /// Fill and place the draft `id`.
    async fn complete_draft(
        &self,
        id: &str,
        new: &NewBackOfficeOrder,
    ) -> Result<RemoteOrder, ConnectorError> {
        let o = &new.order;
        for l in &new.lines {
            let Some(variant) = &l.listing_id else {
                return Err(self.refused(format!(
                    "SKU {} is not a product variant of this Vendure channel; download its products first",
                    l.sku
                )));
            };
            self.draft_step(
                "mutation SwitchyardDraftLine($id: ID!, $i: AddItemToDraftOrderInput!) {
                   addItemToDraftOrder(orderId: $id, input: $i) {
                     ... on Order { id } ... on ErrorResult { errorCode message } } }",
                "addItemToDraftOrder",
                json!({ "id": id, "i": { "productVariantId": variant, "quantity": l.quantity } }),
            )
            .await?;
        }
        let (first, last) = support::split_name(
            o.customer
                .name
                .as_deref()
                .or(o.shipping_address.name.as_deref()),
        );
        // Vendure requires an email address for every customer.
        let email = new.buyer_email();
        self.draft_step(
            "mutation SwitchyardDraftCustomer($id: ID!, $i: CreateCustomerInput!) {
               setCustomerForDraftOrder(orderId: $id, input: $i) {
                 ... on Order { id } ... on ErrorResult { errorCode message } } }",
            "setCustomerForDraftOrder",
            json!({ "id": id, "i": { "emailAddress": email, "firstName": first, "lastName": last,
                                     "phoneNumber": o.customer.phone.clone().unwrap_or_default() } }),
        )
        .await?;
        for (mutation, a) in [
            ("setDraftOrderShippingAddress", &o.shipping_address),
            ("setDraftOrderBillingAddress", &o.billing_address),
        ] {
            let d = self
                .graphql(
                    &format!(
                        "mutation SwitchyardDraftAddress($id: ID!, $i: CreateAddressInput!) {{
                           {mutation}(orderId: $id, input: $i) {{ id }} }}"
                    ),
                    &json!({ "id": id, "i": address_input(a) }),
                    false,
                )
                .await?;
            self.result(&d, mutation)?;
        }
        let d = self
            .graphql(
                "query SwitchyardDraftShipping($id: ID!) { eligibleShippingMethodsForDraftOrder(orderId: $id) { id } }",
                &json!({ "id": id }),
                true,
            )
            .await?;
        let method = d["eligibleShippingMethodsForDraftOrder"][0]["id"]
            .as_str()
            .ok_or_else(|| {
                self.refused("no shipping method of the shop is eligible for this order")
            })?
            .to_owned();
        self.draft_step(
            "mutation SwitchyardDraftMethod($id: ID!, $m: ID!) {
               setDraftOrderShippingMethod(orderId: $id, shippingMethodId: $m) {
                 ... on Order { id } ... on ErrorResult { errorCode message } } }",
            "setDraftOrderShippingMethod",
            json!({ "id": id, "m": method }),
        )
        .await?;
        self.draft_step(
            "mutation SwitchyardDraftArrange($id: ID!) {
               transitionOrderToState(id: $id, state: \"ArrangingPayment\") {
                 ... on Order { id } ... on ErrorResult { errorCode message } } }",
            "transitionOrderToState",
            json!({ "id": id }),
        )
        .await?;
        let placed = self
            .draft_step(
                "mutation SwitchyardDraftPay($i: ManualPaymentInput!) {
                   addManualPaymentToOrder(input: $i) {
                     ... on Order { id code state } ... on ErrorResult { errorCode message } } }",
                "addManualPaymentToOrder",
                json!({ "i": { "orderId": id, "method": new.source, "transactionId": new.reference,
                               "metadata": { "channel_order": o.number } } }),
            )
            .await?;
        remote(&placed).ok_or_else(|| self.malformed("the placed order has no id"))
    }
}

#[async_trait]
impl BackOffice for Vendure {
    async fn create_order(&self, new: &NewBackOfficeOrder) -> Result<RemoteOrder, ConnectorError> {
        if new.maybe_created
            && let Some(found) = self
                .find_created(&new.reference, new.first_attempt_at)
                .await?
        {
            match (found["state"].as_str(), found["id"].as_str()) {
                // An attempt stopped half-way: start over.
                (Some("Draft"), Some(id)) => self.delete_draft(id).await,
                _ => {
                    tracing::info!(reference = %new.reference, remote = ?found["id"], "back-office order existed already");
                    return remote(&found).ok_or_else(|| self.malformed("found order has no id"));
                }
            }
        }
        let d = self
            .graphql(
                "mutation SwitchyardDraft { createDraftOrder { id } }",
                &json!({}),
                false,
            )
            .await?;
        let id = d["createDraftOrder"]["id"]
            .as_str()
            .ok_or_else(|| self.malformed("the draft order has no id"))?
            .to_owned();
        // The mark goes on first: a later failure leaves a draft a retry can find.
        self.graphql(
            "mutation SwitchyardMark($i: AddNoteToOrderInput!) { addNoteToOrder(input: $i) { id } }",
            &json!({ "i": { "id": id, "isPublic": false, "note": format!(
                "{} {} order {}", marker(&new.reference), new.source, new.order.number) } }),
            false,
        )
        .await?;
        match self.complete_draft(&id, new).await {
            Ok(r) => Ok(r),
            Err(e) => {
                if !e.is_retryable() {
                    self.delete_draft(&id).await;
                }
                Err(e)
            }
        }
    }

    async fn read_orders(&self, ids: &[String]) -> Result<Vec<RemoteOrderState>, ConnectorError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PAGE) {
            let d = self
                .graphql(
                    &format!(
                        "query SwitchyardReadBack($o: OrderListOptions) {{ orders(options: $o) {{
                           items {{ ...SwitchyardOrder }} }} }}\n{ORDER_FIELDS}"
                    ),
                    &json!({ "o": { "filter": { "id": { "in": chunk } }, "take": chunk.len() } }),
                    true,
                )
                .await?;
            for o in d["orders"]["items"].as_array().into_iter().flatten() {
                let Some(r) = remote(o) else { continue };
                let progress = match r.status.as_str() {
                    "Shipped" | "Delivered" => RemoteProgress::Completed,
                    "Cancelled" => RemoteProgress::Cancelled,
                    _ => RemoteProgress::Open,
                };
                let shipments: Vec<&Value> = o["fulfillments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|f| f["state"] == "Shipped" || f["state"] == "Delivered")
                    .collect();
                let tracking = shipments
                    .iter()
                    .filter_map(|f| f["trackingCode"].as_str())
                    .flat_map(|c| c.split(','))
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| Tracking {
                        number: n.to_owned(),
                        url: None,
                    })
                    .collect();
                let carrier = shipments
                    .iter()
                    .filter_map(|f| f["method"].as_str())
                    .map(str::trim)
                    .find(|m| !m.is_empty())
                    .map(str::to_owned);
                let shipped_at = shipments
                    .iter()
                    .filter_map(|f| f["updatedAt"].as_str())
                    .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .max();
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
        self.cancel(id, "the marketplace order was cancelled").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_read_from_a_private_note() {
        let o = json!({ "history": { "items": [
            { "data": { "note": "called the customer" } },
            { "data": { "note": "[switchyard:ord_01J] shopify order #1001" } } ] } });
        assert_eq!(reference_of(&o), Some("ord_01J"));
        assert_eq!(reference_of(&json!({ "history": { "items": [] } })), None);
        assert_eq!(reference_of(&json!({})), None);
    }
}
