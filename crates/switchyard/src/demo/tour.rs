//! The rest of the product, after the stock loop: a fulfilment through the
//! API, an order routed by rule to the simulated 3PL, signed webhooks to a
//! loopback receiver, an order excluded by a country filter and one held by
//! rule. Each is one line with the time it took, measured from the action
//! (the API call, or the customer's order on the channel) to the moment the
//! outcome could be seen from outside: on the channel, at the receiver, or
//! through the API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};
use switchyard_sim::receiver::RunningReceiver;
use switchyard_sim::threepl::{RunningThreePl, ThreePlOptions};

use super::{Api, Shop};

/// The SKU the warehouse ships (no demo customer buys it in the stock loop).
pub(super) const ROUTED_SKU: &str = "SKU-00008";
/// Orders of this many units or more are held by rule.
const HOLD_FROM_UNITS: i64 = 5;
/// The country the channels do not ship to.
pub(super) const DENIED_COUNTRY: &str = "US";
/// Where the demo's customers live.
pub(super) const COUNTRIES: [&str; 5] = ["GB", "NL", "DE", "FR", "BE"];
const ROUTE_RULE: &str = "SKU-00008 ships from the Venlo warehouse";
const HOLD_RULE: &str = "check orders of 5 units or more";
/// A UPS number with a valid check digit (UPS's published sample).
const TRACKING: &str = "1Z999AA10123456784";
/// How long any one step may take before the demo says it did not happen.
const LIMIT: Duration = Duration::from_secs(20);
const EVERY: Duration = Duration::from_millis(10);

/// The simulated 3PL, connected to the store as a plugin.
pub(super) struct Warehouse {
    tpl: RunningThreePl,
    pub(super) plugin: String,
}

impl Warehouse {
    pub(super) async fn stop(self) {
        self.tpl.stop().await;
    }
}

/// Connect the simulated 3PL as the store's plugin, with a plugin token
/// for its reports, and save the store's rules: route [`ROUTED_SKU`] to it,
/// hold large orders.
pub(super) async fn connect_warehouse(api: &Api, store: &str) -> anyhow::Result<Warehouse> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/orders", listener.local_addr()?);
    let p = api
        .send(
            Method::POST,
            &format!("/v1/stores/{store}/plugins"),
            Some(json!({ "name": "Venlo warehouse", "url": url })),
        )
        .await?;
    let plugin = text(&p, "id")?;
    let token = api
        .send(
            Method::POST,
            &format!("/v1/plugins/{plugin}/tokens"),
            Some(json!({ "name": "venlo" })),
        )
        .await?;
    let tpl = switchyard_sim::threepl::spawn_on(
        ThreePlOptions {
            secret: text(&p, "secret")?,
            api_url: Some(api.base.clone()),
            token: Some(text(&token, "token")?),
            plugin_id: Some(plugin.clone()),
            ship_after: Duration::from_millis(250),
            stock: BTreeMap::new(),
            seed: 7,
        },
        listener,
    )?;
    api.send(
        Method::PUT,
        &format!("/v1/stores/{store}/plugin-rules"),
        Some(json!({ "rules": [
            { "name": ROUTE_RULE, "when": { "skus_any": [ROUTED_SKU] },
              "then": { "action": "send_to_plugin", "plugin_id": plugin } },
            { "name": HOLD_RULE, "when": { "min_quantity": HOLD_FROM_UNITS },
              "then": { "action": "hold", "reason": "5 or more units: check before shipping" } },
        ]})),
    )
    .await?;
    Ok(Warehouse { tpl, plugin })
}

/// Subscribe a loopback receiver to the store's webhooks; it checks every
/// signature with the secret the subscription answers with.
pub(super) async fn subscribe_receiver(api: &Api, store: &str) -> anyhow::Result<RunningReceiver> {
    let receiver = switchyard_sim::receiver::spawn().await?;
    let hook = api
        .send(
            Method::POST,
            &format!("/v1/stores/{store}/webhooks"),
            Some(
                json!({ "url": receiver.url(), "description": "the demo's receiver",
                         "events": ["order.created", "order.excluded", "order.on_hold",
                                    "fulfilment.created", "fulfilment.updated"] }),
            ),
        )
        .await?;
    receiver.set_secret(&text(&hook, "secret")?)?;
    Ok(receiver)
}

fn text(v: &Value, key: &str) -> anyhow::Result<String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("answer without {key}: {v}"))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Ask `probe` every 10 ms until it returns something, at most [`LIMIT`].
async fn until<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        if let Some(v) = probe().await? {
            return Ok(v);
        }
        tokio::time::sleep(EVERY).await;
    }
    bail!("{what}: not within {} s", LIMIT.as_secs())
}

/// What the tour did, for the next-steps block.
pub(super) struct Toured {
    /// Our id of the order that was fulfilled through the API.
    pub(super) fulfilled_order: String,
    /// Our id of an open order (the held one), to fulfil by hand.
    pub(super) open_order: String,
}

/// The store, its shops and channels as the stock loop left them.
pub(super) struct Tour<'a> {
    pub(super) api: &'a Api,
    pub(super) store: &'a str,
    pub(super) shops: &'a [Shop],
    pub(super) channels: &'a [String],
    pub(super) warehouse: &'a Warehouse,
    pub(super) receiver: &'a RunningReceiver,
}

impl Tour<'_> {
    /// Our order for `channel_order_id` of shop `i`, once imported.
    async fn imported(&self, i: usize, channel_order_id: &str) -> anyhow::Result<Value> {
        let path = format!(
            "/v1/orders?store_id={}&channel_id={}&limit=1000",
            self.store, self.channels[i]
        );
        until(&format!("order {channel_order_id} imported"), || async {
            let list = self.api.send(Method::GET, &path, None).await?;
            Ok(list["items"]
                .as_array()
                .and_then(|l| l.iter().find(|o| o["channel_order_id"] == channel_order_id))
                .cloned())
        })
        .await
    }

    /// Our order `id`, once `done` holds of it.
    async fn order_when(
        &self,
        id: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let path = format!("/v1/orders/{id}");
        until(what, || async {
            let o = self.api.send(Method::GET, &path, None).await?;
            Ok(done(&o).then_some(o))
        })
        .await
    }

    /// A customer's order on shop `i`; a polled shop is asked to import
    /// at once, so the demo does not wait for its cadence.
    async fn sell(&self, i: usize, body: Value) -> anyhow::Result<String> {
        let id = self.shops[i].sim.place_order(&body).await?;
        if !self.shops[i].push {
            self.api
                .send(
                    Method::POST,
                    &format!(
                        "/v1/stores/{}/channels/{}/import",
                        self.store, self.channels[i]
                    ),
                    Some(json!({})),
                )
                .await?;
        }
        Ok(id)
    }

    /// How shop `i`'s order reached us, when not by notification.
    fn polled(&self, i: usize) -> String {
        if self.shops[i].push {
            String::new()
        } else {
            format!(
                " (imported on request; {} is polled every {} s)",
                self.shops[i].name, self.shops[i].cadence
            )
        }
    }

    /// Run every scene, printing a line each.
    pub(super) async fn run(&self, first_sale: (usize, &str)) -> anyhow::Result<Toured> {
        println!("\nThe rest of the loop (time from the action to the outcome seen from outside)");
        let fulfilled_order = self.fulfil(first_sale).await?;
        // Scenes on the channels that notify us, where there are two.
        let push: Vec<usize> = (0..self.shops.len())
            .filter(|&i| self.shops[i].push)
            .collect();
        let a = push.first().copied().unwrap_or(0);
        let b = push.get(1).copied().unwrap_or((a + 1) % self.shops.len());
        let (routed, sold_at) = self.route_to_warehouse(b).await?;
        self.excluded(a).await?;
        let open_order = self.held(b).await?;
        self.webhooks(&routed, sold_at).await?;
        Ok(Toured {
            fulfilled_order,
            open_order,
        })
    }

    /// A fulfilment through the API, its carrier derived from the number,
    /// synced to the order's channel.
    async fn fulfil(&self, (i, channel_order_id): (usize, &str)) -> anyhow::Result<String> {
        let order = self.imported(i, channel_order_id).await?;
        let id = text(&order, "id")?;
        let start = Instant::now();
        let f = self
            .api
            .send(
                Method::POST,
                &format!("/v1/orders/{id}/fulfilments"),
                Some(json!({ "tracking": [{ "number": TRACKING }] })),
            )
            .await?;
        let fid = text(&f, "id")?;
        let path = format!("/v1/fulfilments/{fid}");
        until("the fulfilment synced", || async {
            let f = self.api.send(Method::GET, &path, None).await?;
            Ok((f["sync"]["state"] == "synced").then_some(()))
        })
        .await?;
        let how = if f["carrier_detected"] == true {
            "from the number"
        } else {
            "as given"
        };
        println!(
            "  fulfilment {:>7.0} ms   {} order {channel_order_id} shipped through the API with {TRACKING}: carrier {} ({how}), synced to {}",
            ms(start),
            self.shops[i].name,
            f["carrier"].as_str().unwrap_or("?"),
            self.shops[i].name
        );
        Ok(id)
    }

    /// A customer buys the warehouse's SKU: the rule routes the order to
    /// the 3PL, which ships it and reports the shipment, which is synced
    /// to the channel. Returns our order id and when it was sold.
    async fn route_to_warehouse(
        &self,
        i: usize,
    ) -> anyhow::Result<(String, chrono::DateTime<chrono::Utc>)> {
        let start = Instant::now();
        let sold_at = chrono::Utc::now();
        let cid = self
            .sell(
                i,
                json!({ "lines": [{ "sku": ROUTED_SKU, "quantity": 1 }], "country": "NL" }),
            )
            .await?;
        let order = self.imported(i, &cid).await?;
        let id = text(&order, "id")?;
        let shipped = self
            .order_when(&id, "the 3PL's shipment synced", |o| {
                o["fulfilments"][0]["sync"]["state"] == "synced"
            })
            .await?;
        let routed_to_us = shipped["plugin_id"] == self.warehouse.plugin.as_str();
        if !routed_to_us {
            bail!("order {cid} was not routed to the warehouse: {shipped}");
        }
        println!(
            "  3PL        {:>7.0} ms   {} order {cid} (1×{ROUTED_SKU}) → rule \"{}\" → Venlo warehouse → shipped with {} {} → synced to {}{}",
            ms(start),
            self.shops[i].name,
            shipped["routed_by"].as_str().unwrap_or(ROUTE_RULE),
            shipped["fulfilments"][0]["carrier"]
                .as_str()
                .unwrap_or("?")
                .to_uppercase(),
            shipped["fulfilments"][0]["tracking"][0]["number"]
                .as_str()
                .unwrap_or("?"),
            self.shops[i].name,
            self.polled(i),
        );
        Ok((id, sold_at))
    }

    /// An order to a country the channel does not ship to is kept,
    /// excluded.
    async fn excluded(&self, i: usize) -> anyhow::Result<()> {
        let start = Instant::now();
        let cid = self
            .sell(
                i,
                json!({ "lines": [{ "sku": "SKU-00009", "quantity": 1 }], "country": DENIED_COUNTRY }),
            )
            .await?;
        let order = self.imported(i, &cid).await?;
        let o = self
            .order_when(&text(&order, "id")?, "the order excluded", |o| {
                o["state"] == "excluded"
            })
            .await?;
        println!(
            "  filter     {:>7.0} ms   {} order {cid} to {DENIED_COUNTRY} → excluded ({}): kept and visible, no stock committed{}",
            ms(start),
            self.shops[i].name,
            o["excluded_reason"].as_str().unwrap_or("country filter"),
            self.polled(i)
        );
        Ok(())
    }

    /// A large order is held by rule. Returns our order id.
    async fn held(&self, i: usize) -> anyhow::Result<String> {
        let start = Instant::now();
        let cid = self
            .sell(
                i,
                json!({ "lines": [{ "sku": "SKU-00009", "quantity": HOLD_FROM_UNITS }], "country": "DE" }),
            )
            .await?;
        let order = self.imported(i, &cid).await?;
        let id = text(&order, "id")?;
        let o = self
            .order_when(&id, "the order held", |o| o["state"] == "on_hold")
            .await?;
        println!(
            "  hold       {:>7.0} ms   {} order {cid} ({HOLD_FROM_UNITS}×SKU-00009) → on hold by rule \"{HOLD_RULE}\" ({}){}",
            ms(start),
            self.shops[i].name,
            o["hold_reason"].as_str().unwrap_or("-"),
            self.polled(i)
        );
        Ok(id)
    }

    /// The receiver got signed deliveries of all of it; each signature is
    /// checked with the subscription's secret.
    async fn webhooks(
        &self,
        routed: &str,
        sold_at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<()> {
        let wanted = [
            "order.created",
            "fulfilment.created",
            "order.excluded",
            "order.on_hold",
        ];
        let got = until("the webhooks delivered", || async {
            let got = self.receiver.received();
            let types: Vec<&str> = got.iter().filter_map(|r| r.event_type.as_deref()).collect();
            Ok(wanted.iter().all(|w| types.contains(w)).then_some(got))
        })
        .await?;
        let created = got
            .iter()
            .find(|r| {
                r.event_type.as_deref() == Some("order.created") && r.body["data"]["id"] == routed
            })
            .context("no order.created for the 3PL's order")?;
        let after = (created.received_at - sold_at).num_milliseconds();
        let bad: Vec<&str> = got
            .iter()
            .filter_map(|r| r.verified.as_ref().err().map(String::as_str))
            .collect();
        if let Some(why) = bad.first() {
            bail!("{} webhook deliveries did not verify: {why}", bad.len());
        }
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &got {
            *kinds
                .entry(r.event_type.as_deref().unwrap_or("?"))
                .or_default() += 1;
        }
        println!(
            "  webhooks   {after:>7} ms   the 3PL order's order.created, from the sale to the receiver; {} signed deliveries to {}, every signature verified (Standard Webhooks): {}",
            got.len(),
            self.receiver.url(),
            kinds
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(())
    }
}
