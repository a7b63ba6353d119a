//! SP-API orders (Orders v0 `Order` with its `OrderItem`s) into the
//! unified order.

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

/// `{CurrencyCode, Amount: "12.34"}` in minor units; absent is zero.
pub(crate) fn money(label: &str, v: &Value, currency: Currency) -> Result<i64, ConnectorError> {
    if v.is_null() {
        return Ok(0);
    }
    if let Some(code) = v["CurrencyCode"].as_str()
        && code != currency.as_str()
    {
        return Err(malformed(
            label,
            format!("amount in {code} on a {} order", currency.as_str()),
        ));
    }
    let amount = v["Amount"]
        .as_str()
        .ok_or_else(|| malformed(label, format!("money without Amount: {v}")))?;
    currency
        .parse_amount(amount)
        .map_err(|e| malformed(label, e.message))
}

fn time(label: &str, raw: &Value, key: &str) -> Result<DateTime<Utc>, ConnectorError> {
    raw[key]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| malformed(label, format!("`{key}` is not an ISO 8601 time")))
}

/// One order and all its items.
pub(crate) fn order(
    label: &str,
    raw: &Value,
    items: &[Value],
    fallback: Currency,
) -> Result<UnifiedOrder, ConnectorError> {
    let f = Fields::new(label, raw);
    let id = f.str("AmazonOrderId")?;
    let currency = match raw["OrderTotal"]["CurrencyCode"].as_str() {
        Some(c) => Currency::parse(c).map_err(|e| malformed(label, e.message))?,
        // A Pending order may have no total yet.
        None => fallback,
    };
    let status = f.str("OrderStatus")?;
    let payment_status = match status {
        "Pending" | "PendingAvailability" => PaymentStatus::Pending,
        _ => PaymentStatus::Paid,
    };
    let fulfilment = match status {
        "Shipped" => ChannelFulfilment::Fulfilled,
        "PartiallyShipped" => ChannelFulfilment::PartiallyFulfilled,
        "Unshipped" | "Pending" | "PendingAvailability" | "InvoiceUnconfirmed" => {
            ChannelFulfilment::Unfulfilled
        }
        _ => ChannelFulfilment::Unknown,
    };
    let (mut shipping, mut tax, mut discount) = (0, 0, 0);
    let lines = items
        .iter()
        .map(|i| {
            let itf = Fields::new(label, i);
            let quantity = itf.i64("QuantityOrdered")?;
            // `ItemPrice` is the price of all the line's units.
            let price = money(label, &i["ItemPrice"], currency)?;
            let item_tax = money(label, &i["ItemTax"], currency)?;
            let promo = money(label, &i["PromotionDiscount"], currency)?.abs();
            shipping += money(label, &i["ShippingPrice"], currency)?
                - money(label, &i["ShippingDiscount"], currency)?.abs();
            tax += item_tax + money(label, &i["ShippingTax"], currency)?;
            discount += promo;
            let mut line = UnifiedOrderLine {
                channel_line_id: itf.str("OrderItemId")?.to_owned(),
                sku: itf.opt_str("SellerSKU").filter(|s| !s.trim().is_empty()),
                title: itf.opt_str("Title").unwrap_or_default(),
                quantity,
                unit_price: if quantity > 0 {
                    (price + quantity / 2) / quantity
                } else {
                    price
                },
                tax: item_tax,
                discount: promo,
                flags: Vec::new(),
            };
            line.flag_against(|_| true);
            Ok(line)
        })
        .collect::<Result<Vec<_>, ConnectorError>>()?;
    let a = &raw["ShippingAddress"];
    let s = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    // Name and street come only with a restricted data token.
    let address = Address {
        name: s(&a["Name"]),
        company: s(&a["CompanyName"]),
        line1: s(&a["AddressLine1"]),
        line2: s(&a["AddressLine2"]),
        city: s(&a["City"]),
        region: s(&a["StateOrRegion"]),
        postal_code: s(&a["PostalCode"]),
        country: s(&a["CountryCode"]).and_then(|c| CountryCode::parse(&c).ok()),
        phone: s(&a["Phone"]),
    };
    let total = match raw["OrderTotal"].is_null() {
        true => lines.iter().map(|l| l.unit_price * l.quantity).sum::<i64>() + shipping - discount,
        false => money(label, &raw["OrderTotal"], currency)?,
    };
    Ok(UnifiedOrder {
        channel_order_id: id.to_owned(),
        number: id.to_owned(),
        payment_status,
        fulfilment,
        cancelled: status == "Canceled",
        created_at: time(label, raw, "PurchaseDate")?,
        updated_at: time(label, raw, "LastUpdateDate")?,
        currency,
        total,
        tax_total: tax,
        shipping_total: shipping,
        discount_total: discount,
        customer: Customer {
            name: s(&raw["BuyerInfo"]["BuyerName"]).or_else(|| address.name.clone()),
            email: s(&raw["BuyerInfo"]["BuyerEmail"]),
            phone: address.phone.clone(),
        },
        billing_address: address.clone(),
        shipping_address: address,
        shipping_method: s(&raw["ShipServiceLevel"]),
        lines,
        tags: Vec::new(),
    })
}
