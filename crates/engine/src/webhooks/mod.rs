//! Outgoing webhooks. Two workers, each running on its own:
//!
//! - [`dispatch::WebhookDispatch`] reads the journal after the webhook
//!   cursor and records, in one transaction with the cursor's move, one
//!   message per event (with the entity as it stands, in the unified
//!   format) and a delivery per subscribed endpoint. The journal is
//!   written with every change, so no change can miss its webhook, and a
//!   crash before the commit only means the events are read again.
//! - [`delivery::WebhookDelivery`] claims due deliveries under a lease and
//!   POSTs each, signed per Standard Webhooks, through a client that
//!   checks every address it connects to, as soon as it is claimed and
//!   without waiting for the rest of the backlog. The attempt, its outcome
//!   and the next attempt on the retry schedule are recorded together; a
//!   process that dies mid-request leaves the lease to expire and the same
//!   message (same `webhook-id`) is sent again.

pub mod delivery;
pub mod dispatch;
pub mod sign;

use serde_json::Value;
use switchyard_domain::ids::{AccountId, OrderId};
use switchyard_storage::{Storage, StorageError};

use crate::Clock;
use crate::context::Context;

/// The most of an answer's body kept in the delivery log.
const RESPONSE_EXCERPT: usize = 4096;

/// An order as webhooks and plugins send it: the order in the unified
/// format with its fulfilments.
pub(crate) async fn order_json(
    s: &dyn Storage,
    acc: &AccountId,
    id: &OrderId,
) -> Result<Value, StorageError> {
    let mut v = to_json(s.get_order(acc, id).await?);
    v["fulfilments"] = to_json(s.list_fulfilments(acc, id).await?);
    Ok(v)
}

/// POST `body` to `url` signed per Standard Webhooks with `secrets`
/// under message id `id`: the status and the start of the answer, or
/// why there was no answer.
pub(crate) async fn post_signed(
    ctx: &Context,
    client: &reqwest::Client,
    url: &str,
    secrets: &[String],
    id: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let url = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    switchyard_connectors::outbound::check_url(&url, &ctx.config.outbound)?;
    // Signed with real time: receivers compare it with their clocks.
    let timestamp = Clock::wall().timestamp();
    let signature =
        sign::signature_header(secrets, id, timestamp, body).map_err(|e| e.to_string())?;
    let mut resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let status = resp.status().as_u16();
    let mut excerpt = Vec::new();
    while excerpt.len() < RESPONSE_EXCERPT {
        match resp.chunk().await {
            Ok(Some(c)) => excerpt.extend_from_slice(&c),
            Ok(None) | Err(_) => break,
        }
    }
    excerpt.truncate(RESPONSE_EXCERPT);
    Ok((status, String::from_utf8_lossy(&excerpt).into_owned()))
}

pub(crate) fn to_json<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// An error with its causes, e.g. `error sending request: ... : 127.0.0.1 is a loopback address`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}
