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
    for bytes in app.stored_bytes().await {
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
    for bytes in app.stored_bytes().await {
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

/// Counts the connections made to 127.0.0.2 (closing each at once): what
/// reached an address the server was not allowed to contact.
async fn tripwire() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(sock);
        }
    });
    (port, hits)
}

/// A channel's `base_url` follows the same outbound policy as webhooks and
/// plugins: refused when written (any spelling of a private address, or
/// credentials in the URL), refused on the address a name resolves to, and
/// never reached through a redirect. Credentials never leave.
#[tokio::test]
async fn channel_addresses_that_reach_inside_are_refused_and_never_contacted() {
    use std::sync::atomic::Ordering;
    let (trap, hits) = tripwire().await;
    // An operator who allowed nothing that is not public.
    let app = switchyard_testkit::spawn_app_with(switchyard_testkit::strict_engine_config()).await;
    let t = app.tenant("acme").await;
    let s = app.store(&t, "shop").await;
    let creds = json!({ "consumer_key": "ck_secret", "consumer_secret": "cs_secret" });
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "http://[::1]:8080/".to_owned(),
        format!("http://127.0.0.2:{trap}/"),
        format!("http://2130706434:{trap}/"),
        format!("http://0x7f000002:{trap}/"),
        format!("http://[::ffff:127.0.0.2]:{trap}/"),
        "http://[64:ff9b::a00:1]/".to_owned(),
        "http://100.64.0.1/".to_owned(),
        "http://user:pw@shop.example.com/".to_owned(),
        "ftp://shop.example.com/".to_owned(),
    ] {
        let r = app
            .post(
                &t,
                &format!("/v1/stores/{s}/channels"),
                &json!({ "name": "Woo", "kind": "woocommerce", "base_url": url, "credentials": creds }),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["field"], "base_url", "{url}");
    }
    // A public address is fine, and a PATCH to a refused one is refused.
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{s}/channels"),
            &json!({ "name": "Woo", "kind": "woocommerce", "base_url": "https://shop.example.com",
                     "credentials": creds, "settings": { "push_notifications": false } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &t,
            &format!("/v1/stores/{s}/channels/{id}"),
            &json!({ "base_url": "http://169.254.169.254/" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "base_url");

    // A name is accepted when written, and checked on what it resolves to.
    let r = app
        .patch(
            &t,
            &format!("/v1/stores/{s}/channels/{id}"),
            &json!({ "base_url": format!("http://localhost:{trap}") }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let test = app
        .post(
            &t,
            &format!("/v1/stores/{s}/channels/{id}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(test.body["ok"], false, "{}", test.body);
    assert_eq!(test.body["code"], "blocked_destination", "{}", test.body);
    assert!(
        test.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("loopback")),
        "{}",
        test.body
    );

    // Allowed: 127.0.0.1. A shop there that redirects to 127.0.0.2 gets
    // the request; the redirect is not followed.
    let open = switchyard_testkit::spawn_app().await;
    let t2 = open.tenant("acme").await;
    let s2 = open.store(&t2, "shop").await;
    let shop = switchyard_testkit::receiver::Receiver::start().await;
    shop.set(switchyard_testkit::receiver::Mode::Redirect(format!(
        "http://127.0.0.2:{trap}/wp-json/wc/v3/system_status"
    )));
    let r = open
        .post(
            &t2,
            &format!("/v1/stores/{s2}/channels"),
            &json!({ "name": "Woo", "kind": "woocommerce", "base_url": format!("http://127.0.0.1:{}", shop.port),
                     "credentials": creds, "settings": { "push_notifications": false } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id2 = r.body["id"].as_str().unwrap().to_owned();
    let test = open
        .post(
            &t2,
            &format!("/v1/stores/{s2}/channels/{id2}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(test.body["code"], "blocked_destination", "{}", test.body);
    assert!(!shop.received().is_empty(), "the allowed shop was asked");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached 127.0.0.2");
}

/// Every string in a credentials document, long enough to be a secret.
fn secret_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.len() >= 8 => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| secret_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| secret_strings(x, out)),
        _ => {}
    }
}

/// A full demo run (both channels, orders, stock pushes, the 3PL plugin,
/// a webhook subscription, the console link) logging at `trace`: no
/// secret it handled appears in its log — not the API token, the console
/// link's token, either channel's credentials, nor the webhook's and the
/// plugin's signing secrets.
#[tokio::test]
async fn a_full_run_logs_no_secret() {
    let demo = switchyard_testkit::demo::KeptDemo::start_logging(
        env!("CARGO_BIN_EXE_switchyard"),
        4,
        Some("trace"),
    );
    let owner = Tenant {
        token: demo.token.clone(),
    };
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, base, token) = (http.clone(), demo.base.clone(), owner.token.clone());
        async move {
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let mut secrets = vec![demo.token.clone()];
    let link_secret = demo.link.rsplit(['/', '=', '#']).next().unwrap().to_owned();
    assert!(link_secret.len() >= 16, "{}", demo.link);
    secrets.push(link_secret);
    // The demo's shops: the simulators' credentials follow from its seed.
    for channel in [
        switchyard_sim::Channel::Shopify,
        switchyard_sim::Channel::WooCommerce,
    ] {
        let sim = switchyard_sim::spawn(
            channel,
            &switchyard_sim::SimOptions {
                seed: 7,
                products: 12,
                orders: 0,
                schema: None,
            },
        )
        .await
        .unwrap();
        secret_strings(&sim.credentials, &mut secrets);
        sim.stop().await;
    }
    let stores = get("/v1/stores".into()).await;
    for store in stores["items"].as_array().unwrap() {
        let id = store["id"].as_str().unwrap();
        for (list, one) in [("webhooks", "webhooks"), ("plugins", "plugins")] {
            let items = get(format!("/v1/stores/{id}/{list}")).await;
            for it in items["items"].as_array().unwrap() {
                let secret = get(format!("/v1/{one}/{}/secret", it["id"].as_str().unwrap())).await;
                let s = secret["secret"].as_str().unwrap().to_owned();
                secrets.push(s.trim_start_matches("whsec_").to_owned());
            }
        }
    }
    assert!(
        secrets.len() >= 8,
        "token, link, 4 channel credentials, the webhook's and the plugin's secrets: {}",
        secrets.len()
    );
    // The deliveries of the last events may still be on their way.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let log = demo.log();
    assert!(
        log.lines().count() > 100 && log.contains("DEBUG"),
        "the run logged at debug: {} lines",
        log.lines().count()
    );
    let leaked: Vec<String> = secrets
        .iter()
        .filter(|s| log.contains(s.as_str()))
        .map(|s| {
            let line = log.lines().find(|l| l.contains(s.as_str())).unwrap_or("");
            format!(
                "{}… in: {}",
                &s[..6.min(s.len())],
                &line[..line.len().min(400)]
            )
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "secrets in the log:\n{}",
        leaked.join("\n")
    );
}
