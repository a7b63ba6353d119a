//! A hosted onboarding page in Chromium: the client opens the provider's
//! link, chooses Shopify, approves on the simulator's consent screen and
//! lands on the provider's redirect with the channel connected; a hostile
//! provider name stays text.

use serde_json::json;

use crate::Browser;

#[tokio::test]
async fn a_client_connects_shopify_from_a_hosted_page_in_the_browser() {
    let sim = switchyard_sim::spawn(
        switchyard_sim::Channel::Shopify,
        &switchyard_sim::SimOptions {
            seed: 11,
            products: 2,
            orders: 0,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let secret = sim.credentials["api_secret_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = sim.base_url();
    let app = switchyard_testkit::spawn_app_configured(move |c| {
        c.apps.shopify.client_id = switchyard_sim::shopify::oauth::client_id(11);
        c.apps.shopify.client_secret = secret.into();
        c.apps.shopify.shop_url = base;
    })
    .await;
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client 11").await;
    let made = app
        .post(
            &t,
            &format!("/v1/stores/{store}/hosted-pages"),
            &json!({
                "channels": ["shopify", "bolcom"],
                "branding": { "name": "Acme <img src=x onerror=alert(1)> Fulfilment",
                              "primary_color": "#0f766e", "accent_color": "#134e4a", "font": "rounded" },
                "presets": { "settings": { "auto_sync_stock": true } },
                "redirect_url": format!("{}/healthz?from=hosted", app.address),
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let url = made.body["url"].as_str().unwrap().to_owned();

    let mut b = Browser::start("hosted").await;
    b.goto(&url).await;
    let heading = b.text("header.top").await;
    assert!(
        heading.contains("<img src=x onerror=alert(1)>"),
        "{heading}"
    );
    let injected = b
        .client
        .execute(
            "return document.querySelectorAll('img[src=x]').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, json!(0), "the name is text, not markup");
    b.shot("choose").await;
    b.click("ul.kinds a[href$='/shopify']").await;
    b.fill("input[name=shop]", "sim-11").await;
    b.shot("shop").await;
    b.click("form.connect button").await;
    // The simulator's consent screen.
    assert!(
        b.text("h1")
            .await
            .contains("Install app on sim-11.myshopify.com")
    );
    b.shot("consent").await;
    b.click("#approve").await;
    b.at("/healthz").await;
    let landed = b.client.current_url().await.unwrap();
    let q: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(q["from"], "hosted");
    let channel = q["channel_id"].clone();
    let ch = app
        .get(&t, &format!("/v1/stores/{store}/channels/{channel}"))
        .await;
    assert_eq!(ch.body["kind"], "shopify", "{}", ch.body);
    // The page is used: opening the link again says so.
    b.goto(&url).await;
    assert!(b.text("h1").await.contains("Already connected"));
    b.shot("used").await;
    b.close().await;
}

/// Every simulator a hosted page can connect, and a server with every app.
struct Sims {
    shopify: switchyard_sim::RunningSim,
    woo: switchyard_sim::RunningSim,
    etsy: switchyard_sim::RunningSim,
    ebay: switchyard_sim::RunningSim,
    amazon: switchyard_sim::RunningSim,
    bol: switchyard_sim::RunningSim,
}

async fn sim(channel: switchyard_sim::Channel, seed: u64) -> switchyard_sim::RunningSim {
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

#[tokio::test]
async fn every_channel_connects_from_a_hosted_page_with_its_presets_and_a_declined_consent_is_told()
{
    use switchyard_sim::Channel;
    let s = Sims {
        shopify: sim(Channel::Shopify, 21).await,
        woo: sim(Channel::WooCommerce, 22).await,
        etsy: sim(Channel::Etsy, 23).await,
        ebay: sim(Channel::Ebay, 24).await,
        amazon: sim(Channel::Amazon, 25).await,
        bol: sim(Channel::Bolcom, 26).await,
    };
    let c =
        |sim: &switchyard_sim::RunningSim, k: &str| sim.credentials[k].as_str().unwrap().to_owned();
    let (sh_secret, sh_base) = (c(&s.shopify, "api_secret_key"), s.shopify.base_url());
    let (etsy_key, etsy_base) = (c(&s.etsy, "keystring"), s.etsy.base_url());
    let (ebay_id, ebay_secret, ebay_base) = (
        c(&s.ebay, "client_id"),
        c(&s.ebay, "client_secret"),
        s.ebay.base_url(),
    );
    let (amz_id, amz_secret, amz_market, amz_base) = (
        c(&s.amazon, "client_id"),
        c(&s.amazon, "client_secret"),
        c(&s.amazon, "marketplace_id"),
        s.amazon.base_url(),
    );
    let app = switchyard_testkit::spawn_app_configured(move |cfg| {
        let a = &mut cfg.apps;
        a.shopify.client_id = switchyard_sim::shopify::oauth::client_id(21);
        a.shopify.client_secret = sh_secret.into();
        a.shopify.shop_url = sh_base;
        a.etsy.keystring = etsy_key;
        a.etsy.connect_url = format!("{etsy_base}/oauth/connect");
        a.etsy.api_url = etsy_base;
        a.ebay.client_id = ebay_id;
        a.ebay.client_secret = ebay_secret.into();
        a.ebay.runame = "Switchyard-RuName".into();
        a.ebay.auth_url = format!("{ebay_base}/oauth2/authorize");
        a.ebay.api_url = ebay_base;
        a.amazon.application_id = switchyard_sim::amazon::consent::application_id(25);
        a.amazon.client_id = amz_id;
        a.amazon.client_secret = amz_secret.into();
        a.amazon.marketplace_id = amz_market;
        a.amazon.consent_url = format!("{amz_base}/apps/authorize/consent");
        a.amazon.token_url = format!("{amz_base}/auth/o2/token");
        a.amazon.api_url = amz_base;
    })
    .await;
    // What the developers registered with eBay and Amazon.
    let http = reqwest::Client::new();
    http.post(format!("{}/_sim/runames", s.ebay.base_url()))
        .json(&json!({ "runame": "Switchyard-RuName",
                       "accept_url": format!("{}/connect/callback/ebay", app.address),
                       "decline_url": format!("{}/connect/callback/ebay?declined=1", app.address) }))
        .send()
        .await
        .unwrap();
    http.post(format!("{}/_sim/redirect-uris", s.amazon.base_url()))
        .json(&json!({ "uri": format!("{}/connect/callback/amazon", app.address) }))
        .send()
        .await
        .unwrap();
    let t = app.tenant("provider").await;
    let store = app.store(&t, "Client").await;
    let page = |kind: &str| {
        let (app, t, store) = (&app, &t, &store);
        let kind = kind.to_owned();
        async move {
            let r = app
                .post(
                    t,
                    &format!("/v1/stores/{store}/hosted-pages"),
                    &json!({
                        "channels": [kind],
                        "branding": { "name": "Acme Fulfilment", "primary_color": "#0f766e" },
                        "presets": { "settings": { "auto_sync_stock": false }, "stock_rules": { "buffer": 3 } },
                        "redirect_url": format!("{}/healthz?kind={kind}", app.address),
                    }),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["url"].as_str().unwrap().to_owned()
        }
    };

    let mut b = Browser::start("hosted-all").await;
    for kind in ["shopify", "woocommerce", "etsy", "ebay", "amazon", "bolcom"] {
        b.goto(&page(kind).await).await;
        b.click(&format!("ul.kinds a[href$='/{kind}']")).await;
        match kind {
            "shopify" => b.fill("input[name=shop]", "sim-21").await,
            "woocommerce" => b.fill("input[name=store]", &s.woo.base_url()).await,
            "bolcom" => {
                b.fill("input[name=base_url]", &s.bol.base_url()).await;
                b.fill("input[name='cred.client_id']", &c(&s.bol, "client_id"))
                    .await;
                b.fill(
                    "input[name='cred.client_secret']",
                    &c(&s.bol, "client_secret"),
                )
                .await;
            }
            _ => {}
        }
        b.shot(&format!("{kind}-form")).await;
        b.click("form.connect button").await;
        if kind != "bolcom" {
            // The channel's own consent screen.
            b.find("#approve").await;
            b.shot(&format!("{kind}-consent")).await;
            b.click("#approve").await;
        }
        b.at("/healthz").await;
        let landed = b.client.current_url().await.unwrap();
        let q: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
        assert_eq!(q["kind"], kind);
        let channel = q["channel_id"].clone();
        let ch = app
            .get(&t, &format!("/v1/stores/{store}/channels/{channel}"))
            .await;
        assert_eq!(ch.body["kind"], kind, "{}", ch.body);
        assert_eq!(ch.body["stock_rules"]["buffer"], 3, "{kind}: {}", ch.body);
        assert_eq!(ch.body["settings"]["auto_sync_stock"], false, "{kind}");
        let test = app
            .post(
                &t,
                &format!("/v1/stores/{store}/channels/{channel}/test"),
                &json!({}),
            )
            .await;
        assert_eq!(test.body["ok"], true, "{kind}: {}", test.body);
        switchyard_testkit::eventually(&format!("{kind}'s first import"), 30, || async {
            let h = app
                .get(&t, &format!("/v1/stores/{store}/channels/{channel}/health"))
                .await;
            !h.body["import"]["last_success_at"].is_null()
        })
        .await;
    }

    // Declining on the channel's screen: told, and nothing connected.
    b.goto(&page("etsy").await).await;
    b.click("ul.kinds a[href$='/etsy']").await;
    b.click("form.connect button").await;
    b.click("#deny").await;
    // Back on their own page, with Etsy's words above a form to try again.
    assert!(b.text("h1").await.contains("Connect Etsy"));
    assert!(
        b.text("div[role=alert]")
            .await
            .contains("The user denied the request")
    );
    b.find("form.connect button").await;
    b.shot("etsy-declined").await;
    let channels = app.get(&t, &format!("/v1/stores/{store}/channels")).await;
    assert_eq!(channels.body["items"].as_array().unwrap().len(), 6);
    b.close().await;
}
