//! Switchyard's application wiring: open storage, build the API, serve.
//!
//! `main.rs` only parses the command line; everything it runs lives here so
//! tests can build the same [`Application`] on a random port.

#[cfg(feature = "sandbox")]
pub mod bench;
pub mod config;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod engine_settings;
pub mod migrate_data;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use switchyard_api::{ApiConfig, AppState, tokens};
use switchyard_domain::ids::StoreId;
use switchyard_storage::crypto::CredentialCipher;
use switchyard_storage::postgres::PgStorage;
use switchyard_storage::sqlite::SqliteStorage;
use switchyard_storage::{Storage, TokenRecord};
use tokio::net::TcpListener;

pub use config::Config;
pub use switchyard_engine::{Clock, Engine, EngineConfig, Retention};

/// Create the data directory (mode 0700) if it does not exist.
pub fn ensure_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict data directory {}", dir.display()))?;
        }
    }
    Ok(())
}

/// Open the database named by the configuration and apply pending migrations.
pub async fn open_storage(config: &Config) -> anyhow::Result<Arc<dyn Storage>> {
    ensure_data_dir(config)?;
    open_database(&config.database_url()).await
}

/// Connect to the database at `url` (`sqlite://…` or `postgres://…`) and
/// bring its schema up to date.
pub async fn open_database(url: &str) -> anyhow::Result<Arc<dyn Storage>> {
    let shown = config::redact_url(url);
    if url.starts_with("sqlite:") {
        let s = SqliteStorage::connect_and_migrate(url)
            .await
            .with_context(|| format!("cannot open database {shown}"))?;
        Ok(Arc::new(s))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = PgStorage::connect_and_migrate(url)
            .await
            .with_context(|| format!("cannot open database {shown}"))?;
        Ok(Arc::new(s))
    } else {
        anyhow::bail!(
            "unsupported database URL {shown}: use sqlite://path/to/file.db or postgres://user@host:port/database"
        )
    }
}

/// Mint a token for account `account` (created if missing), optionally
/// scoped to one store. Returns the secret (to show once) and its record.
pub async fn create_token(
    storage: &dyn Storage,
    account: &str,
    store: Option<StoreId>,
    name: &str,
) -> anyhow::Result<(secrecy::SecretString, TokenRecord)> {
    anyhow::ensure!(
        !account.trim().is_empty(),
        "the account name must not be empty"
    );
    let acc = storage.ensure_account(account).await?;
    let scope = tokens::Scope {
        store,
        plugin: None,
    };
    tokens::issue(storage, acc.id, scope, name.to_owned())
        .await
        .context("cannot create the token (does the store belong to this account?)")
}

/// Add a console user to an account (created if it does not exist) and
/// make their single-use set-password link, starting with `public_url`
/// (or `http://{listen}` when none is set).
pub async fn create_user(
    storage: &dyn Storage,
    config: &Config,
    account: &str,
    email: &str,
    role: switchyard_domain::user::Role,
    stores: Vec<StoreId>,
) -> anyhow::Result<(switchyard_storage::User, String)> {
    anyhow::ensure!(
        !account.trim().is_empty(),
        "the account name must not be empty"
    );
    let acc = storage.ensure_account(account).await?;
    let base = if config.public_url.is_empty() {
        format!("http://{}", config.listen)
    } else {
        config.public_url.clone()
    };
    let links = switchyard_api::console::Links::new(&base);
    let stores = (!stores.is_empty()).then_some(stores);
    switchyard_api::console::invite(storage, &links, &acc.id, email, role, stores)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the user: {e}"))
}

/// The console's settings: `public_url`, and the mailer when `smtp_url`
/// is set.
fn console_config(config: &Config) -> anyhow::Result<switchyard_api::console::ConsoleConfig> {
    let mut console = switchyard_api::console::ConsoleConfig::new(&config.public_url);
    if !config.smtp_url.trim().is_empty() {
        console.mailer = Some(
            switchyard_api::console::mail::Mailer::new(config.smtp_url.trim(), &config.mail_from)
                .context("invalid smtp_url or mail_from")?,
        );
    }
    let shopify = &config.apps.shopify;
    if !shopify.client_id.trim().is_empty() {
        anyhow::ensure!(
            !shopify.client_secret.expose_secret().is_empty(),
            "apps.shopify.client_secret is empty while client_id is set"
        );
        console.shopify = Some(switchyard_api::console::connect::ShopifyApp {
            client_id: shopify.client_id.trim().to_owned(),
            client_secret: shopify.client_secret.clone(),
            scopes: shopify.scopes.clone(),
            shop_url: shopify.shop_url.clone(),
        });
    }
    let etsy = &config.apps.etsy;
    if !etsy.keystring.trim().is_empty() {
        console.etsy = Some(switchyard_api::console::connect::EtsyApp {
            keystring: etsy.keystring.trim().to_owned(),
            scopes: etsy.scopes.clone(),
            connect_url: etsy.connect_url.trim_end_matches('/').to_owned(),
            api_url: etsy.api_url.trim_end_matches('/').to_owned(),
        });
    }
    let ebay = &config.apps.ebay;
    if !ebay.client_id.trim().is_empty() {
        anyhow::ensure!(
            !ebay.client_secret.expose_secret().is_empty() && !ebay.runame.is_empty(),
            "apps.ebay needs client_secret and runame when client_id is set"
        );
        console.ebay = Some(switchyard_api::console::connect::EbayApp {
            client_id: ebay.client_id.trim().to_owned(),
            client_secret: ebay.client_secret.clone(),
            runame: ebay.runame.clone(),
            scopes: ebay.scopes.clone(),
            auth_url: ebay.auth_url.clone(),
            api_url: ebay.api_url.trim_end_matches('/').to_owned(),
        });
    }
    let amazon = &config.apps.amazon;
    if !amazon.application_id.trim().is_empty() {
        anyhow::ensure!(
            !amazon.client_id.is_empty() && !amazon.client_secret.expose_secret().is_empty(),
            "apps.amazon needs client_id and client_secret when application_id is set"
        );
        console.amazon = Some(switchyard_api::console::connect::AmazonApp {
            application_id: amazon.application_id.trim().to_owned(),
            draft: amazon.draft,
            client_id: amazon.client_id.clone(),
            client_secret: amazon.client_secret.clone(),
            consent_url: amazon.consent_url.clone(),
            token_url: amazon.token_url.clone(),
            api_url: amazon.api_url.trim_end_matches('/').to_owned(),
            marketplace_id: amazon.marketplace_id.clone(),
        });
    }
    Ok(console)
}

/// A built server: storage open, listener bound, workers ready.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    /// `/metrics` on its own address (`metrics_listen`), when set.
    metrics: Option<(TcpListener, axum::Router)>,
    storage: Arc<dyn Storage>,
    engine: Option<Engine>,
    /// What the API pokes when it enqueues work or changes stock.
    wake: Arc<tokio::sync::Notify>,
}

impl Application {
    /// Open storage, load the credential key (creating it on first start)
    /// and bind the listener. Port 0 picks a free port.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with(config, config.engine_config()?).await
    }

    /// [`build`](Self::build) with explicit worker settings (tests and the
    /// demo use shorter timeouts).
    pub async fn build_with(config: &Config, mut engine: EngineConfig) -> anyhow::Result<Self> {
        let storage = open_storage(config).await?;
        switchyard_api::operator::install();
        switchyard_engine::measure::describe();
        let cipher = CredentialCipher::load_or_create(&config.key_file())?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let outbound = config.apply_outbound(&mut engine)?;
        let metrics_address = config.metrics_address()?;
        let state = AppState {
            storage: storage.clone(),
            cipher: cipher.clone(),
            config: Arc::new(ApiConfig {
                max_body_bytes: config.max_body_bytes,
                outbound,
                metrics_apart: metrics_address.is_some(),
            }),
            wake: wake.clone(),
            console: Arc::new(console_config(config)?),
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        engine.public_url = config.notification_base(addr);
        if engine.public_url.is_none() && config.role.runs_workers() {
            tracing::warn!(
                "role = workers without public_url: this instance registers no order notifications (set public_url to the API's address; an instance serving the API registers them)"
            );
        }
        engine.lease = chrono::Duration::seconds(i64::from(config.worker_lease_secs.max(1)));
        let engine = config
            .role
            .runs_workers()
            .then(|| Engine::new(storage.clone(), cipher, engine, wake.clone()));
        let metrics = match metrics_address {
            Some(a) => Some((
                TcpListener::bind(a)
                    .await
                    .with_context(|| format!("cannot listen on {a} (metrics_listen)"))?,
                switchyard_api::metrics_router(state.clone()),
            )),
            None => None,
        };
        let router = if config.role.serves_api() {
            switchyard_api::router(state)
        } else {
            switchyard_api::health_router(state)
        };
        Ok(Self {
            listener,
            router,
            metrics,
            wake,
            storage,
            engine,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The storage the server uses.
    #[must_use]
    pub fn storage(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }

    /// The workers, when this process runs them.
    #[must_use]
    pub fn engine(&self) -> Option<Engine> {
        self.engine.clone()
    }

    /// Serve (and run the workers) until `shutdown` completes, then finish
    /// in-flight requests and stop the workers.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(address = %self.listener.local_addr()?, backend = self.storage.backend(), workers = self.engine.is_some(), "switchyard listening");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let metrics = match self.metrics {
            Some((listener, router)) => {
                tracing::info!(address = %listener.local_addr()?, "metrics listening");
                let mut stop = stop_rx.clone();
                Some(tokio::spawn(async move {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = stop.changed().await;
                        })
                        .await
                }))
            }
            None => None,
        };
        let workers = match self.engine {
            Some(e) => tokio::spawn(async move { e.run(stop_rx).await }),
            // No workers here: the API's pokes go to the instances that
            // run them.
            None => tokio::spawn(switchyard_engine::relay_api_wakes(
                self.storage.clone(),
                self.wake,
                stop_rx,
            )),
        };
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("server failed");
        let _ = stop_tx.send(true);
        let _ = workers.await;
        if let Some(m) = metrics {
            let _ = m.await;
        }
        served
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
