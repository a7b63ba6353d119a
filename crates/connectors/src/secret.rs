//! Secrets in memory are `secrecy::SecretString`: their `Debug` says
//! nothing, and the one place each is read (`expose_secret`) is where it is
//! sent or sealed. These write one out where a document must hold it (the
//! accounting credentials sealed again after a refresh).

use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;

/// Serialize a secret as its plain string.
pub fn serialize<S: Serializer>(secret: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(secret.expose_secret())
}

/// Serialize an optional secret as its plain string, or null.
pub fn serialize_opt<S: Serializer>(
    secret: &Option<SecretString>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(s) => ser.serialize_some(s.expose_secret()),
        None => ser.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::json;

    const SECRET: &str = "s3cr3t-value-never-shown";

    /// `T` read from `doc` (every secret field set to [`SECRET`]): its
    /// `Debug` shows none of them.
    fn debug_hides<T: DeserializeOwned + std::fmt::Debug>(doc: serde_json::Value) -> String {
        let value: T = match serde_json::from_value(doc) {
            Ok(v) => v,
            Err(e) => panic!("{}: {e}", std::any::type_name::<T>()),
        };
        let shown = format!("{value:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        shown
    }

    #[test]
    fn no_credentials_show_their_secrets_in_debug() {
        let s = SECRET;
        let shown = debug_hides::<crate::shopify::ShopifyCredentials>(
            json!({ "access_token": s, "api_secret_key": s }),
        );
        assert!(shown.contains("REDACTED"), "{shown}");
        debug_hides::<crate::woocommerce::WooCommerceCredentials>(
            json!({ "consumer_key": s, "consumer_secret": s, "webhook_secret": s }),
        );
        debug_hides::<crate::amazon::AmazonCredentials>(json!({ "client_id": "amzn1.app",
            "client_secret": s, "refresh_token": s, "seller_id": "A1", "marketplace_id": "A1F83G8C2ARO7P" }));
        debug_hides::<crate::bolcom::BolCredentials>(
            json!({ "client_id": "c", "client_secret": s }),
        );
        debug_hides::<crate::ebay::EbayCredentials>(
            json!({ "client_id": "c", "client_secret": s, "refresh_token": s }),
        );
        debug_hides::<crate::etsy::EtsyCredentials>(
            json!({ "keystring": s, "refresh_token": s, "shop_id": 1 }),
        );
        debug_hides::<crate::medusa::MedusaCredentials>(json!({ "api_key": s }));
        debug_hides::<crate::vendure::VendureCredentials>(json!({ "api_key": s }));
        let acc = debug_hides::<crate::accounting::Credentials>(json!({ "client_id": "c",
            "client_secret": s, "refresh_token": s, "access_token": s }));
        assert!(acc.contains("client_id"), "{acc}");
    }

    #[test]
    fn sealed_accounting_credentials_keep_their_secrets() {
        let c: crate::accounting::Credentials = match serde_json::from_value(
            json!({ "client_id": "c", "client_secret": SECRET, "refresh_token": "r", "access_token": null }),
        ) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let written = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(written["client_secret"], SECRET);
        assert_eq!(written["refresh_token"], "r");
        assert!(written["access_token"].is_null());
    }
}
