use std::sync::Arc;

use chrono::{Duration, Utc};
use switchyard_domain::user::Role;
use switchyard_storage::{LinkPurpose, NewSession, NewUser, NewUserLink, Storage, StorageError};

use crate::account_and_store;

fn user(account: &switchyard_domain::ids::AccountId, email: &str, role: Role) -> NewUser {
    NewUser {
        account_id: account.clone(),
        email: email.into(),
        role,
        stores: None,
    }
}

pub async fn an_email_is_one_user_in_every_account_and_stores_are_the_accounts(
    s: Arc<dyn Storage>,
) {
    let (a, st) = account_and_store(&*s, "alice").await;
    let (b, other) = account_and_store(&*s, "bob").await;
    let ann = s
        .create_user(user(&a, "ann@example.com", Role::Owner))
        .await
        .unwrap();
    assert_eq!(ann.email, "ann@example.com");
    assert!(!ann.active, "no password yet");
    assert_eq!(ann.stores, None);
    match s
        .create_user(user(&b, "ann@example.com", Role::Staff))
        .await
    {
        Err(StorageError::Conflict { code, field, .. }) => {
            assert_eq!(code, "email_taken");
            assert_eq!(field.as_deref(), Some("email"));
        }
        other => panic!("expected email_taken, got {other:?}"),
    }
    // A staff user limited to a store of another account is refused.
    let mut limited = user(&a, "sam@example.com", Role::Staff);
    limited.stores = Some(vec![other.clone()]);
    assert!(matches!(
        s.create_user(limited.clone()).await,
        Err(StorageError::NotFound { entity: "store" })
    ));
    limited.stores = Some(vec![st.clone()]);
    let sam = s.create_user(limited).await.unwrap();
    assert_eq!(sam.stores, Some(vec![st.clone()]));
    assert!(sam.reaches(&st) && !sam.reaches(&other));
    assert_eq!(s.get_user(&a, &sam.id).await.unwrap(), sam);
    assert!(matches!(
        s.get_user(&b, &sam.id).await,
        Err(StorageError::NotFound { entity: "user" })
    ));
    let listed: Vec<_> = s
        .list_users(&a)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(listed, ["ann@example.com", "sam@example.com"]);
    assert!(s.list_users(&b).await.unwrap().is_empty());
    let (found, hash) = s
        .find_user_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found, hash), (ann, None));
    assert!(
        s.find_user_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn a_link_sets_the_password_once_and_ends_the_sessions(s: Arc<dyn Storage>) {
    let (a, _) = account_and_store(&*s, "alice").await;
    let (b, _) = account_and_store(&*s, "bob").await;
    let ann = s
        .create_user(user(&a, "ann@example.com", Role::Owner))
        .await
        .unwrap();
    let now = Utc::now();
    let link = |hash: &str, account: &switchyard_domain::ids::AccountId, expires| NewUserLink {
        account_id: account.clone(),
        user_id: ann.id.clone(),
        purpose: LinkPurpose::Invite,
        hash: hash.into(),
        expires_at: expires,
    };
    // Another account cannot make a link for Ann.
    assert!(matches!(
        s.create_user_link(link("h-other", &b, now + Duration::hours(1)))
            .await,
        Err(StorageError::NotFound { entity: "user" })
    ));
    s.create_user_link(link("h-1", &a, now + Duration::hours(1)))
        .await
        .unwrap();
    s.create_user_link(link("h-old", &a, now - Duration::seconds(1)))
        .await
        .unwrap();
    s.create_session(NewSession {
        user_id: ann.id.clone(),
        hash: "sess-1".into(),
        expires_at: now + Duration::hours(1),
        address: Some("127.0.0.1".into()),
    })
    .await
    .unwrap();
    assert!(s.find_session("sess-1", now).await.unwrap().is_some());

    assert!(matches!(
        s.redeem_user_link("h-old", "$argon2id$x", now).await,
        Err(StorageError::NotFound { entity: "link" })
    ));
    assert!(matches!(
        s.redeem_user_link("h-other", "$argon2id$x", now).await,
        Err(StorageError::NotFound { entity: "link" })
    ));
    let redeemed = s
        .redeem_user_link("h-1", "$argon2id$first", now)
        .await
        .unwrap();
    assert_eq!(redeemed.id, ann.id);
    assert!(redeemed.active);
    // Used once: the second use is refused and the password stays.
    assert!(matches!(
        s.redeem_user_link("h-1", "$argon2id$second", now).await,
        Err(StorageError::NotFound { entity: "link" })
    ));
    let (_, hash) = s
        .find_user_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$first"));
    // The password change ended the session that was open.
    assert!(s.find_session("sess-1", now).await.unwrap().is_none());
}

pub async fn a_session_lives_until_it_expires_or_ends(s: Arc<dyn Storage>) {
    let (a, _) = account_and_store(&*s, "alice").await;
    let ann = s
        .create_user(user(&a, "ann@example.com", Role::Owner))
        .await
        .unwrap();
    let now = Utc::now();
    s.create_session(NewSession {
        user_id: ann.id.clone(),
        hash: "sess".into(),
        expires_at: now + Duration::hours(8),
        address: None,
    })
    .await
    .unwrap();
    let live = s.find_session("sess", now).await.unwrap().unwrap();
    assert_eq!(live.user, ann);
    assert!(
        (live.expires_at - (now + Duration::hours(8)))
            .num_seconds()
            .abs()
            < 1
    );
    assert!(
        s.find_session("sess", now + Duration::hours(9))
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.find_session("other", now).await.unwrap().is_none());
    s.end_session("sess", now).await.unwrap();
    s.end_session("sess", now).await.unwrap();
    assert!(s.find_session("sess", now).await.unwrap().is_none());
}

pub async fn a_new_password_of_ones_own_ends_every_other_session(s: Arc<dyn Storage>) {
    let (a, _) = account_and_store(&*s, "alice").await;
    let (b, _) = account_and_store(&*s, "bob").await;
    let ann = s
        .create_user(user(&a, "ann@example.com", Role::Owner))
        .await
        .unwrap();
    let now = Utc::now();
    for hash in ["here", "laptop", "phone"] {
        s.create_session(NewSession {
            user_id: ann.id.clone(),
            hash: hash.into(),
            expires_at: now + Duration::hours(1),
            address: None,
        })
        .await
        .unwrap();
    }
    // Another account's id for Ann changes nothing.
    assert!(matches!(
        s.change_password(&b, &ann.id, "$argon2id$evil", "here", now)
            .await,
        Err(StorageError::NotFound { entity: "user" })
    ));
    assert!(s.find_session("laptop", now).await.unwrap().is_some());
    s.change_password(&a, &ann.id, "$argon2id$new", "here", now)
        .await
        .unwrap();
    let (_, hash) = s
        .find_user_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$new"));
    assert!(s.find_session("here", now).await.unwrap().is_some());
    assert!(s.find_session("laptop", now).await.unwrap().is_none());
    assert!(s.find_session("phone", now).await.unwrap().is_none());
}
