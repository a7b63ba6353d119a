//! Channels in the console: connect one with its kind's form, test its
//! credentials, change its settings, and deal with an import error.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchyard_domain::user::Role;

use crate::Browser;
use crate::console::{invited, set_password};

#[tokio::test]
async fn a_shopify_simulator_channel_is_connected_tested_and_set_up_from_the_browser() {
    let app = switchyard_testkit::spawn_app_with(switchyard_testkit::engine_config()).await;
    let owner = app.tenant("acme").await;
    let store = app
        .post(
            &owner,
            "/v1/stores",
            &serde_json::json!({ "name": "Acme EU" }),
        )
        .await;
    let store = store.body["id"].as_str().unwrap().to_owned();
    let sim = switchyard_sim::spawn(
        switchyard_sim::Channel::Shopify,
        &switchyard_sim::SimOptions {
            seed: 9,
            products: 3,
            orders: 0,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let token = sim.credentials["access_token"].as_str().unwrap().to_owned();
    let app_secret = sim.credentials["api_secret_key"]
        .as_str()
        .unwrap()
        .to_owned();

    let link = invited(&app, "acme", "owner@acme.test", Role::Owner).await;
    let mut b = Browser::start("channels").await;
    set_password(&mut b, &link, "a long password").await;
    b.click(&format!("a[href='/console/stores/{store}']")).await;
    b.click(&format!("a[href='/console/stores/{store}/channels/new']"))
        .await;
    b.find("select[name=kind]")
        .await
        .select_by_value("shopify")
        .await
        .unwrap();
    b.click("form.filters button").await;
    // Shopify's own field names, the secret ones as password fields.
    let kind = b
        .find("input[name='cred.access_token']")
        .await
        .attr("type")
        .await
        .unwrap();
    assert_eq!(kind.as_deref(), Some("password"));
    b.fill("form.connect input[name=name]", "Acme Shopify")
        .await;
    b.fill("form.connect input[name=base_url]", &sim.base_url())
        .await;
    b.fill("input[name='cred.access_token']", &token).await;
    b.fill("input[name='cred.api_secret_key']", &app_secret)
        .await;
    b.shot("connect").await;
    b.click("form.connect button").await;
    assert!(b.text("p.created").await.contains("Channel connected"));
    let path = b.path().await;
    let channel = path.rsplit('/').next().unwrap().to_owned();
    assert!(channel.starts_with("ch_"), "{path}");
    // The secret is never shown again.
    let page = b.client.source().await.unwrap();
    assert!(!page.contains(&token) && !page.contains(&app_secret));

    b.click("div.actions form[action$='/test'] button").await;
    let test = b.text("div.test").await;
    assert!(test.starts_with("Test passed"), "{test}");
    b.shot("test-passed").await;

    // Wrong credentials: the channel's own words, and a hint.
    b.fill(
        "form.credentials input[name='cred.access_token']",
        "shpat_wrong",
    )
    .await;
    b.click("form.credentials button").await;
    assert!(b.text("p.created").await.contains("Credentials replaced"));
    b.click("div.actions form[action$='/test'] button").await;
    let test = b.text("div.test").await;
    assert!(test.starts_with("Test failed"), "{test}");
    assert!(test.contains("refused the credentials"), "{test}");
    b.shot("test-failed").await;
    b.fill("form.credentials input[name='cred.access_token']", &token)
        .await;
    b.fill(
        "form.credentials input[name='cred.api_secret_key']",
        &app_secret,
    )
    .await;
    b.click("form.credentials button").await;
    b.click("div.actions form[action$='/test'] button").await;
    assert!(b.text("div.test").await.starts_with("Test passed"));

    // Settings: a refused cadence says why and changes nothing; then the
    // switches, a rule and a filter are saved, as the API shows.
    b.click("input[name=download_products]").await;
    b.click("input[name=add_to_main_products]").await;
    b.click("form.settings button[type=submit]").await;
    let refused = b.text("p.error").await;
    assert!(
        refused.contains("settings.add_to_main_products")
            && refused.contains("needs download_products"),
        "{refused}"
    );
    b.shot("settings-refused").await;
    let checked = b
        .find("input[name=download_products]")
        .await
        .prop("checked")
        .await
        .unwrap();
    assert_eq!(checked.as_deref(), Some("true"), "nothing changed");
    b.fill("input[name=cadence_secs]", "60").await;
    b.click("input[name=auto_sync_stock]").await;
    b.fill("input[name=buffer]", "2").await;
    b.fill("input[name=countries_deny]", "US, CA").await;
    b.click("form.settings button[type=submit]").await;
    assert_eq!(b.text("p.created").await, "Settings saved.");
    let api = app
        .get(&owner, &format!("/v1/stores/{store}/channels/{channel}"))
        .await
        .body;
    assert_eq!(api["settings"]["cadence_secs"], 60, "{api}");
    assert_eq!(api["settings"]["auto_sync_stock"], true, "{api}");
    assert_eq!(api["stock_rules"]["buffer"], 2, "{api}");
    assert_eq!(
        api["settings"]["order_filters"]["countries"]["deny"],
        serde_json::json!(["US", "CA"]),
        "{api}"
    );

    // An order the channel cannot deliver is listed; handled manually it
    // leaves the list.
    let body = br#"{"id": 987654321}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).unwrap();
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let sent = reqwest::Client::new()
        .post(format!("{}/v1/inbound/{channel}", app.address))
        .header("x-shopify-hmac-sha256", signature)
        .header("x-shopify-topic", "orders/create")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let mut listed = false;
    for _ in 0..100 {
        b.client.refresh().await.unwrap();
        if b.text("main").await.contains("987654321") {
            listed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(listed, "the import error is listed within 10 s");
    b.client
        .execute(
            "document.querySelector('table.errors').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    b.shot("import-error").await;
    b.click("table.errors form[action$='/handle'] button").await;
    assert_eq!(b.text("p.created").await, "Marked as handled manually.");
    assert!(b.text("main").await.contains("No open import errors."));
    b.count("table.errors", 0).await;
    b.close().await;
}
