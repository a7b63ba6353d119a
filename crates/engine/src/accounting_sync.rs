//! Booking issued invoices and credit notes into the stores' accounting
//! packages (Xero, Sage). One round per connection with due syncs, under
//! the connection's lease, so that one instance at a time uses (and
//! rotates) its refresh token: the rotated credentials are sealed and
//! written back before anything else is sent.
//!
//! Each document is booked once: the connector looks for the document's
//! number in the package before it creates it (and Xero also gets an
//! `Idempotency-Key`), so a crash or a lost answer between booking and
//! recording books nothing twice. A refusal waits for a person (retry by
//! hand); other failures are retried on the `accounting` retry policy and
//! shown as failed after a few attempts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::accounting::{AccountingClient, Credentials, PushError, SyncDocument};
use switchyard_domain::accounting::SHOW_FAILED_AFTER;
use switchyard_domain::retry::failures;
use switchyard_storage::{AccountingRef, DueSync, SyncOutcome};

use crate::EngineError;
use crate::context::{Context, Topic};
use crate::driver::{Report, Worker};

/// What an accounting round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountingSummary {
    /// Documents booked.
    pub synced: usize,
    /// Attempts that failed.
    pub failed: usize,
}

impl Report for AccountingSummary {
    fn merge(&mut self, o: Self) {
        self.synced += o.synced;
        self.failed += o.failed;
    }

    fn busy(&self) -> bool {
        self.synced > 0
    }
}

/// Documents booked per connection and round, at most.
const BATCH: u32 = 50;
/// How long documents wait when a connection's credentials are refused
/// (new credentials send them at once).
const AUTH_WAIT_MINUTES: i64 = 60;

/// The accounting sync.
#[derive(Debug)]
pub struct AccountingSync {
    ctx: Arc<Context>,
}

impl Worker for AccountingSync {
    type Unit = AccountingRef;
    type Report = AccountingSummary;
    const NAME: &'static str = "accounting";

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn key(c: &AccountingRef) -> String {
        c.id.to_string()
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
        room: usize,
    ) -> Result<Vec<AccountingRef>, EngineError> {
        let limit = u32::try_from(room).unwrap_or(100).min(100);
        Ok(self.ctx.storage.accountings_due(now, limit).await?)
    }

    async fn run(
        &self,
        c: AccountingRef,
        now: DateTime<Utc>,
    ) -> Result<AccountingSummary, EngineError> {
        let key = c.id.to_string();
        self.ctx
            .leased("accounting", &key, now, self.round(&c, now))
            .await
    }

    fn concurrency(&self) -> usize {
        self.ctx.config.concurrency.plugins
    }

    fn signal(&self) -> &tokio::sync::Notify {
        self.ctx.signals.of(Topic::Accounting)
    }
}

impl AccountingSync {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Book every document due at `now`.
    pub async fn step(&self, now: DateTime<Utc>) -> Result<AccountingSummary, EngineError> {
        crate::driver::step(self, now).await
    }

    async fn round(
        &self,
        c: &AccountingRef,
        now: DateTime<Utc>,
    ) -> Result<AccountingSummary, EngineError> {
        let mut out = AccountingSummary::default();
        let due = self.ctx.storage.due_syncs(c, now, BATCH).await?;
        if due.is_empty() {
            return Ok(out);
        }
        let mut client = match self.client(c).await? {
            Ok(client) => client,
            Err(e) => return self.all_failed(c, &due, &e, true, now).await,
        };
        match client.session(now).await {
            Ok(Some(fresh)) => {
                // The used refresh token is dead: the new one is written
                // back before anything else happens.
                let sealed = self.seal(c, &fresh)?;
                self.ctx
                    .storage
                    .store_accounting_credentials(c, sealed, fresh.tenant.clone())
                    .await?;
            }
            Ok(None) => {}
            Err(e) => {
                let auth = matches!(e, ConnectorError::Auth { .. });
                let msg = if auth {
                    format!(
                        "{e}: the refresh token was refused (used, revoked or expired); connect the package again"
                    )
                } else {
                    e.to_string()
                };
                self.ctx
                    .storage
                    .set_accounting_error(c, Some(msg.clone()))
                    .await?;
                return self.all_failed(c, &due, &msg, auth, now).await;
            }
        }
        self.ctx.storage.set_accounting_error(c, None).await?;
        for d in &due {
            let credits = d.credits.as_ref().map(|(id, n)| (id.as_str(), n.as_str()));
            let doc = SyncDocument {
                id: d.invoice.id.as_str(),
                kind: d.invoice.kind,
                number: &d.invoice.number,
                document: &d.invoice.document,
                issued_at: d.invoice.issued_at,
                credits,
            };
            let outcome = match client.push(&doc).await {
                Ok(b) => {
                    out.synced += 1;
                    tracing::info!(connection = %c.id, number = %d.invoice.number, remote = %b.remote_id, "booked");
                    SyncOutcome::Synced {
                        remote_id: b.remote_id,
                        remote_number: b.remote_number,
                    }
                }
                Err(PushError::Refused(msg)) => {
                    out.failed += 1;
                    tracing::warn!(connection = %c.id, number = %d.invoice.number, error = %msg, "refused by the package");
                    SyncOutcome::Failed {
                        error: msg,
                        retry_at: None,
                        show_failed: true,
                    }
                }
                Err(PushError::Connector(e)) => {
                    out.failed += 1;
                    let auth = matches!(e, ConnectorError::Auth { .. });
                    tracing::warn!(connection = %c.id, number = %d.invoice.number, error = %e, "not booked");
                    self.retry_later(d, e.to_string(), auth, now)
                }
            };
            self.ctx
                .storage
                .record_sync(c, &d.invoice.id, outcome, self.ctx.now())
                .await?;
        }
        Ok(out)
    }

    /// The connection's client, or why there is none.
    async fn client(
        &self,
        c: &AccountingRef,
    ) -> Result<Result<AccountingClient, String>, EngineError> {
        let sealed = self.ctx.storage.accounting_credentials(c).await?;
        let creds: Credentials = match self
            .ctx
            .cipher
            .open_for(&c.account_id, c.id.as_str(), &sealed)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(creds) => creds,
            None => {
                return Ok(Err(
                    "the credentials cannot be unsealed (was the key file replaced?)".into(),
                ));
            }
        };
        Ok(AccountingClient::new(
            c.kind,
            c.base_url.as_deref(),
            creds,
            c.settings.clone(),
            self.ctx.config.http.clone(),
        )
        .map_err(|e| e.to_string()))
    }

    fn seal(&self, c: &AccountingRef, creds: &Credentials) -> Result<Vec<u8>, EngineError> {
        let bytes = serde_json::to_vec(creds).map_err(|e| EngineError::Setup(e.to_string()))?;
        self.ctx
            .cipher
            .seal_for(&c.account_id, c.id.as_str(), &bytes)
            .map_err(|e| EngineError::Setup(e.to_string()))
    }

    fn retry_later(
        &self,
        d: &DueSync,
        error: String,
        auth: bool,
        now: DateTime<Utc>,
    ) -> SyncOutcome {
        let wait = if auth {
            chrono::Duration::minutes(AUTH_WAIT_MINUTES)
        } else {
            let policy = &self.ctx.config.retry.accounting;
            policy
                .wait(failures(d.sync.attempts), Context::unit())
                .unwrap_or(chrono::Duration::milliseconds(
                    i64::try_from(policy.cap_ms).unwrap_or(i64::MAX),
                ))
        };
        SyncOutcome::Failed {
            error,
            retry_at: Some(now + wait),
            show_failed: auth || d.sync.attempts + 1 >= SHOW_FAILED_AFTER,
        }
    }

    /// Every due sync failed for the connection's sake.
    async fn all_failed(
        &self,
        c: &AccountingRef,
        due: &[DueSync],
        error: &str,
        auth: bool,
        now: DateTime<Utc>,
    ) -> Result<AccountingSummary, EngineError> {
        for d in due {
            let outcome = self.retry_later(d, error.to_owned(), auth, now);
            self.ctx
                .storage
                .record_sync(c, &d.invoice.id, outcome, now)
                .await?;
        }
        Ok(AccountingSummary {
            synced: 0,
            failed: due.len(),
        })
    }
}
