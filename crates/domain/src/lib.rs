//! Pure types and rules of Switchyard.
//!
//! This crate holds no I/O: no tokio, sqlx, axum or reqwest. Everything here is
//! a value type with a fallible constructor ("parse, don't validate") or a pure
//! function over such values, so that storage, connectors and the API share one
//! definition of what is valid and how stock is computed.

pub mod accounting;
pub mod arrival;
pub mod back_office;
pub mod carrier;
pub mod channel;
pub mod cursor;
pub mod error;
pub mod event;
pub mod explain;
pub mod filter;
pub mod fulfilment;
pub mod hosted_page;
pub mod ids;
pub mod invoice;
pub mod order;
pub mod plugin_rules;
pub mod product;
pub mod push;
pub mod retry;
pub mod shipment;
pub mod stock;
pub mod user;
pub mod values;
pub mod webhook;

pub use error::DomainError;
