#![allow(
    clippy::expect_used,
    reason = "test support: a failed setup step should stop the test loudly"
)]
//! Test helpers: [`spawn_app`] starts the real server on a random loopback
//! port with a fresh temporary data directory; [`TestApp`] has typed request
//! helpers. Logs are shown only when `TEST_LOG` is set.

pub mod console;
pub mod demo;
pub mod receiver;
pub mod smtp;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use switchyard::config::{Config, LogFormat, Role};
use switchyard_domain::ids::StoreId;
use switchyard_storage::Storage;

/// A running server and what is needed to talk to it.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The server's storage, for arranging state the API cannot create yet.
    pub storage: Arc<dyn Storage>,
    /// The data directory; removed on drop.
    pub data_dir: tempfile::TempDir,
    /// The PostgreSQL database of this app (empty on SQLite).
    pub database_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An account with a token.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Bearer token.
    pub token: String,
}

/// A response: status, headers and JSON body (`Value::Null` when empty).
#[derive(Debug)]
pub struct Resp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Parsed body.
    pub body: Value,
}

/// Start the server on `127.0.0.1:0` with a fresh data directory, the
/// default worker settings, and 127.0.0.1 allowed as a destination.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(switchyard::EngineConfig {
        outbound: loopback(),
        ..switchyard::EngineConfig::default()
    })
    .await
}

/// 127.0.0.1 allowed as a destination, nothing else that is not public.
fn loopback() -> switchyard_domain::webhook::AddressPolicy {
    switchyard_domain::webhook::AddressPolicy::parse(&["127.0.0.1".to_owned()])
        .expect("a valid network")
}

/// Worker settings for tests: a 50 ms tick, an hour of first lookback,
/// quick timeouts and retries, `Retry-After` honoured up to 5 s, and
/// 127.0.0.1 allowed as a destination (the simulators, receivers and the
/// 3PL listen there; any other private address stays refused).
#[must_use]
pub fn engine_config() -> switchyard::EngineConfig {
    let mut c = switchyard::EngineConfig {
        tick: std::time::Duration::from_millis(50),
        initial_lookback: chrono::Duration::hours(1),
        outbound: loopback(),
        ..switchyard::EngineConfig::default()
    };
    c.http.connect_timeout = std::time::Duration::from_secs(2);
    c.http.request_timeout = std::time::Duration::from_secs(2);
    c.http.max_attempts = 6;
    c.http.base_backoff = std::time::Duration::from_millis(20);
    c.http.max_backoff = std::time::Duration::from_millis(200);
    c.http.max_retry_after = std::time::Duration::from_secs(5);
    c.http.max_concurrency = 4;
    c
}

/// [`engine_config`] with no destination allowed that is not public: what
/// an operator gets without `outbound_allow`.
#[must_use]
pub fn strict_engine_config() -> switchyard::EngineConfig {
    switchyard::EngineConfig {
        outbound: switchyard_domain::webhook::AddressPolicy::default(),
        ..engine_config()
    }
}

/// A loopback port that was free a moment ago (bound, then released).
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Poll `check` every 50 ms until it holds, for at most `secs` seconds.
pub async fn eventually<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The API alone, without workers: nothing changes in the background
/// (for tests that compare data before and after).
pub async fn spawn_api_only() -> TestApp {
    spawn(engine_config(), false).await
}

/// [`spawn_app`] with explicit worker settings.
pub async fn spawn_app_with(engine: switchyard::EngineConfig) -> TestApp {
    spawn(engine, true).await
}

/// The backend the tests run on: `SWITCHYARD_TEST_BACKEND=postgres` runs
/// them on a throwaway PostgreSQL cluster (one database per app), anything
/// else on SQLite in the app's data dir.
#[must_use]
pub fn on_postgres() -> bool {
    std::env::var("SWITCHYARD_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The database URL of a new test app: empty (SQLite in the data dir) or
/// a fresh PostgreSQL database.
pub async fn database_url() -> String {
    if !on_postgres() {
        return String::new();
    }
    let cluster = switchyard_pgtest::cluster().expect("PostgreSQL test cluster");
    cluster.database().await.expect("a test database")
}

/// [`spawn_app_with`] on the database at `url` (a test's own cluster).
pub async fn spawn_app_on(url: &str, engine: switchyard::EngineConfig) -> TestApp {
    spawn_on(url.to_owned(), engine, true, |_| {}).await
}

/// The tests' log: with `TEST_LOG` set, everything at `RUST_LOG` (default
/// `info`) on stderr; otherwise warnings and errors, captured per test
/// like its prints, so a failing test shows what the workers complained
/// about before it failed.
fn logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            switchyard::telemetry::init(LogFormat::Plain);
        } else {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("warn,sqlx=error"))
                .with_test_writer()
                .try_init();
        }
    });
}

async fn spawn(engine: switchyard::EngineConfig, workers: bool) -> TestApp {
    spawn_on(database_url().await, engine, workers, |_| {}).await
}

/// The API alone, emailing the console's links through `smtp_url` (a
/// [`smtp::Sink`]'s).
pub async fn spawn_api_with_mail(smtp_url: &str) -> TestApp {
    let url = smtp_url.to_owned();
    spawn_on(database_url().await, engine_config(), false, move |c| {
        c.smtp_url = url;
    })
    .await
}

/// The API and the workers with the test settings, and the configuration
/// changed by `configure` first (e.g. `[apps]`).
pub async fn spawn_app_configured(configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_on(database_url().await, engine_config(), true, configure).await
}

async fn spawn_on(
    database_url: String,
    engine: switchyard::EngineConfig,
    workers: bool,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    logs();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let defaults = Config::defaults().expect("built-in configuration");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("loopback address"),
        metrics_listen: String::new(),
        data_dir: data_dir.path().to_path_buf(),
        database_url: database_url.clone(),
        log_format: LogFormat::Plain,
        max_body_bytes: 4 * 1024 * 1024,
        public_url: String::new(),
        role: if workers { Role::All } else { Role::Api },
        worker_lease_secs: u32::try_from(engine.lease.num_seconds()).unwrap_or(300),
        outbound_allow: engine
            .outbound
            .allowed()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        smtp_url: String::new(),
        mail_from: "Switchyard <switchyard@example.test>".to_owned(),
        apps: defaults.apps,
        engine: defaults.engine,
    };
    configure(&mut config);
    let app = switchyard::Application::build_with(&config, engine)
        .await
        .expect("build application");
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    let storage = app.storage();
    let server = tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    TestApp {
        address,
        client: reqwest::Client::new(),
        storage,
        data_dir,
        database_url,
        server,
    }
}

impl TestApp {
    /// Everything the database holds, as bytes to search for a secret
    /// that must not be stored: on SQLite the database file and its
    /// write-ahead log; on PostgreSQL every row of every table, as text.
    pub async fn stored_bytes(&self) -> Vec<Vec<u8>> {
        if self.database_url.is_empty() {
            let files: Vec<Vec<u8>> = ["switchyard.db", "switchyard.db-wal"]
                .iter()
                .map(|f| std::fs::read(self.data_dir.path().join(f)).unwrap_or_default())
                .collect();
            assert!(!files[0].is_empty(), "the database file exists");
            return files;
        }
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.database_url)
            .await
            .expect("connect to the test database");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT quote_ident(table_name) FROM information_schema.tables
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list tables");
        assert!(!tables.is_empty(), "the database has tables");
        let mut out = Vec::new();
        for t in tables {
            let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {t} t"))
                .fetch_all(&mut conn)
                .await
                .expect("read a table");
            out.push(rows.join("\n").into_bytes());
        }
        out
    }

    /// A new account with an account-wide token (as `switchyard token create` makes).
    pub async fn tenant(&self, account: &str) -> Tenant {
        let (token, _) = switchyard::create_token(self.storage.as_ref(), account, None, "test")
            .await
            .expect("create token");
        Tenant {
            token: secrecy::ExposeSecret::expose_secret(&token).to_owned(),
        }
    }

    /// A token of `account` limited to `store`.
    pub async fn store_tenant(&self, account: &str, store: &str) -> Tenant {
        let store = StoreId::parse(store).expect("store id");
        let (token, _) =
            switchyard::create_token(self.storage.as_ref(), account, Some(store), "scoped")
                .await
                .expect("create token");
        Tenant {
            token: secrecy::ExposeSecret::expose_secret(&token).to_owned(),
        }
    }

    /// Send a request with optional JSON body.
    pub async fn request(
        &self,
        t: &Tenant,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Resp {
        self.request_with_headers(t, method, path, &[], body).await
    }

    /// Send a request with extra headers and an optional JSON body.
    pub async fn request_with_headers(
        &self,
        t: &Tenant,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&t.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        into_resp(req.send().await.expect("request")).await
    }

    /// Send raw bytes with a content type.
    pub async fn raw(
        &self,
        t: &Tenant,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Resp {
        let req = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&t.token)
            .header("content-type", content_type)
            .body(body);
        into_resp(req.send().await.expect("request")).await
    }

    /// GET.
    pub async fn get(&self, t: &Tenant, path: &str) -> Resp {
        self.request(t, Method::GET, path, None).await
    }

    /// POST JSON.
    pub async fn post(&self, t: &Tenant, path: &str, body: &Value) -> Resp {
        self.request(t, Method::POST, path, Some(body)).await
    }

    /// PUT JSON.
    pub async fn put(&self, t: &Tenant, path: &str, body: &Value) -> Resp {
        self.request(t, Method::PUT, path, Some(body)).await
    }

    /// PATCH JSON.
    pub async fn patch(&self, t: &Tenant, path: &str, body: &Value) -> Resp {
        self.request(t, Method::PATCH, path, Some(body)).await
    }

    /// DELETE.
    pub async fn delete(&self, t: &Tenant, path: &str) -> Resp {
        self.request(t, Method::DELETE, path, None).await
    }

    /// Create a store and return its id.
    pub async fn store(&self, t: &Tenant, name: &str) -> String {
        let r = self
            .post(t, "/v1/stores", &serde_json::json!({ "name": name }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().expect("store id").to_owned()
    }

    /// Create a plain product.
    pub async fn product(&self, t: &Tenant, store: &str, sku: &str) {
        let r = self
            .post(
                t,
                &format!("/v1/stores/{store}/products"),
                &serde_json::json!({ "sku": sku, "title": sku }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }

    /// Connect a channel of `kind` to `store`; returns its id.
    pub async fn channel(
        &self,
        t: &Tenant,
        store: &str,
        kind: &str,
        base_url: &str,
        credentials: Value,
        settings: &Value,
    ) -> String {
        let r = self
            .post(
                t,
                &format!("/v1/stores/{store}/channels"),
                &serde_json::json!({ "name": kind, "kind": kind, "base_url": base_url,
                                     "credentials": credentials, "settings": settings }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().expect("channel id").to_owned()
    }

    /// One order as `GET /v1/orders/{id}` shows it.
    pub async fn get_order(&self, t: &Tenant, id: &str) -> Value {
        let r = self.get(t, &format!("/v1/orders/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    /// Wait until fulfilment `id` is synced to its channel; returns it.
    pub async fn wait_synced(&self, t: &Tenant, id: &str, secs: u64) -> Value {
        let path = format!("/v1/fulfilments/{id}");
        eventually(&format!("fulfilment {id} synced"), secs, || async {
            self.get(t, &path).await.body["sync"]["state"] == "synced"
        })
        .await;
        self.get(t, &path).await.body
    }

    /// The number of journal events of a store (pages through all of them).
    pub async fn journal_len(&self, t: &Tenant, store: &str) -> usize {
        let mut after = 0;
        let mut n = 0;
        for _ in 0..10_000 {
            let r = self
                .get(
                    t,
                    &format!("/v1/stores/{store}/journal?after={after}&limit=1000"),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            n += r.body["items"].as_array().map_or(0, Vec::len);
            match r.body["next_after"].as_i64() {
                Some(a) => after = a,
                None => return n,
            }
        }
        n
    }
}

async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Resp {
        status,
        headers,
        body,
    }
}
