//! What the writes of an import page add up to, on either backend: each
//! order's outcome in the page's order, the SKUs whose stock changed, those
//! whose confirmed channel quantity is stale, the orders to check for
//! overselling, and the import errors now resolved.

use std::collections::BTreeSet;

use crate::journal::NewEvent;
use switchyard_domain::arrival::Decided;
use switchyard_domain::ids::{ChannelId, OrderId};
use switchyard_domain::order::{OrderState, UnifiedOrder};
use switchyard_domain::plugin_rules::RuleOutcome;
use switchyard_domain::product::Kinds;

use crate::ImportOutcome;

/// What writing one order did.
pub(crate) struct Written {
    pub id: OrderId,
    pub created: bool,
    /// SKUs whose commitments changed (old and new).
    pub touched: BTreeSet<String>,
    /// SKUs the order commits now.
    pub committed: BTreeSet<String>,
}

/// One line to store.
pub(crate) struct LineWrite {
    pub channel_line_id: Option<String>,
    pub sku: String,
    pub quantity: Option<i64>,
    pub open_quantity: i64,
}

impl From<switchyard_domain::arrival::PlannedLine> for LineWrite {
    fn from(l: switchyard_domain::arrival::PlannedLine) -> Self {
        Self {
            channel_line_id: Some(l.channel_line_id),
            sku: l.sku,
            quantity: Some(l.quantity),
            open_quantity: l.open_quantity,
        }
    }
}

/// A new order's lines as `(line_no, sku, open)`: it has no fulfilments of
/// ours, so each line is open for its whole quantity.
pub(crate) fn new_lines(lines: &[LineWrite]) -> Vec<(i64, String, i64)> {
    lines
        .iter()
        .enumerate()
        .map(|(n, l)| {
            (
                i64::try_from(n).unwrap_or(i64::MAX),
                l.sku.clone(),
                l.open_quantity.max(0),
            )
        })
        .collect()
}

/// `(order_id, line_no, sku, open_quantity, channel_line_id, quantity)`.
pub(crate) type LineRow<'a> = (&'a str, i64, &'a str, i64, Option<&'a str>, Option<i64>);

/// The rows of an order's `lines` (`(line_no, sku, open)`, beside what was
/// written for each).
pub(crate) fn line_rows<'a>(
    id: &'a str,
    lines: &'a [(i64, String, i64)],
    writes: &'a [LineWrite],
) -> Vec<LineRow<'a>> {
    lines
        .iter()
        .zip(writes)
        .map(|((n, sku, open), l)| {
            (
                id,
                *n,
                sku.as_str(),
                *open,
                l.channel_line_id.as_deref(),
                l.quantity,
            )
        })
        .collect()
}

/// Everything written to an order row; `R` is how the backend stores the
/// channel's raw JSON.
pub(crate) struct OrderWrite<'a, R> {
    /// The stored order with this `(channel, channel_order_id)`, if any.
    pub existing: Option<(OrderId, OrderState)>,
    pub channel_id: &'a ChannelId,
    pub channel_order_id: &'a str,
    pub state: OrderState,
    pub excluded_reason: Option<String>,
    /// Why a new order is on hold (kept as it is for an existing one).
    pub hold_reason: Option<String>,
    pub unified: Option<&'a UnifiedOrder>,
    pub raw: Option<R>,
    pub lines: Vec<LineWrite>,
    /// What the plugin rules decided, for an order arriving now.
    pub routing: Option<RuleOutcome>,
    /// The kinds of the lines' SKUs.
    pub kinds: &'a Kinds,
}

impl<'a, R> OrderWrite<'a, R> {
    /// The write of an arriving `order` as the arrival rules `decided` it
    /// (with its channel JSON stored as `raw`), and the SKUs its lines map to.
    pub(crate) fn arriving(
        order: &'a UnifiedOrder,
        decided: Decided,
        raw: R,
        existing: Option<(OrderId, OrderState)>,
        channel_id: &'a ChannelId,
        kinds: &'a Kinds,
    ) -> (Self, BTreeSet<String>) {
        let write = Self {
            existing,
            channel_id,
            channel_order_id: &order.channel_order_id,
            state: decided.state,
            excluded_reason: decided.excluded_reason,
            hold_reason: decided.hold_reason,
            unified: Some(order),
            raw: Some(raw),
            lines: decided.lines.into_iter().map(LineWrite::from).collect(),
            routing: decided.routing,
            kinds,
        };
        (write, decided.mapped_skus)
    }
}

/// The journal event of an order written with `w` (new when `previous` is
/// `None`).
pub(crate) fn order_event<R>(
    id: &OrderId,
    w: &OrderWrite<'_, R>,
    previous: Option<OrderState>,
    commitments: Vec<crate::CommittedUnits>,
) -> NewEvent {
    let u = w.unified;
    let event_type = match (previous, w.state) {
        (None, _) => "order.created",
        (Some(p), OrderState::Cancelled) if p != OrderState::Cancelled => "order.cancelled",
        (Some(p), OrderState::Excluded) if p != OrderState::Excluded => "order.excluded",
        _ => "order.updated",
    };
    NewEvent::new(
        id,
        event_type,
        crate::EventPayload::Order(crate::OrderEvent {
            channel_id: Some(w.channel_id.clone()),
            channel_order_id: Some(w.channel_order_id.to_owned()),
            number: u.map(|o| o.number.clone()),
            state: Some(w.state),
            previous_state: previous,
            excluded_reason: w.excluded_reason.clone(),
            commitments: Some(commitments),
            channel_updated_at: u.map(|o| o.updated_at),
            plugin_rules: w.routing.clone(),
            ..crate::OrderEvent::of(id)
        }),
    )
}

/// What the writes of a page add up to.
#[derive(Default)]
pub(crate) struct PageWrites {
    /// One per item written or passed over, in order (`None` until a new
    /// order is written).
    pub(crate) outcomes: Vec<Option<ImportOutcome>>,
    /// SKUs whose commitments changed.
    pub(crate) touched: BTreeSet<String>,
    /// SKUs whose confirmed channel quantity the channel's checkout made stale.
    pub(crate) stale: BTreeSet<String>,
    /// Orders that commit stock, with the SKUs, to check for overselling.
    pub(crate) check_oversell: Vec<(OrderId, BTreeSet<String>)>,
    /// Channel order ids whose import errors are now resolved.
    pub(crate) resolved: Vec<String>,
}

impl PageWrites {
    pub(crate) fn written(
        &mut self,
        written: Written,
        state: OrderState,
        mapped_skus: BTreeSet<String>,
        slot: Option<usize>,
    ) {
        self.touched.extend(written.touched);
        if written.created {
            // The channel took its own stock down at checkout: what we last
            // confirmed there is stale for these SKUs, even when the order
            // commits nothing here (excluded), so their targets are pushed again.
            self.stale.extend(mapped_skus.iter().cloned());
            self.touched.extend(mapped_skus);
        }
        if !written.committed.is_empty() {
            self.check_oversell
                .push((written.id.clone(), written.committed));
        }
        let outcome = if written.created {
            ImportOutcome::Created {
                id: written.id,
                state,
            }
        } else {
            ImportOutcome::Updated {
                id: written.id,
                state,
            }
        };
        match slot.and_then(|i| self.outcomes.get_mut(i)) {
            Some(o) => *o = Some(outcome),
            None => self.outcomes.push(Some(outcome)),
        }
    }
}
