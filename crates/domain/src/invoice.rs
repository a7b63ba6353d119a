//! Invoices and credit notes: what a store's invoice for an order says,
//! decided from the order and the store's invoice settings, and what a
//! credit note against it takes back.
//!
//! Amounts are integer minor units of the order's currency. Taxes the
//! channel reports per line are kept to the unit, so the invoice's totals
//! equal the channel's; where the channel reports none, the store's rate
//! for the destination country (or its default) is applied per line,
//! rounded half away from zero, and any difference from the channel's
//! total is stated with its reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::order::{Address, OrderState, UnifiedOrder};

/// Whether a document is an invoice or a credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// An invoice for an order.
    Invoice,
    /// A credit note against an invoice.
    CreditNote,
}

impl DocumentKind {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
        }
    }

    /// Parse a stored or wire name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "invoice" => Ok(Self::Invoice),
            "credit_note" => Ok(Self::CreditNote),
            _ => Err(DomainError::invalid(
                "invalid_kind",
                "kind",
                format!("`{s}` is not a document kind (invoice, credit_note)"),
            )),
        }
    }
}

/// When a store invoices its orders by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoInvoice {
    /// Only through the API or the console.
    #[default]
    Off,
    /// As soon as an order is imported (not excluded, not cancelled).
    Imported,
    /// When an order is fully shipped.
    Shipped,
}

impl AutoInvoice {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Imported => "imported",
            Self::Shipped => "shipped",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "off" => Ok(Self::Off),
            "imported" => Ok(Self::Imported),
            "shipped" => Ok(Self::Shipped),
            _ => Err(DomainError::invalid(
                "invalid_auto",
                "auto",
                format!("`{s}` is not an automatic invoicing mode (off, imported, shipped)"),
            )),
        }
    }

    /// Whether an order in `state` is due for its invoice under this mode.
    #[must_use]
    pub fn due(self, state: OrderState) -> bool {
        match self {
            Self::Off => false,
            Self::Imported => matches!(
                state,
                OrderState::Open
                    | OrderState::OnHold
                    | OrderState::PartiallyFulfilled
                    | OrderState::Fulfilled
            ),
            Self::Shipped => state == OrderState::Fulfilled,
        }
    }

    /// The order states [`Self::due`] accepts, by stored name (for the
    /// query that finds due orders).
    #[must_use]
    pub fn due_states(self) -> Vec<&'static str> {
        [
            OrderState::Open,
            OrderState::OnHold,
            OrderState::Excluded,
            OrderState::Cancelled,
            OrderState::PartiallyFulfilled,
            OrderState::Fulfilled,
        ]
        .into_iter()
        .filter(|s| self.due(*s))
        .map(OrderState::as_str)
        .collect()
    }
}

/// A tax rate in basis points of a percent: 2100 is 21 %, 550 is 5.5 %.
pub type RateBp = u32;

/// The highest rate accepted (100 %).
pub const MAX_RATE_BP: RateBp = 10_000;

/// The seller as the invoice names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seller {
    /// Legal name.
    #[serde(default)]
    pub name: String,
    /// Address, one line per entry.
    #[serde(default)]
    pub address: Vec<String>,
    /// VAT (or other tax) number.
    #[serde(default)]
    pub vat_number: Option<String>,
    /// Company registration number.
    #[serde(default)]
    pub registration: Option<String>,
    /// Contact email.
    #[serde(default)]
    pub email: Option<String>,
}

/// The store's own tax rates, for channels that report no tax.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreTaxRates {
    /// The rate where no country's rate applies; `None`: no tax.
    #[serde(default)]
    pub default_bp: Option<RateBp>,
    /// Rates per destination country (ISO 3166-1 alpha-2).
    #[serde(default)]
    pub countries: BTreeMap<String, RateBp>,
}

impl StoreTaxRates {
    /// The rate for an order shipping to `country`.
    #[must_use]
    pub fn rate_for(&self, country: Option<&str>) -> Option<RateBp> {
        country
            .and_then(|c| self.countries.get(c).copied())
            .or(self.default_bp)
    }

    fn candidates(&self, country: Option<&str>) -> Vec<RateBp> {
        let mut out: Vec<RateBp> = country
            .and_then(|c| self.countries.get(c).copied())
            .into_iter()
            .chain(self.default_bp)
            .collect();
        out.dedup();
        out
    }
}

/// A store's invoice settings (the numbering counters are kept by storage).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceSettings {
    /// Invoice numbers are this prefix and the sequence (`INV-00042`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Credit note numbers are this prefix and their own sequence.
    #[serde(default = "default_credit_prefix")]
    pub credit_note_prefix: String,
    /// Digits the sequence is padded to with zeros (1–12).
    #[serde(default = "default_digits")]
    pub digits: u8,
    /// When orders are invoiced without being asked.
    #[serde(default)]
    pub auto: AutoInvoice,
    /// The seller's legal details.
    #[serde(default)]
    pub seller: Seller,
    /// Rates for channels that report no tax.
    #[serde(default)]
    pub tax_rates: StoreTaxRates,
    /// Whether channels that report no tax state prices with tax included.
    #[serde(default)]
    pub prices_include_tax: bool,
    /// The same, per channel (by channel id), overriding the above.
    #[serde(default)]
    pub channel_prices_include_tax: BTreeMap<String, bool>,
    /// Printed under the totals (payment terms, a thank-you).
    #[serde(default)]
    pub footer: Option<String>,
    /// The seller's logo as a base64 PNG, printed at the top (branding:
    /// documents keep their legal content, the logo is the current one).
    #[serde(default)]
    pub logo_png: Option<String>,
}

/// Longest logo accepted, in base64 characters (about 256 KiB of PNG).
pub const MAX_LOGO_CHARS: usize = 350_000;

fn default_prefix() -> String {
    "INV-".to_owned()
}

fn default_credit_prefix() -> String {
    "CN-".to_owned()
}

fn default_digits() -> u8 {
    5
}

/// Longest prefix accepted.
pub const MAX_PREFIX_CHARS: usize = 20;

impl InvoiceSettings {
    /// The defaults: `INV-00001`, `CN-00001`, nothing automatic.
    #[must_use]
    pub fn defaults() -> Self {
        Self {
            prefix: default_prefix(),
            credit_note_prefix: default_credit_prefix(),
            digits: default_digits(),
            ..Self::default()
        }
    }

    /// Check every field; the error names the first field at fault.
    pub fn validate(&self) -> Result<(), DomainError> {
        for (field, p) in [
            ("prefix", &self.prefix),
            ("credit_note_prefix", &self.credit_note_prefix),
        ] {
            if p.chars().count() > MAX_PREFIX_CHARS
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_/.#".contains(c))
            {
                return Err(DomainError::invalid(
                    "invalid_prefix",
                    field,
                    format!(
                        "a number prefix has at most {MAX_PREFIX_CHARS} characters of A–Z, a–z, 0–9 and - _ / . #"
                    ),
                ));
            }
        }
        if self.prefix == self.credit_note_prefix {
            return Err(DomainError::invalid(
                "invalid_prefix",
                "credit_note_prefix",
                "credit notes need a prefix of their own, so that no number is both",
            ));
        }
        if !(1..=12).contains(&self.digits) {
            return Err(DomainError::invalid(
                "invalid_digits",
                "digits",
                "digits is between 1 and 12",
            ));
        }
        let s = &self.seller;
        let text = |field: &str, v: &str, max: usize| {
            if v.chars().count() > max || v.chars().any(char::is_control) {
                Err(DomainError::invalid(
                    "invalid_seller",
                    format!("seller.{field}"),
                    format!("at most {max} characters, no control characters"),
                ))
            } else {
                Ok(())
            }
        };
        text("name", &s.name, 200)?;
        if s.address.len() > 6 {
            return Err(DomainError::invalid(
                "invalid_seller",
                "seller.address",
                "an address has at most 6 lines",
            ));
        }
        for (i, l) in s.address.iter().enumerate() {
            text(&format!("address[{i}]"), l, 200)?;
        }
        for (f, v) in [
            ("vat_number", &s.vat_number),
            ("registration", &s.registration),
            ("email", &s.email),
        ] {
            if let Some(v) = v {
                text(f, v, 100)?;
            }
        }
        let rate = |field: String, r: RateBp| {
            if r > MAX_RATE_BP {
                Err(DomainError::invalid(
                    "invalid_rate",
                    field,
                    format!(
                        "a rate is in basis points of a percent, 0 to {MAX_RATE_BP} (2100 is 21 %)"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        if let Some(r) = self.tax_rates.default_bp {
            rate("tax_rates.default_bp".into(), r)?;
        }
        for (c, r) in &self.tax_rates.countries {
            crate::values::CountryCode::parse(c).map_err(|e| DomainError {
                field: Some(format!("tax_rates.countries.{c}")),
                ..e
            })?;
            rate(format!("tax_rates.countries.{c}"), *r)?;
        }
        for k in self.channel_prices_include_tax.keys() {
            crate::ids::ChannelId::parse(k).map_err(|e| DomainError {
                field: Some(format!("channel_prices_include_tax.{k}")),
                ..e
            })?;
        }
        if self
            .logo_png
            .as_ref()
            .is_some_and(|l| l.len() > MAX_LOGO_CHARS)
        {
            return Err(DomainError::invalid(
                "invalid_logo",
                "logo_png",
                "the logo is at most 256 KiB of PNG",
            ));
        }
        if let Some(f) = &self.footer
            && (f.chars().count() > 500 || f.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(DomainError::invalid(
                "invalid_footer",
                "footer",
                "a footer has at most 500 characters",
            ));
        }
        Ok(())
    }

    /// The number of the `seq`-th document of `kind`.
    #[must_use]
    pub fn number(&self, kind: DocumentKind, seq: i64) -> String {
        let prefix = match kind {
            DocumentKind::Invoice => &self.prefix,
            DocumentKind::CreditNote => &self.credit_note_prefix,
        };
        format!("{prefix}{seq:0width$}", width = usize::from(self.digits))
    }

    /// The prefix of `kind`'s numbers.
    #[must_use]
    pub fn prefix_of(&self, kind: DocumentKind) -> &str {
        match kind {
            DocumentKind::Invoice => &self.prefix,
            DocumentKind::CreditNote => &self.credit_note_prefix,
        }
    }
}

/// What a document line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// An order line.
    Product,
    /// The shipping charged.
    Shipping,
}

/// One line of an invoice or credit note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLine {
    /// Position, from 1 (a credit note keeps the invoice's numbers).
    pub line_no: u32,
    /// Product or shipping.
    pub kind: LineKind,
    /// The channel's line id.
    pub channel_line_id: Option<String>,
    /// SKU.
    pub sku: Option<String>,
    /// What was sold.
    pub description: String,
    /// Units.
    pub quantity: i64,
    /// Price of one unit as the channel states it (with tax when
    /// `prices_include_tax`).
    pub unit_price: i64,
    /// Discount on the line.
    pub discount: i64,
    /// Tax rate.
    pub tax_rate_bp: RateBp,
    /// Amount without tax.
    pub net: i64,
    /// Tax.
    pub tax: i64,
    /// Amount with tax.
    pub gross: i64,
}

/// Net and tax at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxAmount {
    /// The rate.
    pub rate_bp: RateBp,
    /// Amount without tax at this rate.
    pub net: i64,
    /// Tax at this rate.
    pub tax: i64,
}

/// Where the taxes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxSource {
    /// The amounts the channel reported per line.
    Channel,
    /// The store's rates (the channel reported none).
    StoreRates,
}

/// The buyer as the invoice names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Billing address.
    pub billing_address: Address,
    /// Shipping address.
    pub shipping_address: Address,
}

/// A difference between the document's total and the channel's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// Document gross minus the channel's total.
    pub amount: i64,
    /// Why.
    pub explanation: String,
}

/// The content of an invoice or credit note: everything but its number,
/// which storage assigns in the transaction that issues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The seller.
    pub seller: Seller,
    /// The buyer.
    pub buyer: Buyer,
    /// The order's number on its channel.
    pub order_number: String,
    /// When the order was placed.
    pub order_date: chrono::DateTime<chrono::Utc>,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// Digits of its minor unit.
    pub minor_digits: u32,
    /// How amounts were rounded.
    pub rounding: String,
    /// Whether unit prices include tax.
    pub prices_include_tax: bool,
    /// Where the taxes come from.
    pub tax_source: TaxSource,
    /// Lines (shipping last).
    pub lines: Vec<DocumentLine>,
    /// Net and tax per rate, by rate.
    pub taxes: Vec<TaxAmount>,
    /// Total without tax.
    pub net: i64,
    /// Total tax.
    pub tax: i64,
    /// Total with tax.
    pub gross: i64,
    /// The channel's total for the order (for a credit note, the part of
    /// it credited).
    pub channel_total: i64,
    /// When the totals differ from the channel's, by how much and why.
    pub difference: Option<Difference>,
    /// Why a credit note was issued.
    pub reason: Option<String>,
    /// Printed under the totals.
    pub footer: Option<String>,
}

/// The rounding every amount follows.
pub const ROUNDING: &str = "per line, half away from zero, to the currency's minor unit";

/// `a * n / d` rounded half away from zero (`d > 0`).
#[must_use]
pub fn mul_div_round(a: i64, n: i64, d: i64) -> i64 {
    let p = i128::from(a) * i128::from(n);
    let d = i128::from(d.max(1));
    let q = p / d;
    let r = p % d;
    let q = if 2 * r.abs() >= d { q + p.signum() } else { q };
    i64::try_from(q).unwrap_or(if p < 0 { i64::MIN } else { i64::MAX })
}

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

/// A rate as people write it: `21 %`, `5.5 %`, `0 %`.
#[must_use]
pub fn percent(rate: RateBp) -> String {
    let whole = rate / 100;
    let frac = rate % 100;
    if frac == 0 {
        format!("{whole} %")
    } else if frac.is_multiple_of(10) {
        format!("{whole}.{} %", frac / 10)
    } else {
        format!("{whole}.{frac:02} %")
    }
}

/// Fill a document's totals and tax breakdown from its lines.
fn total(doc: &mut Document) {
    let mut by_rate: BTreeMap<RateBp, (i64, i64)> = BTreeMap::new();
    for l in &doc.lines {
        let e = by_rate.entry(l.tax_rate_bp).or_default();
        e.0 += l.net;
        e.1 += l.tax;
    }
    doc.taxes = by_rate
        .into_iter()
        .map(|(rate_bp, (net, tax))| TaxAmount { rate_bp, net, tax })
        .collect();
    doc.net = doc.lines.iter().map(|l| l.net).sum();
    doc.tax = doc.lines.iter().map(|l| l.tax).sum();
    doc.gross = doc.lines.iter().map(|l| l.gross).sum();
}

/// Units of one invoice line to credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditLine {
    /// The invoice's line number.
    pub line_no: u32,
    /// Units to credit (at least 1, at most what is not credited yet).
    pub quantity: i64,
}

/// A credit note to issue against an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditPlan {
    /// Its content.
    pub document: Document,
    /// Whether the invoice is credited in full once it is issued.
    pub completes: bool,
}

/// The credit note against `invoice`, given the credit notes issued against
/// it so far (`prior`): the `lines` asked for, or everything not yet
/// credited when `None`.
///
/// A line credited in part is credited in proportion to its units; its
/// last units take exactly what is left, so the credit notes of a line
/// always add up to the line. Refused when nothing is left to credit
/// (`already_credited`) or a line asks for more than is left.
pub fn plan_credit_note(
    invoice: &Document,
    prior: &[Document],
    lines: Option<&[CreditLine]>,
    reason: Option<String>,
) -> Result<CreditPlan, DomainError> {
    // What is credited of each line so far: units, net, tax.
    let mut credited: BTreeMap<u32, (i64, i64, i64)> = BTreeMap::new();
    for note in prior {
        for l in &note.lines {
            let e = credited.entry(l.line_no).or_default();
            e.0 += l.quantity;
            e.1 += l.net;
            e.2 += l.tax;
        }
    }
    let left = |l: &DocumentLine| {
        let (q, n, t) = credited.get(&l.line_no).copied().unwrap_or_default();
        (l.quantity - q, l.net - n, l.tax - t)
    };
    let wanted: Vec<(u32, i64)> = match lines {
        None => invoice
            .lines
            .iter()
            .filter(|l| {
                let (q, n, t) = left(l);
                q > 0 || n != 0 || t != 0
            })
            .map(|l| (l.line_no, left(l).0))
            .collect(),
        Some(ask) => {
            if ask.is_empty() {
                return Err(DomainError::invalid(
                    "invalid_lines",
                    "lines",
                    "name at least one line, or leave `lines` out to credit everything left",
                ));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, c) in ask.iter().enumerate() {
                let field = format!("lines[{i}]");
                if !seen.insert(c.line_no) {
                    return Err(DomainError::invalid(
                        "invalid_lines",
                        format!("{field}.line_no"),
                        format!("line {} is named twice", c.line_no),
                    ));
                }
                let Some(l) = invoice.lines.iter().find(|l| l.line_no == c.line_no) else {
                    return Err(DomainError::invalid(
                        "invalid_lines",
                        format!("{field}.line_no"),
                        format!("the invoice has no line {}", c.line_no),
                    ));
                };
                let (q, _, _) = left(l);
                if c.quantity < 1 || c.quantity > q {
                    return Err(DomainError::invalid(
                        "invalid_lines",
                        format!("{field}.quantity"),
                        format!(
                            "line {} has {q} unit(s) not credited yet; credit 1 to {q}",
                            c.line_no
                        ),
                    ));
                }
            }
            ask.iter().map(|c| (c.line_no, c.quantity)).collect()
        }
    };
    if wanted.is_empty() {
        return Err(DomainError::rule(
            "already_credited",
            "the invoice is credited in full already",
        ));
    }
    let mut out_lines = Vec::new();
    for (no, q) in &wanted {
        let Some(l) = invoice.lines.iter().find(|l| l.line_no == *no) else {
            continue;
        };
        let (q_left, n_left, t_left) = left(l);
        let (net, tax) = if *q >= q_left {
            (n_left, t_left)
        } else {
            (
                mul_div_round(l.net, *q, l.quantity.max(1)),
                mul_div_round(l.tax, *q, l.quantity.max(1)),
            )
        };
        out_lines.push(DocumentLine {
            quantity: *q,
            discount: mul_div_round(l.discount, *q, l.quantity.max(1)),
            net,
            tax,
            gross: net + tax,
            ..l.clone()
        });
    }
    let completes = invoice.lines.iter().all(|l| {
        let (q_left, _, _) = left(l);
        let taken = wanted
            .iter()
            .find(|(no, _)| *no == l.line_no)
            .map_or(0, |(_, q)| *q);
        q_left - taken <= 0
    });
    let mut document = Document {
        lines: out_lines,
        difference: None,
        reason,
        ..invoice.clone()
    };
    total(&mut document);
    document.channel_total = document.gross;
    Ok(CreditPlan {
        document,
        completes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::fixtures::order;
    use proptest::prelude::*;

    fn settings() -> InvoiceSettings {
        let mut s = InvoiceSettings::defaults();
        s.tax_rates.default_bp = Some(2100);
        s.tax_rates.countries.insert("DE".into(), 1900);
        s
    }

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

    #[test]
    fn partial_credit_notes_add_up_to_the_line() {
        let mut o = order("NL", &[(Some("MUG"), 3)]);
        o.lines[0].unit_price = 333;
        o.lines[0].tax = 210;
        o.tax_total = 210;
        o.total = 999 + 210;
        let inv = build_invoice(&o, OrderState::Open, "ch_x", &settings()).unwrap();
        let one = [CreditLine {
            line_no: 1,
            quantity: 1,
        }];
        let a = plan_credit_note(&inv, &[], Some(&one), None).unwrap();
        assert!(!a.completes);
        assert_eq!((a.document.net, a.document.tax), (333, 70));
        let b = plan_credit_note(&inv, std::slice::from_ref(&a.document), None, None).unwrap();
        assert!(b.completes);
        assert_eq!(b.document.lines[0].quantity, 2);
        assert_eq!(a.document.gross + b.document.gross, inv.gross);
        let e = plan_credit_note(&inv, &[a.document, b.document], None, None).unwrap_err();
        assert_eq!(e.code, "already_credited");
        let too_many = [CreditLine {
            line_no: 1,
            quantity: 4,
        }];
        let e = plan_credit_note(&inv, &[], Some(&too_many), None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lines[0].quantity"));
    }

    #[test]
    fn numbers_are_prefix_and_padded_sequence() {
        let s = settings();
        assert_eq!(s.number(DocumentKind::Invoice, 42), "INV-00042");
        assert_eq!(s.number(DocumentKind::CreditNote, 7), "CN-00007");
        let mut bad = s.clone();
        bad.credit_note_prefix = bad.prefix.clone();
        assert_eq!(bad.validate().unwrap_err().code, "invalid_prefix");
        let mut bad = s;
        bad.tax_rates.countries.insert("XX1".into(), 2100);
        assert!(bad.validate().is_err());
        assert_eq!(percent(550), "5.5 %");
        assert_eq!(percent(2100), "21 %");
        assert_eq!(percent(1234), "12.34 %");
    }

    proptest! {
        /// Whatever the lines, the totals are the sum of the lines, the
        /// breakdown adds up to them, and with channel taxes on top the
        /// invoice equals the channel's total; credit notes in any split
        /// add up to the invoice.
        #[test]
        fn totals_add_up(lines in proptest::collection::vec((1i64..20, 1i64..100_000, 0i64..2_000), 1..12),
                         shipping in 0i64..2_000, split in 1i64..5) {
            let spec: Vec<(Option<&str>, i64)> = lines.iter().map(|(q, _, _)| (Some("X"), *q)).collect();
            let mut o = order("DE", &spec);
            let mut tax_total = 0;
            let mut sum = 0;
            for (l, (q, p, t)) in o.lines.iter_mut().zip(&lines) {
                l.unit_price = *p;
                l.tax = *t;
                tax_total += t;
                sum += p * q;
            }
            o.shipping_total = shipping;
            o.tax_total = tax_total;
            o.total = sum + shipping + tax_total;
            let inv = build_invoice(&o, OrderState::Open, "ch_x", &settings()).unwrap();
            prop_assert_eq!(inv.gross, o.total);
            prop_assert_eq!(inv.net + inv.tax, inv.gross);
            prop_assert_eq!(inv.taxes.iter().map(|t| t.tax).sum::<i64>(), inv.tax);
            prop_assert_eq!(inv.taxes.iter().map(|t| t.net).sum::<i64>(), inv.net);
            // Credit line 1 in `split`-unit steps, then the rest.
            let mut prior: Vec<Document> = Vec::new();
            loop {
                let left = inv.lines[0].quantity - prior.iter().flat_map(|d| &d.lines).filter(|l| l.line_no == 1).map(|l| l.quantity).sum::<i64>();
                if left <= split { break; }
                let ask = [CreditLine { line_no: 1, quantity: split }];
                prior.push(plan_credit_note(&inv, &prior, Some(&ask), None).unwrap().document);
            }
            let last = plan_credit_note(&inv, &prior, None, None).unwrap();
            prop_assert!(last.completes);
            prior.push(last.document);
            prop_assert_eq!(prior.iter().map(|d| d.gross).sum::<i64>(), inv.gross);
            prop_assert_eq!(prior.iter().map(|d| d.tax).sum::<i64>(), inv.tax);
        }
    }
}
