//! Scale: 1, 2 and 3 instances on one PostgreSQL database share the
//! work, as `serve` processes with `role = "workers"` would (here in one
//! process, each with its own engine, connection pool and worker id).
//!
//! - **Import:** orders waiting on five WooCommerce simulators, imported
//!   by the instances' own workers (leases decide who imports which
//!   channel); orders stored per second until the last one is stored.
//! - **Propagation:** the notified run of `propagation`, with the
//!   instances sharing imports and pushes.
//!
//! What this 2-core machine can show: that instances share the work
//! safely and what coordination costs (leases, cross-instance wake-ups).
//! What it cannot: more throughput. Every instance, the simulators and
//! PostgreSQL share the same two cores, so added instances add contention,
//! not capacity.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use serde_json::json;
use switchyard_domain::ids::AccountId;

use super::rig::{Rig, kits_of, seed_orders, woo_shops};
use super::{BenchOptions, Figure, Report};
use crate::EngineConfig;

const CHANNELS: usize = 5;
const PRODUCTS: usize = 200;

pub(crate) async fn run(opts: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    ensure!(
        !opts.database_url.is_empty(),
        "scale runs several instances on one PostgreSQL database: give --database-url postgres://…"
    );
    println!(
        "    (2 cores: instances, simulators and PostgreSQL share them; this shows safe sharing and its cost, not added capacity)"
    );
    for instances in 1..=3 {
        import(opts, report, instances).await?;
    }
    for instances in 1..=3 {
        super::propagation::measure(opts, report, "scale", None, instances).await?;
    }
    Ok(())
}

/// The import with `instances` worker instances; the rig itself serves
/// the API only.
async fn import(opts: &BenchOptions, report: &mut Report, instances: usize) -> anyhow::Result<()> {
    let per_channel = opts.scale_orders.div_ceil(CHANNELS);
    let mut rig = Rig::start(&opts.database_url, false, EngineConfig::default()).await?;
    let sims = woo_shops(CHANNELS, opts.seed, PRODUCTS).await?;
    let skus: Vec<String> = sims[0].shown_stock().await?.into_keys().collect();
    rig.catalogue(&skus, &kits_of(&skus), 100_000).await?;
    let settings = json!({
        "cadence_secs": 86_400, "download_products": true, "auto_sync_stock": true,
        "push_notifications": false,
        "order_filters": { "import_unpaid": true, "import_not_ready": true },
    });
    let channels = rig.woo_channels(&sims, &settings).await?;
    seed_orders(&sims, opts.seed, PRODUCTS, per_channel).await?;
    let account: AccountId = channels
        .first()
        .map(|c| c.account_id.clone())
        .ok_or_else(|| anyhow::anyhow!("no channel"))?;
    let store = channels[0].store_id.clone();
    let engine = EngineConfig {
        // Seeded orders lie in December 2025.
        initial_lookback: chrono::Duration::days(3650),
        max_pages: 100_000,
        ..EngineConfig::default()
    };
    let started = Instant::now();
    let mut running = Vec::with_capacity(instances);
    for _ in 0..instances {
        running.push(rig.add_instance(engine.clone()).await?);
    }
    // Stored orders, until no more arrive for 3 s (orders cancelled before
    // import are skipped, so the total is not known in advance).
    let (mut stored, mut last_change) = (0i64, started);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = rig.storage.count_orders(&account, &store).await?;
        if now != stored {
            stored = now;
            last_change = Instant::now();
        } else if stored > 0 && last_change.elapsed() > Duration::from_secs(3) {
            break;
        }
        if started.elapsed() > Duration::from_secs(1200) {
            bail!("{stored} orders stored in 20 minutes");
        }
    }
    let total = per_channel * CHANNELS;
    ensure!(
        stored as usize * 20 >= total * 19,
        "only {stored} of {total} orders were imported"
    );
    let elapsed = (last_change - started).as_secs_f64();
    println!("    {instances} instance(s): {stored} orders stored in {elapsed:.1} s");
    report.add(Figure::new(
        "scale",
        format!("import, {instances} instance(s): orders per second"),
        stored as f64 / elapsed,
        "orders/s",
    ));
    for mut i in running {
        i.stop().await;
    }
    rig.stop().await;
    for s in sims {
        s.stop().await;
    }
    Ok(())
}
