//! Outgoing webhooks end to end: the real server with its workers, the
//! simulators, and a receiver on loopback. Signatures are verified with the
//! official `standardwebhooks` Python package (scripts/verify_webhooks.py).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use switchyard::Clock;
use switchyard_domain::webhook::EventType;
use switchyard_testkit::receiver::{Mode, Received, Receiver, verify_with_python};
use switchyard_testkit::{Tenant, TestApp, spawn_app_with};

use crate::{World, eventually, loopback_allowed};

/// Subscribe `url` to a store's events; returns (id, secret).
pub(crate) async fn subscribe(
    app: &TestApp,
    t: &Tenant,
    store: &str,
    url: &str,
    events: Value,
) -> (String, String) {
    let r = app
        .post(
            t,
            &format!("/v1/stores/{store}/webhooks"),
            &json!({ "url": url, "events": events, "description": "test receiver" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() >= 6 + 32,
        "{secret}"
    );
    (r.body["id"].as_str().unwrap().to_owned(), secret)
}

fn types(got: &[Received]) -> BTreeSet<String> {
    got.iter()
        .filter(|r| r.answered / 100 == 2)
        .map(Received::event_type)
        .collect()
}

#[tokio::test]
async fn every_event_type_arrives_signed_and_verified_by_the_official_library() {
    let clock = Clock::default();
    let app = spawn_app_with(loopback_allowed(&clock)).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    let rx = Receiver::start().await;
    let (hook, secret) = subscribe(&app, &t, &store, &rx.url, json!([])).await;
    // Products, stock, both channels with their listings and pushes.
    let w = World::in_store(
        app,
        t,
        store,
        json!({ "order_filters": { "countries": { "deny": ["US"] } } }),
    )
    .await;
    let ours = w
        .shopify
        .order(&[("SKU-00001", 1)], json!({ "country": "GB" }))
        .await;
    w.woo
        .order(&[("SKU-00002", 1)], json!({ "country": "US" }))
        .await;
    let order = w.order_for(&ours).await;
    let id = order["id"].as_str().unwrap();
    let o = |a: &str| format!("/v1/orders/{id}/{a}");
    assert_eq!(
        w.app
            .post(&w.t, &o("hold"), &json!({ "reason": "check" }))
            .await
            .status,
        200
    );
    assert_eq!(
        w.app.post(&w.t, &o("release"), &json!({})).await.status,
        200
    );
    let f = w
        .app
        .post(
            &w.t,
            &o("fulfilments"),
            &json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
        )
        .await;
    assert_eq!(f.status, 201, "{}", f.body);
    w.synced(f.body["id"].as_str().unwrap(), 30).await;
    // The order is invoiced, and the invoice credited.
    let inv = w.app.post(&w.t, &o("invoices"), &json!({})).await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    let inv_id = inv.body["id"].as_str().unwrap().to_owned();
    let cn = w
        .app
        .post(
            &w.t,
            &format!("/v1/invoices/{inv_id}/credit-notes"),
            &json!({ "reason": "returned" }),
        )
        .await;
    assert_eq!(cn.status, 201, "{}", cn.body);
    // A client connects bol.com through a hosted onboarding page.
    let bol = switchyard_sim::spawn(
        switchyard_sim::Channel::Bolcom,
        &switchyard_sim::SimOptions {
            seed: 3,
            products: 1,
            orders: 0,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let page = w
        .app
        .post(
            &w.t,
            &format!("/v1/stores/{}/hosted-pages", w.store),
            &json!({ "channels": ["bolcom"], "branding": { "name": "Provider" } }),
        )
        .await;
    assert_eq!(page.status, 201, "{}", page.body);
    let connected = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/bolcom", page.body["url"].as_str().unwrap()))
        .form(&[
            ("base_url", bol.base_url().as_str()),
            (
                "cred.client_id",
                bol.credentials["client_id"].as_str().unwrap(),
            ),
            (
                "cred.client_secret",
                bol.credentials["client_secret"].as_str().unwrap(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(connected.status(), 200, "connected, no redirect_url");

    let all: BTreeSet<String> = EventType::ALL.iter().map(ToString::to_string).collect();
    let got = rx
        .wait_for("one of every event type", 30, |g| types(g) == all)
        .await;
    // Verified by the official library, every one of them.
    let verified = verify_with_python(&secret, &got).unwrap();
    assert_eq!(verified.len(), got.len());
    // And with another secret, none verifies: the check can fail.
    let refused =
        verify_with_python("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &got[..1]).unwrap_err();
    assert!(refused.contains("does not verify"), "{refused}");

    // The payload is the entity in the unified format.
    let by_type = |ty: &str| got.iter().find(|r| r.event_type() == ty).unwrap().json();
    // Both shops' orders are announced; the channels import side by side,
    // so which comes first is not fixed.
    let created = got
        .iter()
        .map(|r| r.json())
        .find(|j| j["type"] == "order.created" && j["data"]["channel_order_id"] == ours.as_str())
        .unwrap_or_else(|| panic!("no order.created for {ours}"));
    assert!(created["data"]["lines"].is_array(), "{created}");
    assert!(
        created["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let excluded = by_type("order.excluded");
    assert_eq!(excluded["data"]["state"], "excluded");
    assert_eq!(by_type("fulfilment.created")["data"]["order_id"], id);
    assert!(by_type("product.updated")["data"]["stock"]["on_hand"].is_i64());
    assert!(by_type("channel_product.created")["data"]["listing_id"].is_string());
    let channel = by_type("channel.connected");
    assert_eq!(channel["data"]["kind"], "bolcom", "{channel}");
    assert_eq!(channel["data"]["hosted_page_id"], page.body["id"]);
    assert!(channel["data"].get("credentials").is_none(), "{channel}");
    let invoice = by_type("invoice.created");
    assert_eq!(invoice["data"]["id"], inv_id.as_str(), "{invoice}");
    assert_eq!(invoice["data"]["number"], "INV-00001");
    assert_eq!(invoice["data"]["order_id"], id);
    let credit = by_type("credit_note.created");
    assert_eq!(credit["data"]["credits_id"], inv_id.as_str(), "{credit}");
    assert_eq!(credit["data"]["reason"], "returned");

    // The delivery log has every attempt, each a 2xx (an attempt is
    // logged once its answer is in, just after the receiver saw it).
    let attempts_path = format!("/v1/webhooks/{hook}/attempts?limit=1000");
    eventually("every delivery in the attempt log", 20, || async {
        let log = w.app.get(&w.t, &attempts_path).await;
        log.body["items"].as_array().map_or(0, Vec::len) >= got.len()
    })
    .await;
    let log = w.app.get(&w.t, &attempts_path).await;
    assert_eq!(log.status, 200);
    let attempts = log.body["items"].as_array().unwrap();
    assert!(attempts.len() >= got.len());
    assert!(
        attempts
            .iter()
            .all(|a| a["status"] == 204 && a["outcome"] == "succeeded")
    );

    // A filter: a second endpoint that wants only fulfilments gets only those.
    let only = Receiver::start().await;
    subscribe(
        &w.app,
        &w.t,
        &w.store,
        &only.url,
        json!(["fulfilment.created"]),
    )
    .await;
    let other = w
        .shopify
        .order(&[("SKU-00004", 1)], json!({ "country": "GB" }))
        .await;
    let other = w.order_for(&other).await;
    let f3 = w
        .app
        .post(
            &w.t,
            &format!("/v1/orders/{}/fulfilments", other["id"].as_str().unwrap()),
            &json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
        )
        .await;
    assert_eq!(f3.status, 201);
    let got_only = only.wait_for("the fulfilment", 20, |g| !g.is_empty()).await;
    w.synced(f3.body["id"].as_str().unwrap(), 30).await;
    rx.wait_for("the second order's sync", 20, |g| {
        g.iter()
            .filter(|r| r.event_type() == "fulfilment.updated")
            .count()
            >= 2
    })
    .await;
    assert!(
        only.received()
            .iter()
            .all(|r| r.event_type() == "fulfilment.created"),
        "{got_only:?}"
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_with_both_keys_for_a_day() {
    let clock = Clock::default();
    let app = spawn_app_with(loopback_allowed(&clock)).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    let rx = Receiver::start().await;
    let (hook, old) = subscribe(&app, &t, &store, &rx.url, json!([])).await;
    let rotated = app
        .post(
            &t,
            &format!("/v1/webhooks/{hook}/secret/rotate"),
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated.body["previous_secret"], old.as_str());
    let shown = app.get(&t, &format!("/v1/webhooks/{hook}/secret")).await;
    assert_eq!(shown.body["secret"], new.as_str());
    let test = app
        .post(&t, &format!("/v1/webhooks/{hook}/test"), &json!({}))
        .await;
    assert_eq!(test.status, 202);
    let got = rx.wait_for("the test event", 20, |g| !g.is_empty()).await;
    assert_eq!(got[0].id, test.body["message_id"].as_str().unwrap());
    assert_eq!(
        got[0].signature.split(' ').count(),
        2,
        "{}",
        got[0].signature
    );
    assert_eq!(verify_with_python(&new, &got).unwrap(), ["webhook.test"]);
    assert_eq!(verify_with_python(&old, &got).unwrap(), ["webhook.test"]);
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_message_once_it_recovers() {
    let clock = Clock::default();
    let app = spawn_app_with(loopback_allowed(&clock)).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    let rx = Receiver::start().await;
    rx.set(Mode::Status(503));
    let (hook, secret) = subscribe(&app, &t, &store, &rx.url, json!(["product.created"])).await;
    for i in 0..5 {
        app.product(&t, &store, &format!("SKU-{i}")).await;
    }
    let failed = rx
        .wait_for("five failed first attempts", 20, |g| g.len() >= 5)
        .await;
    let first_ids: BTreeSet<String> = failed.iter().map(|r| r.id.clone()).collect();
    assert_eq!(first_ids.len(), 5);
    // Each first attempt is recorded, with the answer, and waits its retry.
    eventually("five failed attempts recorded", 20, || async {
        let pending = app
            .get(&t, &format!("/v1/webhooks/{hook}/messages?state=pending"))
            .await;
        let items = pending.body["items"].as_array().unwrap().clone();
        items.len() == 5
            && items
                .iter()
                .all(|m| m["last_status"] == 503 && m["attempts"] == 1)
    })
    .await;
    // Back up; the next attempt is due 5 s (± 20 %) after the first.
    rx.set(Mode::Accept);
    clock.advance(chrono::Duration::seconds(7));
    let got = rx
        .wait_for("every message delivered", 20, |g| {
            g.iter()
                .filter(|r| r.answered == 204)
                .map(|r| r.id.clone())
                .collect::<BTreeSet<_>>()
                == first_ids
        })
        .await;
    // Same ids across retries; nothing lost, each delivered once.
    let ok: Vec<&Received> = got.iter().filter(|r| r.answered == 204).collect();
    assert_eq!(ok.len(), 5, "each message is delivered once");
    let ok: Vec<Received> = ok.into_iter().cloned().collect();
    assert_eq!(verify_with_python(&secret, &ok).unwrap().len(), 5);
    // Outcomes are recorded in batches, a moment after the receiver answered.
    let attempts = format!("/v1/webhooks/{hook}/attempts?limit=100");
    eventually("five successes in the attempt log", 20, || async {
        let log = app.get(&t, &attempts).await;
        log.body["items"]
            .as_array()
            .is_some_and(|a| a.iter().filter(|a| a["outcome"] == "succeeded").count() == 5)
    })
    .await;
    let log = app.get(&t, &attempts).await;
    let outcomes: BTreeMap<String, usize> =
        log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .fold(BTreeMap::new(), |mut m, a| {
                *m.entry(a["outcome"].as_str().unwrap().to_owned())
                    .or_default() += 1;
                m
            });
    assert_eq!(outcomes.get("retrying"), Some(&5), "{outcomes:?}");
    assert_eq!(outcomes.get("succeeded"), Some(&5), "{outcomes:?}");
    assert!(log.body["items"][0]["response"].is_string());

    // Replay one message: the same id, once more.
    let mid = ok[0].id.clone();
    let r = app
        .post(
            &t,
            &format!("/v1/webhooks/{hook}/messages/{mid}/replay"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    rx.wait_for("the replayed message", 20, |g| {
        g.iter().filter(|r| r.id == mid).count() == 3
    })
    .await;
    // Replay everything since an hour ago, delivered or not.
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let r = app
        .post(
            &t,
            &format!("/v1/webhooks/{hook}/replay"),
            &json!({ "since": since, "only_failed": false }),
        )
        .await;
    assert_eq!(r.body["replayed"], 5, "{}", r.body);
    rx.wait_for("five more", 20, |g| {
        g.iter().filter(|r| r.answered == 204).count() == 11
    })
    .await;
}

#[tokio::test]
async fn gone_disables_at_once_and_five_days_of_failures_disable_with_a_journal_event() {
    let clock = Clock::default();
    let app = spawn_app_with(loopback_allowed(&clock)).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    let gone = Receiver::start().await;
    gone.set(Mode::Status(410));
    let (g, _) = subscribe(&app, &t, &store, &gone.url, json!(["product.created"])).await;
    let failing = Receiver::start().await;
    failing.set(Mode::Status(500));
    let (f, _) = subscribe(&app, &t, &store, &failing.url, json!(["product.created"])).await;
    app.product(&t, &store, "A").await;
    eventually("410 to disable the endpoint", 20, || async {
        app.get(&t, &format!("/v1/webhooks/{g}")).await.body["enabled"] == false
    })
    .await;
    let e = app.get(&t, &format!("/v1/webhooks/{g}")).await;
    assert!(
        e.body["disabled_reason"].as_str().unwrap().contains("410"),
        "{}",
        e.body
    );
    // The failing one retries on the schedule; five days on it is disabled.
    failing
        .wait_for("the first attempt", 20, |r| !r.is_empty())
        .await;
    // A second product's message fails too, before the five days pass (a
    // disabled endpoint gets no new messages, so B must be queued first).
    app.product(&t, &store, "B").await;
    failing
        .wait_for("an attempt at both messages", 20, |r| {
            r.iter()
                .map(|m| m.id.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == 2
        })
        .await;
    clock.advance(chrono::Duration::days(5) + chrono::Duration::hours(1));
    eventually(
        "five days of failures to disable the endpoint",
        20,
        || async { app.get(&t, &format!("/v1/webhooks/{f}")).await.body["enabled"] == false },
    )
    .await;
    let journal = app
        .get(&t, &format!("/v1/stores/{store}/journal?limit=1000"))
        .await;
    let disabled: Vec<&Value> = journal.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "webhook.disabled")
        .collect();
    assert_eq!(disabled.len(), 2, "{disabled:?}");
    // Queue both again while it is disabled (nothing is sent yet), then
    // enable it: they go out.
    let replay = app
        .post(
            &t,
            &format!("/v1/webhooks/{f}/replay"),
            &json!({ "since": "2020-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(replay.body["replayed"], 2, "{}", replay.body);
    failing.set(Mode::Accept);
    let r = app
        .patch(
            &t,
            &format!("/v1/webhooks/{f}"),
            &json!({ "enabled": true }),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["disabled_reason"].is_null() && r.body["failing_since"].is_null(),
        "{}",
        r.body
    );
    failing
        .wait_for("both products", 20, |g| {
            g.iter().filter(|r| r.answered == 204).count() == 2
        })
        .await;
}

#[tokio::test]
async fn redirects_private_addresses_and_names_resolving_to_them_are_refused() {
    let clock = Clock::default();
    let app = spawn_app_with(loopback_allowed(&clock)).await;
    let t = app.tenant("acme").await;
    let store = app.store(&t, "Acme").await;
    for url in [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://127.0.0.2/hook",
        "http://100.64.0.1/",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
        "not a url",
    ] {
        let r = app
            .post(
                &t,
                &format!("/v1/stores/{store}/webhooks"),
                &json!({ "url": url }),
            )
            .await;
        assert_eq!(r.status, 422, "{url}: {}", r.body);
        assert_eq!(r.body["error"]["field"], "url", "{url}");
    }
    let r = app
        .post(
            &t,
            &format!("/v1/stores/{store}/webhooks"),
            &json!({ "url": "https://x.example/", "events": ["order.shipped"] }),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["error"]["field"], "events[0]");

    // A redirect is a failed attempt, and its target is never asked.
    let target = Receiver::start().await;
    let rx = Receiver::start().await;
    rx.set(Mode::Redirect(target.url.clone()));
    let (hook, _) = subscribe(&app, &t, &store, &rx.url, json!([])).await;
    app.post(&t, &format!("/v1/webhooks/{hook}/test"), &json!({}))
        .await;
    rx.wait_for("the redirected attempt", 20, |g| !g.is_empty())
        .await;
    eventually("the attempt logged", 20, || async {
        let log = app.get(&t, &format!("/v1/webhooks/{hook}/attempts")).await;
        log.body["items"][0]["status"] == 302 && log.body["items"][0]["outcome"] == "retrying"
    })
    .await;
    assert!(
        target.received().is_empty(),
        "the redirect was not followed"
    );

    // A name is checked on the address it resolves to when connecting:
    // `localhost` is loopback, which this server does not allow.
    let strict = spawn_app_with(switchyard_testkit::strict_engine_config()).await;
    let t2 = strict.tenant("acme").await;
    let s2 = strict.store(&t2, "Acme").await;
    let local = Receiver::start().await;
    let (h2, _) = subscribe(
        &strict,
        &t2,
        &s2,
        &format!("http://localhost:{}/hook", local.port),
        json!([]),
    )
    .await;
    strict
        .post(&t2, &format!("/v1/webhooks/{h2}/test"), &json!({}))
        .await;
    eventually("the refused attempt logged", 20, || async {
        let log = strict
            .get(&t2, &format!("/v1/webhooks/{h2}/attempts"))
            .await;
        log.body["items"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("loopback"))
    })
    .await;
    assert!(
        local.received().is_empty(),
        "nothing reached the loopback receiver"
    );
}
