use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::json;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::hosted_page::{Branding, Font, PageState};
use switchyard_domain::ids::{AccountId, ChannelId, HostedPageId, StoreId};
use switchyard_storage::{NewChannel, NewHostedPage, PageRequest, Storage, StorageError};

use crate::account_and_store;

fn page(hash: &str, expires_in: Duration) -> NewHostedPage {
    NewHostedPage {
        id: HostedPageId::generate(),
        token_hash: hash.into(),
        channels: vec![ChannelKind::Shopify, ChannelKind::Bolcom],
        branding: Branding {
            name: "Acme Fulfilment".into(),
            logo_url: None,
            primary_color: Some("#112233".into()),
            accent_color: None,
            font: Font::Serif,
        },
        presets: json!({ "settings": { "auto_sync_stock": true } }),
        redirect_url: Some("https://acme.example/done".into()),
        metadata: json!({ "client": "42" }),
        expires_at: Utc::now() + expires_in,
    }
}

async fn connect(
    s: &dyn Storage,
    a: &AccountId,
    st: &StoreId,
    via: &HostedPageId,
) -> Result<ChannelId, StorageError> {
    s.create_channel(
        a,
        st,
        NewChannel {
            id: ChannelId::generate(),
            name: "Client shop".into(),
            kind: ChannelKind::Bolcom,
            base_url: None,
            credentials: Some(vec![1, 2, 3]),
            stock_rules: Default::default(),
            settings: Default::default(),
            hosted_page: Some(via.clone()),
        },
    )
    .await
    .map(|c| c.id)
}

pub async fn a_page_connects_one_channel_once_and_never_after_it_expires_or_is_revoked(
    s: Arc<dyn Storage>,
) {
    let (a, st) = account_and_store(&*s, "alice").await;
    let (b, other) = account_and_store(&*s, "bob").await;
    assert!(matches!(
        s.create_hosted_page(&a, &other, page("h-x", Duration::days(1)))
            .await,
        Err(StorageError::NotFound { entity: "store" })
    ));
    let made = s
        .create_hosted_page(&a, &st, page("h-1", Duration::days(7)))
        .await
        .unwrap();
    assert_eq!(made.state_at(Utc::now()), PageState::Open);
    assert_eq!(made.branding.font, Font::Serif);
    assert_eq!(made.metadata, json!({ "client": "42" }));
    assert_eq!(s.get_hosted_page(&a, &made.id).await.unwrap(), made);
    assert!(matches!(
        s.get_hosted_page(&b, &made.id).await,
        Err(StorageError::NotFound { .. })
    ));
    let (owner, found) = s.hosted_page_by_token("h-1").await.unwrap().unwrap();
    assert_eq!((owner, found.id.clone()), (a.clone(), made.id.clone()));
    assert!(s.hosted_page_by_token("h-none").await.unwrap().is_none());
    let listed = s
        .list_hosted_pages(&a, &st, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(matches!(
        s.list_hosted_pages(&b, &st, &PageRequest::first(10)).await,
        Err(StorageError::NotFound { .. })
    ));

    // Used once: the channel and the page's completion are one change.
    let channel = connect(&*s, &a, &st, &made.id).await.unwrap();
    let used = s.get_hosted_page(&a, &made.id).await.unwrap();
    assert_eq!(used.state_at(Utc::now()), PageState::Completed);
    assert_eq!(used.channel_id.as_ref(), Some(&channel));
    let events = s.journal(&a, &st, 0, 100).await.unwrap();
    let connected = events
        .iter()
        .find(|e| e.event_type == "channel.connected")
        .expect("channel.connected");
    assert_eq!(connected.payload["hosted_page_id"], made.id.as_str());
    let before = s
        .list_channels(&a, &st, &PageRequest::first(10))
        .await
        .unwrap()
        .items
        .len();
    match connect(&*s, &a, &st, &made.id).await {
        Err(StorageError::Conflict { code, .. }) => assert_eq!(code, "page_not_open"),
        other => panic!("a second use: {other:?}"),
    }
    let after = s
        .list_channels(&a, &st, &PageRequest::first(10))
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(before, after, "no channel from a used page");
    assert!(matches!(
        s.revoke_hosted_page(&a, &made.id, Utc::now()).await,
        Err(StorageError::Conflict {
            code: "page_completed",
            ..
        })
    ));

    // Expired, and revoked, pages connect nothing.
    let old = s
        .create_hosted_page(&a, &st, page("h-old", -Duration::seconds(1)))
        .await
        .unwrap();
    assert_eq!(old.state_at(Utc::now()), PageState::Expired);
    assert!(matches!(
        connect(&*s, &a, &st, &old.id).await,
        Err(StorageError::Conflict {
            code: "page_not_open",
            ..
        })
    ));
    let gone = s
        .create_hosted_page(&a, &st, page("h-gone", Duration::days(1)))
        .await
        .unwrap();
    let revoked = s
        .revoke_hosted_page(&a, &gone.id, Utc::now())
        .await
        .unwrap();
    assert_eq!(revoked.state_at(Utc::now()), PageState::Revoked);
    assert!(revoked.revoked_at.is_some());
    s.revoke_hosted_page(&a, &gone.id, Utc::now())
        .await
        .unwrap();
    assert!(matches!(
        connect(&*s, &a, &st, &gone.id).await,
        Err(StorageError::Conflict {
            code: "page_not_open",
            ..
        })
    ));
    // Another account's store cannot use the page either.
    assert!(connect(&*s, &b, &other, &made.id).await.is_err());
}

pub async fn an_authorization_state_works_once_and_not_after_it_expires(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    let made = s
        .create_hosted_page(&a, &st, page("h-1", Duration::days(1)))
        .await
        .unwrap();
    let now = Utc::now();
    let state = |hash: &str, expires| switchyard_storage::NewOAuthState {
        hash: hash.into(),
        account_id: a.clone(),
        page_id: made.id.clone(),
        kind: ChannelKind::Shopify,
        shop: Some("acme.myshopify.com".into()),
        verifier: Some("v-1".into()),
        expires_at: expires,
    };
    s.create_oauth_state(state("s-1", now + Duration::minutes(10)))
        .await
        .unwrap();
    s.create_oauth_state(state("s-old", now - Duration::seconds(1)))
        .await
        .unwrap();
    let taken = s.take_oauth_state("s-1", now).await.unwrap().unwrap();
    assert_eq!(taken.page_id, made.id);
    assert_eq!(taken.account_id, a);
    assert_eq!(taken.kind, ChannelKind::Shopify);
    assert_eq!(taken.shop.as_deref(), Some("acme.myshopify.com"));
    assert_eq!(taken.verifier.as_deref(), Some("v-1"));
    assert!(
        s.take_oauth_state("s-1", now).await.unwrap().is_none(),
        "once"
    );
    assert!(
        s.take_oauth_state("s-old", now).await.unwrap().is_none(),
        "expired"
    );
    assert!(s.take_oauth_state("s-none", now).await.unwrap().is_none());
}
