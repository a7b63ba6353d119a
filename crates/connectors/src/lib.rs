//! Connectors: how Switchyard talks to sales channels (and later to 3PL
//! plugins, webshop back offices and accounting packages).
//!
//! Every connector goes through [`http::ChannelHttp`], the one HTTP layer that
//! owns timeouts, retries with jittered backoff, `Retry-After`, the channels'
//! own rate-limit signals, a per-channel concurrency cap, and logging with
//! secrets redacted. Its errors ([`ConnectorError`]) say whether a retry
//! later can help, so the engine can decide without knowing the channel.
//! Every address it connects to passes the operator's outbound policy
//! ([`outbound`]), as do the plugin and webhook deliveries.

pub mod accounting;
pub mod amazon;
pub mod back_office;
pub mod bolcom;
pub mod channel;
pub mod ebay;
pub mod error;
pub mod etsy;
pub mod http;
pub mod medusa;
pub mod outbound;
pub mod ratelimit;
pub mod registry;
pub mod secret;
pub mod shopify;
pub mod support;
pub mod vendure;
pub mod woocommerce;

pub use error::ConnectorError;
