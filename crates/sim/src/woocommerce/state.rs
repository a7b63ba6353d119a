//! The shop's data: products, variations, orders, notes, trackings, webhooks.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::seed;

/// The REST API keys the simulator accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WooCredentials {
    /// `ck_…`
    pub consumer_key: String,
    /// `cs_…`
    pub consumer_secret: String,
}

impl WooCredentials {
    /// Keys derived from the seed, so a restarted simulator keeps them.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        Self {
            consumer_key: format!("ck_sim{seed:034x}"),
            consumer_secret: format!("cs_sim{seed:034x}"),
        }
    }
}

/// Standard VAT rate applied to lines and shipping, in per cent.
pub(crate) const TAX_RATE_PCT: i64 = 20;

#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub id: u64,
    pub name: String,
    pub kind: &'static str,
    pub sku: String,
    pub price: i64,
    pub manage_stock: bool,
    pub stock_quantity: Option<i64>,
    pub variations: Vec<u64>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Variation {
    pub id: u64,
    pub parent_id: u64,
    pub sku: String,
    pub option: String,
    pub price: i64,
    pub manage_stock: bool,
    pub stock_quantity: Option<i64>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub id: u64,
    pub name: String,
    pub product_id: u64,
    pub variation_id: u64,
    pub quantity: i64,
    pub sku: String,
    pub subtotal: i64,
    pub total: i64,
}

impl Line {
    pub fn subtotal_tax(&self) -> i64 {
        tax(self.subtotal)
    }
    pub fn total_tax(&self) -> i64 {
        tax(self.total)
    }
}

pub(crate) fn tax(amount: i64) -> i64 {
    (amount * TAX_RATE_PCT + 50) / 100
}

#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub id: u64,
    pub order_key: String,
    pub status: String,
    pub currency: String,
    pub created_via: &'static str,
    /// `(id, key, value)` of the order's public meta data.
    pub meta: Vec<(u64, String, serde_json::Value)>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub paid: Option<DateTime<Utc>>,
    pub completed: Option<DateTime<Utc>>,
    pub customer: seed::Person,
    pub customer_note: String,
    pub lines: Vec<Line>,
    pub shipping_method: String,
    pub shipping_line_id: u64,
    pub shipping: i64,
    pub tax_line_id: u64,
}

impl Order {
    pub fn discount(&self) -> i64 {
        self.lines.iter().map(|l| l.subtotal - l.total).sum()
    }
    pub fn cart_tax(&self) -> i64 {
        self.lines.iter().map(Line::total_tax).sum()
    }
    pub fn total_tax(&self) -> i64 {
        self.cart_tax() + tax(self.shipping)
    }
    pub fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.total).sum::<i64>() + self.shipping + self.total_tax()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub id: u64,
    pub note: String,
    pub customer_note: bool,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Tracking {
    pub tracking_id: String,
    pub provider: String,
    pub custom_provider: String,
    pub custom_link: String,
    pub number: String,
    pub date_shipped: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub topic: String,
    pub delivery_url: String,
    pub secret: String,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub(crate) struct Shop {
    pub seed: u64,
    pub products: BTreeMap<u64, Product>,
    pub variations: BTreeMap<u64, Variation>,
    pub orders: BTreeMap<u64, Order>,
    pub notes: BTreeMap<u64, Vec<Note>>,
    pub trackings: BTreeMap<u64, Vec<Tracking>>,
    pub webhooks: Vec<Webhook>,
    pub next_id: u64,
    pub deliveries: u64,
}

/// Now, to the second (WordPress stores seconds).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

impl Shop {
    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn seeded(seed: u64, products: usize, orders: usize) -> Self {
        let data = seed::generate(seed, products, orders);
        let mut shop = Shop {
            seed,
            next_id: 100,
            ..Shop::default()
        };
        let created = seed::anchor() - chrono::Duration::days(60);
        // (product id, variation id) per seed product and variant.
        let mut ids: Vec<Vec<(u64, u64)>> = Vec::new();
        for p in &data.products {
            let pid = shop.id();
            let mut vids = Vec::new();
            let mut var_ids = Vec::new();
            if p.has_options {
                for v in &p.variants {
                    let vid = shop.id();
                    shop.variations.insert(
                        vid,
                        Variation {
                            id: vid,
                            parent_id: pid,
                            sku: v.sku.clone().unwrap_or_default(),
                            option: v.title.clone(),
                            price: v.price,
                            manage_stock: true,
                            stock_quantity: Some(v.stock),
                            created,
                            modified: created,
                        },
                    );
                    vids.push(vid);
                    var_ids.push((pid, vid));
                }
            } else {
                var_ids.push((pid, 0));
            }
            let first = &p.variants[0];
            shop.products.insert(
                pid,
                Product {
                    id: pid,
                    name: p.title.clone(),
                    kind: if p.has_options { "variable" } else { "simple" },
                    sku: if p.has_options {
                        String::new()
                    } else {
                        first.sku.clone().unwrap_or_default()
                    },
                    price: first.price,
                    manage_stock: !p.has_options,
                    stock_quantity: (!p.has_options).then_some(first.stock),
                    variations: vids,
                    created,
                    modified: created,
                },
            );
            ids.push(var_ids);
        }
        for (n, o) in data.orders.iter().enumerate() {
            let mut lines = Vec::new();
            for (i, &(p, v, qty)) in o.lines.iter().enumerate() {
                let (pid, vid) = ids[p][v];
                let sp = &data.products[p];
                let sv = &sp.variants[v];
                let subtotal = sv.price * qty;
                // Every seventh order has 10 % off its first line.
                let total = if n % 7 == 3 && i == 0 {
                    subtotal - subtotal / 10
                } else {
                    subtotal
                };
                let name = if sp.has_options {
                    format!("{} - {}", sp.title, sv.title)
                } else {
                    sp.title.clone()
                };
                lines.push(Line {
                    id: shop.id(),
                    name,
                    product_id: pid,
                    variation_id: vid,
                    quantity: qty,
                    sku: sv.sku.clone().unwrap_or_default(),
                    subtotal,
                    total,
                });
            }
            if o.custom_line {
                lines.push(Line {
                    id: shop.id(),
                    name: "Gift wrapping".into(),
                    product_id: 0,
                    variation_id: 0,
                    quantity: 1,
                    sku: String::new(),
                    subtotal: 250,
                    total: 250,
                });
            }
            let id = shop.id();
            let status = if o.cancelled {
                "cancelled"
            } else if !o.paid {
                "pending"
            } else if o.fulfilled {
                "completed"
            } else {
                "processing"
            };
            let modified = o.created_at + chrono::Duration::minutes(5);
            let order = Order {
                id,
                order_key: format!("wc_order_{:013x}", id.wrapping_mul(0x9e37_79b9) ^ seed),
                status: status.into(),
                currency: "EUR".into(),
                created_via: "checkout",
                meta: Vec::new(),
                created: o.created_at,
                modified,
                paid: o.paid.then_some(o.created_at),
                completed: o.fulfilled.then_some(modified),
                customer: o.customer.clone(),
                customer_note: String::new(),
                lines,
                shipping_method: o.shipping_method.clone(),
                shipping_line_id: shop.id(),
                shipping: o.shipping,
                tax_line_id: shop.id(),
            };
            shop.orders.insert(id, order);
        }
        shop
    }

    /// Find a sellable item by SKU: `(product id, variation id or 0)`.
    pub fn find_sku(&self, sku: &str) -> Option<(u64, u64)> {
        if let Some(p) = self.products.values().find(|p| p.sku == sku) {
            return Some((p.id, 0));
        }
        self.variations
            .values()
            .find(|v| v.sku == sku)
            .map(|v| (v.parent_id, v.id))
    }

    /// Change the stock of an item by `delta`, as WooCommerce does when an
    /// order is paid (reduce) or cancelled (restore).
    pub fn adjust_stock(&mut self, product_id: u64, variation_id: u64, delta: i64) {
        let at = now();
        if variation_id != 0 {
            if let Some(v) = self.variations.get_mut(&variation_id)
                && v.manage_stock
            {
                v.stock_quantity = Some(v.stock_quantity.unwrap_or(0) + delta);
                v.modified = at;
            }
        } else if let Some(p) = self.products.get_mut(&product_id)
            && p.manage_stock
        {
            p.stock_quantity = Some(p.stock_quantity.unwrap_or(0) + delta);
            p.modified = at;
        }
    }
}
