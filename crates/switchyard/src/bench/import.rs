//! Import throughput: orders waiting on five WooCommerce simulators are
//! imported by the engine's import rounds (HTTP, mapping, filters, upsert,
//! commitments, journal, cursor), the channels concurrently as in
//! production, with the stock pusher's looks setting the push targets of
//! the SKUs they changed beside them. The baseline inserts the same rows into a
//! fresh database of the same backend, 100 orders per transaction with one
//! multi-row statement per table; on SQLite the engine's own limit (one
//! `INSERT … SELECT`) is printed beside it for reference.

use std::time::Instant;

use anyhow::{Context, ensure};
use serde_json::json;
use switchyard_storage::JobKind;

use super::rig::{Rig, kits_of, seed_orders, woo_shops};
use super::{BenchOptions, Figure, Report, baseline};
use crate::EngineConfig;

/// Channels the orders wait on.
const CHANNELS: usize = 5;
/// Products of each simulated shop (every fifth has three variants).
const PRODUCTS: usize = 200;

pub(crate) async fn run(opts: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let per_channel = opts.import_orders.div_ceil(CHANNELS);
    let mut rig = Rig::start(&opts.database_url, false, EngineConfig::default()).await?;
    let sims = woo_shops(CHANNELS, opts.seed, PRODUCTS).await?;
    let skus: Vec<String> = sims[0].shown_stock().await?.into_keys().collect();
    let kits = kits_of(&skus);
    rig.catalogue(&skus, &kits, 100_000).await?;
    let settings = json!({
        "cadence_secs": 86_400, "download_products": true, "auto_sync_stock": true,
        "push_notifications": false,
        // Every order is imported (unpaid, fulfilled and cancelled ones too),
        // so each one takes the whole path.
        "order_filters": { "import_unpaid": true, "import_not_ready": true },
    });
    let channels = rig.woo_channels(&sims, &settings).await?;
    let engine = rig.engine(EngineConfig {
        // Seeded orders lie in December 2025.
        initial_lookback: chrono::Duration::days(3650),
        max_pages: 100_000,
        ..EngineConfig::default()
    })?;
    // First the listings (so imports enqueue real stock pushes), no orders yet.
    let now = chrono::Utc::now();
    let first =
        futures::future::join_all(channels.iter().map(|c| engine.listings().download(c, now)))
            .await;
    for s in first {
        let s = s?;
        ensure!(
            s.failed == 0 && s.listings > 0,
            "listings download failed: {s:?}"
        );
    }
    // Now the orders arrive: the same catalogue (same product ids), new history.
    seed_orders(&sims, opts.seed, PRODUCTS, per_channel).await?;
    for c in &channels {
        rig.storage
            .enqueue_job(c, JobKind::Import, json!({}))
            .await?;
    }
    let journal_before = baseline::journal_seq(&rig.database_url()).await?;
    let statements = super::statements();
    let started = Instant::now();
    // The stock pusher's looks run beside the rounds, as in production: each
    // recomputes the targets of the SKUs the pages marked since the last
    // (the pushes themselves are not sent; the baseline sends none either).
    let importing = std::sync::atomic::AtomicBool::new(true);
    let settling = async {
        let mut settled = switchyard_storage::SettledTargets::default();
        loop {
            let running = importing.load(std::sync::atomic::Ordering::Acquire);
            let s = engine.stock_push().settle().await?;
            settled.skus += s.skus;
            settled.pushes += s.pushes;
            if s.skus == 0 {
                if !running {
                    return anyhow::Ok(settled);
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    };
    let importing_ref = &importing;
    let rounds = async {
        let rounds =
            futures::future::join_all(channels.iter().map(|c| engine.import_channel(c))).await;
        importing_ref.store(false, std::sync::atomic::Ordering::Release);
        rounds
    };
    let (rounds, settled) = tokio::join!(rounds, settling);
    let pushes = settled?.pushes;
    let elapsed = started.elapsed().as_secs_f64();
    let statements = super::statements() - statements;
    let (mut created, mut failed, mut skipped, mut pages) = (0, 0, 0, 0);
    for s in rounds {
        let s = s?;
        ensure!(s.error.is_none(), "import round failed: {:?}", s.error);
        created += s.created;
        failed += s.failed;
        skipped += s.skipped;
        pages += s.pages;
    }
    let total = per_channel * CHANNELS;
    // Orders cancelled before we ever saw them are read and skipped, as in
    // production; everything else is imported.
    ensure!(
        created + skipped == total && failed == 0 && skipped * 20 < total,
        "expected {total} orders read; created {created}, failed {failed}, skipped {skipped}"
    );
    let ours = created as f64 / elapsed;
    println!(
        "    {statements} SQL statements ({:.1} per order)",
        statements as f64 / created.max(1) as f64
    );
    println!(
        "    imported {created} orders (and skipped {skipped} cancelled before import) in {elapsed:.2} s ({pages} pages, {pushes} stock push targets set)"
    );
    rig.stop().await;
    for s in sims {
        s.stop().await;
    }
    let base = baseline::run(
        &rig.database_url(),
        rig.dir(),
        &opts.database_url,
        journal_before,
    )
    .await
    .context("baseline")?;
    let limit = baseline::engine_limit(&rig.database_url(), rig.dir(), journal_before)
        .await
        .context("engine limit")?;
    let sqlite = opts.database_url.is_empty();
    let mut figure = Figure::new("import", "orders imported per second", ours, "orders/s")
        .baseline(base.orders_per_sec);
    if sqlite {
        figure = figure.goal("≥ 1,500 orders/s", ours >= 1_500.0);
    }
    report.add(figure);
    let ratio = ours / base.orders_per_sec * 100.0;
    report.add(
        Figure::new("import", "share of batched multi-row inserts", ratio, "%")
            .goal("≥ 50 %", ratio >= 50.0),
    );
    if let Some(limit) = limit {
        report.add(Figure::new(
            "import",
            "engine limit (INSERT … SELECT, one transaction)",
            limit,
            "orders/s",
        ));
    }
    println!(
        "    baseline: {} orders with {} lines, {} commitments, {} journal events, {} stock pushes in {:.2} s",
        base.orders, base.lines, base.commitments, base.events, base.pushes, base.seconds
    );
    Ok(())
}
