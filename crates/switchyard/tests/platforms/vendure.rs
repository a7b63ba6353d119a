//! Vendure 3.7 (`@vendure/core`, SQLite through sql.js) as a sales channel
//! and as a back office. Both tests share one server; their SKUs differ,
//! and only the channel test's store pushes stock to it.

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
    let dir = fixture::install("vendure")?;
    let port = fixture::free_port()?;
    Platform::start(
        "vendure",
        dir,
        port,
        "node",
        &["server.js".to_owned(), port.to_string()],
        |base, dir| fixture::node(dir, &["shop.js", "setup", base]),
    )
}

/// The shared server (started by the first test that asks).
async fn vendure() -> &'static Platform {
    let p = tokio::task::spawn_blocking(|| SERVER.get_or_init(start))
        .await
        .unwrap();
    p.as_ref()
        .unwrap_or_else(|e| panic!("Vendure could not be started: {e}"))
}

impl Platform {
    fn api_key(&self) -> String {
        self.setup["api_key"].as_str().unwrap().to_owned()
    }

    /// An Admin API call as the merchant's staff make it.
    async fn admin(&self, query: &str, variables: Value) -> Value {
        let r: Value = reqwest::Client::new()
            .post(format!("{}/admin-api", self.base))
            .header("vendure-api-key", self.api_key())
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(r["errors"].is_null(), "{query}: {r}");
        r["data"].clone()
    }

    /// What Vendure can still sell of each SKU (on hand minus allocated).
    async fn saleable(&self) -> BTreeMap<String, i64> {
        let d = self
            .admin(
                "{ productVariants(options: { take: 100 }) { items { sku stockOnHand stockAllocated } } }",
                json!({}),
            )
            .await;
        d["productVariants"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["sku"].as_str().unwrap().to_owned(),
                    v["stockOnHand"].as_i64().unwrap() - v["stockAllocated"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    async fn vendure_order(&self, id: &str) -> Value {
        self.admin(
            "query($id: ID!) { order(id: $id) { id code state totalWithTax currencyCode
               lines { id quantity productVariant { sku } }
               fulfillments { id state method trackingCode lines { orderLineId quantity } }
               history(options: { filter: { type: { eq: \"ORDER_NOTE\" } } }) { items { data } } } }",
            json!({ "id": id }),
        )
        .await["order"]
            .clone()
    }

    /// Place an order through the Shop API as a customer; `pay` is
    /// `settle` or `decline`.
    async fn place(&self, lines: &[(&str, i64)], email: &str, pay: &str) -> Value {
        let spec = json!({
            "lines": lines.iter().map(|(s, q)| json!({ "sku": s, "quantity": q })).collect::<Vec<_>>(),
            "email": email, "first_name": "Ada", "last_name": "Lovelace", "pay": pay,
            "address": { "fullName": "Ada Lovelace", "company": "Engines Ltd",
                         "streetLine1": "Keizersgracht 1", "streetLine2": "2nd floor",
                         "city": "Amsterdam", "province": "Noord-Holland", "postalCode": "1015 AA",
                         "countryCode": "NL", "phoneNumber": "+31 20 555 0101" },
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
async fn vendure_orders_are_imported_once_stock_flows_both_ways_and_shipments_reach_vendure() {
    let v = vendure().await;
    let skus = ["SKU-00001", "SKU-00002", "SKU-00003"];
    let s = Store::new(spawn_app_with(engine_config()).await, &skus, 10).await;
    let woo = simulator(Channel::WooCommerce).await;
    let settings = json!({ "cadence_secs": 10, "auto_sync_stock": true });
    let _woo_ch = s
        .channel(
            "woocommerce",
            &woo.base_url(),
            woo.credentials.clone(),
            settings.clone(),
        )
        .await;
    let vd = s
        .channel(
            "vendure",
            &v.base,
            json!({ "api_key": v.api_key() }),
            settings,
        )
        .await;
    let start: Vec<(&str, i64)> = skus.iter().map(|k| (*k, 10)).collect();
    until_stock("Vendure", &start, || v.saleable()).await;
    until_stock("WooCommerce", &start, || async {
        woo.shown_stock().await.unwrap()
    })
    .await;

    // A customer whose payment is declined first, then one who pays.
    let later = v
        .place(&[("SKU-00003", 1)], "bob@example.com", "decline")
        .await;
    assert_eq!(later["state"], "ArrangingPayment");
    let paid = v
        .place(
            &[("SKU-00001", 2), ("SKU-00002", 1)],
            "ada@example.com",
            "settle",
        )
        .await;
    assert_eq!(paid["state"], "PaymentSettled");
    let a = s.order_for(&vd, paid["id"].as_str().unwrap()).await;

    // The unified order: Vendure's code, gross money, the address as typed.
    let there = v.vendure_order(paid["id"].as_str().unwrap()).await;
    assert_eq!(a["number"], there["code"]);
    let u = &a["unified"];
    assert_eq!(u["currency"], "EUR");
    assert_eq!(u["total"], there["totalWithTax"]);
    assert_eq!(u["payment_status"], "paid");
    assert_eq!(u["shipping_address"]["city"], "Amsterdam");
    assert_eq!(u["shipping_address"]["postal_code"], "1015 AA");
    assert_eq!(u["shipping_address"]["country"], "NL");
    assert_eq!(u["customer"]["email"], "ada@example.com");
    let lines = u["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{a}");
    assert_eq!(
        (lines[0]["sku"].as_str(), lines[0]["quantity"].as_i64()),
        (Some("SKU-00001"), Some(2))
    );
    // 49.90 net + 21 % tax.
    assert_eq!(lines[0]["unit_price"], 6038);
    assert_eq!(
        (lines[1]["sku"].as_str(), lines[1]["quantity"].as_i64()),
        (Some("SKU-00002"), Some(1))
    );
    // The round that found the paid order also saw the unpaid cart and left it.
    assert!(
        s.orders(&vd)
            .await
            .iter()
            .all(|o| o["channel_order_id"] != later["id"]),
        "an unpaid Vendure order was imported"
    );

    // The sale reaches WooCommerce; Vendure keeps showing what is left
    // (it subtracts its own allocation, which Switchyard adds back).
    until_stock(
        "WooCommerce",
        &[("SKU-00001", 8), ("SKU-00002", 9)],
        || async { woo.shown_stock().await.unwrap() },
    )
    .await;
    until_stock("Vendure", &[("SKU-00001", 8), ("SKU-00002", 9)], || {
        v.saleable()
    })
    .await;

    // Paid later: imported when paid.
    let paid_later = v
        .node(vec![
            "shop.js".into(),
            "pay".into(),
            v.base.clone(),
            later["token"].as_str().unwrap().to_owned(),
        ])
        .await;
    assert_eq!(paid_later["state"], "PaymentSettled");
    let b = s.order_for(&vd, later["id"].as_str().unwrap()).await;
    assert_eq!(b["unified"]["payment_status"], "paid");

    // A sale elsewhere lowers Vendure's stock.
    woo.place_order(&json!({ "lines": [{ "sku": "SKU-00003", "quantity": 3 }] }))
        .await
        .unwrap();
    until_stock("Vendure", &[("SKU-00003", 6)], || v.saleable()).await;

    // Partial fulfilment, then the rest: Vendure shows each shipment.
    let a_id = a["id"].as_str().unwrap();
    let first = s
        .ship(
            a_id,
            json!({ "lines": [{ "sku": "SKU-00001", "quantity": 2 }],
                            "tracking": [{ "number": "JJD000390007770001" }], "carrier": "dhl_parcel" }),
        )
        .await;
    let there = v.vendure_order(paid["id"].as_str().unwrap()).await;
    assert_eq!(there["state"], "PartiallyShipped", "{there}");
    let f = &there["fulfillments"][0];
    assert_eq!(f["id"], first["sync"]["channel_fulfilment_id"]);
    assert_eq!(f["state"], "Shipped");
    assert_eq!(f["trackingCode"], "JJD000390007770001");
    assert_eq!(f["method"], "DHL Parcel");
    assert_eq!(f["lines"][0]["quantity"], 2);
    s.ship(
        a_id,
        json!({ "tracking": [{ "number": "1Z999AA10123456784" }] }),
    )
    .await;
    let there = v.vendure_order(paid["id"].as_str().unwrap()).await;
    assert_eq!(there["state"], "Shipped", "{there}");
    assert_eq!(there["fulfillments"].as_array().unwrap().len(), 2);
    assert_eq!(s.get_order(a_id).await["state"], "fulfilled");

    // Cancelled by the merchant in Vendure: seen here, stock released.
    let c = v
        .place(&[("SKU-00002", 4)], "cy@example.com", "settle")
        .await;
    let c_order = s.order_for(&vd, c["id"].as_str().unwrap()).await;
    until_stock("WooCommerce", &[("SKU-00002", 5)], || async {
        woo.shown_stock().await.unwrap()
    })
    .await;
    let cancelled = v
        .admin(
            "mutation($id: ID!) { cancelOrder(input: { orderId: $id, reason: \"customer asked\" }) {
               ... on Order { state } ... on ErrorResult { errorCode message } } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(
        cancelled["cancelOrder"]["state"], "Cancelled",
        "{cancelled}"
    );
    let c_id = c_order["id"].as_str().unwrap().to_owned();
    eventually("the cancellation seen", 60, || async {
        s.get_order(&c_id).await["state"] == "cancelled"
    })
    .await;
    until_stock("WooCommerce", &[("SKU-00002", 9)], || async {
        woo.shown_stock().await.unwrap()
    })
    .await;

    // Exactly once each (the server is shared: other tests' orders may be here too).
    let ids: Vec<String> = s
        .orders(&vd)
        .await
        .iter()
        .map(|o| o["channel_order_id"].as_str().unwrap().to_owned())
        .collect();
    for want in [&paid["id"], &later["id"], &c["id"]] {
        let n = ids.iter().filter(|i| *i == want.as_str().unwrap()).count();
        assert_eq!(
            n, 1,
            "Vendure order {want} in Switchyard {n} times: {ids:?}"
        );
    }
}

#[tokio::test]
async fn vendure_as_back_office_takes_marketplace_orders_and_reports_their_shipping() {
    let v = vendure().await;
    let clock = Clock::default();
    let BackOfficeWorld {
        s,
        shopify,
        shopify_ch,
        channel: vd,
    } = scenario::back_office_world(&Vendure(v), &["SKU-00004", "SKU-00005-M"], &clock).await;

    let cid = shopify
        .place_order(&json!({ "lines": [{ "sku": "SKU-00004", "quantity": 2 }] }))
        .await
        .unwrap();
    let order = s.order_for(&shopify_ch, &cid).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let order = s.back_office_state(&id, "not_shipped").await;
    let remote = order["back_office"]["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // In Vendure: placed and paid, our reference in a private note, the
    // shop's own variant.
    let copy = v.vendure_order(&remote).await;
    assert_eq!(copy["state"], "PaymentSettled", "{copy}");
    assert_eq!(copy["lines"][0]["productVariant"]["sku"], "SKU-00004");
    assert_eq!(copy["lines"][0]["quantity"], 2);
    let notes = copy["history"]["items"].to_string();
    assert!(notes.contains(&format!("[switchyard:{id}]")), "{notes}");
    // The copy is not a Vendure sale.
    assert!(
        s.orders(&vd)
            .await
            .iter()
            .all(|o| o["channel_order_id"] != remote.as_str())
    );

    // Staff ship it in Vendure with a DHL code.
    let line = copy["lines"][0]["id"].clone();
    let f = v
        .admin(
            "mutation($l: ID!) { addFulfillmentToOrder(input: { lines: [{ orderLineId: $l, quantity: 2 }],
               handler: { code: \"manual-fulfillment\", arguments: [
                 { name: \"method\", value: \"DHL\" }, { name: \"trackingCode\", value: \"JJD000390007770002\" }] } }) {
               ... on Fulfillment { id } ... on ErrorResult { errorCode message } } }",
            json!({ "l": line }),
        )
        .await;
    let fid = f["addFulfillmentToOrder"]["id"].clone();
    assert!(fid.is_string(), "{f}");
    v.admin(
        "mutation($id: ID!) { transitionFulfillmentToState(id: $id, state: \"Shipped\") { ... on Fulfillment { state } } }",
        json!({ "id": fid }),
    )
    .await;
    clock.advance(chrono::Duration::seconds(301));
    let order = s.back_office_state(&id, "shipped").await;
    assert_eq!(order["state"], "fulfilled");
    let f = &order["fulfilments"][0];
    assert_eq!(f["source"], "back_office");
    assert_eq!(f["tracking"][0]["number"], "JJD000390007770002");
    eventually("the shipment on Shopify", 60, || async {
        shopify_tracking(&shopify, &cid)
            .await
            .contains("JJD000390007770002")
    })
    .await;

    // Cancelled on the marketplace: cancelled in Vendure.
    let cid2 = shopify
        // Shipped to France: the shop ships to every country the marketplace
        // sells to (a country it lacks is refused, not retried).
        .place_order(
            &json!({ "lines": [{ "sku": "SKU-00005-M", "quantity": 1 }], "country": "FR" }),
        )
        .await
        .unwrap();
    let o2 = s.order_for(&shopify_ch, &cid2).await;
    let id2 = o2["id"].as_str().unwrap().to_owned();
    let remote2 = s.back_office_state(&id2, "not_shipped").await["back_office"]["remote_id"]
        .as_str()
        .unwrap()
        .to_owned();
    cancel_on_sim(&shopify, &cid2).await;
    eventually("the Vendure copy cancelled", 60, || async {
        v.vendure_order(&remote2).await["state"] == "Cancelled"
    })
    .await;
}

/// Vendure as the shared scenarios see it.
struct Vendure(&'static Platform);

impl Shop for Vendure {
    const KIND: &'static str = "vendure";

    fn platform(&self) -> &Platform {
        self.0
    }

    fn credentials(&self) -> Value {
        json!({ "api_key": self.0.api_key() })
    }

    async fn buy(&self, sku: &str, email: &str) -> String {
        let placed = self.0.place(&[(sku, 1)], email, "settle").await;
        placed["id"].as_str().unwrap().to_owned()
    }

    async fn shipments(&self, order: &str) -> (usize, bool, Value) {
        let there = self.0.vendure_order(order).await;
        let n = there["fulfillments"].as_array().unwrap().len();
        (n, there["state"] == "Shipped", there)
    }

    fn order_list(_: &Method, _: &str, body: &[u8]) -> bool {
        String::from_utf8_lossy(body).contains("SwitchyardOrders")
    }

    fn fulfilment_create(_: &Method, _: &str, body: &[u8]) -> bool {
        String::from_utf8_lossy(body).contains("addFulfillmentToOrder")
    }
}

#[tokio::test]
async fn vendure_errors_and_lost_answers_lose_and_duplicate_nothing() {
    scenario::errors_and_lost_answers(&Vendure(vendure().await)).await;
}
