//! Accounting packages: issued invoices and credit notes booked into Xero
//! or Sage.
//!
//! A client holds a connection's credentials. [`AccountingClient::session`]
//! makes sure it has a live access token and knows its tenant (Xero's
//! organisation, Sage's business): refresh tokens rotate, so when it
//! refreshes it answers the new credentials, which the caller stores
//! before anything else uses them. [`AccountingClient::push`] books one
//! document, never twice: it first looks for the document's number in the
//! package (a lost answer may have booked it already), finds or creates
//! the buyer's contact, creates the document (Xero with an
//! `Idempotency-Key`), and allocates a credit note to its invoice.

mod sage;
mod xero;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_domain::accounting::{AccountingKind, AccountingSettings, ContactKey};
use switchyard_domain::invoice::{Document, DocumentKind, RateBp};
use switchyard_domain::values::Currency;
use tokio::sync::Mutex;

use crate::error::ConnectorError;
use crate::http::{ChannelHttp, HttpPolicy};

/// What a connection holds (sealed at rest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    #[serde(serialize_with = "crate::secret::serialize")]
    pub client_secret: SecretString,
    /// The current refresh token (single use: each refresh rotates it).
    #[serde(serialize_with = "crate::secret::serialize")]
    pub refresh_token: SecretString,
    /// The current access token.
    #[serde(default, serialize_with = "crate::secret::serialize_opt")]
    pub access_token: Option<SecretString>,
    /// When it stops working.
    #[serde(default)]
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Xero's tenant id or Sage's business id, once looked up (or given).
    #[serde(default)]
    pub tenant: Option<String>,
}

/// A document to book.
#[derive(Debug, Clone, Copy)]
pub struct SyncDocument<'a> {
    /// Our id of it (the idempotency key where the package has them).
    pub id: &'a str,
    /// Invoice or credit note.
    pub kind: DocumentKind,
    /// Its number.
    pub number: &'a str,
    /// Its content.
    pub document: &'a Document,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// For a credit note: the package's id of the invoice it credits and
    /// that invoice's number, when the invoice was booked there.
    pub credits: Option<(&'a str, &'a str)>,
}

/// A document as booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booked {
    /// The package's id.
    pub remote_id: String,
    /// The package's number (Sage numbers documents itself).
    pub remote_number: Option<String>,
}

/// Why a document was not booked.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The package refused the document; its own words. Retrying the same
    /// document will not help until something changes.
    #[error("{0}")]
    Refused(String),
    /// The call failed (auth, rate limits, the package away, ...).
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// Where a package is reached.
#[derive(Debug, Clone)]
struct Endpoints {
    token: String,
    tenants: String,
    api: String,
}

impl Endpoints {
    fn of(kind: AccountingKind, base: Option<&str>) -> Self {
        let base = base.map(|b| b.trim_end_matches('/').to_owned());
        match (kind, base) {
            (AccountingKind::Xero, None) => Self {
                token: "https://identity.xero.com/connect/token".into(),
                tenants: "https://api.xero.com/connections".into(),
                api: "https://api.xero.com/api.xro/2.0".into(),
            },
            (AccountingKind::Xero, Some(b)) => Self {
                token: format!("{b}/connect/token"),
                tenants: format!("{b}/connections"),
                api: format!("{b}/api.xro/2.0"),
            },
            (AccountingKind::Sage, None) => Self {
                token: "https://oauth.accounting.sage.com/token".into(),
                tenants: "https://api.accounting.sage.com/v3.1/businesses".into(),
                api: "https://api.accounting.sage.com/v3.1".into(),
            },
            (AccountingKind::Sage, Some(b)) => Self {
                token: format!("{b}/token"),
                tenants: format!("{b}/v3.1/businesses"),
                api: format!("{b}/v3.1"),
            },
        }
    }
}

/// A connection's client.
#[derive(Debug)]
pub struct AccountingClient {
    kind: AccountingKind,
    http: ChannelHttp,
    endpoints: Endpoints,
    creds: Credentials,
    settings: AccountingSettings,
    /// Looked-up codes (tax rates, ledger accounts) by key.
    cache: Mutex<BTreeMap<String, String>>,
}

/// Seconds before expiry at which an access token is refreshed anyway.
const REFRESH_MARGIN_SECS: i64 = 60;

impl AccountingClient {
    /// A client of the package `kind` (at `base_url`, for a simulator or a
    /// regional host) with the connection's credentials and settings.
    pub fn new(
        kind: AccountingKind,
        base_url: Option<&str>,
        creds: Credentials,
        settings: AccountingSettings,
        policy: HttpPolicy,
    ) -> Result<Self, ConnectorError> {
        let secrets = vec![
            creds.client_secret.expose_secret().to_owned(),
            creds.refresh_token.expose_secret().to_owned(),
            creds
                .access_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned())
                .unwrap_or_default(),
        ];
        let mut http = ChannelHttp::new(kind.as_str(), policy, secrets)?;
        if kind == AccountingKind::Xero {
            http = http.with_signals(xero::limit_signal);
        }
        Ok(Self {
            kind,
            http,
            endpoints: Endpoints::of(kind, base_url),
            creds,
            settings,
            cache: Mutex::new(BTreeMap::new()),
        })
    }

    /// The credentials as they stand.
    #[must_use]
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Make sure the client has an access token valid past `now` and knows
    /// its tenant. When it had to refresh (which rotates the refresh token)
    /// or look the tenant up, the new credentials are answered: store them
    /// before anything else, or the next refresh fails.
    pub async fn session(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Option<Credentials>, ConnectorError> {
        let mut changed = false;
        let live = self.creds.access_token.is_some()
            && self
                .creds
                .access_expires_at
                .is_some_and(|t| t > now + chrono::Duration::seconds(REFRESH_MARGIN_SECS));
        if !live {
            self.refresh(now).await?;
            changed = true;
        }
        if self.creds.tenant.is_none() {
            self.creds.tenant = Some(match self.kind {
                AccountingKind::Xero => xero::tenant(self).await?,
                AccountingKind::Sage => sage::business(self).await?,
            });
            changed = true;
        }
        Ok(changed.then(|| self.creds.clone()))
    }

    async fn refresh(&mut self, now: DateTime<Utc>) -> Result<(), ConnectorError> {
        let c = &self.creds;
        let req = match self.kind {
            AccountingKind::Xero => crate::http::HttpRequest::form(
                reqwest::Method::POST,
                &self.endpoints.token,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.refresh_token.expose_secret()),
                ],
            )
            .secret_header(
                "authorization",
                crate::support::basic_auth(&c.client_id, c.client_secret.expose_secret()),
            ),
            AccountingKind::Sage => crate::http::HttpRequest::form(
                reqwest::Method::POST,
                &self.endpoints.token,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.refresh_token.expose_secret()),
                    ("client_id", &c.client_id),
                    ("client_secret", c.client_secret.expose_secret()),
                ],
            ),
        }
        // A refresh token works once: a refresh sent twice loses the
        // connection, so a failed one is never resent blindly.
        .not_idempotent();
        let (_, v) = self.http.send_json(&req).await.map_err(|e| match e {
            // The package refuses a used, revoked or expired refresh token
            // with 400 `invalid_grant`: the connection must be made again.
            ConnectorError::Rejected { status, .. } if status == 400 || status == 401 => {
                ConnectorError::Auth {
                    channel: self.kind.as_str().to_owned(),
                    status,
                }
            }
            other => other,
        })?;
        let (token, ttl) = crate::support::token_from(self.kind.as_str(), &v, 300)?;
        let refresh = v["refresh_token"]
            .as_str()
            .ok_or_else(|| ConnectorError::Malformed {
                channel: self.kind.as_str().to_owned(),
                reason: "the token answer has no refresh_token".into(),
            })?;
        self.creds.refresh_token = SecretString::from(refresh.to_owned());
        self.creds.access_token = Some(SecretString::from(token));
        self.creds.access_expires_at =
            Some(now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(5)));
        Ok(())
    }

    /// Book one document (see the module's docs).
    pub async fn push(&self, doc: &SyncDocument<'_>) -> Result<Booked, PushError> {
        match self.kind {
            AccountingKind::Xero => xero::push(self, doc).await,
            AccountingKind::Sage => sage::push(self, doc).await,
        }
    }

    fn bearer(&self) -> String {
        format!(
            "Bearer {}",
            self.creds
                .access_token
                .as_ref()
                .map_or("", |t| t.expose_secret())
        )
    }

    fn tenant(&self) -> &str {
        self.creds.tenant.as_deref().unwrap_or("")
    }

    fn label(&self) -> String {
        self.kind.as_str().to_owned()
    }

    fn malformed(&self, reason: impl Into<String>) -> ConnectorError {
        ConnectorError::Malformed {
            channel: self.label(),
            reason: reason.into(),
        }
    }

    /// The account a line is booked to.
    fn account_for(&self, line: &switchyard_domain::invoice::DocumentLine) -> &str {
        match line.kind {
            switchyard_domain::invoice::LineKind::Shipping => self
                .settings
                .shipping_account
                .as_deref()
                .unwrap_or(&self.settings.sales_account),
            switchyard_domain::invoice::LineKind::Product => &self.settings.sales_account,
        }
    }
}

/// An amount as the packages write it: a decimal number in major units.
fn decimal(doc: &Document, minor: i64) -> Value {
    let text = Currency::parse(&doc.currency)
        .map(|c| c.format_amount(minor))
        .unwrap_or_else(|_| minor.to_string());
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The name a buyer is booked under.
fn contact_name(doc: &Document) -> String {
    doc.buyer
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| doc.buyer.billing_address.company.clone())
        .or_else(|| doc.buyer.email.clone())
        .unwrap_or_else(|| format!("Customer of order {}", doc.order_number))
        .trim()
        .to_owned()
}

/// The ways to find the buyer, in the connection's order, with the value
/// to look for.
fn contact_lookups(settings: &AccountingSettings, doc: &Document) -> Vec<(ContactKey, String)> {
    settings
        .contact_match
        .iter()
        .filter_map(|k| match k {
            ContactKey::Email => doc
                .buyer
                .email
                .clone()
                .filter(|e| !e.trim().is_empty())
                .map(|e| (*k, e)),
            ContactKey::Name => Some((*k, contact_name(doc))),
        })
        .collect()
}

/// A line's description: SKU and title.
fn describe(l: &switchyard_domain::invoice::DocumentLine) -> String {
    match &l.sku {
        Some(s) if !s.is_empty() => format!("{s} {}", l.description),
        _ => l.description.clone(),
    }
}

/// Percent of a rate, for matching the package's rates.
fn percent(rate: RateBp) -> f64 {
    f64::from(rate) / 100.0
}
