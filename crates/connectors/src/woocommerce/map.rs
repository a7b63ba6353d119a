//! WooCommerce order JSON → the unified order.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use switchyard_domain::order::{
    Address, ChannelFulfilment, Customer, PaymentStatus, UnifiedOrder, UnifiedOrderLine,
};
use switchyard_domain::values::{CountryCode, Currency};

use crate::error::ConnectorError;
use crate::support::Fields;

/// A `_gmt` date: WordPress writes it without a zone; it is UTC.
pub(crate) fn gmt_date(f: &Fields<'_>, key: &str) -> Result<DateTime<Utc>, ConnectorError> {
    let s = f.str(key)?;
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .map(|n| n.and_utc())
        .or_else(|_| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)))
        .map_err(|_| ConnectorError::Malformed {
            channel: f.label.to_owned(),
            reason: format!("`{key}` is not a date: {s}"),
        })
}

fn amount(f: &Fields<'_>, currency: &Currency, key: &str) -> Result<i64, ConnectorError> {
    let text = f.str(key)?;
    currency
        .parse_amount(text)
        .map_err(|e| ConnectorError::Malformed {
            channel: f.label.to_owned(),
            reason: format!("`{key}`: {}", e.message),
        })
}

fn address(v: &Value) -> Address {
    let f = Fields::new("woocommerce", v);
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
        region: f.opt_str("state"),
        postal_code: f.opt_str("postcode"),
        country: f
            .opt_str("country")
            .and_then(|c| CountryCode::parse(&c.to_ascii_uppercase()).ok()),
        phone: f.opt_str("phone"),
    }
}

/// Map one order. Lines without a SKU are kept and flagged.
pub(crate) fn order(label: &str, raw: &Value) -> Result<UnifiedOrder, ConnectorError> {
    let f = Fields::new(label, raw);
    let id = f.i64("id")?;
    let currency = Currency::parse(f.str("currency")?).map_err(|e| ConnectorError::Malformed {
        channel: label.to_owned(),
        reason: e.message,
    })?;
    let status = f.str("status")?;
    let paid = raw.get("date_paid_gmt").is_some_and(|v| !v.is_null());
    let payment_status = match status {
        "refunded" => PaymentStatus::Refunded,
        "failed" => PaymentStatus::Voided,
        "processing" | "completed" => PaymentStatus::Paid,
        _ if paid => PaymentStatus::Paid,
        "pending" | "on-hold" | "checkout-draft" => PaymentStatus::Pending,
        _ => PaymentStatus::Unknown,
    };
    let fulfilment = match status {
        "completed" => ChannelFulfilment::Fulfilled,
        "pending" | "processing" | "on-hold" | "checkout-draft" | "failed" => {
            ChannelFulfilment::Unfulfilled
        }
        _ => ChannelFulfilment::Unknown,
    };
    let billing = raw.get("billing").cloned().unwrap_or(Value::Null);
    let bf = Fields::new(label, &billing);
    let mut lines = Vec::new();
    for (i, l) in raw
        .get("line_items")
        .and_then(Value::as_array)
        .ok_or_else(|| f.missing("line_items"))?
        .iter()
        .enumerate()
    {
        let lf = Fields::new(label, l);
        let quantity = lf.i64("quantity")?;
        let subtotal = amount(&lf, &currency, "subtotal")?;
        let total = amount(&lf, &currency, "total")?;
        // WooCommerce states the line subtotal (before discounts); the unit
        // price is that over the quantity, which it always divides unless a
        // plugin rounded per line.
        let unit_price = if quantity > 0 {
            (subtotal + quantity / 2) / quantity
        } else {
            subtotal
        };
        let mut line = UnifiedOrderLine {
            channel_line_id: l
                .get("id")
                .and_then(Value::as_i64)
                .map_or_else(|| format!("{id}-{i}"), |v| v.to_string()),
            sku: lf.opt_str("sku"),
            title: lf.opt_str("name").unwrap_or_default(),
            quantity,
            unit_price,
            tax: amount(&lf, &currency, "total_tax")?,
            discount: subtotal - total,
            flags: Vec::new(),
        };
        // Unknown SKUs are flagged by the importer, which knows the catalogue.
        line.flag_against(|_| true);
        lines.push(line);
    }
    let shipping_method = raw
        .get("shipping_lines")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.get("method_title").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty());
    let billing_address = address(&billing);
    Ok(UnifiedOrder {
        channel_order_id: id.to_string(),
        number: f.opt_str("number").unwrap_or_else(|| id.to_string()),
        payment_status,
        fulfilment,
        cancelled: matches!(status, "cancelled" | "trash"),
        created_at: gmt_date(&f, "date_created_gmt")?,
        updated_at: gmt_date(&f, "date_modified_gmt")?,
        total: amount(&f, &currency, "total")?,
        tax_total: amount(&f, &currency, "total_tax")?,
        shipping_total: amount(&f, &currency, "shipping_total")?,
        discount_total: amount(&f, &currency, "discount_total")?,
        currency,
        customer: Customer {
            name: billing_address.name.clone(),
            email: bf.opt_str("email"),
            phone: bf.opt_str("phone"),
        },
        shipping_address: address(raw.get("shipping").unwrap_or(&Value::Null)),
        billing_address,
        shipping_method,
        lines,
        // WooCommerce orders carry no tags.
        tags: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchyard_domain::order::LineFlag;

    fn sample() -> Value {
        json!({
            "id": 727, "number": "727", "status": "processing", "currency": "EUR",
            "date_created_gmt": "2017-03-22T16:28:02", "date_modified_gmt": "2017-03-22T16:28:08",
            "date_paid_gmt": "2017-03-22T16:28:08",
            "total": "29.35", "total_tax": "1.35", "shipping_total": "10.00", "discount_total": "0.00",
            "billing": { "first_name": "John", "last_name": "Doe", "address_1": "969 Market", "city": "San Francisco",
                         "state": "CA", "postcode": "94103", "country": "US", "email": "john.doe@example.com", "phone": "(555) 555-5555" },
            "shipping": { "first_name": "John", "last_name": "Doe", "address_1": "969 Market", "city": "San Francisco",
                          "state": "CA", "postcode": "94103", "country": "us" },
            "line_items": [
                { "id": 315, "name": "Woo Single #1", "quantity": 2, "subtotal": "6.00", "total": "6.00", "total_tax": "0.45", "sku": "", "price": 3 },
                { "id": 316, "name": "Ship Your Idea", "quantity": 1, "subtotal": "12.00", "total": "10.80", "total_tax": "0.90", "sku": "SYI-L", "price": 10.8 }
            ],
            "shipping_lines": [{ "id": 317, "method_title": "Flat Rate", "total": "10.00" }]
        })
    }

    #[test]
    fn the_documented_order_maps_with_exact_money_and_utc_times() {
        let o = order("woocommerce", &sample()).unwrap();
        assert_eq!(o.channel_order_id, "727");
        assert_eq!(o.payment_status, PaymentStatus::Paid);
        assert_eq!(o.fulfilment, ChannelFulfilment::Unfulfilled);
        assert_eq!(o.total, 2935);
        assert_eq!(o.tax_total, 135);
        assert_eq!(o.shipping_total, 1000);
        assert_eq!(o.updated_at.to_rfc3339(), "2017-03-22T16:28:08+00:00");
        assert_eq!(o.shipping_address.country.unwrap().as_str(), "US");
        assert_eq!(o.customer.email.as_deref(), Some("john.doe@example.com"));
        assert_eq!(o.shipping_method.as_deref(), Some("Flat Rate"));
        assert_eq!(o.lines.len(), 2, "a line without SKU is kept");
        assert_eq!(o.lines[0].flags, [LineFlag::MissingSku]);
        assert_eq!(o.lines[0].unit_price, 300);
        assert_eq!(o.lines[1].unit_price, 1200);
        assert_eq!(o.lines[1].discount, 120);
        assert_eq!(o.lines[1].tax, 90);
    }

    #[test]
    fn broken_orders_are_refused_with_the_field_named() {
        let mut bad = sample();
        bad["total"] = json!("12,50");
        let e = order("woocommerce", &bad).unwrap_err();
        assert!(e.to_string().contains("total"), "{e}");
        let mut bad = sample();
        bad["date_modified_gmt"] = json!(null);
        assert!(order("woocommerce", &bad).is_err());
    }
}
