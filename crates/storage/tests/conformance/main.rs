//! Storage conformance suite: every test takes `&dyn Storage` and knows
//! nothing of the backend. `backends!` instantiates each one per backend;
//! a PostgreSQL backend adds one line there.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

mod accounting;
mod fulfilments;
mod hosted_pages;
mod imports;
mod invoices;
mod leases;
mod overview;
mod plugins;
mod products;
mod pushes;
mod retention;
mod stock;
mod tenancy;
mod users;
mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use switchyard_domain::channel::ChannelKind;
use switchyard_domain::filter::ChannelSettings;
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::product::{Customs, KitComponent, ProductAttributes};
use switchyard_domain::stock::StockRules;
use switchyard_domain::values::Sku;
use switchyard_storage::postgres::PgStorage;
use switchyard_storage::sqlite::SqliteStorage;
use switchyard_storage::{
    ChannelPatch, ChannelRef, Claim, NewChannel, NewListing, NewProduct, NewStore, Storage,
    WORKER_STALE_AFTER_SECS,
};

/// A fresh database (for SQLite in its own temp dir, kept alive with the
/// storage).
#[derive(Debug)]
pub struct Fixture {
    pub storage: Arc<dyn Storage>,
    _dir: tempfile::TempDir,
}

pub async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let storage = SqliteStorage::connect_and_migrate(&url).await.unwrap();
    Fixture {
        storage: Arc::new(storage),
        _dir: dir,
    }
}

/// A fresh database of its own on the test process's throwaway
/// PostgreSQL cluster.
pub async fn postgres() -> Fixture {
    let cluster = switchyard_pgtest::cluster().unwrap();
    let url = cluster.database().await.unwrap();
    let storage = PgStorage::connect_and_migrate(&url).await.unwrap();
    Fixture {
        storage: Arc::new(storage),
        _dir: tempfile::tempdir().unwrap(),
    }
}

macro_rules! backends {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let f = crate::sqlite().await;
                    crate::$module::$test(f.storage.clone()).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let f = crate::postgres().await;
                    crate::$module::$test(f.storage.clone()).await;
                }
            )*
        }
    };
}

backends!(
    accounting::documents_are_queued_per_connection_and_credit_notes_wait_for_their_invoice,
    invoices::numbers_have_no_gaps_or_repeats_and_one_invoice_is_in_force_per_order,
    invoices::settings_refuse_used_numbers_and_automatic_invoicing_finds_its_work,
    hosted_pages::a_page_connects_one_channel_once_and_never_after_it_expires_or_is_revoked,
    hosted_pages::an_authorization_state_works_once_and_not_after_it_expires,
    users::an_email_is_one_user_in_every_account_and_stores_are_the_accounts,
    users::a_link_sets_the_password_once_and_ends_the_sessions,
    users::a_session_lives_until_it_expires_or_ends,
    users::a_new_password_of_ones_own_ends_every_other_session,
    tenancy::another_accounts_store_is_not_found,
    tenancy::store_scoped_listing_returns_only_that_store,
    tenancy::tokens_are_found_by_hash_until_revoked,
    tenancy::store_with_orders_is_only_deleted_when_forced,
    products::duplicate_skus_conflict,
    products::kits_need_existing_plain_components,
    products::kit_components_cannot_become_kits_or_be_deleted,
    products::products_page_in_sku_order,
    products::channel_credentials_are_kept_and_stock_rules_round_trip,
    stock::set_and_adjust_move_quantities_and_journal,
    stock::compare_and_set_refuses_a_stale_expectation,
    stock::a_failing_batch_writes_nothing,
    stock::kits_and_unknown_skus_cannot_hold_stock,
    stock::orders_commit_stock_and_kits_expand_into_components,
    stock::reupserting_an_order_never_duplicates_commitments,
    stock::concurrent_compare_and_set_has_one_winner_per_value,
    stock::idempotency_keys_replay_and_detect_mismatches,
    stock::concurrent_imports_sharing_skus_all_land,
    stock::one_new_order_imported_twice_at_once_is_stored_once,
    fulfilments::shipping_releases_commitments_lowers_the_api_source_and_refuses_over_fulfilment,
    fulfilments::orders_list_newest_first_page_by_page,
    fulfilments::a_sync_claim_is_exclusive_and_a_newer_change_waits_its_turn,
    fulfilments::a_sync_held_by_a_dead_worker_is_free_before_its_lease_ends,
    webhooks::dispatch_is_exactly_once_and_claims_respect_the_cap_and_the_lease,
    plugins::routing_queues_one_message_that_claims_lease_hold_and_cancel_respect,
    leases::a_job_whose_holder_stopped_beating_is_free_before_its_lease_ends,
    leases::a_round_lease_has_one_holder_at_a_time,
    retention::a_steady_run_stops_growing_and_nothing_still_needed_is_pruned,
    pushes::an_untried_push_takes_newer_targets_in_place_and_results_apply_to_what_was_sent,
    pushes::import_pages_mark_stock_and_one_settle_sets_each_target_once,
    pushes::settles_racing_import_pages_leave_every_target_exact,
    imports::the_resume_point_commits_with_its_page_and_the_last_page_moves_the_cursor,
    imports::an_import_error_handled_manually_is_resolved_until_it_fails_again,
    overview::the_overview_counts_todays_orders_what_waits_and_the_pushes_sales_caused,
);

/// A claim by worker instance `holder` at `now`, with the engine's
/// default staleness bound.
pub fn claim(holder: &str, now: DateTime<Utc>, lease: Duration) -> Claim {
    Claim {
        holder: holder.into(),
        now,
        lease,
        stale_before: now - Duration::seconds(WORKER_STALE_AFTER_SECS),
    }
}

/// The undispatched events once `ready` holds for them. Events show only
/// when no transaction older than theirs is in flight, and on PostgreSQL a
/// transaction of another database that was in flight at the read's
/// snapshot (another test's, on the shared test cluster) can hold them
/// back for a moment; the dispatch then takes them on its next round, and a
/// test asks again.
pub async fn events_when(
    s: &dyn Storage,
    ready: impl Fn(&[switchyard_storage::OwnedEvent]) -> bool,
) -> (i64, Vec<switchyard_storage::OwnedEvent>) {
    for _ in 0..100 {
        let (cursor, events) = s.undispatched_events(100).await.unwrap();
        if ready(&events) {
            return (cursor, events);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the events never became dispatchable");
}

pub fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}

pub fn attrs(title: &str) -> ProductAttributes {
    ProductAttributes {
        title: title.into(),
        gtin: None,
        weight_g: None,
        dimensions: None,
        image_url: None,
        price: None,
        customs: Customs::default(),
    }
}

pub async fn account_and_store(s: &dyn Storage, name: &str) -> (AccountId, StoreId) {
    let a = s.ensure_account(name).await.unwrap();
    let st = s
        .create_store(
            &a.id,
            NewStore {
                name: format!("{name} store"),
            },
        )
        .await
        .unwrap();
    (a.id, st.id)
}

pub async fn product(s: &dyn Storage, a: &AccountId, st: &StoreId, code: &str) {
    s.create_product(
        a,
        st,
        NewProduct {
            sku: sku(code),
            attributes: attrs(code),
            components: vec![],
        },
    )
    .await
    .unwrap();
}

pub async fn kit(s: &dyn Storage, a: &AccountId, st: &StoreId, code: &str, parts: &[(&str, i64)]) {
    let components = parts
        .iter()
        .map(|(c, q)| KitComponent {
            sku: sku(c),
            quantity: *q,
        })
        .collect();
    s.create_product(
        a,
        st,
        NewProduct {
            sku: sku(code),
            attributes: attrs(code),
            components,
        },
    )
    .await
    .unwrap();
}

pub async fn channel(s: &dyn Storage, a: &AccountId, st: &StoreId, rules: StockRules) -> ChannelId {
    s.create_channel(
        a,
        st,
        NewChannel {
            id: ChannelId::generate(),
            name: "Shop".into(),
            kind: ChannelKind::Shopify,
            base_url: None,
            credentials: None,
            stock_rules: rules,
            settings: Default::default(),
            hosted_page: None,
        },
    )
    .await
    .unwrap()
    .id
}

/// A channel that syncs stock, with one listing `L1` showing `code`
/// (the channel holds 0).
pub async fn syncing_listing(
    s: &dyn Storage,
    a: &AccountId,
    st: &StoreId,
    code: &str,
) -> ChannelRef {
    let ch = channel(s, a, st, StockRules::default()).await;
    let settings = ChannelSettings {
        auto_sync_stock: true,
        ..ChannelSettings::default()
    };
    s.update_channel(
        a,
        st,
        &ch,
        ChannelPatch {
            settings: Some(settings),
            ..ChannelPatch::default()
        },
    )
    .await
    .unwrap();
    let r = ChannelRef {
        account_id: a.clone(),
        store_id: st.clone(),
        channel_id: ch,
    };
    s.upsert_listings(
        &r,
        vec![NewListing {
            listing_id: "L1".into(),
            channel_sku: Some(code.into()),
            title: code.into(),
            price: None,
            quantity: Some(0),
            raw: serde_json::json!({}),
        }],
        false,
    )
    .await
    .unwrap();
    r
}

pub async fn journal_len(s: &dyn Storage, a: &AccountId, st: &StoreId) -> usize {
    s.journal(a, st, 0, 100_000).await.unwrap().len()
}
