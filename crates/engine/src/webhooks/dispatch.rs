//! Webhook dispatch: journal events into messages, one round after another
//! while events wait (see the module docs of `webhooks`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use switchyard_domain::ids::{ChannelId, FulfilmentId, MessageId, OrderId, StoreId, WebhookId};
use switchyard_domain::stock::kit_availability;
use switchyard_domain::values::Sku;
use switchyard_domain::webhook::EventType;
use switchyard_storage::{
    NewWebhookMessage, OwnedEvent, SnapshotEntry, StorageError, WebhookEndpoint,
};

use super::{order_json, to_json};
use crate::EngineError;
use crate::context::{Context, Topic};
use crate::driver::Worker;

/// Entities read at once while rendering a round's events.
const RENDER_PARALLELISM: usize = 8;

/// The webhook dispatch worker.
#[derive(Debug)]
pub struct WebhookDispatch {
    ctx: Arc<Context>,
}

impl Worker for WebhookDispatch {
    type Unit = ();
    /// Messages recorded.
    type Report = usize;
    const NAME: &'static str = "webhook_dispatch";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key((): &()) -> String {
        String::new()
    }

    async fn due(&self, _now: DateTime<Utc>, _room: usize) -> Result<Vec<()>, EngineError> {
        Ok(vec![()])
    }

    async fn run(&self, (): (), _now: DateTime<Utc>) -> Result<usize, EngineError> {
        self.dispatch().await
    }

    fn concurrency(&self) -> usize {
        1
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::Dispatch)
    }

    fn after(&self, messages: &usize) {
        if *messages > 0 {
            self.ctx.signals.wake(Topic::Delivery);
        }
    }
}

impl WebhookDispatch {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Dispatch one batch of journal events; how many messages it recorded.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<usize, EngineError> {
        crate::driver::step(self, now).await
    }

    /// Turn undispatched journal events into messages for the endpoints
    /// that want them. Returns how many messages were recorded.
    async fn dispatch(&self) -> Result<usize, EngineError> {
        let storage = &self.ctx.storage;
        let batch = self.ctx.config.dispatch_batch;
        let (cursor, events) = storage.undispatched_events(batch).await?;
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
        let wanted = |ev: &OwnedEvent, kind: EventType| {
            by_store
                .get(&ev.store_id)
                .into_iter()
                .flatten()
                .filter(move |e| e.wants(kind))
        };
        // The entities of the events someone wants, read side by side (the
        // order of the events is kept).
        let events_ref = &events;
        let wanted_ref = &wanted;
        let rendered: Vec<Option<Vec<(String, Value)>>> = futures::stream::iter(0..events.len())
            .map(|i| async move {
                let (ev, wanted) = (&events_ref[i], wanted_ref);
                if kinds(ev)
                    .into_iter()
                    .any(|k| wanted(ev, k).next().is_some())
                {
                    self.render(ev).await.map(Some)
                } else {
                    Ok(None)
                }
            })
            .buffered(RENDER_PARALLELISM)
            .collect::<Vec<Result<_, EngineError>>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let mut messages = Vec::new();
        for (ev, rendered) in events.iter().zip(rendered) {
            let Some(rendered) = rendered else {
                continue;
            };
            for kind in kinds(ev) {
                let wanting: Vec<&WebhookEndpoint> = wanted(ev, kind).collect();
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
                for (entity_key, data) in &rendered {
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

    /// The entities an event is about, each with its key and its form in
    /// the unified format: as the event recorded it where the journal keeps
    /// the entity (orders, fulfilments, products, listings), else as it is
    /// now. An entity that no longer exists is sent as the event recorded
    /// it.
    async fn render(&self, ev: &OwnedEvent) -> Result<Vec<(String, Value)>, EngineError> {
        let s = &self.ctx.storage;
        let (acc, store) = (&ev.account_id, &ev.store_id);
        let found = |r: Result<Value, StorageError>| match r {
            Ok(v) => Ok(v),
            Err(StorageError::NotFound { .. }) => Ok(ev.payload.clone()),
            Err(e) => Err(e),
        };
        let one = |v: Value| vec![(ev.entity_id.clone(), v)];
        Ok(match ev.entity_type.as_str() {
            // The order or fulfilment as the event's transaction left it
            // (events from before the journal kept `entity` are sent as the
            // entity is now).
            "order" | "fulfilment" if ev.payload.get("entity").is_some() => {
                one(ev.payload["entity"].clone())
            }
            "order" => match OrderId::parse(&ev.entity_id) {
                Ok(id) => one(found(order_json(s.as_ref(), acc, &id).await)?),
                Err(_) => one(ev.payload.clone()),
            },
            "fulfilment" => match FulfilmentId::parse(&ev.entity_id) {
                Ok(id) => one(found(s.get_fulfilment(acc, &id).await.map(to_json))?),
                Err(_) => one(ev.payload.clone()),
            },
            // The product as the event recorded it, with the stock of that
            // moment (events from before payloads kept `ledger` are sent
            // as the product is now).
            "product" if ev.payload.get("ledger").is_some() => one(as_recorded(&ev.payload)),
            "product" | "stock" => match Sku::parse(&ev.entity_id) {
                Ok(sku) => {
                    let mut v = found(self.product_json(acc, store, &sku).await)?;
                    // A stock change: the product's stock just after it.
                    if let Some(stock) = ev.payload.get("ledger").map(stock_of)
                        && v.is_object()
                    {
                        v["stock"] = stock;
                    }
                    one(v)
                }
                Err(_) => one(ev.payload.clone()),
            },
            // The listings as the event's transaction left them (events
            // from before the journal kept `listings` are sent as the
            // listings are now).
            "listing" if ev.payload.get("listings").is_some() => ev.payload["listings"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .map(|l| {
                            let key = format!(
                                "{}:{}",
                                l["channel_id"].as_str().unwrap_or_default(),
                                l["listing_id"].as_str().unwrap_or_default()
                            );
                            (key, l.clone())
                        })
                        .collect()
                })
                .unwrap_or_default(),
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
            // The channel as the journal recorded it (never its credentials).
            "channel" => one(ev.payload.clone()),
            // Documents never change once issued: as the journal recorded them.
            "invoice" | "credit_note" => one(ev.payload.clone()),
            _ => Vec::new(),
        })
    }

    async fn product_json(
        &self,
        acc: &switchyard_domain::ids::AccountId,
        store: &StoreId,
        sku: &Sku,
    ) -> Result<Value, StorageError> {
        let s = &self.ctx.storage;
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
}

/// A product event's payload as delivered: the product, and `stock` made
/// from the facts it recorded (`ledger`).
fn as_recorded(payload: &Value) -> Value {
    let mut v = payload.clone();
    if let Some(o) = v.as_object_mut()
        && let Some(ledger) = o.remove("ledger")
    {
        o.insert("stock".to_owned(), stock_of(&ledger));
    }
    v
}

/// The `stock` of a delivered product from recorded facts: on hand,
/// committed and available for a plain product; a kit's availability from
/// its components'.
fn stock_of(ledger: &Value) -> Value {
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap_or(0);
    match ledger["components"].as_array() {
        Some(parts) => {
            let parts: Vec<(Sku, i64, i64)> = parts
                .iter()
                .filter_map(|c| {
                    let sku = Sku::parse(c["sku"].as_str()?).ok()?;
                    Some((sku, n(c, "per_kit"), n(c, "on_hand") - n(c, "committed")))
                })
                .collect();
            json!({ "available": kit_availability(&parts).available })
        }
        None => {
            let (on_hand, committed) = (n(ledger, "on_hand"), n(ledger, "committed"));
            json!({ "on_hand": on_hand, "committed": committed, "available": on_hand - committed })
        }
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
