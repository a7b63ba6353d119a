//! Building a connector from a channel's kind, base URL and decrypted
//! credentials: the one place that knows which kinds are implemented.

use std::sync::Arc;

use switchyard_domain::channel::ChannelKind;

use crate::amazon::{Amazon, AmazonCredentials};
use crate::bolcom::{BolCredentials, Bolcom};
use crate::channel::SalesChannel;
use crate::ebay::{Ebay, EbayCredentials};
use crate::error::ConnectorError;
use crate::etsy::{Etsy, EtsyCredentials};
use crate::http::HttpPolicy;
use crate::medusa::{Medusa, MedusaCredentials};
use crate::shopify::{Shopify, ShopifyCredentials};
use crate::vendure::{Vendure, VendureCredentials};
use crate::woocommerce::{WooCommerce, WooCommerceCredentials};

/// Why a connector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No connector exists for this kind yet.
    #[error("channels of kind `{0}` have no connector yet")]
    Unsupported(ChannelKind),
    /// The channel has no base URL.
    #[error("the channel has no base_url")]
    NoBaseUrl,
    /// The channel has no credentials.
    #[error("the channel has no credentials")]
    NoCredentials,
    /// The credentials do not have the shape this kind needs.
    #[error("credentials for {kind}: {reason} (expected {expected})")]
    BadCredentials {
        /// The kind.
        kind: ChannelKind,
        /// What is wrong.
        reason: String,
        /// The fields this kind takes.
        expected: &'static str,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// The credentials fields each kind takes, for error messages and docs.
#[must_use]
pub fn credential_fields(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Shopify => "{\"access_token\", \"api_secret_key\"?}",
        ChannelKind::Woocommerce => "{\"consumer_key\", \"consumer_secret\", \"webhook_secret\"?}",
        ChannelKind::Etsy => "{\"keystring\", \"refresh_token\", \"shop_id\"}",
        ChannelKind::Ebay => "{\"client_id\", \"client_secret\", \"refresh_token\"}",
        ChannelKind::Bolcom => "{\"client_id\", \"client_secret\"}",
        ChannelKind::Amazon => {
            "{\"client_id\", \"client_secret\", \"refresh_token\", \"seller_id\", \"marketplace_id\"}"
        }
        ChannelKind::Vendure => "{\"api_key\", \"channel_token\"?}",
        ChannelKind::Medusa => "{\"api_key\", \"location_id\"?}",
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    kind: ChannelKind,
    json: &[u8],
) -> Result<T, ConnectError> {
    serde_json::from_slice(json).map_err(|e| ConnectError::BadCredentials {
        kind,
        reason: e.to_string(),
        expected: credential_fields(kind),
    })
}

/// Check that `credentials` (JSON) fit `kind`, without connecting.
pub fn check_credentials(kind: ChannelKind, credentials: &[u8]) -> Result<(), ConnectError> {
    match kind {
        ChannelKind::Shopify => parse::<ShopifyCredentials>(kind, credentials).map(|_| ()),
        ChannelKind::Woocommerce => parse::<WooCommerceCredentials>(kind, credentials).map(|_| ()),
        ChannelKind::Etsy => parse::<EtsyCredentials>(kind, credentials).map(|_| ()),
        ChannelKind::Ebay => parse::<EbayCredentials>(kind, credentials).map(|_| ()),
        ChannelKind::Bolcom => parse::<BolCredentials>(kind, credentials).map(|_| ()),
        ChannelKind::Amazon => parse::<AmazonCredentials>(kind, credentials).map(|_| ()),
        ChannelKind::Vendure => parse::<VendureCredentials>(kind, credentials).map(|_| ()),
        ChannelKind::Medusa => parse::<MedusaCredentials>(kind, credentials).map(|_| ()),
    }
}

/// A connector for a channel.
pub fn connect(
    kind: ChannelKind,
    base_url: Option<&str>,
    credentials: Option<&[u8]>,
    policy: HttpPolicy,
) -> Result<Arc<dyn SalesChannel>, ConnectError> {
    let base = base_url.ok_or(ConnectError::NoBaseUrl)?;
    let creds = credentials.ok_or(ConnectError::NoCredentials)?;
    Ok(match kind {
        ChannelKind::Shopify => Arc::new(Shopify::new(base, &parse(kind, creds)?, None, policy)?),
        ChannelKind::Woocommerce => Arc::new(WooCommerce::new(base, &parse(kind, creds)?, policy)?),
        ChannelKind::Etsy => Arc::new(Etsy::new(base, &parse(kind, creds)?, policy)?),
        ChannelKind::Ebay => Arc::new(Ebay::new(base, &parse(kind, creds)?, policy)?),
        ChannelKind::Bolcom => Arc::new(Bolcom::new(base, &parse(kind, creds)?, policy)?),
        ChannelKind::Amazon => Arc::new(Amazon::new(base, &parse(kind, creds)?, policy)?),
        ChannelKind::Vendure => Arc::new(Vendure::new(base, &parse(kind, creds)?, policy)?),
        ChannelKind::Medusa => Arc::new(Medusa::new(base, &parse(kind, creds)?, policy)?),
    })
}

/// Add a webhook secret the connector generated to a channel's credentials
/// JSON. Only WooCommerce lets us choose the secret (Shopify signs with the
/// app's own key, which the merchant supplies).
pub fn with_webhook_secret(
    kind: ChannelKind,
    credentials: &[u8],
    secret: &str,
) -> Result<Vec<u8>, ConnectError> {
    if kind != ChannelKind::Woocommerce {
        return Err(ConnectError::Unsupported(kind));
    }
    let mut v: serde_json::Value = parse(kind, credentials)?;
    v["webhook_secret"] = serde_json::Value::String(secret.to_owned());
    serde_json::to_vec(&v).map_err(|e| ConnectError::BadCredentials {
        kind,
        reason: e.to_string(),
        expected: credential_fields(kind),
    })
}
