//! What an order's invoice says: its lines with their taxes and rates,
//! totals, and any difference from the channel's total with its reason.

use super::{
    Buyer, Difference, Document, DocumentLine, InvoiceSettings, LineKind, MAX_RATE_BP, ROUNDING,
    RateBp, TaxSource, mul_div_round, percent, total,
};
use crate::DomainError;
use crate::order::{OrderState, UnifiedOrder};

/// Tax included in `gross` at `rate`.
fn tax_in(gross: i64, rate: RateBp) -> i64 {
    mul_div_round(gross, i64::from(rate), 10_000 + i64::from(rate))
}

/// Tax on `net` at `rate`.
fn tax_on(net: i64, rate: RateBp) -> i64 {
    mul_div_round(net, i64::from(rate), 10_000)
}

/// The rate a channel's `tax` on `net` was charged at: one of the store's
/// `candidates` when it explains the amount to within a minor unit (per-line
/// rounding), else the roundest rate that does (a whole percent, then a
/// half, then a tenth), else the rate the amounts imply, to 0.01 %.
fn implied_rate(net: i64, tax: i64, candidates: &[RateBp]) -> RateBp {
    if tax == 0 || net <= 0 {
        return 0;
    }
    let explains = |r: RateBp| (tax_on(net, r) - tax).abs() <= 1;
    if let Some(r) = candidates.iter().copied().find(|r| explains(*r)) {
        return r;
    }
    let implied = u32::try_from(mul_div_round(tax, 10_000, net).clamp(0, i64::from(MAX_RATE_BP)))
        .unwrap_or(0);
    for step in [100, 50, 10] {
        let near = implied / step * step;
        for r in [
            near,
            near + step,
            near.saturating_sub(step),
            near + 2 * step,
        ] {
            if r <= MAX_RATE_BP && explains(r) {
                return r;
            }
        }
    }
    implied
}

/// What one of the order's amounts was before tax is worked out.
struct Charge {
    kind: LineKind,
    channel_line_id: Option<String>,
    sku: Option<String>,
    description: String,
    quantity: i64,
    unit_price: i64,
    discount: i64,
    /// Price times quantity less discount, as the channel states it.
    amount: i64,
    /// The tax the channel reported on it.
    tax: i64,
}

/// The invoice for `order` (channel `channel_id`) under `settings`.
///
/// Refused when the order was stored before import kept its unified form
/// (`order_not_invoiceable`) or is cancelled or excluded.
pub fn build_invoice(
    order: &UnifiedOrder,
    state: OrderState,
    channel_id: &str,
    settings: &InvoiceSettings,
) -> Result<Document, DomainError> {
    if matches!(state, OrderState::Cancelled | OrderState::Excluded) {
        return Err(DomainError::rule(
            "order_not_invoiceable",
            format!(
                "an order in state `{}` is not invoiced; only orders that were sold are",
                state.as_str()
            ),
        ));
    }
    let mut charges: Vec<Charge> = order
        .lines
        .iter()
        .map(|l| Charge {
            kind: LineKind::Product,
            channel_line_id: Some(l.channel_line_id.clone()),
            sku: l.sku.clone(),
            description: l.title.clone(),
            quantity: l.quantity,
            unit_price: l.unit_price,
            discount: l.discount,
            amount: l.unit_price.saturating_mul(l.quantity) - l.discount,
            tax: l.tax,
        })
        .collect();
    let line_tax: i64 = order.lines.iter().map(|l| l.tax).sum();
    if order.shipping_total != 0 {
        charges.push(Charge {
            kind: LineKind::Shipping,
            channel_line_id: None,
            sku: None,
            description: match &order.shipping_method {
                Some(m) if !m.trim().is_empty() => format!("Shipping: {}", m.trim()),
                _ => "Shipping".to_owned(),
            },
            quantity: 1,
            unit_price: order.shipping_total,
            discount: 0,
            amount: order.shipping_total,
            tax: (order.tax_total - line_tax).max(0),
        });
    }
    let country = order
        .shipping_address
        .country
        .as_ref()
        .or(order.billing_address.country.as_ref())
        .map(|c| c.as_str().to_owned());
    let country = country.as_deref();
    let sum_amounts: i64 = charges.iter().map(|c| c.amount).sum();
    let channel_reports_tax = order.tax_total != 0 || line_tax != 0;
    let configured_inclusive = settings
        .channel_prices_include_tax
        .get(channel_id)
        .copied()
        .unwrap_or(settings.prices_include_tax);
    let (source, inclusive) = if channel_reports_tax {
        // The channel's totals say whether its prices include the tax: the
        // total is the amounts, or the amounts and the tax.
        let inclusive = if sum_amounts == order.total {
            true
        } else if sum_amounts + order.tax_total == order.total {
            false
        } else {
            configured_inclusive
        };
        (TaxSource::Channel, inclusive)
    } else {
        (TaxSource::StoreRates, configured_inclusive)
    };
    let candidates = settings.tax_rates.candidates(country);
    let store_rate = settings.tax_rates.rate_for(country).unwrap_or(0);
    let lines: Vec<DocumentLine> = charges
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (net, tax, rate) = match (source, inclusive) {
                (TaxSource::Channel, true) => {
                    let net = c.amount - c.tax;
                    (net, c.tax, implied_rate(net, c.tax, &candidates))
                }
                (TaxSource::Channel, false) => {
                    (c.amount, c.tax, implied_rate(c.amount, c.tax, &candidates))
                }
                (TaxSource::StoreRates, true) => {
                    let tax = tax_in(c.amount, store_rate);
                    (c.amount - tax, tax, store_rate)
                }
                (TaxSource::StoreRates, false) => {
                    (c.amount, tax_on(c.amount, store_rate), store_rate)
                }
            };
            DocumentLine {
                line_no: u32::try_from(i + 1).unwrap_or(u32::MAX),
                kind: c.kind,
                channel_line_id: c.channel_line_id,
                sku: c.sku,
                description: c.description,
                quantity: c.quantity,
                unit_price: c.unit_price,
                discount: c.discount,
                tax_rate_bp: rate,
                net,
                tax,
                gross: net + tax,
            }
        })
        .collect();
    let mut doc = Document {
        seller: settings.seller.clone(),
        buyer: Buyer {
            name: order
                .customer
                .name
                .clone()
                .or_else(|| order.billing_address.name.clone())
                .or_else(|| order.shipping_address.name.clone()),
            email: order.customer.email.clone(),
            billing_address: order.billing_address.clone(),
            shipping_address: order.shipping_address.clone(),
        },
        order_number: order.number.clone(),
        order_date: order.created_at,
        currency: order.currency.as_str().to_owned(),
        minor_digits: order.currency.minor_digits(),
        rounding: ROUNDING.to_owned(),
        prices_include_tax: inclusive,
        tax_source: source,
        lines,
        taxes: Vec::new(),
        net: 0,
        tax: 0,
        gross: 0,
        channel_total: order.total,
        difference: None,
        reason: None,
        footer: settings.footer.clone(),
    };
    total(&mut doc);
    let fmt = |v: i64| format!("{} {}", order.currency.format_amount(v), doc.currency);
    let diff = doc.gross - order.total;
    if diff != 0 {
        let explanation = if source == TaxSource::StoreRates && !inclusive && diff == doc.tax {
            format!(
                "The channel reported no tax and prices without it; {} tax at the store's rate of {} for {} was added to the channel's total of {}.",
                fmt(doc.tax),
                percent(store_rate),
                country.unwrap_or("orders without a country"),
                fmt(order.total),
            )
        } else {
            format!(
                "Lines, shipping and tax add up to {}, the channel's total is {}: the channel applied {} of adjustments it did not attribute to lines (order discounts, gift cards, fees or rounding).",
                fmt(doc.gross),
                fmt(order.total),
                fmt(-diff),
            )
        };
        doc.difference = Some(Difference {
            amount: diff,
            explanation,
        });
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::super::TaxAmount;
    use super::super::tests::settings;
    use super::*;
    use crate::order::fixtures::order;

    #[test]
    fn channel_taxes_are_kept_and_the_totals_match_the_channel() {
        // Two mugs at 12.99 with 19 % tax on top (4.94), shipping 4.95 with
        // 0.94 tax: total 30.93 + 4.94 + 4.95 + 0.94 = 41.76.
        let mut o = order("DE", &[(Some("MUG"), 2), (Some("CAP"), 1)]);
        o.lines[0].unit_price = 1299;
        o.lines[0].tax = 494;
        o.lines[1].unit_price = 500;
        o.lines[1].discount = 100;
        o.lines[1].tax = 76;
        o.shipping_total = 495;
        o.tax_total = 494 + 76 + 94;
        o.total = 2598 + 400 + 495 + o.tax_total;
        let doc = build_invoice(&o, OrderState::Open, "ch_x", &settings()).unwrap();
        assert_eq!(doc.tax_source, TaxSource::Channel);
        assert!(!doc.prices_include_tax);
        assert_eq!(doc.lines.len(), 3);
        assert_eq!(doc.lines[2].kind, LineKind::Shipping);
        assert_eq!(doc.lines[2].tax, 94);
        assert_eq!(
            doc.lines.iter().map(|l| l.tax_rate_bp).collect::<Vec<_>>(),
            [1900, 1900, 1900]
        );
        assert_eq!(doc.net, 2598 + 400 + 495);
        assert_eq!(doc.tax, 664);
        assert_eq!(doc.gross, o.total);
        assert_eq!(doc.difference, None);
        assert_eq!(
            doc.taxes,
            [TaxAmount {
                rate_bp: 1900,
                net: 3493,
                tax: 664
            }]
        );
    }

    #[test]
    fn prices_with_tax_included_are_split_into_net_and_tax() {
        let mut o = order("NL", &[(Some("MUG"), 1)]);
        o.lines[0].unit_price = 1210;
        o.lines[0].tax = 210;
        o.tax_total = 210;
        o.total = 1210;
        let doc = build_invoice(&o, OrderState::Open, "ch_x", &settings()).unwrap();
        assert!(doc.prices_include_tax);
        assert_eq!((doc.net, doc.tax, doc.gross), (1000, 210, 1210));
        assert_eq!(doc.lines[0].tax_rate_bp, 2100);
    }

    #[test]
    fn without_channel_tax_the_store_rate_applies_and_the_difference_is_explained() {
        let mut o = order("DE", &[(Some("MUG"), 1)]);
        o.lines[0].unit_price = 1000;
        o.total = 1000;
        let doc = build_invoice(&o, OrderState::Open, "ch_x", &settings()).unwrap();
        assert_eq!(doc.tax_source, TaxSource::StoreRates);
        assert_eq!((doc.net, doc.tax, doc.gross), (1000, 190, 1190));
        let d = doc.difference.unwrap();
        assert_eq!(d.amount, 190);
        assert!(d.explanation.contains("19 % for DE"), "{}", d.explanation);
        // The same channel set to include tax: the total holds.
        let mut s = settings();
        s.channel_prices_include_tax.insert("ch_x".into(), true);
        let doc = build_invoice(&o, OrderState::Open, "ch_x", &s).unwrap();
        assert_eq!((doc.net, doc.tax, doc.gross), (840, 160, 1000));
        assert_eq!(doc.difference, None);
        // A country without a rate takes the default.
        let o = order("FR", &[(Some("MUG"), 1)]);
        let doc = build_invoice(&o, OrderState::Open, "ch_x", &s).unwrap();
        assert_eq!(doc.lines[0].tax_rate_bp, 2100);
    }

    #[test]
    fn unexplained_adjustments_are_shown() {
        let mut o = order("NL", &[(Some("MUG"), 1)]);
        o.lines[0].unit_price = 1210;
        o.lines[0].tax = 210;
        o.tax_total = 210;
        o.total = 1000; // a gift card of 2.10 the lines do not show
        let mut s = settings();
        s.prices_include_tax = true;
        let doc = build_invoice(&o, OrderState::Open, "ch_x", &s).unwrap();
        let d = doc.difference.unwrap();
        assert_eq!(d.amount, 210);
        assert!(d.explanation.contains("2.10 EUR"), "{}", d.explanation);
    }

    #[test]
    fn rates_snap_to_the_roundest_that_explains_the_channels_tax() {
        // 20 % of 0.99 is 0.198, charged as 0.20: the implied 20.2 % is
        // rounding, not a rate.
        assert_eq!(implied_rate(99, 20, &[]), 2000);
        assert_eq!(implied_rate(1000, 55, &[]), 550);
        assert_eq!(implied_rate(1000, 210, &[1900]), 2100);
        assert_eq!(implied_rate(1000, 190, &[1900]), 1900);
        assert_eq!(implied_rate(10_000, 1234, &[]), 1234);
    }

    #[test]
    fn cancelled_orders_are_not_invoiced() {
        let o = order("NL", &[(Some("MUG"), 1)]);
        let e = build_invoice(&o, OrderState::Cancelled, "ch_x", &settings()).unwrap_err();
        assert_eq!(e.code, "order_not_invoiceable");
    }
}
