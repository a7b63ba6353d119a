//! Hosted onboarding pages over real HTTP: the provider makes a page with
//! the API, the client opens it, connects bol.com (the simulator) with the
//! credentials checked first, and lands on the provider's redirect; the
//! page is then used up. Hostile branding is refused or rendered inert;
//! used, expired and withdrawn pages say so.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchyard_testkit::console::Browser;
use switchyard_testkit::{Tenant, TestApp, engine_config, spawn_app_with};

/// A simulator of `channel` with two products and no orders.
pub(crate) async fn sim(channel: switchyard_sim::Channel, seed: u64) -> switchyard_sim::RunningSim {
    switchyard_sim::spawn(
        channel,
        &switchyard_sim::SimOptions {
            seed,
            products: 2,
            orders: 0,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// A client that does not follow redirects (each hop is looked at).
pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn bol() -> switchyard_sim::RunningSim {
    switchyard_sim::spawn(
        switchyard_sim::Channel::Bolcom,
        &switchyard_sim::SimOptions {
            seed: 5,
            products: 3,
            orders: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

fn page_body(extra: Value) -> Value {
    let mut body = json!({
        "channels": ["bolcom"],
        "branding": { "name": "Acme Fulfilment", "primary_color": "#0f766e", "accent_color": "#134e4a",
                      "font": "serif", "logo_url": "https://cdn.acme.example/logo.png" },
        "presets": { "settings": { "auto_sync_stock": false, "download_products": true },
                     "stock_rules": { "buffer": 2 } },
        "redirect_url": "https://provider.example/onboarded?client=42",
        "metadata": { "client": "42" }
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

pub(crate) async fn make(
    app: &TestApp,
    t: &Tenant,
    store: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let r = app
        .post(
            t,
            &format!("/v1/stores/{store}/hosted-pages"),
            &page_body(extra),
        )
        .await;
    (r.status, r.body)
}

/// The page's path from its URL.
pub(crate) fn path_of(url: &str) -> String {
    url[url.find("/connect/").unwrap()..].to_owned()
}

#[tokio::test]
async fn a_client_connects_bolcom_through_a_hosted_page_once_and_lands_on_the_redirect() {
    let app = spawn_app_with(engine_config()).await;
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 42").await;
    let sim = bol().await;
    let (status, made) = make(&app, &t, &store, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["state"], "open");
    assert_eq!(made["metadata"], json!({ "client": "42" }));
    let page_id = made["id"].as_str().unwrap().to_owned();
    let url = made["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/connect/", app.address)),
        "{url}"
    );
    let path = path_of(url);
    let stored = app
        .storage
        .list_hosted_pages(
            &app.storage.ensure_account("provider").await.unwrap().id,
            &store.parse().unwrap(),
            &switchyard_storage::PageRequest::first(10),
        )
        .await
        .unwrap();
    assert!(
        !format!("{stored:?}").contains(&path[9..]),
        "only the token's hash is stored"
    );

    let mut client = Browser::new(&app);
    let page = client.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Acme Fulfilment") && page.body.contains("bol.com"));
    let csp = page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("img-src 'self' https://cdn.acme.example;"),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "{csp}");
    let css = client.get(&format!("{path}/style.css")).await;
    assert!(
        css.body.contains("--accent: #0f766e;") && css.body.contains("Georgia"),
        "{}",
        css.body
    );
    let form = client.get(&format!("{path}/bolcom")).await;
    assert!(form.body.contains("cred.client_secret"));
    // A kind the page does not offer is not there.
    assert_eq!(
        client.get(&format!("{path}/vendure")).await.status,
        StatusCode::NOT_FOUND
    );

    // Wrong credentials: bol.com's words, and nothing is made.
    let wrong = client
        .post(
            &format!("{path}/bolcom"),
            &[
                ("base_url", &sim.base_url()),
                (
                    "cred.client_id",
                    sim.credentials["client_id"].as_str().unwrap(),
                ),
                ("cred.client_secret", "not the secret"),
            ],
        )
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("bol.com said:"), "{}", wrong.body);
    let channels = app.get(&t, &format!("/v1/stores/{store}/channels")).await;
    assert_eq!(channels.body["items"].as_array().unwrap().len(), 0);

    let done = client
        .post(
            &format!("{path}/bolcom"),
            &[
                ("base_url", &sim.base_url()),
                (
                    "cred.client_id",
                    sim.credentials["client_id"].as_str().unwrap(),
                ),
                (
                    "cred.client_secret",
                    sim.credentials["client_secret"].as_str().unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let to = reqwest::Url::parse(done.location()).unwrap();
    assert_eq!(to.host_str(), Some("provider.example"));
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["client"], "42");
    assert_eq!(q["hosted_page_id"], page_id);
    let channel = q["channel_id"].clone();

    // The channel has the presets, its credentials test passes, the page is used.
    let ch = app
        .get(&t, &format!("/v1/stores/{store}/channels/{channel}"))
        .await;
    assert_eq!(ch.status, StatusCode::OK, "{}", ch.body);
    assert_eq!(ch.body["kind"], "bolcom");
    assert_eq!(ch.body["stock_rules"]["buffer"], 2, "{}", ch.body);
    assert_eq!(ch.body["settings"]["auto_sync_stock"], false, "{}", ch.body);
    let test = app
        .post(
            &t,
            &format!("/v1/stores/{store}/channels/{channel}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(test.body["ok"], true, "{}", test.body);
    let state = app
        .get(&t, &format!("/v1/stores/{store}/hosted-pages/{page_id}"))
        .await;
    assert_eq!(state.body["state"], "completed");
    assert_eq!(state.body["channel_id"], channel.as_str());
    let journal = app
        .get(&t, &format!("/v1/stores/{store}/journal?limit=1000"))
        .await;
    assert!(
        journal.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "channel.connected"),
        "{}",
        journal.body
    );
    // Its first import runs at once.
    switchyard_testkit::eventually("the first import", 30, || async {
        let h = app
            .get(&t, &format!("/v1/stores/{store}/channels/{channel}/health"))
            .await;
        !h.body["import"]["last_success_at"].is_null()
    })
    .await;

    // Used once: the page says so, and a second connection makes nothing.
    let again = client.get(&path).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("Already connected"));
    let twice = client
        .post(
            &format!("{path}/bolcom"),
            &[
                ("base_url", &sim.base_url()),
                (
                    "cred.client_id",
                    sim.credentials["client_id"].as_str().unwrap(),
                ),
                (
                    "cred.client_secret",
                    sim.credentials["client_secret"].as_str().unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::GONE);
    let channels = app.get(&t, &format!("/v1/stores/{store}/channels")).await;
    assert_eq!(channels.body["items"].as_array().unwrap().len(), 1);
    let revoke = app
        .delete(&t, &format!("/v1/stores/{store}/hosted-pages/{page_id}"))
        .await;
    assert_eq!(revoke.status, StatusCode::CONFLICT, "{}", revoke.body);
}

#[tokio::test]
async fn bad_pages_are_refused_and_withdrawn_or_expired_ones_say_so() {
    let app = spawn_app_with(engine_config()).await;
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 7").await;
    for (extra, field) in [
        (json!({ "channels": [] }), "channels"),
        (json!({ "channels": ["shopify"] }), "channels[0]"),
        (json!({ "channels": ["myspace"] }), "channels[0].kind"),
        (
            json!({ "branding": { "name": "x", "primary_color": "red; background:url(//evil)" } }),
            "branding.primary_color",
        ),
        (
            json!({ "branding": { "name": "x", "logo_url": "javascript:alert(1)" } }),
            "branding.logo_url",
        ),
        (json!({ "expires_in": 31 * 86_400 }), "expires_in"),
        (
            json!({ "redirect_url": "javascript:alert(1)" }),
            "redirect_url",
        ),
        (
            json!({ "presets": { "stock_rules": { "buffer": -1 } } }),
            "presets.stock_rules.buffer",
        ),
    ] {
        let (status, body) = make(&app, &t, &store, extra.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{extra}: {body}");
        assert!(
            body["error"]["field"]
                .as_str()
                .unwrap_or_default()
                .starts_with(field),
            "{extra}: {body}"
        );
    }
    let font = app
        .post(
            &t,
            &format!("/v1/stores/{store}/hosted-pages"),
            &page_body(json!({ "branding": { "name": "x", "font": "Comic Sans\"; }" } })),
        )
        .await;
    assert!(font.status.is_client_error(), "{}", font.body);

    // A hostile name is text, nothing more.
    let (status, made) = make(
        &app,
        &t,
        &store,
        json!({ "branding": { "name": "<script>alert(1)</script><img src=x onerror=alert(2)>" } }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let path = path_of(made["url"].as_str().unwrap());
    let mut client = Browser::new(&app);
    let page = client.get(&path).await;
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // Withdrawn: the page says so; listed as revoked.
    let id = made["id"].as_str().unwrap();
    let revoked = app
        .delete(&t, &format!("/v1/stores/{store}/hosted-pages/{id}"))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.body["state"], "revoked");
    let gone = client.get(&path).await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert!(gone.body.contains("withdrew this page"));
    let listed = app
        .get(&t, &format!("/v1/stores/{store}/hosted-pages"))
        .await;
    assert_eq!(
        listed.body["items"][0]["state"], "revoked",
        "{}",
        listed.body
    );

    // Expired: a page whose time has passed, in the provider's colours.
    let acc = app.storage.ensure_account("provider").await.unwrap().id;
    let old = app
        .storage
        .create_hosted_page(
            &acc,
            &store.parse().unwrap(),
            switchyard_storage::NewHostedPage {
                id: switchyard_domain::ids::HostedPageId::generate(),
                token_hash: switchyard_api::tokens::hash("an-old-token"),
                channels: vec![switchyard_domain::channel::ChannelKind::Bolcom],
                branding: serde_json::from_value(json!({ "name": "Old Provider" })).unwrap(),
                presets: json!({}),
                redirect_url: None,
                metadata: json!({}),
                expires_at: chrono::Utc::now() - chrono::Duration::minutes(1),
            },
        )
        .await
        .unwrap();
    let expired = client.get("/connect/an-old-token").await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(
        expired.body.contains("This page has expired") && expired.body.contains("Old Provider")
    );
    let state = app
        .get(&t, &format!("/v1/stores/{store}/hosted-pages/{}", old.id))
        .await;
    assert_eq!(state.body["state"], "expired");
    // Unknown tokens, and another account's pages, are not found.
    assert_eq!(
        client.get("/connect/nothing-here").await.status,
        StatusCode::NOT_FOUND
    );
    let other = app.tenant("other").await;
    let theirs = app
        .get(
            &other,
            &format!("/v1/stores/{store}/hosted-pages/{}", old.id),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
}
