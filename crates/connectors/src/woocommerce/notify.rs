//! One order by id, and order webhooks (`POST /wc/v3/webhooks`,
//! `X-WC-Webhook-Signature`).

use base64::Engine as _;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{WooCommerce, map};
use crate::channel::{Notification, NotificationError, OrderPage};
use crate::error::ConnectorError;

const TOPICS: [&str; 2] = ["order.created", "order.updated"];
const SIGNATURE_HEADER: &str = "x-wc-webhook-signature";

impl WooCommerce {
    pub(super) async fn fetch_one(
        &self,
        channel_order_id: &str,
    ) -> Result<OrderPage, ConnectorError> {
        let mut page = OrderPage::default();
        let id: u64 = match channel_order_id.parse() {
            Ok(id) => id,
            Err(_) => return Ok(page),
        };
        let raw = match self.get_json(&format!("/wc/v3/orders/{id}")).await {
            Ok((_, raw)) => raw,
            // WooCommerce answers an unknown id with 404 `woocommerce_rest_shop_order_invalid_id`.
            Err(ConnectorError::Rejected { status: 404, .. }) => return Ok(page),
            Err(e) => return Err(e),
        };
        if super::back_office::reference_of(&raw).is_some() {
            page.ours.push(id.to_string());
            return Ok(page);
        }
        let mapped = map::order(self.http.label(), &raw);
        page.add(raw, Some(id.to_string()), mapped);
        Ok(page)
    }

    /// WooCommerce signs with a secret we choose when creating the webhook.
    /// With a stored secret, existing webhooks to `callback_url` are kept;
    /// without one, a secret is generated and the webhooks are created with it.
    pub(super) async fn subscribe(
        &self,
        callback_url: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let (_, existing) = self.get_json("/wc/v3/webhooks?per_page=100").await?;
        let existing = existing
            .as_array()
            .cloned()
            .ok_or_else(|| self.malformed("webhook list is not an array"))?;
        let (secret, generated) = match &self.webhook_secret {
            Some(s) => (s.expose_secret().to_owned(), false),
            None => {
                let mut b = [0u8; 24];
                getrandom::fill(&mut b).map_err(|e| ConnectorError::Client {
                    channel: self.http.label().to_owned(),
                    reason: format!("no randomness for a webhook secret: {e}"),
                })?;
                (
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b),
                    true,
                )
            }
        };
        for topic in TOPICS {
            let present = existing.iter().any(|w| {
                w["topic"] == topic && w["delivery_url"] == callback_url && w["status"] == "active"
            });
            if present && !generated {
                continue;
            }
            let body = json!({
                "name": format!("Switchyard {topic}"),
                "topic": topic,
                "delivery_url": callback_url,
                "secret": secret,
                "status": "active",
            });
            // Not idempotent on the channel: resent only when never delivered.
            let req = self
                .send_body(reqwest::Method::POST, "/wc/v3/webhooks", &body)
                .not_idempotent();
            self.http.send_json(&req).await?;
        }
        Ok(generated.then_some(secret))
    }

    pub(super) fn verify(
        &self,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<Notification, NotificationError> {
        let secret = self.webhook_secret.as_ref().map(|s| s.expose_secret()).ok_or(NotificationError::NoSecret(
            "no webhook secret is stored for this channel yet; notifications are registered by the engine",
        ))?;
        let sig = headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or(NotificationError::Unsigned {
                header: SIGNATURE_HEADER,
            })?;
        if !Self::verify_webhook(secret, body, sig) {
            return Err(NotificationError::BadSignature {
                header: SIGNATURE_HEADER,
            });
        }
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        Ok(Notification {
            channel_order_id: v["id"].as_u64().map(|id| id.to_string()),
            topic: headers
                .get("x-wc-webhook-topic")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }
}
