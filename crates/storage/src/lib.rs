//! Persistence for Switchyard, behind one trait per aggregate.
//!
//! The application holds an `Arc<dyn Storage>` chosen by database URL at
//! start-up. SQLite is the embedded default ([`sqlite::SqliteStorage`]); a
//! PostgreSQL backend implements the same traits and passes the same
//! conformance suite (`tests/conformance`).
//!
//! Every method that changes state appends its journal events in the same
//! transaction as the change, and every method is scoped by [`AccountId`]
//! (and usually [`StoreId`]): rows of another account are simply not found.

mod accounting;
mod accounts;
mod back_office;
mod channels;
pub mod crypto;
mod fulfilments;
mod hosted_pages;
mod idempotency;
mod import_page;
mod imports;
mod invoices;
mod journal;
mod leases;
mod listings;
mod orders;
mod plugins;
pub mod postgres;
mod products;
mod retention;
pub mod sqlite;
mod stock;
mod stores;
mod users;
mod webhooks;

pub use accounting::*;
pub use accounts::*;
pub use back_office::*;
pub use channels::*;
pub use fulfilments::*;
pub use hosted_pages::*;
pub use idempotency::*;
pub use imports::*;
pub use invoices::*;
pub use journal::*;
pub use leases::*;
pub use listings::*;
pub use orders::*;
pub use plugins::*;
pub use products::*;
pub use retention::*;
pub use stock::*;
pub use stores::*;
pub use users::*;
pub use webhooks::*;

use async_trait::async_trait;
use switchyard_domain::DomainError;

/// Errors of every storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The entity does not exist (or belongs to another account or store).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for, e.g. `store`, `product`.
        entity: &'static str,
    },
    /// The input broke a domain rule that needed the database to check
    /// (a kit component that does not exist, ...).
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// The change conflicts with the current state (compare-and-set mismatch,
    /// duplicate SKU, store still has orders, ...).
    #[error("{message}")]
    Conflict {
        /// Stable snake_case code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
        /// The input field at fault, when there is one.
        field: Option<String>,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back (a bug or a corrupted file).
    #[error("stored {what} is corrupt")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// The underlying parse failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StorageError {
    pub(crate) fn conflict(
        code: &'static str,
        message: impl Into<String>,
        field: Option<String>,
    ) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
            field,
        }
    }

    /// Whether the failure is the database being away or busy for a moment
    /// (restarting, out of connections, a deadlock or serialization
    /// victim) rather than a fault in the request: the same call is
    /// expected to succeed when retried shortly.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        let Self::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                // PostgreSQL SQLSTATE: connection exceptions (08), operator
                // intervention such as a shutdown (57P), too many
                // connections (53300), serialization failure (40001) and
                // deadlock (40P01). SQLite (numeric, shorter): SQLITE_BUSY (5),
                // SQLITE_LOCKED (6) and their extended codes.
                code.starts_with("08")
                    || code.starts_with("57P")
                    || matches!(code.as_ref(), "53300" | "40001" | "40P01")
                    || (code.len() < 5
                        && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)))
            }),
            _ => false,
        }
    }

    pub(crate) fn corrupt(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Corrupt {
            what,
            source: Box::new(source),
        }
    }
}

/// Result alias for storage calls.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A page request: resume after `after` (the sort key of the last item seen),
/// return at most `limit` items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Sort key of the last item of the previous page.
    pub after: Option<String>,
    /// Maximum number of items, at least 1.
    pub limit: u32,
}

impl PageRequest {
    /// The first page of `limit` items.
    #[must_use]
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Sort key to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Everything the application needs from a backend.
#[async_trait]
pub trait Storage:
    Accounts
    + Stores
    + Channels
    + Products
    + Stock
    + Orders
    + Imports
    + Listings
    + Fulfilments
    + BackOffices
    + Webhooks
    + Plugins
    + Journal
    + Leases
    + Idempotency
    + Retention
    + Users
    + HostedPages
    + Invoices
    + Accounting
    + std::fmt::Debug
    + 'static
{
    /// Which backend this is (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
    /// Cheap liveness check of the database.
    async fn ping(&self) -> Result<()>;
}

// Helpers every backend shares.

/// Turn a domain parse failure of a stored value into `Corrupt`.
pub(crate) fn stored<T>(what: &'static str, r: std::result::Result<T, DomainError>) -> Result<T> {
    r.map_err(|e| StorageError::corrupt(what, e))
}

/// Cut a `limit + 1` result into a page, keyed by `key`.
pub(crate) fn paginate<T>(
    mut items: Vec<T>,
    req: &PageRequest,
    key: impl Fn(&T) -> String,
) -> Page<T> {
    let limit = req.limit.max(1) as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(key)
    } else {
        None
    };
    Page { items, next }
}

/// `limit + 1` as an SQL bind value.
pub(crate) fn fetch_limit(req: &PageRequest) -> i64 {
    i64::from(req.limit.max(1)) + 1
}
