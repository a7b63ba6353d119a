//! Stock pushes: an untried push takes a newer target in place (one open
//! row per listing, not one per change), a push tried once is superseded
//! instead, and a result applies only to the quantity that was sent.

use std::sync::Arc;
use switchyard_domain::cursor::CursorMove;

use chrono::{Duration, Utc};
use switchyard_domain::order::ChannelFulfilment;
use switchyard_domain::stock::StockSource;
use switchyard_storage::{
    ChannelRef, DuePush, ImportItem, ImportReport, PushResult, SettledTargets, StockChange,
    StockOp, Storage,
};

use crate::fulfilments::order;
use crate::{account_and_store, product, sku, syncing_listing};

async fn set(s: &dyn Storage, r: &ChannelRef, quantity: i64) {
    s.change_stock(
        &r.account_id,
        &r.store_id,
        &StockSource::Api,
        &[StockChange {
            sku: sku("A"),
            location: String::new(),
            op: StockOp::Set(quantity),
            expected: None,
            reason: None,
        }],
    )
    .await
    .unwrap();
}

/// The due pushes of the channel.
async fn due(s: &dyn Storage, r: &ChannelRef) -> Vec<DuePush> {
    s.due_pushes(r, Utc::now() + Duration::seconds(1), 100)
        .await
        .unwrap()
}

fn only(due: &[DuePush]) -> &DuePush {
    assert_eq!(due.len(), 1, "one open push: {due:?}");
    &due[0]
}

pub async fn an_untried_push_takes_newer_targets_in_place_and_results_apply_to_what_was_sent(
    s: Arc<dyn Storage>,
) {
    let s = s.as_ref();
    let (a, st) = account_and_store(s, "pushes").await;
    product(s, &a, &st, "A").await;
    let r = syncing_listing(s, &a, &st, "A").await;

    set(s, &r, 5).await;
    let first = only(&due(s, &r).await).clone();
    assert_eq!((first.quantity, first.attempts), (5, 0));

    // A second change before the push is tried: the same row, retargeted.
    set(s, &r, 7).await;
    let now = due(s, &r).await;
    assert_eq!((only(&now).id, only(&now).quantity), (first.id, 7));

    // The push worker had read it at 5 and sent 5: the channel holds 5,
    // but the push stays open for 7.
    s.record_push_results(&r, vec![(first.clone(), PushResult::Sent)])
        .await
        .unwrap();
    let now = due(s, &r).await;
    let p = only(&now);
    assert_eq!((p.id, p.quantity, p.attempts), (first.id, 7, 0));
    assert_eq!(
        p.confirmed,
        Some(5),
        "what was sent is what the channel holds"
    );

    // A failure of a quantity no longer asked for does not park the push.
    let at7 = p.clone();
    set(s, &r, 9).await;
    let failed = PushResult::Failed {
        error: "HTTP 503".into(),
        retry_at: Some(Utc::now() + Duration::hours(1)),
    };
    s.record_push_results(&r, vec![(at7, failed)])
        .await
        .unwrap();
    let now = due(s, &r).await;
    let p = only(&now).clone();
    assert_eq!((p.id, p.quantity, p.attempts), (first.id, 9, 0));

    // Sent at 9: confirmed, nothing open.
    s.record_push_results(&r, vec![(p, PushResult::Sent)])
        .await
        .unwrap();
    let now = s
        .due_pushes(&r, Utc::now() + Duration::days(1), 100)
        .await
        .unwrap();
    assert!(now.is_empty(), "{now:?}");

    // A push tried once is not retargeted: the newer target is a new
    // push, and the failing one is superseded.
    set(s, &r, 4).await;
    let tried = only(&due(s, &r).await).clone();
    assert_ne!(tried.id, first.id);
    let failed = PushResult::Failed {
        error: "HTTP 503".into(),
        retry_at: Some(Utc::now()),
    };
    s.record_push_results(&r, vec![(tried.clone(), failed)])
        .await
        .unwrap();
    assert_eq!(only(&due(s, &r).await).attempts, 1);
    set(s, &r, 3).await;
    let now = due(s, &r).await;
    let p = only(&now);
    assert!(p.id > tried.id, "a new push: {p:?}");
    assert_eq!((p.quantity, p.attempts, p.confirmed), (3, 0, Some(9)));
}

/// Import `orders` (channel order id, quantity of A) as one page.
async fn import_page(s: &dyn Storage, r: &ChannelRef, orders: &[(&str, i64)]) -> ImportReport {
    let items: Vec<ImportItem> = orders
        .iter()
        .map(|(id, q)| ImportItem {
            order: order(id, &[("A", *q)], ChannelFulfilment::Unfulfilled),
            raw: serde_json::json!({}),
        })
        .collect();
    s.import_orders(r, &items, &CursorMove::Stay).await.unwrap()
}

/// Import pages larger than a notified burst mark the SKUs whose available
/// stock they changed; one settle then sets each listing's target once, for
/// every page since, and clears the marks. A small page sets its targets in
/// its own transaction.
pub async fn import_pages_mark_stock_and_one_settle_sets_each_target_once(s: Arc<dyn Storage>) {
    let s = s.as_ref();
    let (a, st) = account_and_store(s, "settle").await;
    product(s, &a, &st, "A").await;
    let r = syncing_listing(s, &a, &st, "A").await;
    set(s, &r, 100).await;
    let first = only(&due(s, &r).await).clone();
    assert_eq!(first.quantity, 100);

    let ids: Vec<String> = (0..42).map(|i| format!("big-{i}")).collect();
    let page = |from: usize| -> Vec<(&str, i64)> {
        ids[from..from + 21]
            .iter()
            .map(|id| (id.as_str(), 1))
            .collect()
    };
    let report = import_page(s, &r, &page(0)).await;
    assert_eq!(report.stock_changed, 1, "{report:?}");
    import_page(s, &r, &page(21)).await;
    assert_eq!(
        only(&due(s, &r).await).quantity,
        100,
        "large pages leave the target to the settle"
    );
    let settled = s.settle_targets(1000).await.unwrap();
    assert_eq!(
        settled,
        SettledTargets { skus: 1, pushes: 1 },
        "one SKU, its one listing retargeted once"
    );
    let now = due(s, &r).await;
    assert_eq!(
        (only(&now).id, only(&now).quantity),
        (first.id, 58),
        "the untried push took the target after both pages"
    );
    assert_eq!(
        s.settle_targets(1000).await.unwrap(),
        SettledTargets::default(),
        "the marks are cleared"
    );
    // A small page (a notified burst) sets the target itself, marking nothing.
    import_page(s, &r, &[("1", 2), ("2", 1)]).await;
    assert_eq!(only(&due(s, &r).await).quantity, 55);
    assert_eq!(
        s.settle_targets(1000).await.unwrap(),
        SettledTargets::default()
    );
    // An order read again unchanged changes nothing and marks nothing.
    let item = ImportItem {
        order: order("4", &[("A", 1)], ChannelFulfilment::Unfulfilled),
        raw: serde_json::json!({}),
    };
    s.import_orders(&r, std::slice::from_ref(&item), &CursorMove::Stay)
        .await
        .unwrap();
    s.settle_targets(1000).await.unwrap();
    let again = s
        .import_orders(&r, std::slice::from_ref(&item), &CursorMove::Stay)
        .await
        .unwrap();
    assert_eq!(again.stock_changed, 0, "{again:?}");
    assert_eq!(
        s.settle_targets(1000).await.unwrap(),
        SettledTargets::default()
    );
}

/// Settles racing import pages (on PostgreSQL, in other transactions) never
/// clear a mark before the page's commitments can be read: once the pages
/// are in and a last settle ran, the target is exact.
pub async fn settles_racing_import_pages_leave_every_target_exact(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "racing").await;
    product(&*s, &a, &st, "A").await;
    let r = syncing_listing(&*s, &a, &st, "A").await;
    set(&*s, &r, 1000).await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let pages = async {
        // Pages large enough to mark rather than set their targets.
        let imports = (0..20).map(|n| {
            let (s, r) = (s.clone(), r.clone());
            async move {
                let ids: Vec<String> = (0..21).map(|k| format!("{n}-{k}")).collect();
                let page: Vec<(&str, i64)> = ids.iter().map(|id| (id.as_str(), 1)).collect();
                import_page(&*s, &r, &page).await;
            }
        });
        futures::future::join_all(imports).await;
        done.store(true, std::sync::atomic::Ordering::Release);
    };
    let settles = async {
        let mut n = 0;
        while !done.load(std::sync::atomic::Ordering::Acquire) && n < 10_000 {
            s.settle_targets(3).await.unwrap();
            tokio::task::yield_now().await;
            n += 1;
        }
    };
    tokio::join!(pages, settles);
    while s.settle_targets(1000).await.unwrap().skus > 0 {}
    assert_eq!(only(&due(&*s, &r).await).quantity, 1000 - 20 * 21);
}
