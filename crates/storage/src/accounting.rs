//! Accounting connections of a store and the sync of each issued invoice
//! and credit note to each of them. A document issued while a store has
//! connections is queued for each in the transaction that issues it;
//! syncs are worked per connection under a lease (one holder refreshes the
//! connection's rotating tokens at a time).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::accounting::{AccountingKind, AccountingSettings, SyncState};
use switchyard_domain::ids::{AccountId, AccountingId, InvoiceId, StoreId};

use crate::{Invoice, Page, PageRequest, Result};

/// Accounting connections and document syncs.
#[async_trait]
pub trait Accounting: Send + Sync {
    /// Connect a store to a package; `accounting_exists` when the store has
    /// a connection of that kind already.
    async fn create_accounting(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewAccounting,
    ) -> Result<AccountingConnection>;
    /// A store's connections.
    async fn list_accountings(
        &self,
        account: &AccountId,
        store: &StoreId,
    ) -> Result<Vec<AccountingConnection>>;
    /// One connection of the account.
    async fn get_accounting(
        &self,
        account: &AccountId,
        id: &AccountingId,
    ) -> Result<AccountingConnection>;
    /// Change a connection (new credentials clear its error).
    async fn update_accounting(
        &self,
        account: &AccountId,
        id: &AccountingId,
        patch: AccountingPatch,
    ) -> Result<AccountingConnection>;
    /// Remove a connection and its syncs (the package keeps what it has).
    async fn delete_accounting(&self, account: &AccountId, id: &AccountingId) -> Result<()>;
    /// A connection's sealed credentials.
    async fn accounting_credentials(&self, conn: &AccountingRef) -> Result<Vec<u8>>;
    /// Write a connection's credentials back (rotated tokens, the tenant
    /// looked up): called as soon as they change, before they are used.
    async fn store_accounting_credentials(
        &self,
        conn: &AccountingRef,
        sealed: Vec<u8>,
        tenant: Option<String>,
    ) -> Result<()>;
    /// Record (or, with `None`, clear) what stops a connection as a whole
    /// (its credentials refused, the package unreachable).
    async fn set_accounting_error(&self, conn: &AccountingRef, error: Option<String>)
    -> Result<()>;
    /// Connections with syncs due at `now`.
    async fn accountings_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<AccountingRef>>;
    /// A connection's syncs due at `now`, oldest first: invoices, and credit
    /// notes whose invoice is synced to the connection (or was never
    /// queued for it), each with the invoice's id and number there.
    async fn due_syncs(
        &self,
        conn: &AccountingRef,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueSync>>;
    /// What an attempt found.
    async fn record_sync(
        &self,
        conn: &AccountingRef,
        invoice: &InvoiceId,
        outcome: SyncOutcome,
        now: DateTime<Utc>,
    ) -> Result<DocumentSync>;
    /// A document's syncs, one per connection.
    async fn document_syncs(
        &self,
        account: &AccountId,
        invoice: &InvoiceId,
    ) -> Result<Vec<DocumentSync>>;
    /// Send a document again now (after a refusal, or to hurry a retry).
    async fn retry_sync(
        &self,
        account: &AccountId,
        invoice: &InvoiceId,
        conn: &AccountingId,
        now: DateTime<Utc>,
    ) -> Result<DocumentSync>;
    /// A connection's syncs, newest first, optionally in one state.
    async fn list_syncs(
        &self,
        account: &AccountId,
        conn: &AccountingId,
        state: Option<SyncState>,
        page: &PageRequest,
    ) -> Result<Page<DocumentSync>>;
}

/// A connection to make.
#[derive(Debug, Clone)]
pub struct NewAccounting {
    /// Its id.
    pub id: AccountingId,
    /// The package.
    pub kind: AccountingKind,
    /// A name people see.
    pub name: String,
    /// Where the package is reached (a simulator, a regional host).
    pub base_url: Option<String>,
    /// Sealed credentials.
    pub credentials: Vec<u8>,
    /// Settings (validated).
    pub settings: AccountingSettings,
}

/// Changes to a connection; `None` leaves a field.
#[derive(Debug, Clone, Default)]
pub struct AccountingPatch {
    /// New name.
    pub name: Option<String>,
    /// New settings (validated).
    pub settings: Option<AccountingSettings>,
    /// New sealed credentials (the tenant is looked up again).
    pub credentials: Option<Vec<u8>>,
}

/// A connection (never its credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccountingConnection {
    /// Id.
    pub id: AccountingId,
    /// Store.
    pub store_id: StoreId,
    /// The package.
    pub kind: AccountingKind,
    /// Name.
    pub name: String,
    /// Where the package is reached, when not its usual host.
    pub base_url: Option<String>,
    /// Settings.
    pub settings: AccountingSettings,
    /// Xero's organisation or Sage's business, once looked up.
    pub tenant: Option<String>,
    /// What stops the connection as a whole, if anything.
    pub last_error: Option<String>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Changed.
    pub updated_at: DateTime<Utc>,
}

/// A connection as the worker names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingRef {
    /// Owner.
    pub account_id: AccountId,
    /// Store.
    pub store_id: StoreId,
    /// The connection.
    pub id: AccountingId,
    /// The package.
    pub kind: AccountingKind,
    /// Where it is reached.
    pub base_url: Option<String>,
    /// Its settings.
    pub settings: AccountingSettings,
}

impl AccountingRef {
    /// The worker's view of `account`'s connection `c`.
    pub(crate) fn of(account_id: AccountId, c: AccountingConnection) -> Self {
        Self {
            account_id,
            store_id: c.store_id,
            id: c.id,
            kind: c.kind,
            base_url: c.base_url,
            settings: c.settings,
        }
    }
}

/// A document's sync to one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentSync {
    /// The document.
    pub invoice_id: InvoiceId,
    /// The connection.
    pub connection_id: AccountingId,
    /// The package.
    pub kind: AccountingKind,
    /// `pending`, `synced` or `failed`.
    pub state: SyncState,
    /// The package's id of the document.
    pub remote_id: Option<String>,
    /// The package's number of it.
    pub remote_number: Option<String>,
    /// Attempts so far.
    pub attempts: i64,
    /// The last failure, in the package's words where it gave some.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending only).
    pub next_at: Option<DateTime<Utc>>,
    /// When it was booked.
    pub synced_at: Option<DateTime<Utc>>,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A sync due now, with what it needs.
#[derive(Debug, Clone)]
pub struct DueSync {
    /// The sync.
    pub sync: DocumentSync,
    /// The document.
    pub invoice: Invoice,
    /// For a credit note: the credited invoice's id and number in the
    /// package, when it was booked there.
    pub credits: Option<(String, String)>,
}

/// What an attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Booked.
    Synced {
        /// Its id there.
        remote_id: String,
        /// Its number there.
        remote_number: Option<String>,
    },
    /// Not booked: try again at `retry_at`, or (with `None`) wait for a
    /// person, shown as failed.
    Failed {
        /// Why, in the package's words where it gave some.
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
        /// Show it as failed even though it is retried (it kept failing).
        show_failed: bool,
    },
}

impl SyncOutcome {
    /// The state, next attempt and error it leaves.
    pub(crate) fn columns(&self) -> (SyncState, Option<DateTime<Utc>>, Option<&str>) {
        match self {
            Self::Synced { .. } => (SyncState::Synced, None, None),
            Self::Failed {
                error,
                retry_at,
                show_failed,
            } => {
                let state = if retry_at.is_none() || *show_failed {
                    SyncState::Failed
                } else {
                    SyncState::Pending
                };
                (state, *retry_at, Some(error))
            }
        }
    }
}

/// Columns of a connection read.
pub(crate) const ACCOUNTING_COLUMNS: &str =
    "id, store_id, kind, name, base_url, settings, tenant, last_error, created_at, updated_at";

/// Columns of a sync read (`s` is `accounting_syncs`, `c` its connection).
pub(crate) const SYNC_COLUMNS: &str = "s.invoice_id, s.connection_id, c.kind, s.state, s.remote_id, s.remote_number, s.attempts, s.last_error, s.next_at, s.synced_at, s.created_at, s.updated_at";
