//! The sandbox's commands: `demo`, `bench` and `sim` run the channel
//! simulators inside this binary. They are the default-on `sandbox`
//! feature; `cargo build --release --no-default-features` builds a server
//! (`serve`, `migrate`, `migrate-data`, `user`, `token`, `openapi`) that
//! does not link the simulators.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use switchyard::config::Config;

/// The commands that need the simulators.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Run the whole core loop with nothing to set up: the API on a fresh
    /// SQLite file, channel simulators (Shopify and WooCommerce unless
    /// `--channels` says otherwise), simulated customers, and the measured
    /// propagation of every sale.
    Demo {
        /// Channels to simulate and connect, comma-separated (at least two):
        /// shopify, woocommerce, etsy, ebay, bolcom, amazon.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "shopify,woocommerce"
        )]
        channels: Vec<DemoChannel>,
        /// Orders the simulated customers place.
        #[arg(long, default_value_t = 20)]
        orders: usize,
        /// Milliseconds between orders.
        #[arg(long, default_value_t = 300)]
        pace_ms: u64,
        /// Port of the API (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Keep the API and simulators running after the summary, until Ctrl-C.
        #[arg(long)]
        keep_running: bool,
        /// Seed of the simulated shops and customers.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Measure the product: import throughput, propagation latency,
    /// catalogue scaling and webhook delivery, each beside its baseline or
    /// goal (a table, then one JSON object per figure). Build with
    /// `--release`.
    Bench {
        /// What to measure.
        #[arg(value_enum, default_value = "all")]
        scenario: switchyard::bench::Scenario,
        /// import: orders waiting on the simulators.
        #[arg(long, default_value_t = 50_000)]
        orders: usize,
        /// propagation: sales per second.
        #[arg(long, default_value_t = 50)]
        rate: u32,
        /// propagation: seconds of sales per run.
        #[arg(long, default_value_t = 60)]
        duration_secs: u64,
        /// propagation: poll cadence of the polled run, in seconds.
        #[arg(long, default_value_t = 10)]
        cadence_secs: u32,
        /// catalogue: SKU counts, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
        skus: Vec<usize>,
        /// catalogue: orders processed at each size.
        #[arg(long, default_value_t = 2000)]
        catalogue_orders: usize,
        /// webhooks: deliveries to make in the burst.
        #[arg(long, default_value_t = 5000)]
        webhooks: usize,
        /// scale: orders imported at each instance count.
        #[arg(long, default_value_t = 10_000)]
        scale_orders: usize,
        /// webhooks: stock changes a second in the steady flow.
        #[arg(long, default_value_t = 500)]
        webhook_rate: u32,
        /// webhooks: length of the steady flow, in seconds.
        #[arg(long, default_value_t = 10)]
        webhook_secs: u64,
        /// backfill: orders of the Shopify shop.
        #[arg(long, default_value_t = 10_000)]
        backfill_orders: usize,
        /// backfill: pages of 15 read by the paged run.
        #[arg(long, default_value_t = 40)]
        backfill_pages: usize,
        /// Seed of the simulated shops and customers.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Run a channel simulator (a local sandbox of the channel's real API).
    Sim {
        /// Channel to simulate.
        #[arg(value_enum)]
        channel: SimChannel,
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 8801)]
        port: u16,
        /// Address to bind instead of 127.0.0.1.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// Seed of the generated shop and its credentials.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Products to generate (every fifth has three variants).
        #[arg(long, default_value_t = 50)]
        products: usize,
        /// Orders to generate.
        #[arg(long, default_value_t = 20)]
        orders: usize,
        /// Shopify: an Admin API introspection file to validate documents
        /// against instead of the schema built into the simulator (e.g. the
        /// full published `admin_schema_2025-01.json.gz`).
        #[arg(long, value_name = "FILE")]
        schema: Option<PathBuf>,
        /// 3pl: the plugin's signing secret (`whsec_...`, from
        /// `GET /v1/plugins/{id}/secret`).
        #[arg(long, env = "SWITCHYARD_3PL_SECRET", required_if_eq("channel", "3pl"))]
        secret: Option<String>,
        /// 3pl: Switchyard's base URL, where shipments and stock are reported.
        #[arg(long, value_name = "URL")]
        api_url: Option<String>,
        /// 3pl: the plugin token (`POST /v1/plugins/{id}/tokens`).
        #[arg(long, env = "SWITCHYARD_3PL_TOKEN")]
        token: Option<String>,
        /// 3pl: the plugin's id.
        #[arg(long, value_name = "PLUGIN_ID")]
        plugin: Option<String>,
        /// 3pl: milliseconds between accepting an order and shipping it.
        #[arg(long, default_value_t = 2000)]
        ship_after_ms: u64,
        /// 3pl: stock on hand at start, as `SKU=QTY,SKU=QTY`.
        #[arg(long, value_name = "LIST", default_value = "")]
        stock: String,
    },
}

/// Channels the demo can simulate.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DemoChannel {
    Shopify,
    Woocommerce,
    Etsy,
    Ebay,
    Bolcom,
    Amazon,
}

impl DemoChannel {
    fn sim(self) -> switchyard_sim::Channel {
        match self {
            Self::Shopify => switchyard_sim::Channel::Shopify,
            Self::Woocommerce => switchyard_sim::Channel::WooCommerce,
            Self::Etsy => switchyard_sim::Channel::Etsy,
            Self::Ebay => switchyard_sim::Channel::Ebay,
            Self::Bolcom => switchyard_sim::Channel::Bolcom,
            Self::Amazon => switchyard_sim::Channel::Amazon,
        }
    }
}

/// Channels (and the 3PL) with a simulator.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SimChannel {
    Shopify,
    Woocommerce,
    Etsy,
    Ebay,
    Bolcom,
    Amazon,
    /// Xero Accounting API 2.0 (an accounting package).
    Xero,
    /// Sage Business Cloud Accounting v3.1 (an accounting package).
    Sage,
    /// A fulfilment centre speaking the plugin protocol.
    #[value(name = "3pl")]
    ThreePl,
}

impl SandboxCommand {
    /// Start logging as this command wants it (quiet for the demo, SQL
    /// statements counted for the benchmarks).
    pub fn init_logging(&self, config: &Config) {
        match self {
            Self::Bench { .. } => {
                switchyard::telemetry::init_counting_sql(config.log_format, "warn,sqlx=warn");
            }
            Self::Demo { .. } => {
                switchyard::telemetry::init_with_default(config.log_format, "warn,sqlx=warn");
            }
            Self::Sim { .. } => switchyard::telemetry::init(config.log_format),
        }
    }

    /// Run it; `database_url` is only the command line's (a configured
    /// production database is never where benchmarks run).
    pub async fn run(self, database_url: Option<String>) -> anyhow::Result<()> {
        match self {
            Self::Demo {
                channels,
                orders,
                pace_ms,
                port,
                keep_running,
                seed,
            } => {
                switchyard::demo::run(switchyard::demo::DemoOptions {
                    orders,
                    pace: std::time::Duration::from_millis(pace_ms),
                    port,
                    keep_running,
                    seed,
                    channels: channels.into_iter().map(DemoChannel::sim).collect(),
                })
                .await
            }
            Self::Bench {
                scenario,
                orders,
                rate,
                duration_secs,
                cadence_secs,
                skus,
                catalogue_orders,
                webhooks,
                scale_orders,
                webhook_rate,
                webhook_secs,
                backfill_orders,
                backfill_pages,
                seed,
            } => {
                anyhow::ensure!(
                    orders > 0
                        && rate > 0
                        && duration_secs > 0
                        && cadence_secs > 0
                        && webhook_rate > 0
                        && webhook_secs > 0
                        && backfill_orders > 0
                        && backfill_pages > 0,
                    "--orders, --rate, --duration-secs, --cadence-secs, --webhook-rate, --webhook-secs, --backfill-orders and --backfill-pages must be positive"
                );
                switchyard::bench::run(
                    scenario,
                    &switchyard::bench::BenchOptions {
                        import_orders: orders,
                        rate,
                        duration: std::time::Duration::from_secs(duration_secs),
                        cadence_secs,
                        propagation_products: 3000,
                        catalogue_sizes: skus,
                        catalogue_orders,
                        webhooks,
                        scale_orders,
                        webhook_rate,
                        webhook_duration: std::time::Duration::from_secs(webhook_secs),
                        backfill_orders,
                        backfill_pages,
                        seed,
                        // Only the command line's: a configured production
                        // database is never where benchmarks run.
                        database_url: database_url.unwrap_or_default(),
                    },
                )
                .await
                .map(drop)
            }
            Self::Sim {
                channel,
                port,
                host,
                seed,
                products,
                orders,
                schema,
                secret,
                api_url,
                token,
                plugin,
                ship_after_ms,
                stock,
            } => {
                let channel = match channel {
                    SimChannel::Shopify => switchyard_sim::Channel::Shopify,
                    SimChannel::Woocommerce => switchyard_sim::Channel::WooCommerce,
                    SimChannel::Etsy => switchyard_sim::Channel::Etsy,
                    SimChannel::Ebay => switchyard_sim::Channel::Ebay,
                    SimChannel::Bolcom => switchyard_sim::Channel::Bolcom,
                    SimChannel::Amazon => switchyard_sim::Channel::Amazon,
                    SimChannel::Xero => switchyard_sim::Channel::Xero,
                    SimChannel::Sage => switchyard_sim::Channel::Sage,
                    SimChannel::ThreePl => {
                        let opts = switchyard_sim::threepl::ThreePlOptions {
                            secret: secret.context("--secret is required for the 3pl simulator")?,
                            api_url,
                            token,
                            plugin_id: plugin,
                            ship_after: std::time::Duration::from_millis(ship_after_ms),
                            stock: parse_stock_list(&stock)?,
                            seed,
                        };
                        let listener = tokio::net::TcpListener::bind((host, port))
                            .await
                            .with_context(|| format!("cannot listen on {host}:{port}"))?;
                        let sim = switchyard_sim::threepl::spawn_on(opts, listener)?;
                        print_3pl(&sim);
                        switchyard::shutdown_signal().await;
                        sim.stop().await;
                        return Ok(());
                    }
                };
                let opts = switchyard_sim::SimOptions {
                    seed,
                    products,
                    orders,
                    schema,
                };
                let listener = tokio::net::TcpListener::bind((host, port))
                    .await
                    .with_context(|| format!("cannot listen on {host}:{port}"))?;
                let sim = switchyard_sim::spawn_on(channel, &opts, listener)?;
                print_sim(channel.as_str(), &sim);
                switchyard::shutdown_signal().await;
                sim.stop().await;
                Ok(())
            }
        }
    }
}

/// `SKU=QTY,SKU=QTY` into figures.
fn parse_stock_list(s: &str) -> anyhow::Result<std::collections::BTreeMap<String, i64>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (sku, q) = p
                .split_once('=')
                .with_context(|| format!("`{p}` is not SKU=QTY"))?;
            let q: i64 = q
                .trim()
                .parse()
                .with_context(|| format!("`{p}`: the quantity is not a whole number"))?;
            anyhow::ensure!(q >= 0, "`{p}`: the quantity is negative");
            Ok((sku.trim().to_owned(), q))
        })
        .collect()
}

#[allow(clippy::print_stdout)]
fn print_3pl(sim: &switchyard_sim::threepl::RunningThreePl) {
    println!("3pl simulator listening on {}", sim.base_url());
    println!(
        "plugin URL (for POST /v1/stores/{{id}}/plugins): {}",
        sim.orders_url()
    );
    println!(
        "control API: {0}/_sim/orders, {0}/_sim/stock, {0}/_sim/faults, {0}/_sim/requests",
        sim.base_url()
    );
}

#[allow(clippy::print_stdout)]
fn print_sim(channel: &str, sim: &switchyard_sim::RunningSim) {
    println!("{channel} simulator listening on {}", sim.base_url());
    println!("credentials: {}", sim.credentials);
    println!(
        "control API: {0}/_sim/status, {0}/_sim/faults, {0}/_sim/requests",
        sim.base_url()
    );
}
