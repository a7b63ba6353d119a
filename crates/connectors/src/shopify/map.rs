//! Shopify Admin GraphQL `Order` → the unified order.

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_domain::order::{
    Address, ChannelFulfilment, Customer, PaymentStatus, UnifiedOrder, UnifiedOrderLine,
};
use switchyard_domain::values::{CountryCode, Currency};

use crate::error::ConnectorError;
use crate::support::Fields;

fn malformed(label: &str, reason: String) -> ConnectorError {
    ConnectorError::Malformed {
        channel: label.to_owned(),
        reason,
    }
}

/// The numeric id at the end of a `gid://shopify/Kind/123`.
pub(crate) fn legacy_id(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

fn time(f: &Fields<'_>, key: &str) -> Result<DateTime<Utc>, ConnectorError> {
    let s = f.str(key)?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| malformed(f.label, format!("`{key}` is not a date: {s}")))
}

/// `xxxSet { shopMoney { amount currencyCode } }` in minor units; the
/// currency must be the order's.
fn money(label: &str, v: &Value, key: &str, currency: &Currency) -> Result<i64, ConnectorError> {
    let m = &v[key]["shopMoney"];
    if v[key].is_null() {
        return Ok(0);
    }
    let amount = m["amount"]
        .as_str()
        .ok_or_else(|| malformed(label, format!("`{key}.shopMoney.amount` is missing")))?;
    if let Some(c) = m["currencyCode"].as_str()
        && c != currency.as_str()
    {
        return Err(malformed(
            label,
            format!("`{key}` is in {c}, the order in {currency}"),
        ));
    }
    currency
        .parse_amount(amount)
        .map_err(|e| malformed(label, format!("`{key}`: {}", e.message)))
}

fn address(v: &Value) -> Address {
    let f = Fields::new("shopify", v);
    Address {
        name: f.opt_str("name"),
        company: f.opt_str("company"),
        line1: f.opt_str("address1"),
        line2: f.opt_str("address2"),
        city: f.opt_str("city"),
        region: f.opt_str("provinceCode"),
        postal_code: f.opt_str("zip"),
        country: f
            .opt_str("countryCodeV2")
            .and_then(|c| CountryCode::parse(&c).ok()),
        phone: f.opt_str("phone"),
    }
}

/// Map an order node (with all its line items gathered under `lineItems.nodes`).
pub(crate) fn order(label: &str, raw: &Value) -> Result<UnifiedOrder, ConnectorError> {
    let f = Fields::new(label, raw);
    let gid = f.str("id")?;
    let currency =
        Currency::parse(f.str("currencyCode")?).map_err(|e| malformed(label, e.message))?;
    let payment_status = match raw["displayFinancialStatus"].as_str() {
        Some("PENDING" | "EXPIRED") => PaymentStatus::Pending,
        Some("AUTHORIZED") => PaymentStatus::Authorized,
        Some("PAID") => PaymentStatus::Paid,
        Some("PARTIALLY_PAID") => PaymentStatus::PartiallyPaid,
        Some("PARTIALLY_REFUNDED") => PaymentStatus::PartiallyRefunded,
        Some("REFUNDED") => PaymentStatus::Refunded,
        Some("VOIDED") => PaymentStatus::Voided,
        _ => PaymentStatus::Unknown,
    };
    let fulfilment = match f.str("displayFulfillmentStatus")? {
        "FULFILLED" => ChannelFulfilment::Fulfilled,
        "PARTIALLY_FULFILLED" => ChannelFulfilment::PartiallyFulfilled,
        "UNFULFILLED"
        | "OPEN"
        | "PENDING_FULFILLMENT"
        | "IN_PROGRESS"
        | "ON_HOLD"
        | "SCHEDULED"
        | "REQUEST_DECLINED" => ChannelFulfilment::Unfulfilled,
        _ => ChannelFulfilment::Unknown,
    };
    let mut lines = Vec::new();
    for l in raw["lineItems"]["nodes"]
        .as_array()
        .ok_or_else(|| f.missing("lineItems.nodes"))?
    {
        let lf = Fields::new(label, l);
        let tax = l["taxLines"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .map(|t| money(label, t, "priceSet", &currency))
                    .sum::<Result<i64, _>>()
            })
            .transpose()?
            .unwrap_or(0);
        let mut line = UnifiedOrderLine {
            channel_line_id: legacy_id(lf.str("id")?).to_owned(),
            sku: lf.opt_str("sku"),
            title: lf
                .opt_str("name")
                .or_else(|| lf.opt_str("title"))
                .unwrap_or_default(),
            // What the buyer still gets: removals and refunds are already out.
            quantity: l["currentQuantity"]
                .as_i64()
                .map_or_else(|| lf.i64("quantity"), Ok)?,
            unit_price: money(label, l, "originalUnitPriceSet", &currency)?,
            tax,
            discount: money(label, l, "totalDiscountSet", &currency)?,
            flags: Vec::new(),
        };
        line.flag_against(|_| true);
        lines.push(line);
    }
    let customer_name = raw["customer"]["displayName"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| raw["shippingAddress"]["name"].as_str().map(str::to_owned));
    Ok(UnifiedOrder {
        channel_order_id: legacy_id(gid).to_owned(),
        number: f.str("name")?.to_owned(),
        payment_status,
        fulfilment,
        cancelled: !raw["cancelledAt"].is_null(),
        created_at: time(&f, "createdAt")?,
        updated_at: time(&f, "updatedAt")?,
        total: money(label, raw, "totalPriceSet", &currency)?,
        tax_total: money(label, raw, "totalTaxSet", &currency)?,
        shipping_total: money(label, raw, "totalShippingPriceSet", &currency)?,
        discount_total: money(label, raw, "totalDiscountsSet", &currency)?,
        currency,
        customer: Customer {
            name: customer_name,
            email: f.opt_str("email"),
            phone: f
                .opt_str("phone")
                .or_else(|| raw["customer"]["phone"].as_str().map(str::to_owned)),
        },
        shipping_address: address(&raw["shippingAddress"]),
        billing_address: address(&raw["billingAddress"]),
        shipping_method: raw["shippingLine"]["title"].as_str().map(str::to_owned),
        lines,
        tags: raw["tags"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t.as_str().map(str::trim))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}
