//! `switchyard demo`: the whole core loop on this machine with nothing to
//! set up. It starts the API (embedded SQLite in a temporary directory) with
//! its workers and the chosen channel simulators (Shopify and WooCommerce by
//! default; Etsy, eBay and bol.com on request) sharing one catalogue (one
//! SKU is a kit in the store), connects every channel with stock sync on
//! (order notifications where the channel sends them, a short poll where it
//! does not), has simulated customers buy on each channel in turn, and
//! prints each sale's propagation delay: from the order's creation on its
//! channel to the moment every other channel shows the new stock of every
//! SKU it touched.
#![allow(
    clippy::print_stdout,
    reason = "the demo's output is for the person running it"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use switchyard_sim::{Channel, RunningSim, SimOptions};

use crate::{Application, Config, EngineConfig, create_token, shutdown_signal};

mod tour;

/// Options of the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Orders the simulated customers place.
    pub orders: usize,
    /// Pause between orders.
    pub pace: Duration,
    /// Port of the API (0: any free port).
    pub port: u16,
    /// Keep the API and simulators running after the summary, until Ctrl-C.
    pub keep_running: bool,
    /// Seed of the simulated shops and customers.
    pub seed: u64,
    /// The channels to simulate and connect (at least two, no repeats).
    pub channels: Vec<Channel>,
}

/// The kit SKU and its components.
const KIT: &str = "SKU-00003";
const KIT_PARTS: [(&str, i64); 2] = [("SKU-00001", 1), ("SKU-00002", 2)];
const START: i64 = 25;
/// What customers buy (the kit included).
const BASKET: [&str; 7] = [
    "SKU-00001",
    "SKU-00002",
    KIT,
    "SKU-00004",
    "SKU-00006",
    "SKU-00007",
    "SKU-00005-M",
];

struct Shop {
    name: String,
    kind: &'static str,
    sim: RunningSim,
    /// Seconds between polls (the fallback when notifications are on).
    cadence: u64,
    /// Whether the channel notifies us of new orders.
    push: bool,
}

impl Shop {
    async fn stock(&self) -> anyhow::Result<BTreeMap<String, i64>> {
        Ok(self.sim.shown_stock().await?)
    }
}

/// A client of the API under one token (the demo's and the benchmarks').
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) http: reqwest::Client,
}

impl Api {
    /// A new token of `account` on the server at `addr`, and a new store
    /// `name` made with it: the client and the store id.
    pub(crate) async fn with_new_store(
        storage: &dyn switchyard_storage::Storage,
        addr: std::net::SocketAddr,
        account: &str,
        name: &str,
    ) -> anyhow::Result<(Self, String)> {
        let (token, _) = create_token(storage, account, None, account).await?;
        let api = Self {
            base: format!("http://{addr}"),
            token: token.expose_secret().to_owned(),
            http: reqwest::Client::new(),
        };
        let store = api
            .send(
                reqwest::Method::POST,
                "/v1/stores",
                Some(json!({ "name": name })),
            )
            .await?["id"]
            .as_str()
            .context("store without id")?
            .to_owned();
        Ok((api, store))
    }

    /// Send a request; a non-2xx answer is an error carrying its body.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{method} {path}: {status} {v}");
        }
        Ok(v)
    }
}

/// What each channel should show after `sold` units were committed.
fn expected(skus: &[String], sold: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let avail = |s: &str| START - sold.get(s).copied().unwrap_or(0);
    skus.iter()
        .map(|s| {
            let q = if s == KIT {
                KIT_PARTS
                    .iter()
                    .map(|(c, per)| avail(c).max(0) / per)
                    .min()
                    .unwrap_or(0)
            } else {
                avail(s).max(0)
            };
            (s.clone(), q)
        })
        .collect()
}

/// The kit's figure worked out from its recipe, e.g.
/// `1 × SKU-00001 + 2 × SKU-00002 → min(⌊23/1⌋, ⌊21/2⌋) = min(23, 10) = 10`.
fn kit_recipe(sold: &BTreeMap<String, i64>) -> String {
    let avail = |s: &str| (START - sold.get(s).copied().unwrap_or(0)).max(0);
    let parts: Vec<String> = KIT_PARTS
        .iter()
        .map(|(c, per)| format!("{per} × {c}"))
        .collect();
    let floors: Vec<String> = KIT_PARTS
        .iter()
        .map(|(c, per)| format!("⌊{}/{per}⌋", avail(c)))
        .collect();
    let each: Vec<i64> = KIT_PARTS.iter().map(|(c, per)| avail(c) / per).collect();
    format!(
        "{} → min({}) = min({}) = {}",
        parts.join(" + "),
        floors.join(", "),
        each.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        each.iter().min().copied().unwrap_or(0)
    )
}

/// How the demo connects a channel: its name, API kind, poll cadence and
/// whether it pushes order notifications. bol.com allows 7 order-list calls
/// per 3 minutes, so it is polled every 30 s.
fn profile(channel: Channel) -> (&'static str, &'static str, u64, bool) {
    match channel {
        Channel::Shopify => ("Shopify", "shopify", 60, true),
        Channel::WooCommerce => ("WooCommerce", "woocommerce", 60, true),
        Channel::Etsy => ("Etsy", "etsy", 10, false),
        Channel::Ebay => ("eBay", "ebay", 10, false),
        Channel::Bolcom => ("bol.com", "bolcom", 30, false),
        Channel::Amazon => ("Amazon", "amazon", 10, false),
        // Accounting packages are not sales channels; the demo never
        // connects them as one.
        Channel::Xero => ("Xero", "xero", 60, false),
        Channel::Sage => ("Sage", "sage", 60, false),
    }
}

/// The credentials a channel of `kind` is connected with: a Shopify app's
/// token and secret, or whatever the simulator hands out.
pub(crate) fn channel_credentials(kind: &str, sim: &RunningSim) -> Value {
    if kind == "shopify" {
        json!({ "access_token": sim.credentials["access_token"],
                "api_secret_key": sim.credentials["api_secret_key"] })
    } else {
        sim.credentials.clone()
    }
}

async fn start_shops(seed: u64, channels: &[Channel]) -> anyhow::Result<Vec<Shop>> {
    let opts = SimOptions {
        seed,
        products: 12,
        orders: 0,
        schema: None,
    };
    let mut shops = Vec::with_capacity(channels.len());
    for &channel in channels {
        let (name, kind, cadence, push) = profile(channel);
        let shop = Shop {
            name: name.to_owned(),
            kind,
            sim: switchyard_sim::spawn(channel, &opts).await?,
            cadence,
            push,
        };
        if channel == Channel::Amazon {
            // Amazon lists an order change two minutes after it happens; the
            // demo's simulator lists it at once, so each sale is timed by
            // Switchyard rather than by that delay.
            reqwest::Client::new()
                .put(format!("{}/_sim/lag", shop.sim.base_url()))
                .json(&json!({ "seconds": 0 }))
                .send()
                .await?
                .error_for_status()?;
            println!(
                "  (the Amazon simulator lists orders at once; Amazon itself lists them after 2 minutes)"
            );
        }
        shops.push(shop);
    }
    Ok(shops)
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Run the demo.
pub async fn run(opts: DemoOptions) -> anyhow::Result<()> {
    if opts.channels.len() < 2 {
        bail!("the demo needs at least two channels (e.g. --channels shopify,woocommerce)");
    }
    for (i, c) in opts.channels.iter().enumerate() {
        if opts.channels[..i].contains(c) {
            bail!("--channels names {} twice", c.as_str());
        }
    }
    let data = tempfile::Builder::new()
        .prefix("switchyard-demo-")
        .tempdir()
        .context("cannot create a temporary data directory")?;
    let mut config = Config::load(None)?;
    config.data_dir = data.path().to_path_buf();
    config.database_url = String::new();
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], opts.port));
    config.public_url = String::new();
    config.role = crate::config::Role::All;
    // The 3PL and the webhook receiver listen on this machine.
    config.outbound_allow = "127.0.0.1".to_owned();
    let engine = EngineConfig {
        tick: Duration::from_millis(100),
        initial_lookback: chrono::Duration::minutes(10),
        ..EngineConfig::default()
    };
    let app = Application::build_with(&config, engine).await?;
    let addr = app.local_addr()?;
    let storage = app.storage();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stop_rx.await;
    }));
    println!("Switchyard demo");
    println!(
        "  API          http://{addr}   (SQLite in {})",
        data.path().display()
    );
    let shops = start_shops(opts.seed, &opts.channels).await?;
    for s in &shops {
        let how = if s.push {
            "order notifications".to_owned()
        } else {
            format!("polled every {} s", s.cadence)
        };
        println!("  {:<12} {}   (simulator; {how})", s.name, s.sim.base_url());
    }

    let (api, store) = Api::with_new_store(storage.as_ref(), addr, "demo", "Demo store").await?;
    let skus: Vec<String> = shops[0].stock().await?.into_keys().collect();
    for sku in skus.iter().filter(|s| s.as_str() != KIT) {
        api.send(
            reqwest::Method::POST,
            &format!("/v1/stores/{store}/products"),
            Some(json!({ "sku": sku, "title": sku })),
        )
        .await?;
    }
    let parts: Vec<Value> = KIT_PARTS
        .iter()
        .map(|(s, q)| json!({ "sku": s, "quantity": q }))
        .collect();
    api.send(
        reqwest::Method::POST,
        &format!("/v1/stores/{store}/products"),
        Some(json!({ "sku": KIT, "title": "Bundle: 1 × SKU-00001 + 2 × SKU-00002", "components": parts })),
    )
    .await?;
    let items: Vec<Value> = skus
        .iter()
        .filter(|s| s.as_str() != KIT)
        .map(|s| json!({ "sku": s, "quantity": START }))
        .collect();
    api.send(
        reqwest::Method::POST,
        &format!("/v1/stores/{store}/stock"),
        Some(json!({ "items": items })),
    )
    .await?;
    let mut channels = Vec::new();
    for shop in &shops {
        let creds = channel_credentials(shop.kind, &shop.sim);
        let ch = api
            .send(
                reqwest::Method::POST,
                &format!("/v1/stores/{store}/channels"),
                Some(
                    json!({ "name": shop.name, "kind": shop.kind, "base_url": shop.sim.base_url(),
                    "credentials": creds,
                    "settings": { "cadence_secs": shop.cadence, "auto_sync_stock": true,
                                  "push_notifications": shop.push,
                                  "order_filters": { "countries": { "deny": [tour::DENIED_COUNTRY] } } } }),
                ),
            )
            .await?;
        channels.push(ch["id"].as_str().context("channel without id")?.to_owned());
    }
    let warehouse = tour::connect_warehouse(&api, &store).await?;
    // Every order is invoiced as it is imported.
    api.send(
        reqwest::Method::PUT,
        &format!("/v1/stores/{store}/invoice-settings"),
        Some(json!({ "auto": "imported",
            "seller": { "name": "Demo Trading B.V.", "address": ["Keizersgracht 1", "1015 CJ Amsterdam", "Netherlands"],
                        "vat_number": "NL000099998B57", "email": "billing@demo.example" },
            "tax_rates": { "default_bp": 2100 }, "footer": "Thank you for your order." })),
    )
    .await?;
    println!(
        "  store {store} with {} SKUs (kit {KIT}), {START} units each; {} channels",
        skus.len(),
        channels.len()
    );
    println!(
        "  plugin {} (the Venlo 3PL) takes {} by rule; orders of 5+ units are held; orders to {} are excluded",
        warehouse.plugin,
        tour::ROUTED_SKU,
        tour::DENIED_COUNTRY
    );

    let mut sold: BTreeMap<String, i64> = BTreeMap::new();
    let all: Vec<&RunningSim> = shops.iter().map(|s| &s.sim).collect();
    let every = Duration::from_millis(10);
    let initial = wait_converged(
        &all,
        &expected(&skus, &sold),
        Duration::from_secs(60),
        Instant::now(),
        every,
    )
    .await;
    println!(
        "  initial stock on every channel in {:.0} ms\n",
        initial.unwrap_or(f64::NAN)
    );

    println!(
        "  #  channel        order                bought                     every other channel updated after"
    );
    // Per source channel: the delays of its sales.
    let mut delays: Vec<Vec<f64>> = vec![Vec::new(); shops.len()];
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut sales: Vec<(usize, String)> = Vec::with_capacity(opts.orders);
    for i in 0..opts.orders {
        let side = i % shops.len();
        let from = &shops[side];
        let others: Vec<&RunningSim> = shops
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != side)
            .map(|(_, s)| &s.sim)
            .collect();
        let n = rng.usize(1..=2);
        let mut lines: Vec<(String, i64)> = Vec::new();
        for _ in 0..n {
            let sku = BASKET[rng.usize(..BASKET.len())];
            if !lines.iter().any(|(s, _)| s == sku) {
                lines.push((sku.to_owned(), rng.i64(1..=2)));
            }
        }
        let country = tour::COUNTRIES[rng.usize(..tour::COUNTRIES.len())];
        let body = json!({ "lines": lines.iter().map(|(s, q)| json!({ "sku": s, "quantity": q })).collect::<Vec<_>>(),
                           "country": country });
        let started = Instant::now();
        let id = from.sim.place_order(&body).await?;
        sales.push((side, id.clone()));
        for (s, q) in &lines {
            if s == KIT {
                for (c, per) in KIT_PARTS {
                    *sold.entry(c.to_owned()).or_default() += per * q;
                }
            } else {
                *sold.entry(s.clone()).or_default() += q;
            }
        }
        let want = expected(&skus, &sold);
        // A polled channel's sale is seen at its next poll.
        let limit = Duration::from_secs(30 + if from.push { 0 } else { from.cadence });
        let delay = wait_converged(&others, &want, limit, started, every).await;
        let bought = lines
            .iter()
            .map(|(s, q)| format!("{q}×{s}"))
            .collect::<Vec<_>>()
            .join(", ");
        match delay {
            Some(ms) => {
                delays[side].push(ms);
                println!(
                    "  {:>2} {:<14} {:<20} {:<26} {:>6.0} ms",
                    i + 1,
                    from.name,
                    id,
                    bought,
                    ms
                );
            }
            None => println!(
                "  {:>2} {:<14} {:<20} {:<26}  not within {} s",
                i + 1,
                from.name,
                id,
                bought,
                limit.as_secs()
            ),
        }
        tokio::time::sleep(opts.pace).await;
    }

    // Final state: our figures and each channel's, per SKU.
    let want = expected(&skus, &sold);
    let converged = wait_converged(&all, &want, Duration::from_secs(30), Instant::now(), every)
        .await
        .is_some();
    let mut shown = Vec::with_capacity(shops.len());
    for s in &shops {
        shown.push(s.stock().await?);
    }
    print!("\n  stock per SKU     Switchyard");
    for s in &shops {
        print!("  {:>12}", s.name);
    }
    println!();
    for sku in &skus {
        let ok = shown.iter().all(|m| m.get(sku) == want.get(sku));
        print!("  {:<16} {:>11}", sku, want[sku]);
        for m in &shown {
            print!(
                "  {:>12}",
                m.get(sku).map_or("-".into(), ToString::to_string)
            );
        }
        let recipe = if sku == KIT {
            format!("   kit: {}", kit_recipe(&sold))
        } else {
            String::new()
        };
        println!("  {}{recipe}", if ok { "✓" } else { "✗" });
    }

    // The rest of the product, on the same store and channels.
    let receiver = tour::subscribe_receiver(&api, &store).await?;
    let first = shops.iter().position(|s| s.push).unwrap_or(0);
    let first_sale = sales
        .iter()
        .find(|(side, _)| *side == first)
        .or(sales.first())
        .map(|(side, id)| (*side, id.as_str()))
        .context("the demo needs at least one order (--orders 1 or more)")?;
    let toured = tour::Tour {
        api: &api,
        store: &store,
        shops: &shops,
        channels: &channels,
        warehouse: &warehouse,
        receiver: &receiver,
    }
    .run(first_sale)
    .await;

    let imported = api
        .send(
            reqwest::Method::GET,
            &format!("/v1/orders?store_id={store}&limit=1000"),
            None,
        )
        .await?;
    let items = imported["items"].as_array().cloned().unwrap_or_default();
    let once = sales
        .iter()
        .filter(|(side, id)| {
            items
                .iter()
                .filter(|o| {
                    o["channel_id"] == channels[*side] && o["channel_order_id"] == id.as_str()
                })
                .count()
                == 1
        })
        .count();
    println!("\nSummary");
    println!(
        "  orders imported    {once} of the {} sales of the stock loop, each exactly once ({} orders in the store)",
        sales.len(),
        items.len()
    );
    println!(
        "  channel         placed   p50 ms   p95 ms   max ms   (sale here → every other channel shows it)"
    );
    let mut everything: Vec<f64> = Vec::new();
    for (i, s) in shops.iter().enumerate() {
        let mut d = delays[i].clone();
        d.sort_by(f64::total_cmp);
        everything.extend(&d);
        let placed = (0..opts.orders).filter(|n| n % shops.len() == i).count();
        println!(
            "  {:<14} {:>7} {:>8.0} {:>8.0} {:>8.0}   {}",
            s.name,
            placed,
            percentile(&d, 50.0),
            percentile(&d, 95.0),
            d.last().copied().unwrap_or(0.0),
            if s.push {
                "notified".to_owned()
            } else {
                format!("polled every {} s", s.cadence)
            }
        );
    }
    everything.sort_by(f64::total_cmp);
    println!(
        "  propagation        p50 {:.0} ms · p95 {:.0} ms · max {:.0} ms over {} sales",
        percentile(&everything, 50.0),
        percentile(&everything, 95.0),
        everything.last().copied().unwrap_or(0.0),
        everything.len()
    );
    println!(
        "  stock converged    {}",
        if converged {
            "yes, every SKU on every channel"
        } else {
            "NO"
        }
    );
    println!("  (the commercial hubs this replaces poll every 3–5 minutes)");
    if let Err(e) = &toured {
        println!("  the rest of the loop STOPPED: {e:#}");
    }
    let (shown_order, open_order) = toured.as_ref().map_or_else(
        |_| ("ORDER_ID".to_owned(), "ORDER_ID".to_owned()),
        |t| (t.fulfilled_order.clone(), t.open_order.clone()),
    );
    let auth = "-H \"Authorization: Bearer $TOKEN\"";
    println!("\nNext steps");
    if opts.keep_running {
        let link = console_link(storage.as_ref(), addr).await?;
        println!("  Open the console: {link}");
        println!(
            "    (a single-use link: it sets the password of {DEMO_OWNER}, the demo account's owner, and signs in)"
        );
        println!(
            "  The API, the shops, the 3PL and the receiver stay up until Ctrl-C. In another terminal:"
        );
    } else {
        println!(
            "  cargo run --release -- demo --keep-running    # the same, left running; the lines below then work as printed"
        );
        println!(
            "  cargo run --release -- serve                   # the real server (README: \"Get a token and make a first call\")"
        );
    }
    println!("  export SY=http://{addr} TOKEN={}", api.token);
    println!(
        "  curl -s {auth} $SY/v1/orders/{shown_order}                         # an order: unified format, lines, fulfilments, journal"
    );
    println!(
        "  curl -s {auth} $SY/v1/stores/{store}/stock/{KIT}/explain   # why the kit shows what it shows"
    );
    println!(
        "  curl -s {auth} \"$SY/v1/stores/{store}/invoices?limit=5\"     # invoices made as orders arrived; $SY/v1/invoices/<id>.pdf is the PDF"
    );
    println!(
        "  curl -s {auth} -H 'Content-Type: application/json' -X POST $SY/v1/orders/{open_order}/fulfilments \\\n       -d '{{\"tracking\": [{{\"number\": \"RM123456785GB\"}}]}}'   # ship the held order (Royal Mail, from the number)"
    );
    println!(
        "  curl -s -X POST {}/_sim/orders -d '{{\"lines\":[{{\"sku\":\"SKU-00004\",\"quantity\":1}}]}}'   # a customer buys on {}",
        shops[0].sim.base_url(),
        shops[0].name
    );
    if opts.keep_running {
        println!("Press Ctrl-C to stop.");
        shutdown_signal().await;
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    for s in shops {
        s.sim.stop().await;
    }
    warehouse.stop().await;
    receiver.stop().await;
    if !converged {
        bail!("the channels did not converge on the expected stock");
    }
    toured.map(|_| ())
}

/// The demo account's owner, who signs in to the console.
const DEMO_OWNER: &str = "owner@demo.switchyard.test";

/// The demo account's owner and their link to set a password and sign in.
async fn console_link(
    storage: &dyn switchyard_storage::Storage,
    addr: std::net::SocketAddr,
) -> anyhow::Result<String> {
    let account = storage.ensure_account("demo").await?;
    let links = switchyard_api::console::Links::new(&format!("http://{addr}"));
    let (_, link) = switchyard_api::console::invite(
        storage,
        &links,
        &account.id,
        DEMO_OWNER,
        switchyard_domain::user::Role::Owner,
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot make the console's owner: {e}"))?;
    Ok(link)
}

/// Milliseconds from `start` until every simulator shows `want` (asked
/// every `every`), or `None` after `limit`.
pub(crate) async fn wait_converged(
    sims: &[&RunningSim],
    want: &BTreeMap<String, i64>,
    limit: Duration,
    start: Instant,
    every: Duration,
) -> Option<f64> {
    while start.elapsed() < limit {
        let mut all = true;
        for s in sims {
            if s.shown_stock().await.ok().as_ref() != Some(want) {
                all = false;
                break;
            }
        }
        if all {
            return Some(start.elapsed().as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(every).await;
    }
    None
}
