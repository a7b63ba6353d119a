//! Orders as far as the stock ledger needs them: states and which commit stock.
//! The full unified order format arrives with order import.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The life-cycle state of an imported order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
