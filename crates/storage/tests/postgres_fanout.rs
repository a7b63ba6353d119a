//! Webhook fan-out on PostgreSQL reads the journal in commit-safe order:
//! an event whose transaction is still running holds back the events
//! sorted after it (none is skipped when it commits late), while a
//! transaction running in another database of the cluster holds back
//! nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test loudly"
)]

use sqlx::{Connection, PgConnection};
use switchyard_domain::ids::{AccountId, StoreId};
use switchyard_storage::Webhooks;
use switchyard_storage::postgres::PgStorage;

async fn append(conn: &mut PgConnection, entity: &str) {
    sqlx::query(
        "INSERT INTO journal (account_id, store_id, entity_type, entity_id, event_type, payload, created_at)
         VALUES ($2, $3, 'product', $1, 'product.created', '{}', now())",
    )
    .bind(entity)
    .bind(AccountId::generate().as_str())
    .bind(StoreId::generate().as_str())
    .execute(conn)
    .await
    .unwrap();
}

async fn seen(s: &PgStorage) -> Vec<String> {
    let (_, events) = s.undispatched_events(100).await.unwrap();
    events.into_iter().map(|e| e.entity_id).collect()
}

#[tokio::test]
async fn a_late_commit_holds_back_what_follows_it_and_other_databases_hold_back_nothing() {
    let cluster = switchyard_pgtest::cluster().unwrap();
    let url = cluster.database().await.unwrap();
    let other = cluster.database().await.unwrap();
    let s = PgStorage::connect_and_migrate(&url).await.unwrap();

    // A long transaction in another database of the cluster, with an xid
    // older than everything below.
    let mut elsewhere = PgConnection::connect(&other).await.unwrap();
    sqlx::query("BEGIN").execute(&mut elsewhere).await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut elsewhere)
        .await
        .unwrap();

    let mut a = PgConnection::connect(&url).await.unwrap();
    let mut b = PgConnection::connect(&url).await.unwrap();
    append(&mut b, "first").await;
    assert_eq!(
        seen(&s).await,
        ["first"],
        "a committed event is seen at once"
    );

    // A transaction that appends and commits late…
    sqlx::query("BEGIN").execute(&mut a).await.unwrap();
    append(&mut a, "late").await;
    // …while a later one commits first.
    append(&mut b, "after").await;
    assert_eq!(
        seen(&s).await,
        ["first"],
        "an event after a running transaction's waits for it"
    );
    sqlx::query("COMMIT").execute(&mut a).await.unwrap();
    assert_eq!(
        seen(&s).await,
        ["first", "late", "after"],
        "in transaction order once it committed, while the other database's transaction still runs"
    );
    sqlx::query("ROLLBACK")
        .execute(&mut elsewhere)
        .await
        .unwrap();
}
