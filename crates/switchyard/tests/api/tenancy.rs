//! Tenant isolation, for every route in the OpenAPI document: ids of another
//! account (or, for a store-scoped token, of another store) answer 404 and
//! never return or change data. New routes are covered automatically; a new
//! route with a request body fails here until it has a fixture body.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchyard_domain::order::OrderState;
use switchyard_storage::{NewOrder, NewOrderLine};
use switchyard_testkit::{Tenant, TestApp, spawn_api_only};

/// Ids of one tenant's resources, to substitute into path templates.
struct Victim {
    store: String,
    channel: String,
    order: String,
    fulfilment: String,
    sku: &'static str,
    token_id: String,
    webhook: String,
    message: String,
    plugin: String,
    page: String,
    invoice: String,
    accounting: String,
}

async fn populate(
    app: &TestApp,
    t: &Tenant,
    account: &str,
    store_name: &str,
) -> (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
) {
    let s = app.store(t, store_name).await;
    app.product(t, &s, "P").await;
    app.product(t, &s, "C").await;
    let r = app
        .post(
            t,
            &format!("/v1/stores/{s}/products"),
            &json!({ "sku": "K", "title": "K", "components": [{ "sku": "C", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    app.put(
        t,
        &format!("/v1/stores/{s}/stock/P"),
        &json!({ "quantity": 11 }),
    )
    .await;
    let ch = app
        .post(
            t,
            &format!("/v1/stores/{s}/channels"),
            &json!({ "name": "Shop", "kind": "shopify", "credentials": { "access_token": "x" } }),
        )
        .await;
    assert_eq!(ch.status, StatusCode::CREATED, "{}", ch.body);
    let channel = ch.body["id"].as_str().unwrap().to_owned();
    // An order, as import would store it.
    let acc = app.storage.ensure_account(account).await.unwrap().id;
    let order = app
        .storage
        .upsert_order(
            &acc,
            &s.parse().unwrap(),
            NewOrder {
                channel_id: channel.parse().unwrap(),
                channel_order_id: format!("{store_name}-1"),
                state: OrderState::Open,
                lines: vec![NewOrderLine {
                    sku: switchyard_domain::values::Sku::parse("P").unwrap(),
                    open_quantity: 1,
                }],
            },
        )
        .await
        .unwrap();
    // A shipment of it, as the API or a back office would record it.
    let fulfilment = app
        .storage
        .create_fulfilment(
            &acc,
            &order.id,
            switchyard_storage::NewFulfilment {
                lines: None,
                tracking: vec![switchyard_domain::fulfilment::Tracking {
                    number: "1Z999AA10123456784".into(),
                    url: None,
                }],
                carrier: None,
                service: None,
                shipped_at: chrono::Utc::now(),
                source: switchyard_domain::fulfilment::FulfilmentSource::Api,
                external_ref: None,
            },
        )
        .await
        .unwrap();
    // A webhook subscription, disabled (its URL can never resolve either:
    // nothing leaves this machine) with a test message queued.
    let wh = app
        .post(
            t,
            &format!("/v1/stores/{s}/webhooks"),
            &json!({ "url": "https://hooks.example.invalid/in", "enabled": false }),
        )
        .await;
    assert_eq!(wh.status, StatusCode::CREATED, "{}", wh.body);
    let webhook = wh.body["id"].as_str().unwrap().to_owned();
    let test = app
        .post(t, &format!("/v1/webhooks/{webhook}/test"), &json!({}))
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    let message = test.body["message_id"].as_str().unwrap().to_owned();
    // A plugin, disabled, at an address that can never resolve.
    let pl = app
        .post(
            t,
            &format!("/v1/stores/{s}/plugins"),
            &json!({ "name": "3PL", "url": "https://3pl.example.invalid/orders", "enabled": false }),
        )
        .await;
    assert_eq!(pl.status, StatusCode::CREATED, "{}", pl.body);
    let plugin = pl.body["id"].as_str().unwrap().to_owned();
    // A hosted onboarding page.
    let hp = app
        .post(
            t,
            &format!("/v1/stores/{s}/hosted-pages"),
            &json!({ "channels": ["bolcom"], "branding": { "name": "Provider" } }),
        )
        .await;
    assert_eq!(hp.status, StatusCode::CREATED, "{}", hp.body);
    let page = hp.body["id"].as_str().unwrap().to_owned();
    (
        s,
        channel,
        order.id.to_string(),
        fulfilment.id.to_string(),
        webhook,
        message,
        plugin,
        page,
    )
}

fn fixture_body(method: &str, template: &str, v: &Victim) -> Option<Value> {
    Some(match (method, template) {
        ("post", "/v1/tokens") => json!({ "name": "stolen", "store_id": v.store }),
        ("post", "/v1/inbound/{channel_id}") => json!({ "id": 1, "topic": "orders/create" }),
        ("post", "/v1/stores") => json!({ "name": "mine" }),
        ("patch", "/v1/stores/{store_id}") => json!({ "name": "hijacked" }),
        ("post", "/v1/stores/{store_id}/channels") => json!({ "name": "evil", "kind": "shopify" }),
        ("patch", "/v1/stores/{store_id}/channels/{channel_id}") => {
            json!({ "name": "evil", "stock_rules": { "fixed": 999 } })
        }
        ("post", "/v1/stores/{store_id}/products") => json!({ "sku": "NEW", "title": "evil" }),
        ("patch", "/v1/stores/{store_id}/products/{sku}") => json!({ "title": "evil" }),
        ("post", "/v1/stores/{store_id}/stock") => {
            json!({ "items": [{ "sku": "P", "quantity": 999 }] })
        }
        ("put", "/v1/stores/{store_id}/stock/{sku}") => json!({ "quantity": 999 }),
        ("post", "/v1/stores/{store_id}/stock/{sku}/adjust") => json!({ "delta": 999 }),
        ("post", "/v1/stores/{store_id}/channels/{channel_id}/backfill") => {
            json!({ "from": "2026-01-01T00:00:00Z" })
        }
        ("put", "/v1/stores/{store_id}/channels/{channel_id}/sku-mappings/{channel_sku}") => {
            json!({ "sku": "P" })
        }
        ("post", "/v1/orders/{order_id}/hold") => json!({ "reason": "evil" }),
        ("post", "/v1/orders/{order_id}/cancel") => json!({ "reason": "evil" }),
        ("post", "/v1/orders/{order_id}/manual") => json!({ "manual": true }),
        ("post", "/v1/orders/{order_id}/fulfilments") => {
            json!({ "tracking": [{ "number": "EVIL1" }] })
        }
        ("patch", "/v1/fulfilments/{fulfilment_id}") => {
            json!({ "tracking": [{ "number": "EVIL2" }] })
        }
        ("put", "/v1/stores/{store_id}/carriers") => {
            json!({ "rules": [{ "pattern": "*", "carrier": "ups" }] })
        }
        ("put", "/v1/stores/{store_id}/back-office") => json!({ "channel_id": v.channel }),
        ("post", "/v1/stores/{store_id}/webhooks") => {
            json!({ "url": "https://evil.example.invalid/", "enabled": false })
        }
        ("patch", "/v1/webhooks/{webhook_id}") => json!({ "description": "evil" }),
        ("put", "/v1/stores/{store_id}/plugin-rules") => json!({ "rules": [
            { "name": "steal", "then": { "action": "send_to_plugin", "plugin_id": "evil" } } ] }),
        ("post", "/v1/stores/{store_id}/plugin-rules/dry-run") => json!({}),
        ("post", "/v1/stores/{store_id}/hosted-pages") => {
            json!({ "channels": ["bolcom"], "branding": { "name": "evil" } })
        }
        ("post", "/v1/stores/{store_id}/plugins") => {
            json!({ "name": "evil", "url": "https://evil.example.invalid/", "enabled": false })
        }
        ("patch", "/v1/plugins/{plugin_id}") => json!({ "name": "evil" }),
        ("post", "/v1/plugins/{plugin_id}/tokens") => json!({ "name": "stolen" }),
        ("post", "/v1/plugins/{plugin_id}/orders/{order_id}/fulfilments") => {
            json!({ "tracking": [{ "number": "EVIL3" }] })
        }
        ("put", "/v1/plugins/{plugin_id}/stock") => {
            json!({ "items": [{ "sku": "P", "quantity": 999 }] })
        }
        ("put", "/v1/stores/{store_id}/invoice-settings") => json!({ "prefix": "EVIL-" }),
        ("post", "/v1/invoices/{invoice_id}/credit-notes") => json!({ "reason": "evil" }),
        ("post", "/v1/stores/{store_id}/accounting") => json!({ "kind": "sage",
            "credentials": { "client_id": "c", "client_secret": "s", "refresh_token": "r" },
            "settings": { "sales_account": "4000" } }),
        ("patch", "/v1/accounting/{accounting_id}") => json!({ "name": "evil" }),
        ("post", "/v1/webhooks/{webhook_id}/replay") => {
            json!({ "since": "2020-01-01T00:00:00Z", "only_failed": false })
        }
        _ => return None,
    })
}

fn fill(template: &str, v: &Victim) -> String {
    template
        .replace("{store_id}", &v.store)
        .replace("{channel_id}", &v.channel)
        .replace("{sku}", v.sku)
        .replace("{token_id}", &v.token_id)
        .replace("{order_id}", &v.order)
        .replace("{fulfilment_id}", &v.fulfilment)
        .replace("{channel_sku}", v.sku)
        .replace("{job_id}", "1")
        .replace("{error_id}", "1")
        .replace("{webhook_id}", &v.webhook)
        .replace("{message_id}", &v.message)
        .replace("{plugin_id}", &v.plugin)
        .replace("{page_id}", &v.page)
        .replace("{invoice_id}", &v.invoice)
        .replace("{accounting_id}", &v.accounting)
}

/// Everything a tenant can see of its data, to compare before and after.
async fn fingerprint(app: &TestApp, t: &Tenant, v: &Victim) -> Vec<Value> {
    let mut out = Vec::new();
    for p in [
        format!("/v1/stores/{}", v.store),
        format!("/v1/stores/{}/products", v.store),
        format!("/v1/stores/{}/channels", v.store),
        format!("/v1/stores/{}/stock/P/explain", v.store),
        format!("/v1/stores/{}/journal?limit=1000", v.store),
        format!("/v1/stores/{}/channels/{}/listings", v.store, v.channel),
        format!("/v1/stores/{}/channels/{}/sku-mappings", v.store, v.channel),
        format!("/v1/orders/{}", v.order),
        format!("/v1/orders/{}/fulfilments", v.order),
        format!("/v1/fulfilments/{}", v.fulfilment),
        format!("/v1/stores/{}/carriers", v.store),
        format!("/v1/stores/{}/back-office", v.store),
        format!("/v1/stores/{}/back-office/orders", v.store),
        format!("/v1/stores/{}/webhooks", v.store),
        format!("/v1/stores/{}/plugin-rules", v.store),
        format!("/v1/webhooks/{}", v.webhook),
        format!("/v1/webhooks/{}/secret", v.webhook),
        format!("/v1/webhooks/{}/messages", v.webhook),
        format!("/v1/webhooks/{}/attempts", v.webhook),
        format!("/v1/stores/{}/plugins", v.store),
        format!("/v1/plugins/{}", v.plugin),
        format!("/v1/plugins/{}/secret", v.plugin),
        format!("/v1/plugins/{}/orders", v.plugin),
        format!("/v1/stores/{}/hosted-pages", v.store),
        format!("/v1/stores/{}/hosted-pages/{}", v.store, v.page),
        format!("/v1/stores/{}/invoice-settings", v.store),
        format!("/v1/stores/{}/invoices", v.store),
        format!("/v1/invoices/{}", v.invoice),
        format!("/v1/stores/{}/accounting", v.store),
        format!("/v1/accounting/{}", v.accounting),
        format!("/v1/accounting/{}/syncs", v.accounting),
        "/v1/tokens".to_owned(),
    ] {
        let mut r = app.get(t, &p).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
        // Using a token records its last use; that is the attacker's own token, not victim data.
        if let Some(items) = r.body.get_mut("items").and_then(Value::as_array_mut) {
            for it in items {
                if let Some(o) = it.as_object_mut() {
                    o.remove("last_used_at");
                }
            }
        }
        out.push(r.body);
    }
    out
}

async fn walk(
    app: &TestApp,
    attacker: &Tenant,
    victim: &Victim,
    owner: &Tenant,
    expect_for_unscoped: &[StatusCode],
) {
    let doc = app
        .client
        .get(format!("{}/v1/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    let doc: Value = doc.json().await.unwrap();
    let before = fingerprint(app, owner, victim).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10, "the document lists the routes");
    let mut checked = 0;
    for (template, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let body = if op.get("requestBody").is_some() {
                Some(fixture_body(method, template, victim).unwrap_or_else(|| {
                    panic!("add a tenancy fixture body for {method} {template}")
                }))
            } else {
                None
            };
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app
                .request(attacker, m, &fill(template, victim), body.as_ref())
                .await;
            let text = r.body.to_string();
            // Routes without a bearer token (channel notifications, the
            // operator's probes and metrics) know no tenant: a victim's
            // channel id without its signature gets nothing done.
            let public = op["security"] == json!([{}]);
            if public && template.contains('{') {
                assert!(
                    [
                        StatusCode::UNAUTHORIZED,
                        StatusCode::NOT_FOUND,
                        StatusCode::UNPROCESSABLE_ENTITY
                    ]
                    .contains(&r.status),
                    "{method} {template}: {} {text}",
                    r.status
                );
            } else if public {
                assert!(
                    r.status.is_success() || r.status == StatusCode::SERVICE_UNAVAILABLE,
                    "{method} {template}: {} {text}",
                    r.status
                );
            } else if template.contains("{store_id}") {
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{method} {template} reached another tenant: {text}"
                );
            } else if template.contains('{') {
                assert!(
                    expect_for_unscoped.contains(&r.status) || r.status == StatusCode::NOT_FOUND,
                    "{method} {template}: {} {text}",
                    r.status
                );
            } else {
                // Collection routes of the caller's own: they must not show the victim's data.
                assert!(
                    r.status.is_success()
                        || expect_for_unscoped.contains(&r.status)
                        || r.status == StatusCode::NOT_FOUND,
                    "{method} {template}: {} {text}",
                    r.status
                );
            }
            for id in [
                &victim.store,
                &victim.channel,
                &victim.token_id,
                &victim.order,
                &victim.webhook,
                &victim.plugin,
            ] {
                assert!(
                    !text.contains(id.as_str())
                        || r.status == StatusCode::NOT_FOUND && !text.contains("\"items\""),
                    "{method} {template} leaked {id}: {text}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "walked {checked} operations");
    let after = fingerprint(app, owner, victim).await;
    assert_eq!(before, after, "the victim's data did not change");
}

#[tokio::test]
async fn no_route_reaches_another_accounts_data() {
    // No workers: the fingerprint must not move in the background.
    let app = spawn_api_only().await;
    let alice = app.tenant("alice").await;
    let bob = app.tenant("bob").await;
    populate(&app, &alice, "alice", "alice shop").await;
    let victim = victim_in(&app, &bob, "bob", "bob shop").await;
    walk(&app, &alice, &victim, &bob, &[]).await;
}

#[tokio::test]
async fn a_store_scoped_token_reaches_no_other_store() {
    // No workers: the fingerprint must not move in the background.
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let (mine, ..) = populate(&app, &owner, "acme", "mine").await;
    let victim = victim_in(&app, &owner, "acme", "other").await;
    let scoped = app.store_tenant("acme", &mine).await;
    // Account-wide routes answer 403 to a scoped token.
    walk(&app, &scoped, &victim, &owner, &[StatusCode::FORBIDDEN]).await;
}

/// A store of `account` with one of everything, and the ids to attack it
/// with (`owner` holds the account's first token).
async fn victim_in(app: &TestApp, owner: &Tenant, account: &str, store_name: &str) -> Victim {
    let (store, channel, order, fulfilment, webhook, message, plugin, page) =
        populate(app, owner, account, store_name).await;
    let token_id = app.get(owner, "/v1/tokens").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // An invoice of the order, as the API or automatic invoicing issues it.
    let acc = app.storage.ensure_account(account).await.unwrap().id;
    let document: switchyard_domain::invoice::Document = serde_json::from_value(json!({
        "seller": { "name": "Victim Ltd" }, "buyer": { "billing_address": {}, "shipping_address": {} },
        "order_number": "#1", "order_date": "2026-12-01T00:00:00Z", "currency": "EUR", "minor_digits": 2,
        "rounding": "line", "prices_include_tax": false, "tax_source": "channel",
        "lines": [], "taxes": [], "net": 0, "tax": 0, "gross": 0, "channel_total": 0,
    }))
    .unwrap();
    let invoice = app
        .storage
        .issue_document(
            &acc,
            switchyard_storage::NewDocument {
                id: switchyard_domain::ids::InvoiceId::generate(),
                order_id: order.parse().unwrap(),
                kind: switchyard_domain::invoice::DocumentKind::Invoice,
                credits: None,
                completes: false,
                document,
                source: switchyard_storage::DocumentSource::Api,
                issued_at: chrono::Utc::now(),
            },
        )
        .await
        .unwrap()
        .id
        .to_string();
    // An accounting connection, at an address that can never resolve.
    let acct = app
        .post(
            owner,
            &format!("/v1/stores/{store}/accounting"),
            &json!({ "kind": "xero", "base_url": "https://books.example.invalid",
                "credentials": { "client_id": "c", "client_secret": "s", "refresh_token": "r" },
                "settings": { "sales_account": "200" } }),
        )
        .await;
    assert_eq!(acct.status, StatusCode::CREATED, "{}", acct.body);
    let accounting = acct.body["id"].as_str().unwrap().to_owned();
    Victim {
        store,
        channel,
        order,
        fulfilment,
        sku: "P",
        token_id,
        webhook,
        message,
        plugin,
        page,
        invoice,
        accounting,
    }
}

/// Every action a console POST route with `{action}` takes.
const CONSOLE_ACTIONS: &[&str] = &[
    "test",
    "import",
    "listings",
    "backfill",
    "settings",
    "credentials",
    "map",
    "unmap",
    "delete",
    "retry",
    "handle",
    "hold",
    "release",
    "cancel",
    "manual",
    "ship",
    "back-office-resend",
    "back-office-manual",
    "plugin-resend",
    "invoice",
    "credit",
    "invoice-sync-retry",
    "secret",
    "token",
    "resend",
    "rotate",
    "replay",
];

/// The console's routes, walked by a signed-in user with the victim's ids
/// in every path: each answers `expected` (404, or 403 where only an owner
/// may go and the walker is not one), shows none of the victim's ids, and
/// the victim's data does not move. New console routes are covered
/// automatically.
async fn walk_console(
    app: &TestApp,
    walker: &mut switchyard_testkit::console::Browser,
    victim: &Victim,
    victim_user: &str,
    owner: &Tenant,
    owner_only: StatusCode,
) {
    let csrf = walker.get("/console/settings").await.hidden("csrf");
    let before = fingerprint(app, owner, victim).await;
    let mut walked = 0;
    for (method, template) in switchyard_api::console::routes() {
        if !template.contains('{') || template.contains("{*") {
            continue;
        }
        let filled = |action: &str| {
            template
                .replace("{store}", &victim.store)
                .replace("{order}", &victim.order)
                .replace("{invoice}", &victim.invoice)
                .replace("{channel}", &victim.channel)
                .replace("{sku}", victim.sku)
                .replace("{webhook}", &victim.webhook)
                .replace("{message}", &victim.message)
                .replace("{plugin}", &victim.plugin)
                .replace("{token}", &victim.token_id)
                .replace("{user}", victim_user)
                .replace("{error}", "1")
                .replace("{action}", action)
                .replace("{page_token}", "not-a-page-token")
                .replace("{kind}", "bolcom")
        };
        let paths: Vec<(&str, String)> = if template.contains("{action}") {
            CONSOLE_ACTIONS.iter().map(|a| (*a, filled(a))).collect()
        } else {
            vec![("", filled(""))]
        };
        assert!(
            !paths[0].1.contains('{'),
            "a placeholder of {template} is not filled"
        );
        for (action, path) in paths {
            // Owners' pages and plugin tokens, and deleting a store (for
            // users who reach every store), refuse a walker who may not
            // use them before looking.
            let expected = if template.starts_with("/console/settings/")
                || template == "/console/stores/{store}/delete"
                || template.contains("/plugins/{plugin}/") && action == "token"
            {
                owner_only
            } else {
                StatusCode::NOT_FOUND
            };
            let page = if method == "GET" {
                walker.get(&path).await
            } else {
                walker
                    .post(
                        &path,
                        &[
                            ("csrf", csrf.as_str()),
                            ("name", "evil"),
                            ("url", "https://evil.example.invalid/"),
                            ("reason", "evil"),
                            ("manual", "true"),
                            ("op", "set"),
                            ("quantity", "999"),
                            ("tracking", "EVIL1"),
                            ("line-0", "1"),
                            ("fulfilment", &victim.fulfilment),
                            ("order", &victim.order),
                            ("rules", "{\"rules\":[]}"),
                            ("channel_sku", "P"),
                            ("sku", "P"),
                        ],
                    )
                    .await
            };
            assert_eq!(
                page.status, expected,
                "{method} {path} reached another tenant's data: {}",
                page.body
            );
            for id in [
                &victim.store,
                &victim.channel,
                &victim.order,
                &victim.webhook,
                &victim.plugin,
            ] {
                assert!(
                    !page.body.contains(id.as_str()),
                    "{method} {path} showed {id}"
                );
            }
            walked += 1;
        }
    }
    assert!(walked >= 100, "walked {walked} console requests");
    // The lists of one's own show nothing of the victim's.
    for path in [
        "/console".to_owned(),
        "/console/orders".to_owned(),
        "/console/settings".to_owned(),
        format!("/console/orders?store={}", victim.store),
        format!("/console/orders/live?store={}", victim.store),
    ] {
        let page = walker.get(&path).await;
        for id in [&victim.store, &victim.order, &victim.channel] {
            assert!(
                !page.body.contains(id.as_str()),
                "GET {path} showed {id}: {}",
                page.body
            );
        }
    }
    let after = fingerprint(app, owner, victim).await;
    assert_eq!(before, after, "the victim's data did not change");
}

async fn victim_user(app: &TestApp, account: &str) -> String {
    switchyard_testkit::console::invited(
        app,
        account,
        "victim@example.com",
        switchyard_domain::user::Role::Staff,
    )
    .await;
    let acc = app.storage.ensure_account(account).await.unwrap().id;
    let users = app.storage.list_users(&acc).await.unwrap();
    users
        .iter()
        .find(|u| u.email == "victim@example.com")
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn no_console_page_or_form_reaches_another_accounts_data() {
    use switchyard_testkit::console::{Browser, invited, set_password};

    let app = spawn_api_only().await;
    let alice = app.tenant("alice").await;
    let bob = app.tenant("bob").await;
    populate(&app, &alice, "alice", "alice shop").await;
    let victim = victim_in(&app, &bob, "bob", "bob shop").await;
    let user = victim_user(&app, "bob").await;
    let link = invited(
        &app,
        "alice",
        "mallory@example.com",
        switchyard_domain::user::Role::Owner,
    )
    .await;
    let mut mallory = Browser::new(&app);
    set_password(&mut mallory, &link, "mallory's password").await;
    walk_console(
        &app,
        &mut mallory,
        &victim,
        &user,
        &bob,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn staff_limited_to_a_store_reach_no_other_store_in_the_console() {
    use switchyard_testkit::console::{Browser, invited_to, set_password};

    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let (mine, ..) = populate(&app, &owner, "acme", "mine").await;
    let victim = victim_in(&app, &owner, "acme", "other").await;
    let user = victim_user(&app, "acme").await;
    let link = invited_to(
        &app,
        "acme",
        "sam@example.com",
        switchyard_domain::user::Role::Staff,
        Some(vec![mine.as_str()]),
    )
    .await;
    let mut sam = Browser::new(&app);
    set_password(&mut sam, &link, "sam's own password").await;
    walk_console(
        &app,
        &mut sam,
        &victim,
        &user,
        &owner,
        StatusCode::FORBIDDEN,
    )
    .await;
}
