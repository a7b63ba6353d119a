//! The pruning worker runs under the driver: a day after a burst of stock
//! changes, the superseded and confirmed pushes are gone and every listing
//! keeps its newest push; the journal and delivered webhooks are kept
//! within their longer retention.

use std::collections::BTreeMap;

use serde_json::json;
use switchyard::EngineConfig;
use switchyard_storage::Prunable;

use crate::{KIT, World, engine_config, eventually};

#[tokio::test]
async fn a_day_later_old_pushes_are_pruned_and_each_listing_keeps_its_newest() {
    let clock = switchyard::Clock::default();
    let app = switchyard_testkit::spawn_app_with(EngineConfig {
        clock: clock.clone(),
        retention: switchyard::Retention {
            interval_secs: 1,
            ..switchyard::Retention::default()
        },
        ..engine_config()
    })
    .await;
    let w = World::on(app, json!({})).await;
    // A burst of stock changes, each pushed to both channels.
    let plain: Vec<&str> = w
        .skus
        .iter()
        .map(String::as_str)
        .filter(|s| *s != KIT)
        .take(3)
        .collect();
    let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
    for i in 0..6 {
        let sku = plain[i % plain.len()];
        w.shopify.order(&[(sku, 1)], json!({})).await;
        *sold.entry(sku).or_default() += 1;
        w.converge(&w.expected(&sold), 30).await;
    }
    let storage = w.app.storage.clone();
    let pushes = storage.count_rows(Prunable::Pushes).await.unwrap();
    let journal = storage.count_rows(Prunable::Journal).await.unwrap();
    let listings = 2 * w.skus.len() as u64;
    assert!(
        pushes > listings,
        "{pushes} pushes for {listings} listings: nothing to prune"
    );

    // A day and an hour later, the pruning worker has removed the old ones.
    clock.advance(chrono::Duration::hours(25));
    eventually("old pushes pruned", 30, || async {
        storage.count_rows(Prunable::Pushes).await.unwrap() <= listings
    })
    .await;
    // Stock still converges afterwards: nothing needed went.
    w.shopify.order(&[(plain[0], 1)], json!({})).await;
    *sold.entry(plain[0]).or_default() += 1;
    w.converge(&w.expected(&sold), 30).await;
    // The journal is kept for a year.
    assert!(storage.count_rows(Prunable::Journal).await.unwrap() >= journal);
}
