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
    let since: Vec<NaiveDateTime> = woo_reads(&w)
        .await
        .iter()
        .map(|(t, _)| date(t))
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

/// The list requests a WooCommerce simulator answered: `(modified_after,
/// offset)` of each, in order.
async fn woo_reads(w: &World) -> Vec<(String, usize)> {
    let log = w
        .woo
        .send(reqwest::Method::GET, "/_sim/requests", json!({}))
        .await;
    log["requests"]
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
            let param = |k: &str| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix(k))
                    .map(str::to_owned)
            };
            Some((param("modified_after=")?, param("offset=")?.parse().ok()?))
        })
        .collect()
}

#[tokio::test]
async fn a_round_cut_short_goes_on_from_the_last_page_it_stored() {
    // One page per round: every round after the first is cut short.
    let app = spawn_app_with(EngineConfig {
        max_pages: 1,
        ..engine_config()
    })
    .await;
    let w = World::on(
        app,
        json!({ "push_notifications": false, "cadence_secs": 3600 }),
    )
    .await;
    let q = format!("&channel_id={}", w.woo_ch);
    let line = json!([{ "sku": "SKU-00004", "quantity": 1 }]);
    let base = format!("/v1/stores/{}/channels/{}", w.store, w.woo_ch);
    let import_now = || async {
        let r = w
            .app
            .post(&w.t, &format!("{base}/import"), &json!({}))
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
    };
    // A round finds one order and finishes, setting the cursor.
    w.woo.post("/_sim/orders", json!({ "lines": line })).await;
    import_now().await;
    w.wait_orders(&q, 1, 30).await;
    // 250 more: three pages of 100 in the next round's window.
    for _ in 0..250 {
        w.woo.post("/_sim/orders", json!({ "lines": line })).await;
    }
    import_now().await;
    // A round that stopped at the page limit is due again at once, and
    // goes on from its resume point: without it, every round would read
    // the first page again and the rest would never come.
    w.wait_orders(&q, 251, 60).await;
    let reads = woo_reads(&w).await;
    let window = &reads.last().unwrap().0;
    let offsets: Vec<usize> = reads
        .iter()
        .filter(|(since, _)| since == window)
        .map(|(_, o)| *o)
        .collect();
    // Three pages of 100 (the connector steps back one order per page to
    // see shifts), each read once, in order.
    assert!(
        offsets.len() == 3 && offsets[0] == 0 && offsets.windows(2).all(|p| p[0] < p[1]),
        "each page of the window read once: {reads:?}"
    );
    // Done: the resume point is cleared and the cursor moved, so the next
    // round reads a new window from its first page.
    import_now().await;
    // (All 251 orders are inside its overlap: it reads three pages too.)
    crate::eventually("a new window, read to its end", 30, || async {
        let now = woo_reads(&w).await;
        now.len() == reads.len() + 3 && now[reads.len()].1 == 0
    })
    .await;
    w.wait_orders(&q, 251, 5).await;
    // A backfill stopped by the page limit is released for its next
    // attempt, which goes on from the page it recorded.
    let before = woo_reads(&w).await.len();
    let from = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let job = w.job(&w.woo_ch, "backfill", json!({ "from": from })).await;
    let backfill: Vec<usize> = woo_reads(&w).await[before..]
        .iter()
        .map(|(_, offset)| *offset)
        .collect();
    assert!(
        backfill.len() == 3 && backfill[0] == 0 && backfill.windows(2).all(|p| p[0] < p[1]),
        "each page read once over three attempts: {backfill:?}"
    );
    assert_eq!(
        (&job["progress"]["pages"], &job["progress"]["orders"]),
        (&json!(3), &json!(251)),
        "{job}"
    );
    w.wait_orders(&q, 251, 5).await;
}
