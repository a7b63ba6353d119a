//! A `switchyard serve` process killed (SIGKILL) in the middle of an import
//! imports every order exactly once after it is started again on the same
//! database.

use serde_json::{Value, json};
use std::process::{Command, Stdio};
use switchyard_sim::Channel;

use crate::{Sim, eventually};
use switchyard_sim::Faults;

/// Kills the child when the test ends, however it ends.
pub(crate) struct Server(pub(crate) std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the servers of one test keep their data: a data directory, and
/// the test backend's database (SQLite in the directory, or a fresh
/// PostgreSQL database with `SWITCHYARD_TEST_BACKEND=postgres`).
pub(crate) struct Place {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
}

impl Place {
    pub(crate) async fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            url: switchyard_testkit::database_url().await,
        }
    }

    /// A place on SQLite in its data directory, whatever the test backend.
    pub(crate) fn sqlite() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            url: String::new(),
        }
    }

    /// `switchyard` with this place's data directory and database.
    pub(crate) fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        // A test's `switchyard.toml`, if it writes one, is read from here.
        c.current_dir(self.dir.path());
        c.arg("--data-dir").arg(self.dir.path());
        if !self.url.is_empty() {
            c.args(["--database-url", &self.url]);
        }
        c.env("RUST_LOG", "warn");
        c
    }

    /// What the servers left in the database, read directly.
    async fn open(&self) -> std::sync::Arc<dyn switchyard_storage::Storage> {
        let url = if self.url.is_empty() {
            format!(
                "sqlite://{}",
                self.dir.path().join("switchyard.db").display()
            )
        } else {
            self.url.clone()
        };
        switchyard::open_database(&url).await.unwrap()
    }
}

pub(crate) fn serve(place: &Place, port: u16) -> Server {
    serve_with_lease(place, port, 2)
}

fn serve_with_lease(place: &Place, port: u16, lease_secs: u32) -> Server {
    Server(
        place
            .command()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            // A step left by a killed process is taken up again after this.
            .env("SWITCHYARD_WORKER_LEASE_SECS", lease_secs.to_string())
            // Webhook receivers of these tests listen on loopback.
            .env("SWITCHYARD_OUTBOUND_ALLOW", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

pub(crate) struct Client {
    pub(crate) base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `base` with `token`.
    pub(crate) fn new(base: String, token: String) -> Self {
        Self {
            base,
            token,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    async fn order_count(&self, store: &str) -> usize {
        let (status, body) = self
            .send(
                reqwest::Method::GET,
                &format!("/v1/orders?store_id={store}&limit=1000"),
                None,
            )
            .await;
        if status != 200 {
            return 0;
        }
        body["items"].as_array().map_or(0, Vec::len)
    }
}

/// A fresh data directory with a token, a running server and a store.
async fn start() -> (Place, u16, Server, Client, String) {
    start_in(Place::new().await).await
}

/// [`start`] in `dir`.
pub(crate) async fn start_in(dir: Place) -> (Place, u16, Server, Client, String) {
    let out = dir
        .command()
        .args(["token", "create", "--account", "acme"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = free_port();
    let server = serve(&dir, port);
    let api = Client {
        base: format!("http://127.0.0.1:{port}"),
        token,
        http: reqwest::Client::new(),
    };
    eventually("the server to answer", 20, || async {
        api.send(reqwest::Method::GET, "/v1/stores", None).await.0 == 200
    })
    .await;
    let (_, store) = api
        .send(
            reqwest::Method::POST,
            "/v1/stores",
            Some(json!({ "name": "Crash" })),
        )
        .await;
    let store = store["id"].as_str().unwrap().to_owned();
    (dir, port, server, api, store)
}

#[tokio::test]
async fn a_server_killed_mid_import_imports_everything_exactly_once_after_restart() {
    const ORDERS: usize = 300;
    let shop = Sim::start(Channel::Shopify).await;
    for i in 0..ORDERS {
        shop.order(&[("SKU-00001", 1 + (i % 2) as i64)], json!({}))
            .await;
    }
    // Plus-sized bucket: the run is bounded by our own work, not throttling.
    let r = reqwest::Client::new()
        .put(format!("{}/_sim/throttle", shop.url()))
        .json(&json!({ "maximum_available": 1e9, "restore_rate": 1e9 }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let committed_on_channel: i64 = (0..ORDERS).map(|i| 1 + (i % 2) as i64).sum();

    // Paged reads (no bulk export for the first import), so the kill lands
    // between pages of 15.
    let place = Place::new().await;
    std::fs::write(
        place.dir.path().join("switchyard.toml"),
        "[engine]\nbulk_after_hours = 876000\n",
    )
    .unwrap();
    let (dir, port, mut server, api, store) = start_in(place).await;
    let (s, _) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/products"),
            Some(json!({ "sku": "SKU-00001", "title": "Mug" })),
        )
        .await;
    assert_eq!(s, 201);
    let (s, ch) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/channels"),
            Some(
                json!({ "name": "Shopify", "kind": "shopify", "base_url": shop.url(),
                "credentials": { "access_token": shop.sim.credentials["access_token"] },
                "settings": { "download_products": false, "push_notifications": false } }),
            ),
        )
        .await;
    assert_eq!(s, 201, "{ch}");

    // Kill it as soon as the first pages are committed, well before the last.
    eventually("the first orders to be imported", 60, || async {
        api.order_count(&store).await > 0
    })
    .await;
    let _ = server.0.kill();
    let _ = server.0.wait();
    // What the dead server left in its database.
    let at_kill = {
        let db = dir.open().await;
        let account = db.ensure_account("acme").await.unwrap().id;
        db.count_orders(&account, &store.parse().unwrap())
            .await
            .unwrap()
    };
    assert!(
        (at_kill as usize) < ORDERS,
        "the kill came after the whole import ({at_kill} orders); nothing was tested"
    );
    server = serve(&dir, port);
    eventually(&format!("all {ORDERS} orders"), 90, || async {
        api.order_count(&store).await >= ORDERS
    })
    .await;
    assert_eq!(api.order_count(&store).await, ORDERS, "no order twice");
    let (_, stock) = api
        .send(
            reqwest::Method::GET,
            &format!("/v1/stores/{store}/stock/SKU-00001"),
            None,
        )
        .await;
    assert_eq!(
        stock["committed"], committed_on_channel,
        "every commitment exactly once: {stock}"
    );
    drop(server);
}

#[tokio::test]
async fn a_server_killed_between_sending_a_shipment_and_its_confirmation_ships_it_once() {
    let shop = Sim::start(Channel::Shopify).await;
    let cid = shop.order(&[("SKU-00001", 1)], json!({})).await;
    let (dir, port, server, api, store) = start().await;
    for (path, body) in [
        ("products", json!({ "sku": "SKU-00001", "title": "Mug" })),
        (
            "channels",
            json!({ "name": "Shopify", "kind": "shopify", "base_url": shop.url(),
                "credentials": { "access_token": shop.sim.credentials["access_token"] },
                "settings": { "download_products": false, "push_notifications": false } }),
        ),
    ] {
        let (s, b) = api
            .send(
                reqwest::Method::POST,
                &format!("/v1/stores/{store}/{path}"),
                Some(body),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    eventually("the order to be imported", 30, || async {
        api.order_count(&store).await == 1
    })
    .await;
    let (_, orders) = api
        .send(
            reqwest::Method::GET,
            &format!("/v1/orders?store_id={store}"),
            None,
        )
        .await;
    let order = orders["items"][0]["id"].as_str().unwrap().to_owned();

    // Shopify creates the shipment, but its answer never comes back.
    shop.faults(&Faults {
        slow_only_matching: Some("fulfillmentCreate".into()),
        slow_ms: 60_000,
        ..Faults::default()
    })
    .await;
    let (s, f) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/orders/{order}/fulfilments"),
            Some(json!({ "tracking": [{ "number": "RM123456785GB" }] })),
        )
        .await;
    assert_eq!(s, 201, "{f}");
    let fid = f["id"].as_str().unwrap().to_owned();
    let on_shop = || async { shop.fulfilments(&cid).await.len() };
    eventually("Shopify to hold the shipment", 30, || async {
        on_shop().await == 1
    })
    .await;
    drop(server);
    let (_, f) = {
        // What the dead server left: sent, never confirmed.
        let db = dir.open().await;
        let account = db.ensure_account("acme").await.unwrap().id;
        let f = switchyard_storage::Fulfilments::get_fulfilment(
            db.as_ref(),
            &account,
            &fid.parse().unwrap(),
        )
        .await
        .unwrap();
        ((), f)
    };
    assert_ne!(
        f.sync.state,
        switchyard_domain::fulfilment::SyncState::Synced,
        "the kill came after the confirmation; nothing was tested"
    );
    assert_eq!(f.sync.attempts, 1);

    shop.faults(&Faults::default()).await;
    let server = serve(&dir, port);
    eventually(
        "the shipment to be synced after the restart",
        60,
        || async {
            let (_, f) = api
                .send(
                    reqwest::Method::GET,
                    &format!("/v1/fulfilments/{fid}"),
                    None,
                )
                .await;
            f["sync"]["state"] == "synced"
        },
    )
    .await;
    assert_eq!(on_shop().await, 1, "one shipment on Shopify, not two");
    drop(server);
}

#[tokio::test]
async fn a_server_killed_between_a_change_and_its_webhook_delivers_it_after_restart() {
    use switchyard_testkit::receiver::{Mode, Receiver};
    let (dir, port, mut server, api, store) = start().await;
    let rx = Receiver::start().await;
    // The receiver takes the request and never answers: the delivery is
    // in flight when the process dies.
    rx.set(Mode::Hold);
    let (status, hook) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/webhooks"),
            Some(json!({ "url": rx.url, "events": ["product.created"] })),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let (status, _) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/products"),
            Some(json!({ "sku": "KILLED", "title": "In flight" })),
        )
        .await;
    assert_eq!(status, 201);
    let held = rx
        .wait_for("the held delivery", 20, |g| !g.is_empty())
        .await;
    let _ = server.0.kill();
    let _ = server.0.wait();
    rx.set(Mode::Accept);
    let _server = serve(&dir, port);
    let got = rx
        .wait_for("the delivery after restart", 30, |g| {
            g.iter().any(|r| r.answered == 204)
        })
        .await;
    let ok: Vec<_> = got.iter().filter(|r| r.answered == 204).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].id, held[0].id, "the same message, by its webhook-id");
    assert_eq!(ok[0].json()["data"]["sku"], "KILLED");
}

/// A backfill whose server is killed mid-way is taken over by the next
/// process within seconds, because the dead process stopped beating, not
/// after the (here five-minute) lease runs out. The job shows its holder
/// and progress while it runs.
#[tokio::test]
async fn a_backfill_killed_mid_way_finishes_within_seconds_of_the_restart() {
    let sim = switchyard_sim::spawn(
        Channel::WooCommerce,
        &switchyard_sim::SimOptions {
            seed: 11,
            products: 12,
            orders: 1_500,
            ..switchyard_sim::SimOptions::default()
        },
    )
    .await
    .unwrap();
    let shop = Sim {
        sim,
        http: reqwest::Client::new(),
    };
    // Every answer takes 300 ms: 15 pages of 100 take a few seconds.
    shop.faults(&Faults {
        rate_slow: 1.0,
        slow_ms: 300,
        ..Faults::default()
    })
    .await;
    let (dir, port, mut server, api, store) = start().await;
    drop(server);
    server = serve_with_lease(&dir, port, 300);
    eventually("the server to answer", 20, || async {
        api.send(reqwest::Method::GET, "/v1/stores", None).await.0 == 200
    })
    .await;
    let (s, ch) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/channels"),
            Some(
                json!({ "name": "Woo", "kind": "woocommerce", "base_url": shop.url(),
                "credentials": shop.sim.credentials,
                "settings": { "download_products": false, "push_notifications": false,
                              "cadence_secs": 86400 } }),
            ),
        )
        .await;
    assert_eq!(s, 201, "{ch}");
    let ch = ch["id"].as_str().unwrap().to_owned();
    let (s, job) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/channels/{ch}/backfill"),
            Some(json!({ "from": "2000-01-01T00:00:00Z" })),
        )
        .await;
    assert!(s == 201 || s == 202, "{s} {job}");
    let path = format!(
        "/v1/stores/{store}/channels/{ch}/jobs/{}",
        job["id"].as_i64().unwrap()
    );
    let get = || async { api.send(reqwest::Method::GET, &path, None).await.1 };
    eventually("the backfill to be two pages in", 60, || async {
        get().await["progress"]["pages"].as_u64().unwrap_or(0) >= 2
    })
    .await;
    let running = get().await;
    assert_eq!(running["state"], "running", "{running}");
    let first_holder = running["holder"].as_str().unwrap().to_owned();
    assert!(first_holder.starts_with("wrk_"), "{running}");
    let _ = server.0.kill();
    let _ = server.0.wait();

    let restarted = std::time::Instant::now();
    server = serve_with_lease(&dir, port, 300);
    eventually("the backfill taken over", 60, || async {
        let j = get().await;
        j["holder"].is_string() && j["holder"] != first_holder.as_str()
    })
    .await;
    let taken_over = restarted.elapsed();
    eventually("the backfill to finish after the restart", 60, || async {
        get().await["state"] == "done"
    })
    .await;
    let took = restarted.elapsed();
    let done = get().await;
    eprintln!(
        "backfill taken over {taken_over:?} and finished {took:?} after the restart ({} pages, {} orders)",
        done["progress"]["pages"], done["progress"]["orders"]
    );
    assert!(
        took < std::time::Duration::from_secs(100),
        "taken over after {took:?}, not after the 300 s lease"
    );
    assert_ne!(done["holder"], first_holder.as_str(), "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    assert!(done["progress"]["pages"].as_u64().unwrap() >= 15, "{done}");
    drop(server);
}
