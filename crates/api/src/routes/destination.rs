//! The one check of an address Switchyard will connect to on a user's
//! behalf (a channel's or back office's `base_url`, a plugin's or webhook's
//! `url`), when it is written: `http(s)`, a host, no credentials, and, when
//! the host is an address in any spelling (decimal, hex, IPv4-mapped,
//! NAT64), one the operator's outbound policy allows. Names are checked
//! again on every connection, on the address they resolve to
//! (`switchyard_connectors::outbound`).

use axum::http::StatusCode;

use crate::AppState;
use crate::error::ApiError;

/// Longest address accepted.
const MAX_URL_LEN: usize = 2000;

fn bad(field: &str, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, code, field, message)
}

/// Check `raw` as the destination in `field`; the normalised URL.
pub(crate) fn check_destination(s: &AppState, field: &str, raw: &str) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(bad(
            field,
            "invalid_url",
            format!("{field} is longer than {MAX_URL_LEN} characters"),
        ));
    }
    let url = reqwest::Url::parse(raw)
        .map_err(|e| bad(field, "invalid_url", format!("{field} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(
            field,
            "invalid_url",
            format!("{field} must be http or https, not `{}`", url.scheme()),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            field,
            "invalid_url",
            format!(
                "{field} must not carry credentials; they belong in `credentials` or the signature"
            ),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| bad(field, "invalid_url", format!("{field} has no host")))?;
    s.config
        .outbound
        .check_host(host)
        .map_err(|e| bad(field, e.code, e.message))?;
    Ok(url.to_string())
}
