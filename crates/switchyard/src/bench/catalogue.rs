//! Catalogue scaling: the same orders are imported and their stock pushed
//! to five channels with stores of 10k, 100k and 1M SKUs, each SKU listed
//! on all five channels (5M listings at 1M). Per size: milliseconds and
//! SQL statements per order, and the process's peak resident memory over
//! the whole run of that size (setup and generation included).
//!
//! The channels are five WooCommerce simulators with the same 280-SKU shop;
//! those SKUs are listed through a real listings download. The rest of the
//! catalogue is generated in the database (products, stock, one listing per
//! channel, confirmed), as ballast no order touches: a simulator holding a
//! million products per shop would measure the simulator, not Switchyard.

use std::time::Instant;

use anyhow::{Context, ensure};
use serde_json::json;
use switchyard_storage::JobKind;
use switchyard_storage::postgres::PgStorage;
use switchyard_storage::sqlite::SqliteStorage;

use super::rig::{Rig, kits_of, woo_shops};
use super::{BenchOptions, Figure, Report};
use crate::EngineConfig;

const CHANNELS: usize = 5;
const PRODUCTS: usize = 200;
const START: i64 = 100_000;

/// What one size cost.
struct Cost {
    skus: usize,
    ms_per_order: f64,
    statements_per_order: f64,
    peak_rss_mb: f64,
}

/// Forget the process's peak resident set so far (Linux `clear_refs` 5).
fn reset_peak_rss() -> anyhow::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5").context("cannot reset the peak RSS")
}

/// Peak resident set since the last reset, in MiB (`VmHWM`).
fn peak_rss_mb() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")?;
    Ok(kb / 1024.0)
}

pub(crate) async fn run(opts: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let mut costs = Vec::new();
    for &n in &opts.catalogue_sizes {
        let c = size(opts, n).await?;
        println!(
            "    {:>9} SKUs: {:.2} ms and {:.1} statements per order, peak RSS {:.0} MiB",
            c.skus, c.ms_per_order, c.statements_per_order, c.peak_rss_mb
        );
        costs.push(c);
    }
    let Some(first) = costs.first() else {
        return Ok(());
    };
    let (t0, s0) = (first.ms_per_order, first.statements_per_order);
    for c in &costs {
        let label = format!("{} SKUs", c.skus);
        let dt = (c.ms_per_order / t0 - 1.0) * 100.0;
        report.add(
            Figure::new(
                "catalogue",
                format!("{label}: time per order"),
                c.ms_per_order,
                "ms",
            )
            .baseline(t0)
            .goal(
                format!("±25 % of {} SKUs ({dt:+.0} %)", first.skus),
                dt.abs() <= 25.0,
            ),
        );
        let ds = (c.statements_per_order / s0 - 1.0) * 100.0;
        report.add(
            Figure::new(
                "catalogue",
                format!("{label}: SQL statements per order"),
                c.statements_per_order,
                "stmts",
            )
            .baseline(s0)
            .goal(
                format!("±25 % of {} SKUs ({ds:+.0} %)", first.skus),
                ds.abs() <= 25.0,
            ),
        );
        let rss = Figure::new(
            "catalogue",
            format!("{label}: peak RSS"),
            c.peak_rss_mb,
            "MiB",
        );
        report.add(if c.skus >= 1_000_000 {
            rss.goal("≤ 300 MB at 1M SKUs", c.peak_rss_mb * 1.048_576 <= 300.0)
        } else {
            rss
        });
    }
    Ok(())
}

async fn size(opts: &BenchOptions, total: usize) -> anyhow::Result<Cost> {
    // The peak covers the whole size: setup, the generated catalogue, the
    // listings download, the orders and their pushes.
    reset_peak_rss()?;
    let mut rig = Rig::start(&opts.database_url, false, EngineConfig::default()).await?;
    let sims = woo_shops(CHANNELS, opts.seed, PRODUCTS).await?;
    let skus: Vec<String> = sims[0].shown_stock().await?.into_keys().collect();
    ensure!(
        total > skus.len(),
        "a catalogue must have more than {} SKUs",
        skus.len()
    );
    let kits = kits_of(&skus);
    rig.catalogue(&skus, &kits, START).await?;
    let settings = json!({
        "cadence_secs": 86_400, "download_products": true, "auto_sync_stock": true,
        "push_notifications": false,
    });
    let channels = rig.woo_channels(&sims, &settings).await?;
    let engine = rig.engine(EngineConfig {
        initial_lookback: chrono::Duration::days(1),
        ..EngineConfig::default()
    })?;
    // Listings of the simulated shops, and their first stock.
    for s in futures::future::join_all(channels.iter().map(|c| engine.import_channel(c))).await {
        ensure!(s?.error.is_none(), "the listings round failed");
    }
    drain_pushes(&engine).await?;
    // The ballast.
    let started = Instant::now();
    let ids: Vec<_> = channels.iter().map(|c| c.channel_id.clone()).collect();
    let store = switchyard_domain::ids::StoreId::parse(&rig.store)?;
    let generated = (total - skus.len()) as u64;
    let url = rig.database_url();
    if url.starts_with("sqlite:") {
        SqliteStorage::connect(&url)
            .await?
            .generate_catalogue(&store, &ids, "GEN-", generated, START)
            .await?;
    } else {
        PgStorage::connect(&url)
            .await?
            .generate_catalogue(&store, &ids, "GEN-", generated, START)
            .await?;
    }
    println!(
        "    {total} SKUs × {CHANNELS} channels generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The same sales at every size (same seed).
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    for i in 0..opts.catalogue_orders {
        let lines: Vec<serde_json::Value> = (0..rng.usize(1..=3))
            .map(|_| json!({ "sku": skus[rng.usize(..skus.len())], "quantity": rng.i64(1..=2) }))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let lines: Vec<_> = lines
            .into_iter()
            .filter(|l| seen.insert(l["sku"].to_string()))
            .collect();
        sims[i % CHANNELS]
            .place_order(&json!({ "lines": lines }))
            .await?;
    }
    for c in &channels {
        rig.storage
            .enqueue_job(c, JobKind::Import, json!({}))
            .await?;
    }
    let statements = super::statements();
    let started = Instant::now();
    let mut created = 0;
    for s in futures::future::join_all(channels.iter().map(|c| engine.import_channel(c))).await {
        let s = s?;
        ensure!(s.error.is_none(), "import failed: {:?}", s.error);
        created += s.created;
    }
    let sent = drain_pushes(&engine).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let statements = super::statements() - statements;
    let peak = peak_rss_mb()?;
    ensure!(
        created == opts.catalogue_orders,
        "expected {} orders imported, got {created}",
        opts.catalogue_orders
    );
    println!(
        "    {total} SKUs: {created} orders imported and {sent} stock pushes confirmed in {elapsed:.2} s"
    );
    rig.stop().await;
    for s in sims {
        s.stop().await;
    }
    Ok(Cost {
        skus: total,
        ms_per_order: elapsed * 1000.0 / created as f64,
        statements_per_order: statements as f64 / created as f64,
        peak_rss_mb: peak,
    })
}

/// Push until nothing is due; returns the pushes confirmed.
async fn drain_pushes(engine: &crate::Engine) -> anyhow::Result<usize> {
    let mut sent = 0;
    for _ in 0..1000 {
        let s = engine.push_due().await?;
        ensure!(s.failed == 0, "{} stock pushes failed", s.failed);
        sent += s.sent;
        if s.channels == 0 {
            return Ok(sent);
        }
    }
    anyhow::bail!("stock pushes did not drain")
}
