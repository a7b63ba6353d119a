//! Invoices: numbers without gaps or repeats under concurrency, one
//! invoice in force per order, credit notes planned against what they saw,
//! settings, tenancy, and the work of automatic invoicing.

use std::sync::Arc;

use chrono::Utc;
use switchyard_domain::ids::{InvoiceId, OrderId};
use switchyard_domain::invoice::{
    AutoInvoice, DocumentKind, InvoiceSettings, build_invoice, plan_credit_note,
};
use switchyard_domain::order::{ChannelFulfilment, OrderAction, OrderState};
use switchyard_domain::stock::StockRules;
use switchyard_storage::{
    ChannelRef, DocumentSource, InvoiceConfigChange, InvoiceFilter, NewDocument, PageRequest,
    Storage, StorageError,
};

use crate::fulfilments::{import, order};
use crate::{account_and_store, channel, events_when, product};

pub fn invoice_of(o: &switchyard_storage::OrderRecord, id: &OrderId) -> NewDocument {
    let unified = o
        .unified
        .clone()
        .expect("imported orders keep their unified form");
    NewDocument {
        id: InvoiceId::generate(),
        order_id: id.clone(),
        kind: DocumentKind::Invoice,
        credits: None,
        completes: false,
        document: build_invoice(
            &unified,
            o.state,
            o.channel_id.as_str(),
            &InvoiceSettings::defaults(),
        )
        .unwrap(),
        source: DocumentSource::Api,
        issued_at: Utc::now(),
    }
}

pub async fn shop(s: &dyn Storage, name: &str) -> ChannelRef {
    let (a, st) = account_and_store(s, name).await;
    product(s, &a, &st, "A").await;
    ChannelRef {
        account_id: a.clone(),
        store_id: st.clone(),
        channel_id: channel(s, &a, &st, StockRules::default()).await,
    }
}

pub async fn numbers_have_no_gaps_or_repeats_and_one_invoice_is_in_force_per_order(
    s: Arc<dyn Storage>,
) {
    let r = shop(&*s, "numbers").await;
    let a = r.account_id.clone();
    let mut orders = Vec::new();
    for i in 0..12 {
        let id = import(
            &*s,
            &r,
            order(
                &format!("N{i}"),
                &[("A", 3)],
                ChannelFulfilment::Unfulfilled,
            ),
        )
        .await;
        let o = s.get_order(&a, &id).await.unwrap();
        orders.push((id, o));
    }
    // Twelve orders invoiced at once, each twice: twelve invoices, numbered
    // 1 to 12, and twelve refusals that burn no number.
    let mut tasks = Vec::new();
    for (id, o) in &orders {
        for _ in 0..2 {
            let (s, a, new) = (s.clone(), a.clone(), invoice_of(o, id));
            tasks.push(tokio::spawn(async move { s.issue_document(&a, new).await }));
        }
    }
    let mut numbers = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(inv) => numbers.push(inv.number),
            Err(StorageError::Conflict {
                code: "invoice_exists",
                ..
            }) => refused += 1,
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    numbers.sort();
    let want: Vec<String> = (1..=12).map(|n| format!("INV-{n:05}")).collect();
    assert_eq!(numbers, want);
    assert_eq!(refused, 12);
    let cfg = s.invoice_config(&a, &r.store_id).await.unwrap();
    assert_eq!(cfg.next_invoice_number, 13);

    // Credit one unit of the first order's invoice, then the rest.
    let (id, o) = &orders[0];
    let inv = s
        .list_invoices(
            &a,
            &r.store_id,
            &InvoiceFilter {
                order_id: Some(id.clone()),
                ..Default::default()
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap()
        .items
        .remove(0);
    let one = [switchyard_domain::invoice::CreditLine {
        line_no: 1,
        quantity: 1,
    }];
    let plan = plan_credit_note(&inv.document, &[], Some(&one), Some("broken".into())).unwrap();
    let credit = |plan: switchyard_domain::invoice::CreditPlan, seen: usize| NewDocument {
        id: InvoiceId::generate(),
        order_id: id.clone(),
        kind: DocumentKind::CreditNote,
        credits: Some((inv.id.clone(), seen)),
        completes: plan.completes,
        document: plan.document,
        source: DocumentSource::Api,
        issued_at: Utc::now(),
    };
    let cn1 = s.issue_document(&a, credit(plan.clone(), 0)).await.unwrap();
    assert_eq!(cn1.number, "CN-00001");
    assert_eq!(cn1.credits_id.as_ref(), Some(&inv.id));
    // Planned against no credit notes, but there is one now.
    assert!(matches!(
        s.issue_document(&a, credit(plan, 0)).await,
        Err(StorageError::Conflict {
            code: "credit_changed",
            ..
        })
    ));
    // A second invoice is refused while the first is in force ...
    assert!(matches!(
        s.issue_document(&a, invoice_of(o, id)).await,
        Err(StorageError::Conflict {
            code: "invoice_exists",
            ..
        })
    ));
    let notes = s.credit_notes_of(&a, &inv.id).await.unwrap();
    let docs: Vec<_> = notes.iter().map(|n| n.document.clone()).collect();
    let rest = plan_credit_note(&inv.document, &docs, None, None).unwrap();
    assert!(rest.completes);
    let cn2 = s.issue_document(&a, credit(rest, 1)).await.unwrap();
    assert_eq!(cn2.number, "CN-00002");
    assert!(s.get_invoice(&a, &inv.id).await.unwrap().credited_in_full);
    // ... and issued once it is credited in full, with the next number.
    let again = s.issue_document(&a, invoice_of(o, id)).await.unwrap();
    assert_eq!(again.number, "INV-00013");

    // Listing: newest first, filtered by kind, paged.
    let credits = s
        .list_invoices(
            &a,
            &r.store_id,
            &InvoiceFilter {
                kind: Some(DocumentKind::CreditNote),
                ..Default::default()
            },
            &PageRequest::first(1),
        )
        .await
        .unwrap();
    assert_eq!(credits.items[0].number, "CN-00002");
    assert!(credits.next.is_some());

    // Another account sees none of it.
    let (b, b_store) = account_and_store(&*s, "other").await;
    assert!(matches!(
        s.get_invoice(&b, &inv.id).await,
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.list_invoices(
            &b,
            &r.store_id,
            &InvoiceFilter::default(),
            &PageRequest::first(5)
        )
        .await,
        Err(StorageError::NotFound { entity: "store" })
    ));
    assert!(matches!(
        s.issue_document(&b, invoice_of(o, id)).await,
        Err(StorageError::NotFound { entity: "order" })
    ));
    assert!(
        s.list_invoices(
            &b,
            &b_store,
            &InvoiceFilter::default(),
            &PageRequest::first(5)
        )
        .await
        .unwrap()
        .items
        .is_empty()
    );

    // Each issue is journalled for webhooks.
    let (_, events) = events_when(&*s, |evs| {
        evs.iter()
            .filter(|e| e.event_type == "credit_note.created")
            .count()
            == 2
    })
    .await;
    let created = events
        .iter()
        .filter(|e| e.event_type == "invoice.created" && e.account_id == a)
        .count();
    assert_eq!(created, 13);
}

pub async fn settings_refuse_used_numbers_and_automatic_invoicing_finds_its_work(
    s: Arc<dyn Storage>,
) {
    let r = shop(&*s, "auto").await;
    let a = r.account_id.clone();
    let before = import(
        &*s,
        &r,
        order("B0", &[("A", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    let o = s.get_order(&a, &before).await.unwrap();
    s.issue_document(&a, invoice_of(&o, &before)).await.unwrap();

    let mut settings = InvoiceSettings::defaults();
    settings.auto = AutoInvoice::Imported;
    let used = s
        .set_invoice_config(
            &a,
            &r.store_id,
            InvoiceConfigChange {
                settings: settings.clone(),
                next_invoice_number: Some(1),
                next_credit_note_number: None,
            },
            Utc::now(),
        )
        .await;
    assert!(matches!(
        used,
        Err(StorageError::Conflict { code: "number_used", field: Some(ref f), .. }) if f == "next_invoice_number"
    ));
    // A new prefix starts its own sequence.
    settings.prefix = "2026-".into();
    let cfg = s
        .set_invoice_config(
            &a,
            &r.store_id,
            InvoiceConfigChange {
                settings: settings.clone(),
                next_invoice_number: Some(1),
                next_credit_note_number: Some(40),
            },
            Utc::now() - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(cfg.next_credit_note_number, 40);
    assert!(cfg.auto_since.is_some());

    let due = |s: Arc<dyn Storage>| async move {
        let modes = [
            (AutoInvoice::Imported, AutoInvoice::Imported.due_states()),
            (AutoInvoice::Shipped, AutoInvoice::Shipped.due_states()),
        ];
        s.invoicing_work(&modes, 50).await.unwrap()
    };
    let open = import(
        &*s,
        &r,
        order("O1", &[("A", 1)], ChannelFulfilment::Unfulfilled),
    )
    .await;
    let ids = |w: &switchyard_storage::InvoicingWork| -> Vec<OrderId> {
        w.invoice
            .iter()
            .filter(|(acc, _, _)| *acc == a)
            .map(|(_, o, _)| o.id.clone())
            .collect()
    };
    // The open order is due; the one imported before automatic invoicing
    // started is not.
    let work = due(s.clone()).await;
    assert_eq!(ids(&work), std::slice::from_ref(&open));
    assert_eq!(work.invoice[0].2.prefix, "2026-");
    // Invoicing on shipment instead: the open order waits.
    settings.auto = AutoInvoice::Shipped;
    let cfg2 = s
        .set_invoice_config(
            &a,
            &r.store_id,
            InvoiceConfigChange {
                settings: settings.clone(),
                next_invoice_number: None,
                next_credit_note_number: None,
            },
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(cfg2.auto_since, cfg.auto_since, "still on since it started");
    assert!(ids(&due(s.clone()).await).is_empty());
    settings.auto = AutoInvoice::Imported;
    s.set_invoice_config(
        &a,
        &r.store_id,
        InvoiceConfigChange {
            settings,
            next_invoice_number: None,
            next_credit_note_number: None,
        },
        Utc::now(),
    )
    .await
    .unwrap();
    let o = s.get_order(&a, &open).await.unwrap();
    assert_eq!(o.state, OrderState::Open);
    let inv = s.issue_document(&a, invoice_of(&o, &open)).await.unwrap();
    assert_eq!(inv.number, "2026-00001");
    assert!(ids(&due(s.clone()).await).is_empty());

    // A cancelled order's invoice in force is work for a credit note.
    s.act_on_order(&a, &before, OrderAction::Cancel(Some("buyer".into())))
        .await
        .unwrap();
    let work = due(s.clone()).await;
    let credit: Vec<_> = work.credit.iter().filter(|(acc, ..)| *acc == a).collect();
    assert_eq!(credit.len(), 1);
    assert_eq!(credit[0].1.order_id, before);
    assert!(credit[0].2.is_empty());
    assert_eq!(credit[0].3, "cancelled");
}
