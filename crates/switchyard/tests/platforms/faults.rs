//! A loopback proxy in front of a real platform that breaks chosen
//! requests the ways networks and overloaded servers do: 503s, 429s with
//! `Retry-After`, garbled bodies, and answers lost after the platform acted.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 503 without forwarding.
    Unavailable,
    /// Answer 429 with `Retry-After: 1` without forwarding.
    TooMany,
    /// Forward, then answer 200 with half of the body.
    Garbled,
    /// Forward (the platform acts), then answer 502.
    LoseAnswer,
}

type Matcher = Box<dyn Fn(&Method, &str, &[u8]) -> bool + Send + Sync>;

#[derive(Default)]
struct Inner {
    queue: Vec<(Matcher, Fault)>,
    applied: Vec<Fault>,
}

/// The proxy; stops with the test's runtime.
#[derive(Clone)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FaultProxy {
    /// Start a proxy to `upstream`.
    pub async fn start(upstream: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (up, state) = (upstream.to_owned(), inner.clone());
        let client = reqwest::Client::new();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (up, state, client) = (up.clone(), state.clone(), client.clone());
                async move { forward(&client, &up, &state, method, uri, headers, body).await }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inner }
    }

    /// Break the next request for which `matches(method, path and query, body)` holds.
    pub fn next(
        &self,
        fault: Fault,
        matches: impl Fn(&Method, &str, &[u8]) -> bool + Send + Sync + 'static,
    ) {
        self.inner
            .lock()
            .unwrap()
            .queue
            .push((Box::new(matches), fault));
    }

    /// Faults applied so far, in order.
    pub fn applied(&self) -> Vec<Fault> {
        self.inner.lock().unwrap().applied.clone()
    }
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    state: &Mutex<Inner>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let fault = {
        let mut s = state.lock().unwrap();
        let hit = s.queue.iter().position(|(m, _)| m(&method, &target, &body));
        let fault = hit.map(|i| s.queue.remove(i).1);
        if let Some(f) = fault {
            s.applied.push(f);
        }
        fault
    };
    match fault {
        Some(Fault::Unavailable) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "upstream overloaded").into_response();
        }
        Some(Fault::TooMany) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                "slow down",
            )
                .into_response();
        }
        _ => {}
    }
    let mut req = client
        .request(method, format!("{upstream}{target}"))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    let Ok(r) = req.send().await else {
        return (StatusCode::BAD_GATEWAY, "upstream unreachable").into_response();
    };
    let status = r.status();
    let content_type = r.headers().get("content-type").cloned();
    let bytes = r.bytes().await.unwrap_or_default();
    match fault {
        Some(Fault::LoseAnswer) => (StatusCode::BAD_GATEWAY, "connection reset").into_response(),
        Some(Fault::Garbled) => (StatusCode::OK, bytes.slice(..bytes.len() / 2)).into_response(),
        _ => {
            let mut resp = (status, bytes).into_response();
            if let Some(ct) = content_type {
                resp.headers_mut().insert("content-type", ct);
            }
            resp
        }
    }
}
