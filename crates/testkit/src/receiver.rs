//! A webhook receiver on loopback: records every request (headers and the
//! raw body) and answers as the test tells it to.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// How the receiver answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// 204.
    Accept,
    /// This status, with a short body.
    Status(u16),
    /// 302 to this location.
    Redirect(String),
    /// Never answer (the request stays open until the client gives up).
    Hold,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
    /// The raw body.
    pub body: String,
    /// What it was answered (0 for held).
    pub answered: u16,
}

impl Received {
    /// The body as JSON.
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }

    /// The event type in the body.
    #[must_use]
    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Debug, Default)]
struct Inner {
    mode: Mutex<Option<Mode>>,
    got: Mutex<Vec<Received>>,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    /// `http://127.0.0.1:{port}/hook`.
    pub url: String,
    /// The port.
    pub port: u16,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let mode = inner
        .mode
        .lock()
        .expect("lock")
        .clone()
        .unwrap_or(Mode::Accept);
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let answered = match &mode {
        Mode::Accept => 204,
        Mode::Status(s) => *s,
        Mode::Redirect(_) => 302,
        Mode::Hold => 0,
    };
    inner.got.lock().expect("lock").push(Received {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        answered,
    });
    match mode {
        Mode::Accept => StatusCode::NO_CONTENT.into_response(),
        Mode::Status(s) => (
            StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "receiver says no",
        )
            .into_response(),
        Mode::Redirect(to) => (StatusCode::FOUND, [("location", to)]).into_response(),
        Mode::Hold => {
            std::future::pending::<()>().await;
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

impl Receiver {
    /// Listen on a random loopback port, accepting everything.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .fallback(axum::routing::any(handle))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            inner,
            task,
        }
    }

    /// Answer from now on as `mode` says.
    pub fn set(&self, mode: Mode) {
        *self.inner.mode.lock().expect("lock") = Some(mode);
    }

    /// Everything received so far.
    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        self.inner.got.lock().expect("lock").clone()
    }

    /// Poll (every 50 ms, at most `secs`) until `done` holds of what was received.
    pub async fn wait_for(
        &self,
        what: &str,
        secs: u64,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        crate::eventually(&format!("webhooks: {what}"), secs, || async {
            done(&self.received())
        })
        .await;
        self.received()
    }
}

/// The Python interpreter that has the official `standardwebhooks`
/// package: `SWITCHYARD_PYTHON` (scripts/test points it at the virtual
/// environment it makes), else `python3`.
fn python_with_standardwebhooks() -> Result<String, String> {
    let python = std::env::var("SWITCHYARD_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(python)
    } else {
        Err(format!(
            "this test verifies webhook signatures with the official Standard Webhooks \
             Python library, which `{python}` cannot import: run the tests with \
             `scripts/test` (it makes a virtual environment with it), or `pip install \
             standardwebhooks` and point SWITCHYARD_PYTHON at that interpreter"
        ))
    }
}

/// Verify deliveries with the official `standardwebhooks` Python package
/// (run by `scripts/verify_webhooks.py`): returns the event types it
/// verified, in order, or the script's error (or what is missing to run it).
pub fn verify_with_python(secret: &str, got: &[Received]) -> Result<Vec<String>, String> {
    let deliveries: Vec<serde_json::Value> = got
        .iter()
        .map(|r| {
            serde_json::json!({
                "headers": { "webhook-id": r.id, "webhook-timestamp": r.timestamp, "webhook-signature": r.signature },
                "body": r.body,
            })
        })
        .collect();
    let input = serde_json::json!({ "secret": secret, "deliveries": deliveries });
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("deliveries.json");
    std::fs::write(&file, input.to_string()).map_err(|e| e.to_string())?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/verify_webhooks.py"
    );
    let python = python_with_standardwebhooks()?;
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "verification failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let types: Vec<String> =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("script output: {e}"))?;
    Ok(types)
}
