//! Job leases and the worker instances that hold them.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;
use switchyard_domain::stock::StockRules;
use switchyard_storage::{ChannelRef, JobKind, Storage};

use crate::{account_and_store, channel, claim};

/// A job leased for five minutes by an instance that stops beating is
/// free once its heartbeat is older than the staleness bound (or at once
/// when the instance says it stopped), not when the lease runs out; a live
/// holder keeps it.
pub async fn a_job_whose_holder_stopped_beating_is_free_before_its_lease_ends(s: Arc<dyn Storage>) {
    let s = s.as_ref();
    let (a, st) = account_and_store(s, "alice").await;
    let ch = channel(s, &a, &st, StockRules::default()).await;
    let r = ChannelRef {
        account_id: a,
        store_id: st,
        channel_id: ch,
    };
    let job = s
        .enqueue_job(
            &r,
            JobKind::Backfill,
            json!({ "from": "2020-01-01T00:00:00Z" }),
        )
        .await
        .unwrap();
    let t0 = Utc::now();
    let lease = Duration::minutes(5);
    let stale = Duration::seconds(10);
    s.beat("wrk_a", t0).await.unwrap();
    s.beat("wrk_b", t0).await.unwrap();
    let claimed = s
        .claim_jobs(&r, &JobKind::IMPORT, &claim("wrk_a", t0, lease), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let rec = s.get_job(&r, job.id).await.unwrap();
    assert_eq!(rec.lease_holder.as_deref(), Some("wrk_a"));
    assert!(rec.holder_heartbeat_at.is_some());
    s.set_job_progress(job.id, json!({ "pages": 3, "orders": 300 }))
        .await
        .unwrap();
    assert_eq!(
        s.get_job(&r, job.id).await.unwrap().progress,
        Some(json!({ "pages": 3, "orders": 300 }))
    );

    // A's heartbeat is fresh: B cannot take the job.
    let t1 = t0 + Duration::seconds(5);
    assert!(
        s.claim_jobs(&r, &JobKind::IMPORT, &claim("wrk_b", t1, lease), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A stops beating; 11 s on it is dead and B takes over, minutes before
    // the lease would run out.
    let t2 = t0 + Duration::seconds(11);
    s.beat("wrk_b", t2).await.unwrap();
    assert!(
        s.due_channels(t2, 10, t2 - stale, &JobKind::IMPORT, false)
            .await
            .unwrap()
            .iter()
            .any(|c| c.channel_id == r.channel_id),
        "the channel is due for its stalled job"
    );
    let taken = s
        .claim_jobs(&r, &JobKind::IMPORT, &claim("wrk_b", t2, lease), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].attempts, 2);
    let rec = s.get_job(&r, job.id).await.unwrap();
    assert_eq!(rec.lease_holder.as_deref(), Some("wrk_b"));
    assert_eq!(rec.started_at.map(|t| t.timestamp()), Some(t0.timestamp()));

    // An instance that says it stopped frees its jobs at once.
    s.stop_instance("wrk_b", t2).await.unwrap();
    let t3 = t2 + Duration::seconds(1);
    s.beat("wrk_c", t3).await.unwrap();
    assert_eq!(
        s.claim_jobs(&r, &JobKind::IMPORT, &claim("wrk_c", t3, lease), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // On SQLite, where one process owns the file, a newly registered
    // instance retires every other one; on PostgreSQL many processes share
    // the database, and a live instance keeps what it holds.
    s.register_instance("wrk_d", t3).await.unwrap();
    let taken = s
        .claim_jobs(&r, &JobKind::IMPORT, &claim("wrk_d", t3, lease), 10)
        .await
        .unwrap()
        .len();
    match s.backend() {
        "sqlite" => assert_eq!(taken, 1, "wrk_c is retired by the new instance"),
        _ => assert_eq!(taken, 0, "wrk_c is alive and keeps its job"),
    }
    s.finish_job(job.id, None, None).await.unwrap();
    assert!(s.get_job(&r, job.id).await.unwrap().finished_at.is_some());
}

/// A channel's round (work with no row of its own) is held by one instance
/// at a time: a second instance is refused while the holder lives, the
/// holder extends its own lease, a released or dead holder's lease is free,
/// and many instances racing for it get exactly one winner.
pub async fn a_round_lease_has_one_holder_at_a_time(s: Arc<dyn Storage>) {
    let t0 = Utc::now();
    let lease = Duration::minutes(5);
    let stale = Duration::seconds(10);
    for w in ["wrk_a", "wrk_b", "wrk_c"] {
        s.beat(w, t0).await.unwrap();
    }
    let take = |who: &'static str, at| {
        let s = Arc::clone(&s);
        async move {
            s.take_lease("import", "ch_1", &claim(who, at, lease))
                .await
                .unwrap()
        }
    };
    assert!(take("wrk_a", t0).await, "free at first");
    assert!(!take("wrk_b", t0).await, "held by a live instance");
    assert!(take("wrk_a", t0).await, "the holder extends its own lease");
    assert!(
        s.take_lease("push", "ch_1", &claim("wrk_b", t0, lease))
            .await
            .unwrap(),
        "another kind of work on the same channel is another lease"
    );
    s.release_lease("import", "ch_1", "wrk_b").await.unwrap();
    assert!(!take("wrk_b", t0).await, "only the holder releases");
    s.release_lease("import", "ch_1", "wrk_a").await.unwrap();
    assert!(take("wrk_b", t0).await, "free once released");

    // wrk_b dies (stops beating); wrk_c beats on and takes it over.
    let t1 = t0 + stale + Duration::seconds(1);
    s.beat("wrk_c", t1).await.unwrap();
    assert!(take("wrk_c", t1).await, "a dead holder holds nothing");

    // Many instances race for a free lease: exactly one wins.
    let t2 = t1 + Duration::seconds(1);
    let racers = ["wrk_r1", "wrk_r2", "wrk_r3", "wrk_r4", "wrk_r5", "wrk_r6"];
    for w in racers {
        s.beat(w, t2).await.unwrap();
    }
    let won = futures::future::join_all(racers.iter().map(|w| {
        let s = Arc::clone(&s);
        async move {
            s.take_lease("push", "ch_race", &claim(w, t2, lease))
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
}
