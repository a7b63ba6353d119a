//! One order by id, and order webhooks (`webhookSubscriptionCreate`,
//! `X-Shopify-Hmac-Sha256`).

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{LINE_FIELDS, ORDER_FIELDS, Shopify, gid, map};
use crate::channel::{Notification, NotificationError, OrderPage};
use crate::error::ConnectorError;

/// The topics we subscribe to: creation, and every later change (payment,
/// cancellation, edits, refunds arrive as updates).
const TOPICS: [&str; 2] = ["ORDERS_CREATE", "ORDERS_UPDATED"];
const HMAC_HEADER: &str = "x-shopify-hmac-sha256";

impl Shopify {
    pub(super) async fn fetch_one(
        &self,
        channel_order_id: &str,
    ) -> Result<OrderPage, ConnectorError> {
        let doc = format!(
            "query SwitchyardOrder($id: ID!) {{ order(id: $id) {{ ...SwitchyardOrder }} }}\n{ORDER_FIELDS}\n{LINE_FIELDS}"
        );
        let d = self
            .graphql(&doc, &json!({ "id": gid("Order", channel_order_id) }), true)
            .await?;
        let mut page = OrderPage::default();
        let mut raw = d["order"].clone();
        if raw.is_null() {
            return Ok(page);
        }
        self.remaining_lines(&mut raw).await?;
        let mapped = map::order(self.http.label(), &raw);
        page.add(raw, Some(channel_order_id.to_owned()), mapped);
        Ok(page)
    }

    pub(super) async fn subscribe(
        &self,
        callback_url: &str,
    ) -> Result<Option<String>, ConnectorError> {
        if self.webhook_key.is_none() {
            return Err(ConnectorError::Client {
                channel: self.http.label().to_owned(),
                reason: "order notifications need the app's `api_secret_key` in the credentials to check signatures".into(),
            });
        }
        let doc = "mutation SwitchyardSubscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) { webhookSubscription { id } userErrors { field message } }
}";
        for topic in TOPICS {
            let vars =
                json!({ "topic": topic, "sub": { "callbackUrl": callback_url, "format": "JSON" } });
            // Creating is safe to resend: a second create for the same
            // address and topic is refused with "already been taken".
            let d = self.graphql(doc, &vars, true).await?;
            let errors = d["webhookSubscriptionCreate"]["userErrors"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if let Some(e) = errors.iter().find(|e| {
                !e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("already been taken"))
            }) {
                return Err(ConnectorError::Rejected {
                    channel: self.http.label().to_owned(),
                    status: 200,
                    body: e["message"]
                        .as_str()
                        .unwrap_or("webhook refused")
                        .to_owned(),
                });
            }
        }
        Ok(None)
    }

    pub(super) fn verify(
        &self,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<Notification, NotificationError> {
        let key = self.webhook_key.as_ref().map(|k| k.expose_secret()).ok_or(
            NotificationError::NoSecret(
                "the channel's credentials have no `api_secret_key` to check Shopify webhooks with",
            ),
        )?;
        let sig = headers
            .get(HMAC_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(NotificationError::Unsigned {
                header: HMAC_HEADER,
            })?;
        if !Self::verify_webhook(key, body, sig) {
            return Err(NotificationError::BadSignature {
                header: HMAC_HEADER,
            });
        }
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        Ok(Notification {
            channel_order_id: match &v["id"] {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) => Some(map::legacy_id(s).to_owned()),
                _ => None,
            },
            topic: headers
                .get("x-shopify-topic")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }
}
