//! The shared HTTP layer against a scripted server on loopback. Waits are
//! asserted on the server's own request log (arrival times), not on how long
//! the test took.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchyard_connectors::ConnectorError;
use switchyard_connectors::http::{ChannelHttp, HttpPolicy, HttpRequest, HttpResponse};
use switchyard_domain::webhook::AddressPolicy;

/// What the server does with the next request.
#[derive(Debug, Clone)]
enum Act {
    /// Answer with this status, headers and body.
    Reply(u16, Vec<(&'static str, String)>, String),
    /// Wait, then answer 200 `{}`.
    Slow(Duration),
}

fn ok() -> Act {
    Act::Reply(200, vec![], "{\"ok\":true}".into())
}

#[derive(Debug, Default)]
struct Script {
    queue: Mutex<VecDeque<Act>>,
    log: Mutex<Vec<(Instant, String)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

async fn handle(State(s): State<Arc<Script>>, uri: axum::http::Uri) -> Response {
    s.log
        .lock()
        .unwrap()
        .push((Instant::now(), uri.to_string()));
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let act = s.queue.lock().unwrap().pop_front().unwrap_or_else(ok);
    let resp = match act {
        Act::Reply(code, headers, body) => {
            let mut r = (StatusCode::from_u16(code).unwrap(), body).into_response();
            for (k, v) in headers {
                r.headers_mut().insert(
                    HeaderName::from_static(k),
                    HeaderValue::from_str(&v).unwrap(),
                );
            }
            r
        }
        Act::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "{}").into_response()
        }
    };
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    resp
}

async fn serve(acts: Vec<Act>) -> (String, Arc<Script>) {
    serve_at("127.0.0.1", acts).await
}

async fn serve_at(ip: &str, acts: Vec<Act>) -> (String, Arc<Script>) {
    let script = Arc::new(Script::default());
    script.queue.lock().unwrap().extend(acts);
    let app = Router::new().fallback(handle).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), script)
}

fn fast_policy() -> HttpPolicy {
    HttpPolicy {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(300),
        max_attempts: 4,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        max_concurrency: 4,
        outbound: loopback(),
    }
}

/// The outbound policy of these tests: the scripted server on 127.0.0.1.
fn loopback() -> AddressPolicy {
    AddressPolicy::parse(&["127.0.0.1".to_owned()]).unwrap()
}

fn client(policy: HttpPolicy) -> ChannelHttp {
    ChannelHttp::new("test-channel", policy, vec!["s3cr3t-token".into()]).unwrap()
}

fn gaps(s: &Script) -> Vec<Duration> {
    let log = s.log.lock().unwrap();
    log.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

#[tokio::test]
async fn server_errors_are_retried_until_one_succeeds() {
    let (base, s) = serve(vec![
        Act::Reply(503, vec![], String::new()),
        Act::Reply(502, vec![], String::new()),
        ok(),
    ])
    .await;
    let r = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/orders")))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s.log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_429_is_followed_by_a_wait_that_honours_retry_after() {
    let (base, s) = serve(vec![
        Act::Reply(429, vec![("retry-after", "1".into())], String::new()),
        ok(),
    ])
    .await;
    let r = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/orders")))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let g = gaps(&s);
    assert_eq!(g.len(), 1);
    assert!(
        g[0] >= Duration::from_millis(990),
        "retried after {:?}, asked for 1 s",
        g[0]
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_clamp_is_cut_to_the_clamp() {
    let policy = HttpPolicy {
        max_retry_after: Duration::from_millis(300),
        ..fast_policy()
    };
    let (base, s) = serve(vec![
        Act::Reply(429, vec![("retry-after", "3600".into())], String::new()),
        ok(),
    ])
    .await;
    client(policy)
        .send(&HttpRequest::get(format!("{base}/x")))
        .await
        .unwrap();
    let g = gaps(&s)[0];
    assert!(
        g >= Duration::from_millis(290) && g < Duration::from_secs(30),
        "waited {g:?}"
    );
}

#[tokio::test]
async fn a_rate_limit_holds_back_the_channels_other_requests_too() {
    let policy = HttpPolicy {
        max_concurrency: 1,
        ..fast_policy()
    };
    let (base, s) = serve(vec![Act::Reply(
        429,
        vec![("retry-after", "1".into())],
        String::new(),
    )])
    .await;
    let c = client(policy);
    let (ra, rb) = (
        HttpRequest::get(format!("{base}/a")),
        HttpRequest::get(format!("{base}/b")),
    );
    let (a, b) = tokio::join!(c.send(&ra), c.send(&rb));
    assert!(a.is_ok() && b.is_ok());
    let log = s.log.lock().unwrap();
    assert_eq!(log.len(), 3);
    // Every request after the 429 arrived at least a second after it.
    for later in &log[1..] {
        assert!(
            later.0 - log[0].0 >= Duration::from_millis(990),
            "{:?}",
            later.0 - log[0].0
        );
    }
}

#[tokio::test]
async fn auth_failures_are_not_retried_and_say_what_to_fix() {
    let (base, s) = serve(vec![Act::Reply(
        401,
        vec![],
        "{\"errors\":\"[API] Invalid API key\"}".into(),
    )])
    .await;
    let e = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/orders")))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ConnectorError::Auth { status: 401, .. }),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("credentials"));
    assert_eq!(
        s.log.lock().unwrap().len(),
        1,
        "auth failures are never retried"
    );
}

#[tokio::test]
async fn persistent_server_errors_end_retryable_after_the_last_attempt() {
    let acts = vec![Act::Reply(500, vec![], String::new()); 10];
    let (base, s) = serve(acts).await;
    let e = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/orders")))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ConnectorError::Unavailable { attempts: 4, .. }),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert_eq!(s.log.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn slow_responses_time_out_and_are_retried() {
    let (base, s) = serve(vec![Act::Slow(Duration::from_secs(2)), ok()]).await;
    let r = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/slow")))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s.log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn connection_failures_are_retryable() {
    // Bind, learn the port, close: nothing listens there any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = client(fast_policy())
        .send(&HttpRequest::get(format!("http://127.0.0.1:{port}/x")))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Unreachable { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(e.never_reached(), "the channel never saw it");
}

#[tokio::test]
async fn a_request_that_must_not_run_twice_is_resent_only_when_the_channel_never_acted() {
    // A 500 may have been acted on: the caller gets the error and looks first.
    let (base, s) = serve(vec![Act::Reply(500, vec![], String::new()), ok()]).await;
    let e = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/shipments")).not_idempotent())
        .await
        .unwrap_err();
    assert!(e.is_retryable() && !e.never_reached(), "{e:?}");
    assert_eq!(s.log.lock().unwrap().len(), 1, "not resent blindly");
    // A 429 was refused before any work: resending is safe.
    let (base, s) = serve(vec![
        Act::Reply(429, vec![("retry-after", "0".into())], String::new()),
        ok(),
    ])
    .await;
    let r = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/shipments")).not_idempotent())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s.log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn other_client_errors_are_rejected_with_the_body_redacted() {
    let body = "{\"message\":\"invalid sku for token s3cr3t-token\"}";
    let (base, s) = serve(vec![Act::Reply(422, vec![], body.into())]).await;
    let e = client(fast_policy())
        .send(&HttpRequest::json(
            reqwest::Method::POST,
            format!("{base}/x?consumer_secret=cs_1"),
            &json!({}),
        ))
        .await
        .unwrap_err();
    match &e {
        ConnectorError::Rejected { status, body, .. } => {
            assert_eq!(*status, 422);
            assert!(
                body.contains("invalid sku") && !body.contains("s3cr3t-token"),
                "{body}"
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(!e.is_retryable());
    assert_eq!(s.log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn in_flight_requests_never_exceed_the_channels_cap() {
    let policy = HttpPolicy {
        max_concurrency: 2,
        request_timeout: Duration::from_secs(5),
        ..fast_policy()
    };
    let acts = vec![Act::Slow(Duration::from_millis(100)); 8];
    let (base, s) = serve(acts).await;
    let c = client(policy);
    let reqs: Vec<HttpRequest> = (0..8)
        .map(|i| HttpRequest::get(format!("{base}/r{i}")))
        .collect();
    let results = futures_join_all(&c, &reqs).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(s.max_in_flight.load(Ordering::SeqCst), 2);
}

async fn futures_join_all(
    c: &ChannelHttp,
    reqs: &[HttpRequest],
) -> Vec<Result<HttpResponse, ConnectorError>> {
    let mut set = tokio::task::JoinSet::new();
    for r in reqs {
        let (c, r) = (c.clone(), r.clone());
        set.spawn(async move { c.send(&r).await });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

#[tokio::test]
async fn malformed_json_is_retried_by_send_json() {
    let (base, s) = serve(vec![Act::Reply(200, vec![], "{\"orders\": [".into()), ok()]).await;
    let (_, v) = client(fast_policy())
        .send_json(&HttpRequest::get(format!("{base}/orders")))
        .await
        .unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(s.log.lock().unwrap().len(), 2);
}

fn shopify_signal(r: &HttpResponse) -> Option<Duration> {
    r.json_value()
        .and_then(|v| switchyard_connectors::ratelimit::shopify_graphql_throttle(&v))
}

#[tokio::test]
async fn a_channels_own_throttle_signal_delays_the_next_request() {
    let low = json!({ "data": {}, "extensions": { "cost": { "requestedQueryCost": 200,
        "throttleStatus": { "maximumAvailable": 2000.0, "currentlyAvailable": 100, "restoreRate": 100.0 } } } });
    let (base, s) = serve(vec![Act::Reply(200, vec![], low.to_string()), ok()]).await;
    let c = client(fast_policy()).with_signals(shopify_signal);
    c.send(&HttpRequest::get(format!("{base}/graphql.json")))
        .await
        .unwrap();
    c.send(&HttpRequest::get(format!("{base}/graphql.json")))
        .await
        .unwrap();
    let g = gaps(&s)[0];
    assert!(
        g >= Duration::from_millis(990),
        "second query sent after {g:?}; the bucket needed 1 s to refill"
    );
}

/// A destination the operator's policy refuses is never contacted: not
/// when written as an address (in any of its spellings), not when a name
/// resolves to it, not when an allowed server redirects to it.
#[tokio::test]
async fn refused_destinations_are_never_contacted_and_never_get_credentials() {
    let (base, s) = serve(vec![]).await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let strict = HttpPolicy {
        outbound: AddressPolicy::default(),
        ..fast_policy()
    };
    for url in [
        format!("{base}/admin"),
        format!("http://localhost:{port}/admin"),
        format!("http://2130706433:{port}/admin"),
        format!("http://0x7f000001:{port}/admin"),
        format!("http://[::ffff:127.0.0.1]:{port}/admin"),
        format!("http://[64:ff9b::7f00:1]:{port}/admin"),
        format!("http://user:pw@127.0.0.1:{port}/admin"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
    ] {
        let e = client(strict.clone())
            .send(&HttpRequest::get(url.clone()).header("authorization", "Bearer s3cr3t-token"))
            .await
            .unwrap_err();
        assert!(matches!(e, ConnectorError::Blocked { .. }), "{url}: {e:?}");
        assert_eq!(e.code(), "blocked_destination");
        assert!(!e.is_retryable(), "{url}");
        assert!(!e.to_string().contains("s3cr3t-token"));
    }
    assert!(
        s.log.lock().unwrap().is_empty(),
        "nothing reached the server"
    );

    // Allowed: 127.0.0.1 only. A redirect to 127.0.0.2 is not followed.
    let (elsewhere, other) = serve_at("127.0.0.2", vec![]).await;
    let (base, s) = serve(vec![Act::Reply(
        302,
        vec![("location", format!("{elsewhere}/steal"))],
        String::new(),
    )])
    .await;
    let e = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/orders")))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Blocked { .. }), "{e:?}");
    assert!(e.to_string().contains("127.0.0.2"), "{e}");
    assert_eq!(s.log.lock().unwrap().len(), 1);
    assert!(
        other.log.lock().unwrap().is_empty(),
        "the redirect was not followed"
    );
    // An allowed redirect is followed.
    let (base, s) = serve(vec![
        Act::Reply(301, vec![("location", "/moved".into())], String::new()),
        ok(),
    ])
    .await;
    let r = client(fast_policy())
        .send(&HttpRequest::get(format!("{base}/orders")))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s.log.lock().unwrap()[1].1, "/moved");
}
