//! Three `serve` processes on one PostgreSQL database share the work of six
//! channels while sales flow, and one of them is killed (SIGKILL) in the
//! middle of the run. Afterwards every order is imported exactly once,
//! every SKU has converged on every channel, each shipment reached its
//! channel once, and each `order.created` webhook went out under one
//! `webhook-id` (repeated only where the dead instance lost the answer).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_sim::Channel;
use switchyard_testkit::receiver::Receiver;

use crate::crash::{Client, Place, Server, free_port};
use crate::{Sim, eventually};

/// Stock of every plain SKU before the sales.
const START: i64 = 60;
/// Sales placed, spread over the six channels.
const SALES: usize = 48;
/// The sale after which one instance is killed.
const KILL_AT: usize = 20;

/// `switchyard serve` in `role`, on the shared database.
fn instance(place: &Place, port: u16, role: &str) -> Server {
    Server(
        place
            .command()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--role",
                role,
            ])
            .env("SWITCHYARD_WORKER_LEASE_SECS", "5")
            .env("SWITCHYARD_OUTBOUND_ALLOW", "127.0.0.1")
            .env(
                "RUST_LOG",
                std::env::var("INSTANCE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(log(port))
            .spawn()
            .unwrap(),
    )
}

/// Where an instance's log goes: nowhere, or with `INSTANCE_LOG=level`
/// (to look into a failure) `instance-{port}.log` in the temp directory.
fn log(port: u16) -> Stdio {
    if std::env::var_os("INSTANCE_LOG").is_none() {
        return Stdio::null();
    }
    let path = std::env::temp_dir().join(format!("instance-{port}.log"));
    eprintln!("instance log: {}", path.display());
    std::fs::File::create(path).map_or_else(|_| Stdio::null(), Stdio::from)
}

/// `(order id, shipments)` the simulator holds: Shopify calls them
/// `fulfillments`, WooCommerce `trackings`, the marketplaces `shipments`.
async fn shipments_by_order(sim: &Sim) -> BTreeMap<String, usize> {
    let all: Value = reqwest::get(format!("{}/_sim/fulfilments", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_of = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    all["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let n = o["fulfillments"]
                .as_array()
                .or(o["trackings"].as_array())
                .or(o["shipments"].as_array())
                .map_or(0, Vec::len);
            (id_of(&o["order_id"]), n)
        })
        .collect()
}

#[tokio::test]
async fn three_instances_share_the_work_and_one_killed_loses_and_duplicates_nothing() {
    if switchyard_testkit::on_postgres() {
        // It always runs on its own PostgreSQL database, in the first pass.
        return;
    }
    let cluster = switchyard_pgtest::cluster().expect("PostgreSQL test cluster");
    let place = Place {
        dir: tempfile::tempdir().unwrap(),
        url: cluster.database().await.unwrap(),
    };
    let out = place
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

    // A first (it creates the schema and the key file), then B and C.
    let ports = [free_port(), free_port(), free_port()];
    let client = |port: u16| Client::new(format!("http://127.0.0.1:{port}"), token.clone());
    let mut servers = vec![instance(&place, ports[0], "all")];
    let a = client(ports[0]);
    eventually("instance A to answer", 30, || async {
        a.send(reqwest::Method::GET, "/v1/stores", None).await.0 == 200
    })
    .await;
    servers.push(instance(&place, ports[1], "all"));
    servers.push(instance(&place, ports[2], "workers"));
    let b = client(ports[1]);
    let c = client(ports[2]);
    eventually("instances B and C to answer", 30, || async {
        b.send(reqwest::Method::GET, "/v1/stores", None).await.0 == 200
            && c.send(reqwest::Method::GET, "/healthz", None).await.0 == 200
    })
    .await;
    // C runs workers only: no API.
    let (s, body) = c.send(reqwest::Method::GET, "/v1/stores", None).await;
    assert_eq!(s, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("workers only")
    );

    let (_, store) = a
        .send(
            reqwest::Method::POST,
            "/v1/stores",
            Some(json!({ "name": "Shared" })),
        )
        .await;
    let store = store["id"].as_str().unwrap().to_owned();
    let receiver = Receiver::start().await;
    let (s, hook) = a
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/webhooks"),
            Some(json!({ "url": receiver.url, "events": ["order.created"] })),
        )
        .await;
    assert_eq!(s, 201, "{hook}");

    // Six channels, their products, and stock through B.
    let kinds = [
        (Channel::Shopify, "shopify"),
        (Channel::WooCommerce, "woocommerce"),
        (Channel::Etsy, "etsy"),
        (Channel::Ebay, "ebay"),
        (Channel::Bolcom, "bolcom"),
        (Channel::Amazon, "amazon"),
    ];
    let mut sims = Vec::new();
    for (kind, _) in kinds {
        let sim = Sim::start(kind).await;
        // Compressed time: Amazon lists a change at once (not after two
        // minutes), and bol.com's 7 order-list calls per 3 minutes come
        // back every 2 s, as the 10 s cadence here stands for minutes.
        if kind == Channel::Amazon {
            sim.put("/_sim/lag", json!({ "seconds": 0 })).await;
        }
        if kind == Channel::Bolcom {
            sim.put(
                "/_sim/rate-limits",
                json!({ "orders-list": { "calls": 7, "window_ms": 2000 } }),
            )
            .await;
        }
        sims.push(sim);
    }
    let skus: Vec<String> = sims[0].stock().await.into_keys().collect();
    for sku in &skus {
        let (s, body) = b
            .send(
                reqwest::Method::POST,
                &format!("/v1/stores/{store}/products"),
                Some(json!({ "sku": sku, "title": sku })),
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }
    let items: Vec<Value> = skus
        .iter()
        .map(|s| json!({ "sku": s, "quantity": START }))
        .collect();
    let (s, body) = b
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/stock"),
            Some(json!({ "items": items })),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let mut channels = Vec::new();
    for ((_, kind), sim) in kinds.iter().zip(&sims) {
        let credentials = if *kind == "shopify" {
            json!({ "access_token": sim.sim.credentials["access_token"],
                    "api_secret_key": sim.sim.credentials["api_secret_key"] })
        } else {
            sim.sim.credentials.clone()
        };
        let (s, ch) = a
            .send(
                reqwest::Method::POST,
                &format!("/v1/stores/{store}/channels"),
                Some(json!({ "name": kind, "kind": kind, "base_url": sim.url(),
                    "credentials": credentials,
                    "settings": { "cadence_secs": 10, "auto_sync_stock": true,
                                  "push_notifications": false } })),
            )
            .await;
        assert_eq!(s, 201, "{kind}: {ch}");
        channels.push(ch["id"].as_str().unwrap().to_owned());
    }
    let expected = |sold: &BTreeMap<String, i64>| -> BTreeMap<String, i64> {
        skus.iter()
            .map(|s| (s.clone(), START - sold.get(s).copied().unwrap_or(0)))
            .collect()
    };
    for sim in &sims {
        sim.wait_shows(&expected(&BTreeMap::new()), 60).await;
    }

    // Sales flow over every channel; B dies in the middle of them.
    let mut sold: BTreeMap<String, i64> = BTreeMap::new();
    let mut placed: Vec<(usize, String)> = Vec::new();
    for i in 0..SALES {
        let ch = i % sims.len();
        let sku = &skus[(i * 5) % skus.len()];
        let id = sims[ch].order(&[(sku.as_str(), 1)], json!({})).await;
        *sold.entry(sku.clone()).or_default() += 1;
        placed.push((ch, id));
        if i == KILL_AT {
            // Ship some of what was imported so far, so that syncs are in
            // flight too, then kill B without warning.
            eventually("some orders imported before the kill", 60, || async {
                let (_, o) = a
                    .send(
                        reqwest::Method::GET,
                        &format!("/v1/orders?store_id={store}&limit=100"),
                        None,
                    )
                    .await;
                o["items"].as_array().map_or(0, Vec::len) >= 8
            })
            .await;
            let (_, orders) = a
                .send(
                    reqwest::Method::GET,
                    &format!("/v1/orders?store_id={store}&limit=100"),
                    None,
                )
                .await;
            for o in orders["items"].as_array().into_iter().flatten().take(8) {
                let (s, body) = a
                    .send(
                        reqwest::Method::POST,
                        &format!("/v1/orders/{}/fulfilments", o["id"].as_str().unwrap()),
                        Some(json!({ "tracking": [{ "number": "1Z999AA10123456784" }] })),
                    )
                    .await;
                assert_eq!(s, 201, "{body}");
            }
            let killed = &mut servers[1].0;
            killed.kill().unwrap();
            killed.wait().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every order exactly once.
    let orders = || async {
        let (_, body) = a
            .send(
                reqwest::Method::GET,
                &format!("/v1/orders?store_id={store}&limit=1000"),
                None,
            )
            .await;
        body["items"].as_array().cloned().unwrap_or_default()
    };
    eventually(&format!("all {SALES} orders imported"), 120, || async {
        orders().await.len() >= SALES
    })
    .await;
    let all = orders().await;
    let keys: BTreeSet<(String, String)> = all
        .iter()
        .map(|o| {
            (
                o["channel_id"].as_str().unwrap().to_owned(),
                o["channel_order_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(all.len(), SALES, "no order twice");
    for (ch, id) in &placed {
        assert!(
            keys.contains(&(channels[*ch].clone(), id.clone())),
            "order {id} on channel {ch}"
        );
    }

    // Every SKU converged on every channel.
    for sim in &sims {
        sim.wait_shows(&expected(&sold), 120).await;
    }

    // Each shipment reached its channel once.
    let shipped: Vec<&Value> = all.iter().filter(|o| o["state"] == "fulfilled").collect();
    assert!(
        !shipped.is_empty(),
        "the shipments made before the kill were recorded"
    );
    // Each shipment reached its channel exactly once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let mut wrong = Vec::new();
        for o in &shipped {
            let ch = channels
                .iter()
                .position(|c| o["channel_id"] == c.as_str())
                .unwrap();
            let id = o["channel_order_id"].as_str().unwrap();
            let n = shipments_by_order(&sims[ch])
                .await
                .get(id)
                .copied()
                .unwrap_or(0);
            if n != 1 {
                wrong.push(format!("{} order {id}: {n} shipments", kinds[ch].1));
            }
        }
        if wrong.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shipments not exactly once after 120 s: {wrong:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // One webhook-id per order; a repeat only for what B had in flight.
    let pool = sqlx::PgPool::connect(&place.url).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let ids: BTreeSet<String> = receiver.received().into_iter().map(|r| r.id).collect();
        if ids.len() >= SALES {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let state: Vec<(String, i64)> = sqlx::query_as(
                "SELECT 'journal order.created', count(*) FROM journal WHERE event_type = 'order.created'
                 UNION ALL SELECT 'cursor seq', seq FROM webhook_cursor
                 UNION ALL SELECT 'max journal seq', coalesce(max(seq), 0) FROM journal
                 UNION ALL SELECT 'messages', count(*) FROM webhook_messages
                 UNION ALL SELECT 'deliveries ' || state, count(*) FROM webhook_deliveries GROUP BY state
                 UNION ALL SELECT 'running xids', count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND backend_xid IS NOT NULL",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            panic!(
                "{} of {SALES} order.created webhooks after 120 s; {state:?}",
                ids.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let got = receiver.received();
    let mut ids_by_order: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &got {
        let order = r.json()["data"]["id"].as_str().unwrap().to_owned();
        ids_by_order.entry(order).or_default().insert(r.id.clone());
    }
    assert_eq!(ids_by_order.len(), SALES);
    assert!(
        ids_by_order.values().all(|ids| ids.len() == 1),
        "one message per order: {ids_by_order:?}"
    );
    let distinct: BTreeSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    let repeats = got.len() - distinct.len();
    assert!(
        repeats <= 16,
        "{repeats} repeats: more than B can have had in flight"
    );

    // The work was shared: more than one instance held round leases.
    let holders: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT lease_holder FROM work_leases WHERE lease_holder IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        holders.len() >= 2,
        "one instance did all the rounds: {holders:?}"
    );
    drop(servers);
}

/// Wake-ups cross instances: with workers that look for work only once a
/// minute, a listings download asked of an API-only instance and a stock
/// change made there reach the channel through a workers-only instance
/// within seconds. Only `LISTEN/NOTIFY` can have woken it so soon.
#[tokio::test]
async fn a_change_on_an_api_instance_wakes_the_workers_of_another_at_once() {
    if switchyard_testkit::on_postgres() {
        // It always runs on its own PostgreSQL database, in the first pass.
        return;
    }
    let cluster = switchyard_pgtest::cluster().expect("PostgreSQL test cluster");
    let place = Place {
        dir: tempfile::tempdir().unwrap(),
        url: cluster.database().await.unwrap(),
    };
    let config = place.dir.path().join("slow-ticks.toml");
    std::fs::write(
        &config,
        "[engine]\ntick_ms = 60000\nback_office_tick_ms = 60000\n",
    )
    .unwrap();
    let out = place
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
    let serve = |port: u16, role: &str| {
        Server(
            place
                .command()
                .arg("--config")
                .arg(&config)
                .args([
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--role",
                    role,
                ])
                .env("SWITCHYARD_OUTBOUND_ALLOW", "127.0.0.1")
                .stdout(Stdio::null())
                .stderr(log(port))
                .spawn()
                .unwrap(),
        )
    };
    let (pa, pw) = (free_port(), free_port());
    let _api_instance = serve(pa, "api");
    let a = Client::new(format!("http://127.0.0.1:{pa}"), token);
    eventually("the API instance to answer", 30, || async {
        a.send(reqwest::Method::GET, "/v1/stores", None).await.0 == 200
    })
    .await;
    let _workers = serve(pw, "workers");
    let w = Client::new(format!("http://127.0.0.1:{pw}"), String::new());
    eventually("the workers instance to answer", 30, || async {
        w.send(reqwest::Method::GET, "/healthz", None).await.0 == 200
    })
    .await;
    // Its first look for work comes at start; after that, once a minute.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let shop = Sim::start(Channel::Shopify).await;
    let (_, store) = a
        .send(
            reqwest::Method::POST,
            "/v1/stores",
            Some(json!({ "name": "Woken" })),
        )
        .await;
    let store = store["id"].as_str().unwrap().to_owned();
    let (s, body) = a
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/products"),
            Some(json!({ "sku": "SKU-00001", "title": "Mug" })),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (s, ch) = a
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/channels"),
            Some(
                json!({ "name": "Shopify", "kind": "shopify", "base_url": shop.url(),
                "credentials": { "access_token": shop.sim.credentials["access_token"] },
                "settings": { "cadence_secs": 86400, "auto_sync_stock": true,
                              "push_notifications": false } }),
            ),
        )
        .await;
    assert_eq!(s, 201, "{ch}");
    let ch = ch["id"].as_str().unwrap();
    let (s, job) = a
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/channels/{ch}/listings/download"),
            None,
        )
        .await;
    assert_eq!(s, 202, "{job}");
    for quantity in [7, 3] {
        let (s, body) = a
            .send(
                reqwest::Method::PUT,
                &format!("/v1/stores/{store}/stock/SKU-00001"),
                Some(json!({ "quantity": quantity })),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        eventually(
            &format!("the channel to show {quantity} well before the workers' minute tick"),
            10,
            || async { shop.stock().await.get("SKU-00001") == Some(&quantity) },
        )
        .await;
    }
}
