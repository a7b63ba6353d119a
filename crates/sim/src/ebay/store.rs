//! The simulated seller: inventory items with their offers, orders with
//! their shipping fulfillments, and their JSON as eBay renders it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::CURRENCY;
use crate::core::decimal;
use crate::seed;

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) sku: String,
    pub(super) title: String,
    pub(super) size: Option<String>,
    pub(super) quantity: i64,
    pub(super) price: i64,
    pub(super) legacy_item_id: String,
    pub(super) offer_id: String,
}

#[derive(Debug, Clone)]
pub(super) struct Line {
    pub(super) id: String,
    pub(super) sku: Option<String>,
    pub(super) title: String,
    pub(super) legacy_item_id: String,
    pub(super) quantity: i64,
    pub(super) price: i64,
}

#[derive(Debug, Clone)]
pub(super) struct Fulfillment {
    pub(super) id: String,
    pub(super) lines: Vec<(String, i64)>,
    pub(super) carrier: String,
    pub(super) tracking: String,
    pub(super) shipped: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct Order {
    pub(super) id: String,
    pub(super) buyer: seed::Person,
    pub(super) created: DateTime<Utc>,
    pub(super) modified: DateTime<Utc>,
    pub(super) paid: bool,
    pub(super) cancelled: bool,
    pub(super) shipping: i64,
    pub(super) lines: Vec<Line>,
    pub(super) fulfillments: Vec<Fulfillment>,
}

impl Order {
    pub(super) fn subtotal(&self) -> i64 {
        self.lines.iter().map(|l| l.price * l.quantity).sum()
    }

    /// Units of a line covered by fulfillments so far.
    pub(super) fn shipped(&self, line: &str) -> i64 {
        self.fulfillments
            .iter()
            .flat_map(|f| &f.lines)
            .filter(|(id, _)| id == line)
            .map(|(_, q)| q)
            .sum()
    }

    pub(super) fn line_status(&self, l: &Line) -> &'static str {
        if self.shipped(&l.id) >= l.quantity {
            "FULFILLED"
        } else {
            "NOT_STARTED"
        }
    }

    pub(super) fn fulfillment_status(&self) -> &'static str {
        let done = self
            .lines
            .iter()
            .filter(|l| self.line_status(l) == "FULFILLED")
            .count();
        if done == 0 {
            "NOT_STARTED"
        } else if done == self.lines.len() {
            "FULFILLED"
        } else {
            "IN_PROGRESS"
        }
    }
}

#[derive(Debug)]
pub(super) struct Store {
    pub(super) next_id: u64,
    /// The time of the last change (moves on with every change).
    pub(super) now: DateTime<Utc>,
    /// By SKU.
    pub(super) items: BTreeMap<String, Item>,
    /// By order id.
    pub(super) orders: BTreeMap<String, Order>,
    pub(super) access_tokens: crate::core::AccessTokens,
}

impl Store {
    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A new order id in eBay's `NN-NNNNN-NNNNN` shape.
    pub(super) fn order_id(&mut self) -> String {
        let n = self.id();
        format!(
            "{:02}-{:05}-{:05}",
            n / 10_000_000_000 % 100,
            n / 100_000 % 100_000,
            n % 100_000
        )
    }

    /// Now (real time, millisecond precision), strictly after every
    /// earlier change.
    pub(super) fn tick(&mut self) -> DateTime<Utc> {
        crate::core::later(&mut self.now)
    }

    pub(super) fn seeded(seed: u64, products: usize, orders: usize) -> Self {
        let g = seed::generate(seed, products, orders);
        let mut store = Self {
            next_id: 10_000_000_000 * (seed % 90 + 10),
            now: seed::anchor(),
            items: BTreeMap::new(),
            orders: BTreeMap::new(),
            access_tokens: crate::core::AccessTokens::default(),
        };
        // (product, variant) → SKU, for the seeded orders' lines.
        let mut skus: BTreeMap<(usize, usize), String> = BTreeMap::new();
        for (pi, p) in g.products.iter().enumerate() {
            let legacy = format!("1{:011}", store.id() % 100_000_000_000);
            for (vi, v) in p.variants.iter().enumerate() {
                // Every inventory item has a SKU on eBay: it is the key.
                let Some(sku) = v.sku.clone() else { continue };
                let offer_id = store.id().to_string();
                skus.insert((pi, vi), sku.clone());
                store.items.insert(
                    sku.clone(),
                    Item {
                        sku,
                        title: p.title.clone(),
                        size: p.has_options.then(|| v.title.clone()),
                        quantity: v.stock,
                        price: v.price,
                        legacy_item_id: legacy.clone(),
                        offer_id,
                    },
                );
            }
        }
        for o in &g.orders {
            let id = store.order_id();
            let mut lines = Vec::new();
            for (pi, vi, q) in &o.lines {
                let Some(item) = skus.get(&(*pi, *vi)).and_then(|s| store.items.get(s)) else {
                    continue;
                };
                let (sku, title, legacy, price) = (
                    item.sku.clone(),
                    item.title.clone(),
                    item.legacy_item_id.clone(),
                    item.price,
                );
                lines.push(Line {
                    id: store.id().to_string(),
                    sku: Some(sku),
                    title,
                    legacy_item_id: legacy,
                    quantity: *q,
                    price,
                });
            }
            if lines.is_empty() {
                continue;
            }
            store.orders.insert(
                id.clone(),
                Order {
                    id,
                    buyer: o.customer.clone(),
                    created: o.created_at,
                    modified: o.created_at,
                    paid: o.paid,
                    cancelled: o.cancelled,
                    shipping: o.shipping,
                    lines,
                    fulfillments: Vec::new(),
                },
            );
        }
        store
    }
}

/// eBay's timestamp: ISO 8601 UTC with milliseconds.
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn amount(minor: i64) -> Value {
    json!({ "value": decimal(minor, 2), "currency": CURRENCY })
}

pub(super) fn username(p: &seed::Person) -> String {
    format!(
        "{}_{}",
        p.first_name.to_lowercase(),
        p.last_name.to_lowercase().replace([' ', '\''], "")
    )
}

pub(super) fn order_json(o: &Order, seller: &str) -> Value {
    let b = &o.buyer;
    let subtotal = o.subtotal();
    let total = subtotal + o.shipping;
    let name = format!("{} {}", b.first_name, b.last_name);
    let address = json!({
        "addressLine1": b.address1, "addressLine2": b.address2, "city": b.city,
        "stateOrProvince": b.region, "postalCode": b.postcode, "countryCode": b.country,
    });
    json!({
        "orderId": o.id, "salesRecordReference": o.id.rsplit('-').next(),
        "creationDate": time(o.created), "lastModifiedDate": time(o.modified),
        "orderFulfillmentStatus": o.fulfillment_status(),
        "orderPaymentStatus": if o.paid { "PAID" } else { "PENDING" },
        "sellerId": seller,
        "buyer": { "username": username(b), "buyerRegistrationAddress": {
            "fullName": name, "email": b.email, "contactAddress": address,
            "primaryPhone": { "phoneNumber": b.phone } } },
        "pricingSummary": {
            "priceSubtotal": amount(subtotal), "deliveryCost": amount(o.shipping),
            "tax": amount(0), "total": amount(total),
        },
        "cancelStatus": if o.cancelled {
            json!({ "cancelState": "CANCELED", "cancelledDate": time(o.modified), "cancelRequests": [] })
        } else {
            json!({ "cancelState": "NONE_REQUESTED", "cancelRequests": [] })
        },
        "paymentSummary": { "totalDueSeller": amount(total), "payments": if o.paid { json!([{
            "paymentMethod": "EBAY", "paymentReferenceId": format!("PAY{}", o.id.replace('-', "")),
            "paymentDate": time(o.created), "amount": amount(total), "paymentStatus": "PAID",
        }]) } else { json!([]) }, "refunds": [] },
        "fulfillmentStartInstructions": [{
            "fulfillmentInstructionsType": "SHIP_TO", "ebaySupportedFulfillment": false,
            "minEstimatedDeliveryDate": time(o.created + Duration::days(2)),
            "maxEstimatedDeliveryDate": time(o.created + Duration::days(5)),
            "shippingStep": { "shippingCarrierCode": "Royal Mail", "shippingServiceCode": "UK_RoyalMailSecondClassStandard",
                "shipTo": { "fullName": name, "companyName": b.company, "contactAddress": address,
                    "primaryPhone": { "phoneNumber": b.phone }, "email": b.email } },
        }],
        "fulfillmentHrefs": o.fulfillments.iter().map(|f| format!(
            "https://api.ebay.com/sell/fulfillment/v1/order/{}/shipping_fulfillment/{}", o.id, f.id)).collect::<Vec<_>>(),
        "lineItems": o.lines.iter().map(|l| json!({
            "lineItemId": l.id, "legacyItemId": l.legacy_item_id, "sku": l.sku, "title": l.title,
            "quantity": l.quantity, "lineItemCost": amount(l.price * l.quantity),
            "total": amount(l.price * l.quantity), "soldFormat": "FIXED_PRICE",
            "listingMarketplaceId": "EBAY_GB", "purchaseMarketplaceId": "EBAY_GB",
            "lineItemFulfillmentStatus": o.line_status(l),
            "deliveryCost": { "shippingCost": amount(0) }, "appliedPromotions": [], "taxes": [],
            "properties": { "buyerProtection": true },
            "lineItemFulfillmentInstructions": { "guaranteedDelivery": false,
                "shipByDate": time(o.created + Duration::days(3)) },
        })).collect::<Vec<_>>(),
        "totalFeeBasisAmount": amount(total), "totalMarketplaceFee": amount(total * 13 / 100),
    })
}

pub(super) fn fulfillment_json(f: &Fulfillment) -> Value {
    json!({
        "fulfillmentId": f.id, "shipmentTrackingNumber": f.tracking, "shippingCarrierCode": f.carrier,
        "shippedDate": time(f.shipped),
        "lineItems": f.lines.iter().map(|(id, q)| json!({ "lineItemId": id, "quantity": q })).collect::<Vec<_>>(),
    })
}

pub(super) fn item_json(i: &Item) -> Value {
    json!({
        "sku": i.sku, "locale": "en_GB", "condition": "NEW",
        "groupIds": i.size.as_ref().map(|_| vec![i.legacy_item_id.clone()]),
        "product": {
            "title": i.title,
            "aspects": i.size.as_ref().map(|s| json!({ "Size": [s] })),
            "imageUrls": [format!("https://i.ebayimg.com/images/g/{}/s-l1600.jpg", i.legacy_item_id)],
        },
        "availability": { "shipToLocationAvailability": { "quantity": i.quantity } },
    })
}
