//! Medusa order JSON (admin API v2) → the unified order. Medusa keeps
//! money as arbitrary-precision decimals in the currency's major unit
//! (`49.9` is €49.90) and does not round computed totals: 21 % tax on a
//! €4.95 shipping line is `1.0395`, and the order total `141.8725` is what
//! the payment was authorised for. Every amount is rounded here, half away
//! from zero, to the currency's minor unit.

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_domain::order::{
    Address, ChannelFulfilment, Customer, PaymentStatus, UnifiedOrder, UnifiedOrderLine,
};
use switchyard_domain::values::{CountryCode, Currency};

use crate::error::ConnectorError;
use crate::support::Fields;

/// A Medusa decimal (a JSON number, or the string of a `raw_*` value) in
/// minor units of a currency with `digits` decimals, rounded half away from
/// zero. `None` when it is not a decimal number.
pub(crate) fn minor_units(v: &Value, digits: u32) -> Option<i64> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        Value::Object(o) => return o.get("value").and_then(|x| minor_units(x, digits)),
        _ => return None,
    };
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    // JSON numbers may come as `1e-7`: plain decimals only beyond that.
    if body.contains(['e', 'E']) {
        let f: f64 = body.parse().ok()?;
        let scaled = (f * 10f64.powi(i32::try_from(digits).ok()?)).round();
        #[allow(
            clippy::cast_possible_truncation,
            reason = "amounts are far below 2^53"
        )]
        return Some(if negative {
            -(scaled as i64)
        } else {
            scaled as i64
        });
    }
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = digits as usize;
    let mut kept: String = frac.chars().take(digits).collect();
    while kept.len() < digits {
        kept.push('0');
    }
    let round_up = frac.as_bytes().get(digits).is_some_and(|d| *d >= b'5');
    let whole: i64 = format!("{}{kept}", if int.is_empty() { "0" } else { int })
        .parse()
        .ok()?;
    let whole = whole.checked_add(i64::from(round_up))?;
    Some(if negative { -whole } else { whole })
}

fn date(label: &str, v: &Value, key: &str) -> Result<DateTime<Utc>, ConnectorError> {
    let s = Fields::new(label, v).str(key)?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ConnectorError::Malformed {
            channel: label.to_owned(),
            reason: format!("`{key}` is not a date: {s}"),
        })
}

pub(crate) fn address(v: &Value) -> Address {
    let f = Fields::new("medusa", v);
    let name = [f.opt_str("first_name"), f.opt_str("last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Address {
        name: Some(name).filter(|n| !n.is_empty()),
        company: f.opt_str("company"),
        line1: f.opt_str("address_1"),
        line2: f.opt_str("address_2"),
        city: f.opt_str("city"),
        region: f.opt_str("province"),
        postal_code: f.opt_str("postal_code"),
        // Medusa writes country codes in lower case.
        country: f
            .opt_str("country_code")
            .and_then(|c| CountryCode::parse(&c.to_ascii_uppercase()).ok()),
        phone: f.opt_str("phone"),
    }
}

/// Map one order. Lines without a SKU are kept and flagged.
pub(crate) fn order(label: &str, raw: &Value) -> Result<UnifiedOrder, ConnectorError> {
    let f = Fields::new(label, raw);
    let id = f.str("id")?;
    let currency = Currency::parse(&f.str("currency_code")?.to_ascii_uppercase()).map_err(|e| {
        ConnectorError::Malformed {
            channel: label.to_owned(),
            reason: e.message,
        }
    })?;
    let digits = currency.minor_digits();
    let money = |v: &Value, key: &str| -> Result<i64, ConnectorError> {
        minor_units(&v[key], digits).ok_or_else(|| ConnectorError::Malformed {
            channel: label.to_owned(),
            reason: format!("`{key}` is not an amount: {}", v[key]),
        })
    };
    let payment_status = match raw["payment_status"].as_str().unwrap_or("") {
        "captured" => PaymentStatus::Paid,
        "authorized" => PaymentStatus::Authorized,
        "partially_captured" | "partially_authorized" => PaymentStatus::PartiallyPaid,
        "partially_refunded" => PaymentStatus::PartiallyRefunded,
        "refunded" => PaymentStatus::Refunded,
        "canceled" => PaymentStatus::Voided,
        "not_paid" | "awaiting" | "requires_action" => PaymentStatus::Pending,
        _ => PaymentStatus::Unknown,
    };
    let fulfilment = match raw["fulfillment_status"].as_str().unwrap_or("") {
        // `fulfilled` is packed by the merchant, shipping to follow.
        "shipped" | "delivered" | "fulfilled" => ChannelFulfilment::Fulfilled,
        "partially_shipped" | "partially_delivered" | "partially_fulfilled" => {
            ChannelFulfilment::PartiallyFulfilled
        }
        "not_fulfilled" | "canceled" => ChannelFulfilment::Unfulfilled,
        _ => ChannelFulfilment::Unknown,
    };
    let mut lines = Vec::new();
    for l in raw["items"].as_array().ok_or_else(|| f.missing("items"))? {
        let lf = Fields::new(label, l);
        let quantity = lf.i64("quantity")?;
        // What one unit cost the buyer before discounts, tax included
        // (Medusa's `unit_price` is net unless the price includes tax).
        let gross = money(l, "original_total")?;
        let mut line = UnifiedOrderLine {
            channel_line_id: lf.str("id")?.to_owned(),
            sku: lf.opt_str("variant_sku"),
            title: lf
                .opt_str("product_title")
                .or_else(|| lf.opt_str("title"))
                .unwrap_or_default(),
            quantity,
            unit_price: if quantity > 0 {
                (gross + quantity / 2) / quantity
            } else {
                gross
            },
            tax: money(l, "tax_total")?,
            discount: money(l, "discount_total")?,
            flags: Vec::new(),
        };
        line.flag_against(|_| true);
        lines.push(line);
    }
    let shipping_address = address(&raw["shipping_address"]);
    let shipping_method = raw["shipping_methods"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["name"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty());
    Ok(UnifiedOrder {
        channel_order_id: id.to_owned(),
        number: raw["display_id"]
            .as_i64()
            .map_or_else(|| id.to_owned(), |n| n.to_string()),
        payment_status,
        fulfilment,
        cancelled: raw["status"] == "canceled",
        created_at: date(label, raw, "created_at")?,
        updated_at: date(label, raw, "updated_at")?,
        total: money(raw, "total")?,
        tax_total: money(raw, "tax_total")?,
        shipping_total: money(raw, "shipping_total")?,
        discount_total: money(raw, "discount_total")?,
        currency,
        customer: Customer {
            name: shipping_address.name.clone(),
            email: f.opt_str("email"),
            phone: shipping_address.phone.clone(),
        },
        billing_address: address(&raw["billing_address"]),
        shipping_address,
        shipping_method,
        lines,
        tags: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_round_half_away_from_zero_to_the_minor_unit() {
        assert_eq!(minor_units(&json!(141.8725), 2), Some(14187));
        assert_eq!(minor_units(&json!(5.9895), 2), Some(599));
        assert_eq!(minor_units(&json!(0.285), 2), Some(29));
        assert_eq!(minor_units(&json!("49.9"), 2), Some(4990));
        assert_eq!(
            minor_units(&json!({ "value": "-1.005", "precision": 20 }), 2),
            Some(-101)
        );
        assert_eq!(minor_units(&json!(1500), 0), Some(1500));
        assert_eq!(minor_units(&json!(12.5), 0), Some(13));
        assert_eq!(minor_units(&json!(1e-7), 2), Some(0));
        assert_eq!(minor_units(&json!("12,50"), 2), None);
        assert_eq!(minor_units(&json!(null), 2), None);
    }

    fn sample() -> Value {
        json!({
            "id": "order_01", "display_id": 1, "status": "pending", "payment_status": "authorized",
            "fulfillment_status": "not_fulfilled", "currency_code": "eur", "email": "ada@example.com",
            "created_at": "2026-11-22T13:00:28.594Z", "updated_at": "2026-11-22T13:00:28.594Z",
            "total": 141.8725, "tax_total": 24.6225, "shipping_total": 5.9895, "discount_total": 0,
            "shipping_address": { "first_name": "Ada", "last_name": "Lovelace", "address_1": "Keizersgracht 1",
                "city": "Amsterdam", "postal_code": "1015 AA", "country_code": "nl", "phone": "+31 20 555 0101" },
            "billing_address": { "first_name": "Ada", "last_name": "Lovelace", "country_code": "nl" },
            "shipping_methods": [{ "name": "Standard post" }],
            "items": [{ "id": "ordli_1", "variant_sku": "SKU-00001", "product_title": "Oak Desk Lamp",
                        "quantity": 2, "original_total": 120.758, "tax_total": 20.958, "discount_total": 0 }]
        })
    }

    #[test]
    fn an_order_maps_with_rounded_money_and_upper_case_codes() {
        let o = order("medusa", &sample()).unwrap();
        assert_eq!(o.number, "1");
        assert_eq!(o.currency.as_str(), "EUR");
        assert_eq!((o.total, o.tax_total, o.shipping_total), (14187, 2462, 599));
        assert_eq!(o.payment_status, PaymentStatus::Authorized);
        assert_eq!(o.shipping_address.country.unwrap().as_str(), "NL");
        assert_eq!(o.customer.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(o.lines[0].unit_price, 6038);
        assert_eq!(o.lines[0].tax, 2096);
        let mut bad = sample();
        bad["total"] = json!("lots");
        assert!(
            order("medusa", &bad)
                .unwrap_err()
                .to_string()
                .contains("total")
        );
    }
}
