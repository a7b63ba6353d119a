//! WooCommerce after the first shipment: tracking corrected, shipments and
//! orders cancelled, and the shop as a back office (orders created with our
//! reference, found again instead of created twice, read back, cancelled).

use chrono::Utc;
use serde_json::{Value, json};
use switchyard_connectors::back_office::{
    BackOffice, BackOfficeLine, NewBackOfficeOrder, RemoteProgress,
};
use switchyard_connectors::channel::{FulfilmentPush, SalesChannel, Tracking};

use crate::woocommerce::start;
use crate::{Control, drain, epoch, lines};

fn push(order_id: &str, numbers: &[&str]) -> FulfilmentPush {
    FulfilmentPush {
        channel_order_id: order_id.to_owned(),
        lines: vec![],
        tracking: numbers
            .iter()
            .map(|n| Tracking {
                number: (*n).to_owned(),
                url: None,
            })
            .collect(),
        carrier: Some("DHL".into()),
        service: None,
        shipped_at: Utc::now(),
        reference: "ful_w".into(),
    }
}

async fn shipment_state(ctl: &Control, order_id: &str) -> (String, Vec<String>) {
    let f = ctl.get("/_sim/fulfilments").await;
    let o = f["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["order_id"].as_u64().map(|n| n.to_string()).as_deref() == Some(order_id))
        .cloned()
        .unwrap_or(Value::Null);
    let numbers = o["trackings"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| t["tracking_number"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (o["status"].as_str().unwrap_or("").to_owned(), numbers)
}

#[tokio::test]
async fn a_corrected_number_replaces_its_entry_and_cancellations_reopen_or_cancel() {
    let (_sim, c, ctl) = start(10, 0).await;
    let order = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00001", 1)]), "paid": true }),
        )
        .await;
    let id = order["id"].to_string();
    let ack = c
        .push_fulfilment(&push(
            &id,
            &["JD014600006281230704", "JD014600006281230705"],
        ))
        .await
        .unwrap();
    assert_eq!(ack.channel_fulfilment_id.split(',').count(), 2);

    // One number kept, one corrected: the kept entry stays, the old goes.
    let new_id = c
        .update_fulfilment_tracking(
            &ack.channel_fulfilment_id,
            &push(&id, &["JD014600006281230704", "JD014600006281230799"]),
        )
        .await
        .unwrap()
        .unwrap();
    let (status, numbers) = shipment_state(&ctl, &id).await;
    assert_eq!(status, "completed");
    assert_eq!(numbers, ["JD014600006281230704", "JD014600006281230799"]);
    // A retry of the same correction changes nothing.
    let again = c
        .update_fulfilment_tracking(
            &new_id,
            &push(&id, &["JD014600006281230704", "JD014600006281230799"]),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, new_id);
    assert_eq!(shipment_state(&ctl, &id).await.1.len(), 2);

    c.cancel_fulfilment(&id, &new_id).await.unwrap();
    c.cancel_fulfilment(&id, &new_id).await.unwrap();
    let (status, numbers) = shipment_state(&ctl, &id).await;
    assert_eq!(status, "processing");
    assert!(numbers.is_empty());

    c.cancel_order(&id, "customer changed their mind")
        .await
        .unwrap();
    c.cancel_order(&id, "again").await.unwrap();
    assert_eq!(shipment_state(&ctl, &id).await.0, "cancelled");
}

#[tokio::test]
async fn back_office_orders_are_created_once_read_back_and_never_imported_as_sales() {
    let (_sim, c, ctl) = start(10, 0).await;
    // An order as a marketplace would have it (mapped by the same code).
    let placed = ctl
        .post(
            "/_sim/orders",
            json!({ "lines": lines(&[("SKU-00001", 2)]), "paid": true }),
        )
        .await;
    let template = c
        .fetch_order(&placed["id"].to_string())
        .await
        .unwrap()
        .orders
        .remove(0)
        .order;
    let listing = {
        let page = c.fetch_listings(None).await.unwrap();
        page.listings
            .into_iter()
            .find(|l| l.sku.as_deref() == Some("SKU-00001"))
            .unwrap()
            .channel_listing_id
    };
    let stock_before = ctl.get("/_sim/stock").await;
    let new = NewBackOfficeOrder {
        reference: "ord_test".into(),
        source: "Amazon".into(),
        order: template,
        lines: vec![
            BackOfficeLine {
                sku: "SKU-00001".into(),
                listing_id: Some(listing),
                quantity: 2,
                title: "Mug".into(),
                unit_price: 1250,
            },
            BackOfficeLine {
                sku: "ELSEWHERE-1".into(),
                listing_id: None,
                quantity: 1,
                title: "Not sold in this shop".into(),
                unit_price: 500,
            },
        ],
        maybe_created: false,
        first_attempt_at: Utc::now(),
    };
    let made = c.create_order(&new).await.unwrap();
    assert_eq!(made.status, "processing");
    // A retry that may follow a lost answer finds it instead of creating another.
    let again = c
        .create_order(&NewBackOfficeOrder {
            maybe_created: true,
            ..new.clone()
        })
        .await
        .unwrap();
    assert_eq!(again.id, made.id);
    let stock_after = ctl.get("/_sim/stock").await;
    assert_ne!(
        stock_before, stock_after,
        "the shop took its own stock down"
    );

    // Not a sale of this shop.
    let d = drain(&c, epoch()).await;
    assert!(!d.orders.contains_key(&made.id), "our copy was imported");
    assert!(d.orders.contains_key(&placed["id"].to_string()));
    let one = c.fetch_order(&made.id).await.unwrap();
    assert!(one.orders.is_empty());
    assert_eq!(one.ours, std::slice::from_ref(&made.id));

    let read = c.read_orders(std::slice::from_ref(&made.id)).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].progress, RemoteProgress::Open);
    // Staff ship it with a code (the same calls the shop's admin makes).
    c.push_fulfilment(&push(&made.id, &["JD014600006281230704"]))
        .await
        .unwrap();
    let read = c.read_orders(std::slice::from_ref(&made.id)).await.unwrap();
    assert_eq!(read[0].progress, RemoteProgress::Completed);
    assert_eq!(read[0].tracking[0].number, "JD014600006281230704");
    assert_eq!(read[0].carrier.as_deref(), Some("DHL"));
    assert!(read[0].shipped_at.is_some());

    c.cancel_remote_order(&made.id).await.unwrap();
    let read = c.read_orders(std::slice::from_ref(&made.id)).await.unwrap();
    assert_eq!(read[0].progress, RemoteProgress::Cancelled);
    assert!(c.read_orders(&["999999".into()]).await.unwrap().is_empty());
}
