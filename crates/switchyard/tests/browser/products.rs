//! Products and stock in the console: a kit explained as a picture, and
//! stock changed from a product's page.

use serde_json::json;
use switchyard_domain::user::Role;
use switchyard_testkit::spawn_api_only;

use crate::Browser;
use crate::console::{invited, set_password};

#[tokio::test]
async fn a_kit_is_explained_as_a_picture_down_to_its_limiting_component_and_stock_changes() {
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let store = app
        .post(&owner, "/v1/stores", &json!({ "name": "Acme EU" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.product(&owner, &store, "MUG").await;
    app.product(&owner, &store, "COASTER").await;
    let kit = app
        .post(
            &owner,
            &format!("/v1/stores/{store}/products"),
            &json!({ "sku": "GIFT-SET", "title": "Gift set",
                     "components": [{ "sku": "MUG", "quantity": 2 }, { "sku": "COASTER", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(kit.status, 201, "{}", kit.body);
    for (sku, q) in [("MUG", 5), ("COASTER", 10)] {
        let r = app
            .put(
                &owner,
                &format!("/v1/stores/{store}/stock/{sku}"),
                &json!({ "quantity": q }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let ch = app
        .post(
            &owner,
            &format!("/v1/stores/{store}/channels"),
            &json!({ "name": "Web shop", "kind": "shopify",
                     "stock_rules": { "buffer": 1, "maximum": 3 } }),
        )
        .await;
    assert_eq!(ch.status, 201, "{}", ch.body);

    let link = invited(&app, "acme", "owner@acme.test", Role::Owner).await;
    let mut b = Browser::start("products").await;
    set_password(&mut b, &link, "a long password").await;
    b.click(&format!("a[href='/console/stores/{store}']")).await;
    b.click(&format!("a[href='/console/stores/{store}/products']"))
        .await;
    let row = b.text("tr[data-sku='GIFT-SET']").await;
    assert!(row.contains("limited by MUG"), "{row}");
    b.shot("list").await;
    b.click("tr[data-sku='GIFT-SET'] a").await;
    b.at(&format!("/console/stores/{store}/products/GIFT-SET"))
        .await;

    // The picture: MUG limits (5 free → 2 kits; COASTER allows 10), 2
    // kits available, then the channel's buffer and maximum to 1 pushed.
    assert!(b.text("svg.explain .limit").await.contains("MUG"));
    assert_eq!(b.text("svg.explain .available .figure").await, "2");
    assert_eq!(b.text("svg.explain .pushed .figure").await, "1");
    let steps = b.count("svg.explain .step", 3).await;
    assert_eq!(steps[0].text().await.unwrap(), "buffer 1\n2 → 1");
    let label = b
        .find("svg.explain")
        .await
        .attr("aria-label")
        .await
        .unwrap()
        .unwrap();
    assert!(label.contains("limited by MUG"), "{label}");
    assert!(b.text("tr.limiting").await.contains("limits the kit"));
    b.shot("kit").await;

    // More mugs: the kit follows, and the buffer and maximum still apply.
    b.click("table.components a[href$='/products/MUG']").await;
    b.fill("form.adjust input[name=delta]", "-6").await;
    b.click("form.adjust button").await;
    let refused = b.text("p.error").await;
    assert!(
        refused.contains("below 0") || refused.contains("negative"),
        "{refused}"
    );
    b.fill("form.adjust input[name=delta]", "4").await;
    b.fill("form.adjust input[name=reason]", "found a box")
        .await;
    b.click("form.adjust button").await;
    assert_eq!(
        b.text("p.created").await,
        "Stock changed: the api source is now 9."
    );
    assert_eq!(b.text("svg.explain .available .figure").await, "9");
    b.shot("product").await;
    b.goto(&format!(
        "{}/console/stores/{store}/products/GIFT-SET",
        app.address
    ))
    .await;
    assert_eq!(b.text("svg.explain .available .figure").await, "4");
    assert_eq!(b.text("svg.explain .pushed .figure").await, "3");
    let api = app
        .get(
            &owner,
            &format!("/v1/stores/{store}/stock/GIFT-SET/explain"),
        )
        .await
        .body;
    assert_eq!(api["available"], 4, "{api}");
    assert_eq!(api["listings"][0]["quantity"], 3, "{api}");
    b.close().await;
}
