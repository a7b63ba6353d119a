//! The console's store pages over real HTTP: channels, webhooks, an
//! order's page and plugins with their rules, each through its forms and
//! for who may reach them.

use reqwest::StatusCode;
use serde_json::json;
use switchyard_domain::order::OrderState;
use switchyard_domain::user::Role;
use switchyard_storage::{NewOrder, NewOrderLine, UpsertedOrder};
use switchyard_testkit::console::{Browser, invited, invited_to, post_pairs, set_password};
use switchyard_testkit::{Tenant, TestApp, spawn_api_only};

/// A Shopify channel of `store` (never reached: no workers run).
async fn shopify(app: &TestApp, owner: &Tenant, store: &str) -> String {
    let ch = app
        .post(
            owner,
            &format!("/v1/stores/{store}/channels"),
            &json!({ "name": "Shop", "kind": "shopify", "credentials": { "access_token": "x" } }),
        )
        .await;
    assert_eq!(ch.status, StatusCode::CREATED, "{}", ch.body);
    ch.body["id"].as_str().unwrap().to_owned()
}

/// An open order of `store` on `channel`, as import would store it.
async fn order(
    app: &TestApp,
    account: &str,
    store: &str,
    channel: &str,
    number: &str,
    lines: &[(&str, i64)],
) -> UpsertedOrder {
    let acc = app.storage.ensure_account(account).await.unwrap().id;
    app.storage
        .upsert_order(
            &acc,
            &store.parse().unwrap(),
            NewOrder {
                channel_id: channel.parse().unwrap(),
                channel_order_id: number.into(),
                state: OrderState::Open,
                lines: lines
                    .iter()
                    .map(|(sku, n)| NewOrderLine {
                        sku: switchyard_domain::values::Sku::parse(sku).unwrap(),
                        open_quantity: *n,
                    })
                    .collect(),
            },
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn channel_forms_connect_queue_work_and_map_skus_only_for_who_reaches_the_store() {
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let eu = app
        .post(&owner, "/v1/stores", &json!({ "name": "Acme EU" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let us = app
        .post(&owner, "/v1/stores", &json!({ "name": "Acme US" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let form = b
        .get(&format!("/console/stores/{eu}/channels/new?kind=etsy"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    for field in ["cred.keystring", "cred.refresh_token", "cred.shop_id"] {
        assert!(form.body.contains(field), "{field}");
    }
    let csrf = form.hidden("csrf");
    let connect = format!("/console/stores/{eu}/channels");

    // Etsy's shop_id is a number: a word is refused, naming the field,
    // and nothing is connected.
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("kind", "etsy"),
        ("name", "Acme Etsy"),
        ("base_url", "http://127.0.0.1:9"),
        ("cred.keystring", "ks"),
        ("cred.refresh_token", "rt-secret"),
        ("cred.shop_id", "shop"),
    ];
    let refused = b.post(&connect, &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("credentials.shop_id: must be a whole number"),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains("rt-secret"),
        "secrets are not shown again"
    );
    let none = app.get(&owner, &format!("/v1/stores/{eu}/channels")).await;
    assert_eq!(none.body["items"], json!([]));
    // A required field left out: the connector's own list of fields.
    fields[6] = ("cred.shop_id", "");
    let missing = b.post(&connect, &fields).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("shop_id"), "{}", missing.body);
    fields[6] = ("cred.shop_id", "4242");
    let made = b.post(&connect, &fields).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let page_path = made.location().split('?').next().unwrap().to_owned();
    let ch = page_path.rsplit('/').next().unwrap().to_owned();
    let api = app
        .get(&owner, &format!("/v1/stores/{eu}/channels/{ch}"))
        .await;
    assert_eq!(api.body["has_credentials"], true, "{}", api.body);
    assert_eq!(api.body["kind"], "etsy");
    let page = b.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("rt-secret"));

    // Backfill: a window that starts in the future is refused; a past
    // one is queued.
    let backfill = format!("{page_path}/backfill");
    let later = b
        .post(&backfill, &[("csrf", &csrf), ("from", "2999-01-01T00:00")])
        .await;
    assert_eq!(later.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(later.body.contains("from must be"), "{}", later.body);
    let bad = b
        .post(&backfill, &[("csrf", &csrf), ("from", "yesterday")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let queued = b
        .post(
            &backfill,
            &[
                ("csrf", &csrf),
                ("from", "2026-01-01T00:00"),
                ("to", "2026-02-01T00:00"),
            ],
        )
        .await;
    assert_eq!(queued.status, StatusCode::SEE_OTHER);
    assert!(queued.location().ends_with("?done=backfill"));
    assert!(
        b.get(queued.location())
            .await
            .body
            .contains("Backfill queued")
    );

    // SKU mappings: a bad SKU is refused; a mapping is made and removed.
    let map = format!("{page_path}/map");
    let bad = b
        .post(
            &map,
            &[("csrf", &csrf), ("channel_sku", "ETSY-1"), ("sku", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = b
        .post(
            &map,
            &[
                ("csrf", &csrf),
                ("channel_sku", "ETSY-1"),
                ("sku", "MUG-RED"),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "no such product yet");
    app.product(&owner, &eu, "MUG-RED").await;
    let mapped = b
        .post(
            &map,
            &[
                ("csrf", &csrf),
                ("channel_sku", "ETSY-1"),
                ("sku", "MUG-RED"),
            ],
        )
        .await;
    assert_eq!(mapped.status, StatusCode::SEE_OTHER, "{}", mapped.body);
    let mappings = format!("/v1/stores/{eu}/channels/{ch}/sku-mappings");
    let listed = app.get(&owner, &mappings).await.body;
    assert_eq!(listed["items"][0]["channel_sku"], "ETSY-1", "{listed}");
    assert_eq!(listed["items"][0]["sku"], "MUG-RED", "{listed}");
    let gone = b
        .post(
            &format!("{page_path}/unmap"),
            &[("csrf", &csrf), ("channel_sku", "ETSY-1")],
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&owner, &mappings).await.body["items"], json!([]));
    let import = b
        .post(&format!("{page_path}/import"), &[("csrf", &csrf)])
        .await;
    assert_eq!(import.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.post(&format!("{page_path}/import"), &[]).await.status,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );

    // Every channel route of acme's channel: not found for another
    // account's owner and for staff limited to the other store.
    let other = invited(&app, "globex", "gus@example.com", Role::Owner).await;
    let mut gus = Browser::new(&app);
    set_password(&mut gus, &other, "gus password!").await;
    let staff = invited_to(
        &app,
        "acme",
        "sam@example.com",
        Role::Staff,
        Some(vec![&us]),
    )
    .await;
    let mut sam = Browser::new(&app);
    set_password(&mut sam, &staff, "staff password").await;
    for who in [&mut gus, &mut sam] {
        let csrf = who.get("/console").await.hidden("csrf");
        for path in [
            format!("/console/stores/{eu}/channels/new?kind=shopify"),
            page_path.clone(),
        ] {
            assert_eq!(who.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        for action in [
            "test",
            "import",
            "listings",
            "backfill",
            "settings",
            "credentials",
            "map",
            "unmap",
            "delete",
            "errors/1/retry",
            "errors/1/handle",
        ] {
            let r = who
                .post(
                    &format!("{page_path}/{action}"),
                    &[("csrf", &csrf), ("from", "2026-01-01T00:00"), ("name", "x")],
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}");
        }
        let r = who
            .post(
                &connect,
                &[("csrf", &csrf), ("kind", "etsy"), ("name", "x")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    let still = app
        .get(&owner, &format!("/v1/stores/{eu}/channels/{ch}"))
        .await;
    assert_eq!(still.body["name"], "Acme Etsy", "untouched");

    // The owner disconnects it.
    let gone = b
        .post(&format!("{page_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&owner, &format!("/v1/stores/{eu}/channels/{ch}"))
            .await
            .status,
        404
    );
}

/// The text from `marker` to the next `"`.
fn after<'a>(body: &'a str, marker: &str) -> &'a str {
    let at = body
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {body}"));
    let rest = &body[at + marker.len()..];
    &rest[..rest.find('"').unwrap()]
}

#[tokio::test]
async fn webhook_pages_add_an_endpoint_show_its_log_rotate_and_replay() {
    use switchyard_testkit::receiver::Receiver;
    let app = switchyard_testkit::spawn_app_with(switchyard_testkit::engine_config()).await;
    let owner = app.tenant("acme").await;
    let store = app
        .post(&owner, "/v1/stores", &json!({ "name": "Acme EU" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let receiver = Receiver::start().await;
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let list = b.get(&format!("/console/stores/{store}/webhooks")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("No webhooks yet."));
    let csrf = list.hidden("csrf");
    let add = format!("/console/stores/{store}/webhooks");

    let bad = b
        .post(&add, &[("csrf", &csrf), ("url", "ftp://example.com/x")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("url:"), "{}", bad.body);
    let made = b
        .post(
            &add,
            &[
                ("csrf", &csrf),
                ("url", &receiver.url),
                ("description", "ERP"),
                ("events", "order.created"),
                ("events", "fulfilment.updated"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let secret = made.hidden_value("input.secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let hooks = app
        .get(&owner, &format!("/v1/stores/{store}/webhooks"))
        .await
        .body;
    let id = hooks["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        hooks["items"][0]["events"],
        json!(["order.created", "fulfilment.updated"]),
        "{hooks}"
    );
    let page = format!("/console/stores/{store}/webhooks/{id}");
    let api_secret = app
        .get(&owner, &format!("/v1/webhooks/{id}/secret"))
        .await
        .body;
    assert_eq!(api_secret["secret"], secret.as_str());

    // A test event: delivered, and the log shows the status and latency.
    let test = b.post(&format!("{page}/test"), &[("csrf", &csrf)]).await;
    assert_eq!(test.status, StatusCode::SEE_OTHER);
    receiver
        .wait_for("the test event", 20, |got| got.len() == 1)
        .await;
    switchyard_testkit::eventually("the attempt to be logged", 20, || async {
        let log = app
            .get(&owner, &format!("/v1/webhooks/{id}/messages"))
            .await
            .body;
        log["items"][0]["state"] == "succeeded"
    })
    .await;
    let shown = b.get(&page).await;
    assert!(shown.body.contains("<code>204</code>"), "{}", shown.body);
    assert!(shown.body.contains("webhook.test"), "{}", shown.body);
    assert!(shown.body.contains(" ms</td>"), "latency shown");

    // Sent again, by hand, and all since a time.
    let message = after(&shown.body, "data-message=\"").to_owned();
    let again = b
        .post(
            &format!("{page}/messages/{message}/replay"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    receiver
        .wait_for("the message sent again", 20, |got| got.len() == 2)
        .await;
    let replayed = b
        .post(
            &format!("{page}/replay"),
            &[
                ("csrf", &csrf),
                ("since", "2026-01-01T00:00"),
                ("only_failed", "true"),
            ],
        )
        .await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER);
    let future = b
        .post(
            &format!("{page}/replay"),
            &[("csrf", &csrf), ("since", "2999-01-01T00:00")],
        )
        .await;
    assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        future.body.contains("since is in the future"),
        "{}",
        future.body
    );

    // Rotation: the new secret, and the old one beside it for a day.
    let rotated = b.post(&format!("{page}/rotate"), &[("csrf", &csrf)]).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_secret = rotated.hidden_value("input.secret");
    assert_ne!(new_secret, secret);
    assert!(
        rotated.body.contains(&secret),
        "the previous secret is shown"
    );
    let api_secret = app
        .get(&owner, &format!("/v1/webhooks/{id}/secret"))
        .await
        .body;
    assert_eq!(api_secret["secret"], new_secret.as_str());
    let shown = b.post(&format!("{page}/secret"), &[("csrf", &csrf)]).await;
    assert_eq!(shown.hidden_value("input.secret"), new_secret);

    // Settings: every event, disabled.
    let saved = b
        .post(
            &format!("{page}/settings"),
            &[("csrf", &csrf), ("url", &receiver.url), ("description", "")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let now = app.get(&owner, &format!("/v1/webhooks/{id}")).await.body;
    assert_eq!(now["events"], json!([]), "{now}");
    assert_eq!(now["enabled"], false, "{now}");
    assert_eq!(now["description"], json!(null), "{now}");

    // Another account's owner reaches none of it.
    let other = invited(&app, "globex", "gus@example.com", Role::Owner).await;
    let mut gus = Browser::new(&app);
    set_password(&mut gus, &other, "gus password!").await;
    let gus_csrf = gus.get("/console").await.hidden("csrf");
    assert_eq!(gus.get(&page).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gus.get(&format!("/console/stores/{store}/webhooks"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for action in [
        "test".to_owned(),
        "secret".to_owned(),
        "rotate".to_owned(),
        "delete".to_owned(),
        format!("messages/{message}/replay"),
    ] {
        let r = gus
            .post(&format!("{page}/{action}"), &[("csrf", &gus_csrf)])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}");
        assert!(!r.body.contains("whsec_"), "{action}");
    }

    let gone = b.post(&format!("{page}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&owner, &format!("/v1/webhooks/{id}")).await.status,
        404
    );
}

#[tokio::test]
async fn an_order_page_ships_part_of_an_order_retries_a_failed_sync_and_marks_it_manual() {
    use switchyard_domain::fulfilment::SyncAction;
    use switchyard_storage::SyncResult;

    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let store = app.store(&owner, "Acme EU").await;
    for sku in ["P", "Q"] {
        app.product(&owner, &store, sku).await;
    }
    let ch = shopify(&app, &owner, &store).await;
    let order = order(&app, "acme", &store, &ch, "1001", &[("P", 3), ("Q", 1)]).await;
    let page_path = format!("/console/orders/{}", order.id);
    let ship = format!("{page_path}/ship");
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let page = b.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("name=\"line-0\" value=\"3\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"line-1\" value=\"1\""));
    let csrf = page.hidden("csrf");

    // Nothing chosen, or more than is open: refused in words, nothing shipped.
    let none = b
        .post(&ship, &[("csrf", &csrf), ("line-0", "0"), ("line-1", "0")])
        .await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        none.body.contains("choose at least one unit to ship"),
        "{}",
        none.body
    );
    let too_many = b
        .post(&ship, &[("csrf", &csrf), ("line-0", "5"), ("line-1", "0")])
        .await;
    assert!(too_many.status.is_client_error(), "{}", too_many.status);
    assert!(too_many.body.contains("role=\"alert\""));
    let listed = app
        .get(&owner, &format!("/v1/orders/{}/fulfilments", order.id))
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);

    // Two of the three P: the order is partly fulfilled, one P still open.
    let shipped = b
        .post(
            &ship,
            &[
                ("csrf", &csrf),
                ("line-0", "2"),
                ("line-1", "0"),
                ("tracking", "1Z999AA10123456784, 1Z999AA10123456795"),
                ("service", "Next day"),
            ],
        )
        .await;
    assert_eq!(shipped.status, StatusCode::SEE_OTHER, "{}", shipped.body);
    let api = app.get_order(&owner, order.id.as_str()).await;
    assert_eq!(api["lines"][0]["open_quantity"], 1, "{api}");
    assert_eq!(api["lines"][1]["open_quantity"], 1);
    let page = b.get(&page_path).await;
    assert!(
        page.body.contains("name=\"line-0\" value=\"1\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Retry sync"));
    let f = &api["fulfilments"][0];
    assert_eq!(f["lines"][0]["quantity"], 2);
    assert_eq!(f["carrier"], "ups");
    assert_eq!(f["service"], "Next day");
    assert_eq!(
        f["tracking"],
        json!([{ "number": "1Z999AA10123456784" }, { "number": "1Z999AA10123456795" }])
    );
    let fid: switchyard_domain::ids::FulfilmentId = f["id"].as_str().unwrap().parse().unwrap();

    // The channel refused it: the page says why and offers a retry.
    app.storage
        .record_fulfilment_sync(
            &fid,
            SyncAction::Create,
            SyncResult::Failed {
                error: "HTTP 503 from the shop".into(),
                retry_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    let page = b.get(&page_path).await;
    assert!(page.body.contains("HTTP 503 from the shop"));
    assert!(page.body.contains("Retry sync"));
    let retry = format!("{page_path}/retry");
    let wrong = b
        .post(&retry, &[("csrf", &csrf), ("fulfilment", "ful_nothing")])
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let retried = b
        .post(&retry, &[("csrf", &csrf), ("fulfilment", fid.as_str())])
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER);
    let api = app.get_order(&owner, order.id.as_str()).await;
    assert_eq!(api["fulfilments"][0]["sync"]["state"], "pending", "{api}");

    // Handle manually, and stop again; never without the session's token.
    let manual = format!("{page_path}/manual");
    let forged = b.post(&manual, &[("manual", "true")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_order(&owner, order.id.as_str()).await["manual"],
        false
    );
    let on = b
        .post(&manual, &[("csrf", &csrf), ("manual", "true")])
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_order(&owner, order.id.as_str()).await["manual"],
        true
    );
    assert!(
        b.get(&page_path)
            .await
            .body
            .contains("Stop handling manually")
    );
    b.post(&manual, &[("csrf", &csrf), ("manual", "false")])
        .await;
    assert_eq!(
        app.get_order(&owner, order.id.as_str()).await["manual"],
        false
    );
}

#[tokio::test]
async fn plugin_pages_add_a_plugin_and_rules_are_saved_only_after_their_dry_run() {
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let store = app.store(&owner, "Acme EU").await;
    for sku in ["VEN-1", "P"] {
        app.product(&owner, &store, sku).await;
    }
    let ch = shopify(&app, &owner, &store).await;
    order(&app, "acme", &store, &ch, "1001", &[("VEN-1", 1)]).await;
    order(&app, "acme", &store, &ch, "1002", &[("P", 1)]).await;
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let plugins = format!("/console/stores/{store}/plugins");
    let list = b.get(&plugins).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("No plugins yet."));
    let csrf = list.hidden("csrf");

    // A URL that is not http(s) is refused in words; a good one is added
    // and its signing secret shown once.
    let bad = b
        .post(
            &plugins,
            &[
                ("csrf", &csrf),
                ("name", "Venlo"),
                ("url", "ftp://3pl.example.invalid/"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("must be http or https"), "{}", bad.body);
    let made = b
        .post(
            &plugins,
            &[
                ("csrf", &csrf),
                ("name", "Warehouse Venlo"),
                ("url", "https://3pl.example.invalid/orders"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let secret = made.hidden_value("input.secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let api = app
        .get(&owner, &format!("/v1/stores/{store}/plugins"))
        .await;
    let plugin = api.body["items"][0]["id"].as_str().unwrap().to_owned();
    let page_path = format!("{plugins}/{plugin}");
    let page = b.get(&page_path).await;
    assert!(!page.body.contains(&secret), "shown once");
    let shown = b
        .post(&format!("{page_path}/secret"), &[("csrf", &csrf)])
        .await;
    assert_eq!(shown.hidden_value("input.secret"), secret);
    let token = b
        .post(
            &format!("{page_path}/token"),
            &[("csrf", &csrf), ("name", "venlo")],
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED);
    let token = token.hidden_value("input.secret");
    let as_plugin = switchyard_testkit::Tenant { token };
    let own = app.get(&as_plugin, &format!("/v1/plugins/{plugin}")).await;
    assert_eq!(own.status, StatusCode::OK, "the token reaches its plugin");
    let saved = b
        .post(
            &format!("{page_path}/settings"),
            &[
                ("csrf", &csrf),
                ("name", "Venlo"),
                ("url", "https://3pl.example.invalid/v2"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let p = app.get(&owner, &format!("/v1/plugins/{plugin}")).await;
    assert_eq!(p.body["name"], "Venlo");
    assert_eq!(p.body["enabled"], false);
    assert_eq!(p.body["url"], "https://3pl.example.invalid/v2");

    // A rule is tried first: the dry run shows where each order would go,
    // and nothing is saved until "Save".
    let rules = format!("/console/stores/{store}/plugin-rules");
    let editor = b.get(&rules).await;
    assert!(editor.body.contains("New rule"));
    let row = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![
            ("csrf", csrf.clone()),
            ("r0.position", "1".to_owned()),
            ("r0.name", "venlo ships VEN".to_owned()),
            ("r0.skus_any", "VEN-*".to_owned()),
            ("r0.action", "send_to_plugin".to_owned()),
            ("r0.plugin", plugin.clone()),
            // The blank new row is ignored.
            ("r1.position", "2".to_owned()),
            ("r1.action", "send_to_plugin".to_owned()),
        ];
        f.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        f
    };
    let wrong = post_pairs(
        &mut b,
        &format!("{rules}/dry-run"),
        row(&[("r0.min_quantity", "5"), ("r0.max_quantity", "2")]),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("Rule 1 when.max_quantity"),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("value=\"venlo ships VEN\""),
        "the row is kept"
    );
    assert!(!wrong.body.contains("Save these"));
    let tried = post_pairs(&mut b, &format!("{rules}/dry-run"), row(&[])).await;
    assert_eq!(tried.status, StatusCode::OK, "{}", tried.body);
    let at = tried.body.find("class=\"dry-run\"").unwrap();
    let table = &tried.body[at..at + tried.body[at..].find("</table>").unwrap()];
    assert_eq!(table.matches("<tr class=\"changed\"").count(), 1, "{table}");
    assert_eq!(table.matches("<tr").count(), 3, "a heading and two orders");
    assert!(tried.body.contains("1</strong> to Venlo"), "{}", tried.body);
    assert!(tried.body.contains("Save these 1 rule(s)"));
    let stored = app
        .get(&owner, &format!("/v1/stores/{store}/plugin-rules"))
        .await;
    assert_eq!(
        stored.body["rules"],
        json!([]),
        "nothing saved by a dry run"
    );
    let save = b
        .post(
            &rules,
            &[("csrf", &csrf), ("rules", &tried.hidden("rules"))],
        )
        .await;
    assert_eq!(save.status, StatusCode::SEE_OTHER);
    let stored = app
        .get(&owner, &format!("/v1/stores/{store}/plugin-rules"))
        .await;
    assert_eq!(stored.body["rules"][0]["name"], "venlo ships VEN");
    assert_eq!(
        stored.body["rules"][0]["when"]["skus_any"],
        json!(["VEN-*"])
    );
    assert_eq!(
        stored.body["rules"][0]["then"]["plugin_id"],
        plugin.as_str()
    );

    // A plugin a rule routes to is not deleted; without the rule it is.
    let refused = b
        .post(&format!("{page_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let none = post_pairs(
        &mut b,
        &format!("{rules}/dry-run"),
        row(&[("r0.remove", "true")]),
    )
    .await;
    assert!(none.body.contains("Save these 0 rule(s)"), "{}", none.body);
    b.post(&rules, &[("csrf", &csrf), ("rules", &none.hidden("rules"))])
        .await;
    let gone = b
        .post(&format!("{page_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&owner, &format!("/v1/plugins/{plugin}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
