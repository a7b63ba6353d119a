//! The document's examples are real: every operation in the OpenAPI
//! document is called here, in an order that makes each one succeed, on a
//! server importing from the Shopify and WooCommerce simulators. Its
//! request, path parameters and answer are the operation's example
//! (`crates/api/examples.json`, which the document embeds).
//!
//! The test fails when an operation has no step here, when a step does not
//! get the documented answer, or when the committed examples no longer
//! match what the server does (their request bodies, statuses and the
//! shape of their answers). `SWITCHYARD_BLESS_EXAMPLES=1` rewrites the file
//! from this run instead; then regenerate `docs/openapi.json`
//! (`cargo run -- openapi`) and the Postman collection (`scripts/postman/build`).

mod record;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchyard::Clock;
use switchyard_sim::Channel;
use switchyard_testkit::{Tenant, spawn_app_with};

use self::record::Walk;
use crate::accounting::package;
use crate::operations::shopify_signature;
use crate::{World, eventually, loopback_allowed};

#[tokio::test]
async fn every_operation_has_an_example_the_server_answers_as_documented() {
    let clock = Clock::default();
    let app = spawn_app_with(loopback_allowed(&clock)).await;
    let w = World::on(app, json!({})).await;
    let receiver = switchyard_testkit::receiver::Receiver::start().await;
    let xero = package(Channel::Xero).await;
    let mut k = Walk::new(&w).await;
    let store = w.store.clone();

    // The operator's probes.
    for op in ["healthz", "readyz"] {
        k.call(op, None).await;
    }
    let metrics = w
        .app
        .client
        .get(format!("{}/metrics", w.app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let excerpt: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("switchyard_http_requests_total") || l.contains("queue_depth"))
        .take(8)
        .collect();
    assert!(!excerpt.is_empty(), "{metrics}");
    k.record(
        "scrape",
        "/metrics",
        "/metrics",
        None,
        200,
        Value::String(excerpt.join("\n") + "\n"),
    );

    // The account and its tokens.
    k.call("get_account", None).await;
    let tok = k
        .call(
            "create_token",
            Some(json!({ "name": "Warehouse scanner", "store_id": "{store_id}" })),
        )
        .await;
    k.set("token_id", tok["id"].as_str().unwrap());
    k.call("list_tokens", None).await;
    k.call("revoke_token", None).await;

    // Stores.
    let outlet = k
        .call("create_store", Some(json!({ "name": "Acme Outlet" })))
        .await;
    k.set("store_id", outlet["id"].as_str().unwrap());
    k.call("get_store", None).await;
    k.call("update_store", Some(json!({ "name": "Acme Outlet NL" })))
        .await;
    k.call("delete_store", None).await;
    k.set("store_id", store.clone());
    k.call("list_stores", None).await;

    // The catalogue and its stock.
    k.call(
        "create_product",
        Some(json!({
            "sku": "MUG-BLUE", "title": "Enamel mug, blue", "gtin": "8712345678906",
            "weight_g": 320, "dimensions": { "length_mm": 110, "width_mm": 90, "height_mm": 95 },
            "price": { "amount": 1495, "currency": "EUR" }
        })),
    )
    .await;
    k.set("sku", "MUG-BLUE");
    k.call("list_products", None).await;
    k.call("get_product", None).await;
    k.call(
        "update_product",
        Some(json!({ "title": "Enamel mug, navy blue", "weight_g": 330 })),
    )
    .await;
    k.call("set_stock", Some(json!({ "quantity": 24 }))).await;
    k.call(
        "adjust_stock",
        Some(json!({ "delta": -2, "reason": "two broken in the warehouse" })),
    )
    .await;
    k.call(
        "bulk_change_stock",
        Some(json!({ "items": [
            { "sku": "MUG-BLUE", "quantity": 30 },
            { "sku": "SKU-00004", "delta": 5 }
        ] })),
    )
    .await;
    k.call("get_stock", None).await;
    k.call("list_stock", None).await;
    k.call("explain_stock", None).await;

    // Channels.
    k.set("channel_id", w.shopify_ch.clone());
    k.call("list_channels", None).await;
    k.call("get_channel", None).await;
    k.call("channel_health", None).await;
    k.call("test_channel", None).await;
    let job = k.call("import_channel", None).await;
    k.set("job_id", job["id"].to_string());
    k.call("get_job", None).await;
    k.call(
        "backfill_channel",
        Some(json!({ "from": "2026-11-01T00:00:00Z", "to": "2026-11-30T23:59:59Z" })),
    )
    .await;
    k.call("download_listings", None).await;
    k.call("list_listings", None).await;
    k.set("channel_sku", "SKU-00012");
    k.call("put_sku_mapping", Some(json!({ "sku": "MUG-BLUE" })))
        .await;
    k.call("list_sku_mappings", None).await;
    k.call("delete_sku_mapping", None).await;
    let etsy = crate::Sim::start(Channel::Etsy).await;
    let created = k
        .call(
            "create_channel",
            Some(json!({
                "name": "Etsy shop", "kind": "etsy", "base_url": etsy.url(),
                "credentials": etsy.sim.credentials,
                "stock_rules": { "buffer": 1 },
                "settings": { "cadence_secs": 300, "auto_sync_stock": true }
            })),
        )
        .await;
    k.set("channel_id", created["id"].as_str().unwrap());
    k.call(
        "update_channel",
        Some(json!({ "name": "Etsy (handmade)", "stock_rules": { "buffer": 2, "maximum": 50 } })),
    )
    .await;
    k.call("delete_channel", None).await;
    k.set("channel_id", w.shopify_ch.clone());

    // A notification for an order the channel does not know: it is
    // accepted, and its failure listed as an import error.
    let body =
        json!({ "id": 987_654_321u64, "admin_graphql_api_id": "gid://shopify/Order/987654321",
        "name": "#9999", "created_at": "2026-12-01T10:00:00Z" })
        .to_string();
    let secret = w.shopify.sim.credentials["api_secret_key"]
        .as_str()
        .unwrap();
    let r = w
        .app
        .client
        .post(format!("{}/v1/inbound/{}", w.app.address, w.shopify_ch))
        .header("content-type", "application/json")
        .header(
            "x-shopify-hmac-sha256",
            shopify_signature(secret, body.as_bytes()),
        )
        .header("x-shopify-topic", "orders/create")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let answer: Value = r.json().await.unwrap_or(Value::Null);
    let path = format!("/v1/inbound/{}", w.shopify_ch);
    k.record(
        "receive",
        "/v1/inbound/{channel_id}",
        &path,
        serde_json::from_str(&body).ok(),
        202,
        answer,
    );
    let errors = format!("/v1/stores/{store}/channels/{}/errors", w.shopify_ch);
    eventually("the import error to be listed", 20, || async {
        let l = w.app.get(&w.t, &errors).await.body;
        l["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    let list = k.call("list_import_errors", None).await;
    k.set("error_id", list["items"][0]["id"].to_string());
    k.call("retry_import_error", None).await;
    k.call("handle_import_error_manually", None).await;

    // Webhooks, to a receiver on loopback.
    let wh = k
        .call(
            "create_webhook",
            Some(json!({
                "url": receiver.url.clone(),
                "events": ["order.created", "order.updated", "fulfilment.created"],
                "description": "ERP order feed"
            })),
        )
        .await;
    k.set("webhook_id", wh["id"].as_str().unwrap());
    k.call("list_webhooks", None).await;
    k.call("get_webhook", None).await;
    k.call(
        "update_webhook",
        Some(
            json!({ "events": ["order.created", "order.updated", "order.on_hold",
            "fulfilment.created"] }),
        ),
    )
    .await;
    let test = k.call("send_test_event", None).await;
    k.set("message_id", test["message_id"].as_str().unwrap());
    k.call("get_webhook_secret", None).await;

    // The back office, plugins and their rules, before the orders come in.
    k.call(
        "put_back_office",
        Some(json!({ "channel_id": "{woo}", "check_interval_secs": 300 })),
    )
    .await;
    k.call("get_back_office", None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tpl_url = format!("http://{}/orders", listener.local_addr().unwrap());
    drop(listener);
    let plugin = k
        .call(
            "create_plugin",
            Some(json!({ "name": "Warehouse Venlo", "url": tpl_url, "enabled": false })),
        )
        .await;
    k.set("plugin_id", plugin["id"].as_str().unwrap());
    k.call("list_plugins", None).await;
    k.call("get_plugin", None).await;
    k.call("get_plugin_secret", None).await;
    let ptoken = k
        .call("create_plugin_token", Some(json!({ "name": "Venlo WMS" })))
        .await;
    let plugin_token = Tenant {
        token: ptoken["token"].as_str().unwrap().to_owned(),
    };
    let rules = json!({ "rules": [
        { "name": "hold bulk orders", "when": { "min_quantity": 20 },
          "then": { "action": "hold", "reason": "check orders of 20 units or more" } },
        { "name": "EU to Venlo", "when": { "countries": ["NL", "BE", "DE", "GB"] },
          "then": { "action": "send_to_plugin", "plugin_id": "{plugin_id}" } }
    ] });
    k.call("put_plugin_rules", Some(rules.clone())).await;
    k.call("get_plugin_rules", None).await;

    // Orders, from the Shopify simulator.
    let cid = w
        .shopify
        .order(
            &[("SKU-00001", 2), ("SKU-00002", 1)],
            json!({ "country": "GB", "tags": ["wholesale"] }),
        )
        .await;
    let order = eventually_order(&w, &cid).await;
    k.set("order_id", order["id"].as_str().unwrap());
    k.call("list_orders", None).await;
    k.call("get_order", None).await;
    k.call(
        "dry_run_plugin_rules",
        Some(json!({ "rules": rules, "limit": 10 })),
    )
    .await;
    k.call("list_plugin_orders", None).await;
    k.call("get_plugin_order", None).await;
    k.call(
        "update_plugin",
        Some(json!({ "name": "Warehouse Venlo (NL)", "url": tpl_url })),
    )
    .await;
    k.call("resend_plugin_order", None).await;
    k.call_as(
        &plugin_token.clone(),
        "report_plugin_stock",
        Some(json!({ "items": [ { "sku": "SKU-00001", "quantity": 40 },
            { "sku": "SKU-00002", "quantity": 12 } ] })),
    )
    .await;
    k.call_as(
        &plugin_token,
        "create_plugin_fulfilment",
        Some(json!({
            "tracking": [ { "number": "1Z999AA10123456784",
                "url": "https://www.ups.com/track?tracknum=1Z999AA10123456784" } ],
            "carrier": "ups", "service": "UPS Standard"
        })),
    )
    .await;

    // A second order: held, released, fulfilled by hand, invoiced.
    let cid = w
        .woo
        .order(&[("SKU-00002", 1)], json!({ "country": "US" }))
        .await;
    let second = eventually_order(&w, &cid).await;
    k.set("order_id", second["id"].as_str().unwrap());
    k.call(
        "hold_order",
        Some(json!({ "reason": "address to be confirmed by phone" })),
    )
    .await;
    k.call("release_order", None).await;
    k.call("mark_manual", Some(json!({ "manual": true }))).await;
    // The shop stops taking the store's calls (its keys were revoked): the
    // shipment's sync fails and waits for a retry, whatever the workers'
    // pace, and later the back office refuses orders.
    w.woo.post("/_sim/auth/revoke", json!({})).await;
    let f = k
        .call(
            "create_fulfilment",
            Some(json!({
                "lines": [ { "sku": "SKU-00002", "quantity": 1 } ],
                "tracking": [ { "number": "00340434161094042557" } ],
                "carrier": "dhl_parcel", "service": "DHL Paket"
            })),
        )
        .await;
    k.set("fulfilment_id", f["id"].as_str().unwrap());
    k.call("list_fulfilments", None).await;
    k.call("get_fulfilment", None).await;
    k.call(
        "update_fulfilment",
        Some(json!({ "tracking": [ { "number": "00340434161094042564",
            "url": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode=00340434161094042564" } ] })),
    )
    .await;
    let sync = format!("/v1/fulfilments/{}", f["id"].as_str().unwrap());
    eventually("the refused sync", 30, || async {
        !w.app.get(&w.t, &sync).await.body["sync"]["last_error"].is_null()
    })
    .await;
    k.call("retry_fulfilment", None).await;
    k.call("cancel_fulfilment", None).await;

    // Invoices, booked into the Xero simulator.
    k.call(
        "put_invoice_settings",
        Some(json!({
            "prefix": "ACME-", "credit_note_prefix": "ACME-CN-", "auto": "off",
            "seller": { "name": "Acme Trading B.V.", "address": ["Keizersgracht 1", "1015 CJ Amsterdam", "NL"],
                "vat_number": "NL123456789B01", "email": "billing@acme.example" },
            "tax_rates": { "default_bp": 2100, "countries": { "DE": 1900, "GB": 2000 } }
        })),
    )
    .await;
    k.call("get_invoice_settings", None).await;
    let acct = k
        .call(
            "create_accounting",
            Some(json!({
                "kind": "xero", "name": "Xero (Acme Trading)", "base_url": xero.base_url(),
                "credentials": xero.credentials,
                "settings": { "sales_account": "999", "shipping_account": "260" }
            })),
        )
        .await;
    k.set("accounting_id", acct["id"].as_str().unwrap());
    let inv = k.call("create_invoice", None).await;
    k.set("invoice_id", inv["id"].as_str().unwrap());
    eventually("the refused booking", 40, || async {
        let v = w
            .app
            .get(
                &w.t,
                &format!("/v1/invoices/{}", inv["id"].as_str().unwrap()),
            )
            .await
            .body;
        v["accounting"][0]["state"] == "failed"
    })
    .await;
    k.call("list_syncs", None).await;
    k.call(
        "update_accounting",
        Some(json!({ "settings": { "sales_account": "200", "shipping_account": "260" } })),
    )
    .await;
    k.call("retry_sync", None).await;
    k.call("get_invoice", None).await;
    k.call("list_invoices", None).await;
    k.call("list_accounting", None).await;
    k.call("get_accounting", None).await;
    k.call(
        "create_credit_note",
        Some(json!({ "lines": [ { "line_no": 1, "quantity": 1 } ], "reason": "arrived damaged" })),
    )
    .await;
    k.call(
        "cancel_order",
        Some(json!({ "reason": "customer changed their mind" })),
    )
    .await;

    // An order the back office refuses (its keys were revoked above) is
    // listed, resent and then handled by hand.
    let cid = w
        .shopify
        .order(&[("SKU-00006", 1)], json!({ "country": "US" }))
        .await;
    let third = eventually_order(&w, &cid).await;
    let bo = format!("/v1/stores/{store}/back-office/orders?state=failed");
    eventually("a refused back-office order", 30, || async {
        let l = w.app.get(&w.t, &bo).await.body;
        l["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    k.call("list_back_office_orders", None).await;
    k.set("order_id", third["id"].as_str().unwrap());
    k.call("resend_back_office_order", None).await;
    k.call("handle_back_office_manually", None).await;
    k.call("delete_back_office", None).await;

    // Carriers and hosted onboarding pages.
    k.call(
        "put_carriers",
        Some(
            json!({ "rules": [ { "pattern": "JJD*", "carrier": "dhl_parcel" },
            { "pattern": "3S*", "carrier": "postnl" } ] }),
        ),
    )
    .await;
    k.call("get_carriers", None).await;
    let page = k
        .call(
            "create_hosted_page",
            Some(json!({
                "channels": ["bolcom", "woocommerce"],
                "branding": { "name": "Fulfilled by Venlo", "primary_color": "#0b5394" },
                "presets": { "settings": { "auto_sync_stock": true }, "stock_rules": { "buffer": 1 } },
                "expires_in": 604800,
                "redirect_url": "https://venlo-fulfilment.example/welcome"
            })),
        )
        .await;
    k.set("page_id", page["id"].as_str().unwrap());
    k.call("list_hosted_pages", None).await;
    k.call("get_hosted_page", None).await;
    k.call("revoke_hosted_page", None).await;

    // What happened, and the webhook's deliveries of it.
    k.call("list_journal", None).await;
    eventually("deliveries", 30, || async {
        let l = w
            .app
            .get(
                &w.t,
                &format!("/v1/webhooks/{}/attempts", wh["id"].as_str().unwrap()),
            )
            .await
            .body;
        l["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    k.call("list_webhook_messages", None).await;
    k.call("list_webhook_attempts", None).await;
    k.call("replay_message", None).await;
    k.call(
        "replay_webhook",
        Some(json!({ "since": "2026-12-01T00:00:00Z", "only_failed": true })),
    )
    .await;
    k.call("rotate_webhook_secret", None).await;

    // What is removed last.
    k.call("delete_product", None).await;
    k.call("delete_webhook", None).await;
    // A plugin a rule sends to cannot be deleted: the rules go first.
    let r = w
        .app
        .put(
            &w.t,
            &format!("/v1/stores/{store}/plugin-rules"),
            &json!({ "rules": [] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    k.call("delete_plugin", None).await;
    k.call("delete_accounting", None).await;

    k.finish();
}

async fn eventually_order(w: &World, channel_order_id: &str) -> Value {
    eventually(&format!("order {channel_order_id}"), 30, || async {
        w.orders("")
            .await
            .iter()
            .any(|o| o["channel_order_id"] == channel_order_id)
    })
    .await;
    w.orders("")
        .await
        .into_iter()
        .find(|o| o["channel_order_id"] == channel_order_id)
        .unwrap()
}
