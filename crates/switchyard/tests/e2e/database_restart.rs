//! PostgreSQL restarting under a running server, in the middle of an
//! import: the API answers JSON 503s while it is away, the workers retry,
//! and every order still arrives exactly once. The test has a cluster of
//! its own, so stopping it takes nothing from the tests beside it.

use serde_json::json;
use switchyard_sim::{Channel, Faults};
use switchyard_testkit::{engine_config, spawn_app_on};

use crate::{Sim, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarting_mid_import_loses_and_duplicates_nothing() {
    const ORDERS: usize = 300;
    let cluster = switchyard_pgtest::Cluster::start_private().unwrap();
    let url = cluster.database().await.unwrap();
    let shop = Sim::start(Channel::Shopify).await;
    for i in 0..ORDERS {
        shop.order(&[("SKU-00001", 1 + (i % 2) as i64)], json!({}))
            .await;
    }
    let committed_on_channel: i64 = (0..ORDERS).map(|i| 1 + (i % 2) as i64).sum();
    // A plus-sized throttle bucket, so the run is bounded by our own work;
    // but every answer of the shop takes 300 ms, so the import is still
    // running when the database goes away.
    shop.put(
        "/_sim/throttle",
        json!({ "maximum_available": 1e9, "restore_rate": 1e9 }),
    )
    .await;
    shop.faults(&Faults {
        rate_slow: 1.0,
        slow_ms: 300,
        ..Faults::default()
    })
    .await;

    let app = spawn_app_on(&url, engine_config()).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Restart").await;
    app.product(&t, &store, "SKU-00001").await;
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{store}/channels"),
            &json!({ "name": "Shopify", "kind": "shopify", "base_url": shop.url(),
                "credentials": { "access_token": shop.sim.credentials["access_token"] },
                "settings": { "download_products": false, "push_notifications": false } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let count = || async {
        let r = app
            .get(&t, &format!("/v1/orders?store_id={store}&limit=1000"))
            .await;
        if r.status != 200 {
            return None;
        }
        r.body["items"].as_array().map(Vec::len)
    };
    eventually("the first orders to be imported", 60, || async {
        count().await.is_some_and(|n| n > 0)
    })
    .await;
    let before = count().await.unwrap_or(0);
    assert!(
        before < ORDERS,
        "the import was over before the database stopped ({before} orders); nothing was tested"
    );

    tokio::task::block_in_place(|| cluster.stop()).unwrap();
    let at_stop = app
        .get(&t, &format!("/v1/orders?store_id={store}&limit=1"))
        .await;
    assert_eq!(at_stop.status, 503, "{}", at_stop.body);
    assert_eq!(
        at_stop.body["error"]["code"], "unavailable",
        "{}",
        at_stop.body
    );
    assert_eq!(at_stop.headers["retry-after"], "1");
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    // Long enough for the import worker to fail a round or two.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| cluster.start()).unwrap();

    eventually(
        &format!("all {ORDERS} orders after the restart"),
        90,
        || async { count().await.is_some_and(|n| n >= ORDERS) },
    )
    .await;
    let seen = count().await.unwrap();
    assert_eq!(seen, ORDERS, "no order twice");
    let stock = app
        .get(&t, &format!("/v1/stores/{store}/stock/SKU-00001"))
        .await;
    assert_eq!(
        stock.body["committed"], committed_on_channel,
        "every commitment exactly once: {}",
        stock.body
    );
}
