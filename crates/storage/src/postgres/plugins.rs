//! Plugins (3PL), the routing of arriving orders to them by the store's
//! plugin rules, and the outbox of messages to plugins under lease.

use std::collections::BTreeMap;

use crate::journal::{EventPayload, NewEvent, PluginEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use switchyard_domain::ids::{AccountId, MessageId, OrderId, PluginId, StoreId};
use switchyard_domain::plugin_rules::{PluginRules, RuleAction, RuleOutcome};

use super::leases::{self, RELEASE};
use super::pg;
use super::{
    PgStorage, append_event, at, fetch_limit, now, opt_time, paginate, require_store, store_page,
    stored, time,
};
use crate::{
    Claim, DuePluginMessage, NewPlugin, Page, PageRequest, Plugin, PluginAttempt, PluginMessage,
    PluginMessageKind, PluginOrder, PluginPatch, Plugins, Result, StorageError,
    WORKER_STALE_AFTER_SECS,
};

const PLUGIN_COLUMNS: &str = "p.id, p.store_id, p.name, p.url, p.enabled, p.failing_since, p.created_at, p.updated_at,
     (SELECT COUNT(*) FROM plugin_messages m WHERE m.plugin_id = p.id AND m.state = 'pending') AS pending_messages";

fn plugin_from_row(r: &PgRow) -> Result<Plugin> {
    Ok(Plugin {
        id: stored("plugin id", PluginId::parse(r.try_get("id")?))?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        enabled: r.try_get("enabled")?,
        failing_since: opt_time(r.try_get("failing_since")?)?,
        pending_messages: r.try_get("pending_messages")?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    })
}

async fn fetch_plugin(
    conn: &mut PgConnection,
    account: &AccountId,
    id: &PluginId,
) -> Result<Plugin> {
    let row = sqlx::query(&pg(&format!(
        "SELECT {PLUGIN_COLUMNS} FROM plugins p WHERE p.id = ? AND p.account_id = ?"
    )))
    .bind(id.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound { entity: "plugin" })?;
    plugin_from_row(&row)
}

async fn journal_plugin(
    conn: &mut PgConnection,
    account: &AccountId,
    p: &Plugin,
    event_type: &'static str,
) -> Result<()> {
    let ev = NewEvent::new(
        &p.id,
        event_type,
        EventPayload::Plugin(PluginEvent {
            id: p.id.clone(),
            name: p.name.clone(),
            url: p.url.clone(),
            enabled: p.enabled,
        }),
    );
    append_event(conn, account, &p.store_id, &ev).await?;
    Ok(())
}

/// Refuse rules that route to a plugin the store does not have, naming
/// the rule's field.
pub(crate) async fn check_rule_plugins(
    conn: &mut PgConnection,
    store: &StoreId,
    rules: &PluginRules,
) -> Result<()> {
    for (i, r) in rules.rules.iter().enumerate() {
        if let RuleAction::SendToPlugin { plugin_id } = &r.then {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT 1::bigint FROM plugins WHERE id = $1 AND store_id = $2")
                    .bind(plugin_id)
                    .bind(store.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            if found.is_none() {
                return Err(StorageError::Invalid(
                    switchyard_domain::DomainError::invalid(
                        "unknown_plugin",
                        format!("rules[{i}].then.plugin_id"),
                        format!("the store has no plugin `{plugin_id}`"),
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Queue `kind` for an order's plugin (once per order and kind), due now.
pub(crate) async fn enqueue_plugin_message(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
    plugin: &str,
    order: &OrderId,
    kind: PluginMessageKind,
) -> Result<()> {
    let now = now();
    sqlx::query(
        "INSERT INTO plugin_messages (id, account_id, store_id, plugin_id, order_id, kind, state, next_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9) ON CONFLICT (order_id, kind) DO NOTHING",
    )
    .bind(MessageId::generate().as_str())
    .bind(account.as_str())
    .bind(store.as_str())
    .bind(plugin)
    .bind(order.as_str())
    .bind(kind.as_str())
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An order routed to a plugin was cancelled. Its `order.routed` is not
/// sent any more (unless a worker is sending it right now); if the plugin
/// may have it (delivered, or tried before), it is told with
/// `order.cancelled`.
pub(crate) async fn plugin_order_cancelled(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
    order: &OrderId,
) -> Result<()> {
    let plugin: Option<Option<String>> =
        sqlx::query_scalar("SELECT plugin_id FROM orders WHERE id = $1")
            .bind(order.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let Some(Some(plugin)) = plugin else {
        return Ok(());
    };
    let now = Utc::now();
    // A routed message held by a live worker is being sent: it is not
    // skipped, and the cancellation follows it.
    let free = leases::free("plugin_messages", "?1", "?3");
    sqlx::query(&pg(&format!(
        "UPDATE plugin_messages SET state = 'skipped', updated_at = ?1
         WHERE order_id = ?2 AND kind = 'order.routed' AND state = 'pending' AND {free}"
    )))
    .bind(at(now))
    .bind(order.as_str())
    .bind(at(now - chrono::Duration::seconds(WORKER_STALE_AFTER_SECS)))
    .execute(&mut *conn)
    .await?;
    let may_have_it: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1::bigint FROM plugin_messages WHERE order_id = $1 AND kind = 'order.routed'
           AND (state = 'delivered' OR attempts > 0))",
    )
    .bind(order.as_str())
    .fetch_one(&mut *conn)
    .await?;
    if may_have_it {
        enqueue_plugin_message(
            conn,
            account,
            store,
            &plugin,
            order,
            PluginMessageKind::Cancelled,
        )
        .await?;
    }
    Ok(())
}

/// Record what the plugin rules decided for a newly arrived order (its
/// state and exclusion reason are already written) and queue it for its
/// plugin.
pub(crate) async fn record_routing(
    conn: &mut PgConnection,
    account: &AccountId,
    store: &StoreId,
    order: &OrderId,
    channel_tags: &[String],
    outcome: &RuleOutcome,
) -> Result<()> {
    let all: Vec<&String> = channel_tags.iter().chain(&outcome.tags_added).collect();
    let tags = sqlx::types::Json(&all);
    sqlx::query(
        "UPDATE orders SET tags = $1, plugin_id = $2, routed_by = $3, rule_excluded = $4,
           hold_reason = COALESCE($5, hold_reason), rules_applied_at = $6 WHERE id = $7",
    )
    .bind(tags)
    .bind(&outcome.plugin_id)
    .bind(&outcome.routed_by)
    .bind(&outcome.excluded)
    .bind(&outcome.on_hold)
    .bind(now())
    .bind(order.as_str())
    .execute(&mut *conn)
    .await?;
    if let Some(plugin) = &outcome.plugin_id {
        enqueue_plugin_message(
            conn,
            account,
            store,
            plugin,
            order,
            PluginMessageKind::Routed,
        )
        .await?;
    }
    Ok(())
}

/// A stored message kind.
fn stored_kind(kind: &str) -> Result<PluginMessageKind> {
    PluginMessageKind::parse(kind).ok_or_else(|| {
        StorageError::corrupt(
            "plugin message kind",
            std::io::Error::other(kind.to_owned()),
        )
    })
}

fn message_from_row(r: &PgRow) -> Result<PluginMessage> {
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    let status: Option<i64> = r.try_get("last_status")?;
    Ok(PluginMessage {
        id: stored("message id", MessageId::parse(r.try_get("id")?))?,
        kind: stored_kind(&kind)?,
        next_attempt_at: if state == "pending" {
            Some(time(r.try_get("next_at")?)?)
        } else {
            None
        },
        state,
        attempts: r.try_get("attempts")?,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: r.try_get("last_error")?,
        response: r.try_get("response")?,
        delivered_at: opt_time(r.try_get("delivered_at")?)?,
    })
}

/// The plugin orders among `rows` (columns `id, number, state,
/// routed_by`), with their messages.
async fn plugin_orders(conn: &mut PgConnection, rows: &[PgRow]) -> Result<Vec<PluginOrder>> {
    let mut messages: BTreeMap<String, Vec<PluginMessage>> = BTreeMap::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        let ms =
            sqlx::query("SELECT * FROM plugin_messages WHERE order_id = $1 ORDER BY created_at")
                .bind(&id)
                .fetch_all(&mut *conn)
                .await?;
        messages.insert(
            id,
            ms.iter()
                .map(message_from_row)
                .collect::<Result<Vec<_>>>()?,
        );
    }
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok(PluginOrder {
                order_id: stored("order id", OrderId::parse(&id))?,
                number: r.try_get("number")?,
                state: r.try_get("state")?,
                routed_by: r.try_get("routed_by")?,
                messages: messages.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}

async fn fetch_plugin_order(
    conn: &mut PgConnection,
    account: &AccountId,
    id: &PluginId,
    order: &OrderId,
) -> Result<PluginOrder> {
    let rows = sqlx::query(
        "SELECT id, number, state, routed_by FROM orders WHERE id = $1 AND plugin_id = $2 AND account_id = $3",
    )
    .bind(order.as_str())
    .bind(id.as_str())
    .bind(account.as_str())
    .fetch_all(&mut *conn)
    .await?;
    plugin_orders(conn, &rows)
        .await?
        .pop()
        .ok_or(StorageError::NotFound { entity: "order" })
}

#[async_trait]
impl Plugins for PgStorage {
    #[tracing::instrument(skip_all, fields(store = %store))]
    async fn create_plugin(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewPlugin,
    ) -> Result<Plugin> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let now = now();
        sqlx::query(
            "INSERT INTO plugins (id, account_id, store_id, name, url, enabled, secret, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new.id.as_str())
        .bind(account.as_str())
        .bind(store.as_str())
        .bind(&new.name)
        .bind(&new.url)
        .bind(new.enabled)
        .bind(&new.secret)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let p = fetch_plugin(&mut tx, account, &new.id).await?;
        journal_plugin(&mut tx, account, &p, "plugin.created").await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn list_plugins(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Plugin>> {
        store_page(
            &self.pool,
            account,
            store,
            page,
            &format!(
                "SELECT {PLUGIN_COLUMNS} FROM plugins p WHERE p.store_id = ? AND p.id > ? ORDER BY p.id LIMIT ?"
            ),
            plugin_from_row,
            |p| p.id.to_string(),
        )
        .await
    }

    async fn get_plugin(&self, account: &AccountId, id: &PluginId) -> Result<Plugin> {
        let mut conn = self.pool.acquire().await?;
        fetch_plugin(&mut conn, account, id).await
    }

    async fn update_plugin(
        &self,
        account: &AccountId,
        id: &PluginId,
        patch: PluginPatch,
    ) -> Result<Plugin> {
        let mut tx = self.pool.begin().await?;
        let old = fetch_plugin(&mut tx, account, id).await?;
        let now = now();
        sqlx::query(
            "UPDATE plugins SET name = $1, url = $2, enabled = $3, updated_at = $4,
               failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END
             WHERE id = $6",
        )
        .bind(patch.name.as_ref().unwrap_or(&old.name))
        .bind(patch.url.as_ref().unwrap_or(&old.url))
        .bind(patch.enabled.unwrap_or(old.enabled))
        .bind(now)
        .bind(patch.enabled == Some(true) || patch.url.is_some())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if patch.enabled == Some(true) || patch.url.is_some() {
            // A plugin that was down or disabled gets its waiting orders now.
            sqlx::query(
                "UPDATE plugin_messages SET next_at = $1 WHERE plugin_id = $2 AND state = 'pending'",
            )
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let p = fetch_plugin(&mut tx, account, id).await?;
        journal_plugin(&mut tx, account, &p, "plugin.updated").await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn delete_plugin(&self, account: &AccountId, id: &PluginId) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let p = fetch_plugin(&mut tx, account, id).await?;
        let rules: PluginRules = super::store_setting(&mut tx, &p.store_id, "plugin_rules").await?;
        if let Some(r) = rules.rules.iter().find(
            |r| matches!(&r.then, RuleAction::SendToPlugin { plugin_id } if plugin_id == id.as_str()),
        ) {
            return Err(StorageError::conflict(
                "plugin_in_use",
                format!("plugin rule `{}` routes orders to this plugin; change the rules first", r.name),
                None,
            ));
        }
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE plugin_id = $1 AND state IN ('open', 'on_hold', 'partially_fulfilled')",
        )
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if open > 0 {
            return Err(StorageError::conflict(
                "plugin_in_use",
                format!(
                    "{open} open order(s) are routed to this plugin; disable it instead, or wait until they are fulfilled or cancelled"
                ),
                None,
            ));
        }
        for sql in [
            "DELETE FROM plugin_messages WHERE plugin_id = ?",
            "DELETE FROM api_tokens WHERE plugin_id = ?",
            "DELETE FROM plugins WHERE id = ?",
        ] {
            sqlx::query(&pg(sql))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        journal_plugin(&mut tx, account, &p, "plugin.deleted").await?;
        tx.commit().await?;
        Ok(())
    }

    async fn plugin_secret(&self, account: &AccountId, id: &PluginId) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT secret FROM plugins WHERE id = $1 AND account_id = $2")
            .bind(id.as_str())
            .bind(account.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound { entity: "plugin" })
    }

    async fn list_plugin_orders(
        &self,
        account: &AccountId,
        id: &PluginId,
        message_state: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<PluginOrder>> {
        let mut tx = self.pool.begin().await?;
        fetch_plugin(&mut tx, account, id).await?;
        let rows = sqlx::query(
            "SELECT o.id, o.number, o.state, o.routed_by FROM orders o
             WHERE o.plugin_id = $1 AND o.id < $2
               AND ($3 IS NULL OR EXISTS (SELECT 1::bigint FROM plugin_messages m WHERE m.order_id = o.id AND m.state = $3))
             ORDER BY o.id DESC LIMIT $4",
        )
        .bind(id.as_str())
        .bind(page.after.as_deref().unwrap_or("~"))
        .bind(message_state)
        .bind(fetch_limit(page))
        .fetch_all(&mut *tx)
        .await?;
        let items = plugin_orders(&mut tx, &rows).await?;
        Ok(paginate(items, page, |o| o.order_id.to_string()))
    }

    async fn plugin_order(
        &self,
        account: &AccountId,
        id: &PluginId,
        order: &OrderId,
    ) -> Result<PluginOrder> {
        let mut tx = self.pool.begin().await?;
        fetch_plugin_order(&mut tx, account, id, order).await
    }

    async fn resend_plugin_order(
        &self,
        account: &AccountId,
        id: &PluginId,
        order: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<PluginOrder> {
        let mut tx = self.pool.begin().await?;
        fetch_plugin_order(&mut tx, account, id, order).await?;
        sqlx::query(
            "UPDATE plugin_messages SET next_at = $1, updated_at = $2 WHERE order_id = $3 AND state = 'pending'",
        )
        .bind(at(now))
        .bind(chrono::Utc::now())
        .bind(order.as_str())
        .execute(&mut *tx)
        .await?;
        let o = fetch_plugin_order(&mut tx, account, id, order).await?;
        tx.commit().await?;
        Ok(o)
    }

    async fn claim_plugin_messages(
        &self,
        claim: &Claim,
        limit: u32,
    ) -> Result<Vec<DuePluginMessage>> {
        // An order on hold keeps its `order.routed` waiting; a cancellation
        // waits while its order is being sent.
        let (free, held) = (leases::free("m", "?1", "?2"), leases::held("r", "?1", "?2"));
        let due = format!(
            "FROM plugin_messages m JOIN plugins p ON p.id = m.plugin_id JOIN orders o ON o.id = m.order_id
             WHERE m.state = 'pending' AND p.enabled = true AND m.next_at <= ?1 AND {free}
               AND (m.kind <> 'order.routed' OR o.state IN ('open', 'partially_fulfilled'))
               AND (m.kind <> 'order.cancelled' OR NOT EXISTS (SELECT 1::bigint FROM plugin_messages r
                    WHERE r.order_id = m.order_id AND r.kind = 'order.routed' AND r.state = 'pending'
                      AND {held}))"
        );
        let now_s = at(claim.now);
        let stale = at(claim.stale_before);
        let any_due: bool = sqlx::query_scalar(&pg(&format!("SELECT EXISTS (SELECT 1 {due})")))
            .bind(now_s)
            .bind(stale)
            .fetch_one(&self.pool)
            .await?;
        if !any_due {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(&pg(&format!(
            "SELECT m.id, m.kind, m.account_id, m.plugin_id, m.order_id, m.attempts, p.url, p.secret, p.failing_since
             {due} ORDER BY m.next_at LIMIT ?3 FOR UPDATE OF m SKIP LOCKED"
        )))
        .bind(now_s)
        .bind(stale)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id")?;
            sqlx::query(&pg(&format!(
                "UPDATE plugin_messages SET {}, attempts = attempts + 1 WHERE id = ?3",
                leases::take("?1", "?2")
            )))
            .bind(at(claim.until()))
            .bind(&claim.holder)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            let kind: String = r.try_get("kind")?;
            out.push(DuePluginMessage {
                id: stored("message id", MessageId::parse(&id))?,
                kind: stored_kind(&kind)?,
                account_id: stored("account id", AccountId::parse(r.try_get("account_id")?))?,
                plugin_id: stored("plugin id", PluginId::parse(r.try_get("plugin_id")?))?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
                order_id: stored("order id", OrderId::parse(r.try_get("order_id")?))?,
                attempts: r.try_get::<i64, _>("attempts")? + 1,
                failing_since: opt_time(r.try_get("failing_since")?)?,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn record_plugin_attempt(
        &self,
        m: &DuePluginMessage,
        a: PluginAttempt,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now_s = at(now);
        let status = a.status.map(i64::from);
        match a.retry_at {
            None => {
                sqlx::query(&pg(&format!(
                    "UPDATE plugin_messages SET state = 'delivered', {RELEASE}, last_status = ?1,
                       last_error = NULL, response = ?2, delivered_at = ?3, updated_at = ?3 WHERE id = ?4"
                )))
                .bind(status)
                .bind(&a.response)
                .bind(now_s)
                .bind(m.id.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE plugins SET failing_since = NULL WHERE id = $1")
                    .bind(m.plugin_id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(retry_at) => {
                sqlx::query(&pg(&format!(
                    "UPDATE plugin_messages SET {RELEASE}, next_at = ?1, last_status = ?2,
                       last_error = ?3, response = ?4, updated_at = ?5,
                       state = CASE WHEN kind = 'order.routed'
                         AND (SELECT state FROM orders WHERE id = order_id) = 'cancelled' THEN 'skipped' ELSE state END
                     WHERE id = ?6 AND state = 'pending'"
                )))
                .bind(at(retry_at))
                .bind(status)
                .bind(&a.error)
                .bind(&a.response)
                .bind(now_s)
                .bind(m.id.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE plugins SET failing_since = COALESCE(failing_since, $1) WHERE id = $2",
                )
                .bind(now_s)
                .bind(m.plugin_id.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
