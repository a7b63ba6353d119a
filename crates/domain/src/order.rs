//! Orders as far as the stock ledger needs them: states and which commit stock.
//! The full unified order format arrives with order import.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The life-cycle state of an imported order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Ready to be routed and fulfilled.
    Open,
    /// Held by a rule, the channel or the API.
    OnHold,
    /// Filtered out: kept and visible, never routed, commits no stock.
    Excluded,
    /// Cancelled.
    Cancelled,
    /// Some lines shipped.
    PartiallyFulfilled,
    /// Everything shipped.
    Fulfilled,
}

impl OrderState {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::OnHold => "on_hold",
            Self::Excluded => "excluded",
            Self::Cancelled => "cancelled",
            Self::PartiallyFulfilled => "partially_fulfilled",
            Self::Fulfilled => "fulfilled",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        [
            Self::Open,
            Self::OnHold,
            Self::Excluded,
            Self::Cancelled,
            Self::PartiallyFulfilled,
            Self::Fulfilled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            DomainError::invalid(
                "invalid_order_state",
                "state",
                format!("`{s}` is not an order state"),
            )
        })
    }

    /// Whether the order's unshipped quantities hold stock. Held orders still
    /// do: the goods are sold, only routing waits.
    #[must_use]
    pub fn commits_stock(self) -> bool {
        matches!(self, Self::Open | Self::OnHold | Self::PartiallyFulfilled)
    }
}

/// Whether the buyer has paid, as the channel states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Not paid yet.
    Pending,
    /// Authorised, not captured.
    Authorized,
    /// Paid in full.
    Paid,
    /// Partly paid.
    PartiallyPaid,
    /// Partly refunded.
    PartiallyRefunded,
    /// Refunded in full.
    Refunded,
    /// Voided.
    Voided,
    /// The channel's status has no equivalent (kept in the raw payload).
    Unknown,
}

/// How far the channel considers the order shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelFulfilment {
    /// Nothing shipped.
    Unfulfilled,
    /// Some lines shipped.
    PartiallyFulfilled,
    /// Everything shipped.
    Fulfilled,
    /// No equivalent.
    Unknown,
}

/// A postal address as the channel gave it, with an ISO country code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    /// Recipient name.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// First address line.
    pub line1: Option<String>,
    /// Second address line.
    pub line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State, county or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country; `None` when the channel gave none or an unreadable one.
    pub country: Option<crate::values::CountryCode>,
    /// Phone.
    pub phone: Option<String>,
}

/// The buyer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// Why an order line needs a person's attention. Such lines are kept, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineFlag {
    /// The channel sent no SKU for the line.
    MissingSku,
    /// The SKU is not a product of the store.
    UnknownSku,
}

/// One order line in the unified format. Money is in minor units of the
/// order's currency, exactly as the channel states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnifiedOrderLine {
    /// The channel's id of the line.
    pub channel_line_id: String,
    /// SKU as the channel sent it, if any.
    pub sku: Option<String>,
    /// Title.
    pub title: String,
    /// Units ordered.
    pub quantity: i64,
    /// Price of one unit.
    pub unit_price: i64,
    /// Tax on the whole line.
    pub tax: i64,
    /// Discount on the whole line.
    pub discount: i64,
    /// What needs attention.
    pub flags: Vec<LineFlag>,
}

/// An order in the unified format, as a connector maps it from its channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnifiedOrder {
    /// The channel's id of the order (stable; the upsert key with the channel).
    pub channel_order_id: String,
    /// The number people see (`#1001`, `114-...`).
    pub number: String,
    /// Payment status.
    pub payment_status: PaymentStatus,
    /// Shipping status on the channel.
    pub fulfilment: ChannelFulfilment,
    /// Cancelled on the channel.
    pub cancelled: bool,
    /// Created on the channel (UTC).
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last changed on the channel (UTC).
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Currency of every amount.
    pub currency: crate::values::Currency,
    /// Order total.
    pub total: i64,
    /// Total tax.
    pub tax_total: i64,
    /// Shipping charged.
    pub shipping_total: i64,
    /// Total discount.
    pub discount_total: i64,
    /// Buyer.
    pub customer: Customer,
    /// Where to ship.
    pub shipping_address: Address,
    /// Where to bill.
    pub billing_address: Address,
    /// Shipping method as named on the channel.
    pub shipping_method: Option<String>,
    /// Lines, in channel order.
    pub lines: Vec<UnifiedOrderLine>,
    /// Tags the channel gave the order (Shopify order tags); plugin rules
    /// can match them (`tags_any`).
    #[serde(default)]
    pub tags: Vec<String>,
}

impl UnifiedOrder {
    /// Lines that map to no product (flagged by [`UnifiedOrderLine::flag_against`]).
    #[must_use]
    pub fn unmapped_lines(&self) -> usize {
        self.lines.iter().filter(|l| l.maps_to_nothing()).count()
    }
}

impl UnifiedOrderLine {
    /// Whether the line was flagged as mapping to no product.
    #[must_use]
    pub fn maps_to_nothing(&self) -> bool {
        self.flags
            .iter()
            .any(|f| matches!(f, LineFlag::MissingSku | LineFlag::UnknownSku))
    }

    /// Flag the line against the catalogue: missing or unknown SKUs are
    /// marked (never dropped). `known` says whether a SKU is a store product.
    pub fn flag_against(&mut self, known: impl Fn(&str) -> bool) {
        self.flags
            .retain(|f| !matches!(f, LineFlag::MissingSku | LineFlag::UnknownSku));
        match self.sku.as_deref().map(str::trim) {
            None | Some("") => self.flags.push(LineFlag::MissingSku),
            Some(s) if !known(s) => self.flags.push(LineFlag::UnknownSku),
            Some(_) => {}
        }
    }
}

/// An action people take on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderAction {
    /// Put on hold with a reason.
    Hold(String),
    /// Release a hold.
    Release,
    /// Cancel (releases its stock).
    Cancel(Option<String>),
    /// Mark or unmark "handle manually".
    Manual(bool),
}

/// Whether `action` on an order in `state` changes anything: `Ok(true)` to
/// apply it, `Ok(false)` when it is done already (cancelling a cancelled
/// order), or the refusal (a conflict with the order's state, field
/// `state`).
pub fn check_action(state: OrderState, action: &OrderAction) -> Result<bool, DomainError> {
    let refuse = |what: &str| DomainError {
        code: "invalid_transition",
        message: format!("an order in state `{}` cannot be {what}", state.as_str()),
        field: Some("state".to_owned()),
    };
    match action {
        OrderAction::Hold(_) if !matches!(state, OrderState::Open | OrderState::OnHold) => {
            Err(refuse("put on hold"))
        }
        OrderAction::Release if state != OrderState::OnHold => {
            Err(refuse("released (it is not on hold)"))
        }
        OrderAction::Cancel(_) if state == OrderState::Fulfilled => {
            Err(refuse("cancelled (it has shipped)"))
        }
        OrderAction::Cancel(_) if state == OrderState::Cancelled => Ok(false),
        _ => Ok(true),
    }
}

/// Orders for the domain's tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::values::{CountryCode, Currency};

    /// A paid, unfulfilled EUR order shipping to `country`, one line per
    /// `(sku, quantity)`.
    pub(crate) fn order(country: &str, lines: &[(Option<&str>, i64)]) -> UnifiedOrder {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        UnifiedOrder {
            channel_order_id: "1001".into(),
            number: "#1001".into(),
            payment_status: PaymentStatus::Paid,
            fulfilment: ChannelFulfilment::Unfulfilled,
            cancelled: false,
            created_at: t,
            updated_at: t,
            currency: Currency::parse("EUR").unwrap(),
            total: 100,
            tax_total: 0,
            shipping_total: 0,
            discount_total: 0,
            customer: Customer::default(),
            shipping_address: Address {
                country: Some(CountryCode::parse(country).unwrap()),
                ..Address::default()
            },
            billing_address: Address::default(),
            shipping_method: None,
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, q))| UnifiedOrderLine {
                    channel_line_id: format!("l{i}"),
                    sku: sku.map(str::to_owned),
                    title: "Gift wrapping".into(),
                    quantity: *q,
                    unit_price: 100,
                    tax: 0,
                    discount: 0,
                    flags: vec![],
                })
                .collect(),
            tags: vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_order_state() {
        let hold = OrderAction::Hold("check address".into());
        assert_eq!(check_action(OrderState::Open, &hold), Ok(true));
        assert_eq!(
            check_action(OrderState::Fulfilled, &hold).map_err(|e| e.code),
            Err("invalid_transition")
        );
        assert!(check_action(OrderState::Open, &OrderAction::Release).is_err());
        assert_eq!(
            check_action(OrderState::OnHold, &OrderAction::Release),
            Ok(true)
        );
        let cancel = OrderAction::Cancel(None);
        assert_eq!(check_action(OrderState::Cancelled, &cancel), Ok(false));
        let refused = check_action(OrderState::Fulfilled, &cancel).unwrap_err();
        assert_eq!(refused.field.as_deref(), Some("state"));
        assert_eq!(
            refused.message,
            "an order in state `fulfilled` cannot be cancelled (it has shipped)"
        );
        assert_eq!(
            check_action(OrderState::Excluded, &OrderAction::Manual(true)),
            Ok(true)
        );
    }

    fn line(sku: Option<&str>) -> UnifiedOrderLine {
        UnifiedOrderLine {
            channel_line_id: "1".into(),
            sku: sku.map(str::to_owned),
            title: "Mug".into(),
            quantity: 1,
            unit_price: 1299,
            tax: 0,
            discount: 0,
            flags: vec![],
        }
    }

    #[test]
    fn lines_without_a_known_sku_are_flagged_not_dropped() {
        let known = |s: &str| s == "MUG";
        let mut l = line(Some("MUG"));
        l.flag_against(known);
        assert!(l.flags.is_empty());
        let mut l = line(Some("GHOST"));
        l.flag_against(known);
        assert_eq!(l.flags, [LineFlag::UnknownSku]);
        let mut l = line(Some("  "));
        l.flag_against(known);
        assert_eq!(l.flags, [LineFlag::MissingSku]);
        // Re-flagging after the catalogue changed replaces the old flag.
        let mut l = line(Some("GHOST"));
        l.flag_against(known);
        l.flag_against(|_| true);
        assert!(l.flags.is_empty());
    }

    #[test]
    fn states_round_trip_and_commit_as_documented() {
        for s in [
            "open",
            "on_hold",
            "excluded",
            "cancelled",
            "partially_fulfilled",
            "fulfilled",
        ] {
            assert_eq!(OrderState::parse(s).unwrap().as_str(), s);
        }
        assert!(OrderState::OnHold.commits_stock());
        assert!(!OrderState::Excluded.commits_stock());
        assert!(OrderState::parse("shipped").is_err());
    }
}
