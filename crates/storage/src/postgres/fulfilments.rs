//! Fulfilments: the transactional create (lines, commitments, `api` source,
//! order state, journal, stock pushes), tracking updates, cancellation, and
//! the channel sync's queue.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::journal::{EventPayload, FulfilmentEvent, NewEvent, shipped_order_event};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use switchyard_domain::DomainError;
use switchyard_domain::carrier::Carrier;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::fulfilment::{
    CarrierSettings, FulfilmentSource, OpenLine, SyncAction, SyncState, Tracking,
};
use switchyard_domain::ids::{AccountId, ChannelId, FulfilmentId, OrderId, StoreId};
use switchyard_domain::order::OrderState;

use super::leases;
use super::listings::enqueue_targets;
use super::orders::fetch_order;
use super::products::load_kinds;
use super::stock::{move_api_stock, settle_order};
use super::{
    PgStorage, append_event, at, now, opt_time, require_store, set_store_setting, store_setting,
    stored, time,
};
use super::{from_json, pg};
use crate::{
    ChannelRef, Claim, DueFulfilment, FulfilmentLine, FulfilmentRecord, FulfilmentStatus,
    FulfilmentSync, Fulfilments, NewFulfilment, Result, StorageError, SyncResult,
};
use switchyard_domain::shipment::{
    NewShipment, plan_cancellation, plan_shipment, plan_tracking_update, sync_for_cancellation,
    sync_for_correction,
};

const COLUMNS: &str = "id, order_id, store_id, channel_id, source, status, carrier, carrier_detected, service, \
    tracking, shipped_at, external_ref, sync_state, sync_action, channel_fulfilment_id, attempts, last_error, \
    next_attempt_at, synced_at, created_at, updated_at";

fn invalid(e: DomainError) -> StorageError {
    // Refusals that depend on the order's current state are conflicts (409);
    // malformed requests stay validation errors (422).
    match e.code {
        "over_fulfilment" | "nothing_to_fulfil" | "order_not_fulfillable" => {
            StorageError::Conflict {
                code: e.code,
                message: e.message,
                field: e.field,
            }
        }
        _ => StorageError::Invalid(e),
    }
}

fn from_row(r: &PgRow, lines: Vec<FulfilmentLine>) -> Result<FulfilmentRecord> {
    let tracking: Vec<Tracking> = from_json("tracking numbers", r.try_get("tracking")?)?;
    let source = match r.try_get::<&str, _>("source")? {
        "back_office" => FulfilmentSource::BackOffice,
        "plugin" => FulfilmentSource::Plugin,
        _ => FulfilmentSource::Api,
    };
    let status = match r.try_get::<&str, _>("status")? {
        "cancelled" => FulfilmentStatus::Cancelled,
        _ => FulfilmentStatus::Active,
    };
    let action: Option<&str> = r.try_get("sync_action")?;
    Ok(FulfilmentRecord {
        id: stored("fulfilment id", FulfilmentId::parse(r.try_get("id")?))?,
        order_id: stored("order id", OrderId::parse(r.try_get("order_id")?))?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        channel_id: stored("channel id", ChannelId::parse(r.try_get("channel_id")?))?,
        source,
        status,
        carrier: stored("carrier", Carrier::parse(r.try_get("carrier")?))?,
        carrier_detected: r.try_get("carrier_detected")?,
        service: r.try_get("service")?,
        tracking,
        shipped_at: time(r.try_get("shipped_at")?)?,
        lines,
        external_ref: r.try_get("external_ref")?,
        sync: FulfilmentSync {
            state: stored("sync state", SyncState::parse(r.try_get("sync_state")?))?,
            action: action
                .map(|a| stored("sync action", SyncAction::parse(a)))
                .transpose()?,
            channel_fulfilment_id: r.try_get("channel_fulfilment_id")?,
            attempts: r.try_get("attempts")?,
            last_error: r.try_get("last_error")?,
            next_attempt_at: opt_time(r.try_get("next_attempt_at")?)?,
            synced_at: opt_time(r.try_get("synced_at")?)?,
        },
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    })
}

/// Fulfilments matching `filter` (an SQL condition over `fulfilments` with
/// one bound value), with their lines.
async fn load(conn: &mut PgConnection, filter: &str, value: &str) -> Result<Vec<FulfilmentRecord>> {
    let rows = sqlx::query(&pg(&format!(
        "SELECT {COLUMNS} FROM fulfilments WHERE {filter} ORDER BY created_at, id"
    )))
    .bind(value)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: &str = r.try_get("id")?;
        let lines = sqlx::query(
            "SELECT line_no, sku, channel_line_id, quantity FROM fulfilment_lines WHERE fulfilment_id = $1 ORDER BY line_no",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|l| {
            Ok(FulfilmentLine {
                line_no: l.try_get("line_no")?,
                sku: l.try_get("sku")?,
                channel_line_id: l.try_get("channel_line_id")?,
                quantity: l.try_get("quantity")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        out.push(from_row(r, lines)?);
    }
    Ok(out)
}

/// One fulfilment of the account.
/// The fulfilments of `orders`, by order id, oldest first.
pub(crate) async fn fulfilments_of(
    conn: &mut PgConnection,
    orders: &[&str],
) -> Result<BTreeMap<String, Vec<FulfilmentRecord>>> {
    let mut out: BTreeMap<String, Vec<FulfilmentRecord>> = BTreeMap::new();
    for chunk in orders.chunks(400) {
        let mut q: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new(
            "SELECT DISTINCT order_id FROM fulfilments WHERE order_id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        let with: Vec<String> = q.build_query_scalar().fetch_all(&mut *conn).await?;
        for order in with {
            let f = load(conn, "order_id = ?", &order).await?;
            out.insert(order, f);
        }
    }
    Ok(out)
}

pub(crate) async fn fetch(
    conn: &mut PgConnection,
    account: &AccountId,
    id: &FulfilmentId,
) -> Result<FulfilmentRecord> {
    let mine: Option<i64> =
        sqlx::query_scalar("SELECT 1::bigint FROM fulfilments WHERE id = $1 AND account_id = $2")
            .bind(id.as_str())
            .bind(account.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    if mine.is_none() {
        return Err(StorageError::NotFound {
            entity: "fulfilment",
        });
    }
    load(conn, "id = ?", id.as_str())
        .await?
        .pop()
        .ok_or(StorageError::NotFound {
            entity: "fulfilment",
        })
}

pub(crate) async fn carrier_settings_of(
    conn: &mut PgConnection,
    store: &StoreId,
) -> Result<CarrierSettings> {
    store_setting(conn, store, "carrier_settings").await
}

/// Record a fulfilment on `conn` (inside the caller's transaction); see
/// [`Fulfilments::create_fulfilment`].
pub(crate) async fn insert_fulfilment(
    conn: &mut PgConnection,
    account: &AccountId,
    order_id: &OrderId,
    new: NewFulfilment,
) -> Result<FulfilmentRecord> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT store_id, channel_id, state FROM orders WHERE id = $1 AND account_id = $2",
    )
    .bind(order_id.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let (store, channel, state) = row.ok_or(StorageError::NotFound { entity: "order" })?;
    let store = stored("store id", StoreId::parse(&store))?;
    let state = stored("order state", OrderState::parse(&state))?;
    if let Some(r) = &new.external_ref {
        let existing = sqlx::query_scalar::<_, String>(
            "SELECT id FROM fulfilments WHERE order_id = $1 AND external_ref = $2",
        )
        .bind(order_id.as_str())
        .bind(r)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = existing {
            let id = stored("fulfilment id", FulfilmentId::parse(&id))?;
            return fetch(conn, account, &id).await;
        }
    }
    let lines: Vec<(i64, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT line_no, sku, open_quantity, channel_line_id FROM order_lines WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(order_id.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let open: Vec<OpenLine> = lines
        .iter()
        .map(|(n, s, o, _)| OpenLine {
            line_no: *n,
            sku: s.clone(),
            open: *o,
        })
        .collect();
    let skus: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    let kinds = load_kinds(conn, &store, &skus).await?;
    let settings = carrier_settings_of(conn, &store).await?;
    let plan = plan_shipment(NewShipment {
        state,
        lines: &open,
        requested: new.lines.as_deref(),
        tracking: &new.tracking,
        service: new.service.as_deref(),
        carrier: new.carrier,
        source: &new.source,
        settings: &settings,
        kinds: &kinds,
    })
    .map_err(invalid)?;
    let id = FulfilmentId::generate();
    let now = now();
    let tracking_json = sqlx::types::Json(&new.tracking);
    sqlx::query(
        "INSERT INTO fulfilments (id, account_id, store_id, order_id, channel_id, source, status, carrier, carrier_detected, \
         service, tracking, shipped_at, external_ref, sync_state, sync_action, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $11, $12, 'pending', 'create', $13, $14, $15)",
    )
    .bind(id.as_str())
    .bind(account.as_str())
    .bind(store.as_str())
    .bind(order_id.as_str())
    .bind(&channel)
    .bind(new.source.as_str())
    .bind(plan.carrier.as_str())
    .bind(plan.carrier_detected)
    .bind(&new.service)
    .bind(tracking_json)
    .bind(at(new.shipped_at))
    .bind(&new.external_ref)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for (line_no, qty) in &plan.lines {
        let (sku, channel_line) = lines
            .iter()
            .find(|l| l.0 == *line_no)
            .map(|l| (l.1.clone(), l.3.clone()))
            .unwrap_or_default();
        sqlx::query("INSERT INTO fulfilment_lines (fulfilment_id, line_no, sku, channel_line_id, quantity) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.as_str())
            .bind(line_no)
            .bind(&sku)
            .bind(&channel_line)
            .bind(qty)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE order_lines SET open_quantity = open_quantity - $1 WHERE order_id = $2 AND line_no = $3")
            .bind(qty)
            .bind(order_id.as_str())
            .bind(line_no)
            .execute(&mut *conn)
            .await?;
    }
    move_api_stock(
        conn,
        account,
        &store,
        &plan.api_units,
        false,
        &format!("shipped in {id}"),
    )
    .await?;
    let (after, mut touched) = settle_order(conn, &store, order_id.as_str(), state).await?;
    touched.extend(plan.units.into_keys());
    let rec = fetch(conn, account, &id).await?;
    journal_update(conn, account, &rec, "fulfilment.created").await?;
    let ev = shipped_order_event(order_id, state, after, &id);
    append_event(conn, account, &store, &ev).await?;
    enqueue_targets(conn, &store, &touched, "fulfilment").await?;
    Ok(rec)
}

async fn journal_update(
    conn: &mut PgConnection,
    account: &AccountId,
    rec: &FulfilmentRecord,
    event_type: &'static str,
) -> Result<()> {
    let ev = NewEvent::new(
        &rec.id,
        event_type,
        EventPayload::Fulfilment(FulfilmentEvent {
            fulfilment: rec.clone(),
            entity: None,
        }),
    );
    append_event(conn, account, &rec.store_id, &ev).await?;
    Ok(())
}

fn not_active(what: &str) -> StorageError {
    StorageError::conflict(
        "fulfilment_cancelled",
        format!("a cancelled fulfilment cannot be {what}"),
        None,
    )
}

/// What the channel may know of the shipment: whether it has the
/// channel's id, and whether an attempt at creating it went out.
async fn channel_may_know(conn: &mut PgConnection, id: &FulfilmentId) -> Result<(bool, bool)> {
    let (cid, started): (Option<String>, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "SELECT channel_fulfilment_id, sync_started_at FROM fulfilments WHERE id = $1",
    )
    .bind(id.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok((cid.is_some(), started.is_some()))
}

#[async_trait]
impl Fulfilments for PgStorage {
    #[tracing::instrument(skip(self, new), fields(account = %account, order = %order))]
    async fn create_fulfilment(
        &self,
        account: &AccountId,
        order: &OrderId,
        new: NewFulfilment,
    ) -> Result<FulfilmentRecord> {
        let mut tx = self.pool.begin().await?;
        let rec = insert_fulfilment(&mut tx, account, order, new).await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn list_fulfilments(
        &self,
        account: &AccountId,
        order: &OrderId,
    ) -> Result<Vec<FulfilmentRecord>> {
        let mut tx = self.pool.begin().await?;
        fetch_order(&mut tx, account, order, false).await?;
        load(&mut tx, "order_id = ?", order.as_str()).await
    }

    async fn get_fulfilment(
        &self,
        account: &AccountId,
        id: &FulfilmentId,
    ) -> Result<FulfilmentRecord> {
        let mut tx = self.pool.begin().await?;
        fetch(&mut tx, account, id).await
    }

    async fn update_fulfilment_tracking(
        &self,
        account: &AccountId,
        id: &FulfilmentId,
        tracking: Vec<Tracking>,
        carrier: Option<Carrier>,
    ) -> Result<FulfilmentRecord> {
        let mut tx = self.pool.begin().await?;
        let old = fetch(&mut tx, account, id).await?;
        if old.status != FulfilmentStatus::Active {
            return Err(not_active("updated"));
        }
        let settings = carrier_settings_of(&mut tx, &old.store_id).await?;
        let (chosen, detected) = plan_tracking_update(
            &tracking,
            carrier,
            (old.carrier, old.carrier_detected),
            &settings,
        )?;
        let (known, attempted) = channel_may_know(&mut tx, id).await?;
        let action = sync_for_correction(known, attempted);
        let tracking_json = sqlx::types::Json(&tracking);
        let now = now();
        sqlx::query(
            "UPDATE fulfilments SET tracking = $1, carrier = $2, carrier_detected = $3, sync_state = 'pending', sync_action = $4, \
             attempts = 0, last_error = NULL, next_attempt_at = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(tracking_json)
        .bind(chosen.as_str())
        .bind(detected)
        .bind(action.as_str())
        .bind(now)
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let rec = fetch(&mut tx, account, id).await?;
        journal_update(&mut tx, account, &rec, "fulfilment.updated").await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn cancel_fulfilment(
        &self,
        account: &AccountId,
        id: &FulfilmentId,
    ) -> Result<FulfilmentRecord> {
        let mut tx = self.pool.begin().await?;
        let old = fetch(&mut tx, account, id).await?;
        if old.status == FulfilmentStatus::Cancelled {
            return Ok(old);
        }
        for l in &old.lines {
            sqlx::query("UPDATE order_lines SET open_quantity = open_quantity + $1 WHERE order_id = $2 AND line_no = $3")
                .bind(l.quantity)
                .bind(old.order_id.as_str())
                .bind(l.line_no)
                .execute(&mut *tx)
                .await?;
        }
        let lines: Vec<(String, i64)> = old
            .lines
            .iter()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect();
        let skus: Vec<&str> = lines.iter().map(|l| l.0.as_str()).collect();
        let kinds = load_kinds(&mut tx, &old.store_id, &skus).await?;
        let (units, api_units) = plan_cancellation(&lines, &old.source, &kinds);
        move_api_stock(
            &mut tx,
            account,
            &old.store_id,
            &api_units,
            true,
            &format!("{id} cancelled"),
        )
        .await?;
        let state: String = sqlx::query_scalar("SELECT state FROM orders WHERE id = $1")
            .bind(old.order_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let state = stored("order state", OrderState::parse(&state))?;
        // Nothing shipped can be "fulfilled" again: a fully shipped order
        // goes back to partially fulfilled or open.
        let (_, mut touched) =
            settle_order(&mut tx, &old.store_id, old.order_id.as_str(), state).await?;
        touched.extend(units.into_keys());
        let (known, attempted) = channel_may_know(&mut tx, id).await?;
        let tell = sync_for_cancellation(known, attempted);
        let now = now();
        sqlx::query(
            "UPDATE fulfilments SET status = 'cancelled', sync_state = $1, sync_action = $2, attempts = 0, last_error = NULL, \
             next_attempt_at = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(if tell.is_some() { "pending" } else { "synced" })
        .bind(tell.map(SyncAction::as_str))
        .bind(tell.is_some().then_some(&now))
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        enqueue_targets(&mut tx, &old.store_id, &touched, "fulfilment_cancelled").await?;
        let rec = fetch(&mut tx, account, id).await?;
        journal_update(&mut tx, account, &rec, "fulfilment.cancelled").await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn retry_fulfilment(
        &self,
        account: &AccountId,
        id: &FulfilmentId,
    ) -> Result<FulfilmentRecord> {
        let mut tx = self.pool.begin().await?;
        let old = fetch(&mut tx, account, id).await?;
        if old.sync.state == SyncState::Synced {
            return Err(StorageError::conflict(
                "already_synced",
                "the channel has confirmed this fulfilment; there is nothing to retry",
                None,
            ));
        }
        sqlx::query("UPDATE fulfilments SET sync_state = 'pending', next_attempt_at = $1, updated_at = $2 WHERE id = $3")
            .bind(now())
            .bind(now())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let rec = fetch(&mut tx, account, id).await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn carrier_settings(
        &self,
        account: &AccountId,
        store: &StoreId,
    ) -> Result<CarrierSettings> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        carrier_settings_of(&mut tx, store).await
    }

    async fn set_carrier_settings(
        &self,
        account: &AccountId,
        store: &StoreId,
        settings: CarrierSettings,
    ) -> Result<CarrierSettings> {
        settings.validate()?;
        set_store_setting(
            &self.pool,
            account,
            store,
            "carrier_settings",
            &settings,
            "store.carriers_updated",
            |e| e.carrier_settings = Some(settings.clone()),
        )
        .await?;
        Ok(settings)
    }

    async fn due_fulfilments(&self, claim: &Claim, limit: u32) -> Result<Vec<DueFulfilment>> {
        let mut tx = self.pool.begin().await?;
        let free = leases::free("f", "?1", "?3");
        let rows = sqlx::query(&pg(&format!(
            "SELECT f.id, f.account_id, o.channel_order_id, c.kind FROM fulfilments f \
             JOIN orders o ON o.id = f.order_id JOIN channels c ON c.id = f.channel_id \
             WHERE f.sync_state IN ('pending', 'failed') AND f.next_attempt_at <= ?1 AND {free} \
             ORDER BY f.next_attempt_at LIMIT ?2"
        )))
        .bind(at(claim.now))
        .bind(i64::from(limit))
        .bind(at(claim.stale_before))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut carriers: BTreeMap<String, CarrierSettings> = BTreeMap::new();
        for r in rows {
            let id = stored("fulfilment id", FulfilmentId::parse(r.try_get("id")?))?;
            let account = stored("account id", AccountId::parse(r.try_get("account_id")?))?;
            // The row came from the account's own fulfilment: no ownership check.
            let Some(f) = load(&mut tx, "id = ?", id.as_str()).await?.pop() else {
                continue;
            };
            let settings = match carriers.get(f.store_id.as_str()) {
                Some(s) => s.clone(),
                None => {
                    let s = carrier_settings_of(&mut tx, &f.store_id).await?;
                    carriers.insert(f.store_id.to_string(), s.clone());
                    s
                }
            };
            out.push(DueFulfilment {
                channel: ChannelRef {
                    account_id: account,
                    store_id: f.store_id.clone(),
                    channel_id: f.channel_id.clone(),
                },
                kind: stored("channel kind", ChannelKind::parse(r.try_get("kind")?))?,
                channel_order_id: r.try_get("channel_order_id")?,
                carriers: settings,
                fulfilment: f,
            });
        }
        Ok(out)
    }

    async fn begin_fulfilment_sync(
        &self,
        id: &FulfilmentId,
        action: SyncAction,
        claim: &Claim,
    ) -> Result<bool> {
        let take = leases::take("?1", "?2");
        let free = leases::free("fulfilments", "?3", "?6");
        let done = sqlx::query(&pg(&format!(
            "UPDATE fulfilments SET attempts = attempts + 1, {take}, \
             sync_started_at = CASE WHEN sync_action = 'create' THEN ?3 ELSE sync_started_at END \
             WHERE id = ?4 AND sync_action = ?5 AND sync_state IN ('pending', 'failed') \
             AND next_attempt_at <= ?3 AND {free}"
        )))
        .bind(at(claim.until()))
        .bind(&claim.holder)
        .bind(at(claim.now))
        .bind(id.as_str())
        .bind(action.as_str())
        .bind(at(claim.stale_before))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_fulfilment_sync(
        &self,
        id: &FulfilmentId,
        action: SyncAction,
        result: SyncResult,
    ) -> Result<FulfilmentRecord> {
        let mut tx = self.pool.begin().await?;
        let (account, current): (String, Option<String>) =
            sqlx::query_as("SELECT account_id, sync_action FROM fulfilments WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StorageError::NotFound {
                    entity: "fulfilment",
                })?;
        let account = stored("account id", AccountId::parse(&account))?;
        let now = now();
        let same = current.as_deref() == Some(action.as_str());
        match &result {
            SyncResult::Synced {
                channel_fulfilment_id,
            } => {
                if let Some(cid) = channel_fulfilment_id {
                    sqlx::query("UPDATE fulfilments SET channel_fulfilment_id = $1 WHERE id = $2")
                        .bind(cid)
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                if same {
                    sqlx::query(&pg(&format!(
                        "UPDATE fulfilments SET sync_state = 'synced', sync_action = NULL, attempts = 0, last_error = NULL, \
                         next_attempt_at = NULL, {}, synced_at = ?, updated_at = ? WHERE id = ?",
                        leases::RELEASE
                    )))
                    .bind(now)
                    .bind(now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                } else {
                    // A newer change (tracking corrected, cancelled) waits its turn.
                    sqlx::query(&pg(&format!("UPDATE fulfilments SET sync_state = 'pending', attempts = 0, next_attempt_at = ?, {}, updated_at = ? WHERE id = ?", leases::RELEASE)))
                        .bind(now)
                        .bind(now)
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            SyncResult::Failed { error, retry_at } => {
                let next = if same { at(*retry_at) } else { now };
                sqlx::query(&pg(&format!(
                    "UPDATE fulfilments SET sync_state = ?, last_error = ?, next_attempt_at = ?, {}, updated_at = ? WHERE id = ?",
                    leases::RELEASE
                )))
                .bind(if same { "failed" } else { "pending" })
                .bind(error)
                .bind(next)
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        let rec = fetch(&mut tx, &account, id).await?;
        let event = match result {
            SyncResult::Synced { .. } if same => "fulfilment.synced",
            SyncResult::Failed { .. } if same => "fulfilment.sync_failed",
            _ => "fulfilment.updated",
        };
        journal_update(&mut tx, &account, &rec, event).await?;
        tx.commit().await?;
        Ok(rec)
    }
}
