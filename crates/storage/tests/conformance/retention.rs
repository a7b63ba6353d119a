//! Pruning: in a steady run the tables stop growing, and what is still
//! needed (a pending push, the newest push of a listing, an undelivered
//! message, journal events not yet dispatched) is never pruned.

use std::sync::Arc;

use chrono::{Duration, Utc};
use switchyard_domain::ids::{MessageId, WebhookId};
use switchyard_domain::stock::StockSource;
use switchyard_storage::{
    AttemptResult, DeliveryOutcome, NewWebhookEndpoint, NewWebhookMessage, Prunable, PushResult,
    StockChange, StockOp, Storage,
};

use crate::{account_and_store, claim, product, sku, syncing_listing};

/// Rounds of the steady run.
const ROUNDS: usize = 24;
/// Rounds a row is kept (the "retention" of the run).
const KEEP: usize = 4;

pub async fn a_steady_run_stops_growing_and_nothing_still_needed_is_pruned(s: Arc<dyn Storage>) {
    let s = s.as_ref();
    let (a, st) = account_and_store(s, "retained").await;
    product(s, &a, &st, "A").await;
    let r = syncing_listing(s, &a, &st, "A").await;
    let endpoint = s
        .create_webhook(
            &a,
            &st,
            NewWebhookEndpoint {
                id: WebhookId::generate(),
                url: "https://hooks.example/in".into(),
                description: None,
                events: vec![],
                enabled: true,
                secret: vec![1],
            },
        )
        .await
        .unwrap();
    let attempt = |status| AttemptResult {
        started_at: Utc::now(),
        status: Some(status),
        latency_ms: 1,
        response: None,
        error: None,
    };

    let mut round_times = Vec::new();
    let mut counts = Vec::new();
    let mut pending_message = None;
    for round in 0..ROUNDS {
        let t = Utc::now();
        round_times.push(t);
        // A stock change, pushed and confirmed.
        s.change_stock(
            &a,
            &st,
            &StockSource::Api,
            &[StockChange {
                sku: sku("A"),
                location: String::new(),
                op: StockOp::Set(i64::try_from(round).unwrap() + 1),
                expected: None,
                reason: None,
            }],
        )
        .await
        .unwrap();
        let due = s.due_pushes(&r, Utc::now(), 100).await.unwrap();
        assert!(!due.is_empty(), "round {round}: the change enqueued a push");
        let sent = due.into_iter().map(|p| (p, PushResult::Sent)).collect();
        s.record_push_results(&r, sent).await.unwrap();
        // Its journal events dispatched as messages and delivered (but
        // round 0's message, which never gets an answer).
        let (cursor, events) = crate::events_when(s, |e| !e.is_empty()).await;
        let to = events.last().unwrap().seq;
        let messages: Vec<NewWebhookMessage> = events
            .iter()
            .map(|ev| NewWebhookMessage {
                id: MessageId::generate(),
                account_id: a.clone(),
                store_id: st.clone(),
                event_type: "stock.changed".into(),
                journal_seq: Some(ev.seq),
                entity_key: Some(format!("{}/{}", ev.entity_type, ev.entity_id)),
                body: "{}".into(),
                created_at: t,
                endpoints: vec![endpoint.id.clone()],
            })
            .collect();
        assert!(s.dispatch_messages(cursor, to, messages).await.unwrap());
        let claimed = s
            .claim_deliveries(&claim("wrk_p", Utc::now(), Duration::seconds(60)), 100, 100)
            .await
            .unwrap();
        let mut outcomes = Vec::new();
        for d in claimed {
            if round == 0 && pending_message.is_none() {
                // No answer: it stays pending, retried later.
                pending_message = Some(d.message_id.clone());
                let retry_at = Some(Utc::now() + Duration::hours(1));
                outcomes.push((d, attempt(500), DeliveryOutcome::Failed { retry_at }));
            } else {
                outcomes.push((d, attempt(200), DeliveryOutcome::Succeeded));
            }
        }
        s.record_deliveries(outcomes).await.unwrap();
        // Prune what is older than KEEP rounds.
        if round >= KEEP {
            let before = round_times[round - KEEP];
            for what in Prunable::ALL {
                s.prune(what, before, 1000).await.unwrap();
            }
        }
        let mut row = Vec::new();
        for what in Prunable::ALL {
            row.push(s.count_rows(what).await.unwrap());
        }
        counts.push(row);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The tables stopped growing: the last rounds hold what the first
    // rounds after the warm-up held.
    for (i, what) in Prunable::ALL.iter().enumerate() {
        let at_warmup = counts[KEEP + 2][i];
        let at_end = counts[ROUNDS - 1][i];
        assert!(
            at_end <= at_warmup.max(1) + 1,
            "{what:?} kept growing: {:?}",
            counts.iter().map(|c| c[i]).collect::<Vec<_>>()
        );
    }
    let pushes = counts[ROUNDS - 1][0];
    assert!(pushes < ROUNDS as u64, "pushes were pruned: {pushes}");

    // Nothing still needed goes, however old: a pending push, the newest
    // push of the listing, the undelivered message, undispatched events.
    s.change_stock(
        &a,
        &st,
        &StockSource::Api,
        &[StockChange {
            sku: sku("A"),
            location: String::new(),
            op: StockOp::Set(1000),
            expected: None,
            reason: None,
        }],
    )
    .await
    .unwrap();
    let far_future = Utc::now() + Duration::days(3650);
    for what in Prunable::ALL {
        while s.prune(what, far_future, 1000).await.unwrap() > 0 {}
    }
    let due = s.due_pushes(&r, Utc::now(), 100).await.unwrap();
    assert_eq!(due.len(), 1, "the pending push survives");
    assert_eq!(due[0].quantity, 1000);
    let listing = s.get_listing(&a, &st, &r.channel_id, "L1").await.unwrap();
    assert!(
        listing.push_state.is_some(),
        "the listing still shows its push: {listing:?}"
    );
    let pending = pending_message.unwrap();
    let retried = s
        .claim_deliveries(
            &claim(
                "wrk_p",
                Utc::now() + Duration::hours(2),
                Duration::seconds(60),
            ),
            100,
            100,
        )
        .await
        .unwrap();
    assert!(
        retried.iter().any(|d| d.message_id == pending),
        "the undelivered message survives and is retried"
    );
    let (_, undispatched) = crate::events_when(s, |e| !e.is_empty()).await;
    assert!(
        !undispatched.is_empty(),
        "the last change's events are not dispatched yet and survive"
    );
    assert_eq!(
        s.count_rows(Prunable::WebhookMessages).await.unwrap(),
        1,
        "every delivered message went, the undelivered one stayed"
    );
}
