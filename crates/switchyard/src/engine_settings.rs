//! The `[engine]` table of the configuration: every tunable of the workers,
//! with its default in `config.default.toml`.

use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use switchyard_engine::{Concurrency, EngineConfig, Retention, Retries};

/// The workers' settings as written in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    /// How often each worker looks for due work when nothing wakes it.
    pub tick_ms: u64,
    /// How often the back-office worker looks for work.
    pub back_office_tick_ms: u64,
    /// How often this instance tells the database it is alive.
    pub heartbeat_ms: u64,
    /// Most pages read in one import or listings run.
    pub max_pages: usize,
    /// How far back the first import of a channel reaches.
    pub initial_lookback_days: u32,
    /// Reads reaching further back than this use the channel's bulk export.
    pub bulk_after_hours: u32,
    /// How late an order may show up in a channel's list and still be read.
    pub overlap_secs: u32,
    /// Overlap of the quick reads of channels polled much more often.
    pub short_overlap_secs: u32,
    /// How often listings are downloaded again.
    pub listings_interval_secs: u32,
    /// Journal events turned into webhook messages per dispatch round.
    pub dispatch_batch: u32,
    /// Notified orders a channel's round fetches at once and stores as
    /// one page.
    pub order_batch: u32,
    /// How long a webhook endpoint or plugin has to answer.
    pub webhook_timeout_secs: u32,
    /// Deliveries in flight per webhook endpoint.
    pub webhook_concurrency: u32,
    /// Units of work each worker runs at once.
    pub concurrency: Concurrency,
    /// Channel traffic: timeouts, attempts, backoff.
    pub http: HttpSettings,
    /// When failed work is tried again, per kind of work.
    pub retry: Retries,
    /// How long rows that only grow are kept (`[engine.retention]`).
    pub retention: Retention,
}

/// `[engine.http]`: every channel's HTTP client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub max_attempts: u32,
    pub base_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub max_retry_after_secs: u64,
    pub max_concurrency: usize,
}

fn positive(name: &str, v: u64) -> anyhow::Result<()> {
    anyhow::ensure!(v > 0, "engine.{name} must be above 0");
    Ok(())
}

impl EngineSettings {
    /// Apply these settings over `base` (the clock, public URL and
    /// outbound policy come from elsewhere), refusing values that make no
    /// sense with the setting named.
    pub fn apply(&self, base: EngineConfig) -> anyhow::Result<EngineConfig> {
        positive("tick_ms", self.tick_ms)?;
        positive("back_office_tick_ms", self.back_office_tick_ms)?;
        positive("heartbeat_ms", self.heartbeat_ms)?;
        positive("max_pages", self.max_pages as u64)?;
        positive("dispatch_batch", u64::from(self.dispatch_batch))?;
        positive("order_batch", u64::from(self.order_batch))?;
        positive("webhook_timeout_secs", u64::from(self.webhook_timeout_secs))?;
        positive("webhook_concurrency", u64::from(self.webhook_concurrency))?;
        for (name, v) in self.concurrency.named() {
            positive(&format!("concurrency.{name}"), v as u64)?;
        }
        let keep = &self.retention;
        positive("retention.interval_secs", u64::from(keep.interval_secs))?;
        positive("retention.batch", u64::from(keep.batch))?;
        positive("retention.batches_per_run", u64::from(keep.batches_per_run))?;
        anyhow::ensure!(
            keep.idempotency_hours >= 24,
            "engine.retention.idempotency_hours must be at least 24 (the replay window of Idempotency-Key)"
        );
        let h = &self.http;
        positive("http.max_attempts", u64::from(h.max_attempts))?;
        positive("http.request_timeout_ms", h.request_timeout_ms)?;
        positive("http.max_concurrency", h.max_concurrency as u64)?;
        for (name, p) in self.retry.named() {
            p.check()
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("engine.retry.{name}"))?;
        }
        let mut http = base.http.clone();
        http.connect_timeout = Duration::from_millis(h.connect_timeout_ms);
        http.request_timeout = Duration::from_millis(h.request_timeout_ms);
        http.max_attempts = h.max_attempts;
        http.base_backoff = Duration::from_millis(h.base_backoff_ms);
        http.max_backoff = Duration::from_millis(h.max_backoff_ms);
        http.max_retry_after = Duration::from_secs(h.max_retry_after_secs);
        http.max_concurrency = h.max_concurrency;
        Ok(EngineConfig {
            tick: Duration::from_millis(self.tick_ms),
            back_office_tick: Duration::from_millis(self.back_office_tick_ms),
            heartbeat: Duration::from_millis(self.heartbeat_ms),
            max_pages: self.max_pages,
            initial_lookback: chrono::Duration::days(i64::from(self.initial_lookback_days)),
            bulk_after: chrono::Duration::hours(i64::from(self.bulk_after_hours)),
            overlap: chrono::Duration::seconds(i64::from(self.overlap_secs)),
            short_overlap: chrono::Duration::seconds(i64::from(self.short_overlap_secs)),
            listings_interval: chrono::Duration::seconds(i64::from(self.listings_interval_secs)),
            dispatch_batch: self.dispatch_batch,
            order_batch: self.order_batch,
            webhook_timeout: Duration::from_secs(u64::from(self.webhook_timeout_secs)),
            webhook_concurrency: self.webhook_concurrency,
            concurrency: self.concurrency.clone(),
            http,
            retry: self.retry.clone(),
            retention: self.retention.clone(),
            ..base
        })
    }
}
