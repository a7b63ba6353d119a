//! Etsy receipts into the unified order.

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_domain::order::{
    Address, ChannelFulfilment, Customer, PaymentStatus, UnifiedOrder, UnifiedOrderLine,
};
use switchyard_domain::values::{CountryCode, Currency};

use crate::error::ConnectorError;
use crate::support::Fields;

fn malformed(label: &str, reason: impl Into<String>) -> ConnectorError {
    ConnectorError::Malformed {
        channel: label.to_owned(),
        reason: reason.into(),
    }
}

/// `{amount, divisor, currency_code}` in the currency's minor units. The
/// divisor is usually 100 but is not promised: 1234 / 100 EUR is 1234
/// cents, 1234 / 1000 EUR is 123 cents (rounded half away from zero).
pub(crate) fn money(label: &str, v: &Value, currency: Currency) -> Result<i64, ConnectorError> {
    let amount = v["amount"]
        .as_i64()
        .ok_or_else(|| malformed(label, format!("money without amount: {v}")))?;
    let divisor = v["divisor"]
        .as_i64()
        .filter(|d| *d > 0)
        .ok_or_else(|| malformed(label, format!("money without a positive divisor: {v}")))?;
    if let Some(code) = v["currency_code"].as_str()
        && code != currency.as_str()
    {
        return Err(malformed(
            label,
            format!("money in {code} on a {} receipt", currency.as_str()),
        ));
    }
    let scale = 10_i128.pow(currency.minor_digits());
    let num = i128::from(amount) * scale;
    let d = i128::from(divisor);
    let rounded = (num + num.signum() * d / 2) / d;
    i64::try_from(rounded).map_err(|_| malformed(label, "amount out of range"))
}

fn time(label: &str, v: &Value, key: &str) -> Result<DateTime<Utc>, ConnectorError> {
    v[key]
        .as_i64()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| malformed(label, format!("`{key}` is not a Unix time")))
}

/// One receipt.
pub(crate) fn receipt(label: &str, raw: &Value) -> Result<UnifiedOrder, ConnectorError> {
    let f = Fields::new(label, raw);
    let id = raw["receipt_id"]
        .as_u64()
        .ok_or_else(|| f.missing("receipt_id"))?;
    let currency = raw["grandtotal"]["currency_code"]
        .as_str()
        .ok_or_else(|| f.missing("grandtotal.currency_code"))?;
    let currency = Currency::parse(currency).map_err(|e| malformed(label, e.message))?;
    let m = |key: &str| money(label, &raw[key], currency);
    let status = f.str("status")?;
    let payment_status = match status {
        "fully refunded" => PaymentStatus::Refunded,
        "partially refunded" => PaymentStatus::PartiallyRefunded,
        _ if raw["is_paid"].as_bool() == Some(true) => PaymentStatus::Paid,
        _ => PaymentStatus::Pending,
    };
    let lines = raw["transactions"]
        .as_array()
        .ok_or_else(|| f.missing("transactions"))?
        .iter()
        .map(|t| {
            let tf = Fields::new(label, t);
            let tid = t["transaction_id"]
                .as_u64()
                .ok_or_else(|| tf.missing("transaction_id"))?;
            let mut line = UnifiedOrderLine {
                channel_line_id: tid.to_string(),
                sku: tf.opt_str("sku").filter(|s| !s.trim().is_empty()),
                title: tf.opt_str("title").unwrap_or_default(),
                quantity: tf.i64("quantity")?,
                unit_price: money(label, &t["price"], currency)?,
                tax: 0,
                discount: 0,
                flags: Vec::new(),
            };
            line.flag_against(|_| true);
            Ok(line)
        })
        .collect::<Result<Vec<_>, ConnectorError>>()?;
    let address = Address {
        name: f.opt_str("name"),
        company: None,
        line1: f.opt_str("first_line"),
        line2: f.opt_str("second_line"),
        city: f.opt_str("city"),
        region: f.opt_str("state"),
        postal_code: f.opt_str("zip"),
        country: f
            .opt_str("country_iso")
            .and_then(|c| CountryCode::parse(&c).ok()),
        phone: None,
    };
    Ok(UnifiedOrder {
        channel_order_id: id.to_string(),
        number: id.to_string(),
        payment_status,
        fulfilment: if raw["is_shipped"].as_bool() == Some(true) {
            ChannelFulfilment::Fulfilled
        } else {
            ChannelFulfilment::Unfulfilled
        },
        cancelled: status == "canceled",
        created_at: time(label, raw, "created_timestamp")?,
        updated_at: time(label, raw, "updated_timestamp")?,
        currency,
        total: m("grandtotal")?,
        tax_total: m("total_tax_cost")? + m("total_vat_cost")?,
        shipping_total: m("total_shipping_cost")?,
        discount_total: m("discount_amt")?,
        customer: Customer {
            name: f.opt_str("name"),
            email: f.opt_str("buyer_email"),
            phone: None,
        },
        billing_address: address.clone(),
        shipping_address: address,
        shipping_method: None,
        lines,
        tags: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_honours_the_divisor_and_the_currency() {
        let eur = Currency::parse("EUR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        let m = |a: i64, d: i64, c: &str| json!({ "amount": a, "divisor": d, "currency_code": c });
        assert_eq!(money("etsy", &m(1234, 100, "EUR"), eur).unwrap(), 1234);
        assert_eq!(money("etsy", &m(1235, 1000, "EUR"), eur).unwrap(), 124);
        assert_eq!(money("etsy", &m(-1235, 1000, "EUR"), eur).unwrap(), -124);
        assert_eq!(money("etsy", &m(500, 1, "JPY"), jpy).unwrap(), 500);
        assert!(money("etsy", &m(1, 0, "EUR"), eur).is_err(), "no divisor");
        assert!(
            money("etsy", &m(1, 100, "USD"), eur).is_err(),
            "another currency"
        );
    }
}
