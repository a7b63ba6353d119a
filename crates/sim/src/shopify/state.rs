//! The shop's data, and its rendering as Admin API objects (JSON with
//! `__typename`, money as `MoneyBag`, ids as `gid://shopify/…`).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::decimal;
use crate::seed;

/// The Admin API access token and app secret the simulator accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShopifyCredentials {
    /// `shpat_…`, sent as `X-Shopify-Access-Token`.
    pub access_token: String,
    /// `shpss_…`, the app's secret: signs webhooks (`X-Shopify-Hmac-Sha256`).
    pub api_secret_key: String,
}

impl ShopifyCredentials {
    /// Credentials derived from the seed.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        Self {
            access_token: format!("shpat_sim{seed:023x}"),
            api_secret_key: format!("shpss_sim{seed:023x}"),
        }
    }
}

pub(crate) const CURRENCY: &str = "GBP";
pub(crate) const LOCATION_ID: u64 = 71_000_001;
/// VAT in per cent, added on top of line and shipping prices.
pub(crate) const TAX_PCT: i64 = 20;

pub(crate) fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The numeric id of a `gid://shopify/{kind}/{id}`.
pub(crate) fn parse_gid(kind: &str, s: &str) -> Option<u64> {
    s.strip_prefix("gid://shopify/")?
        .strip_prefix(kind)?
        .strip_prefix('/')?
        .split('?')
        .next()?
        .parse()
        .ok()
}

pub(crate) fn time(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

pub(crate) fn money(minor: i64) -> Value {
    let m = json!({ "amount": decimal(minor, 2), "currencyCode": CURRENCY });
    json!({ "shopMoney": m, "presentmentMoney": m })
}

pub(crate) fn tax(amount: i64) -> i64 {
    (amount * TAX_PCT + 50) / 100
}

#[derive(Debug, Clone)]
pub(crate) struct Variant {
    pub id: u64,
    pub product_id: u64,
    pub inventory_item_id: u64,
    pub sku: Option<String>,
    pub title: String,
    pub price: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub id: u64,
    pub title: String,
    pub variants: Vec<u64>,
    pub updated_ms: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub id: u64,
    pub variant_id: Option<u64>,
    pub sku: Option<String>,
    pub title: String,
    pub variant_title: Option<String>,
    pub quantity: i64,
    pub unit_price: i64,
    pub discount: i64,
    pub fulfilled: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct FoLine {
    pub id: u64,
    pub line_id: u64,
    pub total: i64,
    pub remaining: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct FulfillmentOrder {
    pub id: u64,
    pub status: &'static str,
    pub lines: Vec<FoLine>,
}

#[derive(Debug, Clone)]
pub(crate) struct Fulfillment {
    pub id: u64,
    pub name: String,
    pub created_ms: i64,
    pub company: Option<String>,
    pub tracking: Vec<(String, Option<String>)>,
    pub lines: Vec<(u64, u64, i64)>,
    pub updated_ms: i64,
    pub cancelled: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub id: u64,
    pub number: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub cancelled_ms: Option<i64>,
    pub financial: &'static str,
    pub customer: seed::Person,
    pub customer_id: u64,
    pub shipping_title: String,
    pub shipping: i64,
    pub lines: Vec<Line>,
    pub fulfillment_orders: Vec<FulfillmentOrder>,
    pub fulfillments: Vec<Fulfillment>,
    /// Order tags (set when placed through the control API).
    pub tags: Vec<String>,
}

impl Order {
    pub fn line_total(l: &Line) -> i64 {
        l.unit_price * l.quantity - l.discount
    }
    pub fn subtotal(&self) -> i64 {
        self.lines.iter().map(Self::line_total).sum()
    }
    pub fn tax_total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| tax(Self::line_total(l)))
            .sum::<i64>()
            + tax(self.shipping)
    }
    pub fn total(&self) -> i64 {
        self.subtotal() + self.shipping + self.tax_total()
    }
    pub fn discounts(&self) -> i64 {
        self.lines.iter().map(|l| l.discount).sum()
    }
    pub fn fulfillment_status(&self) -> &'static str {
        let ordered: i64 = self.lines.iter().map(|l| l.quantity).sum();
        let shipped: i64 = self.lines.iter().map(|l| l.fulfilled).sum();
        if shipped == 0 {
            "UNFULFILLED"
        } else if shipped >= ordered {
            "FULFILLED"
        } else {
            "PARTIALLY_FULFILLED"
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub id: u64,
    pub topic: String,
    pub callback_url: String,
    pub created_ms: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Shop {
    pub seed: u64,
    pub products: BTreeMap<u64, Product>,
    pub variants: BTreeMap<u64, Variant>,
    /// Inventory item → variant.
    pub items: BTreeMap<u64, u64>,
    /// `available` per inventory item at the one location.
    pub available: BTreeMap<u64, i64>,
    pub orders: BTreeMap<u64, Order>,
    pub webhooks: Vec<Webhook>,
    next_id: u64,
    next_number: u64,
    last_ms: i64,
}

impl Shop {
    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A timestamp for a change: now, and strictly after every earlier one.
    /// Cancel an order as Shopify does: payment refunded (or voided when
    /// unpaid), open fulfillment orders closed and, with `restock`, the
    /// unshipped units back in stock. Returns the order's JSON.
    pub fn cancel_order(&mut self, id: u64, restock: bool) -> Result<Value, &'static str> {
        let at = self.stamp();
        let Some(o) = self.orders.get_mut(&id) else {
            return Err("no such order");
        };
        if o.cancelled_ms.is_some() {
            return Err("the order is already cancelled");
        }
        o.cancelled_ms = Some(at);
        o.updated_ms = at;
        o.financial = if o.financial == "PAID" {
            "REFUNDED"
        } else {
            "VOIDED"
        };
        let mut back = Vec::new();
        for fo in &mut o.fulfillment_orders {
            for fl in &mut fo.lines {
                let variant = o
                    .lines
                    .iter()
                    .find(|l| l.id == fl.line_id)
                    .and_then(|l| l.variant_id);
                back.push((variant, fl.remaining));
                fl.remaining = 0;
            }
            fo.status = "CLOSED";
        }
        let out = order_json(o);
        if restock {
            for (variant, q) in back {
                if let Some(item) = variant
                    .and_then(|v| self.variants.get(&v))
                    .map(|v| v.inventory_item_id)
                {
                    *self.available.entry(item).or_default() += q;
                }
            }
        }
        Ok(out)
    }

    pub fn stamp(&mut self) -> i64 {
        let now = Utc::now().timestamp_millis();
        self.last_ms = now.max(self.last_ms + 1);
        self.last_ms
    }

    pub fn seeded(seed: u64, products: usize, orders: usize) -> Self {
        let data = seed::generate(seed, products, orders);
        let mut shop = Shop {
            seed,
            next_id: 5_000_000_000,
            next_number: 1000,
            ..Shop::default()
        };
        let created = (seed::anchor() - chrono::Duration::days(60)).timestamp_millis();
        let mut variant_ids: Vec<Vec<u64>> = Vec::new();
        for p in &data.products {
            let pid = shop.id();
            let mut vids = Vec::new();
            for v in &p.variants {
                let vid = shop.id();
                let item = shop.id();
                shop.variants.insert(
                    vid,
                    Variant {
                        id: vid,
                        product_id: pid,
                        inventory_item_id: item,
                        sku: v.sku.clone(),
                        title: v.title.clone(),
                        price: v.price,
                        updated_ms: created,
                    },
                );
                shop.items.insert(item, vid);
                shop.available.insert(item, v.stock);
                vids.push(vid);
            }
            shop.products.insert(
                pid,
                Product {
                    id: pid,
                    title: p.title.clone(),
                    variants: vids.clone(),
                    updated_ms: created,
                },
            );
            variant_ids.push(vids);
        }
        for (n, o) in data.orders.iter().enumerate() {
            let mut picks = Vec::new();
            for (i, &(p, v, q)) in o.lines.iter().enumerate() {
                let variant = variant_ids[p][v];
                let price = data.products[p].variants[v].price;
                let discount = if n % 7 == 3 && i == 0 {
                    price * q / 10
                } else {
                    0
                };
                picks.push((Some(variant), q, discount));
            }
            if o.custom_line {
                picks.push((None, 1, 0));
            }
            let created_ms = o.created_at.timestamp_millis();
            let financial = if o.cancelled {
                "REFUNDED"
            } else if o.paid {
                "PAID"
            } else {
                "PENDING"
            };
            let id = shop.create_order(
                &picks,
                o.customer.clone(),
                financial,
                (&o.shipping_method, o.shipping),
                created_ms,
            );
            if let Some(order) = shop.orders.get_mut(&id) {
                order.updated_ms = created_ms + 300_000;
                if o.cancelled {
                    order.cancelled_ms = Some(created_ms + 300_000);
                    for fo in &mut order.fulfillment_orders {
                        fo.status = "CLOSED";
                    }
                }
            }
            if o.fulfilled && !o.cancelled {
                shop.fulfil_all(id, created_ms + 86_400_000);
            }
        }
        shop
    }

    /// Create an order: `(variant or custom, quantity, discount)` lines.
    pub fn create_order(
        &mut self,
        picks: &[(Option<u64>, i64, i64)],
        customer: seed::Person,
        financial: &'static str,
        shipping: (&str, i64),
        created_ms: i64,
    ) -> u64 {
        let mut lines = Vec::new();
        for &(variant, quantity, discount) in picks {
            let id = self.id();
            let line = match variant.and_then(|v| self.variants.get(&v)) {
                Some(v) => {
                    let product = &self.products[&v.product_id];
                    Line {
                        id,
                        variant_id: Some(v.id),
                        sku: v.sku.clone(),
                        title: product.title.clone(),
                        variant_title: (v.title != "Default Title").then(|| v.title.clone()),
                        quantity,
                        unit_price: v.price,
                        discount,
                        fulfilled: 0,
                    }
                }
                None => Line {
                    id,
                    variant_id: None,
                    sku: None,
                    title: "Gift wrapping".into(),
                    variant_title: None,
                    quantity,
                    unit_price: 250,
                    discount: 0,
                    fulfilled: 0,
                },
            };
            lines.push(line);
        }
        let fo_id = self.id();
        let fo_lines = lines
            .iter()
            .map(|l| FoLine {
                id: l.id + 1_000_000_000,
                line_id: l.id,
                total: l.quantity,
                remaining: l.quantity,
            })
            .collect();
        let id = self.id();
        self.next_number += 1;
        let customer_id = self.id();
        self.orders.insert(
            id,
            Order {
                id,
                number: self.next_number,
                created_ms,
                updated_ms: created_ms,
                cancelled_ms: None,
                financial,
                customer,
                customer_id,
                shipping_title: shipping.0.to_owned(),
                shipping: shipping.1,
                lines,
                fulfillment_orders: vec![FulfillmentOrder {
                    id: fo_id,
                    status: "OPEN",
                    lines: fo_lines,
                }],
                fulfillments: Vec::new(),
                tags: Vec::new(),
            },
        );
        id
    }

    fn fulfil_all(&mut self, order_id: u64, at_ms: i64) {
        let fid = self.id();
        let Some(o) = self.orders.get_mut(&order_id) else {
            return;
        };
        let mut shipped = Vec::new();
        for fo in &mut o.fulfillment_orders {
            for fl in &mut fo.lines {
                if fl.remaining > 0 {
                    shipped.push((fl.id, fl.line_id, fl.remaining));
                    fl.remaining = 0;
                }
            }
            fo.status = "CLOSED";
        }
        for l in &mut o.lines {
            l.fulfilled = l.quantity;
        }
        let name = format!("#{}-F{}", o.number, o.fulfillments.len() + 1);
        o.fulfillments.push(Fulfillment {
            id: fid,
            name,
            created_ms: at_ms,
            company: Some("Royal Mail".into()),
            tracking: vec![(format!("RM{:09}GB", fid % 1_000_000_000), None)],
            lines: shipped,
            updated_ms: at_ms,
            cancelled: false,
        });
        o.updated_ms = at_ms;
    }

    /// Find a variant by SKU.
    pub fn variant_by_sku(&self, sku: &str) -> Option<&Variant> {
        self.variants
            .values()
            .find(|v| v.sku.as_deref() == Some(sku))
    }
}

fn address(p: &seed::Person, with_name: bool) -> Value {
    json!({
        "__typename": "MailingAddress",
        "id": format!("gid://shopify/MailingAddress/{}", p.postcode.len()),
        "name": if with_name { Some(format!("{} {}", p.first_name, p.last_name)) } else { None },
        "firstName": p.first_name, "lastName": p.last_name, "company": p.company,
        "address1": p.address1, "address2": p.address2, "city": p.city,
        "province": p.region, "provinceCode": p.region, "zip": p.postcode,
        "country": country_name(&p.country), "countryCodeV2": p.country, "phone": p.phone,
    })
}

fn country_name(code: &str) -> &'static str {
    match code {
        "GB" => "United Kingdom",
        "NL" => "Netherlands",
        "DE" => "Germany",
        "FR" => "France",
        "US" => "United States",
        "BE" => "Belgium",
        _ => "Unknown",
    }
}

pub(crate) fn variant_json(shop: &Shop, v: &Variant) -> Value {
    let product = shop.products.get(&v.product_id);
    let qty = shop
        .available
        .get(&v.inventory_item_id)
        .copied()
        .unwrap_or(0);
    json!({
        "__typename": "ProductVariant",
        "id": gid("ProductVariant", v.id),
        "legacyResourceId": v.id.to_string(),
        "sku": v.sku, "title": v.title,
        "displayName": format!("{} - {}", product.map_or("", |p| p.title.as_str()), v.title),
        "price": decimal(v.price, 2),
        "inventoryQuantity": qty,
        "updatedAt": time(v.updated_ms),
        "barcode": null,
        "product": product.map(|p| product_json(shop, p, false)),
        "inventoryItem": item_json(shop, v, false),
    })
}

pub(crate) fn item_json(shop: &Shop, v: &Variant, with_variant: bool) -> Value {
    let qty = shop
        .available
        .get(&v.inventory_item_id)
        .copied()
        .unwrap_or(0);
    let level = level_json(v.inventory_item_id, qty);
    json!({
        "__typename": "InventoryItem",
        "id": gid("InventoryItem", v.inventory_item_id),
        "legacyResourceId": v.inventory_item_id.to_string(),
        "sku": v.sku, "tracked": true,
        "inventoryLevels": [level.clone()],
        "_level": level,
        "variant": if with_variant { variant_json(shop, v) } else { Value::Null },
    })
}

pub(crate) fn location_json() -> Value {
    json!({ "__typename": "Location", "id": gid("Location", LOCATION_ID), "legacyResourceId": LOCATION_ID.to_string(),
            "name": "Warehouse", "isActive": true, "fulfillsOnlineOrders": true })
}

pub(crate) fn level_json(item: u64, available: i64) -> Value {
    json!({
        "__typename": "InventoryLevel",
        "id": format!("gid://shopify/InventoryLevel/{LOCATION_ID}?inventory_item_id={item}"),
        "location": location_json(),
        "_quantities": { "available": available, "on_hand": available, "committed": 0, "incoming": 0,
                         "reserved": 0, "damaged": 0, "safety_stock": 0, "quality_control": 0 },
    })
}

pub(crate) fn product_json(shop: &Shop, p: &Product, with_variants: bool) -> Value {
    json!({
        "__typename": "Product",
        "id": gid("Product", p.id),
        "legacyResourceId": p.id.to_string(),
        "title": p.title,
        "handle": p.title.to_lowercase().replace(' ', "-"),
        "status": "ACTIVE",
        "updatedAt": time(p.updated_ms),
        "variants": if with_variants {
            Value::Array(p.variants.iter().filter_map(|v| shop.variants.get(v)).map(|v| variant_json(shop, v)).collect())
        } else { Value::Null },
    })
}

fn line_json(o: &Order, l: &Line) -> Value {
    let total = Order::line_total(l);
    json!({
        "__typename": "LineItem",
        "id": gid("LineItem", l.id),
        "name": match &l.variant_title { Some(t) => format!("{} - {t}", l.title), None => l.title.clone() },
        "title": l.title,
        "variantTitle": l.variant_title,
        "sku": l.sku,
        "quantity": l.quantity,
        "currentQuantity": if o.cancelled_ms.is_some() { 0 } else { l.quantity },
        "unfulfilledQuantity": if o.cancelled_ms.is_some() { 0 } else { l.quantity - l.fulfilled },
        "refundableQuantity": l.quantity,
        "requiresShipping": true,
        "originalUnitPriceSet": money(l.unit_price),
        "discountedUnitPriceSet": money(total / l.quantity.max(1)),
        "originalTotalSet": money(l.unit_price * l.quantity),
        "discountedTotalSet": money(total),
        "totalDiscountSet": money(l.discount),
        "taxLines": [{ "__typename": "TaxLine", "title": "VAT", "rate": 0.2, "ratePercentage": 20.0, "priceSet": money(tax(total)) }],
        "variant": l.variant_id.map(|v| json!({ "__typename": "ProductVariant", "id": gid("ProductVariant", v), "sku": l.sku })),
    })
}

pub(crate) fn order_json(o: &Order) -> Value {
    let lines: BTreeMap<u64, Value> = o.lines.iter().map(|l| (l.id, line_json(o, l))).collect();
    let fos: Vec<Value> = o
        .fulfillment_orders
        .iter()
        .map(|fo| {
            json!({
                "__typename": "FulfillmentOrder",
                "id": gid("FulfillmentOrder", fo.id),
                "status": fo.status,
                "requestStatus": "UNSUBMITTED",
                "supportedActions": [],
                "assignedLocation": { "name": "Warehouse", "location": location_json() },
                "lineItems": fo.lines.iter().map(|fl| json!({
                    "__typename": "FulfillmentOrderLineItem",
                    "id": gid("FulfillmentOrderLineItem", fl.id),
                    "totalQuantity": fl.total,
                    "remainingQuantity": fl.remaining,
                    "sku": lines.get(&fl.line_id).and_then(|l| l["sku"].as_str()),
                    "lineItem": lines.get(&fl.line_id),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let fulfillments: Vec<Value> = o
        .fulfillments
        .iter()
        .map(|f| {
            json!({
                "__typename": "Fulfillment",
                "id": gid("Fulfillment", f.id),
                "legacyResourceId": f.id.to_string(),
                "name": f.name,
                "status": if f.cancelled { "CANCELLED" } else { "SUCCESS" },
                "displayStatus": if f.cancelled { "CANCELED" } else { "FULFILLED" },
                "createdAt": time(f.created_ms),
                "updatedAt": time(f.updated_ms),
                "trackingInfo": f.tracking.iter().map(|(n, u)| json!({
                    "__typename": "FulfillmentTrackingInfo", "company": f.company, "number": n, "url": u
                })).collect::<Vec<_>>(),
                "fulfillmentLineItems": f.lines.iter().map(|(_, line, q)| json!({
                    "__typename": "FulfillmentLineItem",
                    "id": gid("FulfillmentLineItem", line + 2_000_000_000),
                    "quantity": q,
                    "lineItem": lines.get(line),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let c = &o.customer;
    json!({
        "__typename": "Order",
        "id": gid("Order", o.id),
        "legacyResourceId": o.id.to_string(),
        "name": format!("#{}", o.number),
        "createdAt": time(o.created_ms),
        "updatedAt": time(o.updated_ms),
        "processedAt": time(o.created_ms),
        "cancelledAt": o.cancelled_ms.map(time),
        "cancelReason": o.cancelled_ms.map(|_| "CUSTOMER"),
        "closed": o.cancelled_ms.is_some() || o.fulfillment_status() == "FULFILLED",
        "test": false,
        "email": c.email,
        "phone": c.phone,
        "note": null,
        "tags": o.tags,
        "currencyCode": CURRENCY,
        "presentmentCurrencyCode": CURRENCY,
        "displayFinancialStatus": o.financial,
        "displayFulfillmentStatus": o.fulfillment_status(),
        "subtotalPriceSet": money(o.subtotal()),
        "totalPriceSet": money(o.total()),
        "currentTotalPriceSet": money(if o.cancelled_ms.is_some() { 0 } else { o.total() }),
        "totalTaxSet": money(o.tax_total()),
        "totalShippingPriceSet": money(o.shipping),
        "totalDiscountsSet": money(o.discounts()),
        "customer": {
            "__typename": "Customer", "id": gid("Customer", o.customer_id),
            "firstName": c.first_name, "lastName": c.last_name,
            "displayName": format!("{} {}", c.first_name, c.last_name),
            "email": c.email, "phone": c.phone,
        },
        "shippingAddress": address(c, true),
        "billingAddress": address(c, true),
        "shippingLine": {
            "__typename": "ShippingLine", "title": o.shipping_title, "code": o.shipping_title,
            "source": "shopify", "carrierIdentifier": null,
            "originalPriceSet": money(o.shipping), "discountedPriceSet": money(o.shipping),
        },
        "lineItems": lines.into_values().collect::<Vec<_>>(),
        "fulfillmentOrders": fos,
        "fulfillments": fulfillments,
        "refunds": [],
    })
}

/// The REST shape Shopify posts in order webhooks.
pub(crate) fn order_webhook_json(o: &Order) -> Value {
    json!({
        "id": o.id,
        "admin_graphql_api_id": gid("Order", o.id),
        "name": format!("#{}", o.number),
        "order_number": o.number,
        "email": o.customer.email,
        "created_at": time(o.created_ms),
        "updated_at": time(o.updated_ms),
        "cancelled_at": o.cancelled_ms.map(time),
        "financial_status": o.financial.to_lowercase(),
        "fulfillment_status": match o.fulfillment_status() { "FULFILLED" => Some("fulfilled"), "PARTIALLY_FULFILLED" => Some("partial"), _ => None },
        "currency": CURRENCY,
        "total_price": decimal(o.total(), 2),
        "line_items": o.lines.iter().map(|l| json!({
            "id": l.id, "admin_graphql_api_id": gid("LineItem", l.id), "sku": l.sku,
            "quantity": l.quantity, "price": decimal(l.unit_price, 2), "title": l.title,
        })).collect::<Vec<_>>(),
    })
}
