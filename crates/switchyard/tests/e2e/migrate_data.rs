//! `switchyard migrate-data`: an installation filled on SQLite through the
//! API and a simulator is copied to PostgreSQL; `serve` there answers the
//! same reads with the same bodies, and its workers carry on where SQLite
//! stopped (a stock push left pending is sent exactly once).

use std::ops::ControlFlow;

use serde_json::{Value, json};
use switchyard::migrate_data::Step;
use switchyard_sim::{Channel, Faults};

use crate::crash::{Client, Place, Server, free_port, serve, start_in};
use crate::{Sim, eventually};

/// Stop a server as an operator does (SIGTERM), and wait for it to exit.
fn terminate(mut server: Server) {
    let pid = server.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    for _ in 0..400 {
        if server.0.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("serve did not stop within 20 s of SIGTERM");
}

/// `switchyard migrate-data` on `place`'s SQLite file into `to`: (success, stderr).
fn migrate(place: &Place, to: &str) -> (bool, String) {
    let out = place
        .command()
        .args(["migrate-data", "--to", to])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The reads compared across the move, with their bodies.
async fn reads(api: &Client, store: &str, order: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for path in [
        "/v1/account".to_owned(),
        "/v1/stores".to_owned(),
        format!("/v1/orders?store_id={store}&limit=100"),
        format!("/v1/orders/{order}"),
        format!("/v1/stores/{store}/products?limit=100"),
        format!("/v1/stores/{store}/stock/SKU-00001"),
        format!("/v1/stores/{store}/channels"),
        format!("/v1/stores/{store}/journal?limit=500"),
    ] {
        let (status, body) = api.send(reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        out.push((path, body));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_from_sqlite_to_postgres_and_carries_on() {
    let shop = Sim::start(Channel::Shopify).await;
    let (place, port, server, api, store) = start_in(Place::sqlite()).await;
    let skus: Vec<String> = shop.stock().await.into_keys().collect();
    for sku in &skus {
        let (s, b) = api
            .send(
                reqwest::Method::POST,
                &format!("/v1/stores/{store}/products"),
                Some(json!({ "sku": sku, "title": sku })),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let items: Vec<Value> = skus
        .iter()
        .map(|s| json!({ "sku": s, "quantity": 10 }))
        .collect();
    let (s, b) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/stock"),
            Some(json!({ "items": items })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    shop.order(&[("SKU-00001", 2)], json!({})).await;
    let (s, ch) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/channels"),
            Some(
                json!({ "name": "Shopify", "kind": "shopify", "base_url": shop.url(),
                "credentials": { "access_token": shop.sim.credentials["access_token"] },
                "settings": { "cadence_secs": 10, "download_products": true,
                              "auto_sync_stock": true, "push_notifications": false } }),
            ),
        )
        .await;
    assert_eq!(s, 201, "{ch}");
    let channel = ch["id"].as_str().unwrap().to_owned();
    // Imported, and every listing in step (the sale lowered SKU-00001).
    let mut expected = shop.stock().await;
    for q in expected.values_mut() {
        *q = 10;
    }
    expected.insert("SKU-00001".into(), 8);
    shop.wait_shows(&expected, 60).await;
    let (_, orders) = api
        .send(
            reqwest::Method::GET,
            &format!("/v1/orders?store_id={store}"),
            None,
        )
        .await;
    let order = orders["items"][0]["id"].as_str().unwrap().to_owned();

    // A stock change the channel refuses: its push waits, pending.
    shop.faults(&Faults {
        rate_5xx: 1.0,
        ..Faults::default()
    })
    .await;
    let (s, b) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/stock"),
            Some(json!({ "items": [{ "sku": "SKU-00001", "quantity": 7 }] })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    eventually("the push to fail on the channel", 30, || async {
        let (_, h) = api
            .send(
                reqwest::Method::GET,
                &format!("/v1/stores/{store}/channels/{channel}/health"),
                None,
            )
            .await;
        h["failing_stock_pushes"].as_i64().unwrap_or(0) > 0
    })
    .await;
    let before = reads(&api, &store, &order).await;
    terminate(server);

    // The copy, into a database of its own.
    let cluster = switchyard_pgtest::cluster().unwrap();
    let target = cluster.database().await.unwrap();
    // First interrupted in the middle of the journal, five rows a chunk…
    let source = format!(
        "sqlite://{}",
        place.dir.path().join("switchyard.db").display()
    );
    let stopped = switchyard::migrate_data::copy(&source, &target, 5, |step| match step {
        Step::Rows {
            table: "journal",
            copied,
            ..
        } if copied >= 20 => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .await;
    let why = stopped.expect_err("the copy was interrupted").to_string();
    assert!(why.contains("run it again"), "{why}");
    // …then the command takes it up where it stopped.
    let (ok, said) = migrate(&place, &target);
    assert!(ok, "{said}");
    assert!(said.contains("taking up an interrupted copy"), "{said}");
    assert!(said.contains("orders: 1 of 1 rows"), "progress: {said}");
    assert!(said.contains("copy complete"), "{said}");
    // Run again: nothing to do, nothing doubled.
    let (ok, again) = migrate(&place, &target);
    assert!(ok, "{again}");
    assert!(again.contains("already complete"), "{again}");
    // Any other non-empty database is refused.
    let other = Place::sqlite();
    assert!(other.command().arg("migrate").status().unwrap().success());
    let (ok, refused) = migrate(&other, &target);
    assert!(!ok, "a non-empty target must be refused");
    assert!(refused.contains("another SQLite database"), "{refused}");

    // serve on PostgreSQL, workers off: the same answers, byte for byte.
    let on_pg = Place {
        dir: place.dir,
        url: target,
    };
    let reader = Server(
        on_pg
            .command()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("SWITCHYARD_ROLE", "api")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually("serve on PostgreSQL to answer", 30, || async {
        api.send(reqwest::Method::GET, "/v1/stores", None).await.0 == 200
    })
    .await;
    let after = reads(&api, &store, &order).await;
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a, b, "{path} answers differently on PostgreSQL");
    }
    terminate(reader);

    // With workers: the pending push goes out, once.
    let accepted_before = shop.sim.accepted_stock().await.unwrap().len();
    shop.faults(&Faults::default()).await;
    let port = free_port();
    let _server = serve(&on_pg, port);
    expected.insert("SKU-00001".into(), 5);
    shop.wait_shows(&expected, 60).await;
    // Give a second push, if there were one, the time to arrive.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let sent: Vec<_> = shop.sim.accepted_stock().await.unwrap()[accepted_before..]
        .iter()
        .filter(|a| a.sku == "SKU-00001")
        .cloned()
        .collect();
    assert_eq!(sent.len(), 1, "the pending push exactly once: {sent:?}");
    assert_eq!(sent[0].quantity, 5);
}
