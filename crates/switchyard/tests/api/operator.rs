//! The operator's view: `/metrics` after a demo run, `/readyz`, `/docs`,
//! and the committed OpenAPI document.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::Value;
use switchyard_testkit::{eventually, spawn_api_only, spawn_app};

/// Parse the Prometheus text exposition into `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn sum(s: &BTreeMap<String, f64>, prefix: &str, with: &[&str]) -> f64 {
    s.iter()
        .filter(|(k, _)| {
            k.starts_with(&format!("{prefix}{{")) && with.iter().all(|w| k.contains(w))
        })
        .map(|(_, v)| v)
        .sum()
}

async fn scrape(base: &str) -> BTreeMap<String, f64> {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().await.unwrap();
    // Bounded labels: channel kinds and route templates, never an id.
    for id in ["st_", "ch_", "ord_", "plg_", "wh_"] {
        assert!(
            !text.contains(&format!("\"{id}")),
            "an id in a label: {text}"
        );
    }
    samples(&text)
}

/// A demo run of 5 sales (plus its 3PL, filtered and held orders: 8
/// orders on two channels), then a scrape: every figure the issue names is
/// there and agrees with what the demo did.
#[tokio::test]
async fn metrics_after_a_demo_run_count_what_happened() {
    let demo = switchyard_testkit::demo::KeptDemo::start(env!("CARGO_BIN_EXE_switchyard"), 5);
    let base = demo.base.clone();
    // Deliveries of the last events may still be on their way.
    eventually("the webhook deliveries settle", 30, || {
        let base = base.clone();
        async move {
            let s = scrape(&base).await;
            sum(&s, "switchyard_queue_depth", &["webhook_deliveries"]) == 0.0
                && sum(&s, "switchyard_queue_depth", &["stock_pushes"]) == 0.0
        }
    })
    .await;
    let s = scrape(&base).await;
    // Orders imported, by channel: 5 sales + the 3PL order + the order to
    // the US (excluded, but imported) + the held order.
    let shopify = sum(&s, "switchyard_orders_imported_total", &["shopify"]);
    let woo = sum(&s, "switchyard_orders_imported_total", &["woocommerce"]);
    assert_eq!(shopify + woo, 8.0, "{s:#?}");
    assert!(
        shopify >= 1.0 && woo >= 1.0,
        "both channels imported: {s:#?}"
    );
    assert!(sum(&s, "switchyard_import_rounds_total", &["outcome=\"ok\""]) >= 8.0);
    assert_eq!(
        sum(&s, "switchyard_import_rounds_total", &["outcome=\"error\""]),
        0.0
    );
    // Stock pushes to both channels, none failed, each with its
    // propagation time.
    for ch in ["shopify", "woocommerce"] {
        let sent = sum(&s, "switchyard_stock_pushes_total", &[ch, "sent"]);
        assert!(sent > 0.0, "{ch}: {s:#?}");
        let propagated = sum(&s, "switchyard_stock_propagation_seconds_count", &[ch]);
        assert_eq!(
            propagated, sent,
            "{ch}: one propagation per confirmed quantity"
        );
        assert!(sum(&s, "switchyard_stock_push_seconds_count", &[ch]) > 0.0);
        let within_10s = sum(
            &s,
            "switchyard_stock_propagation_seconds_bucket",
            &[ch, "le=\"10\""],
        );
        assert_eq!(within_10s, sent, "{ch}: every sale propagated within 10 s");
    }
    assert_eq!(sum(&s, "switchyard_stock_pushes_total", &["failed"]), 0.0);
    // The API shipment and the 3PL shipment, both synced.
    assert_eq!(
        sum(&s, "switchyard_fulfilment_syncs_total", &["outcome=\"ok\""]),
        2.0
    );
    // The 3PL took its order; the receiver took every webhook.
    assert_eq!(
        sum(&s, "switchyard_deliveries_total", &["plugin", "ok"]),
        1.0
    );
    let hooks = sum(&s, "switchyard_deliveries_total", &["webhook", "ok"]);
    assert!(hooks >= 8.0, "{s:#?}");
    assert_eq!(
        sum(&s, "switchyard_delivery_seconds_count", &["webhook"]),
        hooks
    );
    // HTTP by route template and status.
    assert!(
        sum(
            &s,
            "switchyard_http_requests_total",
            &["route=\"/v1/inbound/{channel_id}\"", "status=\"202\""]
        ) >= 8.0,
        "{s:#?}"
    );
    assert!(
        sum(
            &s,
            "switchyard_http_requests_total",
            &["route=\"/v1/stores/{store_id}/products\"", "status=\"201\""]
        ) > 0.0
    );
    assert!(
        sum(
            &s,
            "switchyard_http_request_duration_seconds_count",
            &["route=\"/v1/orders/{order_id}\""]
        ) > 0.0
    );
    // The queues, each with the age of its oldest item.
    for q in ["stock_pushes", "webhook_deliveries", "plugin_messages"] {
        assert!(
            s.contains_key(&format!("switchyard_queue_depth{{queue=\"{q}\"}}")),
            "{q}"
        );
        assert!(
            s.contains_key(&format!(
                "switchyard_queue_oldest_age_seconds{{queue=\"{q}\"}}"
            )),
            "{q}"
        );
    }
}

/// Readiness needs the database and a live worker instance; liveness
/// needs only the process.
#[tokio::test]
async fn readiness_needs_a_worker_and_liveness_does_not() {
    let api = spawn_api_only().await;
    let r = reqwest::get(format!("{}/readyz", api.address))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["workers"], 0);
    assert_eq!(body["error"]["code"], "not_ready");
    let r = reqwest::get(format!("{}/healthz", api.address))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let app = spawn_app().await;
    let url = format!("{}/readyz", app.address);
    eventually("the workers' first heartbeat", 10, || {
        let url = url.clone();
        async move { reqwest::get(url).await.unwrap().status() == StatusCode::OK }
    })
    .await;
    let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["workers"], 1);
}

/// `docs/openapi.json` is what the server serves: regenerate it with
/// `cargo run -- openapi > docs/openapi.json` after changing the API.
#[tokio::test]
async fn the_committed_openapi_document_is_the_served_one() {
    let app = spawn_api_only().await;
    let served: Value = reqwest::get(format!("{}/v1/openapi.json", app.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("docs/openapi.json")).unwrap();
    assert!(
        served == committed,
        "docs/openapi.json differs from the served document; run `cargo run -- openapi > docs/openapi.json`"
    );
    // Receivers can generate their payload types: every event type is in
    // the webhooks section, with its data schema and the signature headers.
    for kind in switchyard_domain::webhook::EventType::ALL {
        let op = &served["webhooks"][kind.to_string()]["post"];
        let props = &op["requestBody"]["content"]["application/json"]["schema"]["properties"];
        assert_eq!(props["type"]["const"], kind.to_string(), "{op}");
        assert!(props["data"].is_object(), "{kind}: {op}");
        let headers: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(
            headers,
            ["webhook-id", "webhook-timestamp", "webhook-signature"],
            "{kind}"
        );
    }
    assert!(served["webhooks"]["plugin.order.routed"].is_object());
    // The reference page is there, with its assets embedded.
    let r = reqwest::get(format!("{}/docs/", app.address))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("swagger-ui-bundle.js"), "{page}");
    let js = reqwest::get(format!("{}/docs/swagger-ui-bundle.js", app.address))
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(
        js.bytes().await.unwrap().len() > 100_000,
        "the bundle is served from the binary"
    );
}

/// A child process, killed when dropped however the test ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `metrics_listen` moves `/metrics` to its own address: the API's address
/// no longer answers it, the metrics address answers nothing else, and a
/// `metrics_listen` that is not an address stops `serve` with one line.
#[tokio::test]
async fn metrics_can_have_an_address_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let (api, metrics) = (
        switchyard_testkit::free_port(),
        switchyard_testkit::free_port(),
    );
    let serve = |metrics_listen: String| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
        c.args(["serve", "--listen", &format!("127.0.0.1:{api}")])
            .arg("--data-dir")
            .arg(dir.path())
            .env("SWITCHYARD_METRICS_LISTEN", metrics_listen)
            .env("RUST_LOG", "off")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        c
    };
    let out = serve("not an address".into()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid metrics_listen"), "{stderr}");

    let _server = Killed(serve(format!("127.0.0.1:{metrics}")).spawn().unwrap());
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{api}");
    let scrape_at = format!("http://127.0.0.1:{metrics}/metrics");
    eventually("the server to answer", 30, || {
        let http = http.clone();
        let url = format!("{base}/healthz");
        async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    let r = http.get(&scrape_at).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("switchyard_http_requests_total"), "{text}");
    assert!(text.contains("switchyard_queue_depth"), "{text}");
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(
        r.status(),
        404,
        "the API's address no longer serves /metrics"
    );
    let r = http
        .get(format!("http://127.0.0.1:{metrics}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the metrics address serves /metrics only");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
}
