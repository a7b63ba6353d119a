//! Hosted onboarding pages: single-use pages on which a provider's client
//! connects one channel to a store. A page is used up in the same
//! transaction that creates its channel (see [`crate::NewChannel`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::hosted_page::{Branding, PageState};
use switchyard_domain::ids::{AccountId, ChannelId, HostedPageId, StoreId};

use crate::{Page, PageRequest, Result, StorageError, stored};

/// Hosted onboarding pages of stores.
#[async_trait]
pub trait HostedPages: Send + Sync {
    /// Store a new open page of the store (only its token's hash).
    async fn create_hosted_page(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewHostedPage,
    ) -> Result<HostedPage>;
    /// One page of the account.
    async fn get_hosted_page(&self, account: &AccountId, id: &HostedPageId) -> Result<HostedPage>;
    /// A store's pages, by id.
    async fn list_hosted_pages(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<HostedPage>>;
    /// Withdraw a page that was not used: `Conflict { code: "page_completed" }`
    /// once a channel was connected through it; revoking twice is not an
    /// error.
    async fn revoke_hosted_page(
        &self,
        account: &AccountId,
        id: &HostedPageId,
        now: DateTime<Utc>,
    ) -> Result<HostedPage>;
    /// The page whose token has this hash, with its account (any state).
    async fn hosted_page_by_token(&self, hash: &str) -> Result<Option<(AccountId, HostedPage)>>;
    /// Remember an authorization started on a page (only the state's hash).
    async fn create_oauth_state(&self, new: NewOAuthState) -> Result<()>;
    /// Use a state once: the authorization it belongs to, if the state is
    /// known, unused and not expired at `now`; it never works again.
    async fn take_oauth_state(&self, hash: &str, now: DateTime<Utc>) -> Result<Option<OAuthState>>;
    /// A state, used or not (for the page a client returns to after the
    /// channel already delivered its keys).
    async fn find_oauth_state(&self, hash: &str) -> Result<Option<OAuthState>>;
}

/// An authorization a client started on a hosted page.
#[derive(Debug, Clone)]
pub struct NewOAuthState {
    /// The hash of the `state` sent to the channel.
    pub hash: String,
    /// The page's account.
    pub account_id: AccountId,
    /// The page it was started on.
    pub page_id: HostedPageId,
    /// The channel kind.
    pub kind: ChannelKind,
    /// The shop it was started for (Shopify's `shop` domain).
    pub shop: Option<String>,
    /// The PKCE code verifier sent with the code's exchange.
    pub verifier: Option<String>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A state taken back from the channel's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// The page's account.
    pub account_id: AccountId,
    /// The page it was started on.
    pub page_id: HostedPageId,
    /// The channel kind.
    pub kind: ChannelKind,
    /// The shop it was started for.
    pub shop: Option<String>,
    /// The PKCE code verifier.
    pub verifier: Option<String>,
}

/// A page to store.
#[derive(Debug, Clone)]
pub struct NewHostedPage {
    /// Its id.
    pub id: HostedPageId,
    /// The hash of the token in its URL.
    pub token_hash: String,
    /// The kinds the client may choose from.
    pub channels: Vec<ChannelKind>,
    /// How it looks (validated).
    pub branding: Branding,
    /// Settings and stock rules the channel gets (`{settings, stock_rules}`,
    /// validated by the caller).
    pub presets: serde_json::Value,
    /// Where the client is sent when done.
    pub redirect_url: Option<String>,
    /// Free key-values echoed back.
    pub metadata: serde_json::Value,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A stored page (never its token).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostedPage {
    /// Id.
    pub id: HostedPageId,
    /// The store a channel is connected to.
    pub store_id: StoreId,
    /// The kinds offered.
    pub channels: Vec<ChannelKind>,
    /// How it looks.
    pub branding: Branding,
    /// What the channel gets.
    pub presets: serde_json::Value,
    /// Where the client is sent when done.
    pub redirect_url: Option<String>,
    /// Echoed back.
    pub metadata: serde_json::Value,
    /// `open`, `completed` or `revoked` as stored (see [`Self::state_at`]).
    #[serde(skip)]
    pub stored_state: PageState,
    /// The channel connected through it.
    pub channel_id: Option<ChannelId>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Used.
    pub completed_at: Option<DateTime<Utc>>,
    /// Withdrawn.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl HostedPage {
    /// Where it stands at `now` (an open page past its expiry is expired).
    #[must_use]
    pub fn state_at(&self, now: DateTime<Utc>) -> PageState {
        PageState::at(self.stored_state, self.expires_at, now)
    }
}

/// The columns every backend selects for a page (alias `h`).
pub(crate) const PAGE_COLUMNS: &str = "h.id, h.store_id, h.channels, h.branding, h.presets, h.redirect_url, h.metadata, \
     h.state, h.channel_id, h.expires_at, h.created_at, h.completed_at, h.revoked_at";

/// The message when a page cannot connect a channel any more.
pub(crate) const PAGE_NOT_OPEN: &str =
    "this page has been used, withdrawn or has expired; ask for a new one";

/// A page's channels as stored (a JSON array of kinds).
pub(crate) fn channels_text(kinds: &[ChannelKind]) -> String {
    serde_json::Value::from(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()).to_string()
}

/// The text columns of a stored page, as every backend reads them.
pub(crate) struct PageText {
    pub(crate) id: String,
    pub(crate) store_id: String,
    pub(crate) channels: String,
    pub(crate) branding: String,
    pub(crate) presets: String,
    pub(crate) redirect_url: Option<String>,
    pub(crate) metadata: String,
    pub(crate) state: String,
    pub(crate) channel_id: Option<String>,
}

impl PageText {
    /// The page, with its times read by the backend.
    pub(crate) fn into_page(
        self,
        expires_at: DateTime<Utc>,
        created_at: DateTime<Utc>,
        completed_at: Option<DateTime<Utc>>,
        revoked_at: Option<DateTime<Utc>>,
    ) -> Result<HostedPage> {
        let json = |what: &'static str, t: &str| {
            serde_json::from_str::<serde_json::Value>(t).map_err(|e| StorageError::corrupt(what, e))
        };
        let names: Vec<String> = serde_json::from_str(&self.channels)
            .map_err(|e| StorageError::corrupt("hosted page channels", e))?;
        Ok(HostedPage {
            id: stored("hosted page id", HostedPageId::parse(&self.id))?,
            store_id: stored("store id", StoreId::parse(&self.store_id))?,
            channels: names
                .iter()
                .map(|n| stored("hosted page channel", ChannelKind::parse(n)))
                .collect::<Result<_>>()?,
            branding: serde_json::from_str(&self.branding)
                .map_err(|e| StorageError::corrupt("hosted page branding", e))?,
            presets: json("hosted page presets", &self.presets)?,
            redirect_url: self.redirect_url,
            metadata: json("hosted page metadata", &self.metadata)?,
            stored_state: match self.state.as_str() {
                "open" => PageState::Open,
                "completed" => PageState::Completed,
                _ => PageState::Revoked,
            },
            channel_id: self
                .channel_id
                .map(|c| stored("channel id", ChannelId::parse(&c)))
                .transpose()?,
            expires_at,
            created_at,
            completed_at,
            revoked_at,
        })
    }
}

/// A taken state read back.
pub(crate) fn state_from_row(
    account: String,
    page: String,
    kind: String,
    shop: Option<String>,
    verifier: Option<String>,
) -> Result<OAuthState> {
    Ok(OAuthState {
        account_id: stored("account id", AccountId::parse(&account))?,
        page_id: stored("hosted page id", HostedPageId::parse(&page))?,
        kind: stored("channel kind", ChannelKind::parse(&kind))?,
        shop,
        verifier,
    })
}
