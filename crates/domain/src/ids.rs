//! Prefixed, time-sortable identifiers (`st_01J...`).
//!
//! Every entity id is a newtype over a ULID rendered in lower-case Crockford
//! base32 behind a short prefix, so ids are self-describing in logs, sort by
//! creation time (which cursor pagination relies on) and cannot be confused
//! with one another at compile time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id.
            #[must_use]
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, ulid::Ulid::new().to_string().to_ascii_lowercase()))
            }

            /// The smallest id made at or after `t` (ids sort by the time
            /// they were made): `id >= first_at(t)` selects what was made
            /// since `t` through an index on the id.
            #[must_use]
            pub fn first_at(t: chrono::DateTime<chrono::Utc>) -> Self {
                let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0);
                Self(format!("{}_{}", $prefix, ulid::Ulid::from_parts(ms, 0).to_string().to_ascii_lowercase()))
            }

            /// Parse an id received from outside.
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                parse_prefixed(s, $prefix).map(Self).ok_or_else(|| {
                    DomainError::rule(
                        "invalid_id",
                        format!("`{}` is not a valid {} id (expected `{}_` followed by 26 base32 characters)", truncate(s), stringify!($name), $prefix),
                    )
                })
            }

            /// The id as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::values::text_schema(
                    concat!("`", $prefix, "_` and a ULID (26 characters)"),
                    concat!("^", $prefix, "_[0-9A-Za-z]{26}$"),
                    None,
                    concat!($prefix, "_01hy5rbx8fq0w5d3nxkq7rzd9c"),
                )
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn parse_prefixed(s: &str, prefix: &str) -> Option<String> {
    let rest = s.strip_prefix(prefix)?.strip_prefix('_')?;
    if rest.len() != 26 {
        return None;
    }
    let ulid = ulid::Ulid::from_string(rest).ok()?;
    Some(format!(
        "{prefix}_{}",
        ulid.to_string().to_ascii_lowercase()
    ))
}

prefixed_id!(
    /// A tenant.
    AccountId, "acc"
);
prefixed_id!(
    /// An API token (its id, never the secret).
    TokenId, "tok"
);
prefixed_id!(
    /// A store: one brand or one client of a fulfilment provider.
    StoreId, "st"
);
prefixed_id!(
    /// A connection to one sales channel.
    ChannelId, "ch"
);
prefixed_id!(
    /// An order imported from a channel.
    OrderId, "ord"
);
prefixed_id!(
    /// A shipment of some or all lines of an order.
    FulfilmentId, "ful"
);
prefixed_id!(
    /// A webhook subscription (endpoint) of a store.
    WebhookId, "wh"
);
prefixed_id!(
    /// One webhook message: an event, sent to every endpoint that wants it
    /// under the same `webhook-id`.
    MessageId, "msg"
);
prefixed_id!(
    /// A plugin: a fulfilment centre (3PL) connected to a store.
    PluginId, "plg"
);
prefixed_id!(
    /// A hosted onboarding page: a single-use page on which a provider's
    /// client connects one channel to a store.
    HostedPageId, "hp"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_keep_their_prefix() {
        let id = StoreId::generate();
        assert!(id.as_str().starts_with("st_"));
        assert_eq!(StoreId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_of_another_kind_or_garbage_are_refused() {
        let ch = ChannelId::generate();
        assert!(StoreId::parse(ch.as_str()).is_err());
        assert!(StoreId::parse("st_").is_err());
        assert!(StoreId::parse("st_not-a-ulid-at-all-000000").is_err());
        assert!(StoreId::parse("").is_err());
    }

    #[test]
    fn first_at_bounds_the_ids_made_since() {
        let before = chrono::Utc::now() - chrono::Duration::milliseconds(5);
        let id = OrderId::generate();
        let bound = OrderId::first_at(before);
        assert!(OrderId::parse(bound.as_str()).is_ok());
        assert!(bound <= id, "{bound} <= {id}");
        let after = OrderId::first_at(chrono::Utc::now() + chrono::Duration::seconds(1));
        assert!(after > id, "{after} > {id}");
    }

    #[test]
    fn upper_case_ids_are_normalised() {
        let id = StoreId::generate();
        let upper = format!("st_{}", id.as_str()[3..].to_ascii_uppercase());
        assert_eq!(StoreId::parse(&upper).unwrap(), id);
    }
}
prefixed_id!(
    /// An invoice or a credit note.
    InvoiceId, "inv"
);
prefixed_id!(
    /// A store's connection to an accounting package (Xero, Sage).
    AccountingId, "acct"
);
prefixed_id!(
    /// A person who signs in to the console.
    UserId, "usr"
);
