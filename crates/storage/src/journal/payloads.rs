//! What a journal event says: one payload type per kind of entity, built
//! by the backends in the transaction that makes the change and stored as
//! JSON. The API documents the journal with these same types, so what the
//! document promises is what the backends write.
//!
//! Events about one kind of entity share one payload type; the fields an
//! event type does not carry are left out (never `null`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::back_office::BackOfficeSettings;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::event::EntityType;
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::fulfilment::CarrierSettings;
use switchyard_domain::ids::{
    ChannelId, FulfilmentId, MessageId, OrderId, PluginId, StoreId, WebhookId,
};
use switchyard_domain::order::OrderState;
use switchyard_domain::plugin_rules::{PluginRules, RuleOutcome};
use switchyard_domain::stock::{Shortfall, StockRules};
use switchyard_domain::values::Sku;
use switchyard_domain::webhook::EventType;
use utoipa::ToSchema;

use crate::{
    AccountingConnection, BackOfficeOrder, FulfilmentRecord, Invoice, InvoiceConfig, ListingRecord,
    OrderRecord, Product,
};

/// Every event type the journal records. Its prefix is the kind of entity
/// the event is about (`order.cancelled` is an order's).
pub const EVENT_TYPES: &[&str] = &[
    "store.created",
    "store.updated",
    "store.deleted",
    "store.back_office_updated",
    "store.invoice_settings_changed",
    "store.plugin_rules_updated",
    "store.carriers_updated",
    "channel.created",
    "channel.connected",
    "channel.updated",
    "channel.deleted",
    "channel.sku_mapped",
    "channel.sku_unmapped",
    "channel.import_error",
    "channel.import_error_handled",
    "product.created",
    "product.updated",
    "product.deleted",
    "stock.changed",
    "order.created",
    "order.updated",
    "order.on_hold",
    "order.released",
    "order.excluded",
    "order.cancelled",
    "order.oversold",
    "order.fulfilled",
    "order.back_office_sent",
    "order.back_office_waiting",
    "order.back_office_shipped",
    "order.back_office_cancelled",
    "order.back_office_failed",
    "listing.created",
    "listing.updated",
    "listing.stock_confirmed",
    "fulfilment.created",
    "fulfilment.updated",
    "fulfilment.cancelled",
    "fulfilment.synced",
    "fulfilment.sync_failed",
    "webhook.created",
    "webhook.updated",
    "webhook.deleted",
    "webhook.secret_rotated",
    "webhook.disabled",
    "plugin.created",
    "plugin.updated",
    "plugin.deleted",
    "invoice.created",
    "credit_note.created",
    "accounting.connected",
    "accounting.updated",
    "accounting.deleted",
];

/// A journal event's payload, by the kind of entity it is about
/// (`entity_type` and `payload` on the wire).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "entity_type", content = "payload", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per event and serialized at once, never kept in bulk"
)]
pub enum EventPayload {
    /// `store.*`.
    Store(StoreEvent),
    /// `channel.*`.
    Channel(ChannelEvent),
    /// `product.*`.
    Product(ProductEvent),
    /// `stock.changed`.
    Stock(StockEvent),
    /// `order.*`.
    Order(OrderEvent),
    /// `listing.*`.
    Listing(ListingEvent),
    /// `fulfilment.*`.
    Fulfilment(FulfilmentEvent),
    /// `webhook.*`.
    Webhook(WebhookEvent),
    /// `plugin.*`.
    Plugin(PluginEvent),
    /// `invoice.created`: the invoice as issued.
    Invoice(Invoice),
    /// `credit_note.created`: the credit note as issued.
    CreditNote(Invoice),
    /// `accounting.*`: the connection (never its credentials).
    Accounting(AccountingConnection),
}

impl EventPayload {
    /// The kind of entity the event is about.
    #[must_use]
    pub fn entity_type(&self) -> EntityType {
        match self {
            Self::Store(_) => EntityType::Store,
            Self::Channel(_) => EntityType::Channel,
            Self::Product(_) => EntityType::Product,
            Self::Stock(_) => EntityType::Stock,
            Self::Order(_) => EntityType::Order,
            Self::Listing(_) => EntityType::Listing,
            Self::Fulfilment(_) => EntityType::Fulfilment,
            Self::Webhook(_) => EntityType::Webhook,
            Self::Plugin(_) => EntityType::Plugin,
            Self::Invoice(_) => EntityType::Invoice,
            Self::CreditNote(_) => EntityType::CreditNote,
            Self::Accounting(_) => EntityType::Accounting,
        }
    }

    /// The payload as the journal stores it (without the tag), to
    /// serialize straight into the journal's column.
    #[must_use]
    pub fn stored(&self) -> StoredPayload<'_> {
        StoredPayload(self)
    }
}

/// An [`EventPayload`] as the journal's `payload` column holds it: the
/// variant's own fields, without `entity_type`.
#[derive(Debug, Clone, Copy)]
pub struct StoredPayload<'a>(&'a EventPayload);

impl Serialize for StoredPayload<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            EventPayload::Store(p) => p.serialize(s),
            EventPayload::Channel(p) => p.serialize(s),
            EventPayload::Product(p) => p.serialize(s),
            EventPayload::Stock(p) => p.serialize(s),
            EventPayload::Order(p) => p.serialize(s),
            EventPayload::Listing(p) => p.serialize(s),
            EventPayload::Fulfilment(p) => p.serialize(s),
            EventPayload::Webhook(p) => p.serialize(s),
            EventPayload::Plugin(p) => p.serialize(s),
            EventPayload::Invoice(p) | EventPayload::CreditNote(p) => p.serialize(s),
            EventPayload::Accounting(p) => p.serialize(s),
        }
    }
}

/// A store's event: its name when made or renamed, what a deletion took
/// with it, or the setting that changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreEvent {
    /// The store.
    pub id: StoreId,
    /// `store.created`, `store.updated`: its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `store.deleted`: how many orders went with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_deleted: Option<i64>,
    /// `store.back_office_updated`: the new settings (`null` when the back
    /// office was turned off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_office: Option<Option<BackOfficeSettings>>,
    /// `store.invoice_settings_changed`: the new settings and counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_settings: Option<InvoiceConfig>,
    /// `store.plugin_rules_updated`: the new rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_rules: Option<PluginRules>,
    /// `store.carriers_updated`: the new carrier settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier_settings: Option<CarrierSettings>,
}

impl StoreEvent {
    /// An event about `id` that says nothing else yet.
    #[must_use]
    pub fn of(id: &StoreId) -> Self {
        Self {
            id: id.clone(),
            name: None,
            orders_deleted: None,
            back_office: None,
            invoice_settings: None,
            plugin_rules: None,
            carrier_settings: None,
        }
    }
}

/// A channel's event: the connection as it now is (made, connected through
/// a hosted page, updated), a SKU mapping, or an order the import could
/// not take.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelEvent {
    /// The channel.
    pub id: ChannelId,
    /// `channel.created`, `.connected`, `.updated`: its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The kind of channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ChannelKind>,
    /// Its API's address, when not the usual one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Whether credentials are stored (never the credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_credentials: Option<bool>,
    /// Its stock rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_rules: Option<StockRules>,
    /// Its settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<ChannelSettings>,
    /// `channel.connected`: the hosted page it came through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_page_id: Option<String>,
    /// `channel.updated`: whether the credentials were replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_changed: Option<bool>,
    /// `channel.updated`: the stock rules before, when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_stock_rules: Option<StockRules>,
    /// `channel.updated`: the settings before, when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_settings: Option<ChannelSettings>,
    /// `channel.sku_mapped`, `.sku_unmapped`: the channel's SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_sku: Option<String>,
    /// `channel.sku_mapped`: the store's SKU it now stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// `channel.import_error`, `.import_error_handled`: the channel's order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_order_id: Option<String>,
    /// `channel.import_error`: what was wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `channel.import_error`: in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `channel.import_error_handled`: the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<i64>,
    /// `channel.import_error_handled`: who handled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl ChannelEvent {
    /// An event about `id` that says nothing else yet.
    #[must_use]
    pub fn of(id: &ChannelId) -> Self {
        Self {
            id: id.clone(),
            name: None,
            kind: None,
            base_url: None,
            has_credentials: None,
            stock_rules: None,
            settings: None,
            hosted_page_id: None,
            credentials_changed: None,
            previous_stock_rules: None,
            previous_settings: None,
            channel_sku: None,
            sku: None,
            channel_order_id: None,
            code: None,
            message: None,
            error_id: None,
            by: None,
        }
    }

    /// The channel as it now is (never its credentials).
    #[must_use]
    pub fn snapshot(c: &crate::Channel) -> Self {
        Self {
            name: Some(c.name.clone()),
            kind: Some(c.kind),
            base_url: c.base_url.clone(),
            has_credentials: Some(c.has_credentials),
            stock_rules: Some(c.stock_rules),
            settings: Some(c.settings.clone()),
            ..Self::of(&c.id)
        }
    }
}

/// A product's event.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per event and serialized at once, never kept in bulk"
)]
pub enum ProductEvent {
    /// `product.created`, `product.updated`: the product as of the event.
    Product(ProductState),
    /// `product.deleted`.
    Deleted(DeletedProduct),
}

/// A product as of its event: as the API shows it, whether it is a kit,
/// and its stock facts at that moment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductState {
    /// The product.
    #[serde(flatten)]
    pub product: Product,
    /// Whether it is a kit.
    pub kit: bool,
    /// Its stock facts as of the event; absent for a product made from a
    /// channel's listing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerFacts>,
    /// The channel whose listing it was made from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_channel: Option<ChannelId>,
}

/// A deleted product.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletedProduct {
    /// Its SKU.
    pub sku: Sku,
}

/// A SKU's stock facts as of an event: on hand and committed for a plain
/// product, each component's for a kit. Webhook deliveries derive
/// availability from them, so they say what the stock was when the event
/// happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LedgerFacts {
    /// A plain product's.
    Plain(StockFacts),
    /// A kit's, by component.
    Kit {
        /// One per component.
        components: Vec<ComponentFacts>,
    },
}

/// Units on hand and committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockFacts {
    /// On hand over every source.
    pub on_hand: i64,
    /// Committed to open orders.
    pub committed: i64,
}

/// A kit component's stock facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentFacts {
    /// The component.
    pub sku: Sku,
    /// Units per kit.
    pub per_kit: i64,
    /// On hand.
    pub on_hand: i64,
    /// Committed.
    pub committed: i64,
}

/// `stock.changed`: one level at one source and location.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockEvent {
    /// The SKU.
    pub sku: String,
    /// The source (`api`, or a channel or plugin id).
    pub source: String,
    /// Location at the source; empty for none.
    pub location: String,
    /// Units before.
    pub before: i64,
    /// Units after.
    pub after: i64,
    /// Why, as the caller said.
    pub reason: Option<String>,
    /// The SKU's totals after the change.
    pub ledger: StockFacts,
}

/// Units an order's line commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommittedUnits {
    /// The plain SKU.
    pub sku: String,
    /// Units.
    pub quantity: i64,
    /// The kit the line was for, when it was.
    pub via_kit: Option<String>,
}

/// An order's event: what changed, and the order as the event's
/// transaction left it (`entity`, what its webhooks deliver).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderEvent {
    /// The order.
    pub id: OrderId,
    /// Imported: its channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<ChannelId>,
    /// Imported: the channel's id for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_order_id: Option<String>,
    /// Imported: its number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Imported or shipped: its state after the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<OrderState>,
    /// Its state before the event (absent for a new order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<OrderState>,
    /// `order.excluded`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded_reason: Option<String>,
    /// Imported: the units it commits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commitments: Option<Vec<CommittedUnits>>,
    /// Imported: when the channel last changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_updated_at: Option<DateTime<Utc>>,
    /// Imported: what the store's plugin rules decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_rules: Option<RuleOutcome>,
    /// `order.on_hold`, `order.cancelled`: the reason given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `order.cancelled`: who cancelled it (`api`, `back_office`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// `order.updated`: whether it is now handled by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manual: Option<bool>,
    /// `order.back_office_*`: its copy in the back office.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_office: Option<BackOfficeOrder>,
    /// Shipped: the fulfilment that did it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fulfilment_id: Option<FulfilmentId>,
    /// `order.oversold`: the SKUs stock does not cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short: Option<Vec<Shortfall>>,
    /// The order as of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<OrderEntity>,
}

impl OrderEvent {
    /// An event about `id` that says nothing else yet.
    #[must_use]
    pub fn of(id: &OrderId) -> Self {
        Self {
            id: id.clone(),
            channel_id: None,
            channel_order_id: None,
            number: None,
            state: None,
            previous_state: None,
            excluded_reason: None,
            commitments: None,
            channel_updated_at: None,
            plugin_rules: None,
            reason: None,
            by: None,
            manual: None,
            back_office: None,
            fulfilment_id: None,
            short: None,
            entity: None,
        }
    }
}

/// An order as its webhooks deliver it: the order (as `GET
/// /v1/orders/{order_id}` has it, without the channel's raw payload) and
/// its fulfilments.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderEntity {
    /// The order.
    #[serde(flatten)]
    pub order: OrderRecord,
    /// Its fulfilments.
    pub fulfilments: Vec<FulfilmentRecord>,
}

/// A listing's event.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingEvent {
    /// The channel.
    pub channel_id: ChannelId,
    /// `listing.created`, `.updated`: the channel's id for the listing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing_id: Option<String>,
    /// The store's SKU it stands for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// The channel's SKU, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_sku: Option<String>,
    /// `listing.stock_confirmed`: the quantities the channel now shows, by
    /// listing id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantities: Option<BTreeMap<String, i64>>,
    /// The listings the event is about, as its transaction left them (what
    /// its webhooks deliver).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listings: Option<Vec<ListingRecord>>,
}

impl ListingEvent {
    /// The listing ids the event is about.
    #[must_use]
    pub fn listing_ids(&self) -> Vec<String> {
        match (&self.listing_id, &self.quantities) {
            (Some(id), _) => vec![id.clone()],
            (None, Some(q)) => q.keys().cloned().collect(),
            (None, None) => Vec::new(),
        }
    }
}

/// A fulfilment's event: the fulfilment as of the event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FulfilmentEvent {
    /// The fulfilment.
    #[serde(flatten)]
    pub fulfilment: FulfilmentRecord,
    /// The same, as the event's transaction left it (what its webhooks
    /// deliver).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<FulfilmentRecord>,
}

/// A webhook subscription's event.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEvent {
    /// The subscription.
    pub id: WebhookId,
    /// Where it posts.
    pub url: String,
    /// The event types it wants; empty for all.
    pub events: Vec<EventType>,
    /// Whether it is sent to.
    pub enabled: bool,
    /// `webhook.secret_rotated`, `webhook.disabled`: what happened.
    pub detail: Option<WebhookDetail>,
}

/// What happened to a webhook subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookDetail {
    /// `webhook.secret_rotated`: until when the previous secret still signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_valid_until: Option<DateTime<Utc>>,
    /// `webhook.disabled`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `webhook.disabled`: the message whose delivery disabled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
}

impl WebhookDetail {
    /// `webhook.secret_rotated`: the previous secret signs until `until`.
    #[must_use]
    pub fn rotated(until: DateTime<Utc>) -> Self {
        Self {
            previous_valid_until: Some(until),
            reason: None,
            message_id: None,
        }
    }

    /// `webhook.disabled`: why, and the delivery that did it.
    #[must_use]
    pub fn disabled(reason: &str, message: &MessageId) -> Self {
        Self {
            previous_valid_until: None,
            reason: Some(reason.to_owned()),
            message_id: Some(message.clone()),
        }
    }
}

/// A plugin's event.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginEvent {
    /// The plugin.
    pub id: PluginId,
    /// Its name.
    pub name: String,
    /// Where its messages go.
    pub url: String,
    /// Whether orders are routed to it.
    pub enabled: bool,
}

/// A journal event to append, in the transaction that made the change.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    /// The entity's id (a prefixed id, or a SKU for products and stock).
    pub(crate) entity_id: String,
    /// One of [`EVENT_TYPES`].
    pub(crate) event_type: &'static str,
    /// What it says.
    pub(crate) payload: EventPayload,
}

impl NewEvent {
    /// An event of `event_type` about `entity_id`.
    pub(crate) fn new(
        entity_id: impl ToString,
        event_type: &'static str,
        payload: EventPayload,
    ) -> Self {
        debug_assert!(
            EVENT_TYPES.contains(&event_type)
                && event_type
                    .strip_prefix(payload.entity_type().as_str())
                    .is_some_and(|rest| rest.starts_with('.')),
            "{event_type} is not a journal event of a {}",
            payload.entity_type().as_str()
        );
        Self {
            entity_id: entity_id.to_string(),
            event_type,
            payload,
        }
    }

    /// The kind of entity it is about.
    pub(crate) fn entity_type(&self) -> EntityType {
        self.payload.entity_type()
    }
}

/// `store.created` or `store.updated`: the store's name.
pub(crate) fn store_event(event_type: &'static str, store: &crate::Store) -> NewEvent {
    NewEvent::new(
        &store.id,
        event_type,
        EventPayload::Store(StoreEvent {
            name: Some(store.name.clone()),
            ..StoreEvent::of(&store.id)
        }),
    )
}

/// `stock.changed`.
pub(crate) fn stock_event(change: StockEvent) -> NewEvent {
    NewEvent::new(
        change.sku.clone(),
        "stock.changed",
        EventPayload::Stock(change),
    )
}

/// `product.created` for a product made from a channel's listing, at `at`.
pub(crate) fn listing_product_event(
    sku: &Sku,
    attributes: switchyard_domain::product::ProductAttributes,
    at: DateTime<Utc>,
    channel: &ChannelId,
) -> NewEvent {
    NewEvent::new(
        sku,
        "product.created",
        EventPayload::Product(ProductEvent::Product(ProductState {
            product: Product {
                sku: sku.clone(),
                attributes,
                components: Vec::new(),
                created_at: at,
                updated_at: at,
            },
            kit: false,
            ledger: None,
            from_channel: Some(channel.clone()),
        })),
    )
}

/// `channel.updated`: the channel as it now is, whether its credentials
/// were replaced, and the stock rules and settings before, where they
/// changed.
pub(crate) fn channel_updated_event(
    old: &crate::Channel,
    now: &crate::Channel,
    credentials_changed: bool,
) -> NewEvent {
    NewEvent::new(
        &now.id,
        "channel.updated",
        EventPayload::Channel(ChannelEvent {
            credentials_changed: Some(credentials_changed),
            previous_stock_rules: (old.stock_rules != now.stock_rules).then_some(old.stock_rules),
            previous_settings: (old.settings != now.settings).then(|| old.settings.clone()),
            ..ChannelEvent::snapshot(now)
        }),
    )
}

/// `channel.import_error`: an order the import could not take.
pub(crate) fn import_error_event(channel: &ChannelId, e: &crate::NewImportError) -> NewEvent {
    NewEvent::new(
        channel,
        "channel.import_error",
        EventPayload::Channel(ChannelEvent {
            channel_order_id: Some(e.channel_order_id.clone()),
            code: Some(e.code.clone()),
            message: Some(e.message.clone()),
            ..ChannelEvent::of(channel)
        }),
    )
}

/// `channel.import_error_handled`: an import error someone dealt with.
pub(crate) fn import_error_handled_event(
    channel: &ChannelId,
    e: &crate::ImportErrorRecord,
    by: &str,
) -> NewEvent {
    NewEvent::new(
        channel,
        "channel.import_error_handled",
        EventPayload::Channel(ChannelEvent {
            channel_order_id: Some(e.channel_order_id.clone()),
            error_id: Some(e.id),
            by: Some(by.to_owned()),
            ..ChannelEvent::of(channel)
        }),
    )
}

/// The order event of a shipment: the order's state before and after
/// fulfilment `by`.
pub(crate) fn shipped_order_event(
    order: &OrderId,
    before: OrderState,
    after: OrderState,
    by: &FulfilmentId,
) -> NewEvent {
    NewEvent::new(
        order,
        switchyard_domain::shipment::order_event(after),
        EventPayload::Order(OrderEvent {
            state: Some(after),
            previous_state: Some(before),
            fulfilment_id: Some(by.clone()),
            ..OrderEvent::of(order)
        }),
    )
}
