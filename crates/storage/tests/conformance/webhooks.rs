use std::sync::Arc;

use chrono::{Duration, Utc};
use switchyard_domain::ids::{MessageId, WebhookId};
use switchyard_storage::{
    AttemptResult, DeliveryOutcome, NewWebhookEndpoint, NewWebhookMessage, Storage,
};

use crate::{account_and_store, claim, product};

/// Fan-out moves the cursor exactly once, deliveries are claimed under a
/// per-endpoint cap and a lease, and outcomes are logged.
pub async fn dispatch_is_exactly_once_and_claims_respect_the_cap_and_the_lease(
    s: Arc<dyn Storage>,
) {
    let (a, st) = account_and_store(s.as_ref(), "hooks").await;
    let e = s
        .create_webhook(
            &a,
            &st,
            NewWebhookEndpoint {
                id: WebhookId::generate(),
                url: "https://hooks.example/in".into(),
                description: None,
                events: vec![],
                enabled: true,
                secret: vec![1, 2, 3],
            },
        )
        .await
        .unwrap();
    for i in 0..3 {
        product(s.as_ref(), &a, &st, &format!("P{i}")).await;
    }
    let created = |events: &[switchyard_storage::OwnedEvent]| {
        events
            .iter()
            .filter(|e| e.event_type == "product.created")
            .count()
    };
    let (cursor, events) = crate::events_when(s.as_ref(), |e| created(e) >= 3).await;
    let products: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "product.created")
        .collect();
    assert_eq!(products.len(), 3);
    let to = events.last().unwrap().seq;
    let messages: Vec<NewWebhookMessage> = products
        .iter()
        .map(|ev| NewWebhookMessage {
            id: MessageId::generate(),
            account_id: a.clone(),
            store_id: st.clone(),
            event_type: "product.created".into(),
            journal_seq: Some(ev.seq),
            entity_key: Some(ev.entity_id.clone()),
            body: format!("{{\"sku\":\"{}\"}}", ev.entity_id),
            created_at: ev.created_at,
            endpoints: vec![e.id.clone()],
        })
        .collect();
    assert!(
        s.dispatch_messages(cursor, to, messages.clone())
            .await
            .unwrap()
    );
    // A second worker that read the same events loses the race: nothing doubles.
    assert!(!s.dispatch_messages(cursor, to, messages).await.unwrap());
    assert!(s.undispatched_events(100).await.unwrap().1.is_empty());

    let now = Utc::now();
    let lease = Duration::seconds(60);
    let first = s
        .claim_deliveries(&claim("wrk_test", now, lease), 2, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 2, "at most two in flight per endpoint");
    assert!(
        s.claim_deliveries(&claim("wrk_test", now, lease), 2, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let attempt = |status| AttemptResult {
        started_at: now,
        status: Some(status),
        latency_ms: 3,
        response: Some("ok".into()),
        error: None,
    };
    // Two outcomes recorded together, in one transaction.
    let retry_at = now + Duration::seconds(5);
    s.record_deliveries(vec![
        (first[0].clone(), attempt(200), DeliveryOutcome::Succeeded),
        (
            first[1].clone(),
            attempt(500),
            DeliveryOutcome::Failed {
                retry_at: Some(retry_at),
            },
        ),
    ])
    .await
    .unwrap();
    let third = s
        .claim_deliveries(&claim("wrk_test", now, lease), 2, 10)
        .await
        .unwrap();
    assert_eq!(
        third.len(),
        1,
        "the third message, now that two slots are free"
    );
    // The failed one comes back when due, at step 1 of the schedule, once the
    // third's lease has run out.
    let later = s
        .claim_deliveries(&claim("wrk_test", retry_at + lease, lease), 2, 10)
        .await
        .unwrap();
    assert_eq!(later.len(), 2);
    let again = later
        .iter()
        .find(|d| d.message_id == first[1].message_id)
        .unwrap();
    assert_eq!((again.attempts, again.schedule_step), (1, 1));
    assert!(again.failing_since.is_some());

    let page = switchyard_storage::PageRequest::first(10);
    let log = s
        .list_webhook_attempts(&a, &e.id, None, &page)
        .await
        .unwrap();
    assert_eq!(log.items.len(), 2);
    assert_eq!(log.items[0].outcome, "retrying");
    assert_eq!(log.items[1].outcome, "succeeded");
    let done = s
        .list_webhook_messages(&a, &e.id, Some("succeeded"), &page)
        .await
        .unwrap();
    assert_eq!(done.items.len(), 1);

    // Disabling records a journal event and stops claims.
    s.record_deliveries(vec![(
        again.clone(),
        attempt(410),
        DeliveryOutcome::Disable {
            reason: "gone".into(),
        },
    )])
    .await
    .unwrap();
    let e = s.get_webhook(&a, &e.id).await.unwrap();
    assert!(!e.enabled);
    assert_eq!(e.disabled_reason.as_deref(), Some("gone"));
    let far = retry_at + Duration::days(1);
    assert!(
        s.claim_deliveries(&claim("wrk_test", far, lease), 2, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let journal = s.journal(&a, &st, 0, 1000).await.unwrap();
    assert!(journal.iter().any(|j| j.event_type == "webhook.disabled"));
    // Another account sees none of it.
    let (b, _) = account_and_store(s.as_ref(), "other").await;
    assert!(s.get_webhook(&b, &e.id).await.is_err());
    assert!(
        s.list_webhook_attempts(&b, &e.id, None, &page)
            .await
            .is_err()
    );
}
