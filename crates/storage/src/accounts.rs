//! Accounts and their API tokens (stored only as hashes).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::ids::{AccountId, PluginId, StoreId, TokenId};

use crate::{Page, PageRequest, Result};

/// Accounts and API tokens.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// The account named `name`, created if it does not exist.
    async fn ensure_account(&self, name: &str) -> Result<Account>;
    /// One account.
    async fn get_account(&self, id: &AccountId) -> Result<Account>;
    /// Store a new token (only its hash). A store scope must belong to the account.
    async fn create_token(&self, new: NewToken) -> Result<TokenRecord>;
    /// The live (not revoked) token with this SHA-256 hash, if any.
    async fn find_token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>>;
    /// Record that a token was used now (at most once per [`TOKEN_TOUCH_INTERVAL`]).
    async fn touch_token(&self, id: &TokenId) -> Result<()>;
    /// The account's tokens (never the secrets), optionally only one store's.
    async fn list_tokens(
        &self,
        account: &AccountId,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>>;
    /// Revoke a token; revoking twice is not an error.
    async fn revoke_token(&self, account: &AccountId, id: &TokenId) -> Result<TokenRecord>;
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Unique name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A token to store: only its hash and display prefix, never the secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Owner.
    pub account_id: AccountId,
    /// Restrict the token to one store.
    pub store_id: Option<StoreId>,
    /// Restrict the token to one plugin's own routes (`store_id` must be
    /// the plugin's store).
    pub plugin_id: Option<PluginId>,
    /// Label chosen by the user.
    pub name: String,
    /// The first characters of the token, to recognise it in lists.
    pub prefix: String,
    /// Hex SHA-256 of the whole token.
    pub hash: String,
}

/// How often a token's `last_used_at` is written: at most once per interval,
/// so authenticating does not cost a write per request.
pub const TOKEN_TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// A stored API token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Id.
    pub id: TokenId,
    /// Owner.
    pub account_id: AccountId,
    /// Store scope, if any.
    pub store_id: Option<StoreId>,
    /// Plugin scope, if any.
    pub plugin_id: Option<PluginId>,
    /// Label.
    pub name: String,
    /// Display prefix.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last authenticated use (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether a use at `now` should be recorded ([`TOKEN_TOUCH_INTERVAL`]).
    #[must_use]
    pub fn use_is_stale(&self, now: DateTime<Utc>) -> bool {
        self.last_used_at
            .is_none_or(|t| now - t >= TOKEN_TOUCH_INTERVAL)
    }
}
