//! The `switchyard` command.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchyard::config::{Config, LogFormat};
use switchyard_domain::ids::StoreId;

/// Switchyard: multichannel commerce hub.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    /// Configuration file (default: ./switchyard.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the embedded database and the key file.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (default: SQLite file in the data directory).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (creates and migrates the database on start).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// What this instance runs (default all): the API, the workers, or both.
        #[arg(long, value_enum)]
        role: Option<switchyard::config::Role>,
    },
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
        scenario: BenchScenario,
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
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document the server serves at /v1/openapi.json
    /// (pretty JSON; `docs/openapi.json` is this output).
    Openapi,
    /// Copy this installation from its SQLite database into an empty
    /// PostgreSQL database (stop the server first; run again to resume an
    /// interrupted copy). Keep the data directory: its key file opens the
    /// copied credentials.
    MigrateData {
        /// The SQLite database (default: the configured one).
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// The PostgreSQL database, e.g. postgres://switchyard@localhost/switchyard.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Manage the console's users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
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
enum DemoChannel {
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

/// Benchmark scenarios.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BenchScenario {
    Import,
    Propagation,
    Catalogue,
    Webhooks,
    /// A Shopify shop's order history, paged and as a bulk export.
    Backfill,
    /// 1, 2 and 3 instances on one PostgreSQL database (needs --database-url).
    Scale,
    All,
}

/// Channels (and the 3PL) with a simulator.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SimChannel {
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

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user to an account (created if it does not exist) and print
    /// their single-use link to set a password and sign in to the console.
    Create {
        /// Account name.
        #[arg(long)]
        account: String,
        /// The user's email (how they sign in).
        #[arg(long)]
        email: String,
        /// owner (everything) or staff (everything but users and tokens).
        #[arg(long, default_value = "owner")]
        role: String,
        /// Limit a staff user to this store (repeat for several).
        #[arg(long = "store", value_name = "STORE_ID")]
        stores: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token (and the account, if it does not exist). The token is printed once.
    Create {
        /// Account name.
        #[arg(long)]
        account: String,
        /// Limit the token to one store of the account.
        #[arg(long, value_name = "STORE_ID")]
        store: Option<String>,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

fn config(cli: &Cli) -> anyhow::Result<Config> {
    let mut c = Config::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        c.data_dir = d.clone();
    }
    if let Some(u) = &cli.database_url {
        c.database_url = u.clone();
    }
    if let Some(f) = cli.log_format {
        c.log_format = f;
    }
    Ok(c)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause said once (a cause
/// whose text its parent already quotes is skipped).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    let mut last = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !last.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        last = text;
    }
    line
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = config(&cli)?;
    if matches!(cli.command, Command::Bench { .. }) {
        switchyard::telemetry::init_counting_sql(config.log_format, "warn,sqlx=warn");
    } else if matches!(cli.command, Command::Demo { .. }) {
        switchyard::telemetry::init_with_default(config.log_format, "warn,sqlx=warn");
    } else {
        switchyard::telemetry::init(config.log_format);
    }
    match cli.command {
        Command::Serve { listen, role } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Some(r) = role {
                config.role = r;
            }
            tracing::debug!(?config, "configuration");
            let app = switchyard::Application::build(&config).await?;
            app.run_until_stopped(switchyard::shutdown_signal()).await
        }
        Command::Demo {
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
        Command::Bench {
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
            use switchyard::bench::Scenario;
            let scenario = match scenario {
                BenchScenario::Import => Scenario::Import,
                BenchScenario::Propagation => Scenario::Propagation,
                BenchScenario::Catalogue => Scenario::Catalogue,
                BenchScenario::Webhooks => Scenario::Webhooks,
                BenchScenario::Backfill => Scenario::Backfill,
                BenchScenario::Scale => Scenario::Scale,
                BenchScenario::All => Scenario::All,
            };
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
                    database_url: cli.database_url.clone().unwrap_or_default(),
                },
            )
            .await
            .map(drop)
        }
        Command::MigrateData { from, to } => {
            let from = from.unwrap_or_else(|| config.database_url());
            use switchyard::migrate_data::{CHUNK, Step, copy};
            // A line per table, and one every 2 s on a long table.
            let mut shown = std::time::Instant::now();
            let report = copy(&from, &to, CHUNK, |step| {
                let line = match step {
                    Step::Resuming => {
                        Some("taking up an interrupted copy where it stopped".to_owned())
                    }
                    Step::AlreadyComplete => {
                        Some("the copy is already complete; nothing to do".to_owned())
                    }
                    Step::Rows {
                        table,
                        copied,
                        total,
                        done,
                    } => (done || shown.elapsed() >= std::time::Duration::from_secs(2))
                        .then(|| format!("{table}: {copied} of {total} rows")),
                    Step::Complete => Some("copy complete".to_owned()),
                };
                if let Some(line) = line {
                    eprintln!("migrate-data: {line}");
                    shown = std::time::Instant::now();
                }
                std::ops::ControlFlow::Continue(())
            })
            .await?;
            let rows: u64 = report.rows.values().sum();
            if !report.already_complete {
                eprintln!(
                    "migrate-data: {rows} rows in {} tables copied to {}; start serve with --database-url on it",
                    report.rows.len(),
                    switchyard::config::redact_url(&to)
                );
            }
            Ok(())
        }
        Command::Openapi => {
            let doc = serde_json::to_string_pretty(&switchyard_api::openapi())?;
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, doc.as_bytes())?;
            std::io::Write::write_all(&mut out, b"\n")?;
            Ok(())
        }
        Command::Migrate => {
            let storage = switchyard::open_storage(&config).await?;
            tracing::info!(backend = storage.backend(), "migrations applied");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    account,
                    email,
                    role,
                    stores,
                },
        } => {
            let role = switchyard_domain::user::Role::parse(&role).context("invalid --role")?;
            let stores = stores
                .iter()
                .map(|s| StoreId::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .context("invalid --store")?;
            let storage = switchyard::open_storage(&config).await?;
            let (user, link) =
                switchyard::create_user(storage.as_ref(), &config, &account, &email, role, stores)
                    .await?;
            print_user_link(&user, &account, &link);
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    account,
                    store,
                    name,
                },
        } => {
            let store = store
                .map(|s| StoreId::parse(&s))
                .transpose()
                .context("invalid --store")?;
            let storage = switchyard::open_storage(&config).await?;
            let (secret, rec) =
                switchyard::create_token(storage.as_ref(), &account, store, &name).await?;
            print_token(&secret, &rec.id.to_string(), &account);
            Ok(())
        }
        Command::Sim {
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

#[allow(clippy::print_stdout)]
fn print_user_link(user: &switchyard_storage::User, account: &str, link: &str) {
    eprintln!(
        "Created {} user {} ({}) in account `{account}`. Open this single-use link to set a password and sign in (it expires in 72 hours):",
        user.role.as_str(),
        user.email,
        user.id
    );
    println!("{link}");
}

#[allow(clippy::print_stdout)]
fn print_token(secret: &str, id: &str, account: &str) {
    eprintln!("Created token {id} for account `{account}`. It is shown only this once:");
    println!("{secret}");
}
