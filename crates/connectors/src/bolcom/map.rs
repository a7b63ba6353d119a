//! bol.com orders (`GET /retailer/orders/{id}`) into the unified order,
//! and the offer export CSV into listings.

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

/// bol prices are JSON numbers in euros (`12.99`); read through their
/// decimal text so no float rounding creeps in.
pub(crate) fn euros(label: &str, eur: Currency, v: &Value) -> Result<i64, ConnectorError> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err(malformed(label, format!("not a price: {v}"))),
    };
    eur.parse_amount(&text)
        .map_err(|e| malformed(label, e.message))
}

fn time(label: &str, v: &Value, what: &str) -> Result<DateTime<Utc>, ConnectorError> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| malformed(label, format!("`{what}` is not an ISO 8601 time: {v}")))
}

/// The newest `latestChangedDateTime` of an order's items (reduced or full).
pub(crate) fn changed(label: &str, order: &Value) -> Result<DateTime<Utc>, ConnectorError> {
    order["orderItems"]
        .as_array()
        .ok_or_else(|| malformed(label, "order without orderItems"))?
        .iter()
        .map(|i| time(label, &i["latestChangedDateTime"], "latestChangedDateTime"))
        .try_fold(None, |acc: Option<DateTime<Utc>>, t| {
            t.map(|t| Some(acc.map_or(t, |a| a.max(t))))
        })?
        .ok_or_else(|| malformed(label, "order without items"))
}

fn address(d: &Value) -> Address {
    let s = |k: &str| d[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let name = [s("firstName"), s("surname")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    // bol keeps the house number (and its extension) apart from the street.
    let line1 = [s("streetName"), s("houseNumber"), s("houseNumberExtension")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Address {
        name: (!name.is_empty()).then_some(name),
        company: s("company"),
        line1: (!line1.is_empty()).then_some(line1),
        line2: s("extraAddressInformation"),
        city: s("city"),
        region: None,
        postal_code: s("zipCode"),
        country: s("countryCode").and_then(|c| CountryCode::parse(&c).ok()),
        phone: s("deliveryPhoneNumber"),
    }
}

/// One order with its details.
pub(crate) fn order(
    label: &str,
    eur: Currency,
    raw: &Value,
) -> Result<UnifiedOrder, ConnectorError> {
    let f = Fields::new(label, raw);
    let id = f.str("orderId")?;
    let items = raw["orderItems"]
        .as_array()
        .ok_or_else(|| f.missing("orderItems"))?;
    let (mut quantity, mut shipped, mut cancelled, mut total) = (0, 0, 0, 0);
    let lines = items
        .iter()
        .map(|i| {
            let itf = Fields::new(label, i);
            let q = itf.i64("quantity")?;
            quantity += q;
            shipped += i["quantityShipped"].as_i64().unwrap_or(0);
            cancelled += i["quantityCancelled"].as_i64().unwrap_or(0);
            total += euros(label, eur, &i["totalPrice"])?;
            let discount = i["discounts"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|d| euros(label, eur, &d["amount"]))
                .sum::<Result<i64, _>>()?;
            let mut line = UnifiedOrderLine {
                channel_line_id: itf.str("orderItemId")?.to_owned(),
                // The offer's reference is the retailer's own SKU.
                sku: i["offer"]["reference"]
                    .as_str()
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned),
                title: i["product"]["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                quantity: q,
                unit_price: euros(label, eur, &i["unitPrice"])?,
                tax: 0,
                discount: discount.abs(),
                flags: Vec::new(),
            };
            line.flag_against(|_| true);
            Ok(line)
        })
        .collect::<Result<Vec<_>, ConnectorError>>()?;
    let shipping_address = address(&raw["shipmentDetails"]);
    let billing_address = if raw["billingDetails"].is_object() {
        address(&raw["billingDetails"])
    } else {
        shipping_address.clone()
    };
    let fulfilment = if shipped == 0 {
        ChannelFulfilment::Unfulfilled
    } else if shipped + cancelled >= quantity {
        ChannelFulfilment::Fulfilled
    } else {
        ChannelFulfilment::PartiallyFulfilled
    };
    Ok(UnifiedOrder {
        channel_order_id: id.to_owned(),
        number: id.to_owned(),
        // bol passes an order on only once the customer has paid.
        payment_status: PaymentStatus::Paid,
        fulfilment,
        cancelled: quantity > 0 && cancelled >= quantity,
        created_at: time(label, &raw["orderPlacedDateTime"], "orderPlacedDateTime")?,
        updated_at: changed(label, raw)?,
        currency: eur,
        total,
        tax_total: 0,
        shipping_total: 0,
        discount_total: lines.iter().map(|l| l.discount).sum(),
        customer: Customer {
            name: shipping_address.name.clone(),
            email: raw["shipmentDetails"]["email"].as_str().map(str::to_owned),
            phone: shipping_address.phone.clone(),
        },
        billing_address,
        shipping_address,
        shipping_method: None,
        lines,
        tags: Vec::new(),
    })
}

/// Split one CSV record (RFC 4180: quoted fields, doubled quotes).
pub(crate) fn csv_record(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_are_read_exactly_from_their_decimal_text() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(euros("bol", eur, &json!(12.99)).unwrap(), 1299);
        assert_eq!(euros("bol", eur, &json!(0.1)).unwrap(), 10);
        assert_eq!(euros("bol", eur, &json!(7)).unwrap(), 700);
        assert!(euros("bol", eur, &json!(1.234)).is_err());
        assert!(euros("bol", eur, &json!(null)).is_err());
    }

    #[test]
    fn csv_fields_may_be_quoted() {
        assert_eq!(
            csv_record(r#"a,"b,c","say ""hi""",,e"#),
            vec!["a", "b,c", r#"say "hi""#, "", "e"]
        );
    }
}
