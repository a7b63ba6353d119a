//! A page of the import as it is written: the new orders waiting to be
//! written together (the mirror of `sqlite/import_page.rs`).

use sqlx::PgConnection;
use switchyard_domain::arrival::ArrivalWrite;
use switchyard_domain::product::Kinds;

use super::orders::{OrderWrite, write_new_orders};
use crate::import_page::PageWrites;
use crate::{ChannelRef, Result};

/// Write the new orders waiting in `new` (each with its outcome's place
/// and its raw JSON) together, and add them to `page`.
pub(super) async fn write_new(
    page: &mut PageWrites,
    conn: &mut PgConnection,
    channel: &ChannelRef,
    kinds: &Kinds,
    new: &mut Vec<(usize, ArrivalWrite, serde_json::Value)>,
) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let mut orders = Vec::with_capacity(new.len());
    let mut rest = Vec::with_capacity(new.len());
    for (slot, ArrivalWrite { order, decided }, raw) in new.drain(..) {
        orders.push(order);
        rest.push((slot, decided, raw));
    }
    let mut after = Vec::with_capacity(orders.len());
    let mut writes = Vec::with_capacity(orders.len());
    for (order, (slot, decided, raw)) in orders.iter().zip(rest) {
        let (write, mapped_skus) =
            OrderWrite::arriving(order, decided, raw, None, &channel.channel_id, kinds);
        after.push((slot, write.state, mapped_skus));
        writes.push(write);
    }
    let written = write_new_orders(conn, &channel.account_id, &channel.store_id, writes).await?;
    for ((slot, state, mapped_skus), w) in after.into_iter().zip(written) {
        page.written(w, state, mapped_skus, Some(slot));
    }
    Ok(())
}
