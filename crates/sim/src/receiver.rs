//! A merchant's webhook endpoint: it takes Switchyard's deliveries on
//! `POST /hooks`, checks each signature with the subscription's secret
//! (Standard Webhooks, see [`crate::signing`]), answers 204 when it
//! verifies and 401 when it does not, and keeps what arrived for
//! `GET /_sim/received` and [`RunningReceiver::received`].

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::core::lock;
use crate::{SimError, signing};

/// One delivery as the receiver saw it.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedWebhook {
    /// `webhook-id` (the message id, the same on every retry).
    pub id: Option<String>,
    /// The body's `type` (`order.created`, …).
    pub event_type: Option<String>,
    /// Whether a signature matched the secret, or why not.
    pub verified: Result<(), String>,
    /// The body.
    pub body: Value,
    /// When it arrived.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Default)]
struct Inner {
    key: Option<Vec<u8>>,
    received: Vec<ReceivedWebhook>,
}

type Shared = Arc<Mutex<Inner>>;

async fn receive(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut inner = lock(&app);
    let verified = match &inner.key {
        Some(key) => signing::verify(key, &headers, &body).map(|_| ()),
        None => Err("no secret set yet".to_owned()),
    };
    let status = if verified.is_ok() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    inner.received.push(ReceivedWebhook {
        id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        event_type: body["type"].as_str().map(str::to_owned),
        verified,
        body,
        received_at: chrono::Utc::now(),
    });
    status
}

async fn list(State(app): State<Shared>) -> Json<Value> {
    Json(json!({ "items": lock(&app).received }))
}

/// The receiver serving in the background (dropped: it stops).
#[derive(Debug)]
pub struct RunningReceiver {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    inner: Shared,
    server: crate::Server,
}

impl RunningReceiver {
    /// The endpoint to subscribe: `http://addr/hooks`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    /// Check signatures with `secret` (`whsec_…`) from now on.
    pub fn set_secret(&self, secret: &str) -> Result<(), SimError> {
        lock(&self.inner).key = Some(signing::secret_key(secret)?);
        Ok(())
    }

    /// Every delivery so far, oldest first.
    #[must_use]
    pub fn received(&self) -> Vec<ReceivedWebhook> {
        lock(&self.inner).received.clone()
    }

    /// Stop serving and wait for it.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Serve a receiver on a free loopback port.
pub async fn spawn() -> Result<RunningReceiver, SimError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let inner = Shared::default();
    let router = Router::new()
        .route("/hooks", post(receive))
        .route("/_sim/received", get(list))
        .with_state(Arc::clone(&inner));
    Ok(RunningReceiver {
        addr,
        inner,
        server: crate::Server::start(listener, router, "webhook receiver"),
    })
}
