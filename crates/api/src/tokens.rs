//! API token format: `sy_` followed by 43 base64url characters (32 random
//! bytes). Only the SHA-256 hash is stored; the first 12 characters are kept
//! as a display prefix so users can tell tokens apart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use switchyard_domain::ids::{AccountId, PluginId, StoreId};
use switchyard_storage::{NewToken, Storage, StorageError, TokenRecord};

/// Prefix of every token.
pub const TOKEN_PREFIX: &str = "sy_";
const DISPLAY_CHARS: usize = 12;

/// A freshly minted token: the secret (shown once), its display prefix and hash.
#[derive(Debug, Clone)]
pub struct MintedToken {
    /// The full secret, to be shown to the user exactly once.
    pub secret: SecretString,
    /// Display prefix, e.g. `sy_Ab3dE6gH9`.
    pub prefix: String,
    /// Hex SHA-256 of the secret.
    pub hash: String,
}

/// Mint a new random token.
pub fn mint() -> Result<MintedToken, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    Ok(MintedToken {
        prefix: secret.chars().take(DISPLAY_CHARS).collect(),
        hash: hash(&secret),
        secret: secret.into(),
    })
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The OS random generator failed.
    #[error("random generator failed: {0}")]
    Random(getrandom::Error),
    /// Storage refused it (e.g. the store is not the account's).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Who a token is for: an account (optionally limited to one store), or
/// one plugin of a store.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The one store it reaches.
    pub store: Option<StoreId>,
    /// The one plugin whose routes it reaches (the store must be the plugin's).
    pub plugin: Option<PluginId>,
}

impl From<IssueError> for crate::error::ApiError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::Storage(e) => e.into(),
            random @ IssueError::Random(_) => Self::internal(random),
        }
    }
}

/// Mint a token for `account` within `scope` and store its hash. Returns
/// the secret, to be shown once, and the stored record.
pub async fn issue(
    storage: &dyn Storage,
    account: AccountId,
    scope: Scope,
    name: String,
) -> Result<(SecretString, TokenRecord), IssueError> {
    let minted = mint().map_err(IssueError::Random)?;
    let record = storage
        .create_token(NewToken {
            account_id: account,
            store_id: scope.store,
            plugin_id: scope.plugin,
            name,
            prefix: minted.prefix,
            hash: minted.hash,
        })
        .await?;
    Ok((minted.secret, record))
}

/// Hex SHA-256 of a token.
#[must_use]
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn minted_tokens_are_prefixed_random_and_hashed() {
        let a = mint().unwrap();
        let b = mint().unwrap();
        let secret = a.secret.expose_secret();
        assert!(secret.starts_with("sy_"));
        assert_eq!(secret.len(), 3 + 43);
        assert_ne!(secret, b.secret.expose_secret());
        assert_eq!(a.hash, hash(secret));
        assert_eq!(a.hash.len(), 64);
        assert!(secret.starts_with(&a.prefix));
        assert!(!format!("{a:?}").contains(secret));
    }
}
