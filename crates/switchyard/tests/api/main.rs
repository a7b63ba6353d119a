//! API tests: each starts the real server on a random port with a fresh
//! data directory (`switchyard_testkit::spawn_app`).

mod bad_input;
mod catalogue;
mod concurrency;
mod idempotency;
mod security;
mod stock;
mod tenancy;
