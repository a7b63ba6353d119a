use std::sync::Arc;
use switchyard_domain::cursor::CursorMove;

use chrono::{Duration, Utc};
use switchyard_domain::fulfilment::{
    FulfilmentSource, RequestedLine, SyncAction, SyncState, Tracking,
};
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, StoreId};
use switchyard_domain::order::{
    ChannelFulfilment, OrderState, PaymentStatus, UnifiedOrder, UnifiedOrderLine,
};
use switchyard_domain::stock::{StockRules, StockSource};
use switchyard_domain::values::Currency;
use switchyard_storage::{
    ChannelRef, ImportItem, NewFulfilment, SnapshotEntry, StockChange, StockOp, Storage,
    StorageError, SyncResult,
};

use crate::{account_and_store, channel, claim, kit, product, sku};

pub fn order(id: &str, lines: &[(&str, i64)], shipped: ChannelFulfilment) -> UnifiedOrder {
    let t = Utc::now();
    UnifiedOrder {
        channel_order_id: id.into(),
        number: format!("#{id}"),
        payment_status: PaymentStatus::Paid,
        fulfilment: shipped,
        cancelled: false,
        created_at: t,
        updated_at: t,
        currency: Currency::parse("EUR").unwrap(),
        total: 0,
        tax_total: 0,
        shipping_total: 0,
        discount_total: 0,
        customer: Default::default(),
        shipping_address: Default::default(),
        billing_address: Default::default(),
        shipping_method: None,
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (s, q))| UnifiedOrderLine {
                channel_line_id: format!("L{i}"),
                sku: Some((*s).to_owned()),
                title: (*s).to_owned(),
                quantity: *q,
                unit_price: 100,
                tax: 0,
                discount: 0,
                flags: Vec::new(),
            })
            .collect(),
        tags: Vec::new(),
    }
}

pub async fn import(s: &dyn Storage, r: &ChannelRef, o: UnifiedOrder) -> OrderId {
    s.import_orders(
        r,
        &[ImportItem {
            order: o.clone(),
            raw: serde_json::json!({}),
        }],
        &CursorMove::Stay,
    )
    .await
    .unwrap();
    s.list_orders(
        &r.account_id,
        &switchyard_storage::OrderFilter {
            store_id: Some(r.store_id.clone()),
            ..Default::default()
        },
        &switchyard_storage::PageRequest {
            limit: 100,
            after: None,
        },
    )
    .await
    .unwrap()
    .items
    .into_iter()
    .find(|x| x.channel_order_id == o.channel_order_id)
    .unwrap()
    .id
}

fn ship(lines: Option<Vec<RequestedLine>>, number: &str) -> NewFulfilment {
    NewFulfilment {
        lines,
        tracking: vec![Tracking {
            number: number.into(),
            url: None,
        }],
        carrier: None,
        service: None,
        shipped_at: Utc::now(),
        source: FulfilmentSource::Api,
        external_ref: None,
    }
}

async fn setup(s: &dyn Storage) -> (AccountId, StoreId, ChannelId, ChannelRef) {
    let (a, st) = account_and_store(s, "alice").await;
    for p in ["A", "B"] {
        product(s, &a, &st, p).await;
    }
    kit(s, &a, &st, "K", &[("A", 1), ("B", 2)]).await;
    s.change_stock(
        &a,
        &st,
        &StockSource::Api,
        &[("A", 10), ("B", 10)].map(|(c, q)| StockChange {
            sku: sku(c),
            location: String::new(),
            op: StockOp::Set(q),
            expected: None,
            reason: None,
        }),
    )
    .await
    .unwrap();
    let ch = channel(s, &a, &st, StockRules::default()).await;
    let r = ChannelRef {
        account_id: a.clone(),
        store_id: st.clone(),
        channel_id: ch.clone(),
    };
    (a, st, ch, r)
}

async fn ledger(s: &dyn Storage, a: &AccountId, st: &StoreId, code: &str) -> (i64, i64) {
    let snap = s.stock_snapshot(a, st, &[sku(code)]).await.unwrap();
    match &snap.entries[&sku(code)] {
        SnapshotEntry::Plain(l) => (l.on_hand(), l.committed()),
        SnapshotEntry::Kit(_) => panic!("plain"),
    }
}

pub async fn shipping_releases_commitments_lowers_the_api_source_and_refuses_over_fulfilment(
    s: Arc<dyn Storage>,
) {
    let (a, st, _, r) = setup(&*s).await;
    let id = import(
        &*s,
        &r,
        order("1", &[("K", 2), ("A", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    assert_eq!(ledger(&*s, &a, &st, "A").await, (10, 3));
    assert_eq!(ledger(&*s, &a, &st, "B").await, (10, 4));

    let over = s
        .create_fulfilment(
            &a,
            &id,
            ship(
                Some(vec![RequestedLine {
                    line_no: None,
                    sku: Some("K".into()),
                    quantity: 3,
                }]),
                "1Z999AA10123456784",
            ),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            over,
            StorageError::Conflict {
                code: "over_fulfilment",
                ..
            }
        ),
        "{over:?}"
    );
    // One kit ships: its components leave the api source and their commitments.
    let f = s
        .create_fulfilment(
            &a,
            &id,
            ship(
                Some(vec![RequestedLine {
                    line_no: Some(0),
                    sku: None,
                    quantity: 1,
                }]),
                "1Z999AA10123456784",
            ),
        )
        .await
        .unwrap();
    assert_eq!(f.sync.state, SyncState::Pending);
    assert_eq!(f.sync.action, Some(SyncAction::Create));
    assert_eq!(ledger(&*s, &a, &st, "A").await, (9, 2));
    assert_eq!(ledger(&*s, &a, &st, "B").await, (8, 2));
    let o = s.get_order(&a, &id).await.unwrap();
    assert_eq!(o.state, OrderState::PartiallyFulfilled);

    // Cancelling it puts everything back.
    s.cancel_fulfilment(&a, &f.id).await.unwrap();
    assert_eq!(ledger(&*s, &a, &st, "A").await, (10, 3));
    assert_eq!(ledger(&*s, &a, &st, "B").await, (10, 4));
    assert_eq!(s.get_order(&a, &id).await.unwrap().state, OrderState::Open);

    // A re-import in which the channel still says "fulfilled" does not undo that.
    import(&*s, &r, {
        let mut o = order("1", &[("K", 2), ("A", 1)], ChannelFulfilment::Fulfilled);
        o.updated_at += Duration::seconds(5);
        o
    })
    .await;
    let o = s.get_order(&a, &id).await.unwrap();
    assert_eq!(o.state, OrderState::Open);
    assert_eq!(ledger(&*s, &a, &st, "A").await, (10, 3));

    // Everything ships; a repeat is refused; a re-import keeps it shipped.
    s.create_fulfilment(&a, &id, ship(None, "RM123456785GB"))
        .await
        .unwrap();
    assert_eq!(ledger(&*s, &a, &st, "A").await, (7, 0));
    assert_eq!(ledger(&*s, &a, &st, "B").await, (6, 0));
    let again = s
        .create_fulfilment(&a, &id, ship(None, "RM123456785GB"))
        .await
        .unwrap_err();
    assert!(matches!(
        again,
        StorageError::Conflict {
            code: "nothing_to_fulfil",
            ..
        }
    ));
    import(&*s, &r, {
        let mut o = order("1", &[("K", 2), ("A", 1)], ChannelFulfilment::Unfulfilled);
        o.updated_at += Duration::seconds(10);
        o
    })
    .await;
    let o = s.get_order(&a, &id).await.unwrap();
    assert_eq!(o.state, OrderState::Fulfilled);
    assert!(o.lines.iter().all(|l| l.open_quantity == 0));
    assert_eq!(ledger(&*s, &a, &st, "A").await, (7, 0));
}

pub async fn a_sync_claim_is_exclusive_and_a_newer_change_waits_its_turn(s: Arc<dyn Storage>) {
    let (a, _, _, r) = setup(&*s).await;
    let id = import(
        &*s,
        &r,
        order("2", &[("A", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    let f = s
        .create_fulfilment(&a, &id, ship(None, "1Z999AA10123456784"))
        .await
        .unwrap();
    let now = Utc::now();
    let lease = Duration::minutes(5);
    let c = claim("wrk_test", now, lease);
    let due = s.due_fulfilments(&c, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].channel_order_id, "2");
    assert!(
        s.begin_fulfilment_sync(&f.id, SyncAction::Create, &c)
            .await
            .unwrap()
    );
    assert!(
        !s.begin_fulfilment_sync(&f.id, SyncAction::Create, &c)
            .await
            .unwrap()
    );
    assert!(s.due_fulfilments(&c, 10).await.unwrap().is_empty());

    // The number is corrected while the create is out: the create's
    // confirmation leaves the correction pending.
    let fixed = s
        .update_fulfilment_tracking(
            &a,
            &f.id,
            vec![Tracking {
                number: "1Z12345E0205271688".into(),
                url: None,
            }],
            None,
        )
        .await
        .unwrap();
    assert_eq!(fixed.sync.action, Some(SyncAction::UpdateTracking));
    let after = s
        .record_fulfilment_sync(
            &f.id,
            SyncAction::Create,
            SyncResult::Synced {
                channel_fulfilment_id: Some("F1".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(after.sync.state, SyncState::Pending);
    assert_eq!(after.sync.action, Some(SyncAction::UpdateTracking));
    assert_eq!(after.sync.channel_fulfilment_id.as_deref(), Some("F1"));
    let later = Utc::now() + Duration::seconds(1);
    assert!(
        s.begin_fulfilment_sync(
            &f.id,
            SyncAction::UpdateTracking,
            &claim("wrk_test", later, lease)
        )
        .await
        .unwrap()
    );
    let failed = s
        .record_fulfilment_sync(
            &f.id,
            SyncAction::UpdateTracking,
            SyncResult::Failed {
                error: "HTTP 503".into(),
                retry_at: later + Duration::minutes(1),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.sync.state, SyncState::Failed);
    assert_eq!(failed.sync.last_error.as_deref(), Some("HTTP 503"));
    let retried = s.retry_fulfilment(&a, &f.id).await.unwrap();
    assert_eq!(retried.sync.state, SyncState::Pending);
}

/// A sync held by a worker that stopped beating is free once the holder is
/// stale, minutes before its lease runs out; a live holder keeps it.
pub async fn a_sync_held_by_a_dead_worker_is_free_before_its_lease_ends(s: Arc<dyn Storage>) {
    let (a, _, _, r) = setup(&*s).await;
    let id = import(
        &*s,
        &r,
        order("3", &[("A", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    let f = s
        .create_fulfilment(&a, &id, ship(None, "1Z999AA10123456784"))
        .await
        .unwrap();
    let t0 = Utc::now();
    let lease = Duration::minutes(5);
    s.beat("wrk_a", t0).await.unwrap();
    s.beat("wrk_b", t0).await.unwrap();
    assert!(
        s.begin_fulfilment_sync(&f.id, SyncAction::Create, &claim("wrk_a", t0, lease))
            .await
            .unwrap()
    );
    let t1 = t0 + Duration::seconds(5);
    let b1 = claim("wrk_b", t1, lease);
    assert!(s.due_fulfilments(&b1, 10).await.unwrap().is_empty());
    assert!(
        !s.begin_fulfilment_sync(&f.id, SyncAction::Create, &b1)
            .await
            .unwrap(),
        "a live holder keeps its claim"
    );
    let t2 = t0 + Duration::seconds(11);
    s.beat("wrk_b", t2).await.unwrap();
    let b2 = claim("wrk_b", t2, lease);
    assert_eq!(s.due_fulfilments(&b2, 10).await.unwrap().len(), 1);
    assert!(
        s.begin_fulfilment_sync(&f.id, SyncAction::Create, &b2)
            .await
            .unwrap(),
        "wrk_a fell silent: its claim is free minutes before the lease ends"
    );
    let rec = s.get_fulfilment(&a, &f.id).await.unwrap();
    assert_eq!(rec.sync.attempts, 2);
}

pub async fn orders_list_newest_first_page_by_page(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    let ch = channel(&*s, &a, &st, StockRules::default()).await;
    let r = ChannelRef {
        account_id: a.clone(),
        store_id: st.clone(),
        channel_id: ch,
    };
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            import(
                &*s,
                &r,
                order(
                    &format!("N{i}"),
                    &[("A", 1)],
                    ChannelFulfilment::Unfulfilled,
                ),
            )
            .await,
        );
    }
    let filter = switchyard_storage::OrderFilter {
        store_id: Some(st.clone()),
        newest_first: true,
        ..Default::default()
    };
    let mut page = switchyard_storage::PageRequest {
        limit: 2,
        after: None,
    };
    let mut seen = Vec::new();
    for _ in 0..4 {
        let p = s.list_orders(&a, &filter, &page).await.unwrap();
        seen.extend(p.items.into_iter().map(|o| o.id));
        match p.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    let mut newest: Vec<OrderId> = ids.clone();
    newest.sort_by(|x, y| y.as_str().cmp(x.as_str()));
    assert_eq!(seen, newest);
    // Oldest first stays the default.
    let oldest = s
        .list_orders(
            &a,
            &switchyard_storage::OrderFilter {
                store_id: Some(st),
                ..Default::default()
            },
            &switchyard_storage::PageRequest::first(10),
        )
        .await
        .unwrap();
    let mut sorted = ids;
    sorted.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(
        oldest.items.into_iter().map(|o| o.id).collect::<Vec<_>>(),
        sorted
    );
}
