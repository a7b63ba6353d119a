//! The workers' settings: every tunable of the engine, with its default.
//! The server builds them from the configuration file's `[engine]` table.

use std::time::Duration;

use switchyard_connectors::http::HttpPolicy;
use switchyard_domain::retry::RetryPolicy;
use switchyard_domain::webhook::AddressPolicy;

use crate::Clock;

/// Settings of the workers.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The base URL channels can reach this server's API at, for order
    /// notifications (`{public_url}/v1/inbound/{channel_id}`). `None` turns
    /// notifications off (polling only).
    pub public_url: Option<String>,
    /// How far back the first import of a channel reaches.
    pub initial_lookback: chrono::Duration,
    /// A read reaching further back than this (a first import, a backfill,
    /// a channel away for long) asks the channel for a bulk export where it
    /// has one (Shopify's bulk operations) instead of paging.
    pub bulk_after: chrono::Duration,
    /// Overlap of consecutive fetches: how late an order may show up in a
    /// channel's list (after its `updated_at`) and still be read.
    pub overlap: chrono::Duration,
    /// Overlap of the quick reads of a channel polled much more often than
    /// `overlap`: each round reads from just before its cursor, and the whole
    /// overlap is swept again every half overlap, after that round's quick read.
    pub short_overlap: chrono::Duration,
    /// How often listings are downloaded again (when the switch is on).
    pub listings_interval: chrono::Duration,
    /// How often each worker looks for due work when nothing wakes it.
    pub tick: Duration,
    /// Units of work running at once, per worker.
    pub concurrency: Concurrency,
    /// Most pages read in one import run (bounds a run; the rest follows
    /// at once, in the next run, from its resume point).
    pub max_pages: usize,
    /// Timeouts, retries and limits of channel traffic.
    pub http: HttpPolicy,
    /// How long a worker holds a fulfilment sync or back-office step it
    /// started; a process that dies mid-call leaves it to expire, and the
    /// next attempt looks at the channel before creating anything.
    pub lease: chrono::Duration,
    /// How often the back-office worker looks for work.
    pub back_office_tick: Duration,
    /// The workers' clock.
    pub clock: Clock,
    /// Where webhook (and plugin) requests may connect: public addresses
    /// plus the operator's allow-list.
    pub outbound: AddressPolicy,
    /// How long a webhook endpoint has to answer (a slower answer is a
    /// failed attempt).
    pub webhook_timeout: Duration,
    /// Deliveries in flight per webhook endpoint, across workers.
    pub webhook_concurrency: u32,
    /// Journal events turned into webhook messages per dispatch round.
    pub dispatch_batch: u32,
    /// Notified orders a channel's round claims, fetches at once and
    /// stores as one page.
    pub order_batch: u32,
    /// How often this process tells the database it is alive.
    pub heartbeat: Duration,
    /// A worker instance that has not beaten for this long is dead: its
    /// leases are free at once, however long they were taken for.
    pub stale_after: chrono::Duration,
    /// When failed work is tried again.
    pub retry: Retries,
    /// How long rows that only grow are kept, and how they are pruned.
    pub retention: crate::Retention,
}

/// Units of work each worker runs at once (`[engine.concurrency]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Concurrency {
    /// Channels imported at once (rounds).
    pub import: usize,
    /// Channels whose notified orders import at once (their own slots: a
    /// notified order never waits for a round's slot).
    pub notified: usize,
    /// Channels whose listings download at once.
    pub listings: usize,
    /// Channels pushed to at once.
    pub push: usize,
    /// Orders whose fulfilments sync at once.
    pub fulfilment: usize,
    /// Stores whose back office is worked at once.
    pub back_office: usize,
    /// Plugin messages in flight.
    pub plugins: usize,
    /// Webhook deliveries in flight, all endpoints together (each endpoint
    /// also has its own cap, `webhook_concurrency`).
    pub webhooks: usize,
}

impl Concurrency {
    /// Every worker's concurrency with its name, to check settings.
    #[must_use]
    pub fn named(&self) -> [(&'static str, usize); 8] {
        [
            ("import", self.import),
            ("notified", self.notified),
            ("listings", self.listings),
            ("push", self.push),
            ("fulfilment", self.fulfilment),
            ("back_office", self.back_office),
            ("plugins", self.plugins),
            ("webhooks", self.webhooks),
        ]
    }
}

impl Default for Concurrency {
    fn default() -> Self {
        Self {
            import: 4,
            notified: 8,
            listings: 2,
            push: 32,
            fulfilment: 4,
            back_office: 4,
            plugins: 8,
            webhooks: 64,
        }
    }
}

/// The retry policy of each kind of work (`[engine.retry.*]`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retries {
    /// A channel whose import round failed (never later than its cadence).
    pub import: RetryPolicy,
    /// A requested job (backfill, one order) that failed and may succeed later.
    pub jobs: RetryPolicy,
    /// A listings download that failed.
    pub listings: RetryPolicy,
    /// A stock push that failed and may succeed later.
    pub push: RetryPolicy,
    /// A stock push the channel refused outright.
    pub push_refused: RetryPolicy,
    /// A fulfilment sync that failed and may succeed later.
    pub fulfilment: RetryPolicy,
    /// A fulfilment the channel cannot take at all (tried rarely).
    pub fulfilment_refused: RetryPolicy,
    /// A back-office step.
    pub back_office: RetryPolicy,
    /// A plugin message (retried without end: the order waits for its 3PL).
    pub plugins: RetryPolicy,
    /// A webhook delivery (the Standard Webhooks schedule, then the message
    /// is given up; its endpoint is disabled after five days of failures).
    pub webhooks: RetryPolicy,
    /// An invoice or credit note the accounting package did not take
    /// (away, rate limited); refusals wait for a person instead.
    pub accounting: RetryPolicy,
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            import: RetryPolicy::doubling(secs(10), secs(10 << 12)),
            jobs: RetryPolicy::doubling(secs(10), secs(5 << 10)).giving_up_after(8),
            listings: RetryPolicy::doubling(secs(20), secs(3600)),
            push: RetryPolicy::doubling(secs(2), secs(300)),
            push_refused: RetryPolicy::doubling(secs(2), secs(3600)),
            fulfilment: RetryPolicy::doubling(secs(5), secs(1800)),
            fulfilment_refused: RetryPolicy::doubling(secs(60), secs(86_400)),
            back_office: RetryPolicy::doubling(secs(10), secs(3600)),
            plugins: RetryPolicy::doubling(secs(5), secs(1800)).with_jitter(0.2),
            webhooks: switchyard_domain::webhook::retry_policy(),
            accounting: RetryPolicy::doubling(secs(5), secs(3600)).with_jitter(0.2),
        }
    }
}

impl Retries {
    /// Every policy with its name, to check settings.
    #[must_use]
    pub fn named(&self) -> [(&'static str, &RetryPolicy); 11] {
        [
            ("import", &self.import),
            ("jobs", &self.jobs),
            ("listings", &self.listings),
            ("push", &self.push),
            ("push_refused", &self.push_refused),
            ("fulfilment", &self.fulfilment),
            ("fulfilment_refused", &self.fulfilment_refused),
            ("back_office", &self.back_office),
            ("plugins", &self.plugins),
            ("webhooks", &self.webhooks),
            ("accounting", &self.accounting),
        ]
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            initial_lookback: chrono::Duration::days(30),
            bulk_after: chrono::Duration::hours(24),
            overlap: switchyard_domain::cursor::DEFAULT_OVERLAP,
            short_overlap: chrono::Duration::seconds(10),
            listings_interval: chrono::Duration::hours(1),
            tick: Duration::from_millis(250),
            concurrency: Concurrency::default(),
            max_pages: 500,
            http: HttpPolicy::default(),
            lease: chrono::Duration::minutes(5),
            back_office_tick: Duration::from_secs(1),
            clock: Clock::default(),
            outbound: AddressPolicy::default(),
            webhook_timeout: Duration::from_secs(15),
            // A backlog to one loopback endpoint drains at ~2,600/s with 16
            // in flight, ~3,600/s with 32 (bench webhooks, 2 cores).
            webhook_concurrency: 32,
            dispatch_batch: 500,
            order_batch: 20,
            heartbeat: Duration::from_secs(2),
            stale_after: chrono::Duration::seconds(switchyard_storage::WORKER_STALE_AFTER_SECS),
            retry: Retries::default(),
            retention: crate::Retention::default(),
        }
    }
}
