//! A page of the import as it is written: the new orders waiting to be
//! written together, and what the page's writes add up to.

use std::collections::BTreeSet;

use sqlx::SqliteConnection;
use switchyard_domain::arrival::{ArrivalWrite, Decided};
use switchyard_domain::ids::{ChannelId, OrderId};
use switchyard_domain::order::{OrderState, UnifiedOrder};
use switchyard_domain::product::Kinds;

use super::orders::{OrderWrite, write_new_orders};
use crate::import_page::PageWrites;
use crate::{ChannelRef, Result};

/// An order new to the store, planned and waiting to be written.
pub(super) struct NewArrival {
    /// Its outcome's place in the page's outcomes.
    pub(super) slot: usize,
    pub(super) order: UnifiedOrder,
    pub(super) rest: Planned,
}

/// An arrival's planned write without its order, which the [`OrderWrite`]
/// borrows.
pub(super) struct Planned {
    raw: String,
    decided: Decided,
}

impl Planned {
    pub(super) fn split(w: ArrivalWrite, raw: String) -> (UnifiedOrder, Self) {
        let ArrivalWrite { order, decided } = w;
        (order, Self { raw, decided })
    }

    /// The write of `order`, with what the page's bookkeeping needs after it:
    /// its state and mapped SKUs.
    pub(super) fn write<'a>(
        self,
        order: &'a UnifiedOrder,
        existing: Option<(OrderId, OrderState)>,
        channel_id: &'a ChannelId,
        kinds: &'a Kinds,
    ) -> (OrderWrite<'a>, OrderState, BTreeSet<String>) {
        let (write, mapped_skus) =
            OrderWrite::arriving(order, self.decided, self.raw, existing, channel_id, kinds);
        let state = write.state;
        (write, state, mapped_skus)
    }
}

/// Write the new orders waiting in `new` together, and add them to `page`.
pub(super) async fn write_new(
    page: &mut PageWrites,
    conn: &mut SqliteConnection,
    channel: &ChannelRef,
    kinds: &Kinds,
    new: &mut Vec<NewArrival>,
) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let (slots, (orders, rest)): (Vec<usize>, (Vec<UnifiedOrder>, Vec<Planned>)) =
        new.drain(..).map(|a| (a.slot, (a.order, a.rest))).unzip();
    let mut after = Vec::with_capacity(slots.len());
    let mut writes = Vec::with_capacity(slots.len());
    for ((slot, order), rest) in slots.into_iter().zip(&orders).zip(rest) {
        let (write, state, mapped_skus) = rest.write(order, None, &channel.channel_id, kinds);
        writes.push(write);
        after.push((slot, state, mapped_skus));
    }
    let written = write_new_orders(conn, &channel.account_id, &channel.store_id, writes).await?;
    for ((slot, state, mapped_skus), w) in after.into_iter().zip(written) {
        page.written(w, state, mapped_skus, Some(slot));
    }
    Ok(())
}
