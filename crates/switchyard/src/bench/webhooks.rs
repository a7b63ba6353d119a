//! Webhook delivery, in two scenarios against a loopback receiver that
//! checks every Standard Webhooks signature (HMAC-SHA256 over
//! `id.timestamp.body` with the subscription's secret) and notes when each
//! message arrived. A message's delay is measured from its change (the
//! journal time in the body's `timestamp`) to its arrival.
//!
//! - **Import-paced:** the store subscribes to `order.created`; a
//!   WooCommerce simulator then holds a batch of new orders, which the
//!   running server imports (its own scheduler) and announces. Figures:
//!   deliveries per second from the first to the last delivery (paced by
//!   the import) and the delays.
//! - **Burst:** all of those messages replayed at once, as after an
//!   endpoint's outage. Figure: deliveries per second from the replay
//!   request to the last delivery (goal ≥ 3,000).
//! - **Steady flow:** the store subscribes to `product.updated`, and stock
//!   is set through the API at a fixed rate (by default 500 changes a
//!   second for 10 s). Figure: the delay after the change, p50, p99 (goal
//!   ≤ 200 ms at 500/s) and max.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchyard_engine::webhooks::sign::signature_header;
use switchyard_storage::JobKind;

use super::rig::{Rig, kits_of, woo_shops};
use super::{BenchOptions, Figure, Report, now_us};
use crate::EngineConfig;
use crate::demo::percentile;

const PRODUCTS: usize = 200;
/// The goals of the issue, on this machine.
const BURST_GOAL: f64 = 3_000.0;
const STEADY_P99_GOAL_MS: f64 = 200.0;

#[derive(Default)]
struct Got {
    /// `(arrived µs, change µs, webhook-id)` per verified message.
    messages: Vec<(i64, i64, String)>,
    bad_signatures: usize,
}

#[derive(Default)]
struct Receiver {
    secret: Mutex<String>,
    got: Mutex<Got>,
}

impl Receiver {
    /// Subscribe this receiver, at `url`, to `events` of the rig's store;
    /// the webhook's id.
    async fn subscribe(&self, rig: &Rig, url: &str, events: &[&str]) -> anyhow::Result<String> {
        let created = rig
            .api
            .send(
                reqwest::Method::POST,
                &format!("/v1/stores/{}/webhooks", rig.store),
                Some(json!({ "url": url, "events": events, "description": "bench receiver" })),
            )
            .await?;
        *lock(&self.secret) = created["secret"]
            .as_str()
            .context("webhook without secret")?
            .to_owned();
        Ok(created["id"]
            .as_str()
            .context("webhook without id")?
            .to_owned())
    }

    /// What arrived so far, checked: no bad signature, no repeat. Returns
    /// the messages and their delays after the change in ms, sorted.
    fn take(&self) -> anyhow::Result<(Got, Vec<f64>)> {
        let got = std::mem::take(&mut *lock(&self.got));
        ensure!(
            got.bad_signatures == 0,
            "{} messages failed the signature check",
            got.bad_signatures
        );
        let distinct: HashSet<&str> = got.messages.iter().map(|m| m.2.as_str()).collect();
        ensure!(
            distinct.len() == got.messages.len(),
            "{} repeated deliveries",
            got.messages.len() - distinct.len()
        );
        let mut delays: Vec<f64> = got
            .messages
            .iter()
            .map(|(arrived, changed, _)| (arrived - changed) as f64 / 1000.0)
            .collect();
        delays.sort_by(f64::total_cmp);
        Ok((got, delays))
    }
}

/// The delay figures of `scenario`.
fn delays(report: &mut Report, scenario: &str, delays: &[f64], p99_goal: Option<f64>) {
    for (label, p) in [("p50", 50.0), ("p99", 99.0)] {
        let mut f = Figure::new(
            "webhooks",
            format!("{scenario}: delay after the change, {label}"),
            percentile(delays, p),
            "ms",
        );
        if let (Some(goal), "p99") = (p99_goal, label) {
            let met = f.value <= goal;
            f = f.goal(format!("≤ {goal} ms"), met);
        }
        report.add(f);
    }
    report.add(Figure::new(
        "webhooks",
        format!("{scenario}: delay after the change, max"),
        delays.last().copied().unwrap_or(0.0),
        "ms",
    ));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let arrived = now_us();
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (id, ts, sig) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let body = String::from_utf8_lossy(&body);
    let secret = lock(&r.secret).clone();
    let expected = ts
        .parse::<i64>()
        .ok()
        .and_then(|t| signature_header(&[secret], id, t, &body).ok());
    let valid = expected.is_some_and(|e| sig.split(' ').any(|s| e.split(' ').any(|x| x == s)));
    let mut got = lock(&r.got);
    if !valid {
        got.bad_signatures += 1;
        return StatusCode::BAD_REQUEST;
    }
    let changed = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["timestamp"].as_str().map(str::to_owned))
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map_or(0, |t| t.timestamp_micros());
    got.messages.push((arrived, changed, id.to_owned()));
    StatusCode::NO_CONTENT
}

pub(crate) async fn run(opts: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let burst = Arc::new(Receiver::default());
    let steady = Arc::new(Receiver::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .route(
            "/burst",
            axum::routing::post(receive).with_state(burst.clone()),
        )
        .route(
            "/steady",
            axum::routing::post(receive).with_state(steady.clone()),
        );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut rig = Rig::start(&opts.database_url, true, EngineConfig::default()).await?;
    let Some(sim) = woo_shops(1, opts.seed, PRODUCTS).await?.pop() else {
        bail!("no simulator started");
    };
    let skus: Vec<String> = sim.shown_stock().await?.into_keys().collect();
    rig.catalogue(&skus, &kits_of(&skus), 1_000_000).await?;
    let store = rig.store.clone();
    let hook = burst
        .subscribe(&rig, &format!("{base}/burst"), &["order.created"])
        .await?;
    let channel = rig
        .channel(
            "Woo",
            "woocommerce",
            &sim,
            json!({ "cadence_secs": 86_400, "download_products": false, "auto_sync_stock": false,
                    "push_notifications": false,
                    "order_filters": { "import_unpaid": true, "import_not_ready": true } }),
        )
        .await?;
    // The orders arrive; the server imports them (seeded orders lie in
    // December 2025, so a backfill from then).
    reqwest::Client::new()
        .post(format!("{}/_sim/seed", sim.base_url()))
        .json(&json!({ "seed": opts.seed, "products": PRODUCTS, "orders": opts.webhooks }))
        .send()
        .await?
        .error_for_status()?;
    let started = Instant::now();
    rig.storage
        .enqueue_job(
            &channel,
            JobKind::Backfill,
            json!({ "from": "2025-01-01T00:00:00Z" }),
        )
        .await?;
    // Every imported order is announced once; cancelled-before-import
    // orders are skipped and never announced.
    let expected = loop {
        let page = rig
            .api
            .send(
                reqwest::Method::GET,
                &format!("/v1/stores/{store}/channels/{}/health", channel.channel_id),
                None,
            )
            .await?;
        let imported = page["orders_imported_today"].as_u64().unwrap_or(0) as usize;
        let got = lock(&burst.got).messages.len();
        if imported > 0 && got >= imported {
            break imported;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("{got} of {imported} webhooks arrived within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (got, sorted) = burst.take()?;
    ensure!(
        got.messages.len() == expected,
        "expected {expected} messages, got {}",
        got.messages.len()
    );
    let first = got.messages.iter().map(|m| m.0).min().unwrap_or(0);
    let last = got.messages.iter().map(|m| m.0).max().unwrap_or(0);
    let per_sec = expected as f64 / ((last - first).max(1) as f64 / 1e6);
    println!(
        "    import-paced: {expected} order.created messages, all signatures valid, no repeats"
    );
    report.add(Figure::new(
        "webhooks",
        "import-paced: deliveries per second",
        per_sec,
        "msg/s",
    ));
    delays(report, "import-paced", &sorted, None);

    replayed(&rig, &burst, &hook, expected, report).await?;
    steady_flow(
        opts,
        &rig,
        &steady,
        &format!("{base}/steady"),
        &skus,
        report,
    )
    .await?;
    rig.stop().await;
    sim.stop().await;
    server.abort();
    Ok(())
}

/// The burst: every message of the import sent again at once (a replay,
/// as after an endpoint's outage). Deliveries per second from the replay
/// request to the last delivery.
async fn replayed(
    rig: &Rig,
    receiver: &Receiver,
    hook: &str,
    expected: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let replay = rig
        .api
        .send(
            reqwest::Method::POST,
            &format!("/v1/webhooks/{hook}/replay"),
            Some(json!({ "since": "2000-01-01T00:00:00Z", "only_failed": false })),
        )
        .await?;
    ensure!(
        replay["replayed"].as_u64() == Some(expected as u64),
        "replay queued {replay}, expected {expected}"
    );
    loop {
        let got = lock(&receiver.got).messages.len();
        if got >= expected {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("{got} of {expected} replayed webhooks arrived within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (got, _) = receiver.take()?;
    ensure!(
        got.messages.len() == expected,
        "expected {expected} replayed messages, got {}",
        got.messages.len()
    );
    let per_sec = expected as f64 / elapsed;
    println!("    burst: {expected} messages replayed at once, all signatures valid, no repeats");
    report.add(
        Figure::new("webhooks", "burst: deliveries per second", per_sec, "msg/s")
            .goal(format!("≥ {BURST_GOAL} msg/s"), per_sec >= BURST_GOAL),
    );
    Ok(())
}

/// Stock set through the API at the options' webhook rate for their
/// duration, each change announced as `product.updated`.
async fn steady_flow(
    opts: &BenchOptions,
    rig: &Rig,
    receiver: &Receiver,
    url: &str,
    skus: &[String],
    report: &mut Report,
) -> anyhow::Result<()> {
    receiver.subscribe(rig, url, &["product.updated"]).await?;
    // Kits hold no stock of their own.
    let kits: HashSet<String> = kits_of(skus).into_iter().map(|(k, _)| k).collect();
    let plain: Vec<&String> = skus.iter().filter(|s| !kits.contains(*s)).collect();
    ensure!(!plain.is_empty(), "no SKUs to change");
    let rate = opts.webhook_rate.max(1);
    let n = u32::try_from(u64::from(rate) * opts.webhook_duration.as_secs())
        .context("too many steady-flow changes")?;
    let spacing = Duration::from_secs(1) / rate;
    let api = Arc::new(rig.api.clone());
    let store = rig.store.clone();
    let started = tokio::time::Instant::now();
    let mut sent = tokio::task::JoinSet::new();
    for i in 0..n {
        tokio::time::sleep_until(started + spacing * i).await;
        let (api, store) = (api.clone(), store.clone());
        let sku = plain[i as usize % plain.len()].clone();
        // A new quantity each time, so every request is a change.
        let quantity = 2_000_000 + i64::from(i);
        sent.spawn(async move {
            api.send(
                reqwest::Method::PUT,
                &format!("/v1/stores/{store}/stock/{sku}"),
                Some(json!({ "quantity": quantity })),
            )
            .await
        });
    }
    let offered = f64::from(n) / started.elapsed().as_secs_f64();
    while let Some(r) = sent.join_next().await {
        r??;
    }
    // Each change is announced for its SKU, and for the kits it is part of.
    let waited = Instant::now();
    let mut seen = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = lock(&receiver.got).messages.len();
        if now >= n as usize && now == seen {
            break;
        }
        if waited.elapsed() > Duration::from_secs(120) {
            bail!("{now} of at least {n} product.updated messages arrived within 2 minutes");
        }
        seen = now;
    }
    let (got, sorted) = receiver.take()?;
    println!(
        "    steady flow: {n} stock changes at {offered:.0}/s, {} product.updated messages, all signatures valid, no repeats",
        got.messages.len()
    );
    // The goal is set at 500 changes a second.
    let goal = (rate >= 500).then_some(STEADY_P99_GOAL_MS);
    delays(report, &format!("steady {rate}/s"), &sorted, goal);
    Ok(())
}
