use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;
use switchyard_testkit::spawn_app;

/// Clients race to bump one SKU with compare-and-set. For each expected value
/// exactly one wins; the final figure equals the number of winning bumps.
#[tokio::test]
async fn concurrent_compare_and_set_writes_have_exactly_one_winner_per_expected_value() {
    let app = Arc::new(spawn_app().await);
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    app.product(&t, &s, "A").await;
    let path = format!("/v1/stores/{s}/stock/A");
    let clients = 8;
    let attempts_each = 12;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (app, t, path) = (app.clone(), t.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut wins = Vec::new();
            let mut conflicts = 0;
            for _ in 0..attempts_each {
                let current = app.get(&t, &path).await.body["on_hand"].as_i64().unwrap();
                let r = app
                    .put(
                        &t,
                        &path,
                        &json!({ "quantity": current + 1, "expected": current }),
                    )
                    .await;
                match r.status {
                    StatusCode::OK => wins.push(current),
                    StatusCode::CONFLICT => {
                        assert_eq!(r.body["error"]["code"], "stock_expected_mismatch");
                        conflicts += 1;
                    }
                    other => panic!("unexpected {other}: {:?}", r.body),
                }
            }
            (wins, conflicts)
        }));
    }
    let mut won_from = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        let (w, c) = t.await.unwrap();
        won_from.extend(w);
        conflicts += c;
    }
    let total = won_from.len();
    won_from.sort_unstable();
    let mut dedup = won_from.clone();
    dedup.dedup();
    assert_eq!(
        dedup.len(),
        total,
        "no expected value was won twice: {won_from:?}"
    );
    assert_eq!(total + conflicts, clients * attempts_each);
    let final_qty = app.get(&t, &path).await.body["on_hand"].as_i64().unwrap();
    assert_eq!(
        final_qty,
        i64::try_from(total).unwrap(),
        "final figure is the sum of the winners' +1s"
    );
    assert_eq!(won_from, (0..final_qty).collect::<Vec<_>>());
}
