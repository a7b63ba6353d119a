//! Webhook delivery: a store subscribes a loopback receiver to
//! `order.created`; a WooCommerce simulator then holds a batch of new
//! orders, which the running server imports (its own scheduler) and
//! announces. The receiver checks every Standard Webhooks signature
//! (HMAC-SHA256 over `id.timestamp.body` with the subscription's secret)
//! and notes when each message arrived. Figures: deliveries per second
//! from the first to the last delivery, and each message's delay after
//! its change (the journal time in the body's `timestamp`).

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

#[derive(Default)]
struct Got {
    /// `(arrived µs, change µs, webhook-id)` per verified message.
    messages: Vec<(i64, i64, String)>,
    bad_signatures: usize,
}

struct Receiver {
    secret: Mutex<String>,
    got: Mutex<Got>,
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
    let receiver = Arc::new(Receiver {
        secret: Mutex::new(String::new()),
        got: Mutex::new(Got::default()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut rig = Rig::start(&opts.database_url, true, EngineConfig::default()).await?;
    let Some(sim) = woo_shops(1, opts.seed, PRODUCTS).await?.pop() else {
        bail!("no simulator started");
    };
    let skus: Vec<String> = sim.shown_stock().await?.into_keys().collect();
    rig.catalogue(&skus, &kits_of(&skus), 1_000_000).await?;
    let store = rig.store.clone();
    let created = rig
        .api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/webhooks"),
            Some(
                json!({ "url": url, "events": ["order.created"], "description": "bench receiver" }),
            ),
        )
        .await?;
    *lock(&receiver.secret) = created["secret"]
        .as_str()
        .context("webhook without secret")?
        .to_owned();
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
        let got = lock(&receiver.got).messages.len();
        if imported > 0 && got >= imported {
            break imported;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("{got} of {imported} webhooks arrived within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let got = std::mem::take(&mut *lock(&receiver.got));
    let distinct: HashSet<&str> = got.messages.iter().map(|m| m.2.as_str()).collect();
    ensure!(
        got.bad_signatures == 0,
        "{} messages failed the signature check",
        got.bad_signatures
    );
    ensure!(
        distinct.len() == expected,
        "expected {expected} distinct messages, got {}",
        distinct.len()
    );
    let first = got.messages.iter().map(|m| m.0).min().unwrap_or(0);
    let last = got.messages.iter().map(|m| m.0).max().unwrap_or(0);
    let per_sec = expected as f64 / ((last - first).max(1) as f64 / 1e6);
    let mut delays: Vec<f64> = got
        .messages
        .iter()
        .map(|(arrived, changed, _)| (arrived - changed) as f64 / 1000.0)
        .collect();
    delays.sort_by(f64::total_cmp);
    println!(
        "    {expected} order.created messages, all signatures valid, {} repeats",
        got.messages.len() - distinct.len()
    );
    report.add(Figure::new(
        "webhooks",
        "deliveries per second",
        per_sec,
        "msg/s",
    ));
    for (label, p) in [("p50", 50.0), ("p99", 99.0)] {
        report.add(Figure::new(
            "webhooks",
            format!("delay after the change: {label}"),
            percentile(&delays, p),
            "ms",
        ));
    }
    report.add(Figure::new(
        "webhooks",
        "delay after the change: max",
        delays.last().copied().unwrap_or(0.0),
        "ms",
    ));
    rig.stop().await;
    sim.stop().await;
    server.abort();
    Ok(())
}
