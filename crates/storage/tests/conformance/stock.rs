use std::sync::Arc;
use switchyard_domain::cursor::CursorMove;

use switchyard_domain::order::OrderState;
use switchyard_domain::stock::{StockRules, StockSource};
use switchyard_storage::{
    IdempotencyBegin, NewOrder, NewOrderLine, SnapshotEntry, StockChange, StockOp, Storage,
    StorageError,
};

use crate::{account_and_store, channel, journal_len, kit, product, sku};

fn set(code: &str, q: i64) -> StockChange {
    StockChange {
        sku: sku(code),
        location: String::new(),
        op: StockOp::Set(q),
        expected: None,
        reason: None,
    }
}

fn plain(e: &SnapshotEntry) -> &switchyard_domain::stock::SkuLedger {
    match e {
        SnapshotEntry::Plain(l) => l,
        SnapshotEntry::Kit(_) => panic!("expected a plain product"),
    }
}

pub async fn set_and_adjust_move_quantities_and_journal(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    let j0 = journal_len(&*s, &a, &st).await;
    let out = s
        .change_stock(&a, &st, &StockSource::Api, &[set("A", 10)])
        .await
        .unwrap();
    assert_eq!((out[0].before, out[0].after), (0, 10));
    let adj = StockChange {
        op: StockOp::Adjust(-3),
        ..set("A", 0)
    };
    let out = s
        .change_stock(&a, &st, &StockSource::Api, &[adj])
        .await
        .unwrap();
    assert_eq!((out[0].before, out[0].after), (10, 7));
    let wh = StockChange {
        location: "Leeds".into(),
        ..set("A", 5)
    };
    s.change_stock(&a, &st, &StockSource::Plugin("3pl".into()), &[wh])
        .await
        .unwrap();
    let snap = s.stock_snapshot(&a, &st, &[sku("A")]).await.unwrap();
    let l = plain(&snap.entries[&sku("A")]);
    assert_eq!((l.on_hand(), l.sources.len()), (12, 2));
    assert_eq!(journal_len(&*s, &a, &st).await, j0 + 3);
    let events = s.journal(&a, &st, 0, 1000).await.unwrap();
    assert!(
        events.windows(2).all(|w| w[0].seq < w[1].seq),
        "sequence is monotonic"
    );
    assert_eq!(events.last().unwrap().payload["after"], 5);
}

pub async fn compare_and_set_refuses_a_stale_expectation(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    s.change_stock(&a, &st, &StockSource::Api, &[set("A", 4)])
        .await
        .unwrap();
    let stale = StockChange {
        expected: Some(3),
        ..set("A", 9)
    };
    match s.change_stock(&a, &st, &StockSource::Api, &[stale]).await {
        Err(StorageError::Conflict { code, field, .. }) => {
            assert_eq!(code, "stock_expected_mismatch");
            assert_eq!(field.as_deref(), Some("[0].expected"));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let fresh = StockChange {
        expected: Some(4),
        ..set("A", 9)
    };
    assert_eq!(
        s.change_stock(&a, &st, &StockSource::Api, &[fresh])
            .await
            .unwrap()[0]
            .after,
        9
    );
}

pub async fn a_failing_batch_writes_nothing(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    product(&*s, &a, &st, "B").await;
    let j0 = journal_len(&*s, &a, &st).await;
    let batch = [
        set("A", 5),
        StockChange {
            op: StockOp::Adjust(-1),
            ..set("B", 0)
        },
    ];
    match s.change_stock(&a, &st, &StockSource::Api, &batch).await {
        Err(StorageError::Conflict { code, field, .. }) => {
            assert_eq!(code, "negative_stock");
            assert_eq!(field.as_deref(), Some("[1].delta"));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let snap = s.stock_snapshot(&a, &st, &[sku("A")]).await.unwrap();
    assert_eq!(
        plain(&snap.entries[&sku("A")]).on_hand(),
        0,
        "the first change was rolled back"
    );
    assert_eq!(journal_len(&*s, &a, &st).await, j0);
}

pub async fn kits_and_unknown_skus_cannot_hold_stock(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    kit(&*s, &a, &st, "K", &[("A", 2)]).await;
    for (code, want) in [("K", "kit_has_no_stock"), ("X", "unknown_sku")] {
        match s
            .change_stock(&a, &st, &StockSource::Api, &[set(code, 1)])
            .await
        {
            Err(StorageError::Invalid(d)) => assert_eq!(d.code, want),
            other => panic!("expected {want}, got {other:?}"),
        }
    }
}

pub async fn orders_commit_stock_and_kits_expand_into_components(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    product(&*s, &a, &st, "B").await;
    kit(&*s, &a, &st, "K", &[("A", 2), ("B", 1)]).await;
    let ch = channel(
        &*s,
        &a,
        &st,
        StockRules {
            buffer: Some(1),
            ..Default::default()
        },
    )
    .await;
    s.change_stock(&a, &st, &StockSource::Api, &[set("A", 10), set("B", 3)])
        .await
        .unwrap();
    let order = |state| NewOrder {
        channel_id: ch.clone(),
        channel_order_id: "#1".into(),
        state,
        lines: vec![
            NewOrderLine {
                sku: sku("K"),
                open_quantity: 2,
            },
            NewOrderLine {
                sku: sku("A"),
                open_quantity: 1,
            },
            NewOrderLine {
                sku: sku("UNMAPPED"),
                open_quantity: 5,
            },
        ],
    };
    let o = s
        .upsert_order(&a, &st, order(OrderState::Open))
        .await
        .unwrap();
    assert!(o.created);
    let snap = s
        .stock_snapshot(&a, &st, &[sku("A"), sku("B"), sku("K")])
        .await
        .unwrap();
    let la = plain(&snap.entries[&sku("A")]);
    assert_eq!(
        (la.committed(), la.available()),
        (5, 5),
        "2 kits × 2 + 1 single"
    );
    assert_eq!(plain(&snap.entries[&sku("B")]).available(), 1);
    match &snap.entries[&sku("K")] {
        SnapshotEntry::Kit(parts) => assert_eq!(parts.len(), 2),
        SnapshotEntry::Plain(_) => panic!("K is a kit"),
    }
    assert_eq!(snap.channels.len(), 1);
    assert_eq!(snap.channels[0].rules.buffer, Some(1));
    // Cancelling releases everything.
    let again = s
        .upsert_order(&a, &st, order(OrderState::Cancelled))
        .await
        .unwrap();
    assert_eq!((again.id, again.created), (o.id, false));
    let snap = s.stock_snapshot(&a, &st, &[sku("A")]).await.unwrap();
    assert_eq!(plain(&snap.entries[&sku("A")]).committed(), 0);
}

pub async fn reupserting_an_order_never_duplicates_commitments(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    let ch = channel(&*s, &a, &st, StockRules::default()).await;
    for _ in 0..3 {
        s.upsert_order(
            &a,
            &st,
            NewOrder {
                channel_id: ch.clone(),
                channel_order_id: "#7".into(),
                state: OrderState::Open,
                lines: vec![NewOrderLine {
                    sku: sku("A"),
                    open_quantity: 2,
                }],
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(s.count_orders(&a, &st).await.unwrap(), 1);
    let snap = s.stock_snapshot(&a, &st, &[sku("A")]).await.unwrap();
    assert_eq!(plain(&snap.entries[&sku("A")]).committed(), 2);
}

pub async fn concurrent_compare_and_set_has_one_winner_per_value(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    let tasks = (0..16).map(|i| {
        let (s, a, st) = (s.clone(), a.clone(), st.clone());
        tokio::spawn(async move {
            let ch = StockChange {
                expected: Some(0),
                ..set("A", 100 + i)
            };
            s.change_stock(&a, &st, &StockSource::Api, &[ch]).await
        })
    });
    let results = futures::future::join_all(tasks).await;
    let winners: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap())
        .filter_map(|r| r.ok())
        .collect();
    assert_eq!(winners.len(), 1);
    let snap = s.stock_snapshot(&a, &st, &[sku("A")]).await.unwrap();
    assert_eq!(
        plain(&snap.entries[&sku("A")]).on_hand(),
        winners[0][0].after
    );
}

pub async fn idempotency_keys_replay_and_detect_mismatches(s: Arc<dyn Storage>) {
    let (a, _) = account_and_store(&*s, "alice").await;
    let (b, _) = account_and_store(&*s, "bob").await;
    assert_eq!(
        s.begin_idempotent(&a, "k1", "fp").await.unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        s.begin_idempotent(&a, "k1", "fp").await.unwrap(),
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        s.begin_idempotent(&b, "k1", "fp").await.unwrap(),
        IdempotencyBegin::Started,
        "keys are per account"
    );
    s.finish_idempotent(&a, "k1", 201, b"{\"ok\":true}")
        .await
        .unwrap();
    assert_eq!(
        s.begin_idempotent(&a, "k1", "fp").await.unwrap(),
        IdempotencyBegin::Replay {
            status: 201,
            body: b"{\"ok\":true}".to_vec()
        }
    );
    assert_eq!(
        s.begin_idempotent(&a, "k1", "other").await.unwrap(),
        IdempotencyBegin::Mismatch
    );
    assert_eq!(
        s.begin_idempotent(&a, "k2", "fp").await.unwrap(),
        IdempotencyBegin::Started
    );
    s.release_idempotent(&a, "k2").await.unwrap();
    assert_eq!(
        s.begin_idempotent(&a, "k2", "fp").await.unwrap(),
        IdempotencyBegin::Started
    );
}

/// Imports on four channels at once, pages whose orders share SKUs and
/// name them in different orders (a kit among them): every page lands and
/// the committed totals are exact. On PostgreSQL the totals are rows that
/// concurrent transactions update, and must queue rather than deadlock.
pub async fn concurrent_imports_sharing_skus_all_land(s: Arc<dyn Storage>) {
    use crate::fulfilments::order;
    use switchyard_domain::order::ChannelFulfilment;
    use switchyard_storage::{ChannelRef, ImportItem};

    let (a, st) = account_and_store(&*s, "alice").await;
    let skus = ["A", "B", "C", "D", "E", "F"];
    for p in skus {
        product(&*s, &a, &st, p).await;
    }
    kit(&*s, &a, &st, "K", &[("A", 1), ("F", 2)]).await;
    let mut refs = Vec::new();
    for _ in 0..4 {
        let ch = channel(&*s, &a, &st, StockRules::default()).await;
        refs.push(ChannelRef {
            account_id: a.clone(),
            store_id: st.clone(),
            channel_id: ch,
        });
    }
    let mut expected: std::collections::BTreeMap<&str, i64> = Default::default();
    let mut pages = Vec::new();
    for (c, r) in refs.iter().enumerate() {
        for page in 0..3 {
            let items: Vec<ImportItem> = (0..10)
                .map(|n| {
                    // Each channel walks the SKUs from its own end.
                    let mut lines: Vec<(&str, i64)> = (0..3)
                        .map(|k| (skus[(c * 5 + n + k * (c + 1)) % skus.len()], 1))
                        .collect();
                    lines.sort_unstable();
                    lines.dedup_by_key(|l| l.0);
                    if c % 2 == 1 {
                        lines.reverse();
                    }
                    if n % 3 == 0 {
                        lines.push(("K", 1));
                    }
                    for (sku, q) in &lines {
                        if *sku == "K" {
                            *expected.entry("A").or_default() += q;
                            *expected.entry("F").or_default() += 2 * q;
                        } else {
                            *expected.entry(sku).or_default() += q;
                        }
                    }
                    ImportItem {
                        order: order(
                            &format!("{c}-{page}-{n}"),
                            &lines,
                            ChannelFulfilment::Unfulfilled,
                        ),
                        raw: serde_json::json!({}),
                    }
                })
                .collect();
            pages.push((r.clone(), items));
        }
    }
    let results = futures::future::join_all(pages.iter().map(|(r, items)| {
        let s = s.clone();
        async move { s.import_orders(r, items, &CursorMove::Stay).await }
    }))
    .await;
    for r in results {
        r.expect("every page lands, none is a deadlock victim");
    }
    let all: Vec<_> = skus.iter().map(|c| sku(c)).collect();
    let snap = s.stock_snapshot(&a, &st, &all).await.unwrap();
    for c in skus {
        assert_eq!(
            plain(&snap.entries[&sku(c)]).committed(),
            expected.get(c).copied().unwrap_or(0),
            "{c}"
        );
    }
}

/// Two lanes (or two instances) importing the same new orders at once, as
/// happens when a notified order also turns up in a round's page: every
/// page lands, each order is stored once, created by exactly one of them,
/// and commits its lines once.
pub async fn one_new_order_imported_twice_at_once_is_stored_once(s: Arc<dyn Storage>) {
    use crate::fulfilments::order;
    use switchyard_domain::order::ChannelFulfilment;
    use switchyard_storage::{ChannelRef, ImportItem, ImportOutcome};

    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    let r = ChannelRef {
        account_id: a.clone(),
        store_id: st.clone(),
        channel_id: channel(&*s, &a, &st, StockRules::default()).await,
    };
    const ORDERS: usize = 20;
    for n in 0..ORDERS {
        // One order alone (the notified lane) against a page holding it
        // among others (the round).
        let alone = vec![ImportItem {
            order: order(
                &format!("new-{n}"),
                &[("A", 1)],
                ChannelFulfilment::Unfulfilled,
            ),
            raw: serde_json::json!({}),
        }];
        let page: Vec<ImportItem> = [format!("other-{n}"), format!("new-{n}")]
            .iter()
            .map(|id| ImportItem {
                order: order(id, &[("A", 1)], ChannelFulfilment::Unfulfilled),
                raw: serde_json::json!({}),
            })
            .collect();
        let (one, two) = tokio::join!(
            s.import_orders(&r, &alone, &CursorMove::Stay),
            s.import_orders(&r, &page, &CursorMove::Stay)
        );
        let (one, two) = (
            one.expect("the lone order lands"),
            two.expect("the page lands"),
        );
        let created = one
            .outcomes
            .iter()
            .chain(&two.outcomes)
            .filter(|o| matches!(o, ImportOutcome::Created { .. }))
            .count();
        assert_eq!(
            created, 2,
            "new-{n} and other-{n} are each created once: {one:?} {two:?}"
        );
    }
    let snap = s.stock_snapshot(&a, &st, &[sku("A")]).await.unwrap();
    assert_eq!(
        plain(&snap.entries[&sku("A")]).committed(),
        i64::try_from(2 * ORDERS).unwrap(),
        "each order commits its line once"
    );
}
