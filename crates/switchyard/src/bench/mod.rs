//! `switchyard bench`: measured figures of the product, each beside the
//! baseline or goal it is judged by, on the embedded SQLite with the
//! settings the product ships with and channel simulators on loopback.
//!
//! Scenarios:
//! - `import`: orders waiting on simulators → imported, committed and
//!   journalled, against plain batched inserts of the same rows;
//! - `propagation`: a steady stream of sales on five channels, each timed
//!   until every other channel's simulator accepted the new stock, with
//!   order notifications and with polling;
//! - `catalogue`: per-order cost (time, SQL statements) and peak memory
//!   with 10k, 100k and 1M SKUs listed on five channels;
//! - `webhooks`: signed deliveries per second to a loopback receiver in a
//!   burst, and the delay after the change in a steady flow;
//! - `backfill`: a Shopify shop's order history read by a first import,
//!   paged under the cost bucket and as a bulk export;
//! - `scale` (PostgreSQL only): import and propagation with 1, 2 and 3
//!   instances on one database.
//!
//! Tests assert correctness; this command measures. It prints a table and,
//! after it, one JSON object per figure.
#![allow(
    clippy::print_stdout,
    reason = "the benchmark's output is for the person running it"
)]

mod backfill;
mod baseline;
mod catalogue;
mod import;
mod pg;
mod propagation;
mod rig;
mod scale;
mod webhooks;

use std::time::Duration;

use serde_json::json;

/// Which scenarios to run (`switchyard bench <scenario>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Import throughput against plain batched inserts.
    Import,
    /// Propagation latency, notified and polled.
    Propagation,
    /// Catalogue scaling.
    Catalogue,
    /// Webhook delivery.
    Webhooks,
    /// Shopify backfill, paged and as a bulk export.
    Backfill,
    /// 1, 2 and 3 instances on one PostgreSQL database (not part of `All`:
    /// it needs `--database-url`).
    Scale,
    /// All of the above but `Scale`, in that order.
    All,
}

/// Sizes of the runs (the defaults are the figures the goals are set for;
/// smaller ones make a quick check).
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Orders waiting on the simulators in the import run.
    pub import_orders: usize,
    /// Sales per second in the propagation runs.
    pub rate: u32,
    /// Length of each propagation run.
    pub duration: Duration,
    /// Poll cadence of the polled propagation run.
    pub cadence_secs: u32,
    /// Products of each propagation shop (every fifth has three variants);
    /// enough that a SKU can rest between sales at `rate`.
    pub propagation_products: usize,
    /// Catalogue sizes (SKUs) of the scaling run.
    pub catalogue_sizes: Vec<usize>,
    /// Orders processed at each catalogue size.
    pub catalogue_orders: usize,
    /// Webhook deliveries to make in the burst.
    pub webhooks: usize,
    /// Orders imported at each instance count of the scale run.
    pub scale_orders: usize,
    /// Stock changes a second in the webhooks' steady flow.
    pub webhook_rate: u32,
    /// Length of the webhooks' steady flow.
    pub webhook_duration: Duration,
    /// Orders of the Shopify shop in the backfill run.
    pub backfill_orders: usize,
    /// Pages read by the paged backfill (the bulk export reads everything).
    pub backfill_pages: usize,
    /// Seed of the simulated shops and customers.
    pub seed: u64,
    /// A PostgreSQL server to run on (`postgres://…`; each scenario gets a
    /// database of its own there); empty: SQLite files in temporary
    /// directories.
    pub database_url: String,
}

impl BenchOptions {
    fn backend(&self) -> &'static str {
        if self.database_url.is_empty() {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    }
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            import_orders: 50_000,
            rate: 50,
            duration: Duration::from_secs(60),
            cadence_secs: 10,
            propagation_products: 3000,
            catalogue_sizes: vec![10_000, 100_000, 1_000_000],
            catalogue_orders: 2000,
            webhooks: 5_000,
            scale_orders: 10_000,
            webhook_rate: 500,
            webhook_duration: Duration::from_secs(10),
            backfill_orders: 10_000,
            backfill_pages: 40,
            seed: 7,
            database_url: String::new(),
        }
    }
}

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Figure {
    /// `import`, `propagation`, `catalogue` or `webhooks`.
    pub scenario: &'static str,
    /// What was measured.
    pub metric: String,
    /// The figure.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
    /// The baseline measured in the same run, if any.
    pub baseline: Option<f64>,
    /// The goal in words.
    pub goal: Option<String>,
    /// Whether the goal is met.
    pub met: Option<bool>,
}

impl Figure {
    pub(crate) fn new(
        scenario: &'static str,
        metric: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Self {
            scenario,
            metric: metric.into(),
            value,
            unit,
            baseline: None,
            goal: None,
            met: None,
        }
    }

    pub(crate) fn baseline(mut self, b: f64) -> Self {
        self.baseline = Some(b);
        self
    }

    pub(crate) fn goal(mut self, goal: impl Into<String>, met: bool) -> Self {
        self.goal = Some(goal.into());
        self.met = Some(met);
        self
    }
}

/// The figures of a run, printed as they come and as a table at the end.
#[derive(Debug, Default)]
pub struct Report {
    figures: Vec<Figure>,
}

impl Report {
    /// Every figure, in the order measured.
    #[must_use]
    pub fn figures(&self) -> &[Figure] {
        &self.figures
    }

    /// The figure of `scenario` named `metric`.
    #[must_use]
    pub fn figure(&self, scenario: &str, metric: &str) -> Option<&Figure> {
        self.figures
            .iter()
            .find(|f| f.scenario == scenario && f.metric == metric)
    }

    pub(crate) fn add(&mut self, f: Figure) {
        println!(
            "  · {} {}: {} {}",
            f.scenario,
            f.metric,
            show(f.value),
            f.unit
        );
        self.figures.push(f);
    }

    fn print(&self) {
        println!();
        println!(
            "{:<12} {:<44} {:>12} {:<9} {:>12}  {:<28} met",
            "scenario", "figure", "value", "unit", "baseline", "goal"
        );
        for f in &self.figures {
            println!(
                "{:<12} {:<44} {:>12} {:<9} {:>12}  {:<28} {}",
                f.scenario,
                f.metric,
                show(f.value),
                f.unit,
                f.baseline.map_or(String::new(), show),
                f.goal.as_deref().unwrap_or(""),
                match f.met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "",
                }
            );
        }
        println!();
        for f in &self.figures {
            println!(
                "{}",
                json!({
                    "scenario": f.scenario, "figure": f.metric, "value": f.value, "unit": f.unit,
                    "baseline": f.baseline, "goal": f.goal, "met": f.met,
                })
            );
        }
    }
}

fn show(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Now, in microseconds since the Unix epoch (the simulators' and the
/// receiver's clock).
pub(crate) fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// SQL statements executed so far (see [`crate::telemetry::init_counting_sql`]).
pub(crate) fn statements() -> u64 {
    crate::telemetry::SQL_STATEMENTS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Run the chosen scenarios, print their figures and return them.
pub async fn run(scenario: Scenario, opts: &BenchOptions) -> anyhow::Result<Report> {
    anyhow::ensure!(
        opts.database_url.is_empty()
            || opts.database_url.starts_with("postgres://")
            || opts.database_url.starts_with("postgresql://"),
        "bench runs on SQLite files of its own, or on the PostgreSQL server of --database-url postgres://…"
    );
    let result = run_scenarios(scenario, opts).await;
    if !opts.database_url.is_empty() {
        pg::drop_all(&opts.database_url).await;
    }
    result
}

async fn run_scenarios(scenario: Scenario, opts: &BenchOptions) -> anyhow::Result<Report> {
    let mut report = Report::default();
    println!(
        "Switchyard benchmarks ({}, simulators on 127.0.0.1)",
        opts.backend()
    );
    let all = scenario == Scenario::All;
    // The catalogue goes first: its peak memory is measured, and the heap
    // other scenarios leave behind (glibc keeps freed memory) would count.
    if all || scenario == Scenario::Catalogue {
        println!("\ncatalogue: sizes {:?} × 5 channels", opts.catalogue_sizes);
        catalogue::run(opts, &mut report).await?;
    }
    if all || scenario == Scenario::Import {
        println!(
            "\nimport: {} orders waiting on 5 WooCommerce simulators",
            opts.import_orders
        );
        import::run(opts, &mut report).await?;
    }
    if all || scenario == Scenario::Propagation {
        println!(
            "\npropagation: 5 channels, {} sales/s for {} s",
            opts.rate,
            opts.duration.as_secs()
        );
        propagation::run(opts, &mut report).await?;
    }
    if all || scenario == Scenario::Webhooks {
        println!(
            "\nwebhooks: a burst of {} deliveries, then {} changes/s for {} s, to a loopback receiver",
            opts.webhooks,
            opts.webhook_rate,
            opts.webhook_duration.as_secs()
        );
        webhooks::run(opts, &mut report).await?;
    }
    if all || scenario == Scenario::Backfill {
        println!(
            "\nbackfill: a Shopify shop of {} orders, paged ({} pages of 15) and as a bulk export",
            opts.backfill_orders, opts.backfill_pages
        );
        backfill::run(opts, &mut report).await?;
    }
    if scenario == Scenario::Scale {
        println!(
            "\nscale: 1, 2 and 3 instances on one PostgreSQL database; {} orders imported, then {} sales/s for {} s",
            opts.scale_orders,
            opts.rate,
            opts.duration.as_secs()
        );
        scale::run(opts, &mut report).await?;
    }
    report.print();
    Ok(report)
}
