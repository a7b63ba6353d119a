//! Medusa 2.21 (`@medusajs/medusa`, on its own PostgreSQL cluster) as a
//! sales channel and as a back office. Both tests share one server; their
//! SKUs differ, and only the channel test's store pushes stock to it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Value, json};
use switchyard::Clock;
use switchyard_sim::Channel;
use switchyard_testkit::{eventually, spawn_app_with};

use crate::fixture::{self, Platform};
use crate::scenario::{self, BackOfficeWorld, Shop};
use crate::{Store, cancel_on_sim, engine_config, shopify_tracking, simulator, until_stock};
use axum::http::Method;

static SERVER: OnceLock<Result<Platform, String>> = OnceLock::new();

fn start() -> Result<Platform, String> {
    let dir = fixture::install("medusa")?;
    let port = fixture::free_port()?;
    Platform::start(
        "medusa",
        dir,
        port,
        "bash",
        &["run.sh".to_owned(), port.to_string()],
        |base, dir| fixture::node(dir, &["shop.js", "setup", base]),
    )
}

/// The shared server (started by the first test that asks).
async fn medusa() -> &'static Platform {
    let p = tokio::task::spawn_blocking(|| SERVER.get_or_init(start))
        .await
        .unwrap();
    p.as_ref()
        .unwrap_or_else(|e| panic!("Medusa could not be started: {e}"))
}

impl Platform {
    fn key(&self, name: &str) -> String {
        self.setup[name].as_str().unwrap().to_owned()
    }

    /// An admin API call as the merchant's staff make it.
    async fn medusa_admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .basic_auth(self.key("api_key"), Some(""));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// What Medusa can still sell of each SKU at the store's location.
    async fn available(&self) -> BTreeMap<String, i64> {
        let v = self
            .medusa_admin(
                reqwest::Method::GET,
                "/admin/product-variants?limit=100&fields=sku,*inventory_items.inventory.location_levels",
                None,
            )
            .await;
        let location = self.key("location_id");
        v["variants"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|var| {
                let level = var["inventory_items"][0]["inventory"]["location_levels"]
                    .as_array()?
                    .iter()
                    .find(|l| l["location_id"] == location.as_str())?
                    .clone();
                Some((
                    var["sku"].as_str()?.to_owned(),
                    level["stocked_quantity"].as_i64()? - level["reserved_quantity"].as_i64()?,
                ))
            })
            .collect()
    }

    async fn medusa_order(&self, id: &str) -> Value {
        self.medusa_admin(
            reqwest::Method::GET,
            &format!("/admin/orders/{id}?fields=id,display_id,status,payment_status,fulfillment_status,total,metadata,*items,*fulfillments,*fulfillments.labels"),
            None,
        )
        .await["order"]
            .clone()
    }

    /// Place an order through the Store API; `pay` is `now` or `later`.
    async fn checkout(&self, lines: &[(&str, i64)], email: &str, pay: &str) -> Value {
        let spec = json!({
            "publishable_key": self.key("publishable_key"), "region_id": self.key("region_id"),
            "lines": lines.iter().map(|(s, q)| json!({ "sku": s, "quantity": q })).collect::<Vec<_>>(),
            "email": email, "pay": pay,
            "address": { "first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd",
                         "address_1": "Keizersgracht 1", "address_2": "2nd floor", "city": "Amsterdam",
                         "province": "Noord-Holland", "postal_code": "1015 AA", "country_code": "nl",
                         "phone": "+31 20 555 0101" },
        });
        self.node(vec![
            "shop.js".into(),
            "order".into(),
            self.base.clone(),
            spec.to_string(),
        ])
        .await
    }
}

#[tokio::test]
async fn medusa_orders_are_imported_once_stock_flows_both_ways_and_shipments_reach_medusa() {
    let m = medusa().await;
    let skus = ["SKU-00001", "SKU-00002", "SKU-00003"];
    let s = Store::new(spawn_app_with(engine_config()).await, &skus, 10).await;
    let woo = simulator(Channel::WooCommerce).await;
    let settings = json!({ "cadence_secs": 10, "auto_sync_stock": true });
    s.channel(
        "woocommerce",
        &woo.base_url(),
        woo.credentials.clone(),
        settings.clone(),
    )
    .await;
    let md = s
        .channel(
            "medusa",
            &m.base,
            json!({ "api_key": m.key("api_key") }),
            settings,
        )
        .await;
    let start: Vec<(&str, i64)> = skus.iter().map(|k| (*k, 10)).collect();
    until_stock("Medusa", &start, || m.available()).await;
    until_stock("WooCommerce", &start, || async {
        woo.shown_stock().await.unwrap()
    })
    .await;

    // A customer who stops at payment, then one who pays.
    let later = m
        .checkout(&[("SKU-00003", 1)], "bob@example.com", "later")
        .await;
    let paid = m
        .checkout(
            &[("SKU-00001", 2), ("SKU-00002", 1)],
            "ada@example.com",
            "now",
        )
        .await;
    let paid_id = paid["order_id"].as_str().unwrap().to_owned();
    let a = s.order_for(&md, &paid_id).await;

    // The unified order: Medusa's display id, money rounded to cents.
    let there = m.medusa_order(&paid_id).await;
    assert_eq!(a["number"], there["display_id"].to_string());
    let u = &a["unified"];
    assert_eq!(u["currency"], "EUR");
    // Medusa's total is 141.8725 (unrounded tax on shipping).
    assert_eq!(there["total"], 141.8725);
    assert_eq!(u["total"], 14187);
    assert_eq!(u["shipping_total"], 599);
    assert_eq!(u["payment_status"], "authorized");
    assert_eq!(u["shipping_address"]["city"], "Amsterdam");
    assert_eq!(u["shipping_address"]["postal_code"], "1015 AA");
    assert_eq!(u["shipping_address"]["country"], "NL");
    assert_eq!(u["customer"]["email"], "ada@example.com");
    // Medusa lists an order's items in no fixed order.
    let lines = u["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{a}");
    let lamp = lines.iter().find(|l| l["sku"] == "SKU-00001").unwrap();
    assert_eq!(lamp["quantity"], 2);
    assert_eq!(lamp["unit_price"], 6038);
    assert_eq!(lamp["tax"], 2096);
    let mug = lines.iter().find(|l| l["sku"] == "SKU-00002").unwrap();
    assert_eq!(mug["quantity"], 1);

    // The sale reaches WooCommerce; Medusa keeps showing what is left.
    until_stock(
        "WooCommerce",
        &[("SKU-00001", 8), ("SKU-00002", 9)],
        || async { woo.shown_stock().await.unwrap() },
    )
    .await;
    until_stock("Medusa", &[("SKU-00001", 8), ("SKU-00002", 9)], || {
        m.available()
    })
    .await;

    // Paid later: imported when paid (a cart is not an order until then).
    let spec = json!({ "publishable_key": m.key("publishable_key"), "cart_id": later["cart_id"] });
    let paid_later = m
        .node(vec![
            "shop.js".into(),
            "pay".into(),
            m.base.clone(),
            spec.to_string(),
        ])
        .await;
    let b = s
        .order_for(&md, paid_later["order_id"].as_str().unwrap())
        .await;
    assert_eq!(b["unified"]["lines"][0]["sku"], "SKU-00003");

    // A sale elsewhere lowers Medusa's stock.
    woo.place_order(&json!({ "lines": [{ "sku": "SKU-00003", "quantity": 3 }] }))
        .await
        .unwrap();
    until_stock("Medusa", &[("SKU-00003", 6)], || m.available()).await;

    // Partial fulfilment, then the rest.
    let a_id = a["id"].as_str().unwrap();
    let first = s
        .ship(
            a_id,
            json!({ "lines": [{ "sku": "SKU-00001", "quantity": 2 }],
                    "tracking": [{ "number": "JJD000390007770001", "url": "https://www.dhl.com/t/JJD000390007770001" }],
                    "carrier": "dhl_parcel" }),
        )
        .await;
    let there = m.medusa_order(&paid_id).await;
    assert_eq!(there["fulfillment_status"], "partially_shipped", "{there}");
    let f = &there["fulfillments"][0];
    assert_eq!(f["id"], first["sync"]["channel_fulfilment_id"]);
    assert!(!f["shipped_at"].is_null());
    assert_eq!(f["labels"][0]["tracking_number"], "JJD000390007770001");
    s.ship(
        a_id,
        json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
    )
    .await;
    let there = m.medusa_order(&paid_id).await;
    assert_eq!(there["fulfillment_status"], "shipped", "{there}");
    assert_eq!(s.get_order(a_id).await["state"], "fulfilled");

    // Cancelled by the merchant in Medusa: seen here, stock released.
    let c = m
        .checkout(&[("SKU-00002", 4)], "cy@example.com", "now")
        .await;
    let c_id = c["order_id"].as_str().unwrap().to_owned();
    let c_order = s.order_for(&md, &c_id).await;
    until_stock("WooCommerce", &[("SKU-00002", 5)], || async {
        woo.shown_stock().await.unwrap()
    })
    .await;
    m.medusa_admin(
        reqwest::Method::POST,
        &format!("/admin/orders/{c_id}/cancel"),
        Some(json!({})),
    )
    .await;
    let ours = c_order["id"].as_str().unwrap().to_owned();
    eventually("the cancellation seen", 60, || async {
        s.get_order(&ours).await["state"] == "cancelled"
    })
    .await;
    until_stock("WooCommerce", &[("SKU-00002", 9)], || async {
        woo.shown_stock().await.unwrap()
    })
    .await;

    // Exactly once each (the server is shared: other tests' orders may be here too).
    let ids: Vec<String> = s
        .orders(&md)
        .await
        .iter()
        .map(|o| o["channel_order_id"].as_str().unwrap().to_owned())
        .collect();
    for want in [
        &paid_id,
        &paid_later["order_id"].as_str().unwrap().to_owned(),
        &c_id,
    ] {
        let n = ids.iter().filter(|i| *i == want).count();
        assert_eq!(n, 1, "Medusa order {want} in Switchyard {n} times: {ids:?}");
    }
}

#[tokio::test]
async fn medusa_as_back_office_takes_marketplace_orders_and_reports_their_shipping() {
    let m = medusa().await;
    let clock = Clock::default();
    let BackOfficeWorld {
        s,
        shopify,
        shopify_ch,
        channel: md,
    } = scenario::back_office_world(&Medusa(m), &["SKU-00004", "SKU-00005-M"], &clock).await;

    let cid = shopify
        .place_order(&json!({ "lines": [{ "sku": "SKU-00004", "quantity": 2 }] }))
        .await
        .unwrap();
    let id = s.order_for(&shopify_ch, &cid).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let order = s.back_office_state(&id, "not_shipped").await;
    let remote = order["back_office"]["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // In Medusa: placed and paid, our reference in metadata, the store's variant.
    let copy = m.medusa_order(&remote).await;
    assert_eq!(copy["payment_status"], "captured", "{copy}");
    assert_eq!(copy["metadata"]["switchyard_order_id"], id.as_str());
    assert_eq!(copy["items"][0]["variant_sku"], "SKU-00004");
    assert_eq!(copy["items"][0]["quantity"], 2);
    assert!(
        s.orders(&md)
            .await
            .iter()
            .all(|o| o["channel_order_id"] != remote.as_str())
    );

    // Staff ship it in Medusa with a DHL label.
    let item = copy["items"][0]["id"].clone();
    let made = m
        .medusa_admin(
            reqwest::Method::POST,
            &format!("/admin/orders/{remote}/fulfillments?fields=id,*fulfillments"),
            Some(json!({ "items": [{ "id": item, "quantity": 2 }], "metadata": { "carrier": "DHL" } })),
        )
        .await;
    let fid = made["order"]["fulfillments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    m.medusa_admin(
        reqwest::Method::POST,
        &format!("/admin/orders/{remote}/fulfillments/{fid}/shipments"),
        Some(json!({ "items": [{ "id": item, "quantity": 2 }],
                     "labels": [{ "tracking_number": "JJD000390007770002",
                                  "tracking_url": "https://www.dhl.com/t/JJD000390007770002",
                                  "label_url": "https://www.dhl.com/t/JJD000390007770002" }] })),
    )
    .await;
    clock.advance(chrono::Duration::seconds(301));
    let order = s.back_office_state(&id, "shipped").await;
    assert_eq!(order["state"], "fulfilled", "{order:#}");
    assert_eq!(
        order["fulfilments"][0]["tracking"][0]["number"],
        "JJD000390007770002"
    );
    eventually("the shipment on Shopify", 60, || async {
        shopify_tracking(&shopify, &cid)
            .await
            .contains("JJD000390007770002")
    })
    .await;

    // Cancelled on the marketplace: cancelled in Medusa.
    let cid2 = shopify
        // Shipped to France: the shop ships to every country the marketplace
        // sells to (a country it lacks is refused, not retried).
        .place_order(
            &json!({ "lines": [{ "sku": "SKU-00005-M", "quantity": 1 }], "country": "FR" }),
        )
        .await
        .unwrap();
    let id2 = s.order_for(&shopify_ch, &cid2).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let remote2 = s.back_office_state(&id2, "not_shipped").await["back_office"]["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cancel_on_sim(&shopify, &cid2).await;
    eventually("the Medusa copy cancelled", 60, || async {
        m.medusa_order(&remote2).await["status"] == "canceled"
    })
    .await;
}

/// Medusa as the shared scenarios see it.
struct Medusa(&'static Platform);

impl Shop for Medusa {
    const KIND: &'static str = "medusa";

    fn platform(&self) -> &Platform {
        self.0
    }

    fn credentials(&self) -> Value {
        json!({ "api_key": self.0.key("api_key") })
    }

    async fn buy(&self, sku: &str, email: &str) -> String {
        let placed = self.0.checkout(&[(sku, 1)], email, "now").await;
        placed["order_id"].as_str().unwrap().to_owned()
    }

    async fn shipments(&self, order: &str) -> (usize, bool, Value) {
        let there = self.0.medusa_order(order).await;
        let n = there["fulfillments"].as_array().unwrap().len();
        (n, there["fulfillment_status"] == "shipped", there)
    }

    fn order_list(m: &Method, path: &str, _: &[u8]) -> bool {
        m == Method::GET && path.starts_with("/admin/orders?")
    }

    fn fulfilment_create(m: &Method, path: &str, _: &[u8]) -> bool {
        m == Method::POST && path.contains("/fulfillments?")
    }
}

#[tokio::test]
async fn medusa_errors_and_lost_answers_lose_and_duplicate_nothing() {
    scenario::errors_and_lost_answers(&Medusa(medusa().await)).await;
}
