//! The marketplaces (Etsy, eBay, bol.com, Amazon) join the core loop:
//! all six channels in one store: each is a further channel of the
//! same store, polled (none of them sends order notifications to us). A
//! sale on any of them lowers stock on every other channel, a sale on
//! Shopify lowers theirs, and a shipment recorded through the API reaches
//! the order on its own marketplace with the carrier in its vocabulary.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchyard_sim::Channel;

use crate::{KIT, Sim, World, channel, eventually};

/// The channels beyond Shopify and WooCommerce, with the carrier code each
/// should receive for a UPS number.
const MORE: [(Channel, &str, &str); 4] = [
    (Channel::Etsy, "etsy", "ups"),
    (Channel::Ebay, "ebay", "UPS"),
    (Channel::Bolcom, "bolcom", "UPS"),
    (Channel::Amazon, "amazon", "UPS"),
];

/// `(tracking number, carrier)` of every shipment the simulator holds for
/// `order`: Etsy names them `tracking_code` / `carrier_name`, the others
/// `tracking_number` / `carrier`.
async fn shipments(sim: &Sim, order: &str) -> Vec<(String, String)> {
    let all: Value = reqwest::get(format!("{}/_sim/fulfilments", sim.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_of = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    all["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| id_of(&o["order_id"]) == order)
        .flat_map(|o| o["shipments"].as_array().cloned().unwrap_or_default())
        .map(|s| {
            let text = |a: &str, b: &str| {
                s[a].as_str()
                    .or(s[b].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                text("tracking_number", "tracking_code"),
                text("carrier", "carrier_name"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_sale_on_any_marketplace_reaches_every_channel_and_its_shipment_reaches_the_marketplace()
{
    let w = World::new(json!({})).await;
    let mut more = Vec::new();
    for (kind, name, carrier) in MORE {
        let sim = Sim::start(kind).await;
        if kind == Channel::Amazon {
            // Amazon lists a change two minutes after it happens; the
            // simulator is told to list at once.
            sim.put("/_sim/lag", json!({ "seconds": 0 })).await;
        }
        let id = channel(
            &w.app,
            &w.t,
            &w.store,
            name,
            &sim,
            sim.sim.credentials.clone(),
            &json!({ "cadence_secs": 10, "auto_sync_stock": true }),
        )
        .await;
        more.push((name, sim, id, carrier));
    }
    // Their listings are downloaded, mapped by SKU and given the store's figures.
    let all_show = |expected: BTreeMap<String, i64>| {
        let more = &more;
        let w = &w;
        async move {
            w.converge(&expected, 30).await;
            for (name, sim, _, _) in more {
                eventually(&format!("{name} to show the store's stock"), 30, || async {
                    sim.stock().await == expected
                })
                .await;
            }
        }
    };
    all_show(w.expected(&BTreeMap::new())).await;

    // A sale on each marketplace, imported on demand.
    let plain: Vec<&str> = w
        .skus
        .iter()
        .map(String::as_str)
        .filter(|s| *s != KIT && !["SKU-00001", "SKU-00002"].contains(s))
        .collect();
    let mut sold = BTreeMap::new();
    let mut placed = Vec::new();
    for (i, (name, sim, ch, _)) in more.iter().enumerate() {
        let sku = plain[i];
        let on_channel = sim.order(&[(sku, 2)], json!({})).await;
        w.job(ch, "import", json!({})).await;
        let order = w.order_for(&on_channel).await;
        assert_eq!(order["channel_id"], ch.as_str(), "{name}");
        assert_eq!(order["lines"][0]["sku"], sku, "{name}");
        sold.insert(sku, 2);
        placed.push((on_channel, order));
    }
    all_show(w.expected(&sold)).await;

    // A sale on Shopify lowers them all.
    w.shopify.order(&[("SKU-00002", 1)], json!({})).await;
    sold.insert("SKU-00002", 1);
    all_show(w.expected(&sold)).await;

    // Shipped through the API: each marketplace order gets the tracking
    // number with the carrier in that marketplace's words.
    for ((name, sim, _, carrier), (on_channel, order)) in more.iter().zip(&placed) {
        let id = order["id"].as_str().unwrap();
        let r = w
            .app
            .post(
                &w.t,
                &format!("/v1/orders/{id}/fulfilments"),
                &json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
            )
            .await;
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        eventually(&format!("the shipment to sync to {name}"), 30, || async {
            let f = w
                .app
                .get(&w.t, &format!("/v1/orders/{id}/fulfilments"))
                .await;
            f.body["items"][0]["sync"]["state"] == "synced"
        })
        .await;
        assert_eq!(
            shipments(sim, on_channel).await,
            vec![("1Z999AA10123456784".to_owned(), (*carrier).to_owned())],
            "{name}"
        );
    }
}
