//! Accounting connections: one per package and store, documents queued for
//! each connection as they are issued, credit notes after their invoice,
//! outcomes recorded, retries by hand, tenancy.

use std::sync::Arc;

use chrono::{Duration, Utc};
use switchyard_domain::accounting::{AccountingKind, AccountingSettings, SyncState};
use switchyard_domain::ids::{AccountingId, InvoiceId};
use switchyard_domain::invoice::{DocumentKind, plan_credit_note};
use switchyard_domain::order::ChannelFulfilment;
use switchyard_storage::{
    AccountingPatch, AccountingRef, DocumentSource, NewAccounting, NewDocument, PageRequest,
    Storage, StorageError, SyncOutcome,
};

use crate::account_and_store;
use crate::fulfilments::{import, order};
use crate::invoices::{invoice_of, shop};

fn settings() -> AccountingSettings {
    serde_json::from_value(serde_json::json!({ "sales_account": "200" })).unwrap()
}

fn new(kind: AccountingKind) -> NewAccounting {
    NewAccounting {
        id: AccountingId::generate(),
        kind,
        name: format!("{} books", kind.as_str()),
        base_url: Some("http://127.0.0.1:9".into()),
        credentials: vec![1, 2, 3],
        settings: settings(),
    }
}

pub async fn documents_are_queued_per_connection_and_credit_notes_wait_for_their_invoice(
    s: Arc<dyn Storage>,
) {
    let r = shop(&*s, "books").await;
    let a = r.account_id.clone();
    let xero = s
        .create_accounting(&a, &r.store_id, new(AccountingKind::Xero))
        .await
        .unwrap();
    assert!(matches!(
        s.create_accounting(&a, &r.store_id, new(AccountingKind::Xero))
            .await,
        Err(StorageError::Conflict {
            code: "accounting_exists",
            ..
        })
    ));
    let sage = s
        .create_accounting(&a, &r.store_id, new(AccountingKind::Sage))
        .await
        .unwrap();
    assert_eq!(s.list_accountings(&a, &r.store_id).await.unwrap().len(), 2);
    let xref = AccountingRef {
        account_id: a.clone(),
        store_id: r.store_id.clone(),
        id: xero.id.clone(),
        kind: AccountingKind::Xero,
        base_url: xero.base_url.clone(),
        settings: settings(),
    };
    assert_eq!(s.accounting_credentials(&xref).await.unwrap(), [1, 2, 3]);
    s.store_accounting_credentials(&xref, vec![4, 5], Some("tenant-1".into()))
        .await
        .unwrap();
    assert_eq!(s.accounting_credentials(&xref).await.unwrap(), [4, 5]);
    assert_eq!(
        s.get_accounting(&a, &xero.id)
            .await
            .unwrap()
            .tenant
            .as_deref(),
        Some("tenant-1")
    );

    // An invoice is queued for both connections.
    let id = import(
        &*s,
        &r,
        order("A1", &[("A", 2)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    let o = s.get_order(&a, &id).await.unwrap();
    let inv = s.issue_document(&a, invoice_of(&o, &id)).await.unwrap();
    let syncs = s.document_syncs(&a, &inv.id).await.unwrap();
    assert_eq!(syncs.len(), 2);
    assert!(syncs.iter().all(|x| x.state == SyncState::Pending));
    let now = Utc::now() + Duration::seconds(1);
    let due = s.accountings_due(now, 10).await.unwrap();
    assert!(due.iter().any(|d| d.id == xero.id) && due.iter().any(|d| d.id == sage.id));

    // Its credit note waits until the invoice is booked on that connection.
    let plan = plan_credit_note(&inv.document, &[], None, None).unwrap();
    let cn = s
        .issue_document(
            &a,
            NewDocument {
                id: InvoiceId::generate(),
                order_id: id.clone(),
                kind: DocumentKind::CreditNote,
                credits: Some((inv.id.clone(), 0)),
                completes: plan.completes,
                document: plan.document,
                source: DocumentSource::Api,
                issued_at: Utc::now(),
            },
        )
        .await
        .unwrap();
    let due = s.due_syncs(&xref, now, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| &d.invoice.id).collect::<Vec<_>>(),
        [&inv.id]
    );
    // A refusal waits for a person; the credit note still waits.
    let failed = s
        .record_sync(
            &xref,
            &inv.id,
            SyncOutcome::Failed {
                error: "Account code '999' is not a valid code for this document.".into(),
                retry_at: None,
                show_failed: true,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(failed.state, SyncState::Failed);
    assert_eq!(failed.attempts, 1);
    assert!(s.due_syncs(&xref, now, 10).await.unwrap().is_empty());
    let retried = s.retry_sync(&a, &inv.id, &xero.id, now).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (SyncState::Pending, 0));
    let synced = s
        .record_sync(
            &xref,
            &inv.id,
            SyncOutcome::Synced {
                remote_id: "X-1".into(),
                remote_number: Some("INV-00001".into()),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(synced.state, SyncState::Synced);
    assert!(matches!(
        s.retry_sync(&a, &inv.id, &xero.id, now).await,
        Err(StorageError::Conflict {
            code: "already_synced",
            ..
        })
    ));
    let due = s.due_syncs(&xref, now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].invoice.id, cn.id);
    assert_eq!(due[0].credits, Some(("X-1".to_owned(), inv.number.clone())));
    let failed = s
        .list_syncs(
            &a,
            &xero.id,
            Some(SyncState::Synced),
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);

    // New credentials clear the connection's error.
    s.set_accounting_error(&xref, Some("invalid_grant".into()))
        .await
        .unwrap();
    let c = s
        .update_accounting(
            &a,
            &xero.id,
            AccountingPatch {
                credentials: Some(vec![9]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((c.last_error, c.tenant), (None, None));

    // Another account reaches none of it.
    let (b, _) = account_and_store(&*s, "intruder").await;
    assert!(matches!(
        s.get_accounting(&b, &xero.id).await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(s.document_syncs(&b, &inv.id).await.unwrap().is_empty());
    assert!(matches!(
        s.retry_sync(&b, &inv.id, &xero.id, now).await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.delete_accounting(&b, &xero.id).await,
        Err(StorageError::NotFound { .. })
    ));
    // Deleting a connection drops its syncs.
    s.delete_accounting(&a, &sage.id).await.unwrap();
    assert_eq!(s.document_syncs(&a, &inv.id).await.unwrap().len(), 1);
    // The store goes with everything in it.
    s.delete_store(&a, &r.store_id, true).await.unwrap();
    assert!(matches!(
        s.get_accounting(&a, &xero.id).await,
        Err(StorageError::NotFound { .. })
    ));
}
