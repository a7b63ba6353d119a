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
use crate::order::{Address, OrderState};

mod build;
mod credit;

pub use build::build_invoice;
pub use credit::{CreditLine, CreditPlan, plan_credit_note};

/// Whether a document is an invoice or a credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreTaxRates {
    /// The rate where no country's rate applies; `None`: no tax.
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub default_bp: Option<RateBp>,
    /// Rates per destination country (ISO 3166-1 alpha-2).
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, u32>)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// An order line.
    Product,
    /// The shipping charged.
    Shipping,
}

/// One line of an invoice or credit note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaxAmount {
    /// The rate.
    pub rate_bp: RateBp,
    /// Amount without tax at this rate.
    pub net: i64,
    /// Tax at this rate.
    pub tax: i64,
}

/// Where the taxes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaxSource {
    /// The amounts the channel reported per line.
    Channel,
    /// The store's rates (the channel reported none).
    StoreRates,
}

/// The buyer as the invoice names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Difference {
    /// Document gross minus the channel's total.
    pub amount: i64,
    /// Why.
    pub explanation: String,
}

/// The content of an invoice or credit note: everything but its number,
/// which storage assigns in the transaction that issues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
pub(crate) fn total(doc: &mut Document) {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The defaults with 21 % by default and 19 % for Germany.
    pub(crate) fn settings() -> InvoiceSettings {
        let mut s = InvoiceSettings::defaults();
        s.tax_rates.default_bp = Some(2100);
        s.tax_rates.countries.insert("DE".into(), 1900);
        s
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
}
