//! Signing in, tokens and forms, as a person does them in Chromium.

use switchyard_api::console::{Links, invite};
use switchyard_domain::user::Role;
use switchyard_testkit::{TestApp, spawn_api_only};

use crate::Browser;

async fn invited(app: &TestApp, account: &str, email: &str, role: Role) -> String {
    let acc = app.storage.ensure_account(account).await.unwrap();
    let (_, link) = invite(
        app.storage.as_ref(),
        &Links::new(&app.address),
        &acc.id,
        email,
        role,
        None,
    )
    .await
    .unwrap();
    link
}

async fn set_password(b: &mut Browser, link: &str, password: &str) {
    b.goto(link).await;
    b.shot("set-password").await;
    b.fill("input[name=password]", password).await;
    b.fill("input[name=confirm]", password).await;
    b.click("button[type=submit]").await;
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
    assert_eq!(b.path().await, "/console");
    assert!(b.text("main").await.contains("Acme EU"));
    assert!(b.text("header").await.contains("owner@acme.test"));
    b.shot("overview").await;

    // Profile › Settings: make a token, see it once, use it, revoke it.
    b.click("a[href='/console/settings']").await;
    assert_eq!(b.path().await, "/console/settings");
    b.fill("input[name=name]", "ERP connector").await;
    b.click("form.card button[type=submit]").await;
    let secret = b
        .client
        .find(fantoccini::Locator::Css("input.secret"))
        .await
        .unwrap()
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
    assert_eq!(b.path().await, "/console/settings");
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
    let refused = reqwest::Client::new()
        .get(format!("{}/v1/stores", app.address))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Sign out, then a wrong password, then the right one.
    b.click("form.sign-out button").await;
    assert_eq!(b.path().await, "/console/sign-in");
    b.fill("input[name=email]", "owner@acme.test").await;
    b.fill("input[name=password]", "not the password").await;
    b.click("form.card button").await;
    assert!(b.text("p.error").await.contains("Wrong email or password."));
    b.shot("wrong-password").await;
    b.fill("input[name=password]", "a long password").await;
    b.click("form.card button").await;
    assert_eq!(b.path().await, "/console");
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
            "document.querySelector('form.card input[name=csrf]').remove();",
            vec![],
        )
        .await
        .unwrap();
    b.fill("input[name=name]", "forged").await;
    b.click("form.card button[type=submit]").await;
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
    let acc = app.storage.ensure_account("acme").await.unwrap();
    let (_, link) = invite(
        app.storage.as_ref(),
        &Links::new(&app.address),
        &acc.id,
        "sam@acme.test",
        Role::Staff,
        Some(vec![switchyard_domain::ids::StoreId::parse(eu).unwrap()]),
    )
    .await
    .unwrap();
    let mut b = Browser::start("staff").await;
    set_password(&mut b, &link, "staff password").await;
    let overview = b.text("main").await;
    assert!(
        overview.contains("Acme EU") && !overview.contains("Acme US"),
        "{overview}"
    );
    b.shot("overview").await;

    b.click("table.stores a").await;
    assert_eq!(b.path().await, format!("/console/stores/{eu}"));
    assert!(b.text("h1").await.contains("Acme EU"));
    b.shot("store").await;

    b.goto(&format!("{}/console/stores/{us}", app.address))
        .await;
    assert_eq!(b.text("h1").await, "Not found");
    b.shot("other-store").await;
    b.close().await;
}
