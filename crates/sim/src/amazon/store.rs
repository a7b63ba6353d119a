//! The simulated seller: listings, orders with their items and packages,
//! result snapshots behind `NextToken`s, and their JSON as SP-API renders
//! it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{CURRENCY, MARKETPLACE};
use crate::core::decimal;
use crate::seed;

#[derive(Debug, Clone)]
pub(super) struct Listing {
    pub(super) sku: String,
    pub(super) asin: String,
    pub(super) title: String,
    pub(super) quantity: i64,
    pub(super) price: i64,
    pub(super) updated: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) id: String,
    pub(super) asin: String,
    pub(super) sku: String,
    pub(super) title: String,
    pub(super) quantity: i64,
    pub(super) unit_price: i64,
}

#[derive(Debug, Clone)]
pub(super) struct Package {
    pub(super) reference: String,
    pub(super) carrier_code: String,
    pub(super) carrier_name: Option<String>,
    pub(super) method: Option<String>,
    pub(super) tracking: String,
    pub(super) ship_date: String,
    pub(super) items: Vec<(String, i64)>,
}

#[derive(Debug, Clone)]
pub(super) struct Order {
    pub(super) id: String,
    pub(super) purchased: DateTime<Utc>,
    pub(super) updated: DateTime<Utc>,
    pub(super) afn: bool,
    pub(super) paid: bool,
    pub(super) cancelled: bool,
    pub(super) buyer: seed::Person,
    pub(super) shipping: i64,
    pub(super) items: Vec<Item>,
    pub(super) packages: Vec<Package>,
}

impl Order {
    pub(super) fn shipped(&self, item: &str) -> i64 {
        self.packages
            .iter()
            .flat_map(|p| &p.items)
            .filter(|(i, _)| i == item)
            .map(|(_, q)| q)
            .sum()
    }

    pub(super) fn status(&self) -> &'static str {
        let total: i64 = self.items.iter().map(|i| i.quantity).sum();
        let shipped: i64 = self
            .items
            .iter()
            .map(|i| self.shipped(&i.id).min(i.quantity))
            .sum();
        if self.cancelled {
            "Canceled"
        } else if !self.paid {
            "Pending"
        } else if shipped == 0 {
            "Unshipped"
        } else if shipped < total {
            "PartiallyShipped"
        } else {
            "Shipped"
        }
    }
}

#[derive(Debug)]
pub(super) struct Store {
    pub(super) next_id: u64,
    pub(super) now: DateTime<Utc>,
    /// By SKU.
    pub(super) listings: BTreeMap<String, Listing>,
    /// By order id.
    pub(super) orders: BTreeMap<String, Order>,
    /// `NextToken` → the order ids of the result and where the page starts;
    /// tokens sort by age, and the oldest expire past [`SNAPSHOTS`].
    pub(super) snapshots: BTreeMap<String, (std::sync::Arc<[String]>, usize)>,
    pub(super) access_tokens: crate::core::AccessTokens,
    /// Seconds a change waits before `getOrders` lists it (Amazon: 120).
    pub(super) lag_secs: i64,
    /// Feed documents (uploads and reports) by id.
    pub(super) documents: BTreeMap<String, super::feeds::Document>,
    /// Feeds by id.
    pub(super) feeds: BTreeMap<String, super::feeds::Feed>,
    /// How long a feed waits in the queue.
    pub(super) feed_delay: Duration,
}

/// `NextToken`s kept at once (Amazon's expire too).
pub(super) const SNAPSHOTS: usize = 256;

/// SP-API's time format: ISO 8601 UTC (`2026-01-02T03:04:05Z`).
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) fn money(minor: i64) -> Value {
    json!({ "CurrencyCode": CURRENCY, "Amount": decimal(minor, 2) })
}

impl Store {
    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// An order id in Amazon's `NNN-NNNNNNN-NNNNNNN` shape.
    pub(super) fn order_id(&mut self) -> String {
        let n = self.id();
        format!(
            "302-{:07}-{:07}",
            n / 10_000_000 % 10_000_000,
            n % 10_000_000
        )
    }

    /// Now (real time), strictly after every earlier change.
    pub(super) fn tick(&mut self) -> DateTime<Utc> {
        crate::core::later(&mut self.now)
    }

    pub(super) fn seeded(seed: u64, products: usize, orders: usize) -> Self {
        let g = seed::generate(seed, products, orders);
        let mut store = Self {
            next_id: 1_000_000 * (seed % 900 + 100),
            now: seed::anchor(),
            listings: BTreeMap::new(),
            orders: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            access_tokens: crate::core::AccessTokens::default(),
            lag_secs: 120,
            documents: BTreeMap::new(),
            feeds: BTreeMap::new(),
            feed_delay: Duration::milliseconds(300),
        };
        let mut skus: BTreeMap<(usize, usize), String> = BTreeMap::new();
        for (pi, p) in g.products.iter().enumerate() {
            for (vi, v) in p.variants.iter().enumerate() {
                let Some(sku) = v.sku.clone() else { continue };
                let asin = format!("B0{:08X}", store.id() % 0xFFFF_FFFF);
                let title = if p.has_options {
                    format!("{} ({})", p.title, v.title)
                } else {
                    p.title.clone()
                };
                skus.insert((pi, vi), sku.clone());
                store.listings.insert(
                    sku.clone(),
                    Listing {
                        sku,
                        asin,
                        title,
                        quantity: v.stock,
                        price: v.price,
                        updated: store.now,
                    },
                );
            }
        }
        for (n, o) in g.orders.iter().enumerate() {
            let id = store.order_id();
            let mut items = Vec::new();
            for (pi, vi, q) in &o.lines {
                let Some(l) = skus.get(&(*pi, *vi)).and_then(|s| store.listings.get(s)) else {
                    continue;
                };
                let l = l.clone();
                items.push(Item {
                    id: format!("{:014}", store.id()),
                    asin: l.asin,
                    sku: l.sku,
                    title: l.title,
                    quantity: *q,
                    unit_price: l.price,
                });
            }
            if items.is_empty() {
                continue;
            }
            store.orders.insert(
                id.clone(),
                Order {
                    id,
                    purchased: o.created_at,
                    updated: o.created_at,
                    // Every seventh order is fulfilled by Amazon.
                    afn: n % 7 == 6,
                    paid: o.paid,
                    cancelled: o.cancelled,
                    buyer: o.customer.clone(),
                    shipping: o.shipping,
                    items,
                    packages: Vec::new(),
                },
            );
        }
        store
    }
}

pub(super) fn order_json(o: &Order) -> Value {
    let b = &o.buyer;
    let subtotal: i64 = o.items.iter().map(|i| i.unit_price * i.quantity).sum();
    let shipped: i64 = o
        .items
        .iter()
        .map(|i| o.shipped(&i.id).min(i.quantity))
        .sum();
    let total: i64 = o.items.iter().map(|i| i.quantity).sum();
    json!({
        "AmazonOrderId": o.id, "SellerOrderId": o.id,
        "PurchaseDate": time(o.purchased), "LastUpdateDate": time(o.updated),
        "OrderStatus": o.status(), "FulfillmentChannel": if o.afn { "AFN" } else { "MFN" },
        "SalesChannel": "Amazon.de", "ShipServiceLevel": "Std DE Dom",
        "OrderTotal": money(subtotal + o.shipping),
        "NumberOfItemsShipped": shipped, "NumberOfItemsUnshipped": total - shipped,
        "PaymentMethod": "Other", "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": MARKETPLACE, "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": time(o.purchased), "LatestShipDate": time(o.purchased + Duration::days(2)),
        "IsBusinessOrder": false, "IsPrime": false, "IsPremiumOrder": false,
        "IsGlobalExpressEnabled": false, "IsReplacementOrder": false, "IsSoldByAB": false,
        "IsISPU": false, "IsAccessPointOrder": false, "HasRegulatedItems": false,
        // Without a restricted data token: no name, no street.
        "ShippingAddress": address_json(b),
        "BuyerInfo": { "BuyerEmail": buyer_email(b) },
    })
}

/// A buyer's address as Amazon shows it without a restricted data token:
/// no name, no street; a field Amazon does not have is left out, never
/// `null`.
pub(super) fn address_json(b: &seed::Person) -> Value {
    let mut a = json!({ "City": b.city, "PostalCode": b.postcode, "CountryCode": b.country });
    if let Some(region) = &b.region {
        a["StateOrRegion"] = json!(region);
    }
    a
}

/// What `BuyerInfo.BuyerEmail` shows: Amazon's anonymised relay address.
pub(super) fn buyer_email(b: &seed::Person) -> String {
    format!(
        "{}@marketplace.amazon.de",
        b.email.split('@').next().unwrap_or("buyer")
    )
}

pub(super) fn item_json(o: &Order, i: &Item) -> Value {
    // The order's shipping is charged on its first item.
    let first = o.items.first().is_some_and(|f| f.id == i.id);
    json!({
        "ASIN": i.asin, "SellerSKU": i.sku, "OrderItemId": i.id, "Title": i.title,
        "QuantityOrdered": i.quantity, "QuantityShipped": o.shipped(&i.id).min(i.quantity),
        "ProductInfo": { "NumberOfItems": "1" },
        "ItemPrice": money(i.unit_price * i.quantity), "ItemTax": money(0),
        "ShippingPrice": money(if first { o.shipping } else { 0 }), "ShippingTax": money(0),
        "ShippingDiscount": money(0), "PromotionDiscount": money(0), "PromotionDiscountTax": money(0),
        "IsGift": "false", "ConditionId": "New", "ConditionSubtypeId": "New",
        "IsTransparency": false, "SerialNumberRequired": false,
        "BuyerRequestedCancel": { "IsBuyerRequestedCancel": "false", "BuyerCancelReason": "" },
    })
}

pub(super) fn listing_json(l: &Listing) -> Value {
    json!({
        "sku": l.sku,
        "summaries": [{ "marketplaceId": MARKETPLACE, "asin": l.asin, "productType": "PRODUCT",
            "conditionType": "new_new", "status": ["BUYABLE", "DISCOVERABLE"], "itemName": l.title,
            "createdDate": time(l.updated), "lastUpdatedDate": time(l.updated) }],
        "fulfillmentAvailability": [{ "fulfillmentChannelCode": "DEFAULT", "quantity": l.quantity }],
        "offers": [{ "marketplaceId": MARKETPLACE, "offerType": "B2C",
            "price": { "currencyCode": CURRENCY, "amount": decimal(l.price, 2) } }],
    })
}
