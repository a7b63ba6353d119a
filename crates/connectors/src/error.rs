//! Connector errors, typed by what the caller should do about them.

use std::time::Duration;

/// A failed call to a channel.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The channel refused our credentials (401/403). Never retried: a
    /// person must fix the credentials.
    #[error("{channel}: authentication failed (HTTP {status}); check the channel's credentials")]
    Auth {
        /// Channel label.
        channel: String,
        /// HTTP status.
        status: u16,
    },
    /// The channel kept answering 429 until our attempts ran out.
    #[error("{channel}: rate limited; retry after {retry_after:?}")]
    RateLimited {
        /// Channel label.
        channel: String,
        /// How long the channel asked us to wait (clamped).
        retry_after: Duration,
    },
    /// 5xx, timeouts or connection failures that outlasted our attempts.
    #[error("{channel}: temporarily unavailable after {attempts} attempt(s): {reason}")]
    Unavailable {
        /// Channel label.
        channel: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The connection could not be opened (refused, DNS, TLS handshake):
    /// the channel never saw the request.
    #[error("{channel}: unreachable after {attempts} attempt(s): {reason}")]
    Unreachable {
        /// Channel label.
        channel: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The channel refused the request itself (4xx other than auth and 429).
    /// Retrying the same request will not help.
    #[error("{channel}: request refused with HTTP {status}: {body}")]
    Rejected {
        /// Channel label.
        channel: String,
        /// HTTP status.
        status: u16,
        /// The start of the response body (redacted).
        body: String,
    },
    /// The channel answered something we cannot read (malformed JSON, a
    /// missing field). Retried: channels do send the odd broken page.
    #[error("{channel}: malformed response: {reason}")]
    Malformed {
        /// Channel label.
        channel: String,
        /// What was wrong.
        reason: String,
    },
    /// The channel (or this connector) cannot do what was asked.
    #[error("{channel}: not supported: {what}")]
    Unsupported {
        /// Channel label.
        channel: String,
        /// What cannot be done.
        what: String,
    },
    /// The channel's address is one the operator's outbound policy refuses
    /// (private, loopback, link-local, metadata, …; `outbound_allow`).
    /// Nothing was sent, credentials included.
    #[error("{channel}: destination refused: {reason}")]
    Blocked {
        /// Channel label.
        channel: String,
        /// Which address and why.
        reason: String,
    },
    /// The request could not be built or sent for a reason on our side.
    #[error("{channel}: cannot send request: {reason}")]
    Client {
        /// Channel label.
        channel: String,
        /// What was wrong.
        reason: String,
    },
}

impl ConnectorError {
    /// Whether trying again later can succeed without a person acting.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Unavailable { .. }
                | Self::Unreachable { .. }
                | Self::Malformed { .. }
        )
    }

    /// Whether the channel certainly did not act on the request (so even a
    /// non-idempotent request may be resent without looking first).
    #[must_use]
    pub fn never_reached(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Unreachable { .. } | Self::Blocked { .. }
        )
    }

    /// A stable snake_case code for APIs and logs.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Auth { .. } => "channel_auth_failed",
            Self::RateLimited { .. } => "channel_rate_limited",
            Self::Unavailable { .. } => "channel_unavailable",
            Self::Unreachable { .. } => "channel_unreachable",
            Self::Rejected { .. } => "channel_rejected",
            Self::Malformed { .. } => "channel_malformed_response",
            Self::Client { .. } => "channel_client_error",
            Self::Blocked { .. } => "blocked_destination",
            Self::Unsupported { .. } => "channel_unsupported",
        }
    }
}
