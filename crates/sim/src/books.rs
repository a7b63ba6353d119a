//! What the accounting simulators (Xero, Sage) share: the call allowance
//! per tenant, the grants (single-use rotating refresh tokens, access
//! tokens) with their control routes, and decimal amounts.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::{AccessTokens, TokenCheck, decimal, lock, parse_body};

/// A per-minute and per-day call allowance (fixed windows), as accounting
/// packages count calls per tenant.
#[derive(Debug, Clone)]
pub(crate) struct CallAllowance {
    /// Calls a minute.
    pub per_minute: u32,
    /// Calls a day.
    pub per_day: u32,
    minute: (i64, u32),
    day: (i64, u32),
}

/// Which window refused a call, and when it opens again (seconds).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused {
    pub window: &'static str,
    pub retry_after: i64,
}

impl CallAllowance {
    pub(crate) fn new(per_minute: u32, per_day: u32) -> Self {
        Self {
            per_minute,
            per_day,
            minute: (0, 0),
            day: (0, 0),
        }
    }

    /// Count a call at `now_ms`: the calls left in the minute and the day,
    /// or the window that refuses it.
    pub(crate) fn take(&mut self, now_ms: i64) -> Result<(u32, u32), Refused> {
        let (m, d) = (now_ms / 60_000, now_ms / 86_400_000);
        if self.minute.0 != m {
            self.minute = (m, 0);
        }
        if self.day.0 != d {
            self.day = (d, 0);
        }
        if self.day.1 >= self.per_day {
            return Err(Refused {
                window: "day",
                retry_after: ((d + 1) * 86_400_000 - now_ms) / 1000 + 1,
            });
        }
        if self.minute.1 >= self.per_minute {
            return Err(Refused {
                window: "minute",
                retry_after: ((m + 1) * 60_000 - now_ms) / 1000 + 1,
            });
        }
        self.minute.1 += 1;
        self.day.1 += 1;
        Ok((self.per_minute - self.minute.1, self.per_day - self.day.1))
    }
}

/// `PUT /_sim/limits` of the accounting simulators: calls a minute and a
/// day, and how long access tokens live.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsIn {
    per_minute: Option<u32>,
    per_day: Option<u32>,
    access_ttl_secs: Option<i64>,
}

/// A new pair of tokens.
#[derive(Debug, Clone)]
pub(crate) struct Rotated {
    pub access: String,
    pub refresh: String,
    pub ttl: i64,
    pub serial: u64,
}

/// An accounting package's grants: refresh tokens that work once and
/// rotate, access tokens that live `access_ttl` seconds each, and the
/// tenant's call allowance.
#[derive(Debug)]
pub(crate) struct Grants {
    prefix: &'static str,
    refresh_tokens: Vec<String>,
    issued: u64,
    access: AccessTokens,
    access_ttl: i64,
    pub allowance: CallAllowance,
}

impl Grants {
    /// Grants whose first refresh token is `first`; tokens made later
    /// start with `prefix`.
    pub(crate) fn new(
        prefix: &'static str,
        first: String,
        access_ttl: i64,
        allowance: CallAllowance,
    ) -> Self {
        Self {
            prefix,
            refresh_tokens: vec![first],
            issued: 0,
            access: AccessTokens::default(),
            access_ttl,
            allowance,
        }
    }

    /// Trade the refresh token `sent` for new tokens at `now` (Unix
    /// seconds); `sent` never works again. `None` when it is not a refresh
    /// token in force.
    pub(crate) fn rotate(&mut self, sent: &str, now: i64) -> Option<Rotated> {
        let pos = self.refresh_tokens.iter().position(|t| t == sent)?;
        self.refresh_tokens.remove(pos);
        self.issued += 1;
        let n = self.issued;
        let p = self.prefix;
        let access = format!("{p}at-{n:08}-{:x}", n.wrapping_mul(0x51_7cc1_b727));
        let refresh = format!("{p}rt-{:x}-{n}", n.wrapping_mul(0x2545_f491));
        self.refresh_tokens.push(refresh.clone());
        self.access
            .issue(access.clone(), now + self.access_ttl, now);
        Some(Rotated {
            access,
            refresh,
            ttl: self.access_ttl,
            serial: n,
        })
    }

    /// What a presented access token is at `now`.
    pub(crate) fn check(&self, sent: Option<&str>, now: i64) -> TokenCheck {
        self.access.check(sent, now)
    }
}

async fn set_limits(State(g): State<Arc<Mutex<Grants>>>, body: axum::body::Bytes) -> Response {
    let l: LimitsIn = match parse_body(&body) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let g = &mut *lock(&g);
    if let Some(m) = l.per_minute {
        g.allowance.per_minute = m;
    }
    if let Some(d) = l.per_day {
        g.allowance.per_day = d;
    }
    if let Some(t) = l.access_ttl_secs {
        g.access_ttl = t.clamp(1, 86_400);
    }
    Json(json!({ "per_minute": g.allowance.per_minute, "per_day": g.allowance.per_day, "access_ttl_secs": g.access_ttl }))
        .into_response()
}

async fn expire_tokens(State(g): State<Arc<Mutex<Grants>>>) -> StatusCode {
    lock(&g).access = AccessTokens::default();
    StatusCode::NO_CONTENT
}

/// `PUT /_sim/limits {per_minute, per_day, access_ttl_secs}` and `POST
/// /_sim/tokens/expire` of an accounting simulator.
pub(crate) fn grant_routes(grants: Arc<Mutex<Grants>>) -> Router {
    Router::new()
        .route("/_sim/limits", axum::routing::put(set_limits))
        .route("/_sim/tokens/expire", post(expire_tokens))
        .with_state(grants)
}

/// A decimal amount as a JSON number, in minor units (two decimals).
pub(crate) fn cents(v: &Value) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation, reason = "amounts far below 2^53")]
    v.as_f64().map(|f| (f * 100.0).round() as i64)
}

/// Minor units as a JSON number with two decimals.
pub(crate) fn amount(c: i64) -> Value {
    serde_json::from_str(&decimal(c, 2)).unwrap_or(Value::Null)
}
