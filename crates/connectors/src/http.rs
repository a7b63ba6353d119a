//! The one HTTP layer every connector uses.
//!
//! - connect and whole-request timeouts;
//! - retries on 5xx, timeouts and connection failures, with exponential
//!   backoff and ±20 % jitter;
//! - 429 (and 503 with `Retry-After`) waits as long as the channel asks,
//!   clamped to [`HttpPolicy::max_retry_after`], and the wait holds back every
//!   request of the channel, not only the one that was refused;
//! - the channel's own rate-limit signals (a [`SignalFn`], e.g. Shopify's
//!   GraphQL cost or REST call-limit header) hold back the next request before
//!   the channel has to refuse it;
//! - at most [`HttpPolicy::max_concurrency`] requests in flight per channel;
//! - every attempt logged with the channel's secrets redacted;
//! - errors typed by whether a retry can help; auth failures never retried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use switchyard_domain::retry::RetryPolicy;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::error::ConnectorError;
use crate::{outbound, ratelimit};

/// Timeouts, retries and limits of one channel's HTTP traffic.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included.
    pub request_timeout: Duration,
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled each time.
    pub base_backoff: Duration,
    /// Longest backoff between attempts.
    pub max_backoff: Duration,
    /// Longest `Retry-After` or rate-limit wait honoured; longer asks are
    /// clamped (a channel asking for an hour must not stall a worker).
    pub max_retry_after: Duration,
    /// Requests in flight at once for this channel.
    pub max_concurrency: usize,
    /// Where the channel may be reached: every request's address (and
    /// every redirect's) is checked against it, names after resolution.
    pub outbound: switchyard_domain::webhook::AddressPolicy,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_attempts: 5,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            max_concurrency: 4,
            outbound: switchyard_domain::webhook::AddressPolicy::default(),
        }
    }
}

/// Reads a channel-specific rate-limit signal from a response: how long to
/// hold back the channel's next request.
pub type SignalFn = fn(&HttpResponse) -> Option<Duration>;

/// A request to send (and possibly resend).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Method.
    pub method: reqwest::Method,
    /// Absolute URL.
    pub url: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Headers that authenticate (a token, a key): sent like the others,
    /// never shown by `Debug`.
    pub secret_headers: Vec<(String, SecretString)>,
    /// Body bytes, sent as JSON when [`HttpRequest::json`] built it.
    pub body: Option<Vec<u8>>,
    /// Whether sending it twice is harmless. A request that is not (creating
    /// a shipment, adding a note) is resent only when the channel cannot
    /// have acted on it (connection refused, 429); after a timeout, a 5xx or
    /// an unreadable answer the error is returned, so the caller can look
    /// before it tries again.
    pub idempotent: bool,
}

impl HttpRequest {
    /// A GET.
    #[must_use]
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::GET,
            url: url.into(),
            headers: Vec::new(),
            secret_headers: Vec::new(),
            body: None,
            idempotent: true,
        }
    }

    /// A DELETE without a body.
    #[must_use]
    pub fn delete(url: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::DELETE,
            ..Self::get(url)
        }
    }

    /// A request with a JSON body.
    #[must_use]
    pub fn json(method: reqwest::Method, url: impl Into<String>, body: &Value) -> Self {
        Self {
            method,
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            secret_headers: Vec::new(),
            body: Some(body.to_string().into_bytes()),
            idempotent: true,
        }
    }

    /// A request with a form-encoded (`application/x-www-form-urlencoded`) body.
    #[must_use]
    pub fn form(method: reqwest::Method, url: impl Into<String>, fields: &[(&str, &str)]) -> Self {
        Self {
            method,
            url: url.into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            secret_headers: Vec::new(),
            // Pairs of strings always encode.
            body: Some(
                serde_urlencoded::to_string(fields)
                    .unwrap_or_default()
                    .into_bytes(),
            ),
            idempotent: true,
        }
    }

    /// Mark the request as unsafe to resend blindly (see [`HttpRequest::idempotent`]).
    #[must_use]
    pub fn not_idempotent(mut self) -> Self {
        self.idempotent = false;
        self
    }

    /// Add a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Add a header that authenticates (`authorization`, an API key).
    #[must_use]
    pub fn secret_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.secret_headers
            .push((name.into(), SecretString::from(value.into())));
        self
    }
}

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header as text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON, if it is JSON.
    #[must_use]
    pub fn json_value(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Replace every secret, and the values of secret-looking query parameters,
/// with `***`.
#[must_use]
pub fn redact(text: &str, secrets: &[SecretString]) -> String {
    let mut out = text.to_owned();
    for s in secrets
        .iter()
        .map(ExposeSecret::expose_secret)
        .filter(|s| s.len() >= 4)
    {
        out = out.replace(s, "***");
    }
    const KEYS: [&str; 9] = [
        "consumer_key",
        "consumer_secret",
        "access_token",
        "api_key",
        "client_secret",
        "refresh_token",
        "signature",
        "token",
        "password",
    ];
    let Some((base, query)) = out.split_once('?') else {
        return out;
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)) => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

/// An error with its sources, `a: b: c` (reqwest's own message names only
/// the outermost).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// One channel's HTTP client.
#[derive(Debug, Clone)]
pub struct ChannelHttp {
    label: String,
    client: reqwest::Client,
    policy: HttpPolicy,
    permits: Arc<Semaphore>,
    not_before: Arc<Mutex<Option<Instant>>>,
    secrets: Arc<Vec<SecretString>>,
    signals: Option<SignalFn>,
}

enum Outcome {
    Done(HttpResponse, Option<Value>),
    Fail(ConnectorError),
    Retry {
        error: ConnectorError,
        wait: Duration,
    },
}

impl ChannelHttp {
    /// A client for the channel named `label` (used in logs and errors),
    /// redacting `secrets` wherever it logs.
    pub fn new(
        label: impl Into<String>,
        policy: HttpPolicy,
        secrets: Vec<String>,
    ) -> Result<Self, ConnectorError> {
        let label = label.into();
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(outbound::GuardedResolver::new(
                policy.outbound.clone(),
            )))
            .redirect(outbound::redirect_policy(&policy.outbound))
            .no_proxy()
            .build()
            .map_err(|e| ConnectorError::Client {
                channel: label.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(policy.max_concurrency.max(1))),
            not_before: Arc::new(Mutex::new(None)),
            secrets: Arc::new(secrets.into_iter().map(SecretString::from).collect()),
            signals: None,
            label,
            client,
            policy,
        })
    }

    /// Read the channel's own rate-limit signals from every response.
    #[must_use]
    pub fn with_signals(mut self, f: SignalFn) -> Self {
        self.signals = Some(f);
        self
    }

    /// The channel label.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Hold back every request of this channel for `wait` (clamped).
    pub fn hold_off(&self, wait: Duration) {
        let until = Instant::now() + wait.min(self.policy.max_retry_after);
        if let Ok(mut nb) = self.not_before.lock()
            && nb.is_none_or(|t| t < until)
        {
            *nb = Some(until);
        }
    }

    async fn wait_turn(&self) {
        let until = self.not_before.lock().ok().and_then(|nb| *nb);
        if let Some(t) = until {
            tokio::time::sleep_until(t).await;
        }
    }

    /// The wait before attempt `attempt + 1`: the policy's doubling from
    /// `base_backoff` up to `max_backoff`, spread by ±20 %.
    fn backoff(&self, attempt: u32) -> Duration {
        let mut b = [0u8; 4];
        let r = if getrandom::fill(&mut b).is_ok() {
            u32::from_le_bytes(b)
        } else {
            u32::MAX / 2
        };
        let unit = f64::from(r) / (f64::from(u32::MAX) + 1.0);
        RetryPolicy::doubling(self.policy.base_backoff, self.policy.max_backoff)
            .with_jitter(0.2)
            .delay(attempt, unit)
            .unwrap_or(self.policy.max_backoff)
    }

    /// Send `req`, retrying what can be retried. Returns the first 2xx/3xx
    /// response, or the error that ended the attempts.
    pub async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, ConnectorError> {
        self.run(req, false).await.map(|(r, _)| r)
    }

    /// Send `req` and parse the body as JSON. A malformed body counts as a
    /// failed attempt and is retried like a 5xx, within the same attempts.
    pub async fn send_json(
        &self,
        req: &HttpRequest,
    ) -> Result<(HttpResponse, Value), ConnectorError> {
        let (resp, json) = self.run(req, true).await?;
        let json = json.ok_or_else(|| ConnectorError::Client {
            channel: self.label.clone(),
            reason: "JSON body was not parsed".into(),
        })?;
        Ok((resp, json))
    }

    /// The one attempt loop behind [`send`](Self::send) and [`send_json`](Self::send_json).
    async fn run(
        &self,
        req: &HttpRequest,
        want_json: bool,
    ) -> Result<(HttpResponse, Option<Value>), ConnectorError> {
        let attempts = self.policy.max_attempts.max(1);
        let mut last = None;
        for attempt in 1..=attempts {
            match self.attempt(req, attempt, want_json).await {
                Outcome::Done(r, json) => return Ok((r, json)),
                Outcome::Fail(e) => return Err(e),
                Outcome::Retry { error, wait } if !req.idempotent && !error.never_reached() => {
                    let _ = wait;
                    return Err(error);
                }
                Outcome::Retry { error, wait } => {
                    if attempt < attempts {
                        tracing::warn!(channel = %self.label, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying");
                        tokio::time::sleep(wait).await;
                    }
                    last = Some(error);
                }
            }
        }
        Err(last.unwrap_or_else(|| ConnectorError::Client {
            channel: self.label.clone(),
            reason: "no attempt was made".into(),
        }))
    }

    async fn attempt(&self, req: &HttpRequest, attempt: u32, want_json: bool) -> Outcome {
        self.wait_turn().await;
        let Ok(_permit) = self.permits.acquire().await else {
            return Outcome::Fail(ConnectorError::Client {
                channel: self.label.clone(),
                reason: "client is shut down".into(),
            });
        };
        // A rate limit may have arrived while this request queued for a
        // permit; look again now that it is about to go out.
        self.wait_turn().await;
        let url = redact(&req.url, &self.secrets);
        // Checked before anything (credentials included) is sent: an
        // address written in the URL never reaches the resolver.
        let allowed = reqwest::Url::parse(&req.url)
            .map_err(|e| e.to_string())
            .and_then(|u| outbound::check_url(&u, &self.policy.outbound));
        if let Err(reason) = allowed {
            tracing::warn!(channel = %self.label, url = %url, reason = %reason, "destination refused");
            return Outcome::Fail(ConnectorError::Blocked {
                channel: self.label.clone(),
                reason,
            });
        }
        let started = Instant::now();
        let mut builder = self.client.request(req.method.clone(), &req.url);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        for (k, v) in &req.secret_headers {
            builder = builder.header(k, v.expose_secret());
        }
        if let Some(b) = &req.body {
            builder = builder.body(b.clone());
        }
        let result = match builder.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let headers = r.headers().clone();
                r.bytes().await.map(|b| HttpResponse {
                    status,
                    headers,
                    body: b.to_vec(),
                })
            }
            Err(e) => Err(e),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                let transient = e.is_timeout()
                    || e.is_connect()
                    || e.is_request()
                    || e.is_body()
                    || e.is_decode();
                tracing::debug!(channel = %self.label, method = %req.method, url = %url, attempt, elapsed_ms, error = %e, "request failed");
                if outbound::is_refusal(&e) {
                    return Outcome::Fail(ConnectorError::Blocked {
                        channel: self.label.clone(),
                        reason: redact(&error_chain(&e), &self.secrets),
                    });
                }
                let error = if e.is_connect() {
                    ConnectorError::Unreachable {
                        channel: self.label.clone(),
                        attempts: attempt,
                        reason: redact(&e.to_string(), &self.secrets),
                    }
                } else {
                    ConnectorError::Unavailable {
                        channel: self.label.clone(),
                        attempts: attempt,
                        reason: redact(&e.to_string(), &self.secrets),
                    }
                };
                return if transient {
                    Outcome::Retry {
                        error,
                        wait: self.backoff(attempt),
                    }
                } else {
                    Outcome::Fail(error)
                };
            }
        };
        tracing::debug!(channel = %self.label, method = %req.method, url = %url, attempt, status = resp.status, elapsed_ms, "response");
        if let Some(wait) = self.signals.and_then(|f| f(&resp)) {
            self.hold_off(wait);
            if resp.status == 429 && wait > self.policy.max_retry_after {
                // Longer than one call may wait (a spent daily quota):
                // give the wait back to the caller instead of retrying.
                return Outcome::Fail(ConnectorError::RateLimited {
                    channel: self.label.clone(),
                    retry_after: wait,
                });
            }
        }
        let asked = resp
            .header("retry-after")
            .and_then(|v| ratelimit::retry_after(v, Utc::now()))
            .map(|w| w.min(self.policy.max_retry_after));
        match resp.status {
            200..=399 if !want_json => Outcome::Done(resp, None),
            200..=399 => match serde_json::from_slice::<Value>(&resp.body) {
                Ok(v) => Outcome::Done(resp, Some(v)),
                Err(e) => Outcome::Retry {
                    error: ConnectorError::Malformed {
                        channel: self.label.clone(),
                        reason: format!("body is not JSON ({e})"),
                    },
                    wait: self.backoff(attempt),
                },
            },
            401 | 403 => Outcome::Fail(ConnectorError::Auth {
                channel: self.label.clone(),
                status: resp.status,
            }),
            429 => {
                let wait = asked.unwrap_or_else(|| self.backoff(attempt));
                self.hold_off(wait);
                Outcome::Retry {
                    error: ConnectorError::RateLimited {
                        channel: self.label.clone(),
                        retry_after: wait,
                    },
                    wait: Duration::ZERO,
                }
            }
            500..=599 => {
                if let Some(w) = asked {
                    self.hold_off(w);
                }
                Outcome::Retry {
                    error: ConnectorError::Unavailable {
                        channel: self.label.clone(),
                        attempts: attempt,
                        reason: format!("HTTP {}", resp.status),
                    },
                    wait: if asked.is_some() {
                        Duration::ZERO
                    } else {
                        self.backoff(attempt)
                    },
                }
            }
            status => {
                let text: String = String::from_utf8_lossy(&resp.body)
                    .chars()
                    .take(500)
                    .collect();
                Outcome::Fail(ConnectorError::Rejected {
                    channel: self.label.clone(),
                    status,
                    body: redact(&text, &self.secrets),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_secret_query_parameters_are_redacted() {
        let s = vec![SecretString::from("ck_live_123456")];
        assert_eq!(
            redact(
                "https://shop/wp-json/wc/v3/orders?consumer_key=ck_live_123456&consumer_secret=cs_9&page=2",
                &s
            ),
            "https://shop/wp-json/wc/v3/orders?consumer_key=***&consumer_secret=***&page=2"
        );
        assert_eq!(
            redact("token ck_live_123456 refused", &s),
            "token *** refused"
        );
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let policy = HttpPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..HttpPolicy::default()
        };
        let c = ChannelHttp::new("t", policy, vec![]).unwrap();
        for _ in 0..50 {
            let b1 = c.backoff(1).as_millis();
            let b3 = c.backoff(3).as_millis();
            let b9 = c.backoff(9).as_millis();
            assert!((80..=120).contains(&b1), "{b1}");
            assert!((320..=480).contains(&b3), "{b3}");
            assert!((800..=1200).contains(&b9), "{b9}");
        }
    }
}
