//! A store's overview: orders per channel and day, what waits for
//! someone, the oldest unpushed stock change, and the pushes sales caused.

use std::sync::Arc;

use chrono::{Duration, Utc};
use switchyard_domain::cursor::CursorMove;
use switchyard_domain::order::{ChannelFulfilment, OrderAction};
use switchyard_storage::{ImportItem, OrderFilter, PageRequest, PushResult, Storage};

use crate::fulfilments::order;
use crate::{account_and_store, product, syncing_listing};

pub async fn the_overview_counts_todays_orders_what_waits_and_the_pushes_sales_caused(
    s: Arc<dyn Storage>,
) {
    let s = s.as_ref();
    let (a, st) = account_and_store(s, "overview").await;
    product(s, &a, &st, "A").await;
    let r = syncing_listing(s, &a, &st, "A").await;
    let since = Utc::now() - Duration::days(14);
    let empty = s.store_overview(&a, &st, since).await.unwrap();
    assert!(empty.orders_per_day.is_empty() && empty.sale_pushes.is_empty());
    assert_eq!(
        (empty.on_hold, empty.failed_syncs, empty.back_office_failed),
        (0, 0, 0)
    );

    let rr = &r;
    let import = |id: &'static str| {
        let items = vec![ImportItem {
            order: order(id, &[("A", 1)], ChannelFulfilment::Unfulfilled),
            raw: serde_json::json!({}),
        }];
        async move {
            s.import_orders(rr, &items, &CursorMove::Stay)
                .await
                .unwrap()
        }
    };
    // A sale, and the push it caused taken by the channel.
    import("ov-1").await;
    let due = s
        .due_pushes(&r, Utc::now() + Duration::seconds(1), 100)
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    s.record_push_results(&r, vec![(due[0].clone(), PushResult::Sent)])
        .await
        .unwrap();
    // A second sale whose push is still to go, put on hold.
    import("ov-2").await;
    let orders = s
        .list_orders(&a, &OrderFilter::default(), &PageRequest::first(10))
        .await
        .unwrap();
    let second = orders
        .items
        .iter()
        .find(|o| o.channel_order_id == "ov-2")
        .unwrap();
    s.act_on_order(&a, &second.id, OrderAction::Hold("check".into()))
        .await
        .unwrap();

    let o = s.store_overview(&a, &st, since).await.unwrap();
    assert_eq!(o.orders_per_day.len(), 1, "{:?}", o.orders_per_day);
    let today = &o.orders_per_day[0];
    assert_eq!(
        (&today.channel_id, today.day, today.orders),
        (&r.channel_id, Utc::now().date_naive(), 2)
    );
    assert_eq!((o.on_hold, o.failed_syncs, o.back_office_failed), (1, 0, 0));
    assert!(
        o.oldest_unpushed_stock_change.is_some(),
        "the second sale's push waits"
    );
    assert_eq!(o.sale_pushes.len(), 1, "{:?}", o.sale_pushes);
    let p = &o.sale_pushes[0];
    assert_eq!(p.channel_id, r.channel_id);
    assert!(p.sent_at >= p.queued_at);

    let later = s
        .store_overview(&a, &st, Utc::now() + Duration::minutes(1))
        .await
        .unwrap();
    assert!(later.orders_per_day.is_empty(), "nothing made since then");
    let (other, _) = account_and_store(s, "overview-other").await;
    assert!(s.store_overview(&other, &st, since).await.is_err());
}
