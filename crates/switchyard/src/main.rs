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
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
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
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = config(&cli)?;
    switchyard::telemetry::init(config.log_format);
    match cli.command {
        Command::Serve { listen } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            tracing::debug!(?config, "configuration");
            let app = switchyard::Application::build(&config).await?;
            app.run_until_stopped(switchyard::shutdown_signal()).await
        }
        Command::Migrate => {
            let storage = switchyard::open_storage(&config).await?;
            tracing::info!(backend = storage.backend(), "migrations applied");
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
    }
}

#[allow(clippy::print_stdout)]
fn print_token(secret: &str, id: &str, account: &str) {
    eprintln!("Created token {id} for account `{account}`. It is shown only this once:");
    println!("{secret}");
}
