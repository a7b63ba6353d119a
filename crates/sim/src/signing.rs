//! Standard Webhooks signatures, checked the way a receiver does it
//! (<https://www.standardwebhooks.com>): `webhook-signature` holds one or
//! more `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with
//! the base64-decoded part of the `whsec_` secret, and the timestamp must be
//! within five minutes of the receiver's clock. Written here from the spec,
//! not shared with Switchyard's signing code, so each checks the other.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::SimError;

/// How far a message's timestamp may be from the receiver's clock.
const TOLERANCE_SECS: i64 = 300;

/// The signing key of a `whsec_…` secret.
pub(crate) fn secret_key(secret: &str) -> Result<Vec<u8>, SimError> {
    STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|e| SimError::Config(format!("the secret is not whsec_ + base64: {e}")))
}

/// Check the signature headers of a delivery against `key`; the message
/// id when one signature matches.
pub(crate) fn verify(key: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("missing {name} header"))
    };
    let id = h("webhook-id")?;
    let ts = h("webhook-timestamp")?;
    let sigs = h("webhook-signature")?;
    let t: i64 = ts
        .parse()
        .map_err(|_| "webhook-timestamp is not a number")?;
    if (Utc::now().timestamp() - t).abs() > TOLERANCE_SECS {
        return Err("webhook-timestamp is too far from now".into());
    }
    for sig in sigs.split(' ') {
        let Some(b64) = sig.strip_prefix("v1,") else {
            continue;
        };
        let Ok(expected) = STANDARD.decode(b64) else {
            continue;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            return Err("unusable secret".into());
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(id.to_owned());
        }
    }
    Err("no signature matches".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_with_the_secret() {
        let key = b"0123456789abcdef0123456789abcdef".to_vec();
        let body = br#"{"type":"order.routed"}"#;
        let ts = Utc::now().timestamp().to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("msg_1.{ts}.").as_bytes());
        mac.update(body);
        let sig = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        let mut h = HeaderMap::new();
        h.insert("webhook-id", "msg_1".parse().unwrap());
        h.insert("webhook-timestamp", ts.parse().unwrap());
        h.insert("webhook-signature", sig.parse().unwrap());
        assert_eq!(verify(&key, &h, body).unwrap(), "msg_1");
        assert!(verify(b"other key", &h, body).is_err());
        assert!(verify(&key, &h, b"tampered").is_err());
        h.insert("webhook-timestamp", "1000".parse().unwrap());
        assert!(verify(&key, &h, body).is_err(), "stale timestamp");
        assert_eq!(
            secret_key(&format!("whsec_{}", STANDARD.encode(&key))).unwrap(),
            key
        );
        assert!(secret_key("whsec_not base64!").is_err());
    }
}
