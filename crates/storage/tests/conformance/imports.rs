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
