//! eBay Fulfillment API orders into the unified order.

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

/// `{value: "12.34", currency}` in minor units; the currency must be the
/// order's.
pub(crate) fn amount(label: &str, v: &Value, currency: Currency) -> Result<i64, ConnectorError> {
    let value = v["value"]
        .as_str()
        .ok_or_else(|| malformed(label, format!("amount without value: {v}")))?;
    if let Some(code) = v["currency"].as_str()
        && code != currency.as_str()
    {
        return Err(malformed(
            label,
            format!("amount in {code} on a {} order", currency.as_str()),
        ));
    }
    currency
        .parse_amount(value)
        .map_err(|e| malformed(label, e.message))
}

/// An optional amount: absent is zero.
fn amount_or_zero(label: &str, v: &Value, currency: Currency) -> Result<i64, ConnectorError> {
    if v.is_null() {
        Ok(0)
    } else {
        amount(label, v, currency)
    }
}

fn time(label: &str, raw: &Value, key: &str) -> Result<DateTime<Utc>, ConnectorError> {
    raw[key]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| malformed(label, format!("`{key}` is not an ISO 8601 time")))
}

fn address(contact: &Value) -> Address {
    let a = &contact["contactAddress"];
    let s = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    Address {
        name: s(&contact["fullName"]),
        company: s(&contact["companyName"]),
        line1: s(&a["addressLine1"]),
        line2: s(&a["addressLine2"]),
        city: s(&a["city"]),
        region: s(&a["stateOrProvince"]),
        postal_code: s(&a["postalCode"]),
        country: s(&a["countryCode"]).and_then(|c| CountryCode::parse(&c).ok()),
        phone: s(&contact["primaryPhone"]["phoneNumber"]),
    }
}

/// One order.
pub(crate) fn order(label: &str, raw: &Value) -> Result<UnifiedOrder, ConnectorError> {
    let f = Fields::new(label, raw);
    let id = f.str("orderId")?;
    let pricing = &raw["pricingSummary"];
    let currency = pricing["total"]["currency"]
        .as_str()
        .ok_or_else(|| f.missing("pricingSummary.total.currency"))?;
    let currency = Currency::parse(currency).map_err(|e| malformed(label, e.message))?;
    let payment_status = match f.str("orderPaymentStatus")? {
        "PAID" => PaymentStatus::Paid,
        "FULLY_REFUNDED" => PaymentStatus::Refunded,
        "PARTIALLY_REFUNDED" => PaymentStatus::PartiallyRefunded,
        "FAILED" => PaymentStatus::Voided,
        _ => PaymentStatus::Pending,
    };
    let fulfilment = match f.str("orderFulfillmentStatus")? {
        "FULFILLED" => ChannelFulfilment::Fulfilled,
        "IN_PROGRESS" => ChannelFulfilment::PartiallyFulfilled,
        "NOT_STARTED" => ChannelFulfilment::Unfulfilled,
        _ => ChannelFulfilment::Unknown,
    };
    let lines = raw["lineItems"]
        .as_array()
        .ok_or_else(|| f.missing("lineItems"))?
        .iter()
        .map(|l| {
            let lf = Fields::new(label, l);
            let quantity = lf.i64("quantity")?;
            if quantity <= 0 {
                return Err(malformed(label, format!("line quantity {quantity}")));
            }
            // `lineItemCost` is the line's price for all its units.
            let cost = amount(label, &l["lineItemCost"], currency)?;
            let discount: i64 = l["appliedPromotions"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|p| amount_or_zero(label, &p["discountAmount"], currency))
                .sum::<Result<i64, _>>()?;
            let tax: i64 = l["taxes"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|t| amount_or_zero(label, &t["amount"], currency))
                .sum::<Result<i64, _>>()?;
            let mut line = UnifiedOrderLine {
                channel_line_id: lf.str("lineItemId")?.to_owned(),
                sku: lf.opt_str("sku").filter(|s| !s.trim().is_empty()),
                title: lf.opt_str("title").unwrap_or_default(),
                quantity,
                unit_price: (cost + quantity / 2) / quantity,
                tax: tax.abs(),
                discount: discount.abs(),
                flags: Vec::new(),
            };
            line.flag_against(|_| true);
            Ok(line)
        })
        .collect::<Result<Vec<_>, ConnectorError>>()?;
    let step = &raw["fulfillmentStartInstructions"][0]["shippingStep"];
    let registration = &raw["buyer"]["buyerRegistrationAddress"];
    let shipping_address = address(&step["shipTo"]);
    let billing_address = if registration.is_object() {
        address(registration)
    } else {
        shipping_address.clone()
    };
    let name = shipping_address
        .name
        .clone()
        .or_else(|| billing_address.name.clone());
    let email = registration["email"]
        .as_str()
        .or(step["shipTo"]["email"].as_str())
        .map(str::to_owned);
    Ok(UnifiedOrder {
        channel_order_id: id.to_owned(),
        number: id.to_owned(),
        payment_status,
        fulfilment,
        cancelled: raw["cancelStatus"]["cancelState"].as_str() == Some("CANCELED"),
        created_at: time(label, raw, "creationDate")?,
        updated_at: time(label, raw, "lastModifiedDate")?,
        currency,
        total: amount(label, &pricing["total"], currency)?,
        tax_total: amount_or_zero(label, &pricing["tax"], currency)?,
        shipping_total: amount_or_zero(label, &pricing["deliveryCost"], currency)?,
        discount_total: amount_or_zero(label, &pricing["priceDiscount"], currency)?.abs()
            + amount_or_zero(label, &pricing["deliveryDiscount"], currency)?.abs(),
        customer: Customer {
            name,
            email,
            phone: shipping_address.phone.clone(),
        },
        shipping_method: step["shippingServiceCode"].as_str().map(str::to_owned),
        billing_address,
        shipping_address,
        lines,
        tags: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_are_exact_decimal_text_in_the_orders_currency() {
        let gbp = Currency::parse("GBP").unwrap();
        let a = |v: &str, c: &str| json!({ "value": v, "currency": c });
        assert_eq!(amount("ebay", &a("12.34", "GBP"), gbp).unwrap(), 1234);
        assert_eq!(amount("ebay", &a("0.1", "GBP"), gbp).unwrap(), 10);
        assert!(amount("ebay", &a("1.234", "GBP"), gbp).is_err());
        assert!(amount("ebay", &a("12.34", "EUR"), gbp).is_err());
        assert!(amount("ebay", &json!({ "currency": "GBP" }), gbp).is_err());
    }
}
