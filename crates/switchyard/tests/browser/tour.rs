//! Every page of the console on a demo run (`switchyard demo
//! --keep-running`): each opens with its heading and no error. With
//! `SWITCHYARD_SCREENSHOTS=DIR` set, it saves a full-page PNG of each,
//! named `console-NN-page.png`; the README's pictures come from this run.

use switchyard_testkit::demo::KeptDemo;

use crate::Browser;
use crate::console::set_password;

/// Open `path`, check it is a console page that worked, and save it.
async fn visit(b: &mut Browser, base: &str, path: &str, name: &str) -> String {
    b.goto(&format!("{base}{path}")).await;
    let heading = b.text("main h1").await;
    let main = b.text("main").await;
    for broken in [
        "Something went wrong",
        "Not found",
        "Not allowed",
        "Form refused",
    ] {
        assert!(!heading.contains(broken), "{path}: {heading}");
    }
    assert!(!main.is_empty(), "{path} is empty");
    b.full_shot(name).await;
    main
}

#[tokio::test]
async fn every_console_page_of_a_demo_run_opens() {
    let demo = KeptDemo::start(env!("CARGO_BIN_EXE_switchyard"), 12);
    let base = demo.base.clone();
    let mut b = Browser::start("console").await;
    set_password(&mut b, &demo.link, "the demo password").await;
    let overview = visit(&mut b, &base, "/console", "overview").await;
    assert!(overview.contains("Demo store"), "{overview}");
    let store = b.href("section.store-panel h2 a").await;
    let store = store.trim_start_matches(&base).to_owned();
    visit(&mut b, &base, &store, "store").await;
    let channel = b.href("a[href*='/channels/ch_']").await;
    let channel = channel.trim_start_matches(&base).to_owned();
    visit(&mut b, &base, &channel, "channel").await;
    visit(
        &mut b,
        &base,
        &format!("{store}/channels/new?kind=shopify"),
        "connect-shopify",
    )
    .await;
    visit(&mut b, &base, &format!("{store}/products"), "products").await;
    let kit = visit(
        &mut b,
        &base,
        &format!("{store}/products/SKU-00003"),
        "explain-kit",
    )
    .await;
    assert!(
        kit.contains("SKU-00001") && kit.contains("SKU-00002"),
        "{kit}"
    );
    b.count("svg.explain", 1).await;
    let orders = visit(&mut b, &base, "/console/orders", "orders").await;
    assert!(orders.contains("Demo store"), "{orders}");
    visit(&mut b, &base, &format!("{store}/plugins"), "plugins").await;
    let plugin = b.href("table.plugins a").await;
    let plugin = plugin.trim_start_matches(&base).to_owned();
    visit(&mut b, &base, &plugin, "plugin").await;
    // The order the 3PL shipped: its plugin, messages and synced shipment.
    let order = b.href("table.plugin-orders a").await;
    let order = order.trim_start_matches(&base).to_owned();
    let page = visit(&mut b, &base, &order, "order").await;
    assert!(
        page.contains("order.routed") && page.contains("synced"),
        "{page}"
    );
    // The demo invoices every order as it arrives.
    assert!(page.contains("INV-0"), "{page}");
    b.count("table.invoices tr[data-invoice]", 1).await;
    visit(
        &mut b,
        &base,
        &format!("{store}/plugin-rules"),
        "plugin-rules",
    )
    .await;
    b.click("form.rules-editor button[type=submit]").await;
    let tried = b.text("table.dry-run").await;
    assert!(
        tried.contains("Venlo") || tried.contains("the store"),
        "{tried}"
    );
    b.full_shot("plugin-rules-dry-run").await;
    visit(&mut b, &base, &format!("{store}/webhooks"), "webhooks").await;
    let hook = b.href("table.webhooks a").await;
    let hook = hook.trim_start_matches(&base).to_owned();
    visit(&mut b, &base, &hook, "webhook").await;
    visit(&mut b, &base, "/console/settings", "settings").await;
    b.close().await;
}
