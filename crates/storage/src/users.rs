//! The console's users, their single-use links (invitations and password
//! resets) and their sign-in sessions. Passwords, link secrets and session
//! secrets are stored only as hashes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::ids::{AccountId, StoreId, UserId};
use switchyard_domain::user::Role;

use crate::Result;

/// Users, links and sessions.
#[async_trait]
pub trait Users: Send + Sync {
    /// Add a user to an account. The email (already normalised) must be
    /// free in every account (`email_taken`), and every store of a limit
    /// must be the account's.
    async fn create_user(&self, new: NewUser) -> Result<User>;
    /// The user with this email, in any account, and its password hash
    /// (none until a link set one): what signing in checks.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<(User, Option<String>)>>;
    /// One user of an account.
    async fn get_user(&self, account: &AccountId, id: &UserId) -> Result<User>;
    /// The account's users, oldest first.
    async fn list_users(&self, account: &AccountId) -> Result<Vec<User>>;
    /// Store a single-use link of a user of the account (only its hash).
    async fn create_user_link(&self, link: NewUserLink) -> Result<()>;
    /// Use a live link (unused, not expired at `now`): in one transaction,
    /// set its user's password hash, mark the link used, and end every
    /// session of that user. A link that is unknown, used or expired is
    /// `NotFound { entity: "link" }`, so it works exactly once.
    async fn redeem_user_link(
        &self,
        hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User>;
    /// Set a user's own new password hash and end every other session of
    /// theirs, keeping the one with hash `keep` (the session that asked).
    /// A user of another account is `NotFound { entity: "user" }`.
    async fn change_password(
        &self,
        account: &AccountId,
        user: &UserId,
        password_hash: &str,
        keep: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Store a new session (only its hash).
    async fn create_session(&self, new: NewSession) -> Result<()>;
    /// The live session (not ended, not expired at `now`) with this hash,
    /// and its user.
    async fn find_session(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>>;
    /// End a session; ending it twice is not an error.
    async fn end_session(&self, hash: &str, now: DateTime<Utc>) -> Result<()>;
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The account.
    pub account_id: AccountId,
    /// Normalised email (`domain::user::normalise_email`).
    pub email: String,
    /// Role.
    pub role: Role,
    /// The stores a staff user is limited to; `None` reaches every store.
    pub stores: Option<Vec<StoreId>>,
}

/// A user (never the password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Account.
    pub account_id: AccountId,
    /// Normalised email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// The stores the user is limited to; `None` reaches every store.
    pub stores: Option<Vec<StoreId>>,
    /// Whether a password has been set (the first link was used).
    pub active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// Whether the user may reach `store`.
    #[must_use]
    pub fn reaches(&self, store: &StoreId) -> bool {
        self.stores.as_ref().is_none_or(|s| s.contains(store))
    }
}

/// What a single-use link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// The first password of an invited user.
    Invite,
    /// A new password for a user who forgot theirs.
    Reset,
}

impl LinkPurpose {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Reset => "reset",
        }
    }
}

/// A link to store: its hash only.
#[derive(Debug, Clone)]
pub struct NewUserLink {
    /// The user's account.
    pub account_id: AccountId,
    /// The user.
    pub user_id: UserId,
    /// Purpose.
    pub purpose: LinkPurpose,
    /// Hex SHA-256 of the secret in the link.
    pub hash: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A session to store: its hash only.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The user.
    pub user_id: UserId,
    /// Hex SHA-256 of the cookie's secret.
    pub hash: String,
    /// When it ends by itself.
    pub expires_at: DateTime<Utc>,
    /// The address it signed in from (for the user's own list).
    pub address: Option<String>,
}

/// A live session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The signed-in user.
    pub user: User,
    /// When the session began.
    pub created_at: DateTime<Utc>,
    /// When it ends by itself.
    pub expires_at: DateTime<Utc>,
}

/// The stored form of a store limit (a JSON array, or none).
pub(crate) fn stores_text(stores: Option<&Vec<StoreId>>) -> Option<String> {
    stores.map(|s| {
        serde_json::Value::from(s.iter().map(StoreId::as_str).collect::<Vec<_>>()).to_string()
    })
}

/// A stored store limit read back.
pub(crate) fn stores_from_text(text: Option<&str>) -> Result<Option<Vec<StoreId>>> {
    let Some(text) = text else { return Ok(None) };
    let ids: Vec<String> =
        serde_json::from_str(text).map_err(|e| crate::StorageError::corrupt("user stores", e))?;
    ids.iter()
        .map(|s| crate::stored("store id", StoreId::parse(s)))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The columns every user read selects, in [`User`]'s order.
pub(crate) const USER_COLUMNS: &str = "u.id, u.account_id, u.email, u.role, u.stores, u.password_hash IS NOT NULL AS active, u.created_at";
