//! Outgoing webhooks. Two steps, each a bounded round:
//!
//! - [`Engine::dispatch_webhooks`] reads the journal after the webhook
//!   cursor and records, in one transaction with the cursor's move, one
//!   message per event (with the entity as it stands, in the unified
//!   format) and a delivery per subscribed endpoint. The journal is
//!   written with every change, so no change can miss its webhook, and a
//!   crash before the commit only means the events are read again.
//! - [`Engine::deliver_webhooks`] claims due deliveries under a lease and
//!   POSTs them, signed per Standard Webhooks, through a client that
//!   checks every address it connects to. The attempt, its outcome and the
//!   next attempt on the retry schedule are recorded together; a process
//!   that dies mid-request leaves the lease to expire and the same message
//!   (same `webhook-id`) is sent again.

pub mod sign;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use futures::StreamExt;
use serde_json::{Value, json};
use switchyard_domain::ids::{ChannelId, FulfilmentId, MessageId, OrderId, StoreId, WebhookId};
use switchyard_domain::stock::kit_availability;
use switchyard_domain::values::Sku;
use switchyard_domain::webhook::{
    DISABLE_AFTER_FAILING_SECS, EventType, jittered, next_retry_secs,
};
use switchyard_storage::{
    AttemptResult, DeliveryOutcome, DueDelivery, NewWebhookMessage, OwnedEvent, SnapshotEntry,
    StorageError, WebhookEndpoint,
};

use crate::{Engine, EngineError};

/// Journal events read per dispatch round.
const DISPATCH_BATCH: u32 = 500;
/// Deliveries claimed per round.
const DELIVERY_BATCH: u32 = 64;
/// Deliveries sent at once by one worker.
const DELIVERY_PARALLELISM: usize = 16;
/// The most of an answer's body kept in the delivery log.
const RESPONSE_EXCERPT: usize = 4096;

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliverySummary {
    /// Deliveries attempted.
    pub attempted: usize,
    /// Of which answered 2xx.
    pub succeeded: usize,
}

impl Engine {
    /// Turn undispatched journal events into messages for the endpoints
    /// that want them. Returns how many messages were recorded.
    pub async fn dispatch_webhooks(&self) -> Result<usize, EngineError> {
        let storage = &self.inner.storage;
        let (cursor, events) = storage.undispatched_events(DISPATCH_BATCH).await?;
        let Some(to) = events.last().map(|e| e.seq) else {
            return Ok(0);
        };
        let stores: BTreeSet<StoreId> = events
            .iter()
            .filter(|e| !kinds(e).is_empty())
            .map(|e| e.store_id.clone())
            .collect();
        let stores: Vec<StoreId> = stores.into_iter().collect();
        let mut by_store: BTreeMap<StoreId, Vec<WebhookEndpoint>> = BTreeMap::new();
        for e in storage.webhooks_of_stores(&stores).await? {
            by_store.entry(e.store_id.clone()).or_default().push(e);
        }
        let mut messages = Vec::new();
        for ev in &events {
            let mut rendered: Option<Vec<(String, Value)>> = None;
            for kind in kinds(ev) {
                let wanting: Vec<&WebhookEndpoint> = by_store
                    .get(&ev.store_id)
                    .into_iter()
                    .flatten()
                    .filter(|e| e.wants(kind))
                    .collect();
                if wanting.is_empty() {
                    continue;
                }
                // Kept for disabled endpoints too (a replay sends it), sent
                // to enabled ones.
                let endpoints: Vec<WebhookId> = wanting
                    .iter()
                    .filter(|e| e.enabled)
                    .map(|e| e.id.clone())
                    .collect();
                if rendered.is_none() {
                    rendered = Some(self.render(ev).await?);
                }
                for (entity_key, data) in rendered.iter().flatten() {
                    let body = json!({ "type": kind, "timestamp": ev.created_at, "data": data });
                    messages.push(NewWebhookMessage {
                        id: MessageId::generate(),
                        account_id: ev.account_id.clone(),
                        store_id: ev.store_id.clone(),
                        event_type: kind.to_string(),
                        journal_seq: Some(ev.seq),
                        entity_key: Some(format!("{kind}/{entity_key}")),
                        body: body.to_string(),
                        created_at: ev.created_at,
                        endpoints: endpoints.clone(),
                    });
                }
            }
        }
        let n = messages.len();
        if !storage.dispatch_messages(cursor, to, messages).await? {
            // Another worker dispatched these events first.
            return Ok(0);
        }
        if n > 0 {
            tracing::debug!(messages = n, through = to, "webhook messages dispatched");
        }
        Ok(n)
    }

    /// The entities an event is about, each with its key and its current
    /// form in the unified format. An entity that no longer exists is
    /// sent as the event recorded it.
    async fn render(&self, ev: &OwnedEvent) -> Result<Vec<(String, Value)>, EngineError> {
        let s = &self.inner.storage;
        let (acc, store) = (&ev.account_id, &ev.store_id);
        let found = |r: Result<Value, StorageError>| match r {
            Ok(v) => Ok(v),
            Err(StorageError::NotFound { .. }) => Ok(ev.payload.clone()),
            Err(e) => Err(e),
        };
        let one = |v: Value| vec![(ev.entity_id.clone(), v)];
        Ok(match ev.entity_type.as_str() {
            "order" => match OrderId::parse(&ev.entity_id) {
                Ok(id) => one(found(self.order_json(acc, &id).await)?),
                Err(_) => one(ev.payload.clone()),
            },
            "fulfilment" => match FulfilmentId::parse(&ev.entity_id) {
                Ok(id) => one(found(s.get_fulfilment(acc, &id).await.map(to_json))?),
                Err(_) => one(ev.payload.clone()),
            },
            "product" | "stock" => match Sku::parse(&ev.entity_id) {
                Ok(sku) => one(found(self.product_json(acc, store, &sku).await)?),
                Err(_) => one(ev.payload.clone()),
            },
            "listing" => {
                // A stock confirmation names many listings of one channel.
                let keys: Vec<(String, String)> = match ev.entity_id.split_once(':') {
                    Some((ch, l)) => vec![(ch.to_owned(), l.to_owned())],
                    None => ev.payload["quantities"]
                        .as_object()
                        .map(|q| {
                            q.keys()
                                .map(|l| (ev.entity_id.clone(), l.clone()))
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                let mut out = Vec::with_capacity(keys.len());
                for (ch, listing) in keys {
                    let data = match ChannelId::parse(&ch) {
                        Ok(c) => found(s.get_listing(acc, store, &c, &listing).await.map(to_json))?,
                        Err(_) => ev.payload.clone(),
                    };
                    out.push((format!("{ch}:{listing}"), data));
                }
                out
            }
            _ => Vec::new(),
        })
    }

    pub(crate) async fn order_json(
        &self,
        acc: &switchyard_domain::ids::AccountId,
        id: &OrderId,
    ) -> Result<Value, StorageError> {
        let s = &self.inner.storage;
        let mut v = to_json(s.get_order(acc, id).await?);
        v["fulfilments"] = to_json(s.list_fulfilments(acc, id).await?);
        Ok(v)
    }

    async fn product_json(
        &self,
        acc: &switchyard_domain::ids::AccountId,
        store: &StoreId,
        sku: &Sku,
    ) -> Result<Value, StorageError> {
        let s = &self.inner.storage;
        let product = s.get_product(acc, store, sku).await?;
        let kit = product.is_kit();
        let mut v = to_json(product);
        v["kit"] = json!(kit);
        let snap = s
            .stock_snapshot(acc, store, std::slice::from_ref(sku))
            .await?;
        v["stock"] = match snap.entries.get(sku) {
            Some(SnapshotEntry::Plain(l)) => json!({
                "on_hand": l.on_hand(), "committed": l.committed(), "available": l.available(),
            }),
            Some(SnapshotEntry::Kit(parts)) => {
                let parts: Vec<(Sku, i64, i64)> = parts
                    .iter()
                    .map(|(c, l)| (c.sku.clone(), c.quantity, l.available()))
                    .collect();
                json!({ "available": kit_availability(&parts).available })
            }
            None => Value::Null,
        };
        Ok(v)
    }

    /// Send due deliveries, at most the per-endpoint cap in flight.
    pub async fn deliver_webhooks(&self) -> Result<DeliverySummary, EngineError> {
        let cfg = &self.inner.config;
        let due = self
            .inner
            .storage
            .claim_deliveries(
                &self.lease(self.now()),
                cfg.webhook_concurrency,
                DELIVERY_BATCH,
            )
            .await?;
        if due.is_empty() {
            return Ok(DeliverySummary::default());
        }
        let client = self.outbound_client().await?;
        let results: Vec<Result<bool, EngineError>> = futures::stream::iter(due)
            .map(|d| {
                let client = client.clone();
                async move { self.deliver_one(&client, d).await }
            })
            .buffer_unordered(DELIVERY_PARALLELISM)
            .collect()
            .await;
        let mut out = DeliverySummary::default();
        for r in results {
            out.attempted += 1;
            out.succeeded += usize::from(r?);
        }
        Ok(out)
    }

    /// One attempt of one delivery; `true` when it succeeded.
    async fn deliver_one(
        &self,
        client: &reqwest::Client,
        d: DueDelivery,
    ) -> Result<bool, EngineError> {
        let started_at = self.now();
        let clock = Instant::now();
        let (status, response, error) = match self.post_message(client, &d).await {
            Ok((status, excerpt)) => (Some(status), Some(excerpt), None),
            Err(e) => (None, None, Some(e)),
        };
        let latency_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
        let outcome = match status {
            Some(s) if (200..300).contains(&s) => DeliveryOutcome::Succeeded,
            Some(410) => DeliveryOutcome::Disable {
                reason: "the endpoint answered 410 Gone".to_owned(),
            },
            _ => {
                let since = d.failing_since.unwrap_or(started_at);
                if (started_at - since).num_seconds() >= DISABLE_AFTER_FAILING_SECS {
                    DeliveryOutcome::Disable {
                        reason: format!("every attempt failed since {}", since.to_rfc3339()),
                    }
                } else {
                    DeliveryOutcome::Failed {
                        retry_at: next_retry_secs(d.schedule_step + 1).map(|secs| {
                            started_at + chrono::Duration::seconds(jittered(secs, fastrand::f64()))
                        }),
                    }
                }
            }
        };
        let ok = outcome == DeliveryOutcome::Succeeded;
        tracing::info!(message = %d.message_id, webhook = %d.endpoint_id, status, latency_ms, error = error.as_deref(), ok, "webhook attempt");
        let attempt = AttemptResult {
            started_at,
            status,
            latency_ms,
            response,
            error,
        };
        self.inner
            .storage
            .record_delivery(&d, attempt, outcome)
            .await?;
        Ok(ok)
    }

    /// POST one message: the status and the start of the answer, or why
    /// there was no answer.
    async fn post_message(
        &self,
        client: &reqwest::Client,
        d: &DueDelivery,
    ) -> Result<(u16, String), String> {
        let cipher = &self.inner.cipher;
        let open = |sealed: &[u8]| {
            cipher
                .open_text_for(&d.account_id, d.endpoint_id.as_str(), sealed)
                .map_err(|_| "the webhook secret cannot be unsealed (was the key file replaced?)")
        };
        let mut secrets = vec![open(&d.secrets.current)?];
        if let Some(p) = &d.secrets.previous {
            secrets.push(open(p)?);
        }
        self.post_signed(client, &d.url, &secrets, d.message_id.as_str(), &d.body)
            .await
    }

    /// The outbound client of webhooks and plugins, built on first use.
    pub(crate) async fn outbound_client(&self) -> Result<reqwest::Client, EngineError> {
        let cfg = &self.inner.config;
        self.inner
            .webhook_client
            .get_or_try_init(|| async {
                switchyard_connectors::outbound::client(&cfg.outbound, cfg.webhook_timeout)
            })
            .await
            .map_err(|e| EngineError::Setup(format!("cannot build the outbound HTTP client: {e}")))
            .cloned()
    }

    /// POST `body` to `url` signed per Standard Webhooks with `secrets`
    /// under message id `id`: the status and the start of the answer, or
    /// why there was no answer.
    pub(crate) async fn post_signed(
        &self,
        client: &reqwest::Client,
        url: &str,
        secrets: &[String],
        id: &str,
        body: &str,
    ) -> Result<(u16, String), String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
        switchyard_connectors::outbound::check_url(&url, &self.inner.config.outbound)?;
        // Signed with real time: receivers compare it with their clocks.
        let timestamp = chrono::Utc::now().timestamp();
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
}

/// The webhook event types of a journal event.
fn kinds(ev: &OwnedEvent) -> Vec<EventType> {
    EventType::for_journal(
        &ev.entity_type,
        &ev.event_type,
        ev.payload["state"].as_str(),
    )
}

fn to_json<T: serde::Serialize>(v: T) -> Value {
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
