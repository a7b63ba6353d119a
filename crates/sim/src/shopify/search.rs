//! Shopify's search syntax for the `query` argument, the part the hub uses:
//! `field:value`, comparisons (`updated_at:>'2026-01-01T00:00:00Z'`,
//! `>=`, `<`, `<=`), quoted values, `-field:value` negation, terms joined by
//! spaces or `AND`. Unknown fields are ignored and reported as search
//! warnings, as Shopify does. (`OR` and parentheses are not simulated.)

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::state::Order;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
struct Term {
    field: String,
    op: Op,
    value: String,
    negate: bool,
}

/// A parsed `query`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Search {
    terms: Vec<Term>,
    /// Fields this resource cannot be searched by.
    pub unknown: Vec<String>,
}

fn tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in q.chars() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Seconds since the epoch of a search date (RFC 3339, or a date-time or
/// date without zone read as UTC).
fn when(v: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc().timestamp());
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

fn compare<T: PartialOrd>(op: Op, left: T, right: T) -> bool {
    match op {
        Op::Eq => left == right,
        Op::Gt => left > right,
        Op::Ge => left >= right,
        Op::Lt => left < right,
        Op::Le => left <= right,
    }
}

impl Search {
    /// Parse `q`; terms on fields outside `known` are dropped and listed.
    pub fn parse(q: &str, known: &[&str]) -> Self {
        let mut s = Self::default();
        for tok in tokens(q) {
            if tok.eq_ignore_ascii_case("AND") {
                continue;
            }
            let (negate, tok) = match tok.strip_prefix('-') {
                Some(t) => (true, t.to_owned()),
                None => (false, tok),
            };
            let Some((field, rest)) = tok.split_once(':') else {
                s.unknown.push(tok);
                continue;
            };
            let (op, value) = if let Some(v) = rest.strip_prefix(">=") {
                (Op::Ge, v)
            } else if let Some(v) = rest.strip_prefix("<=") {
                (Op::Le, v)
            } else if let Some(v) = rest.strip_prefix('>') {
                (Op::Gt, v)
            } else if let Some(v) = rest.strip_prefix('<') {
                (Op::Lt, v)
            } else {
                (Op::Eq, rest)
            };
            let field = field.to_ascii_lowercase();
            if known.contains(&field.as_str()) {
                s.terms.push(Term {
                    field,
                    op,
                    value: value.trim_matches(['\'', '"']).to_owned(),
                    negate,
                });
            } else {
                s.unknown.push(field);
            }
        }
        s
    }

    fn all(&self, f: impl Fn(&Term) -> Option<bool>) -> bool {
        self.terms
            .iter()
            .all(|t| f(t).is_none_or(|ok| ok != t.negate))
    }

    /// `updated_at` / `created_at` terms, at one-second precision as Shopify stores them.
    pub fn matches_time(&self, updated_ms: i64, created_ms: i64) -> bool {
        self.all(|t| {
            let at = match t.field.as_str() {
                "updated_at" => updated_ms,
                "created_at" | "processed_at" => created_ms,
                _ => return None,
            };
            Some(when(&t.value).is_some_and(|w| compare(t.op, at.div_euclid(1000), w)))
        })
    }

    /// Exact (or `prefix*`) text terms on `field`.
    pub fn matches_text(&self, field: &str, value: &str) -> bool {
        self.all(|t| {
            (t.field == field).then(|| match t.value.strip_suffix('*') {
                Some(prefix) => value.to_lowercase().starts_with(&prefix.to_lowercase()),
                None => value.eq_ignore_ascii_case(&t.value),
            })
        })
    }

    /// Every term on an order.
    pub fn matches_order(&self, o: &Order) -> bool {
        self.matches_time(o.updated_ms, o.created_ms)
            && self.all(|t| {
                Some(match t.field.as_str() {
                    "status" => match t.value.as_str() {
                        "any" => true,
                        "cancelled" => o.cancelled_ms.is_some(),
                        "closed" => {
                            o.cancelled_ms.is_some() || o.fulfillment_status() == "FULFILLED"
                        }
                        "open" => o.cancelled_ms.is_none() && o.fulfillment_status() != "FULFILLED",
                        _ => false,
                    },
                    "financial_status" => o.financial.eq_ignore_ascii_case(&t.value),
                    "fulfillment_status" => match t.value.as_str() {
                        "unfulfilled" | "unshipped" => o.fulfillment_status() == "UNFULFILLED",
                        "shipped" | "fulfilled" => o.fulfillment_status() == "FULFILLED",
                        "partial" => o.fulfillment_status() == "PARTIALLY_FULFILLED",
                        _ => false,
                    },
                    "id" => t
                        .value
                        .parse::<u64>()
                        .is_ok_and(|id| compare(t.op, o.id, id)),
                    "name" => t.value.trim_start_matches('#') == o.number.to_string(),
                    "email" => o.customer.email.eq_ignore_ascii_case(&t.value),
                    "sku" => o
                        .lines
                        .iter()
                        .any(|l| l.sku.as_deref() == Some(t.value.as_str())),
                    _ => return None,
                })
            })
    }
}

/// The fields each searchable root accepts.
pub(crate) const ORDER_FIELDS: &[&str] = &[
    "updated_at",
    "created_at",
    "processed_at",
    "status",
    "financial_status",
    "fulfillment_status",
    "id",
    "name",
    "email",
    "sku",
];
pub(crate) const PRODUCT_FIELDS: &[&str] = &["updated_at", "created_at", "title"];
pub(crate) const VARIANT_FIELDS: &[&str] = &["updated_at", "sku"];
pub(crate) const ITEM_FIELDS: &[&str] = &["sku"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_quotes_and_unknown_fields() {
        let s = Search::parse(
            "updated_at:>='2026-01-01T00:00:00Z' AND -status:cancelled colour:red",
            ORDER_FIELDS,
        );
        assert_eq!(s.terms.len(), 2);
        assert_eq!(s.terms[0].op, Op::Ge);
        assert!(s.terms[1].negate);
        assert_eq!(s.unknown, ["colour"]);
        let t = when("2026-01-01T00:00:00Z").unwrap() * 1000;
        assert!(s.matches_time(t, 0));
        assert!(s.matches_time(t + 999, 0), "to the second");
        assert!(!s.matches_time(t - 1000, 0));
    }
}
