//! Request parsing and answers shared by the REST routes: WordPress error
//! bodies, query parameters, JSON bodies and paged lists.

#![allow(
    clippy::result_large_err,
    reason = "parameter checks return the finished error response, as handlers do"
)]

use axum::Json;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::Sim;
use super::render::site_offset;

/// Largest batch WooCommerce accepts.
pub(crate) const BATCH_LIMIT: usize = 100;
const MAX_PER_PAGE: usize = 100;

pub(crate) type Params = Query<Vec<(String, String)>>;

pub(crate) fn wc_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "code": code, "message": message, "data": { "status": status.as_u16() } })),
    )
        .into_response()
}

pub(crate) fn invalid_param(name: &str, why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "code": "rest_invalid_param",
            "message": format!("Invalid parameter(s): {name}"),
            "data": { "status": 400, "params": { name: why }, "details": {} }
        })),
    )
        .into_response()
}

pub(crate) fn base_url(headers: &HeaderMap) -> String {
    format!("http://{}", crate::core::host(headers))
}

pub(crate) fn form_pairs(q: &str) -> Vec<(String, String)> {
    format!("/?{q}")
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|u| Query::<Vec<(String, String)>>::try_from_uri(&u).ok())
        .map(|Query(v)| v)
        .unwrap_or_default()
}

pub(crate) fn param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `exclude=1,2` or `exclude[]=1&exclude[]=2`.
pub(crate) fn id_list(p: &[(String, String)], name: &str) -> Result<Option<Vec<u64>>, Response> {
    let bracket = format!("{name}[]");
    let mut out = Vec::new();
    let mut seen = false;
    for (k, v) in p {
        if k == name || *k == bracket {
            seen = true;
            for part in v.split(',').filter(|s| !s.trim().is_empty()) {
                out.push(part.trim().parse().map_err(|_| {
                    invalid_param(name, &format!("{name}[0] is not of type integer."))
                })?);
            }
        }
    }
    Ok(seen.then_some(out))
}

pub(crate) fn int_param(
    p: &[(String, String)],
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, Response> {
    let Some(v) = param(p, name) else {
        return Ok(None);
    };
    let n: i64 = v
        .parse()
        .map_err(|_| invalid_param(name, &format!("{name} is not of type integer.")))?;
    if n < min || n > max {
        return Err(invalid_param(
            name,
            &format!("{name} must be between {min} (inclusive) and {max} (inclusive)"),
        ));
    }
    Ok(Some(n))
}

/// An ISO 8601 date; a date without a zone is GMT when `dates_are_gmt`,
/// else in the site's timezone.
pub(crate) fn date_param(
    p: &[(String, String)],
    name: &str,
) -> Result<Option<DateTime<Utc>>, Response> {
    let Some(v) = param(p, name) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let naive = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| invalid_param(name, "Invalid date."))?;
    let gmt = matches!(param(p, "dates_are_gmt"), Some("true" | "1"));
    Ok(Some(if gmt {
        naive.and_utc()
    } else {
        naive
            .and_local_timezone(site_offset())
            .single()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
    }))
}

/// A page of `items` with the WordPress headers.
pub(crate) fn paged(
    sim: &Sim,
    headers: &HeaderMap,
    path: &str,
    p: &[(String, String)],
    items: Vec<Value>,
) -> Response {
    paged_with(sim, headers, path, p, &items, Value::clone)
}

/// [`paged`] over items rendered by `render`, which renders only the page
/// (and the item before it), not the whole list.
pub(crate) fn paged_with<T>(
    sim: &Sim,
    headers: &HeaderMap,
    path: &str,
    p: &[(String, String)],
    items: &[T],
    render: impl Fn(&T) -> Value,
) -> Response {
    let per_page = match int_param(p, "per_page", 1, MAX_PER_PAGE as i64) {
        Ok(v) => v.unwrap_or(10) as usize,
        Err(r) => return r,
    };
    let page = match int_param(p, "page", 1, i64::MAX) {
        Ok(v) => v.unwrap_or(1) as usize,
        Err(r) => return r,
    };
    let offset = match int_param(p, "offset", 0, i64::MAX) {
        Ok(v) => v.map(|o| o as usize),
        Err(r) => return r,
    };
    let total = items.len();
    let pages = total.div_ceil(per_page);
    let start = offset.unwrap_or((page - 1).saturating_mul(per_page));
    let mut page_items: Vec<Value> = items
        .iter()
        .skip(start)
        .take(per_page)
        .map(&render)
        .collect();
    let before = start.checked_sub(1).and_then(|i| items.get(i)).map(&render);
    if !page_items.is_empty() {
        sim.core.disturb_page(&mut page_items, before);
    }
    let mut resp = Json(page_items).into_response();
    let h = resp.headers_mut();
    h.insert("x-wp-total", HeaderValue::from(total));
    h.insert("x-wp-totalpages", HeaderValue::from(pages));
    let base = base_url(headers);
    let link_for = |n: usize| {
        let mut q: Vec<(String, String)> = p
            .iter()
            .filter(|(k, _)| k != "page" && k != "consumer_key" && k != "consumer_secret")
            .cloned()
            .collect();
        q.push(("page".into(), n.to_string()));
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        format!("{base}{path}?{}", qs.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 && offset.is_none() {
        links.push(format!("<{}>; rel=\"prev\"", link_for(page - 1)));
    }
    if page < pages && offset.is_none() {
        links.push(format!("<{}>; rel=\"next\"", link_for(page + 1)));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        h.insert("link", v);
    }
    resp
}

pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn json_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            wc_error(
                StatusCode::BAD_REQUEST,
                "rest_invalid_json",
                "Invalid JSON body passed.",
            )
        })
}
