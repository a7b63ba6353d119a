use reqwest::StatusCode;
use serde_json::json;
use switchyard_testkit::{Tenant, spawn_app};

#[tokio::test]
async fn health_check_answers_without_a_token() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused_with_json() {
    let app = spawn_app().await;
    for token in ["", "sy_not-a-real-token", "Basic abc"] {
        let r = app
            .get(
                &Tenant {
                    token: token.into(),
                },
                "/v1/stores",
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body["error"]["code"], "unauthorized");
    }
    let r = app
        .client
        .get(format!("{}/v1/stores", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn tokens_are_listed_without_secrets_and_stop_working_when_revoked() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let r = app
        .post(&t, "/v1/tokens", &json!({ "name": "warehouse" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let secret = r.body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sy_") && secret.len() >= 46);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let second = Tenant {
        token: secret.clone(),
    };
    assert_eq!(app.get(&second, "/v1/account").await.status, StatusCode::OK);

    let list = app.get(&t, "/v1/tokens").await;
    let text = list.body.to_string();
    assert!(!text.contains(&secret), "the secret is never listed");
    let listed = list.body["items"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let mine = listed.iter().find(|x| x["id"] == id.as_str()).unwrap();
    assert!(secret.starts_with(mine["prefix"].as_str().unwrap()));
    assert!(!mine["last_used_at"].is_null(), "use is recorded");

    // Only the hash is stored: the secret appears nowhere in the database file.
    let db = std::fs::read(app.data_dir.path().join("switchyard.db")).unwrap_or_default();
    let wal = std::fs::read(app.data_dir.path().join("switchyard.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    let r = app.delete(&t, &format!("/v1/tokens/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body["revoked_at"].is_null());
    assert_eq!(
        app.get(&second, "/v1/account").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn store_scoped_tokens_see_only_their_store_and_cannot_act_account_wide() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s1 = app.store(&t, "one").await;
    let s2 = app.store(&t, "two").await;
    let scoped = app.store_tenant("acme", &s1).await;
    let list = app.get(&scoped, "/v1/stores").await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [s1.as_str()]);
    assert_eq!(
        app.get(&scoped, &format!("/v1/stores/{s1}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&scoped, &format!("/v1/stores/{s2}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .post(&scoped, "/v1/stores", &json!({ "name": "three" }))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    assert_eq!(
        app.get(&scoped, "/v1/tokens").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&scoped, &format!("/v1/stores/{s1}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn channel_credentials_are_write_only_and_encrypted_at_rest() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    let secret = "shpat_0123456789abcdef-very-secret";
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{s}/channels"),
            &json!({
                "name": "Shopify UK", "kind": "shopify", "base_url": "https://acme.myshopify.com",
                "credentials": { "access_token": secret }
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["has_credentials"], true);
    let id = r.body["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/v1/stores/{s}/channels/{id}"),
        format!("/v1/stores/{s}/channels"),
        format!("/v1/stores/{s}/journal"),
    ] {
        let body = app.get(&t, &path).await.body.to_string();
        assert!(!body.contains(secret), "{path} leaks the credential");
    }
    let db = std::fs::read(app.data_dir.path().join("switchyard.db")).unwrap_or_default();
    let wal = std::fs::read(app.data_dir.path().join("switchyard.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "plaintext credential on disk"
        );
    }
    let key = app.data_dir.path().join("secret.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The sealed blob opens with the key file for this account and channel only.
    let sealed = app
        .storage
        .channel_credentials(
            &app.storage.ensure_account("acme").await.unwrap().id,
            &s.parse().unwrap(),
            &id.parse().unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let cipher = switchyard_storage::crypto::CredentialCipher::load_or_create(&key).unwrap();
    let account = app.storage.ensure_account("acme").await.unwrap().id;
    let plain = cipher
        .open(&account, &id.parse().unwrap(), &sealed)
        .unwrap();
    assert!(String::from_utf8(plain).unwrap().contains(secret));
    assert!(
        cipher
            .open(
                &account,
                &switchyard_domain::ids::ChannelId::generate(),
                &sealed
            )
            .is_err()
    );

    let r = app
        .patch(
            &t,
            &format!("/v1/stores/{s}/channels/{id}"),
            &json!({ "credentials": null }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["has_credentials"].as_bool()),
        (StatusCode::OK, Some(false))
    );
}
