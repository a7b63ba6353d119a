//! Layered configuration: embedded defaults (`config.default.toml`) → a TOML
//! file (`switchyard.toml` or `--config`) → `SWITCHYARD_*` environment
//! variables → command-line flags. One struct, passed down; no globals.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;

/// The embedded defaults.
pub const DEFAULTS: &str = include_str!("../config.default.toml");

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// What an instance runs. Any number of instances may share one
/// PostgreSQL database, in any mix of roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The API and the workers.
    All,
    /// The API only (workers run elsewhere).
    Api,
    /// The workers only; the listener answers `/healthz` alone.
    Workers,
}

impl Role {
    /// Whether this instance serves the API.
    #[must_use]
    pub fn serves_api(self) -> bool {
        self != Self::Workers
    }

    /// Whether this instance runs the workers.
    #[must_use]
    pub fn runs_workers(self) -> bool {
        self != Self::Api
    }
}

/// Everything the application needs to start.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// A separate address for `GET /metrics`; empty serves it on `listen`.
    pub metrics_listen: String,
    /// Directory for the embedded database and the key file.
    pub data_dir: PathBuf,
    /// Database URL; empty for the SQLite file in `data_dir`.
    pub database_url: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// The base URL channels reach this server at, for order notifications;
    /// empty means `http://{listen}` (fine for simulators on this machine).
    pub public_url: String,
    /// What this instance runs: the API, the workers, or both.
    pub role: Role,
    /// Seconds a worker holds a fulfilment sync or back-office step.
    pub worker_lease_secs: u32,
    /// Comma-separated addresses and CIDR networks webhooks and plugins may
    /// reach although they are not public (e.g. `127.0.0.1,10.0.0.0/8`).
    pub outbound_allow: String,
    /// SMTP server the console emails its single-use links through
    /// (`smtps://user:pass@host:465`, `smtp://host:587?tls=required`);
    /// empty shows each link to the owner who made it instead.
    pub smtp_url: String,
    /// The sender of the console's email.
    pub mail_from: String,
    /// Switchyard's own apps on the channels (`[apps]`), for the
    /// authorization flows of hosted pages.
    pub apps: Apps,
    /// The workers' tunables (`[engine]`).
    pub engine: crate::engine_settings::EngineSettings,
}

/// Switchyard's own apps on the channels: operator configuration, never
/// per merchant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apps {
    /// The Shopify app (`[apps.shopify]`).
    pub shopify: ShopifyAppSettings,
    /// The Etsy app (`[apps.etsy]`).
    pub etsy: EtsyAppSettings,
    /// The eBay app (`[apps.ebay]`).
    pub ebay: EbayAppSettings,
    /// The Selling Partner API application (`[apps.amazon]`).
    pub amazon: AmazonAppSettings,
}

/// The operator's Selling Partner API application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonAppSettings {
    /// The application's id (`amzn1.sp.solution.…`); empty: hosted pages
    /// offer no Amazon.
    pub application_id: String,
    /// Whether the application is still a draft (`version=beta`).
    pub draft: bool,
    /// Its Login with Amazon client id.
    pub client_id: String,
    /// Its Login with Amazon client secret.
    pub client_secret: SecretString,
    /// Seller Central's consent page (the seller's region).
    pub consent_url: String,
    /// Login with Amazon's token endpoint.
    pub token_url: String,
    /// The SP-API endpoint of the region.
    pub api_url: String,
    /// The marketplace the channel sells on.
    pub marketplace_id: String,
}

/// The operator's eBay app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbayAppSettings {
    /// App ID (client id); empty: hosted pages offer no eBay.
    pub client_id: String,
    /// Cert ID (client secret).
    pub client_secret: SecretString,
    /// The RuName (eBay redirect URL name) whose accept URL is
    /// `…/connect/callback/ebay` and decline URL `…/connect/callback/ebay?declined=1`.
    pub runame: String,
    /// The scopes asked for, space-separated.
    pub scopes: String,
    /// Where the seller consents.
    pub auth_url: String,
    /// The APIs' address (the token endpoint and the seller's APIs).
    pub api_url: String,
}

/// The operator's Etsy app (public: OAuth 2.0 with PKCE, no secret).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtsyAppSettings {
    /// The app's keystring (its client id and `x-api-key`); empty: hosted
    /// pages offer no Etsy.
    pub keystring: String,
    /// The access scopes asked for, space-separated.
    pub scopes: String,
    /// Where the shop owner approves.
    pub connect_url: String,
    /// The Open API's address (the token endpoint and the shop's API).
    pub api_url: String,
}

/// The operator's Shopify app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyAppSettings {
    /// The app's client id (API key); empty: hosted pages offer no Shopify.
    pub client_id: String,
    /// The app's client secret (API secret key).
    pub client_secret: SecretString,
    /// The access scopes asked for, comma-separated.
    pub scopes: String,
    /// Where a shop is reached; `{shop}` is its `myshopify.com` domain.
    pub shop_url: String,
}

impl Config {
    /// The separate address of `/metrics`, when one is set.
    pub fn metrics_address(&self) -> anyhow::Result<Option<SocketAddr>> {
        let a = self.metrics_listen.trim();
        if a.is_empty() {
            return Ok(None);
        }
        a.parse().map(Some).map_err(|e| {
            anyhow::anyhow!(
                "invalid metrics_listen `{a}`: {e} (expected an address such as 127.0.0.1:9090)"
            )
        })
    }

    /// The outbound address policy from `outbound_allow`.
    fn outbound_policy(&self) -> anyhow::Result<switchyard_domain::webhook::AddressPolicy> {
        let nets: Vec<String> = self
            .outbound_allow
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        switchyard_domain::webhook::AddressPolicy::parse(&nets)
            .map_err(|e| anyhow::anyhow!("invalid outbound_allow: {e}"))
    }
}

impl Config {
    /// Where channels are told to send order notifications, for an
    /// instance listening on `listen`: `public_url`, else this instance's
    /// own address when it serves the API. A workers-only instance without
    /// `public_url` has none, and registers no notifications (its listener
    /// answers `/healthz` alone, so a channel's notifications would be
    /// lost); an instance serving the API registers them.
    #[must_use]
    pub fn notification_base(&self, listen: SocketAddr) -> Option<String> {
        if !self.public_url.is_empty() {
            Some(self.public_url.clone())
        } else if self.role.serves_api() {
            Some(format!("http://{listen}"))
        } else {
            None
        }
    }

    /// The workers' settings from `[engine]`, checked.
    pub fn engine_config(&self) -> anyhow::Result<switchyard_engine::EngineConfig> {
        self.engine
            .apply(switchyard_engine::EngineConfig::default())
    }

    /// Give the workers the outbound policy: for webhooks and plugins, and
    /// for every channel's HTTP client. Returns the policy.
    pub fn apply_outbound(
        &self,
        engine: &mut switchyard_engine::EngineConfig,
    ) -> anyhow::Result<switchyard_domain::webhook::AddressPolicy> {
        let policy = self.outbound_policy()?;
        engine.outbound = policy.clone();
        engine.http.outbound = policy.clone();
        Ok(policy)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url(&self.database_url()))
            .field("log_format", &self.log_format)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("public_url", &self.public_url)
            .field("role", &self.role)
            .field("worker_lease_secs", &self.worker_lease_secs)
            .field("outbound_allow", &self.outbound_allow)
            .field("smtp_url", &redact_url(&self.smtp_url))
            .field("mail_from", &self.mail_from)
            .field("apps", &self.apps)
            .field("engine", &self.engine)
            .finish()
    }
}

/// Hide a password in a URL (`postgres://u:secret@h/db` → `postgres://u:***@h/db`).
#[must_use]
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Config {
    /// The embedded defaults alone.
    pub fn defaults() -> anyhow::Result<Self> {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .context("invalid built-in configuration")
    }

    /// Load defaults → file → environment. `file` is the explicit `--config`
    /// path (which must exist); without it `switchyard.toml` in the working
    /// directory is read if present.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Toml::string(DEFAULTS));
        match file {
            Some(p) => {
                anyhow::ensure!(p.exists(), "config file {} does not exist", p.display());
                fig = fig.merge(Toml::file(p));
            }
            None => fig = fig.merge(Toml::file("switchyard.toml")),
        }
        // `__` reaches into a table: SWITCHYARD_APPS__SHOPIFY__CLIENT_SECRET.
        fig = fig.merge(Env::prefixed("SWITCHYARD_").ignore(&NOT_CONFIG).split("__"));
        fig.extract().context("invalid configuration")
    }

    /// The effective database URL.
    #[must_use]
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("switchyard.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// Where the credential encryption key lives.
    #[must_use]
    pub fn key_file(&self) -> PathBuf {
        self.data_dir.join("secret.key")
    }
}

/// `SWITCHYARD_*` variables that are not configuration keys: the 3PL
/// simulator's secret and what the test tooling sets (`scripts/test`).
/// Any other unknown `SWITCHYARD_*` variable is refused as a likely typo.
const NOT_CONFIG: [&str; 6] = [
    "3pl_secret",
    "python",
    "channel_specs",
    "fixtures_dir",
    "test_backend",
    "screenshots",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_point_into_the_data_dir() {
        let c: Config = Figment::from(Toml::string(DEFAULTS)).extract().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://./switchyard-data/switchyard.db");
    }

    #[test]
    #[allow(
        clippy::result_large_err,
        reason = "figment's Jail API fixes the error type"
    )]
    fn file_and_environment_override_defaults_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "switchyard.toml",
                "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/a\"",
            )?;
            jail.set_env("SWITCHYARD_DATA_DIR", "/tmp/b");
            // What the test tooling sets is not configuration.
            jail.set_env("SWITCHYARD_PYTHON", "/cache/venv/bin/python");
            jail.set_env("SWITCHYARD_3PL_SECRET", "whsec_x");
            jail.set_env("SWITCHYARD_SCREENSHOTS", "/tmp/shots");
            // A table's key, through `__`.
            jail.set_env("SWITCHYARD_APPS__SHOPIFY__CLIENT_SECRET", "shpss_from_env");
            let c = Config::load(None).map_err(|e| format!("{e:#}"))?;
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.data_dir, PathBuf::from("/tmp/b"));
            assert_eq!(
                secrecy::ExposeSecret::expose_secret(&c.apps.shopify.client_secret),
                "shpss_from_env"
            );
            assert!(
                !format!("{c:?}").contains("shpss_from_env"),
                "kept out of logs"
            );
            // A misspelt key is refused, not ignored.
            jail.set_env("SWITCHYARD_LISTN", "127.0.0.1:1");
            let e = Config::load(None).map(|_| ()).map_err(|e| format!("{e:#}"));
            assert!(e.is_err_and(|e| e.contains("listn")), "a typo is reported");
            Ok(())
        });
    }

    #[test]
    fn notifications_go_to_an_instance_that_serves_the_api() {
        let mut c: Config = Figment::from(Toml::string(DEFAULTS)).extract().unwrap();
        let addr: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        for role in [Role::All, Role::Api] {
            c.role = role;
            assert_eq!(
                c.notification_base(addr).as_deref(),
                Some("http://127.0.0.1:9000")
            );
        }
        c.role = Role::Workers;
        assert_eq!(
            c.notification_base(addr),
            None,
            "its listener answers /healthz alone"
        );
        c.public_url = "https://hub.example".into();
        assert_eq!(
            c.notification_base(addr).as_deref(),
            Some("https://hub.example")
        );
    }

    #[test]
    fn the_engine_defaults_in_the_file_are_the_engine_defaults() {
        let c: Config = Figment::from(Toml::string(DEFAULTS)).extract().unwrap();
        let from_file = c.engine_config().unwrap();
        let built_in = switchyard_engine::EngineConfig::default();
        assert_eq!(from_file.retry, built_in.retry);
        assert_eq!(from_file.retention, built_in.retention);
        assert_eq!(from_file.concurrency, built_in.concurrency);
        assert_eq!(from_file.tick, built_in.tick);
        assert_eq!(from_file.overlap, built_in.overlap);
        assert_eq!(from_file.short_overlap, built_in.short_overlap);
        assert_eq!(from_file.listings_interval, built_in.listings_interval);
        assert_eq!(from_file.initial_lookback, built_in.initial_lookback);
        assert_eq!(from_file.bulk_after, built_in.bulk_after);
        assert_eq!(from_file.max_pages, built_in.max_pages);
        assert_eq!(from_file.webhook_concurrency, built_in.webhook_concurrency);
        assert_eq!(from_file.webhook_timeout, built_in.webhook_timeout);
        assert_eq!(from_file.heartbeat, built_in.heartbeat);
        assert_eq!(from_file.back_office_tick, built_in.back_office_tick);
        assert_eq!(from_file.dispatch_batch, built_in.dispatch_batch);
        assert_eq!(from_file.order_batch, built_in.order_batch);
        assert_eq!(from_file.http.max_attempts, built_in.http.max_attempts);
        assert_eq!(from_file.http.base_backoff, built_in.http.base_backoff);
        assert_eq!(
            from_file.http.request_timeout,
            built_in.http.request_timeout
        );
    }

    #[test]
    #[allow(
        clippy::result_large_err,
        reason = "figment's Jail API fixes the error type"
    )]
    fn engine_settings_come_from_the_file_and_bad_ones_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "switchyard.toml",
                "[engine]\ntick_ms = 50\n[engine.concurrency]\nwebhooks = 200\n[engine.retry.push]\nfirst_ms = 1000\ncap_ms = 60000\njitter = 0.1",
            )?;
            let c = Config::load(None).map_err(|e| format!("{e:#}"))?;
            let e = c.engine_config().map_err(|e| format!("{e:#}"))?;
            assert_eq!(e.tick, std::time::Duration::from_millis(50));
            assert_eq!(e.concurrency.webhooks, 200);
            assert_eq!(e.retry.push.cap_ms, 60_000);
            assert_eq!(e.concurrency.import, 4, "unset keys keep their defaults");
            jail.create_file(
                "switchyard.toml",
                "[engine.retry.push]\nfirst_ms = 1000\ncap_ms = 60000\njitter = 2.0",
            )?;
            let c = Config::load(None).map_err(|e| format!("{e:#}"))?;
            let err = c.engine_config().map(|_| ()).map_err(|e| format!("{e:#}"));
            assert!(err.is_err_and(|e| e.contains("engine.retry.push") && e.contains("jitter")));
            Ok(())
        });
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://sy:hunter2@db/x"),
            "postgres://sy:***@db/x"
        );
        assert_eq!(redact_url("sqlite://./a.db"), "sqlite://./a.db");
    }
}
