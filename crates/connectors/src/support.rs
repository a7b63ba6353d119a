//! Small pieces every connector needs: check-before-create for requests a
//! channel cannot deduplicate, webhook signature checks, and reading
//! channel JSON with errors that say what was missing.

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::Sha256;

use crate::error::ConnectorError;

/// Create something at most once: look for it, create it if absent, and
/// after a failure that leaves it unknown whether the channel acted
/// (timeout, 5xx, unreadable answer) look again before trying again.
/// Returns the thing and whether it was found rather than created.
pub(crate) async fn ensure<T, C, CF, M, MF>(
    attempts: u32,
    pause: Duration,
    mut check: C,
    mut create: M,
) -> Result<(T, bool), ConnectorError>
where
    C: FnMut() -> CF,
    CF: Future<Output = Result<Option<T>, ConnectorError>>,
    M: FnMut() -> MF,
    MF: Future<Output = Result<T, ConnectorError>>,
{
    let mut last = None;
    for attempt in 1..=attempts.max(1) {
        if let Some(found) = check().await? {
            return Ok((found, true));
        }
        match create().await {
            Ok(made) => return Ok((made, false)),
            Err(e) if e.is_retryable() => {
                tracing::warn!(attempt, error = %e, "create failed; checking before trying again");
                last = Some(e);
                tokio::time::sleep(pause * attempt).await;
            }
            Err(e) => return Err(e),
        }
    }
    match check().await? {
        Some(found) => Ok((found, true)),
        None => Err(last.unwrap_or_else(|| ConnectorError::Client {
            channel: String::new(),
            reason: "no attempt was made".into(),
        })),
    }
}

/// Check a base64 HMAC-SHA256 signature of `body` (Shopify's
/// `X-Shopify-Hmac-Sha256`, WooCommerce's `X-WC-Webhook-Signature`), in
/// constant time.
#[must_use]
pub fn verify_hmac_sha256_base64(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// Reads fields of one channel object, naming the channel and the field
/// in its errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub label: &'a str,
    pub value: &'a Value,
}

impl<'a> Fields<'a> {
    pub fn new(label: &'a str, value: &'a Value) -> Self {
        Self { label, value }
    }

    pub fn missing(&self, path: &str) -> ConnectorError {
        ConnectorError::Malformed {
            channel: self.label.to_owned(),
            reason: format!("field `{path}` is missing or has the wrong type"),
        }
    }

    pub fn str(&self, key: &str) -> Result<&'a str, ConnectorError> {
        self.value
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| self.missing(key))
    }

    /// A string, or `None` when absent, null or empty.
    pub fn opt_str(&self, key: &str) -> Option<String> {
        self.value
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    pub fn i64(&self, key: &str) -> Result<i64, ConnectorError> {
        self.value
            .get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| self.missing(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_against_the_body() {
        // From the definition: base64(HMAC-SHA256("secret", "hello")).
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"hello");
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert!(verify_hmac_sha256_base64(b"secret", b"hello", &sig));
        assert!(!verify_hmac_sha256_base64(b"secret", b"hello!", &sig));
        assert!(!verify_hmac_sha256_base64(b"other", b"hello", &sig));
        assert!(!verify_hmac_sha256_base64(
            b"secret",
            b"hello",
            "not base64!"
        ));
    }
}

/// An OAuth access token shared by a connector's requests: fetched once,
/// renewed a minute before it expires, and renewed early when a request was
/// refused with it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenCache {
    slot: std::sync::Arc<tokio::sync::Mutex<Option<(SecretString, std::time::Instant)>>>,
}

/// Renew a token this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

impl TokenCache {
    /// A valid token: the cached one, unless it is about to expire or is
    /// `stale` (the one a request was just refused with); then `fetch`
    /// gives a new token and its lifetime. A token request the channel
    /// refuses (4xx) is an auth error: the credentials are wrong or revoked.
    pub(crate) async fn get<F, Fut>(
        &self,
        stale: Option<&str>,
        fetch: F,
    ) -> Result<String, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, Duration), ConnectorError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((t, until)) = slot.as_ref()
            && Some(t.expose_secret()) != stale
            && *until > std::time::Instant::now() + RENEW_BEFORE
        {
            return Ok(t.expose_secret().to_owned());
        }
        let (token, lifetime) = fetch().await.map_err(|e| match e {
            ConnectorError::Rejected {
                channel, status, ..
            } => ConnectorError::Auth { channel, status },
            other => other,
        })?;
        *slot = Some((
            SecretString::from(token.clone()),
            std::time::Instant::now() + lifetime,
        ));
        Ok(token)
    }

    /// Run `call` with a token; when the channel refuses it with an auth
    /// error whose status is in `renew_on`, renew the token and run `call`
    /// once more.
    pub(crate) async fn with_token<T, F, FFut, C, CFut>(
        &self,
        renew_on: &[u16],
        fetch: F,
        call: C,
    ) -> Result<T, ConnectorError>
    where
        F: Fn() -> FFut,
        FFut: Future<Output = Result<(String, Duration), ConnectorError>>,
        C: Fn(String) -> CFut,
        CFut: Future<Output = Result<T, ConnectorError>>,
    {
        let token = self.get(None, &fetch).await?;
        match call(token.clone()).await {
            Err(ConnectorError::Auth { status, .. }) if renew_on.contains(&status) => {
                let fresh = self.get(Some(&token), &fetch).await?;
                call(fresh).await
            }
            other => other,
        }
    }
}

/// Percent-encode a path segment or query value.
/// The number in a listings page token we handed out (`first` when there
/// is none yet); any other token is the caller's mistake.
pub(crate) fn listing_page(
    channel: &str,
    page: Option<&str>,
    first: usize,
) -> Result<usize, ConnectorError> {
    match page {
        None => Ok(first),
        Some(p) => p.parse().map_err(|_| ConnectorError::Client {
            channel: channel.to_owned(),
            reason: format!("not a listing page: {p}"),
        }),
    }
}

/// Where an offset-paged order list resumes: 0 without a token, else the
/// offset in a token `"{prefix}{offset}"` we handed out (`channel` names
/// the connector, `what` the token in the error: "an eBay").
pub(crate) fn offset_from(
    channel: &str,
    what: &str,
    prefix: &str,
    page: Option<&str>,
) -> Result<usize, ConnectorError> {
    match page {
        None => Ok(0),
        Some(t) => t
            .strip_prefix(prefix)
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| ConnectorError::Client {
                channel: channel.to_owned(),
                reason: format!("not {what} page token: {t}"),
            }),
    }
}

/// The token of the page after the one at `offset` (of `size`), when the
/// list holds more than that (`total`).
pub(crate) fn next_offset(prefix: &str, offset: usize, size: usize, total: u64) -> Option<String> {
    let next = offset + size;
    (u64::try_from(next).unwrap_or(u64::MAX) < total).then(|| format!("{prefix}{next}"))
}

/// `first` when there is one (a value just read), else what `read` reads:
/// the first look for an earlier attempt reuses the read before it.
pub(crate) async fn first_or<T>(
    first: Option<T>,
    read: impl Future<Output = Result<Option<T>, ConnectorError>>,
) -> Result<Option<T>, ConnectorError> {
    match first {
        Some(v) => Ok(Some(v)),
        None => read.await,
    }
}

/// A person's name as first and last name, split at the last space.
pub(crate) fn split_name(name: Option<&str>) -> (String, String) {
    let name = name.unwrap_or("").trim();
    match name.rsplit_once(' ') {
        Some((first, last)) => (first.to_owned(), last.to_owned()),
        None => (name.to_owned(), String::new()),
    }
}

pub(crate) fn encode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)])
        .map(|e| e.trim_start_matches("x=").to_owned())
        .unwrap_or_default()
}

/// An access token from an OAuth token answer (`access_token`,
/// `expires_in` seconds, `default_secs` when it does not say).
pub(crate) fn token_from(
    label: &str,
    v: &Value,
    default_secs: u64,
) -> Result<(String, Duration), ConnectorError> {
    let token = v["access_token"]
        .as_str()
        .ok_or_else(|| ConnectorError::Malformed {
            channel: label.to_owned(),
            reason: "token answer has no access_token".into(),
        })?
        .to_owned();
    let secs = v["expires_in"].as_u64().unwrap_or(default_secs);
    Ok((token, Duration::from_secs(secs)))
}

/// An HTTP Basic `authorization` header value.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
