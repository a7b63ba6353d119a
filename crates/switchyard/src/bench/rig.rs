//! What every scenario sets up: the server on a fresh database (a SQLite
//! file in a temporary directory, or a new PostgreSQL database), a token, a
//! store, its catalogue and channels.

use std::sync::Arc;

use anyhow::Context;
use serde_json::{Value, json};
use switchyard_domain::ids::ChannelId;
use switchyard_sim::RunningSim;
use switchyard_storage::crypto::CredentialCipher;
use switchyard_storage::{ChannelRef, Storage};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Role;
use crate::demo::{Api, channel_credentials};
use crate::{Application, Config, Engine, EngineConfig};

/// A running server with one store.
pub(crate) struct Rig {
    data: tempfile::TempDir,
    pub(crate) config: Config,
    pub(crate) api: Api,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) store: String,
    server: Instance,
}

/// One running `serve` process's worth of server, in this process.
pub(crate) struct Instance {
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Instance {
    fn run(app: Application) -> Self {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = stop_rx.await;
        }));
        Self {
            stop: Some(stop_tx),
            server: Some(server),
        }
    }

    /// Stop it: it finishes what it is doing, as on SIGTERM.
    pub(crate) async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }
}

impl Rig {
    /// Start the server; with `workers`, its workers run as in production
    /// (with `engine`'s settings), else scenarios drive an engine by steps.
    /// `server` is the PostgreSQL server to run on, empty for SQLite.
    pub(crate) async fn start(
        server: &str,
        workers: bool,
        engine: EngineConfig,
    ) -> anyhow::Result<Self> {
        let data = tempfile::Builder::new()
            .prefix("switchyard-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        let mut config = Config::load(None)?;
        config.data_dir = data.path().to_path_buf();
        config.database_url = if server.is_empty() {
            String::new()
        } else {
            super::pg::fresh(server).await?
        };
        config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        config.public_url = String::new();
        config.role = if workers { Role::All } else { Role::Api };
        // The receivers and simulators are on loopback.
        config.outbound_allow = "127.0.0.1/32".into();
        let app = Application::build_with(&config, engine).await?;
        let addr = app.local_addr()?;
        let storage = app.storage();
        let server = Instance::run(app);
        let (api, store) =
            Api::with_new_store(storage.as_ref(), addr, "bench", "Bench store").await?;
        Ok(Self {
            data,
            config,
            api,
            storage,
            store,
            server,
        })
    }

    /// Another instance on the rig's PostgreSQL database, running the
    /// workers only (as `serve` with `role = "workers"` would), with
    /// `engine`'s settings.
    pub(crate) async fn add_instance(&self, engine: EngineConfig) -> anyhow::Result<Instance> {
        anyhow::ensure!(
            !self.config.database_url.is_empty(),
            "instances share a PostgreSQL database: run with --database-url postgres://…"
        );
        let mut config = self.config.clone();
        config.role = Role::Workers;
        config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        // Channels reach the rig's API, as an operator sets `public_url`
        // to the load balancer on every instance.
        config.public_url.clone_from(&self.api.base);
        Ok(Instance::run(
            Application::build_with(&config, engine).await?,
        ))
    }

    /// The database URL the server runs on.
    pub(crate) fn database_url(&self) -> String {
        self.config.database_url()
    }

    /// The temporary directory (for baseline files beside the database).
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// An engine over the server's storage, to drive by steps.
    pub(crate) fn engine(&self, mut config: EngineConfig) -> anyhow::Result<Engine> {
        self.config.apply_outbound(&mut config)?;
        let cipher = CredentialCipher::load_or_create(&self.config.key_file())?;
        Ok(Engine::new(
            self.storage.clone(),
            cipher,
            config,
            Arc::new(tokio::sync::Notify::new()),
        ))
    }

    /// Create the products (kits with their components) and set every
    /// plain SKU's stock to `quantity`.
    pub(crate) async fn catalogue(
        &self,
        skus: &[String],
        kits: &[(String, Vec<(String, i64)>)],
        quantity: i64,
    ) -> anyhow::Result<()> {
        let store = &self.store;
        let is_kit = |s: &str| kits.iter().any(|(k, _)| k == s);
        for sku in skus.iter().filter(|s| !is_kit(s)) {
            self.api
                .send(
                    reqwest::Method::POST,
                    &format!("/v1/stores/{store}/products"),
                    Some(json!({ "sku": sku, "title": sku })),
                )
                .await?;
        }
        for (kit, parts) in kits {
            let parts: Vec<Value> = parts
                .iter()
                .map(|(s, q)| json!({ "sku": s, "quantity": q }))
                .collect();
            self.api
                .send(
                    reqwest::Method::POST,
                    &format!("/v1/stores/{store}/products"),
                    Some(json!({ "sku": kit, "title": kit, "components": parts })),
                )
                .await?;
        }
        let plain: Vec<&String> = skus.iter().filter(|s| !is_kit(s)).collect();
        for chunk in plain.chunks(500) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|s| json!({ "sku": s, "quantity": quantity }))
                .collect();
            self.api
                .send(
                    reqwest::Method::POST,
                    &format!("/v1/stores/{store}/stock"),
                    Some(json!({ "items": items })),
                )
                .await?;
        }
        Ok(())
    }

    /// Connect a simulated channel with `settings`; returns its reference.
    pub(crate) async fn channel(
        &self,
        name: &str,
        kind: &str,
        sim: &RunningSim,
        settings: Value,
    ) -> anyhow::Result<ChannelRef> {
        let creds = channel_credentials(kind, sim);
        let store = &self.store;
        let ch = self
            .api
            .send(
                reqwest::Method::POST,
                &format!("/v1/stores/{store}/channels"),
                Some(
                    json!({ "name": name, "kind": kind, "base_url": sim.base_url(),
                             "credentials": creds, "settings": settings }),
                ),
            )
            .await?;
        let id = ChannelId::parse(ch["id"].as_str().context("channel without id")?)?;
        self.storage
            .find_channel(&id)
            .await?
            .context("the new channel is not in storage")
    }

    /// Stop the server (the directory goes when the rig is dropped).
    pub(crate) async fn stop(&mut self) {
        self.server.stop().await;
    }
}

/// Give each simulator in `sims` `orders` new orders of its seeded shop of
/// `products` products (the same catalogue, a new history).
pub(crate) async fn seed_orders(
    sims: &[RunningSim],
    seed: u64,
    products: usize,
    orders: usize,
) -> anyhow::Result<()> {
    for sim in sims {
        reqwest::Client::new()
            .post(format!("{}/_sim/seed", sim.base_url()))
            .json(&json!({ "seed": seed, "products": products, "orders": orders }))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

/// `n` WooCommerce simulators with the same seeded shop of `products`
/// products and no orders.
pub(crate) async fn woo_shops(
    n: usize,
    seed: u64,
    products: usize,
) -> anyhow::Result<Vec<RunningSim>> {
    let opts = switchyard_sim::SimOptions {
        seed,
        products,
        orders: 0,
        schema: None,
    };
    let mut sims = Vec::with_capacity(n);
    for _ in 0..n {
        sims.push(switchyard_sim::spawn(switchyard_sim::Channel::WooCommerce, &opts).await?);
    }
    Ok(sims)
}

impl Rig {
    /// Connect each of `sims` as WooCommerce channel `Woo {n}` with `settings`.
    pub(crate) async fn woo_channels(
        &self,
        sims: &[RunningSim],
        settings: &Value,
    ) -> anyhow::Result<Vec<ChannelRef>> {
        let mut channels = Vec::with_capacity(sims.len());
        for (i, sim) in sims.iter().enumerate() {
            channels.push(
                self.channel(
                    &format!("Woo {}", i + 1),
                    "woocommerce",
                    sim,
                    settings.clone(),
                )
                .await?,
            );
        }
        Ok(channels)
    }
}

/// Every tenth plain SKU of a simulator catalogue becomes a kit of the two
/// plain SKUs before it (1 × and 2 ×), as shops sell bundles.
pub(crate) fn kits_of(skus: &[String]) -> Vec<(String, Vec<(String, i64)>)> {
    let plain: Vec<&String> = skus
        .iter()
        .filter(|s| s.matches('-').count() == 1)
        .collect();
    plain
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 == 9)
        .map(|(i, k)| {
            (
                (*k).clone(),
                vec![(plain[i - 2].clone(), 1), (plain[i - 1].clone(), 2)],
            )
        })
        .collect()
}
