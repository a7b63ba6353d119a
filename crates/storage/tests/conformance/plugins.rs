use std::sync::Arc;

use chrono::{Duration, Utc};
use switchyard_domain::ids::PluginId;
use switchyard_domain::order::ChannelFulfilment;
use switchyard_domain::plugin_rules::PluginRules;
use switchyard_domain::stock::StockRules;
use switchyard_storage::{
    ChannelRef, NewPlugin, OrderAction, PluginAttempt, PluginMessageKind, PluginPatch, Storage,
    StorageError,
};

use crate::fulfilments::{import, order};
use crate::{account_and_store, channel, claim, product};

/// Rules routing everything to `plugin`, holding orders with `HOLD-*` lines
/// and excluding `GIFT-*` ones.
fn rules(plugin: &PluginId) -> PluginRules {
    serde_json::from_value(serde_json::json!({ "rules": [
        { "name": "gifts stay", "when": { "skus_any": ["GIFT-*"] }, "then": { "action": "exclude", "reason": "gift" } },
        { "name": "hold", "when": { "skus_any": ["HOLD-*"] }, "then": { "action": "hold" } },
        { "name": "all", "when": {}, "then": { "action": "send_to_plugin", "plugin_id": plugin } },
    ]}))
    .unwrap()
}

pub async fn routing_queues_one_message_that_claims_lease_hold_and_cancel_respect(
    s: Arc<dyn Storage>,
) {
    let (a, st) = account_and_store(&*s, "alice").await;
    for p in ["A-1", "HOLD-1", "GIFT-1"] {
        product(&*s, &a, &st, p).await;
    }
    let ch = channel(&*s, &a, &st, StockRules::default()).await;
    let r = ChannelRef {
        account_id: a.clone(),
        store_id: st.clone(),
        channel_id: ch,
    };
    let pid = PluginId::generate();
    let plugin = s
        .create_plugin(
            &a,
            &st,
            NewPlugin {
                id: pid.clone(),
                name: "3PL".into(),
                url: "https://3pl.example.invalid/orders".into(),
                enabled: true,
                secret: vec![1, 2, 3],
            },
        )
        .await
        .unwrap();
    // Rules may only route to the store's plugins.
    let other = PluginId::generate();
    assert!(matches!(
        s.set_plugin_rules(&a, &st, rules(&other)).await,
        Err(StorageError::Invalid(e)) if e.field.as_deref() == Some("rules[2].then.plugin_id")
    ));
    s.set_plugin_rules(&a, &st, rules(&pid)).await.unwrap();

    let open = import(
        &*s,
        &r,
        order("1", &[("A-1", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    let held = import(
        &*s,
        &r,
        order("2", &[("HOLD-1", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    let gift = import(
        &*s,
        &r,
        order("3", &[("GIFT-1", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    let o = s.get_order(&a, &open).await.unwrap();
    assert_eq!(o.plugin_id.as_ref(), Some(&pid));
    assert_eq!(o.routed_by.as_deref(), Some("all"));
    let g = s.get_order(&a, &gift).await.unwrap();
    assert_eq!(g.excluded_reason.as_deref(), Some("gift"));
    assert!(g.plugin_id.is_none(), "an excluded order is not routed");
    // Sent again by the channel, the rule's exclusion stands and nothing
    // is queued twice.
    import(&*s, &r, {
        let mut o = order("3", &[("GIFT-1", 1)], ChannelFulfilment::Unfulfilled);
        o.updated_at += Duration::minutes(1);
        o
    })
    .await;
    assert_eq!(
        s.get_order(&a, &gift).await.unwrap().state.as_str(),
        "excluded"
    );
    import(&*s, &r, {
        let mut o = order("1", &[("A-1", 1)], ChannelFulfilment::Unfulfilled);
        o.updated_at += Duration::minutes(1);
        o
    })
    .await;

    // Only the open order is due; the held one waits.
    let now = Utc::now();
    let lease = Duration::minutes(5);
    let due = s
        .claim_plugin_messages(&claim("wrk_test", now, lease), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].order_id, open);
    assert_eq!(due[0].kind, PluginMessageKind::Routed);
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].secret, vec![1, 2, 3]);
    assert!(
        s.claim_plugin_messages(&claim("wrk_test", now, lease), 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // A failed attempt is due again at its retry time, not before.
    s.record_plugin_attempt(
        &due[0],
        PluginAttempt {
            status: Some(503),
            response: Some("down".into()),
            error: Some("the plugin answered 503".into()),
            retry_at: Some(now + Duration::seconds(5)),
        },
        now,
    )
    .await
    .unwrap();
    assert!(
        s.claim_plugin_messages(&claim("wrk_test", now, lease), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.get_plugin(&a, &pid)
            .await
            .unwrap()
            .failing_since
            .is_some()
    );
    let again = s
        .claim_plugin_messages(&claim("wrk_test", now + Duration::seconds(6), lease), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    s.record_plugin_attempt(
        &again[0],
        PluginAttempt {
            status: Some(202),
            response: Some("{}".into()),
            error: None,
            retry_at: None,
        },
        now,
    )
    .await
    .unwrap();
    let po = s.plugin_order(&a, &pid, &open).await.unwrap();
    assert_eq!(po.messages[0].state, "delivered");
    assert_eq!(po.messages[0].attempts, 2);
    assert!(
        s.get_plugin(&a, &pid)
            .await
            .unwrap()
            .failing_since
            .is_none()
    );

    // Released, the held order goes; a disabled plugin's messages wait.
    s.update_plugin(
        &a,
        &pid,
        PluginPatch {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.act_on_order(&a, &held, OrderAction::Release)
        .await
        .unwrap();
    let later = now + Duration::minutes(10);
    assert!(
        s.claim_plugin_messages(&claim("wrk_test", later, lease), 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.update_plugin(
        &a,
        &pid,
        PluginPatch {
            enabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let due = s
        .claim_plugin_messages(&claim("wrk_test", later, lease), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].order_id, held);

    // Cancelled while its message is in flight: the cancellation waits for
    // it; the delivered order then gets `order.cancelled`.
    s.act_on_order(&a, &held, OrderAction::Cancel(None))
        .await
        .unwrap();
    assert!(
        s.claim_plugin_messages(&claim("wrk_test", later, lease), 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.record_plugin_attempt(
        &due[0],
        PluginAttempt {
            status: Some(200),
            response: None,
            error: None,
            retry_at: None,
        },
        later,
    )
    .await
    .unwrap();
    let cancel = s
        .claim_plugin_messages(&claim("wrk_test", later, lease), 10)
        .await
        .unwrap();
    assert_eq!(cancel.len(), 1);
    assert_eq!(cancel[0].kind, PluginMessageKind::Cancelled);

    // Cancelled before the plugin ever got it: never sent, nothing to call off.
    product(&*s, &a, &st, "A-2").await;
    let never = import(
        &*s,
        &r,
        order("4", &[("A-2", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    s.act_on_order(&a, &never, OrderAction::Cancel(None))
        .await
        .unwrap();
    let po = s.plugin_order(&a, &pid, &never).await.unwrap();
    assert_eq!(po.messages.len(), 1);
    assert_eq!(po.messages[0].state, "skipped");

    // In use: not deleted.
    assert!(matches!(
        s.delete_plugin(&a, &plugin.id).await,
        Err(StorageError::Conflict {
            code: "plugin_in_use",
            ..
        })
    ));
    // Another account sees none of it.
    let (b, _) = account_and_store(&*s, "bob").await;
    assert!(matches!(
        s.get_plugin(&b, &pid).await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.plugin_order(&b, &pid, &open).await,
        Err(StorageError::NotFound { .. })
    ));
}
