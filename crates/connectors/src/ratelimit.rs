//! Reading the rate-limit signals channels send, as waits before the next
//! request. Pure functions, so every format is unit-tested.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Parse a `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110).
/// A date in the past means "now" (zero).
#[must_use]
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs));
        }
        return None;
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Shopify REST `X-Shopify-Shop-Api-Call-Limit: used/bucket` (leaky bucket,
/// leaking 2 calls a second). Returns a wait that keeps a quarter of the
/// bucket free, or `None` while there is room.
#[must_use]
pub fn shopify_rest_call_limit(value: &str) -> Option<Duration> {
    const LEAK_PER_SEC: f64 = 2.0;
    let (used, bucket) = value.trim().split_once('/')?;
    let used: f64 = used.trim().parse().ok()?;
    let bucket: f64 = bucket.trim().parse().ok()?;
    if bucket <= 0.0 {
        return None;
    }
    let excess = used + 1.0 - bucket * 0.75;
    (excess > 0.0).then(|| Duration::from_secs_f64(excess / LEAK_PER_SEC))
}

/// Shopify GraphQL cost throttle: from `extensions.cost` of a response, the
/// wait until the bucket again holds the cost of the query just asked
/// (`requestedQueryCost`). A `THROTTLED` error always yields a wait (at
/// least one second, when the numbers are missing).
#[must_use]
pub fn shopify_graphql_throttle(body: &Value) -> Option<Duration> {
    let throttled = body["errors"]
        .as_array()
        .is_some_and(|errs| errs.iter().any(|e| e["extensions"]["code"] == "THROTTLED"));
    let cost = &body["extensions"]["cost"];
    let requested = cost["requestedQueryCost"].as_f64();
    let available = cost["throttleStatus"]["currentlyAvailable"].as_f64();
    let restore = cost["throttleStatus"]["restoreRate"]
        .as_f64()
        .filter(|r| *r > 0.0);
    let wait = match (requested, available, restore) {
        (Some(req), Some(avail), Some(rate)) if req > avail => {
            Some(Duration::from_secs_f64((req - avail) / rate))
        }
        _ => None,
    };
    match (throttled, wait) {
        (true, Some(w)) => Some(w.max(Duration::from_secs(1))),
        (true, None) => Some(Duration::from_secs(1)),
        (false, w) => w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 2.5 ", now), Some(Duration::from_millis(2500)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-3", now), None);
    }

    #[test]
    fn shopify_rest_bucket_waits_only_when_nearly_full() {
        assert_eq!(shopify_rest_call_limit("10/40"), None);
        assert_eq!(
            shopify_rest_call_limit("39/40"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(shopify_rest_call_limit("garbage"), None);
    }

    #[test]
    fn shopify_graphql_cost_turns_into_a_wait() {
        let ok = json!({ "data": {}, "extensions": { "cost": { "requestedQueryCost": 100, "actualQueryCost": 20,
            "throttleStatus": { "maximumAvailable": 2000.0, "currentlyAvailable": 1980, "restoreRate": 100.0 } } } });
        assert_eq!(shopify_graphql_throttle(&ok), None);
        let low = json!({ "extensions": { "cost": { "requestedQueryCost": 500,
            "throttleStatus": { "maximumAvailable": 2000.0, "currentlyAvailable": 300, "restoreRate": 100.0 } } } });
        assert_eq!(shopify_graphql_throttle(&low), Some(Duration::from_secs(2)));
        let throttled = json!({ "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }],
            "extensions": { "cost": { "requestedQueryCost": 752,
            "throttleStatus": { "maximumAvailable": 2000.0, "currentlyAvailable": 702, "restoreRate": 100.0 } } } });
        assert_eq!(
            shopify_graphql_throttle(&throttled),
            Some(Duration::from_secs(1))
        );
        let bare = json!({ "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }] });
        assert_eq!(
            shopify_graphql_throttle(&bare),
            Some(Duration::from_secs(1))
        );
    }
}
