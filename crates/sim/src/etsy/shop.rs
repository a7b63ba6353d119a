//! The simulated shop: listings with their inventories, receipts, the
//! token and rate-limit counters, and their JSON as Etsy renders it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::CURRENCY;
use crate::seed;

#[derive(Debug, Clone)]
pub(super) struct Offering {
    pub(super) id: u64,
    pub(super) quantity: i64,
    pub(super) price: i64,
    pub(super) enabled: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Product {
    pub(super) id: u64,
    pub(super) sku: Option<String>,
    pub(super) size: Option<String>,
    pub(super) offering: Offering,
}

#[derive(Debug, Clone)]
pub(super) struct Listing {
    pub(super) id: u64,
    pub(super) title: String,
    pub(super) products: Vec<Product>,
    pub(super) updated: i64,
}

#[derive(Debug, Clone)]
pub(super) struct Txn {
    pub(super) id: u64,
    pub(super) listing_id: u64,
    pub(super) product_id: u64,
    pub(super) sku: Option<String>,
    pub(super) title: String,
    pub(super) quantity: i64,
    pub(super) price: i64,
}

#[derive(Debug, Clone)]
pub(super) struct Shipment {
    pub(super) id: u64,
    pub(super) at: i64,
    pub(super) carrier: String,
    pub(super) code: String,
}

#[derive(Debug, Clone)]
pub(super) struct Receipt {
    pub(super) id: u64,
    pub(super) buyer: seed::Person,
    pub(super) created: i64,
    pub(super) updated: i64,
    pub(super) paid: bool,
    pub(super) canceled: bool,
    pub(super) shipping: i64,
    pub(super) txns: Vec<Txn>,
    pub(super) shipments: Vec<Shipment>,
}

impl Receipt {
    pub(super) fn subtotal(&self) -> i64 {
        self.txns.iter().map(|t| t.price * t.quantity).sum()
    }

    pub(super) fn status(&self) -> &'static str {
        if self.canceled {
            "canceled"
        } else if !self.shipments.is_empty() {
            "completed"
        } else if self.paid {
            "paid"
        } else {
            "payment processing"
        }
    }
}

#[derive(Debug)]
pub(super) struct Shop {
    pub(super) next_id: u64,
    /// Simulated seconds (moves on with every change).
    pub(super) now: i64,
    pub(super) listings: BTreeMap<u64, Listing>,
    pub(super) receipts: BTreeMap<u64, Receipt>,
    pub(super) access_tokens: crate::core::AccessTokens,
    /// `(second, used)` and `(day, used)` of the app's rate limits.
    pub(super) second: (i64, u32),
    pub(super) day: (i64, u32),
}

impl Shop {
    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Now (real time), strictly after every earlier change.
    pub(super) fn tick(&mut self) -> i64 {
        self.now = (self.now + 1).max(chrono::Utc::now().timestamp());
        self.now
    }

    pub(super) fn product_by_sku(&self, sku: &str) -> Option<(u64, &Product)> {
        self.listings.values().find_map(|l| {
            l.products
                .iter()
                .find(|p| p.sku.as_deref() == Some(sku))
                .map(|p| (l.id, p))
        })
    }

    pub(super) fn seeded(seed: u64, products: usize, orders: usize) -> Self {
        let g = seed::generate(seed, products, orders);
        let mut shop = Self {
            next_id: 1_000_000_000 + seed * 1_000_000,
            now: seed::anchor().timestamp(),
            listings: BTreeMap::new(),
            receipts: BTreeMap::new(),
            access_tokens: crate::core::AccessTokens::default(),
            second: (0, 0),
            day: (0, 0),
        };
        let mut ids = Vec::new();
        for p in &g.products {
            let id = shop.id();
            let mut prods = Vec::new();
            for v in &p.variants {
                let (pid, oid) = (shop.id(), shop.id());
                prods.push(Product {
                    id: pid,
                    sku: v.sku.clone(),
                    size: p.has_options.then(|| v.title.clone()),
                    offering: Offering {
                        id: oid,
                        quantity: v.stock,
                        price: v.price,
                        enabled: true,
                    },
                });
            }
            ids.push(id);
            shop.listings.insert(
                id,
                Listing {
                    id,
                    title: p.title.clone(),
                    products: prods,
                    updated: shop.now,
                },
            );
        }
        for o in &g.orders {
            let rid = shop.id();
            let mut txns = Vec::new();
            for (pi, vi, q) in &o.lines {
                let Some(l) = ids.get(*pi).and_then(|id| shop.listings.get(id)) else {
                    continue;
                };
                let Some(p) = l.products.get(*vi) else {
                    continue;
                };
                txns.push((
                    l.id,
                    p.id,
                    p.sku.clone(),
                    l.title.clone(),
                    *q,
                    p.offering.price,
                ));
            }
            let txns = txns
                .into_iter()
                .map(
                    |(listing_id, product_id, sku, title, quantity, price)| Txn {
                        id: shop.id(),
                        listing_id,
                        product_id,
                        sku,
                        title,
                        quantity,
                        price,
                    },
                )
                .collect();
            let t = o.created_at.timestamp();
            shop.receipts.insert(
                rid,
                Receipt {
                    id: rid,
                    buyer: o.customer.clone(),
                    created: t,
                    updated: t,
                    paid: o.paid,
                    canceled: o.cancelled,
                    shipping: o.shipping,
                    txns,
                    shipments: Vec::new(),
                },
            );
        }
        shop
    }
}

pub(super) fn money(amount: i64) -> Value {
    json!({ "amount": amount, "divisor": 100, "currency_code": CURRENCY })
}

pub(super) fn receipt_json(shop_id: u64, r: &Receipt) -> Value {
    let b = &r.buyer;
    let subtotal = r.subtotal();
    json!({
        "receipt_id": r.id, "receipt_type": 0, "seller_user_id": shop_id + 1, "seller_email": "shop@example.com",
        "buyer_user_id": 50_000_000 + r.id % 1_000_000, "buyer_email": b.email,
        "name": format!("{} {}", b.first_name, b.last_name),
        "first_line": b.address1, "second_line": null, "city": b.city, "state": b.region, "zip": b.postcode,
        "status": r.status(),
        "formatted_address": format!("{} {}\n{}\n{} {}", b.first_name, b.last_name, b.address1, b.postcode, b.city),
        "country_iso": b.country, "payment_method": "cc", "payment_email": null,
        "message_from_seller": null, "message_from_buyer": null, "message_from_payment": null,
        "is_paid": r.paid, "is_shipped": !r.shipments.is_empty(),
        "create_timestamp": r.created, "created_timestamp": r.created,
        "update_timestamp": r.updated, "updated_timestamp": r.updated,
        "is_gift": false, "gift_message": "", "gift_sender": "",
        "grandtotal": money(subtotal + r.shipping), "subtotal": money(subtotal),
        "total_price": money(subtotal), "total_shipping_cost": money(r.shipping),
        "total_tax_cost": money(0), "total_vat_cost": money(0), "discount_amt": money(0), "gift_wrap_price": money(0),
        "shipments": r.shipments.iter().map(|s| json!({
            "receipt_shipping_id": s.id, "shipment_notification_timestamp": s.at,
            "carrier_name": s.carrier, "tracking_code": s.code,
        })).collect::<Vec<_>>(),
        "transactions": r.txns.iter().map(|t| json!({
            "transaction_id": t.id, "title": t.title, "description": "", "seller_user_id": shop_id + 1,
            "buyer_user_id": 50_000_000 + r.id % 1_000_000, "create_timestamp": r.created, "created_timestamp": r.created,
            "paid_timestamp": r.paid.then_some(r.created),
            "shipped_timestamp": r.shipments.first().map(|s| s.at),
            "quantity": t.quantity, "listing_image_id": null, "receipt_id": r.id, "is_digital": false, "file_data": "",
            "listing_id": t.listing_id, "transaction_type": "listing", "product_id": t.product_id, "sku": t.sku,
            "price": money(t.price), "shipping_cost": money(0), "variations": [], "product_data": [],
            "shipping_profile_id": null, "min_processing_days": 1, "max_processing_days": 3,
            "shipping_method": null, "shipping_upgrade": null, "expected_ship_date": r.created + 3 * 86_400,
            "buyer_coupon": 0, "shop_coupon": 0,
        })).collect::<Vec<_>>(),
        "refunds": [],
    })
}

pub(super) fn product_json(p: &Product) -> Value {
    json!({
        "product_id": p.id, "sku": p.sku.clone().unwrap_or_default(), "is_deleted": false,
        "offerings": [{
            "offering_id": p.offering.id, "quantity": p.offering.quantity, "is_enabled": p.offering.enabled,
            "is_deleted": false, "price": money(p.offering.price), "readiness_state_id": null,
        }],
        "property_values": p.size.as_ref().map_or_else(Vec::new, |s| vec![json!({
            "property_id": 100, "property_name": "Size", "scale_id": null, "scale_name": null,
            "values": [s], "value_ids": [value_id(s)],
        })]),
    })
}

pub(super) fn value_id(size: &str) -> u64 {
    size.bytes()
        .fold(1_000, |a, b| a * 31 % 1_000_000 + u64::from(b))
}

pub(super) fn inventory_json(l: &Listing) -> Value {
    let sized = l.products.iter().any(|p| p.size.is_some());
    let on = if sized { json!([100]) } else { json!([]) };
    json!({
        "products": l.products.iter().map(product_json).collect::<Vec<_>>(),
        "price_on_property": on, "quantity_on_property": on, "sku_on_property": on,
        "readiness_state_on_property": [],
    })
}

pub(super) fn listing_json(shop_id: u64, l: &Listing) -> Value {
    let quantity: i64 = l.products.iter().map(|p| p.offering.quantity).sum();
    let price = l.products.first().map_or(0, |p| p.offering.price);
    json!({
        "listing_id": l.id, "user_id": shop_id + 1, "shop_id": shop_id, "title": l.title, "description": "",
        "state": "active", "creation_timestamp": l.updated, "created_timestamp": l.updated,
        "last_modified_timestamp": l.updated, "updated_timestamp": l.updated, "quantity": quantity,
        "url": format!("https://www.etsy.com/listing/{}", l.id), "listing_type": "physical",
        "skus": l.products.iter().filter_map(|p| p.sku.clone()).collect::<Vec<_>>(),
        "price": money(price),
    })
}
