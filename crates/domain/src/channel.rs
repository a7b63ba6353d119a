//! Channel connections: which kinds exist. Connectors come in a later crate.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The kind of sales channel a connection talks to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Shopify (GraphQL Admin API).
    Shopify,
    /// WooCommerce (REST API v3).
    Woocommerce,
    /// Amazon Selling Partner API.
    Amazon,
    /// eBay Sell APIs.
    Ebay,
    /// Etsy Open API v3.
    Etsy,
    /// bol.com Retailer API.
    Bolcom,
    /// Vendure Admin API.
    Vendure,
    /// Medusa admin API.
    Medusa,
}

impl ChannelKind {
    /// Every kind, in display order.
    pub const ALL: [ChannelKind; 8] = [
        Self::Shopify,
        Self::Woocommerce,
        Self::Amazon,
        Self::Ebay,
        Self::Etsy,
        Self::Bolcom,
        Self::Vendure,
        Self::Medusa,
    ];

    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shopify => "shopify",
            Self::Woocommerce => "woocommerce",
            Self::Amazon => "amazon",
            Self::Ebay => "ebay",
            Self::Etsy => "etsy",
            Self::Bolcom => "bolcom",
            Self::Vendure => "vendure",
            Self::Medusa => "medusa",
        }
    }

    /// Parse a stored or wire name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                DomainError::invalid(
                    "invalid_channel_kind",
                    "kind",
                    format!(
                        "`{s}` is not a channel kind; expected one of {}",
                        known.join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
