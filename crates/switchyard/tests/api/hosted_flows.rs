//! The channels' own authorization flows through hosted pages, on their
//! simulators over loopback: Shopify, WooCommerce, Etsy, eBay and Amazon
//! approved, declined and tampered with; and the console's "Connect with
//! …'s sign-in".

use reqwest::StatusCode;
use serde_json::json;
use switchyard_testkit::console::Browser;
use switchyard_testkit::{TestApp, engine_config, spawn_app_with};

use crate::hosted_pages::{make, no_redirects, path_of, sim};

/// An app on a Shopify simulator, as the operator configures it.
async fn shopify_app() -> (switchyard_sim::RunningSim, TestApp) {
    let sim = sim(switchyard_sim::Channel::Shopify, 7).await;
    let secret = sim.credentials["api_secret_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = sim.base_url();
    let app = switchyard_testkit::spawn_app_configured(move |c| {
        c.apps.shopify.client_id = switchyard_sim::shopify::oauth::client_id(7);
        c.apps.shopify.client_secret = secret.into();
        c.apps.shopify.shop_url = base;
    })
    .await;
    (sim, app)
}

/// Follow the client from the page to Shopify's consent screen and press
/// `decision` there; returns the callback URL Shopify sends them to.
async fn through_consent(client: &mut Browser, path: &str, decision: &str) -> String {
    let start = client
        .post(&format!("{path}/shopify"), &[("shop", "Sim-7")])
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let authorize = reqwest::Url::parse(start.location()).unwrap();
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], switchyard_sim::shopify::oauth::client_id(7));
    assert!(q["scope"].contains("write_inventory"), "{q:?}");
    assert!(q["redirect_uri"].ends_with("/connect/callback/shopify"));
    let http = no_redirects();
    let consent = http
        .get(authorize.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        consent.contains("Install app on sim-7.myshopify.com"),
        "{consent}"
    );
    let decided = http
        .post(authorize.join("/admin/oauth/authorize").unwrap())
        .form(&[
            ("client_id", q["client_id"].as_str()),
            ("redirect_uri", q["redirect_uri"].as_str()),
            ("state", q["state"].as_str()),
            ("scope", q["scope"].as_str()),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    decided.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_client_connects_shopify_by_approving_on_the_simulator_and_forged_callbacks_are_refused()
{
    let (sim, app) = shopify_app().await;
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 7").await;
    let (status, made) = make(
        &app,
        &t,
        &store,
        json!({ "channels": ["shopify", "bolcom"], "redirect_url": format!("{}/healthz?from=hosted", app.address) }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let page_id = made["id"].as_str().unwrap().to_owned();
    let path = path_of(made["url"].as_str().unwrap());
    let mut client = Browser::new(&app);
    let page = client.get(&path).await;
    assert!(page.body.contains("Shopify") && page.body.contains("bol.com"));
    assert!(
        client
            .get(&format!("{path}/shopify"))
            .await
            .body
            .contains("Continue to Shopify")
    );
    let bad_shop = client
        .post(
            &format!("{path}/shopify"),
            &[("shop", "evil.example.com/x")],
        )
        .await;
    assert_eq!(bad_shop.status, StatusCode::UNPROCESSABLE_ENTITY);

    let callback = through_consent(&mut client, &path, "approve").await;
    let callback_path = &callback[callback.find("/connect/").unwrap()..];
    let mut params: Vec<(String, String)> = reqwest::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    // A tampered hmac, and a made-up state signed correctly, are refused.
    let tampered = callback_path.replace("hmac=", "hmac=0");
    let r = client.get(&tampered).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("signature"), "{}", r.body);
    let secret = sim.credentials["api_secret_key"].as_str().unwrap();
    for (k, v) in &mut params {
        if k == "state" {
            *v = "made-up".into();
        }
    }
    params.retain(|(k, _)| k != "hmac");
    let hmac = switchyard_sim::shopify::oauth::sign(secret, &params);
    let mut forged =
        reqwest::Url::parse(&format!("{}/connect/callback/shopify", app.address)).unwrap();
    forged
        .query_pairs_mut()
        .extend_pairs(params.iter())
        .append_pair("hmac", &hmac);
    let r = client.get(&forged.as_str()[app.address.len()..]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("unknown, was already used or has expired"),
        "{}",
        r.body
    );

    // The real one: the code is exchanged, the channel made, the client sent on.
    let done = client.get(callback_path).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let to = reqwest::Url::parse(done.location()).unwrap();
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(to.path(), "/healthz");
    assert_eq!(q["from"], "hosted");
    assert_eq!(q["hosted_page_id"], page_id);
    let channel = q["channel_id"].clone();
    let ch = app
        .get(&t, &format!("/v1/stores/{store}/channels/{channel}"))
        .await;
    assert_eq!(ch.body["kind"], "shopify", "{}", ch.body);
    assert_eq!(ch.body["base_url"], sim.base_url().as_str());
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
    // The same callback again: its state is spent.
    let again = client.get(callback_path).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_client_who_cancels_on_shopify_is_told_and_the_page_stays_open() {
    let (_sim, app) = shopify_app().await;
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 8").await;
    let (_, made) = make(&app, &t, &store, json!({ "channels": ["shopify"] })).await;
    let page_id = made["id"].as_str().unwrap().to_owned();
    let path = path_of(made["url"].as_str().unwrap());
    let mut client = Browser::new(&app);
    let callback = through_consent(&mut client, &path, "deny").await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let told = client
        .get(&callback[callback.find("/connect/").unwrap()..])
        .await;
    assert_eq!(told.status, StatusCode::OK);
    assert!(
        told.body.contains("declined to install the app"),
        "{}",
        told.body
    );
    let state = app
        .get(&t, &format!("/v1/stores/{store}/hosted-pages/{page_id}"))
        .await;
    assert_eq!(state.body["state"], "open");
    assert_eq!(
        client.get(&path).await.status,
        StatusCode::OK,
        "it can be tried again"
    );
    let channels = app.get(&t, &format!("/v1/stores/{store}/channels")).await;
    assert_eq!(channels.body["items"].as_array().unwrap().len(), 0);
    // Without an app configured, Shopify is not offered at all.
    let plain = spawn_app_with(engine_config()).await;
    let pt = plain.tenant("p").await;
    let ps = plain.store(&pt, "S").await;
    let (status, body) = make(&plain, &pt, &ps, json!({ "channels": ["shopify"] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn a_client_connects_woocommerce_by_approving_in_their_store_and_a_denial_is_told() {
    let woo = sim(switchyard_sim::Channel::WooCommerce, 4).await;
    let app = spawn_app_with(engine_config()).await;
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 4").await;
    let http = no_redirects();
    // The client starts, approves in the store, and comes back.
    let run = |decision: &'static str| {
        let (app, t, store, http, base) = (&app, &t, &store, &http, woo.base_url());
        async move {
            let (status, made) = make(
                app,
                t,
                store,
                json!({ "channels": ["woocommerce"], "redirect_url": format!("{}/healthz", app.address) }),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{made}");
            let path = path_of(made["url"].as_str().unwrap());
            let mut client = Browser::new(app);
            assert!(
                client
                    .get(&format!("{path}/woocommerce"))
                    .await
                    .body
                    .contains("Continue to WooCommerce")
            );
            let start = client
                .post(&format!("{path}/woocommerce"), &[("store", base.as_str())])
                .await;
            assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
            let authorize = reqwest::Url::parse(start.location()).unwrap();
            assert_eq!(authorize.path(), "/wc-auth/v1/authorize");
            let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
            assert_eq!(q["app_name"], "Acme Fulfilment");
            assert_eq!(q["scope"], "read_write");
            assert!(q["callback_url"].ends_with("/connect/callback/woocommerce"));
            let screen = http
                .get(authorize.clone())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                screen.contains("Acme Fulfilment would like to connect to your store"),
                "{screen}"
            );
            let decided = http
                .post(authorize.join("/wc-auth/v1/authorize").unwrap())
                .form(&[
                    ("app_name", q["app_name"].as_str()),
                    ("scope", q["scope"].as_str()),
                    ("user_id", q["user_id"].as_str()),
                    ("return_url", q["return_url"].as_str()),
                    ("callback_url", q["callback_url"].as_str()),
                    ("decision", decision),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(decided.status(), StatusCode::SEE_OTHER);
            let back = decided.headers()["location"].to_str().unwrap().to_owned();
            let landed = client.get(&back[back.find("/connect/").unwrap()..]).await;
            (
                made["id"].as_str().unwrap().to_owned(),
                q["user_id"].clone(),
                q["callback_url"].clone(),
                landed,
            )
        }
    };

    let (page_id, user_id, callback, landed) = run("approve").await;
    assert_eq!(landed.status, StatusCode::SEE_OTHER, "{}", landed.body);
    let to = reqwest::Url::parse(landed.location()).unwrap();
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["hosted_page_id"], page_id);
    let channel = q["channel_id"].clone();
    let ch = app
        .get(&t, &format!("/v1/stores/{store}/channels/{channel}"))
        .await;
    assert_eq!(ch.body["kind"], "woocommerce", "{}", ch.body);
    assert_eq!(ch.body["base_url"], woo.base_url().as_str());
    let test = app
        .post(
            &t,
            &format!("/v1/stores/{store}/channels/{channel}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(test.body["ok"], true, "{}", test.body);
    // The keys posted again with the spent user_id connect nothing.
    let replay = http
        .post(&callback)
        .json(&json!({ "user_id": user_id, "consumer_key": "ck_x", "consumer_secret": "cs_x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    let (denied_page, _, _, told) = run("deny").await;
    assert_eq!(told.status, StatusCode::OK);
    assert!(told.body.contains("denied access"), "{}", told.body);
    let state = app
        .get(
            &t,
            &format!("/v1/stores/{store}/hosted-pages/{denied_page}"),
        )
        .await;
    assert_eq!(state.body["state"], "open");
    let channels = app.get(&t, &format!("/v1/stores/{store}/channels")).await;
    assert_eq!(channels.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_client_connects_etsy_with_pkce_and_a_stolen_code_is_useless_without_the_verifier() {
    let etsy = sim(switchyard_sim::Channel::Etsy, 6).await;
    let keystring = etsy.credentials["keystring"].as_str().unwrap().to_owned();
    let base = etsy.base_url();
    let (k, b) = (keystring.clone(), base.clone());
    let app = switchyard_testkit::spawn_app_configured(move |c| {
        c.apps.etsy.keystring = k;
        c.apps.etsy.connect_url = format!("{b}/oauth/connect");
        c.apps.etsy.api_url = b;
    })
    .await;
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 6").await;
    let http = no_redirects();
    let start = |decision: &'static str| {
        let (app, t, store, http) = (&app, &t, &store, &http);
        async move {
            let (status, made) = make(
                app,
                t,
                store,
                json!({ "channels": ["etsy"], "redirect_url": format!("{}/healthz", app.address) }),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{made}");
            let path = path_of(made["url"].as_str().unwrap());
            let mut client = Browser::new(app);
            let go = client.post(&format!("{path}/etsy"), &[]).await;
            assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
            let connect = reqwest::Url::parse(go.location()).unwrap();
            let q: std::collections::HashMap<_, _> = connect.query_pairs().into_owned().collect();
            assert_eq!(q["code_challenge_method"], "S256");
            assert_eq!(q["code_challenge"].len(), 43);
            assert!(
                !go.location().contains("code_verifier"),
                "the verifier stays home"
            );
            let screen = http
                .get(connect.clone())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(screen.contains("Allow Access"), "{screen}");
            let mut form: Vec<(String, String)> = q.into_iter().collect();
            form.push(("decision".into(), decision.into()));
            let decided = http
                .post(connect.join("/oauth/connect").unwrap())
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(decided.status(), StatusCode::SEE_OTHER);
            let back = decided.headers()["location"].to_str().unwrap().to_owned();
            (made["id"].as_str().unwrap().to_owned(), client, back)
        }
    };

    let (page_id, mut client, back) = start("approve").await;
    let callback = reqwest::Url::parse(&back).unwrap();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    // Someone who intercepts the code cannot use it without the verifier
    // (and trying spends it, so it is fetched again below).
    let stolen = http
        .post(format!("{base}/v3/public/oauth/token"))
        .header("x-api-key", &keystring)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", keystring.as_str()),
            (
                "redirect_uri",
                &format!("{}/connect/callback/etsy", app.address),
            ),
            ("code", code.as_str()),
            (
                "code_verifier",
                "a-guess-a-guess-a-guess-a-guess-a-guess-a-guess",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    let told = client.get(&back[back.find("/connect/").unwrap()..]).await;
    assert_eq!(
        told.status,
        StatusCode::BAD_GATEWAY,
        "the spent code: {}",
        told.body
    );

    let (page_id2, mut client, back) = start("approve").await;
    assert_ne!(page_id, page_id2);
    let done = client.get(&back[back.find("/connect/").unwrap()..]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let to = reqwest::Url::parse(done.location()).unwrap();
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["hosted_page_id"], page_id2);
    let channel = q["channel_id"].clone();
    let test = app
        .post(
            &t,
            &format!("/v1/stores/{store}/channels/{channel}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(test.body["ok"], true, "{}", test.body);
    let again = client.get(&back[back.find("/connect/").unwrap()..]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "the state is spent");

    let (_, mut client, back) = start("deny").await;
    assert!(back.contains("error=access_denied"), "{back}");
    let declined = client.get(&back[back.find("/connect/").unwrap()..]).await;
    assert_eq!(declined.status, StatusCode::OK);
    assert!(
        declined.body.contains("The user denied the request"),
        "{}",
        declined.body
    );
}

#[tokio::test]
async fn a_client_connects_ebay_through_the_apps_runame_and_disagreeing_is_told() {
    let ebay = sim(switchyard_sim::Channel::Ebay, 2).await;
    let (id, secret, base) = (
        ebay.credentials["client_id"].as_str().unwrap().to_owned(),
        ebay.credentials["client_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
        ebay.base_url(),
    );
    let b = base.clone();
    let app = switchyard_testkit::spawn_app_configured(move |c| {
        c.apps.ebay.client_id = id;
        c.apps.ebay.client_secret = secret.into();
        c.apps.ebay.runame = "Switchyard-sim-RuName".into();
        c.apps.ebay.auth_url = format!("{b}/oauth2/authorize");
        c.apps.ebay.api_url = b;
    })
    .await;
    // The developer registered the RuName's accept and decline URLs.
    let http = no_redirects();
    let registered = http
        .post(format!("{base}/_sim/runames"))
        .json(&json!({
            "runame": "Switchyard-sim-RuName",
            "accept_url": format!("{}/connect/callback/ebay", app.address),
            "decline_url": format!("{}/connect/callback/ebay?declined=1", app.address),
        }))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 2").await;
    let go = |decision: &'static str| {
        let (app, t, store, http) = (&app, &t, &store, &http);
        async move {
            let (_, made) = make(
                app,
                t,
                store,
                json!({ "channels": ["ebay"], "redirect_url": format!("{}/healthz", app.address) }),
            )
            .await;
            let path = path_of(made["url"].as_str().unwrap());
            let mut client = Browser::new(app);
            let start = client.post(&format!("{path}/ebay"), &[]).await;
            assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
            let consent = reqwest::Url::parse(start.location()).unwrap();
            let q: std::collections::HashMap<_, _> = consent.query_pairs().into_owned().collect();
            assert_eq!(q["redirect_uri"], "Switchyard-sim-RuName");
            assert!(
                q["scope"].contains("sell.fulfillment") && q["scope"].contains("sell.inventory")
            );
            let screen = http
                .get(consent.clone())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(screen.contains("Grant application access"), "{screen}");
            let mut form: Vec<(String, String)> = q.into_iter().collect();
            form.push(("decision".into(), decision.into()));
            let decided = http
                .post(consent.join("/oauth2/authorize").unwrap())
                .form(&form)
                .send()
                .await
                .unwrap();
            let back = decided.headers()["location"].to_str().unwrap().to_owned();
            let landed = client.get(&back[back.find("/connect/").unwrap()..]).await;
            (made["id"].as_str().unwrap().to_owned(), landed)
        }
    };
    let (page_id, landed) = go("approve").await;
    assert_eq!(landed.status, StatusCode::SEE_OTHER, "{}", landed.body);
    let to = reqwest::Url::parse(landed.location()).unwrap();
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["hosted_page_id"], page_id);
    let channel = q["channel_id"].clone();
    let test = app
        .post(
            &t,
            &format!("/v1/stores/{store}/channels/{channel}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(test.body["ok"], true, "{}", test.body);
    let (declined_page, told) = go("deny").await;
    assert_eq!(told.status, StatusCode::OK);
    assert!(told.body.contains("you disagreed"), "{}", told.body);
    let state = app
        .get(
            &t,
            &format!("/v1/stores/{store}/hosted-pages/{declined_page}"),
        )
        .await;
    assert_eq!(state.body["state"], "open");
}

#[tokio::test]
async fn a_seller_connects_amazon_through_seller_central_consent() {
    let amazon = sim(switchyard_sim::Channel::Amazon, 8).await;
    let creds = amazon.credentials.clone();
    let base = amazon.base_url();
    let b = base.clone();
    let app = switchyard_testkit::spawn_app_configured(move |c| {
        let a = &mut c.apps.amazon;
        a.application_id = switchyard_sim::amazon::consent::application_id(8);
        a.draft = true;
        a.client_id = creds["client_id"].as_str().unwrap().to_owned();
        a.client_secret = creds["client_secret"].as_str().unwrap().to_owned().into();
        a.consent_url = format!("{b}/apps/authorize/consent");
        a.token_url = format!("{b}/auth/o2/token");
        a.marketplace_id = creds["marketplace_id"].as_str().unwrap().to_owned();
        a.api_url = b;
    })
    .await;
    let http = no_redirects();
    let registered = http
        .post(format!("{base}/_sim/redirect-uris"))
        .json(&json!({ "uri": format!("{}/connect/callback/amazon", app.address) }))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success());
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 8").await;
    let go = |decision: &'static str| {
        let (app, t, store, http) = (&app, &t, &store, &http);
        async move {
            let (_, made) = make(
                app,
                t,
                store,
                json!({ "channels": ["amazon"], "redirect_url": format!("{}/healthz", app.address) }),
            )
            .await;
            let path = path_of(made["url"].as_str().unwrap());
            let mut client = Browser::new(app);
            let start = client.post(&format!("{path}/amazon"), &[]).await;
            assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
            let consent = reqwest::Url::parse(start.location()).unwrap();
            let q: std::collections::HashMap<_, _> = consent.query_pairs().into_owned().collect();
            assert_eq!(q["version"], "beta");
            let screen = http
                .get(consent.clone())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(screen.contains("Authorize the application"), "{screen}");
            let mut form: Vec<(String, String)> = q.into_iter().collect();
            form.push(("decision".into(), decision.into()));
            let decided = http
                .post(consent.join("/apps/authorize/consent").unwrap())
                .form(&form)
                .send()
                .await
                .unwrap();
            let back = decided.headers()["location"].to_str().unwrap().to_owned();
            let landed = client.get(&back[back.find("/connect/").unwrap()..]).await;
            (made["id"].as_str().unwrap().to_owned(), back, landed)
        }
    };
    let (page_id, back, landed) = go("approve").await;
    assert!(
        back.contains("spapi_oauth_code=") && back.contains("selling_partner_id="),
        "{back}"
    );
    assert_eq!(landed.status, StatusCode::SEE_OTHER, "{}", landed.body);
    let to = reqwest::Url::parse(landed.location()).unwrap();
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q["hosted_page_id"], page_id);
    let channel = q["channel_id"].clone();
    let test = app
        .post(
            &t,
            &format!("/v1/stores/{store}/channels/{channel}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(test.body["ok"], true, "{}", test.body);
    let (_, _, told) = go("deny").await;
    assert_eq!(told.status, StatusCode::OK);
    assert!(told.body.contains("did not authorize"), "{}", told.body);
}

#[tokio::test]
async fn the_console_connects_shopify_through_its_sign_in_and_comes_back_to_the_store() {
    let (_sim, app) = shopify_app().await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme EU").await;
    let link = switchyard_testkit::console::invited(
        &app,
        "acme",
        "ann@example.com",
        switchyard_domain::user::Role::Staff,
    )
    .await;
    let mut b = Browser::new(&app);
    switchyard_testkit::console::set_password(&mut b, &link, "the right password").await;
    let form = b
        .get(&format!(
            "/console/stores/{store}/channels/new?kind=shopify"
        ))
        .await;
    assert!(
        form.body.contains("Connect with shopify&#39;s sign-in")
            || form.body.contains("Connect with shopify's sign-in"),
        "{}",
        form.body
    );
    let bol = b
        .get(&format!("/console/stores/{store}/channels/new?kind=bolcom"))
        .await;
    assert!(!bol.body.contains("sign-in"), "bol.com has no sign-in flow");
    let csrf = form.hidden("csrf");
    let authorize = format!("/console/stores/{store}/channels/authorize");
    let forged = b.post(&authorize, &[("kind", "shopify")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let go = b
        .post(&authorize, &[("csrf", &csrf), ("kind", "shopify")])
        .await;
    assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
    let page = go.location().to_owned();
    assert!(
        page.starts_with("/connect/") && page.ends_with("/shopify"),
        "{page}"
    );
    let connect = b.get(&page).await;
    assert!(
        connect.body.contains("Switchyard · Acme EU"),
        "{}",
        connect.body
    );
    let callback = through_consent(&mut b, page.trim_end_matches("/shopify"), "approve").await;
    let done = b
        .get(&callback[callback.find("/connect/").unwrap()..])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let to = reqwest::Url::parse(done.location()).unwrap();
    assert_eq!(to.path(), format!("/console/stores/{store}"));
    let channel = to
        .query_pairs()
        .find(|(k, _)| k == "channel_id")
        .unwrap()
        .1
        .into_owned();
    let ch = app
        .get(&t, &format!("/v1/stores/{store}/channels/{channel}"))
        .await;
    assert_eq!(ch.body["kind"], "shopify", "{}", ch.body);
    let back = b.get(&to.as_str()[app.address.len()..]).await;
    assert_eq!(back.status, StatusCode::OK);
    assert!(back.body.contains(&channel), "the store page lists it");
}
