//! Webhook subscriptions, the journal's fan-out into messages, deliveries
//! under lease, and the delivery log.

use crate::journal::{EventPayload, NewEvent, WebhookDetail, WebhookEvent};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use switchyard_domain::ids::{AccountId, MessageId, StoreId, WebhookId};
use switchyard_domain::webhook::EventType;

use super::leases;
use super::{
    SqliteStorage, append_event, fetch_limit, now_text, paginate, parse_opt_ts, parse_ts,
    require_store, store_page, stored, ts,
};
use crate::{
    AttemptRecord, AttemptResult, Claim, DeliveryOutcome, DueDelivery, MessageDelivery,
    NewWebhookEndpoint, NewWebhookMessage, OwnedEvent, Page, PageRequest, Result, SealedSecrets,
    StorageError, WebhookEndpoint, WebhookPatch, Webhooks,
};

const ENDPOINT_COLUMNS: &str = "id, store_id, url, description, events, enabled, disabled_reason, failing_since, previous_secret_expires_at, created_at, updated_at";

/// A stored count as `u32` (saturating).
fn get_u32(r: &sqlx::sqlite::SqliteRow, column: &str) -> Result<u32> {
    Ok(u32::try_from(r.try_get::<i64, _>(column)?.max(0)).unwrap_or(u32::MAX))
}

fn endpoint_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<WebhookEndpoint> {
    let events: String = r.try_get("events")?;
    Ok(WebhookEndpoint {
        id: stored("webhook id", WebhookId::parse(r.try_get("id")?))?,
        store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        events: serde_json::from_str(&events)
            .map_err(|e| StorageError::corrupt("webhook events", e))?,
        enabled: r.try_get("enabled")?,
        disabled_reason: r.try_get("disabled_reason")?,
        failing_since: parse_opt_ts(r.try_get("failing_since")?)?,
        previous_secret_expires_at: parse_opt_ts(r.try_get("previous_secret_expires_at")?)?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        updated_at: parse_ts(r.try_get("updated_at")?)?,
    })
}

async fn fetch_endpoint(
    conn: &mut SqliteConnection,
    account: &AccountId,
    id: &WebhookId,
) -> Result<WebhookEndpoint> {
    let row = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND account_id = ?"
    ))
    .bind(id.as_str())
    .bind(account.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound { entity: "webhook" })?;
    endpoint_from_row(&row)
}

fn events_text(events: &[EventType]) -> Result<String> {
    serde_json::to_string(events).map_err(|e| StorageError::corrupt("webhook events", e))
}

async fn journal_webhook(
    conn: &mut SqliteConnection,
    account: &AccountId,
    e: &WebhookEndpoint,
    event_type: &'static str,
    detail: Option<WebhookDetail>,
) -> Result<()> {
    let ev = NewEvent::new(
        &e.id,
        event_type,
        EventPayload::Webhook(WebhookEvent {
            id: e.id.clone(),
            url: e.url.clone(),
            events: e.events.clone(),
            enabled: e.enabled,
            detail,
        }),
    );
    append_event(conn, account, &e.store_id, &ev).await?;
    Ok(())
}

/// Insert a message and a pending delivery per endpoint, unless the
/// journal event was already dispatched.
async fn insert_message(conn: &mut SqliteConnection, m: &NewWebhookMessage) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_messages (id, account_id, store_id, event_type, journal_seq, entity_key, body, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(m.id.as_str())
    .bind(m.account_id.as_str())
    .bind(m.store_id.as_str())
    .bind(&m.event_type)
    .bind(m.journal_seq)
    .bind(&m.entity_key)
    .bind(&m.body)
    .bind(ts(m.created_at))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(());
    }
    let now = now_text();
    for e in &m.endpoints {
        sqlx::query(
            "INSERT INTO webhook_deliveries (message_id, endpoint_id, state, next_attempt_at, updated_at)
             VALUES (?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(m.id.as_str())
        .bind(e.as_str())
        .bind(&now)
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Put a delivery (new or not) back at the start of the schedule, due now.
async fn reset_delivery(
    conn: &mut SqliteConnection,
    message: &str,
    endpoint: &WebhookId,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (message_id, endpoint_id, state, next_attempt_at, updated_at)
         VALUES (?1, ?2, 'pending', ?3, ?3)
         ON CONFLICT (message_id, endpoint_id) DO UPDATE SET state = 'pending', schedule_step = 0,
           next_attempt_at = ?3, lease_until = NULL, updated_at = ?3",
    )
    .bind(message)
    .bind(endpoint.as_str())
    .bind(ts(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const DELIVERY_SELECT: &str =
    "SELECT m.id AS message_id, m.event_type, m.created_at, m.body, d.state, d.attempts,
       d.next_attempt_at, d.last_status, d.last_error
     FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id";

fn delivery_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<MessageDelivery> {
    let state: String = r.try_get("state")?;
    let body: String = r.try_get("body")?;
    let status: Option<i64> = r.try_get("last_status")?;
    Ok(MessageDelivery {
        message_id: stored("message id", MessageId::parse(r.try_get("message_id")?))?,
        event_type: r.try_get("event_type")?,
        created_at: parse_ts(r.try_get("created_at")?)?,
        next_attempt_at: if state == "pending" {
            Some(parse_ts(r.try_get("next_attempt_at")?)?)
        } else {
            None
        },
        state,
        attempts: get_u32(r, "attempts")?,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: r.try_get("last_error")?,
        payload: serde_json::from_str(&body)
            .map_err(|e| StorageError::corrupt("webhook body", e))?,
    })
}

#[async_trait]
impl Webhooks for SqliteStorage {
    #[tracing::instrument(skip_all, fields(store = %store))]
    async fn create_webhook(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint> {
        let mut tx = self.write.begin().await?;
        require_store(&mut tx, account, store).await?;
        let id = new.id.clone();
        let now = now_text();
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, account_id, store_id, url, description, events, enabled, secret, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.as_str())
        .bind(account.as_str())
        .bind(store.as_str())
        .bind(&new.url)
        .bind(&new.description)
        .bind(events_text(&new.events)?)
        .bind(new.enabled)
        .bind(&new.secret)
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let e = fetch_endpoint(&mut tx, account, &id).await?;
        journal_webhook(&mut tx, account, &e, "webhook.created", None).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn list_webhooks(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<WebhookEndpoint>> {
        store_page(
            &self.read,
            account,
            store,
            page,
            &format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE store_id = ? AND id > ? ORDER BY id LIMIT ?"
            ),
            endpoint_from_row,
            |e| e.id.to_string(),
        )
        .await
    }

    async fn get_webhook(&self, account: &AccountId, id: &WebhookId) -> Result<WebhookEndpoint> {
        let mut conn = self.read.acquire().await?;
        fetch_endpoint(&mut conn, account, id).await
    }

    #[tracing::instrument(skip_all, fields(webhook = %id))]
    async fn update_webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
        patch: WebhookPatch,
    ) -> Result<WebhookEndpoint> {
        let mut tx = self.write.begin().await?;
        let before = fetch_endpoint(&mut tx, account, id).await?;
        let events = patch.events.as_deref().map(events_text).transpose()?;
        let enable = patch.enabled == Some(true);
        sqlx::query(
            "UPDATE webhook_endpoints SET url = COALESCE(?, url),
               description = CASE WHEN ? THEN ? ELSE description END,
               events = COALESCE(?, events), enabled = COALESCE(?, enabled),
               disabled_reason = CASE WHEN ? THEN NULL ELSE disabled_reason END,
               failing_since = CASE WHEN ? THEN NULL ELSE failing_since END,
               updated_at = ? WHERE id = ?",
        )
        .bind(&patch.url)
        .bind(patch.description.is_some())
        .bind(patch.description.clone().flatten())
        .bind(events)
        .bind(patch.enabled)
        .bind(enable)
        .bind(enable && !before.enabled)
        .bind(now_text())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let e = fetch_endpoint(&mut tx, account, id).await?;
        journal_webhook(&mut tx, account, &e, "webhook.updated", None).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn delete_webhook(&self, account: &AccountId, id: &WebhookId) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let e = fetch_endpoint(&mut tx, account, id).await?;
        sqlx::query("DELETE FROM webhook_endpoints WHERE id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        journal_webhook(&mut tx, account, &e, "webhook.deleted", None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook_secrets(&self, account: &AccountId, id: &WebhookId) -> Result<SealedSecrets> {
        let mut conn = self.read.acquire().await?;
        let row = sqlx::query(
            "SELECT secret, CASE WHEN previous_secret_expires_at > ? THEN previous_secret END AS previous
             FROM webhook_endpoints WHERE id = ? AND account_id = ?",
        )
        .bind(now_text())
        .bind(id.as_str())
        .bind(account.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StorageError::NotFound { entity: "webhook" })?;
        Ok(SealedSecrets {
            current: row.try_get("secret")?,
            previous: row.try_get("previous")?,
        })
    }

    #[tracing::instrument(skip_all, fields(webhook = %id))]
    async fn rotate_webhook_secret(
        &self,
        account: &AccountId,
        id: &WebhookId,
        secret: Vec<u8>,
        previous_until: DateTime<Utc>,
    ) -> Result<WebhookEndpoint> {
        let mut tx = self.write.begin().await?;
        fetch_endpoint(&mut tx, account, id).await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = ?,
               secret = ?, updated_at = ? WHERE id = ?",
        )
        .bind(ts(previous_until))
        .bind(&secret)
        .bind(now_text())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        let e = fetch_endpoint(&mut tx, account, id).await?;
        journal_webhook(
            &mut tx,
            account,
            &e,
            "webhook.secret_rotated",
            Some(WebhookDetail::rotated(previous_until)),
        )
        .await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn undispatched_events(&self, limit: u32) -> Result<(i64, Vec<OwnedEvent>)> {
        let mut conn = self.read.acquire().await?;
        let cursor: i64 = sqlx::query_scalar("SELECT seq FROM webhook_cursor WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
        let rows = sqlx::query(
            "SELECT seq, account_id, store_id, entity_type, entity_id, event_type, payload, created_at
             FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(cursor)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&mut *conn)
        .await?;
        let events = rows
            .iter()
            .map(|r| {
                let payload: String = r.try_get("payload")?;
                Ok(OwnedEvent {
                    seq: r.try_get("seq")?,
                    account_id: stored("account id", AccountId::parse(r.try_get("account_id")?))?,
                    store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
                    entity_type: r.try_get("entity_type")?,
                    entity_id: r.try_get("entity_id")?,
                    event_type: r.try_get("event_type")?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StorageError::corrupt("journal payload", e))?,
                    created_at: parse_ts(r.try_get("created_at")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((cursor, events))
    }

    async fn webhooks_of_stores(&self, stores: &[StoreId]) -> Result<Vec<WebhookEndpoint>> {
        let mut conn = self.read.acquire().await?;
        let mut out = Vec::new();
        for store in stores {
            let rows = sqlx::query(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE store_id = ? ORDER BY id"
            ))
            .bind(store.as_str())
            .fetch_all(&mut *conn)
            .await?;
            for r in &rows {
                out.push(endpoint_from_row(r)?);
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(from, to, messages = messages.len()))]
    async fn dispatch_messages(
        &self,
        from: i64,
        to: i64,
        messages: Vec<NewWebhookMessage>,
    ) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let moved = sqlx::query("UPDATE webhook_cursor SET seq = ? WHERE id = 1 AND seq = ?")
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        for m in &messages {
            insert_message(&mut tx, m).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn enqueue_message(&self, message: NewWebhookMessage) -> Result<()> {
        let mut tx = self.write.begin().await?;
        insert_message(&mut tx, &message).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        claim: &Claim,
        per_endpoint: u32,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        let now_s = ts(claim.now);
        let stale = ts(claim.stale_before);
        // The worker asks every tick: an idle queue costs a read, never a
        // write transaction on the one write connection.
        let any_due: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
               WHERE d.state = 'pending' AND e.enabled = 1 AND d.next_attempt_at <= ?1 AND {})",
            leases::free("d", "?1", "?2")
        ))
        .bind(&now_s)
        .bind(&stale)
        .fetch_one(&self.read)
        .await?;
        if !any_due {
            return Ok(Vec::new());
        }
        let mut tx = self.write.begin().await?;
        // Due deliveries of enabled endpoints, at most `per_endpoint` in
        // flight per endpoint counting the ones other workers hold. Each
        // step is a short walk of an index (queue, leases), whatever the
        // backlog.
        let endpoints: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT e.id, (SELECT COUNT(*) FROM webhook_deliveries b
                            WHERE b.endpoint_id = e.id AND b.state = 'pending' AND {}) AS busy
             FROM webhook_endpoints e
             WHERE e.enabled = 1 AND EXISTS (SELECT 1 FROM webhook_deliveries d
                 WHERE d.endpoint_id = e.id AND d.state = 'pending' AND d.next_attempt_at <= ?1)",
            leases::held("b", "?1", "?2")
        ))
        .bind(&now_s)
        .bind(&stale)
        .fetch_all(&mut *tx)
        .await?;
        let mut due: Vec<(String, i64)> = Vec::new();
        for (endpoint, busy) in endpoints {
            let room = i64::from(per_endpoint.max(1)) - busy;
            if room <= 0 {
                continue;
            }
            due.extend(
                sqlx::query_as::<_, (String, i64)>(&format!(
                    "SELECT next_attempt_at, rowid FROM webhook_deliveries d
                     WHERE endpoint_id = ?1 AND state = 'pending' AND next_attempt_at <= ?2 AND {}
                     ORDER BY next_attempt_at, message_id LIMIT ?3",
                    leases::free("d", "?2", "?4")
                ))
                .bind(&endpoint)
                .bind(&now_s)
                .bind(room)
                .bind(&stale)
                .fetch_all(&mut *tx)
                .await?,
            );
        }
        due.sort();
        due.truncate(usize::try_from(limit.max(1)).unwrap_or(usize::MAX));
        let ids: Vec<i64> = due.into_iter().map(|(_, rid)| rid).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rowids = |q: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>| {
            q.push(" IN (");
            let mut sep = q.separated(", ");
            for rid in &ids {
                sep.push_bind(*rid);
            }
            q.push(")");
        };
        let mut lease_q = sqlx::QueryBuilder::new("UPDATE webhook_deliveries SET lease_until = ");
        lease_q
            .push_bind(ts(claim.until()))
            .push(", lease_holder = ")
            .push_bind(&claim.holder)
            .push(" WHERE rowid");
        rowids(&mut lease_q);
        lease_q.build().execute(&mut *tx).await?;
        let mut read_q = sqlx::QueryBuilder::new(
            "SELECT d.message_id, d.endpoint_id, d.attempts, d.schedule_step, m.body, e.url,
                    e.account_id, e.store_id, e.failing_since, e.secret,
                    CASE WHEN e.previous_secret_expires_at > ",
        );
        read_q.push_bind(&now_s).push(
            " THEN e.previous_secret END AS previous
             FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
             JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.rowid",
        );
        rowids(&mut read_q);
        let rows = read_q.build().fetch_all(&mut *tx).await?;
        let out = rows
            .iter()
            .map(|r| {
                Ok(DueDelivery {
                    message_id: stored("message id", MessageId::parse(r.try_get("message_id")?))?,
                    endpoint_id: stored("webhook id", WebhookId::parse(r.try_get("endpoint_id")?))?,
                    account_id: stored("account id", AccountId::parse(r.try_get("account_id")?))?,
                    store_id: stored("store id", StoreId::parse(r.try_get("store_id")?))?,
                    url: r.try_get("url")?,
                    body: r.try_get("body")?,
                    attempts: get_u32(r, "attempts")?,
                    schedule_step: get_u32(r, "schedule_step")?,
                    failing_since: parse_opt_ts(r.try_get("failing_since")?)?,
                    secrets: SealedSecrets {
                        current: r.try_get("secret")?,
                        previous: r.try_get("previous")?,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(deliveries = results.len()))]
    async fn record_deliveries(
        &self,
        results: Vec<(DueDelivery, AttemptResult, DeliveryOutcome)>,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for (d, attempt, outcome) in results {
            let d = &d;
            let at = ts(attempt.started_at);
            let (state, next, label) = match &outcome {
                DeliveryOutcome::Succeeded => ("succeeded", None, "succeeded"),
                DeliveryOutcome::Failed { retry_at: Some(t) } => {
                    ("pending", Some(ts(*t)), "retrying")
                }
                DeliveryOutcome::Failed { retry_at: None } => ("failed", None, "failed"),
                DeliveryOutcome::Disable { .. } => ("failed", None, "disabled"),
            };
            sqlx::query(
                "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, schedule_step = schedule_step + 1,
                   next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL, last_status = ?,
                   last_error = ?, updated_at = ? WHERE message_id = ? AND endpoint_id = ?",
            )
            .bind(state)
            .bind(next)
            .bind(attempt.status.map(i64::from))
            .bind(&attempt.error)
            .bind(&at)
            .bind(d.message_id.as_str())
            .bind(d.endpoint_id.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO webhook_attempts (message_id, endpoint_id, attempt, started_at, status, latency_ms, response, error, outcome)
                 SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?)",
            )
            .bind(d.message_id.as_str())
            .bind(d.endpoint_id.as_str())
            .bind(i64::from(d.attempts) + 1)
            .bind(&at)
            .bind(attempt.status.map(i64::from))
            .bind(attempt.latency_ms)
            .bind(&attempt.response)
            .bind(&attempt.error)
            .bind(label)
            .bind(d.endpoint_id.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = CASE WHEN ?1 THEN NULL ELSE COALESCE(failing_since, ?2) END
                 WHERE id = ?3",
            )
            .bind(outcome == DeliveryOutcome::Succeeded)
            .bind(&at)
            .bind(d.endpoint_id.as_str())
            .execute(&mut *tx)
            .await?;
            if let DeliveryOutcome::Disable { reason } = &outcome
                && let Ok(e) = fetch_endpoint(&mut tx, &d.account_id, &d.endpoint_id).await
                && e.enabled
            {
                sqlx::query("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?")
                    .bind(reason)
                    .bind(&at)
                    .bind(d.endpoint_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let e = fetch_endpoint(&mut tx, &d.account_id, &d.endpoint_id).await?;
                journal_webhook(
                    &mut tx,
                    &d.account_id,
                    &e,
                    "webhook.disabled",
                    Some(WebhookDetail::disabled(reason, &d.message_id)),
                )
                .await?;
                tracing::warn!(webhook = %d.endpoint_id, reason, "webhook endpoint disabled");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_webhook_messages(
        &self,
        account: &AccountId,
        id: &WebhookId,
        state: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<MessageDelivery>> {
        let mut conn = self.read.acquire().await?;
        fetch_endpoint(&mut conn, account, id).await?;
        let rows = sqlx::query(&format!(
            "{DELIVERY_SELECT} WHERE d.endpoint_id = ?1 AND (?2 IS NULL OR d.state = ?2)
             AND (?3 = '' OR m.id < ?3) ORDER BY m.id DESC LIMIT ?4"
        ))
        .bind(id.as_str())
        .bind(state)
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(fetch_limit(page))
        .fetch_all(&mut *conn)
        .await?;
        let items = rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |m| m.message_id.to_string()))
    }

    async fn list_webhook_attempts(
        &self,
        account: &AccountId,
        id: &WebhookId,
        message: Option<&MessageId>,
        page: &PageRequest,
    ) -> Result<Page<AttemptRecord>> {
        let mut conn = self.read.acquire().await?;
        fetch_endpoint(&mut conn, account, id).await?;
        let before = page
            .after
            .as_deref()
            .and_then(|a| a.parse::<i64>().ok())
            .unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT id, message_id, attempt, started_at, status, latency_ms, response, error, outcome
             FROM webhook_attempts WHERE endpoint_id = ?1 AND (?2 IS NULL OR message_id = ?2) AND id < ?3
             ORDER BY id DESC LIMIT ?4",
        )
        .bind(id.as_str())
        .bind(message.map(MessageId::as_str))
        .bind(before)
        .bind(fetch_limit(page))
        .fetch_all(&mut *conn)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                let status: Option<i64> = r.try_get("status")?;
                Ok(AttemptRecord {
                    id: r.try_get("id")?,
                    message_id: stored("message id", MessageId::parse(r.try_get("message_id")?))?,
                    attempt: get_u32(r, "attempt")?,
                    started_at: parse_ts(r.try_get("started_at")?)?,
                    status: status.and_then(|s| u16::try_from(s).ok()),
                    latency_ms: r.try_get("latency_ms")?,
                    response: r.try_get("response")?,
                    error: r.try_get("error")?,
                    outcome: r.try_get("outcome")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |a| a.id.to_string()))
    }

    async fn replay_message(
        &self,
        account: &AccountId,
        id: &WebhookId,
        message: &MessageId,
        now: DateTime<Utc>,
    ) -> Result<MessageDelivery> {
        let mut tx = self.write.begin().await?;
        let e = fetch_endpoint(&mut tx, account, id).await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM webhook_messages WHERE id = ? AND store_id = ? AND account_id = ?",
        )
        .bind(message.as_str())
        .bind(e.store_id.as_str())
        .bind(account.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Err(StorageError::NotFound { entity: "message" });
        }
        reset_delivery(&mut tx, message.as_str(), id, now).await?;
        let row = sqlx::query(&format!(
            "{DELIVERY_SELECT} WHERE d.endpoint_id = ? AND d.message_id = ?"
        ))
        .bind(id.as_str())
        .bind(message.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let out = delivery_from_row(&row)?;
        tx.commit().await?;
        Ok(out)
    }

    async fn replay_since(
        &self,
        account: &AccountId,
        id: &WebhookId,
        since: DateTime<Utc>,
        only_failed: bool,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.write.begin().await?;
        let e = fetch_endpoint(&mut tx, account, id).await?;
        // Messages of the store since then: journal events the endpoint
        // wants, and anything it was ever sent (a test event).
        let rows = sqlx::query(
            "SELECT m.id, m.event_type, m.journal_seq, d.state FROM webhook_messages m
             LEFT JOIN webhook_deliveries d ON d.message_id = m.id AND d.endpoint_id = ?
             WHERE m.store_id = ? AND m.created_at >= ? ORDER BY m.id LIMIT 100000",
        )
        .bind(id.as_str())
        .bind(e.store_id.as_str())
        .bind(ts(since))
        .fetch_all(&mut *tx)
        .await?;
        let mut n = 0;
        for r in &rows {
            let state: Option<String> = r.try_get("state")?;
            let seq: Option<i64> = r.try_get("journal_seq")?;
            let kind: String = r.try_get("event_type")?;
            let wanted = state.is_some()
                || (seq.is_some() && EventType::parse(&kind).is_ok_and(|t| e.wants(t)));
            if !wanted || (only_failed && state.as_deref() == Some("succeeded")) {
                continue;
            }
            let mid: String = r.try_get("id")?;
            reset_delivery(&mut tx, &mid, id, now).await?;
            n += 1;
        }
        tx.commit().await?;
        Ok(n)
    }
}
