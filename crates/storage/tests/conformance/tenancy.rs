use std::sync::Arc;

use switchyard_domain::order::OrderState;
use switchyard_storage::{
    NewOrder, NewOrderLine, NewToken, PageRequest, Storage, StorageError, StorePatch,
};

use crate::{account_and_store, channel, product, sku};

pub async fn another_accounts_store_is_not_found(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    let (b, _) = account_and_store(&*s, "bob").await;
    assert!(s.get_store(&a, &st).await.is_ok());
    assert!(matches!(
        s.get_store(&b, &st).await,
        Err(StorageError::NotFound { entity: "store" })
    ));
    assert!(matches!(
        s.update_store(
            &b,
            &st,
            StorePatch {
                name: Some("x".into())
            }
        )
        .await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.delete_store(&b, &st, true).await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.list_products(&b, &st, &PageRequest::first(10)).await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.journal(&b, &st, 0, 10).await,
        Err(StorageError::NotFound { .. })
    ));
    let bobs = s
        .list_stores(&b, None, &PageRequest::first(10))
        .await
        .unwrap();
    assert!(bobs.items.iter().all(|x| x.id != st));
    assert_eq!(
        s.get_store(&a, &st).await.unwrap().name,
        "alice store",
        "bob changed nothing"
    );
}

pub async fn store_scoped_listing_returns_only_that_store(s: Arc<dyn Storage>) {
    let (a, st1) = account_and_store(&*s, "alice").await;
    let st2 = s
        .create_store(
            &a,
            switchyard_storage::NewStore {
                name: "second".into(),
            },
        )
        .await
        .unwrap()
        .id;
    let all = s
        .list_stores(&a, None, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
    let only = s
        .list_stores(&a, Some(&st2), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        only.items.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
        vec![st2]
    );
    let first = s
        .list_stores(&a, None, &PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    let rest = s
        .list_stores(
            &a,
            None,
            &PageRequest {
                after: first.next.clone(),
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next.is_none());
    assert_ne!(first.items[0].id, rest.items[0].id);
    let _ = st1;
}

pub async fn tokens_are_found_by_hash_until_revoked(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    let (b, _) = account_and_store(&*s, "bob").await;
    let t = s
        .create_token(NewToken {
            account_id: a.clone(),
            store_id: Some(st.clone()),
            plugin_id: None,
            name: "ci".into(),
            prefix: "sy_abcd".into(),
            hash: "h1".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        s.find_token_by_hash("h1").await.unwrap().unwrap().store_id,
        Some(st.clone())
    );
    assert!(s.find_token_by_hash("h2").await.unwrap().is_none());
    // A token cannot be scoped to another account's store.
    assert!(matches!(
        s.create_token(NewToken {
            account_id: b.clone(),
            store_id: Some(st),
            plugin_id: None,
            name: "x".into(),
            prefix: "p".into(),
            hash: "h3".into()
        })
        .await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.revoke_token(&b, &t.id).await,
        Err(StorageError::NotFound { .. })
    ));
    s.touch_token(&t.id).await.unwrap();
    let listed = s.list_tokens(&a, &PageRequest::first(10)).await.unwrap();
    assert!(listed.items[0].last_used_at.is_some());
    let revoked = s.revoke_token(&a, &t.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(s.find_token_by_hash("h1").await.unwrap().is_none());
}

pub async fn store_with_orders_is_only_deleted_when_forced(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    let ch = channel(&*s, &a, &st, Default::default()).await;
    s.upsert_order(
        &a,
        &st,
        NewOrder {
            channel_id: ch,
            channel_order_id: "1001".into(),
            state: OrderState::Open,
            lines: vec![NewOrderLine {
                sku: sku("A"),
                open_quantity: 1,
            }],
        },
    )
    .await
    .unwrap();
    match s.delete_store(&a, &st, false).await {
        Err(StorageError::Conflict { code, .. }) => assert_eq!(code, "store_has_orders"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(s.get_store(&a, &st).await.is_ok());
    s.delete_store(&a, &st, true).await.unwrap();
    assert!(matches!(
        s.get_store(&a, &st).await,
        Err(StorageError::NotFound { .. })
    ));
}
