//! An import's position: the resume point commits with its page, and the
//! read's last page moves the cursor (forward only) and clears it.

use std::sync::Arc;

use chrono::{Duration, Utc};
use switchyard_domain::cursor::{CursorMove, ResumePoint};
use switchyard_domain::order::ChannelFulfilment;
use switchyard_domain::stock::StockRules;
use switchyard_storage::{ChannelRef, ChannelSync, ImportItem, Storage};

use crate::fulfilments::order;
use crate::{account_and_store, channel, product};

async fn sync(s: &dyn Storage, r: &ChannelRef) -> ChannelSync {
    s.get_channel(&r.account_id, &r.store_id, &r.channel_id)
        .await
        .unwrap()
        .sync
}

fn page(ids: &[&str]) -> Vec<ImportItem> {
    ids.iter()
        .map(|id| ImportItem {
            order: order(id, &[("A", 1)], ChannelFulfilment::Unfulfilled),
            raw: serde_json::json!({}),
        })
        .collect()
}

pub async fn the_resume_point_commits_with_its_page_and_the_last_page_moves_the_cursor(
    s: Arc<dyn Storage>,
) {
    let s = s.as_ref();
    let (a, st) = account_and_store(s, "resume").await;
    product(s, &a, &st, "A").await;
    let r = ChannelRef {
        account_id: a.clone(),
        store_id: st.clone(),
        channel_id: channel(s, &a, &st, StockRules::default()).await,
    };
    let start = sync(s, &r).await;
    assert_eq!((start.cursor, start.resume), (None, None));

    // Times as the database keeps them (whole microseconds).
    let t0 = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let point = ResumePoint {
        since: t0 - Duration::hours(1),
        page: "offset=100".into(),
        newest: Some(t0 - Duration::minutes(5)),
        started: t0,
    };
    s.import_orders(&r, &page(&["1", "2"]), &CursorMove::Resume(point.clone()))
        .await
        .unwrap();
    let mid = sync(s, &r).await;
    assert_eq!(mid.resume, Some(point.clone()), "kept with its page");
    assert_eq!(
        mid.cursor, None,
        "the cursor waits for the read's last page"
    );

    s.import_orders(&r, &page(&["4"]), &CursorMove::Finish(Some(t0)))
        .await
        .unwrap();
    let done = sync(s, &r).await;
    assert_eq!((done.cursor, done.resume), (Some(t0), None));

    // The cursor never moves back; an empty finish only clears the point.
    s.import_orders(&r, &[], &CursorMove::Resume(point.clone()))
        .await
        .unwrap();
    s.import_orders(&r, &[], &CursorMove::Finish(Some(t0 - Duration::days(1))))
        .await
        .unwrap();
    let back = sync(s, &r).await;
    assert_eq!((back.cursor, back.resume), (Some(t0), None));
    s.import_orders(&r, &[], &CursorMove::Resume(point))
        .await
        .unwrap();
    s.import_orders(&r, &[], &CursorMove::Finish(None))
        .await
        .unwrap();
    let cleared = sync(s, &r).await;
    assert_eq!((cleared.cursor, cleared.resume), (Some(t0), None));
    // Pages that are not part of the advancing read leave it alone.
    s.import_orders(&r, &page(&["5"]), &CursorMove::Stay)
        .await
        .unwrap();
    let after = sync(s, &r).await;
    assert_eq!((after.cursor, after.resume), (Some(t0), None));
}

/// "Handle manually" resolves an open import error once, with who did it
/// and a journal event; another account cannot reach it; the order
/// failing again opens it again.
pub async fn an_import_error_handled_manually_is_resolved_until_it_fails_again(
    s: Arc<dyn Storage>,
) {
    use switchyard_storage::{NewImportError, PageRequest};
    let s = s.as_ref();
    let (a, st) = account_and_store(s, "handled").await;
    let r = ChannelRef {
        account_id: a.clone(),
        store_id: st.clone(),
        channel_id: channel(s, &a, &st, StockRules::default()).await,
    };
    let fail = || {
        vec![NewImportError {
            channel_order_id: "9001".into(),
            code: "unmappable".into(),
            message: "no line items".into(),
            raw: Some(serde_json::json!({"id": 9001})),
        }]
    };
    s.record_import_errors(&r, fail()).await.unwrap();
    let first = PageRequest::first(10);
    let open = |all| s.list_import_errors(&a, &st, &r.channel_id, all, &first);
    let e = open(false).await.unwrap().items.remove(0);
    assert_eq!(e.handled_manually_by, None);

    let (other, other_store) = account_and_store(s, "handled-other").await;
    assert!(
        s.handle_import_error_manually(&other, &other_store, &r.channel_id, e.id, "usr_x")
            .await
            .is_err(),
        "another account's error is not found"
    );
    let journal = crate::journal_len(s, &a, &st).await;
    let done = s
        .handle_import_error_manually(&a, &st, &r.channel_id, e.id, "usr_1")
        .await
        .unwrap();
    assert_eq!(done.handled_manually_by.as_deref(), Some("usr_1"));
    assert!(done.resolved_at.is_some());
    assert!(
        open(false).await.unwrap().items.is_empty(),
        "no longer open"
    );
    assert_eq!(
        open(true).await.unwrap().items.len(),
        1,
        "still listed with all"
    );
    assert_eq!(crate::journal_len(s, &a, &st).await, journal + 1);

    let again = s
        .handle_import_error_manually(&a, &st, &r.channel_id, e.id, "usr_2")
        .await
        .unwrap();
    assert_eq!(again, done, "a second click changes nothing");
    assert_eq!(crate::journal_len(s, &a, &st).await, journal + 1);

    s.record_import_errors(&r, fail()).await.unwrap();
    let reopened = open(false).await.unwrap().items.remove(0);
    assert_eq!(
        (reopened.handled_manually_by, reopened.resolved_at),
        (None, None)
    );
}
