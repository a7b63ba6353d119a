//! Fast polling: a channel polled far more often than the overlap reads
//! from just before its cursor each round, and sweeps the whole overlap
//! every half overlap for orders that show up in its list late. Nothing is
//! lost either way.

use chrono::NaiveDateTime;
use serde_json::json;
use switchyard::EngineConfig;
use switchyard_testkit::spawn_app_with;

use crate::{World, engine_config};

fn date(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(&s.replace("%3A", ":"), "%Y-%m-%dT%H:%M:%S").unwrap()
}

#[tokio::test]
async fn a_fast_polled_channel_reads_from_its_cursor_and_its_sweep_finds_an_order_listed_late() {
    let app = spawn_app_with(EngineConfig {
        overlap: chrono::Duration::seconds(30),
        short_overlap: chrono::Duration::seconds(2),
        ..engine_config()
    })
    .await;
    // Polled every 10 s, under half the overlap.
    let w = World::on(app, json!({ "push_notifications": false })).await;
    let q = format!("&channel_id={}", w.woo_ch);
    let line = json!([{ "sku": "SKU-00004", "quantity": 1 }]);
    let first = w.woo.post("/_sim/orders", json!({ "lines": line })).await;
    let first_modified = date(first["date_modified_gmt"].as_str().unwrap());
    w.wait_orders(&q, 1, 30).await;
    // Listed 12 s after its change: before what a quick read reaches (the
    // cursor minus 2 s), inside the overlap (30 s).
    w.woo
        .post(
            "/_sim/orders",
            json!({ "lines": line, "listed_late_secs": 12 }),
        )
        .await;
    w.wait_orders(&q, 2, 60).await;
    // Both kinds of read went to the channel: from just before the cursor,
    // and across the whole overlap.
    let log = w
        .woo
        .send(reqwest::Method::GET, "/_sim/requests", json!({}))
        .await;
    let since: Vec<NaiveDateTime> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/wc/v3/orders"))
        })
        .filter_map(|e| {
            let q = e["query"].as_str()?;
            let v = q
                .split('&')
                .find_map(|kv| kv.strip_prefix("modified_after="))?;
            Some(date(v))
        })
        .filter(|t| *t >= first_modified - chrono::Duration::seconds(40))
        .collect();
    assert!(
        since
            .iter()
            .any(|t| *t >= first_modified - chrono::Duration::seconds(4)),
        "a quick read from just before the cursor: {since:?}"
    );
    assert!(
        since
            .iter()
            .any(|t| *t <= first_modified - chrono::Duration::seconds(25)),
        "a sweep of the whole overlap: {since:?}"
    );
}
