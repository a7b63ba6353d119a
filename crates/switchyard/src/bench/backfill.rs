//! Shopify backfill: a shop's order history read by a channel's first
//! import, both ways, each on a fresh simulator (standard plan: a bucket of
//! 2,000 points refilled at 100 a second) and a fresh database:
//! - paged: `orders(first: 15, sortKey: UPDATED_AT)` under the cost bucket,
//!   for `backfill_pages` pages (the rate is steady once the bucket's first
//!   fill is spent, and a whole history would take many minutes);
//! - bulk export: `bulkOperationRunQuery`, looked at until complete, its
//!   JSONL result read by byte ranges, 250 orders a page, to the end.
//!
//! Both count every order read (imported, or skipped as the filters say)
//! over the whole time of the read, starting the export included.

use std::time::Instant;

use anyhow::ensure;
use serde_json::json;

use super::rig::Rig;
use super::{BenchOptions, Figure, Report};
use crate::EngineConfig;

/// Products of the simulated shop.
const PRODUCTS: usize = 50;

pub(crate) async fn run(opts: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let paged = read(opts, false).await?;
    let bulk = read(opts, true).await?;
    report.add(Figure::new(
        "backfill",
        "Shopify backfill, paged under the cost bucket",
        paged,
        "orders/s",
    ));
    report.add(
        Figure::new(
            "backfill",
            "Shopify backfill, bulk export",
            bulk,
            "orders/s",
        )
        .baseline(paged),
    );
    Ok(())
}

/// Orders read per second by a first import of the shop's history.
async fn read(opts: &BenchOptions, bulk: bool) -> anyhow::Result<f64> {
    let sim = switchyard_sim::spawn(
        switchyard_sim::Channel::Shopify,
        &switchyard_sim::SimOptions {
            seed: opts.seed,
            products: PRODUCTS,
            orders: opts.backfill_orders,
            schema: None,
        },
    )
    .await?;
    let mut rig = Rig::start(&opts.database_url, false, EngineConfig::default()).await?;
    let skus: Vec<String> = sim.shown_stock().await?.into_keys().collect();
    rig.catalogue(&skus, &[], 100_000).await?;
    let settings = json!({
        "cadence_secs": 86_400, "download_products": false, "push_notifications": false,
        "order_filters": { "import_unpaid": true, "import_not_ready": true },
    });
    let channel = rig.channel("Shopify", "shopify", &sim, settings).await?;
    let huge = chrono::Duration::days(36_500);
    let engine = rig.engine(EngineConfig {
        // Seeded orders lie in December 2025.
        initial_lookback: chrono::Duration::days(3650),
        bulk_after: if bulk {
            EngineConfig::default().bulk_after
        } else {
            huge
        },
        max_pages: if bulk { 100_000 } else { opts.backfill_pages },
        ..EngineConfig::default()
    })?;
    let started = Instant::now();
    let (mut read, mut pages) = (0usize, 0usize);
    // The export goes on over rounds until its last page; paging stops
    // after its pages (one round).
    for _ in 0..1_000 {
        let s = engine.import_channel(&channel).await?;
        ensure!(s.error.is_none(), "import round failed: {:?}", s.error);
        read += s.created + s.updated + s.unchanged + s.skipped + s.failed;
        pages += s.pages;
        let sync = rig
            .storage
            .get_channel(&channel.account_id, &channel.store_id, &channel.channel_id)
            .await?
            .sync;
        if !bulk || sync.resume.is_none() {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    if bulk {
        ensure!(
            read == opts.backfill_orders,
            "the export read {read} of {} orders",
            opts.backfill_orders
        );
    }
    println!(
        "    {}: {read} orders in {elapsed:.1} s ({pages} pages)",
        if bulk { "bulk export" } else { "paged" }
    );
    rig.stop().await;
    sim.stop().await;
    Ok(read as f64 / elapsed)
}
