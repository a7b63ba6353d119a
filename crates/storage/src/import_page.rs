//! What the writes of an import page add up to, on either backend: each
//! order's outcome in the page's order, the SKUs whose stock changed, those
//! whose confirmed channel quantity is stale, the orders to check for
//! overselling, and the import errors now resolved.

use std::collections::BTreeSet;

use switchyard_domain::ids::OrderId;
use switchyard_domain::order::OrderState;

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
