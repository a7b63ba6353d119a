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
        c.apps.shopify.client_secret = secret;
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
