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
        expected: String,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// One field of a kind's credentials, as the channel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    /// The JSON key (the channel's own name for it).
    pub name: &'static str,
    /// Whether the connector needs it.
    pub required: bool,
    /// Whether it is a secret (entered once, never shown again).
    pub secret: bool,
    /// Whether it is a number in the JSON (Etsy's `shop_id`).
    pub numeric: bool,
    /// Where to find it, in the channel's words.
    pub help: &'static str,
}

const fn field(name: &'static str, secret: bool, help: &'static str) -> CredentialField {
    CredentialField {
        name,
        required: true,
        secret,
        numeric: false,
        help,
    }
}

const fn optional(f: CredentialField) -> CredentialField {
    CredentialField {
        required: false,
        ..f
    }
}

const SHOPIFY: &[CredentialField] = &[
    field(
        "access_token",
        true,
        "Admin API access token of the shop's custom app (shpat_…), with the orders, products, inventory and fulfillments scopes",
    ),
    optional(field(
        "api_secret_key",
        true,
        "The app's API secret key: checks the signature of Shopify's order webhooks",
    )),
];

const WOOCOMMERCE: &[CredentialField] = &[
    field(
        "consumer_key",
        false,
        "WooCommerce › Settings › Advanced › REST API: the key's consumer key (ck_…), with Read/Write permission",
    ),
    field("consumer_secret", true, "The key's consumer secret (cs_…)"),
    optional(field(
        "webhook_secret",
        true,
        "The secret of the webhooks Switchyard registers; generated when left empty",
    )),
];

const ETSY: &[CredentialField] = &[
    field(
        "keystring",
        false,
        "Your Etsy app's keystring (sent as x-api-key)",
    ),
    field(
        "refresh_token",
        true,
        "The shop owner's OAuth refresh token (transactions_r, transactions_w, listings_r, listings_w)",
    ),
    CredentialField {
        numeric: true,
        ..field("shop_id", false, "The shop's numeric id")
    },
];

const EBAY: &[CredentialField] = &[
    field("client_id", false, "The app's App ID (client id)"),
    field("client_secret", true, "The app's Cert ID (client secret)"),
    field(
        "refresh_token",
        true,
        "The seller's user refresh token, consented to the sell.fulfillment and sell.inventory scopes",
    ),
];

const BOLCOM: &[CredentialField] = &[
    field(
        "client_id",
        false,
        "Seller Dashboard › Settings › API settings: the credentials' client id",
    ),
    field("client_secret", true, "The credentials' secret"),
];

const AMAZON: &[CredentialField] = &[
    field("client_id", false, "The SP-API application's LWA client id"),
    field("client_secret", true, "The LWA client secret"),
    field(
        "refresh_token",
        true,
        "The seller's refresh token, from authorising the application",
    ),
    field("seller_id", false, "The seller (merchant) id"),
    field(
        "marketplace_id",
        false,
        "The marketplace this channel sells on (A1PA6795UKMFR9 is amazon.de)",
    ),
];

const VENDURE: &[CredentialField] = &[
    field(
        "api_key",
        true,
        "An Admin API key (Settings › API keys) whose role holds the order, catalogue, customer and settings permissions",
    ),
    optional(field(
        "channel_token",
        false,
        "The Vendure channel's token, when the key is not for the default channel",
    )),
];

const MEDUSA: &[CredentialField] = &[
    field("api_key", true, "A secret API key (sk_…)"),
    optional(field(
        "location_id",
        false,
        "The stock location Switchyard keeps (sloc_…); the store's default location when empty",
    )),
];

/// The credentials each kind takes, in the order a form asks for them.
#[must_use]
pub fn credential_form(kind: ChannelKind) -> &'static [CredentialField] {
    match kind {
        ChannelKind::Shopify => SHOPIFY,
        ChannelKind::Woocommerce => WOOCOMMERCE,
        ChannelKind::Etsy => ETSY,
        ChannelKind::Ebay => EBAY,
        ChannelKind::Bolcom => BOLCOM,
        ChannelKind::Amazon => AMAZON,
        ChannelKind::Vendure => VENDURE,
        ChannelKind::Medusa => MEDUSA,
    }
}

/// The credentials fields each kind takes, for error messages and docs:
/// `{"access_token", "api_secret_key"?}`.
#[must_use]
pub fn credential_fields(kind: ChannelKind) -> String {
    let names: Vec<String> = credential_form(kind)
        .iter()
        .map(|f| format!("\"{}\"{}", f.name, if f.required { "" } else { "?" }))
        .collect();
    format!("{{{}}}", names.join(", "))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(kind: ChannelKind, skip: Option<&str>) -> Vec<u8> {
        let mut o = serde_json::Map::new();
        for f in credential_form(kind)
            .iter()
            .filter(|f| Some(f.name) != skip)
        {
            let v = if f.numeric {
                serde_json::json!(42)
            } else {
                serde_json::json!("x")
            };
            o.insert(f.name.to_owned(), v);
        }
        serde_json::to_vec(&o).unwrap_or_default()
    }

    /// The form names exactly the fields each connector takes: all of
    /// them filled are accepted (the credentials types refuse unknown
    /// fields), and leaving out a required one is refused.
    #[test]
    fn every_form_fits_its_connector() {
        for kind in ChannelKind::ALL {
            assert!(
                check_credentials(kind, &filled(kind, None)).is_ok(),
                "{kind}: {:?}",
                check_credentials(kind, &filled(kind, None)).err()
            );
            for f in credential_form(kind) {
                let without = check_credentials(kind, &filled(kind, Some(f.name)));
                assert_eq!(without.is_ok(), !f.required, "{kind} without {}", f.name);
            }
        }
        assert_eq!(
            credential_fields(ChannelKind::Shopify),
            r#"{"access_token", "api_secret_key"?}"#
        );
    }
}
