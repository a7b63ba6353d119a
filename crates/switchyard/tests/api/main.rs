//! API tests: each starts the real server on a random port with a fresh
//! data directory (`switchyard_testkit::spawn_app`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

mod bad_input;
mod catalogue;
mod concurrency;
mod console;
mod console_pages;
mod console_passwords;
mod hosted_flows;
mod hosted_pages;
mod idempotency;
mod operator;
mod security;
mod sim_cli;
mod startup;
mod stock;
mod tenancy;
