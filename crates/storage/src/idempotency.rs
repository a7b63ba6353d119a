//! Idempotency keys of POST requests: replay, mismatch, in flight.

use async_trait::async_trait;
use switchyard_domain::ids::AccountId;

use crate::Result;

/// Idempotency keys of POST requests.
#[async_trait]
pub trait Idempotency: Send + Sync {
    /// Claim `key` for a request with `fingerprint`, or learn what to replay.
    async fn begin_idempotent(
        &self,
        account: &AccountId,
        key: &str,
        fingerprint: &str,
    ) -> Result<IdempotencyBegin>;
    /// Store the response of a claimed key.
    async fn finish_idempotent(
        &self,
        account: &AccountId,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<()>;
    /// Release a claimed key without a response (the request failed
    /// transiently, so a retry must run it again).
    async fn release_idempotent(&self, account: &AccountId, key: &str) -> Result<()>;
}

/// What to do with an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new: run the request, then finish or release the key.
    Started,
    /// The same request already completed: replay this response.
    Replay {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: Vec<u8>,
    },
    /// The same request is running right now.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}
