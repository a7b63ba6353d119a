//! The engine's metrics, each named once here. They go through the
//! `metrics` facade: the binary installs the Prometheus exporter (served at
//! `/metrics`), and without one every call is a no-op (tests, benchmarks).
//!
//! Labels are bounded: a channel is labelled by its kind (`shopify`, …),
//! never by its id, so the series stay few however many stores there are,
//! and the figures say nothing about any one account.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_histogram, histogram};

use crate::back_office::BackOfficeSummary;
use crate::fulfilment_sync::SyncSummary;
use crate::import::ImportSummary;

/// Orders imported (created), by channel kind.
pub const ORDERS_IMPORTED: &str = "switchyard_orders_imported_total";
/// Import rounds, by channel kind, lane and outcome (`ok`, `error`).
pub const IMPORT_ROUNDS: &str = "switchyard_import_rounds_total";
/// Orders recorded as import errors, by channel kind.
pub const IMPORT_ERRORS: &str = "switchyard_import_errors_total";
/// Stock quantities pushed, by channel kind and outcome (`sent`, `failed`).
pub const STOCK_PUSHES: &str = "switchyard_stock_pushes_total";
/// Duration of one call pushing stock to a channel, by channel kind.
pub const STOCK_PUSH_SECONDS: &str = "switchyard_stock_push_seconds";
/// From the stock change that made a quantity due to the channel's
/// confirmation of it (a sale's propagation to the other channels), by
/// channel kind.
pub const PROPAGATION_SECONDS: &str = "switchyard_stock_propagation_seconds";
/// Fulfilments synced to the order's channel, by outcome.
pub const FULFILMENT_SYNCS: &str = "switchyard_fulfilment_syncs_total";
/// Back-office steps, by step (`create`, `check`, `ship`, `cancel`) and
/// outcome; failures are counted with step `any`.
pub const BACK_OFFICE_STEPS: &str = "switchyard_back_office_steps_total";
/// Webhook and plugin deliveries, by target (`webhook`, `plugin`) and
/// outcome (`ok`, `failed`).
pub const DELIVERIES: &str = "switchyard_deliveries_total";
/// Duration of one delivery attempt, by target.
pub const DELIVERY_SECONDS: &str = "switchyard_delivery_seconds";

/// Give each metric its help text (once, after the exporter is installed).
pub fn describe() {
    describe_counter!(
        ORDERS_IMPORTED,
        "Orders imported (created), by channel kind"
    );
    describe_counter!(
        IMPORT_ROUNDS,
        "Import rounds, by channel kind, lane and outcome"
    );
    describe_counter!(
        IMPORT_ERRORS,
        "Orders recorded as import errors, by channel kind"
    );
    describe_counter!(
        STOCK_PUSHES,
        "Stock quantities pushed to channels, by channel kind and outcome"
    );
    describe_histogram!(
        STOCK_PUSH_SECONDS,
        Unit::Seconds,
        "Duration of one stock push call, by channel kind"
    );
    describe_histogram!(
        PROPAGATION_SECONDS,
        Unit::Seconds,
        "From a stock change (a sale, an adjustment) to the channel confirming the new quantity, by channel kind"
    );
    describe_counter!(
        FULFILMENT_SYNCS,
        "Fulfilments synced to the order's channel, by outcome"
    );
    describe_counter!(BACK_OFFICE_STEPS, "Back-office steps, by step and outcome");
    describe_counter!(
        DELIVERIES,
        "Webhook and plugin deliveries, by target and outcome"
    );
    describe_histogram!(
        DELIVERY_SECONDS,
        Unit::Seconds,
        "Duration of one delivery attempt, by target"
    );
}

fn n(x: usize) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

fn outcome(ok: bool) -> &'static str {
    if ok { "ok" } else { "failed" }
}

/// One import round of a channel of kind `channel` in `lane`.
pub(crate) fn import_round(channel: &'static str, lane: &'static str, s: &ImportSummary) {
    let result = if s.error.is_some() { "error" } else { "ok" };
    counter!(IMPORT_ROUNDS, "channel" => channel, "lane" => lane, "outcome" => result).increment(1);
    counter!(ORDERS_IMPORTED, "channel" => channel).increment(n(s.created));
    counter!(IMPORT_ERRORS, "channel" => channel).increment(n(s.failed));
}

/// Stock pushed to a channel: how long the call took (none was made when
/// the channel cannot be connected) and what came of it.
pub(crate) fn stock_push(
    channel: &'static str,
    took: Option<Duration>,
    sent: usize,
    failed: usize,
) {
    if let Some(took) = took {
        histogram!(STOCK_PUSH_SECONDS, "channel" => channel).record(took.as_secs_f64());
    }
    counter!(STOCK_PUSHES, "channel" => channel, "outcome" => "sent").increment(n(sent));
    counter!(STOCK_PUSHES, "channel" => channel, "outcome" => "failed").increment(n(failed));
}

/// A quantity confirmed `age` after the change that made it due.
pub(crate) fn propagated(channel: &'static str, age: chrono::Duration) {
    let secs = age.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
    histogram!(PROPAGATION_SECONDS, "channel" => channel).record(secs.max(0.0));
}

/// What a fulfilment sync unit did.
pub(crate) fn fulfilment_syncs(s: &SyncSummary) {
    counter!(FULFILMENT_SYNCS, "outcome" => "ok").increment(n(s.synced));
    counter!(FULFILMENT_SYNCS, "outcome" => "failed").increment(n(s.failed));
}

/// What a back-office unit did.
pub(crate) fn back_office(s: &BackOfficeSummary) {
    for (step, count) in [
        ("create", s.sent),
        ("check", s.checked),
        ("ship", s.shipped),
        ("cancel", s.cancelled),
    ] {
        counter!(BACK_OFFICE_STEPS, "step" => step, "outcome" => "ok").increment(n(count));
    }
    counter!(BACK_OFFICE_STEPS, "step" => "any", "outcome" => "failed").increment(n(s.failed));
}

/// One delivery attempt to a webhook endpoint or a plugin.
pub(crate) fn delivery(target: &'static str, ok: bool, took: Duration) {
    counter!(DELIVERIES, "target" => target, "outcome" => outcome(ok)).increment(1);
    histogram!(DELIVERY_SECONDS, "target" => target).record(took.as_secs_f64());
}
