//! The engine's side of channels: due imports, the import transaction with
//! its cursor, import errors, run results, health and jobs.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::journal::{import_error_event, import_error_handled_event};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use switchyard_domain::arrival::{ArrivalPlan, ArrivalWrite, Stored, plan};
use switchyard_domain::cursor::CursorMove;
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::ids::{AccountId, ChannelId, OrderId, StoreId};
use switchyard_domain::order::OrderState;
use switchyard_domain::plugin_rules::PluginRules;

use super::channels::{channel_ref_from_row, require_channel};
use super::import_page::write_new;
use super::leases;
use super::listings::{enqueue_targets, map_skus, mark_stale};
use super::orders::{OrderWrite, write_order};
use super::pg;
use super::products::load_kinds;
use super::stock::{flag_oversold, invalidate_confirmed, lock_committed};
use super::{
    PgStorage, append_event, at, execute_in, fetch_in_by, fetch_limit, from_json, now, opt_time,
    paginate, store_setting, stored, time,
};
use crate::import_page::PageWrites;
use crate::imports::job_kinds;
use crate::{
    ChannelHealth, ChannelRef, Claim, ImportErrorRecord, ImportItem, ImportOutcome, ImportReport,
    ImportRun, Imports, Job, JobKind, JobRecord, NewImportError, Page, PageRequest, Result,
    StorageError,
};

fn import_error_from_row(r: &PgRow) -> Result<ImportErrorRecord> {
    let raw: Option<serde_json::Value> = r.try_get("raw")?;
    Ok(ImportErrorRecord {
        id: r.try_get("id")?,
        channel_id: stored("channel id", ChannelId::parse(r.try_get("channel_id")?))?,
        channel_order_id: r.try_get("channel_order_id")?,
        code: r.try_get("code")?,
        message: r.try_get("message")?,
        raw,
        attempts: r.try_get("attempts")?,
        first_seen_at: time(r.try_get("first_seen_at")?)?,
        last_seen_at: time(r.try_get("last_seen_at")?)?,
        resolved_at: opt_time(r.try_get("resolved_at")?)?,
        handled_manually_by: r.try_get("handled_manually_by")?,
    })
}

fn job_record_from_row(r: &PgRow) -> Result<JobRecord> {
    let kind: &str = r.try_get("kind")?;
    Ok(JobRecord {
        id: r.try_get("id")?,
        channel_id: stored("channel id", ChannelId::parse(r.try_get("channel_id")?))?,
        kind: JobKind::parse(kind).ok_or_else(|| {
            StorageError::corrupt("job kind", std::io::Error::other(kind.to_owned()))
        })?,
        payload: r.try_get("payload")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        created_at: time(r.try_get("created_at")?)?,
        finished_at: opt_time(r.try_get("finished_at")?)?,
        lease_holder: r.try_get("lease_holder")?,
        lease_until: opt_time(r.try_get("lease_until")?)?,
        holder_heartbeat_at: match r
            .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>("holder_heartbeat_at")
        {
            Ok(v) => opt_time(v)?,
            Err(_) => None,
        },
        started_at: opt_time(r.try_get("started_at")?)?,
        progress: r.try_get("progress")?,
    })
}

#[async_trait]
impl Imports for PgStorage {
    async fn due_channels(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        stale_before: DateTime<Utc>,
        kinds: &[JobKind],
        scheduled: bool,
    ) -> Result<Vec<ChannelRef>> {
        let free = leases::free("j", "?1", "?3");
        let kinds = job_kinds(kinds);
        let rows = sqlx::query(&pg(&format!(
            "SELECT account_id, store_id, id FROM channels
             WHERE ?4 AND credentials IS NOT NULL AND base_url IS NOT NULL AND (next_import_at IS NULL OR next_import_at <= ?1)
             UNION
             SELECT c.account_id, c.store_id, c.id FROM jobs j JOIN channels c ON c.id = j.channel_id
             WHERE j.finished_at IS NULL AND j.kind IN ({kinds}) AND j.run_after <= ?1 AND {free}
             LIMIT ?2"
        )))
        .bind(at(now))
        .bind(i64::from(limit.max(1)))
        .bind(at(stale_before))
        .bind(scheduled)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(channel_ref_from_row).collect()
    }

    async fn find_channel(&self, id: &ChannelId) -> Result<Option<ChannelRef>> {
        let row = sqlx::query("SELECT account_id, store_id, id FROM channels WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(channel_ref_from_row).transpose()
    }

    #[tracing::instrument(skip_all, fields(channel = %channel.channel_id, orders = items.len()))]
    async fn import_orders(
        &self,
        channel: &ChannelRef,
        items: &[ImportItem],
        cursor: &CursorMove,
    ) -> Result<ImportReport> {
        let mut tx = self.pool.begin().await?;
        let report = import_batch(&mut tx, channel, items).await?;
        let id = channel.channel_id.as_str();
        match cursor {
            CursorMove::Stay => {}
            CursorMove::Resume(p) => {
                let p = serde_json::to_value(p)
                    .map_err(|e| StorageError::corrupt("import resume point", e))?;
                sqlx::query("UPDATE channels SET import_resume = $1 WHERE id = $2")
                    .bind(p)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            CursorMove::Finish(t) => {
                sqlx::query(
                    "UPDATE channels SET import_resume = NULL, import_cursor = CASE \
                       WHEN $1::timestamptz IS NOT NULL AND (import_cursor IS NULL OR import_cursor < $1) THEN $1 \
                       ELSE import_cursor END WHERE id = $2",
                )
                .bind(t.map(at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn record_import_errors(
        &self,
        channel: &ChannelRef,
        errors: Vec<NewImportError>,
    ) -> Result<()> {
        if errors.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let now = now();
        for e in errors {
            let created: Option<i64> = sqlx::query_scalar(
                "INSERT INTO import_errors (account_id, store_id, channel_id, channel_order_id, code, message, raw, first_seen_at, last_seen_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (channel_id, channel_order_id) DO UPDATE SET code = excluded.code, message = excluded.message,
                   raw = COALESCE(excluded.raw, import_errors.raw), attempts = import_errors.attempts + 1,
                   last_seen_at = excluded.last_seen_at, resolved_at = NULL, handled_manually_by = NULL
                 RETURNING CASE WHEN attempts = 1 THEN id END",
            )
            .bind(channel.account_id.as_str())
            .bind(channel.store_id.as_str())
            .bind(channel.channel_id.as_str())
            .bind(&e.channel_order_id)
            .bind(&e.code)
            .bind(&e.message)
            .bind(e.raw.as_ref())
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            if created.is_some() {
                let ev = import_error_event(&channel.channel_id, &e);
                append_event(&mut tx, &channel.account_id, &channel.store_id, &ev).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_import_errors(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        all: bool,
        page: &PageRequest,
    ) -> Result<Page<ImportErrorRecord>> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        let after: i64 = page
            .after
            .as_deref()
            .and_then(|a| a.parse().ok())
            .unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT * FROM import_errors WHERE channel_id = $1 AND ($2 OR resolved_at IS NULL) AND id < $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(channel.as_str())
        .bind(all)
        .bind(after)
        .bind(fetch_limit(page))
        .fetch_all(&mut *tx)
        .await?;
        let items = rows
            .iter()
            .map(import_error_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |e| e.id.to_string()))
    }

    async fn get_import_error(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        id: i64,
    ) -> Result<ImportErrorRecord> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        let row = sqlx::query("SELECT * FROM import_errors WHERE channel_id = $1 AND id = $2")
            .bind(channel.as_str())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StorageError::NotFound {
                entity: "import error",
            })?;
        import_error_from_row(&row)
    }

    async fn handle_import_error_manually(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
        id: i64,
        by: &str,
    ) -> Result<ImportErrorRecord> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        let handled = sqlx::query(
            "UPDATE import_errors SET resolved_at = $1, handled_manually_by = $2
             WHERE channel_id = $3 AND id = $4 AND resolved_at IS NULL RETURNING *",
        )
        .bind(now())
        .bind(by)
        .bind(channel.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let row = match handled {
            Some(row) => {
                let e = import_error_from_row(&row)?;
                let ev = import_error_handled_event(channel, &e, by);
                append_event(&mut tx, account, store, &ev).await?;
                e
            }
            // Already resolved (or not there): answer as it stands.
            None => sqlx::query("SELECT * FROM import_errors WHERE channel_id = $1 AND id = $2")
                .bind(channel.as_str())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StorageError::NotFound {
                    entity: "import error",
                })
                .and_then(|r| import_error_from_row(&r))?,
        };
        tx.commit().await?;
        Ok(row)
    }

    async fn finish_import_run(&self, channel: &ChannelRef, run: ImportRun) -> Result<()> {
        let started = at(run.started_at);
        let next = at(run.next_import_at);
        let q = match &run.error {
            None => sqlx::query(
                "UPDATE channels SET last_import_at = $1, last_success_at = $2, failures = 0, next_import_at = $3 WHERE id = $4",
            )
            .bind(started)
            .bind(started)
            .bind(next),
            Some(e) => sqlx::query(
                "UPDATE channels SET last_import_at = $1, last_error = $2, last_error_at = $3, failures = failures + 1, next_import_at = $4 WHERE id = $5",
            )
            .bind(started)
            .bind(e)
            .bind(now())
            .bind(next),
        };
        q.bind(channel.channel_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_notifications(&self, channel: &ChannelRef, error: Option<String>) -> Result<()> {
        sqlx::query("UPDATE channels SET notifications_at = CASE WHEN $1 IS NULL THEN $2 ELSE notifications_at END, notifications_error = $3 WHERE id = $4")
            .bind(&error)
            .bind(now())
            .bind(&error)
            .bind(channel.channel_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn store_engine_credentials(&self, channel: &ChannelRef, sealed: Vec<u8>) -> Result<()> {
        sqlx::query("UPDATE channels SET credentials = $1 WHERE id = $2 AND account_id = $3")
            .bind(sealed)
            .bind(channel.channel_id.as_str())
            .bind(channel.account_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn channel_health(
        &self,
        account: &AccountId,
        store: &StoreId,
        channel: &ChannelId,
    ) -> Result<ChannelHealth> {
        let mut tx = self.pool.begin().await?;
        require_channel(&mut tx, account, store, channel).await?;
        let midnight = Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| at(t.and_utc()))
            .unwrap_or_default();
        let today: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE channel_id = $1 AND created_at >= $2",
        )
        .bind(channel.as_str())
        .bind(midnight)
        .fetch_one(&mut *tx)
        .await?;
        let errors: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM import_errors WHERE channel_id = $1 AND resolved_at IS NULL",
        )
        .bind(channel.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let (oldest, unpushed): (Option<chrono::DateTime<chrono::Utc>>, i64) = sqlx::query_as(
            "SELECT MIN(created_at), COUNT(*) FROM stock_pushes WHERE channel_id = $1 AND state IN ('pending', 'error')",
        )
        .bind(channel.as_str())
        .fetch_one(&mut *tx)
        .await?;
        // What maps to nothing or keeps failing, in one statement.
        let (unmapped, failing, unmapped_lines): (i64, i64, i64) = sqlx::query_as(
            "SELECT
               (SELECT COUNT(*) FROM listings WHERE channel_id = $1 AND sku IS NULL),
               (SELECT COUNT(*) FROM stock_pushes WHERE channel_id = $1 AND state = 'error'),
               (SELECT COUNT(*) FROM order_lines ol JOIN orders o ON o.id = ol.order_id
                WHERE o.channel_id = $1 AND o.state IN ('open', 'on_hold', 'partially_fulfilled')
                AND NOT EXISTS (SELECT 1::bigint FROM products p WHERE p.store_id = o.store_id AND p.sku = ol.sku))",
        )
        .bind(channel.as_str())
        .fetch_one(&mut *tx)
        .await?;
        Ok(ChannelHealth {
            orders_imported_today: today,
            open_import_errors: errors,
            oldest_unpushed_stock_change: opt_time(oldest)?,
            unpushed_stock_changes: unpushed,
            unmapped_listings: unmapped,
            failing_stock_pushes: failing,
            unmapped_order_lines: unmapped_lines,
        })
    }

    async fn enqueue_job(
        &self,
        channel: &ChannelRef,
        kind: JobKind,
        payload: serde_json::Value,
    ) -> Result<JobRecord> {
        let mut tx = self.pool.begin().await?;
        require_channel(
            &mut tx,
            &channel.account_id,
            &channel.store_id,
            &channel.channel_id,
        )
        .await?;
        let now = now();
        let row = sqlx::query(
            "INSERT INTO jobs (account_id, store_id, channel_id, kind, payload, run_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(channel.account_id.as_str())
        .bind(channel.store_id.as_str())
        .bind(channel.channel_id.as_str())
        .bind(kind.as_str())
        .bind(&payload)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let job = job_record_from_row(&row)?;
        tx.commit().await?;
        Ok(job)
    }

    async fn get_job(&self, channel: &ChannelRef, id: i64) -> Result<JobRecord> {
        let mut tx = self.pool.begin().await?;
        require_channel(
            &mut tx,
            &channel.account_id,
            &channel.store_id,
            &channel.channel_id,
        )
        .await?;
        let row = sqlx::query(
            "SELECT j.*, w.heartbeat_at AS holder_heartbeat_at FROM jobs j
             LEFT JOIN worker_instances w ON w.id = j.lease_holder AND w.stopped_at IS NULL
             WHERE j.id = $1 AND j.channel_id = $2",
        )
        .bind(id)
        .bind(channel.channel_id.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StorageError::NotFound { entity: "job" })?;
        job_record_from_row(&row)
    }

    async fn claim_jobs(
        &self,
        channel: &ChannelRef,
        kinds: &[JobKind],
        claim: &Claim,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let kinds = job_kinds(kinds);
        let free = leases::free("j", "?4", "?5");
        let take = leases::take("?1", "?6");
        let rows = sqlx::query(&pg(&format!(
            "UPDATE jobs SET {take}, attempts = attempts + 1,
                 started_at = COALESCE(started_at, ?4) WHERE id IN (
                SELECT j.id FROM jobs j WHERE j.channel_id = ?2 AND j.finished_at IS NULL
                AND j.kind IN ({kinds}) AND j.run_after <= ?4 AND {free} ORDER BY j.id LIMIT ?3 FOR UPDATE OF j SKIP LOCKED)
             RETURNING *"
        )))
        .bind(at(claim.until()))
        .bind(channel.channel_id.as_str())
        .bind(i64::from(limit.max(1)))
        .bind(at(claim.now))
        .bind(at(claim.stale_before))
        .bind(&claim.holder)
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = rows
            .iter()
            .map(|r| {
                let rec = job_record_from_row(r)?;
                Ok(Job {
                    id: rec.id,
                    channel: channel.clone(),
                    kind: rec.kind,
                    payload: rec.payload,
                    attempts: rec.attempts,
                    progress: rec.progress,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    async fn set_job_progress(&self, id: i64, progress: serde_json::Value) -> Result<()> {
        sqlx::query("UPDATE jobs SET progress = $1 WHERE id = $2")
            .bind(&progress)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn finish_job(
        &self,
        id: i64,
        error: Option<String>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let now = now();
        let release = leases::RELEASE;
        let (sql, when) = match retry_at {
            Some(t) => (
                format!("UPDATE jobs SET last_error = ?, run_after = ?, {release} WHERE id = ?"),
                at(t),
            ),
            None => (
                format!("UPDATE jobs SET last_error = ?, finished_at = ?, {release} WHERE id = ?"),
                now,
            ),
        };
        sqlx::query(&pg(&sql))
            .bind(&error)
            .bind(when)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The stored order with this channel id.
pub(crate) struct Existing {
    pub id: OrderId,
    pub state: OrderState,
    /// The channel `updated_at` it was last imported with.
    seen: Option<chrono::DateTime<chrono::Utc>>,
    /// Excluded by a plugin rule when it arrived, with the reason.
    rule_excluded: Option<String>,
}

pub(crate) async fn find_existing(
    conn: &mut PgConnection,
    channel: &ChannelId,
    channel_order_id: &str,
) -> Result<Option<Existing>> {
    type Row = (
        String,
        String,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, state, channel_updated_at, rule_excluded FROM orders WHERE channel_id = $1 AND channel_order_id = $2",
    )
    .bind(channel.as_str())
    .bind(channel_order_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(id, state, seen, rule_excluded)| {
        Ok(Existing {
            id: stored("order id", OrderId::parse(&id))?,
            state: stored("order state", OrderState::parse(&state))?,
            seen,
            rule_excluded,
        })
    })
    .transpose()
}

/// The stored orders of a channel among `ids`, by channel order id.
async fn find_existing_many(
    conn: &mut PgConnection,
    channel: &ChannelId,
    ids: &[&str],
) -> Result<HashMap<String, Existing>> {
    let rows = fetch_in_by(
        conn,
        "SELECT channel_order_id, id, state, channel_updated_at, rule_excluded FROM orders",
        ("channel_id", channel.as_str()),
        "channel_order_id",
        ids,
        // Locked until the page commits, in one order, so that a write
        // racing the page (a shipment recorded, another lane importing the
        // same order) is not overwritten with a decision made on what it
        // replaced.
        "ORDER BY channel_order_id FOR UPDATE",
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(
            r.try_get("channel_order_id")?,
            Existing {
                id: stored("order id", OrderId::parse(r.try_get("id")?))?,
                state: stored("order state", OrderState::parse(r.try_get("state")?))?,
                seen: r.try_get("channel_updated_at")?,
                rule_excluded: r.try_get("rule_excluded")?,
            },
        );
    }
    Ok(out)
}

/// Hold the page's orders, stored or not, until the transaction ends.
///
/// Row locks cannot hold an order that is not stored yet, and two lanes or
/// instances may import one new order at once (a notified order also shows
/// up in a round's page). Without this, both would decide it is new, and
/// the second insert would land on the first one's row with an id of its
/// own. With it, the second waits, then finds the order stored and decides
/// on it. Transaction-scoped advisory locks, keyed by a hash of the
/// channel and the order's id and taken in key order so that two pages
/// sharing orders queue rather than deadlock; a hash collision only makes
/// two orders queue.
async fn lock_arrivals(conn: &mut PgConnection, channel: &ChannelId, ids: &[&str]) -> Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended($1 || ' ' || id, 0) AS k \
         FROM unnest($2::text[]) AS id ORDER BY k) AS keys",
    )
    .bind(channel.as_str())
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Import a batch in the caller's transaction (see [`crate::Imports::import_orders`]).
pub(crate) async fn import_batch(
    conn: &mut PgConnection,
    channel: &ChannelRef,
    items: &[ImportItem],
) -> Result<ImportReport> {
    let (account, store, ch) = (&channel.account_id, &channel.store_id, &channel.channel_id);
    require_channel(conn, account, store, ch).await?;
    let settings: serde_json::Value =
        sqlx::query_scalar("SELECT settings FROM channels WHERE id = $1")
            .bind(ch.as_str())
            .fetch_one(&mut *conn)
            .await?;
    let settings: ChannelSettings = from_json("channel settings", settings)?;
    let rules: PluginRules = store_setting(conn, store, "plugin_rules").await?;
    let mut page = PageWrites::default();
    // Everything the page needs is read once: its stored orders, SKU
    // mappings and product kinds.
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i.order.channel_order_id.as_str())
        .collect();
    lock_arrivals(conn, ch, &ids).await?;
    let mut stored_orders = find_existing_many(conn, ch, &ids).await?;
    let channel_skus: BTreeSet<&str> = items
        .iter()
        .flat_map(|i| &i.order.lines)
        .filter_map(|l| l.sku.as_deref().map(str::trim))
        .filter(|s| !s.is_empty())
        .collect();
    let channel_skus: Vec<&str> = channel_skus.into_iter().collect();
    let mapping = map_skus(conn, store, ch, &channel_skus).await?;
    let store_skus: BTreeSet<&str> = mapping.values().map(String::as_str).collect();
    let store_skus: Vec<&str> = store_skus.into_iter().collect();
    let kinds = load_kinds(conn, store, &store_skus).await?;
    let committed: Vec<&str> = kinds.plain_skus(&store_skus).into_iter().collect();
    let stored_ids: Vec<&str> = stored_orders.values().map(|e| e.id.as_str()).collect();
    lock_committed(conn, store, &committed, &stored_ids).await?;
    // Orders new to the store wait here to be written together, in a few
    // multi-row statements; anything that reads or updates a stored order
    // writes them first, so the page's effects are those of writing each
    // order in turn.
    let mut new: Vec<(usize, ArrivalWrite, serde_json::Value)> = Vec::new();
    // Orders written in this batch (a page may carry one twice).
    let mut written_ids: HashSet<String> = HashSet::new();
    for item in items {
        let cid = item.order.channel_order_id.as_str();
        let existing = if written_ids.contains(cid) {
            write_new(&mut page, conn, channel, &kinds, &mut new).await?;
            find_existing(conn, ch, cid).await?
        } else {
            stored_orders.remove(cid)
        };
        let stored_facts = existing.as_ref().map(|e| Stored {
            state: e.state,
            // Compared at the microsecond, the precision PostgreSQL keeps.
            same_version: e.seen.map(|t| t.timestamp_micros())
                == Some(item.order.updated_at.timestamp_micros()),
            rule_excluded: e.rule_excluded.clone(),
        });
        let w = match plan(
            ch.as_str(),
            &item.order,
            &settings.order_filters,
            &rules,
            &mapping,
            stored_facts.as_ref(),
        ) {
            ArrivalPlan::Skip(reason) => {
                page.outcomes.push(Some(ImportOutcome::Skipped { reason }));
                continue;
            }
            ArrivalPlan::Unchanged => {
                if let Some(e) = &existing {
                    page.outcomes
                        .push(Some(ImportOutcome::Unchanged { id: e.id.clone() }));
                }
                continue;
            }
            ArrivalPlan::Write(w) => *w,
        };
        written_ids.insert(w.order.channel_order_id.clone());
        page.resolved.push(w.order.channel_order_id.clone());
        let Some(existing) = existing else {
            // Its outcome's place, filled when it is written.
            new.push((page.outcomes.len(), w, item.raw.clone()));
            page.outcomes.push(None);
            continue;
        };
        write_new(&mut page, conn, channel, &kinds, &mut new).await?;
        let ArrivalWrite { order, decided } = w;
        let (write, mapped_skus) = OrderWrite::arriving(
            &order,
            decided,
            item.raw.clone(),
            Some((existing.id, existing.state)),
            ch,
            &kinds,
        );
        let state = write.state;
        let written = write_order(conn, account, store, write).await?;
        page.written(written, state, mapped_skus, None);
    }
    write_new(&mut page, conn, channel, &kinds, &mut new).await?;
    let PageWrites {
        outcomes,
        touched,
        stale,
        check_oversell,
        resolved,
    } = page;
    let mut report = ImportReport {
        outcomes: outcomes.into_iter().flatten().collect(),
        ..ImportReport::default()
    };
    let resolved: Vec<&str> = resolved.iter().map(String::as_str).collect();
    let now = now();
    execute_in(
        conn,
        |q| {
            q.push("UPDATE import_errors SET resolved_at = ")
                .push_bind(now)
                .push(" WHERE channel_id = ")
                .push_bind(ch.as_str().to_owned())
                .push(" AND resolved_at IS NULL AND");
        },
        "channel_order_id",
        &resolved,
    )
    .await?;
    invalidate_confirmed(conn, store, ch, &stale).await?;
    report.oversold = flag_oversold(conn, account, store, check_oversell).await?;
    // A small page sets its pushes' targets now; a large one has them
    // recomputed once for it and the pages that follow it
    // (`Listings::settle_targets`).
    if items.len() <= crate::listings::TARGETS_IN_PAGE {
        enqueue_targets(conn, store, &touched, "order_import").await?;
    } else {
        mark_stale(conn, store, &touched, "order_import").await?;
    }
    report.stock_changed = touched.len();
    Ok(report)
}
