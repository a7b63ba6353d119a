//! Faithful local simulators of the sales channels' HTTP APIs.
//!
//! Each simulator serves the channel's real paths, field names, pagination,
//! auth headers, error bodies and rate-limit behaviour, written from the
//! published contracts in `channel-specs/`. It keeps its state in memory, is
//! seeded deterministically, and has a control API under `/_sim` to place
//! and change orders as a customer would, read back what a connector pushed,
//! read the request log, and inject faults (429 with `Retry-After`, 5xx,
//! slow and malformed responses, repeated and shuffled list items, revoked
//! credentials).
//!
//! This crate imports no other Switchyard crate: it stands for the outside
//! world, and must not share our assumptions.

#![recursion_limit = "256"]

pub mod amazon;
pub mod bolcom;
mod books;
mod consent;
mod core;
pub mod ebay;
pub mod etsy;
pub mod receiver;
pub mod sage;
pub mod seed;
pub mod shopify;
mod signing;
pub mod threepl;
pub mod woocommerce;
pub mod xero;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use core::{Delivery, Faults, LogEntry, StockAccepted};

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The GraphQL schema file could not be read or is not a valid schema.
    #[error("cannot load the GraphQL schema from {path}: {reason}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The options are unusable.
    #[error("{0}")]
    Config(String),
    /// The listener could not be bound or served.
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
    /// The control API could not be reached or read.
    #[error("simulator control API: {0}")]
    Http(#[from] reqwest::Error),
    /// The control API refused a request.
    #[error("simulator control API refused {path}: {status} {body}")]
    Refused {
        /// The control path.
        path: String,
        /// HTTP status.
        status: u16,
        /// The simulator's answer.
        body: String,
    },
}

/// Which channel to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Shopify Admin GraphQL API 2025-01.
    Shopify,
    /// WooCommerce REST API v3 with the Shipment Tracking extension.
    WooCommerce,
    /// Etsy Open API v3.
    Etsy,
    /// eBay Sell APIs (Fulfillment v1, Inventory v1).
    Ebay,
    /// bol.com Retailer API v10.
    Bolcom,
    /// Amazon Selling Partner API (Orders v0, Listings Items 2021-08-01).
    Amazon,
    /// Xero Accounting API 2.0 (an accounting package, not a channel).
    Xero,
    /// Sage Business Cloud Accounting v3.1 (an accounting package).
    Sage,
}

impl Channel {
    /// Parse a channel name as used on the command line.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "shopify" => Some(Self::Shopify),
            "woocommerce" => Some(Self::WooCommerce),
            "etsy" => Some(Self::Etsy),
            "ebay" => Some(Self::Ebay),
            "bolcom" => Some(Self::Bolcom),
            "amazon" => Some(Self::Amazon),
            "xero" => Some(Self::Xero),
            "sage" => Some(Self::Sage),
            _ => None,
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shopify => "shopify",
            Self::WooCommerce => "woocommerce",
            Self::Etsy => "etsy",
            Self::Ebay => "ebay",
            Self::Bolcom => "bolcom",
            Self::Amazon => "amazon",
            Self::Xero => "xero",
            Self::Sage => "sage",
        }
    }
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Seed for the generated shop (and the credentials).
    pub seed: u64,
    /// Products to generate (every fifth has three variants).
    pub products: usize,
    /// Orders to generate.
    pub orders: usize,
    /// Shopify: an Admin schema introspection file to validate against
    /// instead of the shipped one (for example the full published file).
    pub schema: Option<PathBuf>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            products: 50,
            orders: 20,
            schema: None,
        }
    }
}

/// Build the simulator's router and the credentials it accepts.
pub fn build(channel: Channel, opts: &SimOptions) -> Result<(Router, Value), SimError> {
    match channel {
        Channel::WooCommerce => {
            let creds = woocommerce::WooCredentials::for_seed(opts.seed);
            let value = json!(creds);
            Ok((
                woocommerce::router(opts.seed, opts.products, opts.orders, creds),
                value,
            ))
        }
        Channel::Shopify => shopify::build(opts),
        Channel::Etsy => {
            let creds = etsy::EtsyCredentials::for_seed(opts.seed);
            let value = json!(creds);
            Ok((
                etsy::router(opts.seed, opts.products, opts.orders, creds),
                value,
            ))
        }
        Channel::Ebay => {
            let creds = ebay::EbayCredentials::for_seed(opts.seed);
            let value = json!(creds);
            Ok((
                ebay::router(opts.seed, opts.products, opts.orders, creds),
                value,
            ))
        }
        Channel::Bolcom => {
            let creds = bolcom::BolCredentials::for_seed(opts.seed);
            let value = json!(creds);
            Ok((
                bolcom::router(opts.seed, opts.products, opts.orders, creds),
                value,
            ))
        }
        Channel::Amazon => {
            let creds = amazon::AmazonCredentials::for_seed(opts.seed);
            let value = json!(creds);
            Ok((
                amazon::router(opts.seed, opts.products, opts.orders, creds),
                value,
            ))
        }
        Channel::Xero => {
            let creds = xero::XeroCredentials::for_seed(opts.seed);
            let value = json!(creds);
            Ok((xero::router(opts.seed, creds), value))
        }
        Channel::Sage => {
            let creds = sage::SageCredentials::for_seed(opts.seed);
            let value = json!(creds);
            Ok((sage::router(opts.seed, creds), value))
        }
    }
}

/// A simulator serving in the background (dropped: it stops).
#[derive(Debug)]
pub struct RunningSim {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The credentials it accepts (channel-specific JSON).
    pub credentials: Value,
    server: Server,
}

/// A router served on a listener in the background until stopped or
/// dropped.
#[derive(Debug)]
pub(crate) struct Server {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve `router` on `listener`; `what` names it in the log.
    pub(crate) fn start(listener: TcpListener, router: Router, what: &'static str) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "{what} stopped");
            }
        });
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stop serving and wait for it.
    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl RunningSim {
    /// `http://addr`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SKU → the quantity the shop shows now (`GET /_sim/stock`), for
    /// every product and variant with a SKU.
    pub async fn shown_stock(&self) -> Result<BTreeMap<String, i64>, SimError> {
        let v: Value = reqwest::get(format!("{}/_sim/stock", self.base_url()))
            .await?
            .json()
            .await?;
        Ok(v["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|i| {
                // Shopify calls it `available`, WooCommerce `stock_quantity`,
                // Etsy `quantity`.
                let q = i["available"]
                    .as_i64()
                    .or(i["stock_quantity"].as_i64())
                    .or(i["quantity"].as_i64())?;
                Some((i["sku"].as_str()?.to_owned(), q))
            })
            .collect())
    }

    /// Every stock level a client set through the channel API, oldest
    /// first (`GET /_sim/stock/accepted`).
    pub async fn accepted_stock(&self) -> Result<Vec<StockAccepted>, SimError> {
        #[derive(serde::Deserialize)]
        struct Items {
            items: Vec<StockAccepted>,
        }
        let v: Items = reqwest::get(format!("{}/_sim/stock/accepted", self.base_url()))
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(v.items)
    }

    /// Place an order as a customer (`POST /_sim/orders` with
    /// `{lines: [{sku, quantity}], paid?, country?}`); returns the channel's
    /// order id as connectors see it (numeric, without a `gid://` prefix).
    pub async fn place_order(&self, body: &Value) -> Result<String, SimError> {
        place_order_at(&self.base_url(), body).await
    }

    /// Stop serving and wait for it.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Start a simulator on `listener` in the background.
pub fn spawn_on(
    channel: Channel,
    opts: &SimOptions,
    listener: TcpListener,
) -> Result<RunningSim, SimError> {
    let (router, credentials) = build(channel, opts)?;
    let addr = listener.local_addr()?;
    Ok(RunningSim {
        addr,
        credentials,
        server: Server::start(listener, router, "simulator"),
    })
}

/// Start a simulator on a free loopback port.
pub async fn spawn(channel: Channel, opts: &SimOptions) -> Result<RunningSim, SimError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    spawn_on(channel, opts, listener)
}

/// Place an order on the simulator at `base_url` as
/// [`RunningSim::place_order`] does (for callers holding only the address).
pub async fn place_order_at(base_url: &str, body: &Value) -> Result<String, SimError> {
    let v = post_control(base_url, "orders", body).await?;
    Ok(match &v["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.rsplit('/').next().unwrap_or(s).to_owned(),
        other => other.to_string(),
    })
}

/// POST `body` to the control endpoint `/_sim/{path}` of the simulator at
/// `base_url`; its JSON answer, or why it was refused.
pub(crate) async fn post_control(
    base_url: &str,
    path: &str,
    body: &Value,
) -> Result<Value, SimError> {
    let r = reqwest::Client::new()
        .post(format!("{base_url}/_sim/{path}"))
        .json(body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(SimError::Refused {
            path: format!("/_sim/{path}"),
            status: status.as_u16(),
            body: v.to_string(),
        });
    }
    Ok(v)
}
