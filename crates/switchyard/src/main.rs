//! The `switchyard` command.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use switchyard::config::{Config, LogFormat};
use switchyard_domain::ids::StoreId;

#[cfg(feature = "sandbox")]
mod sandbox_cli;

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
    #[cfg(feature = "sandbox")]
    #[command(flatten)]
    Sandbox(sandbox_cli::SandboxCommand),
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
    match &cli.command {
        #[cfg(feature = "sandbox")]
        Command::Sandbox(command) => command.init_logging(&config),
        _ => switchyard::telemetry::init(config.log_format),
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
        #[cfg(feature = "sandbox")]
        Command::Sandbox(command) => command.run(cli.database_url).await,
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
            print_token(secret.expose_secret(), &rec.id.to_string(), &account);
            Ok(())
        }
    }
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
