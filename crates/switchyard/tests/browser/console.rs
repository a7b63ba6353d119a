//! Signing in, tokens and forms, as a person does them in Chromium.

use switchyard_domain::user::Role;
use switchyard_testkit::{TestApp, spawn_api_only};

use crate::Browser;

/// A user's set-password link, in full.
pub async fn invited(app: &TestApp, account: &str, email: &str, role: Role) -> String {
    let path = switchyard_testkit::console::invited(app, account, email, role).await;
    format!("{}{path}", app.address)
}

pub async fn set_password(b: &mut Browser, link: &str, password: &str) {
    b.goto(link).await;
    b.shot("set-password").await;
    b.fill("input[name=password]", password).await;
    b.fill("input[name=confirm]", password).await;
    b.click("button[type=submit]").await;
    b.left("/console/set-password").await;
}

#[tokio::test]
async fn a_first_owner_signs_in_from_the_link_and_makes_and_revokes_a_token() {
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    app.post(
        &owner,
        "/v1/stores",
        &serde_json::json!({ "name": "Acme EU" }),
    )
    .await;
    let link = invited(&app, "acme", "owner@acme.test", Role::Owner).await;
    let mut b = Browser::start("first-sign-in").await;

    set_password(&mut b, &link, "a long password").await;
    b.at("/console").await;
    assert!(b.text("main").await.contains("Acme EU"));
    assert!(b.text("header").await.contains("owner@acme.test"));
    b.shot("overview").await;

    // Profile › Settings: make a token, see it once, use it, revoke it.
    b.click("a[href='/console/settings']").await;
    b.at("/console/settings").await;
    b.fill("input[name=name]", "ERP connector").await;
    b.click("form.token-form button[type=submit]").await;
    let secret = b
        .find("input.secret")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(secret.starts_with("sy_"), "{secret}");
    b.shot("token-created").await;
    let stores = reqwest::Client::new()
        .get(format!("{}/v1/stores", app.address))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(stores.status(), 200);

    // Its own row's button (the account's first token, made for the
    // API call above, stays).
    b.client
        .find(fantoccini::Locator::XPath(
            "//tr[td[text()='ERP connector']]//button",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.at("/console/settings").await;
    let row = b
        .client
        .find(fantoccini::Locator::XPath(
            "//tr[td[text()='ERP connector']]",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("revoked"), "{row}");
    b.shot("token-revoked").await;
    b.client
        .execute(
            "document.querySelector('table.users').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    b.shot("users").await;
    let refused = reqwest::Client::new()
        .get(format!("{}/v1/stores", app.address))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Sign out, then a wrong password, then the right one.
    b.click("form.sign-out button").await;
    b.at("/console/sign-in").await;
    b.fill("input[name=email]", "owner@acme.test").await;
    b.fill("input[name=password]", "not the password").await;
    b.click("form.card button").await;
    assert!(b.text("p.error").await.contains("Wrong email or password."));
    b.shot("wrong-password").await;
    b.fill("input[name=password]", "a long password").await;
    b.click("form.card button").await;
    b.at("/console").await;
    b.close().await;
}

#[tokio::test]
async fn a_form_posted_without_its_csrf_token_is_refused() {
    let app = spawn_api_only().await;
    let link = invited(&app, "acme", "owner@acme.test", Role::Owner).await;
    let mut b = Browser::start("csrf").await;
    set_password(&mut b, &link, "a long password").await;
    b.goto(&format!("{}/console/settings", app.address)).await;
    // What a forged form amounts to: the same post without the token.
    b.client
        .execute(
            "document.querySelector('form.token-form input[name=csrf]').remove();",
            vec![],
        )
        .await
        .unwrap();
    b.fill("input[name=name]", "forged").await;
    b.click("form.token-form button[type=submit]").await;
    b.at("/console/settings/tokens").await;
    assert!(b.text("h1").await.contains("Form refused"));
    b.shot("form-refused").await;
    let tokens = app
        .storage
        .list_tokens(
            &app.storage.ensure_account("acme").await.unwrap().id,
            &switchyard_storage::PageRequest::first(10),
        )
        .await
        .unwrap();
    assert!(tokens.items.is_empty(), "nothing was made");
    b.close().await;
}

#[tokio::test]
async fn a_staff_user_limited_to_one_store_cannot_open_another() {
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let eu = app
        .post(
            &owner,
            "/v1/stores",
            &serde_json::json!({ "name": "Acme EU" }),
        )
        .await;
    let us = app
        .post(
            &owner,
            "/v1/stores",
            &serde_json::json!({ "name": "Acme US" }),
        )
        .await;
    let (eu, us) = (
        eu.body["id"].as_str().unwrap(),
        us.body["id"].as_str().unwrap(),
    );
    let link = format!(
        "{}{}",
        app.address,
        switchyard_testkit::console::invited_to(
            &app,
            "acme",
            "sam@acme.test",
            Role::Staff,
            Some(vec![eu])
        )
        .await
    );
    let mut b = Browser::start("staff").await;
    set_password(&mut b, &link, "staff password").await;
    let overview = b.text("main").await;
    assert!(
        overview.contains("Acme EU") && !overview.contains("Acme US"),
        "{overview}"
    );
    b.shot("overview").await;

    b.click("section.store-panel h2 a").await;
    b.at(&format!("/console/stores/{eu}")).await;
    assert!(b.text("h1").await.contains("Acme EU"));
    b.shot("store").await;

    b.goto(&format!("{}/console/stores/{us}", app.address))
        .await;
    assert_eq!(b.text("h1").await, "Not found");
    b.shot("other-store").await;
    b.close().await;
}

#[tokio::test]
async fn an_imported_order_is_listed_newest_first_and_opens_with_its_journal() {
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
            seed: 5,
            products: 4,
            orders: 0,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let sku = sim.shown_stock().await.unwrap().into_keys().next().unwrap();
    let mut placed = Vec::new();
    for _ in 0..2 {
        let body = serde_json::json!({ "lines": [{ "sku": sku, "quantity": 1 }] });
        placed.push(sim.place_order(&body).await.unwrap());
    }
    let channel = app
        .channel(
            &owner,
            &store,
            "shopify",
            &sim.base_url(),
            serde_json::json!({ "access_token": sim.credentials["access_token"],
                            "api_secret_key": sim.credentials["api_secret_key"] }),
            &serde_json::json!({ "cadence_secs": 10 }),
        )
        .await;
    switchyard_testkit::eventually("both orders imported", 30, || async {
        app.get(&owner, "/v1/orders").await.body["items"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    })
    .await;
    let orders = app.get(&owner, "/v1/orders").await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    let newest = orders
        .iter()
        .max_by_key(|o| o["id"].as_str().unwrap().to_owned())
        .unwrap();

    let link = invited(&app, "acme", "owner@acme.test", Role::Owner).await;
    let mut b = Browser::start("orders").await;
    set_password(&mut b, &link, "a long password").await;
    b.click("a[href='/console/orders']").await;
    let rows = b.count("table.orders tbody tr", 2).await;
    let first = rows[0].attr("data-order").await.unwrap().unwrap();
    assert_eq!(first, newest["id"].as_str().unwrap(), "newest first");
    b.shot("list").await;

    // A third order arrives while the list is open: it appears on top
    // without a reload (the live feed and the page's script).
    let marker = b
        .client
        .execute("window.__sameDocument = true; return true;", vec![])
        .await
        .unwrap();
    assert_eq!(marker, serde_json::json!(true));
    let body = serde_json::json!({ "lines": [{ "sku": sku, "quantity": 1 }] });
    sim.place_order(&body).await.unwrap();
    let now = app
        .post(
            &owner,
            &format!("/v1/stores/{store}/channels/{channel}/import"),
            &serde_json::json!({}),
        )
        .await;
    assert!(now.status.is_success(), "{}", now.body);
    let mut rows = 0;
    for _ in 0..150 {
        rows = b
            .client
            .find_all(fantoccini::Locator::Css("table.orders tbody tr"))
            .await
            .unwrap()
            .len();
        if rows == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(rows, 3, "the new order is listed within 15 s");
    let same = b
        .client
        .execute("return window.__sameDocument === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same, serde_json::json!(true), "without a reload");
    b.shot("list-live").await;

    // Filters: a state with no order, then search by number.
    b.find("select[name=state]")
        .await
        .select_by_value("cancelled")
        .await
        .unwrap();
    b.click("form.filters button").await;
    assert_eq!(b.text("p.empty").await, "No orders match.");
    b.goto(&format!("{}/console/orders", app.address)).await;
    b.fill("input[name=q]", newest["number"].as_str().unwrap())
        .await;
    b.click("form.filters button").await;
    b.count("table.orders tbody tr", 1).await;

    b.click("table.orders tbody tr a").await;
    b.at(&format!(
        "/console/orders/{}",
        newest["id"].as_str().unwrap()
    ))
    .await;
    assert!(
        b.text("h1")
            .await
            .contains(newest["number"].as_str().unwrap())
    );
    assert!(b.text("table.lines").await.contains(&sku));
    assert!(b.text("ol.timeline").await.contains("order.created"));
    b.shot("order").await;

    // Hold it, release it, then ship it and see the channel confirm.
    b.fill("input[name=reason]", "address check").await;
    b.click("div.actions button.secondary").await;
    assert_eq!(b.text("p.notice").await, "On hold: address check");
    b.click("div.actions button.secondary").await;
    assert_eq!(b.text("span.state").await, "open");
    b.fill("form.ship input[name=tracking]", "RM123456785GB")
        .await;
    b.click("form.ship button").await;
    let fulfilled = b.text("table.fulfilments").await;
    assert!(
        fulfilled.contains("RM123456785GB") && fulfilled.contains("royal_mail"),
        "{fulfilled}"
    );
    let mut synced = false;
    for _ in 0..100 {
        if b.text("td.sync").await.contains("synced") {
            synced = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        b.client.refresh().await.unwrap();
    }
    assert!(synced, "the shipment reached Shopify within 10 s");
    assert_eq!(b.text("span.state").await, "fulfilled");
    b.shot("shipped").await;

    let order_url = b.client.current_url().await.unwrap().to_string();
    // The overview counts today's three orders and draws them.
    b.click("header.top a[href='/console']").await;
    let today = b.text("section.store-panel div.figure").await;
    assert!(today.starts_with("Orders today\n3"), "{today}");
    let chart = b
        .find("svg.orders-chart")
        .await
        .attr("aria-label")
        .await
        .unwrap()
        .unwrap();
    assert!(chart.starts_with("3 orders in the last 14 days"), "{chart}");
    b.count("svg.orders-chart rect.bar", 1).await;
    b.shot("overview").await;

    // Another account's owner finds neither the order nor it in the list.
    b.click("form.sign-out button").await;
    let other = invited(&app, "globex", "gus@globex.test", Role::Owner).await;
    set_password(&mut b, &other, "gus password!").await;
    b.goto(&order_url).await;
    assert_eq!(b.text("h1").await, "Not found");
    b.goto(&format!("{}/console/orders", app.address)).await;
    assert_eq!(b.text("p.empty").await, "No orders match.");
    b.close().await;
}
