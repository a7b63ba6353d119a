//! Changes to a SKU's stock: what a requested change leaves (or why it is
//! refused), and how shipped units move at the `api` source.

use super::StockSource;
use crate::DomainError;
use crate::values::{MAX_QUANTITY, Sku};

/// What to do to one SKU's quantity at one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockOp {
    /// Set the absolute quantity.
    Set(i64),
    /// Add (or, negative, remove) units.
    Adjust(i64),
}

/// One stock change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChange {
    /// SKU of a plain product of the store.
    pub sku: Sku,
    /// Location at the source; empty for none.
    pub location: String,
    /// The change.
    pub op: StockOp,
    /// Compare-and-set: apply only if the current quantity at this source and
    /// location equals this.
    pub expected: Option<i64>,
    /// Why (kept in the journal).
    pub reason: Option<String>,
}

/// Why a stock change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRefused {
    /// The change is wrong whatever the stock (not a product, a kit, too
    /// large).
    Invalid(DomainError),
    /// The change conflicts with the stock as it is (a compare-and-set
    /// mismatch, a quantity that would go below zero).
    Conflict(DomainError),
}

/// The quantity change number `index` of a request leaves at a level of
/// `source` holding `before`, for a SKU that `is_kit` says what it is
/// (`None`: no product of the store).
pub fn plan_change(
    is_kit: Option<bool>,
    before: i64,
    change: &StockChange,
    source: &StockSource,
    index: usize,
) -> Result<i64, ChangeRefused> {
    let at = |f: &str| Some(format!("[{index}].{f}"));
    match is_kit {
        None => {
            return Err(ChangeRefused::Invalid(DomainError {
                code: "unknown_sku",
                message: format!(
                    "`{}` is not a product of this store; create the product first",
                    change.sku
                ),
                field: at("sku"),
            }));
        }
        Some(true) => {
            return Err(ChangeRefused::Invalid(DomainError {
                code: "kit_has_no_stock",
                message: format!(
                    "`{}` is a kit; its stock is derived from its components, set theirs instead",
                    change.sku
                ),
                field: at("sku"),
            }));
        }
        Some(false) => {}
    }
    if let Some(expected) = change.expected
        && expected != before
    {
        return Err(ChangeRefused::Conflict(DomainError {
            code: "stock_expected_mismatch",
            message: format!(
                "`{}` at source {source}{}: expected {expected} but the current quantity is {before}",
                change.sku,
                if change.location.is_empty() {
                    String::new()
                } else {
                    format!(" location `{}`", change.location)
                }
            ),
            field: at("expected"),
        }));
    }
    let after = match change.op {
        StockOp::Set(q) => q,
        StockOp::Adjust(d) => before.saturating_add(d),
    };
    if after < 0 {
        return Err(ChangeRefused::Conflict(DomainError {
            code: "negative_stock",
            message: format!(
                "adjusting `{}` by {} would leave {after}; quantities cannot go below 0",
                change.sku,
                after - before
            ),
            field: at("delta"),
        }));
    }
    if after > MAX_QUANTITY {
        return Err(ChangeRefused::Invalid(DomainError {
            code: "invalid_quantity",
            message: format!(
                "`{}` would hold {after}, above the maximum of {MAX_QUANTITY}",
                change.sku
            ),
            field: at(if matches!(change.op, StockOp::Set(_)) {
                "quantity"
            } else {
                "delta"
            }),
        }));
    }
    Ok(after)
}

/// One level of a SKU at a source, before and after a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelMove {
    /// The location (empty: none).
    pub location: String,
    /// Units before.
    pub before: i64,
    /// Units after.
    pub after: i64,
}

/// How `units` of a SKU move at the `api` source, whose `levels` are
/// `(location, quantity)` in location order: a shipment takes them off
/// (the unlocated level first, then locations in name order, never below
/// zero: what is not there is not taken), a cancelled shipment puts them
/// back where they were taken from, the unlocated level.
#[must_use]
pub fn api_level_moves(levels: &[(String, i64)], units: i64, returning: bool) -> Vec<LevelMove> {
    if returning {
        let before = levels
            .iter()
            .find(|(l, _)| l.is_empty())
            .map_or(0, |(_, q)| *q);
        return vec![LevelMove {
            location: String::new(),
            before,
            after: before.saturating_add(units),
        }];
    }
    let mut left = units;
    let mut out = Vec::new();
    for (location, before) in levels {
        if left <= 0 {
            break;
        }
        let take = left.min(*before);
        if take > 0 {
            out.push(LevelMove {
                location: location.clone(),
                before: *before,
                after: before - take,
            });
            left -= take;
        }
    }
    out
}
