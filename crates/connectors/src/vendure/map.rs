//! Vendure order JSON (Admin API) → the unified order. Vendure states money
//! as integers in minor units, net and with tax side by side.

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_domain::order::{
    Address, ChannelFulfilment, Customer, PaymentStatus, UnifiedOrder, UnifiedOrderLine,
};
use switchyard_domain::values::{CountryCode, Currency};

use crate::error::ConnectorError;
use crate::support::Fields;

fn date(label: &str, v: &Value, key: &str) -> Result<Option<DateTime<Utc>>, ConnectorError> {
    match v.get(key).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ConnectorError::Malformed {
                channel: label.to_owned(),
                reason: format!("`{key}` is not a date: {s}"),
            }),
    }
}

fn address(v: &Value) -> Address {
    let f = Fields::new("vendure", v);
    Address {
        name: f.opt_str("fullName"),
        company: f.opt_str("company"),
        line1: f.opt_str("streetLine1"),
        line2: f.opt_str("streetLine2"),
        city: f.opt_str("city"),
        region: f.opt_str("province"),
        postal_code: f.opt_str("postalCode"),
        country: f
            .opt_str("countryCode")
            .and_then(|c| CountryCode::parse(&c.to_ascii_uppercase()).ok()),
        phone: f.opt_str("phoneNumber"),
    }
}

/// Money paid, from the payments: settled in full is paid, authorised in
/// full is authorised (Vendure places such orders too).
fn payment_status(raw: &Value, total: i64) -> PaymentStatus {
    let sum = |state: &str| -> i64 {
        raw["payments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["state"] == state)
            .filter_map(|p| p["amount"].as_i64())
            .sum()
    };
    let (settled, authorized) = (sum("Settled"), sum("Authorized"));
    if settled >= total && settled > 0 {
        PaymentStatus::Paid
    } else if settled > 0 {
        PaymentStatus::PartiallyPaid
    } else if authorized >= total && authorized > 0 {
        PaymentStatus::Authorized
    } else {
        PaymentStatus::Pending
    }
}

/// The newest moment the order visibly changed. Vendure leaves `updatedAt`
/// alone on state transitions, so placement and fulfilments count too.
fn changed_at(label: &str, raw: &Value) -> Result<DateTime<Utc>, ConnectorError> {
    let mut newest = date(label, raw, "updatedAt")?.ok_or_else(|| ConnectorError::Malformed {
        channel: label.to_owned(),
        reason: "field `updatedAt` is missing".into(),
    })?;
    let nested = ["fulfillments", "payments"].into_iter().flat_map(|k| {
        raw[k]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| date(label, x, "updatedAt"))
    });
    for t in std::iter::once(date(label, raw, "orderPlacedAt")).chain(nested) {
        if let Some(t) = t? {
            newest = newest.max(t);
        }
    }
    Ok(newest)
}

/// Map one order. Lines without a SKU are kept and flagged.
pub(crate) fn order(label: &str, raw: &Value) -> Result<UnifiedOrder, ConnectorError> {
    let f = Fields::new(label, raw);
    let id = f.str("id")?;
    let currency =
        Currency::parse(f.str("currencyCode")?).map_err(|e| ConnectorError::Malformed {
            channel: label.to_owned(),
            reason: e.message,
        })?;
    let state = f.str("state")?;
    let total = f.i64("totalWithTax")?;
    let fulfilment = match state {
        "Shipped" | "Delivered" => ChannelFulfilment::Fulfilled,
        "PartiallyShipped" | "PartiallyDelivered" => ChannelFulfilment::PartiallyFulfilled,
        _ => ChannelFulfilment::Unfulfilled,
    };
    let mut lines = Vec::new();
    for l in raw["lines"].as_array().ok_or_else(|| f.missing("lines"))? {
        let lf = Fields::new(label, l);
        let variant = &l["productVariant"];
        let vf = Fields::new(label, variant);
        let gross = lf.i64("linePriceWithTax")?;
        let prorated_gross = lf.i64("proratedLinePriceWithTax")?;
        let mut line = UnifiedOrderLine {
            channel_line_id: lf.str("id")?.to_owned(),
            sku: vf.opt_str("sku"),
            title: vf.opt_str("name").unwrap_or_default(),
            quantity: lf.i64("quantity")?,
            unit_price: lf.i64("unitPriceWithTax")?,
            tax: prorated_gross - lf.i64("proratedLinePrice")?,
            discount: gross - prorated_gross,
            flags: Vec::new(),
        };
        line.flag_against(|_| true);
        lines.push(line);
    }
    let customer = &raw["customer"];
    let cf = Fields::new(label, customer);
    let name = [cf.opt_str("firstName"), cf.opt_str("lastName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let shipping_method = raw["shippingLines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l["shippingMethod"]["name"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty());
    Ok(UnifiedOrder {
        channel_order_id: id.to_owned(),
        number: f.opt_str("code").unwrap_or_else(|| id.to_owned()),
        payment_status: payment_status(raw, total),
        fulfilment,
        cancelled: state == "Cancelled",
        created_at: date(label, raw, "orderPlacedAt")?
            .or(date(label, raw, "createdAt")?)
            .ok_or_else(|| f.missing("createdAt"))?,
        updated_at: changed_at(label, raw)?,
        total,
        tax_total: total - f.i64("total")?,
        shipping_total: f.i64("shippingWithTax")?,
        // Vendure states discounts as negative adjustments.
        discount_total: -raw["discounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["amountWithTax"].as_i64())
            .sum::<i64>(),
        currency,
        customer: Customer {
            name: Some(name).filter(|n| !n.is_empty()),
            email: cf.opt_str("emailAddress"),
            phone: cf.opt_str("phoneNumber"),
        },
        shipping_address: address(&raw["shippingAddress"]),
        billing_address: address(&raw["billingAddress"]),
        shipping_method,
        lines,
        tags: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use switchyard_domain::order::LineFlag;

    /// An order as Vendure 3.7 answered it in the platform test (trimmed).
    fn sample() -> Value {
        json!({
            "id": "1", "code": "ELG7XVDTXCS288P1", "state": "PaymentSettled", "active": false,
            "orderPlacedAt": "2026-11-22T12:47:39.366Z", "createdAt": "2026-11-22T12:47:39.000Z",
            "updatedAt": "2026-11-22T12:47:39.000Z", "currencyCode": "EUR",
            "total": 13975, "totalWithTax": 16910, "shipping": 495, "shippingWithTax": 599,
            "discounts": [],
            "customer": { "firstName": "Ada", "lastName": "Lovelace", "emailAddress": "ada@example.com", "phoneNumber": "+31 20 555 0101" },
            "shippingAddress": { "fullName": "Ada Lovelace", "company": "Engines Ltd", "streetLine1": "Keizersgracht 1",
                "streetLine2": "2nd floor", "city": "Amsterdam", "province": "Noord-Holland", "postalCode": "1015 AA",
                "countryCode": "NL", "phoneNumber": "+31 20 555 0101" },
            "billingAddress": { "fullName": "Ada Lovelace", "countryCode": "NL" },
            "shippingLines": [{ "shippingMethod": { "name": "Standard post" } }],
            "payments": [{ "state": "Settled", "amount": 16910, "updatedAt": "2026-11-22T12:47:39.000Z" }],
            "fulfillments": [],
            "lines": [
                { "id": "1", "quantity": 2, "unitPriceWithTax": 6038, "linePriceWithTax": 12076,
                  "proratedLinePrice": 9980, "proratedLinePriceWithTax": 12076,
                  "productVariant": { "id": "1", "sku": "SKU-00001", "name": "Oak Desk Lamp" } },
                { "id": "2", "quantity": 1, "unitPriceWithTax": 4235, "linePriceWithTax": 4235,
                  "proratedLinePrice": 3500, "proratedLinePriceWithTax": 4235,
                  "productVariant": { "id": "2", "sku": "", "name": "Linen Shirt M" } }
            ]
        })
    }

    #[test]
    fn a_placed_order_maps_with_gross_money_and_its_placement_time() {
        let o = order("vendure", &sample()).unwrap();
        assert_eq!(o.channel_order_id, "1");
        assert_eq!(o.number, "ELG7XVDTXCS288P1");
        assert_eq!(o.payment_status, PaymentStatus::Paid);
        assert_eq!(o.fulfilment, ChannelFulfilment::Unfulfilled);
        assert_eq!((o.total, o.tax_total, o.shipping_total), (16910, 2935, 599));
        assert_eq!(o.updated_at.to_rfc3339(), "2026-11-22T12:47:39.366+00:00");
        assert_eq!(o.shipping_address.country.unwrap().as_str(), "NL");
        assert_eq!(o.shipping_address.postal_code.as_deref(), Some("1015 AA"));
        assert_eq!(o.customer.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(o.lines[0].unit_price, 6038);
        assert_eq!(o.lines[0].tax, 2096);
        assert_eq!(o.lines[1].flags, [LineFlag::MissingSku]);
    }

    #[test]
    fn unpaid_partly_shipped_and_cancelled_orders_say_so() {
        let mut o = sample();
        o["payments"] = json!([{ "state": "Declined", "amount": 16910 }]);
        assert_eq!(
            order("vendure", &o).unwrap().payment_status,
            PaymentStatus::Pending
        );
        o["payments"] = json!([{ "state": "Authorized", "amount": 16910 }]);
        assert_eq!(
            order("vendure", &o).unwrap().payment_status,
            PaymentStatus::Authorized
        );
        o["state"] = json!("PartiallyShipped");
        o["fulfillments"] = json!([{ "updatedAt": "2026-11-22T13:00:00.000Z" }]);
        let m = order("vendure", &o).unwrap();
        assert_eq!(m.fulfilment, ChannelFulfilment::PartiallyFulfilled);
        assert_eq!(m.updated_at.to_rfc3339(), "2026-11-22T13:00:00+00:00");
        o["state"] = json!("Cancelled");
        assert!(order("vendure", &o).unwrap().cancelled);
        o["totalWithTax"] = json!("169.10");
        let e = order("vendure", &o).unwrap_err();
        assert!(e.to_string().contains("totalWithTax"), "{e}");
    }
}
