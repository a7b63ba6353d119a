//! The API reference at `/docs` in Chromium: Swagger UI, served from the
//! binary (no CDN), renders the served OpenAPI document with every tag.

use serde_json::Value;

use crate::Browser;

#[tokio::test]
async fn the_api_reference_shows_every_tag() {
    let app = switchyard_testkit::spawn_api_only().await;
    let doc: Value = reqwest::get(format!("{}/v1/openapi.json", app.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tags: Vec<String> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(tags.len() >= 15, "{tags:?}");

    let mut b = Browser::start("docs").await;
    b.goto(&format!("{}/docs", app.address)).await;
    let title = b.text(".swagger-ui .info .title").await;
    assert!(title.contains("Switchyard API"), "{title}");
    for tag in &tags {
        let shown = b.text(&format!("h3.opblock-tag[data-tag=\"{tag}\"]")).await;
        assert!(shown.contains(tag.as_str()), "{tag}: {shown}");
    }
    // Operations render with their paths, and bearer auth can be set.
    let ops = b
        .client
        .find_all(fantoccini::Locator::Css(".opblock .opblock-summary-path"))
        .await
        .unwrap();
    assert!(ops.len() >= 100, "{} operations rendered", ops.len());
    b.find("button.authorize").await;
    b.shot("reference").await;
    b.click("#operations-orders-get_order .opblock-summary")
        .await;
    let responses = b
        .text("#operations-orders-get_order .responses-table")
        .await;
    for status in ["200", "401", "404", "503"] {
        assert!(responses.contains(status), "{status}: {responses}");
    }
    b.client
        .execute(
            "document.querySelector('#operations-orders-get_order .responses-wrapper').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    b.shot("order operation").await;
}
