//! The simulated retailer: offers, orders with their items, shipments,
//! process statuses of asynchronous changes, offer exports, and their JSON
//! as bol renders it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::seed;

#[derive(Debug, Clone)]
pub(super) struct Offer {
    pub(super) id: String,
    pub(super) ean: String,
    /// The retailer's own reference: the SKU.
    pub(super) reference: Option<String>,
    pub(super) title: String,
    pub(super) stock: i64,
    pub(super) price: i64,
    pub(super) changed: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) id: String,
    pub(super) offer_id: String,
    pub(super) ean: String,
    pub(super) reference: Option<String>,
    pub(super) title: String,
    pub(super) quantity: i64,
    pub(super) shipped: i64,
    pub(super) cancelled: i64,
    pub(super) unit_price: i64,
    pub(super) changed: DateTime<Utc>,
}

impl Item {
    pub(super) fn open(&self) -> i64 {
        self.quantity - self.shipped - self.cancelled
    }
}

#[derive(Debug, Clone)]
pub(super) struct Order {
    pub(super) id: String,
    pub(super) placed: DateTime<Utc>,
    pub(super) buyer: seed::Person,
    pub(super) items: Vec<Item>,
}

impl Order {
    pub(super) fn is_open(&self) -> bool {
        self.items.iter().any(|i| i.open() > 0)
    }
}

#[derive(Debug, Clone)]
pub(super) struct Shipment {
    pub(super) id: String,
    pub(super) order_id: String,
    pub(super) reference: Option<String>,
    pub(super) items: Vec<(String, i64)>,
    pub(super) transporter: Option<String>,
    pub(super) track: Option<String>,
    pub(super) at: DateTime<Utc>,
}

/// What a pending process does when it is handled.
#[derive(Debug, Clone)]
pub(super) enum Action {
    Ship {
        order_id: String,
        reference: Option<String>,
        items: Vec<(String, i64)>,
        transporter: Option<String>,
        track: Option<String>,
    },
    Stock {
        offer_id: String,
        amount: i64,
    },
    Export,
}

#[derive(Debug, Clone)]
pub(super) struct Process {
    pub(super) id: String,
    pub(super) event_type: &'static str,
    pub(super) description: String,
    pub(super) entity_id: Option<String>,
    pub(super) created: DateTime<Utc>,
    pub(super) due: DateTime<Utc>,
    pub(super) action: Option<Action>,
    /// `None` while pending; then `Ok(())` or the error message.
    pub(super) outcome: Option<Result<(), String>>,
}

#[derive(Debug)]
pub(super) struct Shop {
    pub(super) next_id: u64,
    pub(super) now: DateTime<Utc>,
    /// By offer id.
    pub(super) offers: BTreeMap<String, Offer>,
    /// By order id.
    pub(super) orders: BTreeMap<String, Order>,
    pub(super) shipments: Vec<Shipment>,
    pub(super) processes: BTreeMap<String, Process>,
    /// Ids of the processes not handled yet, oldest first.
    pub(super) pending: Vec<String>,
    /// Report id → CSV.
    pub(super) exports: BTreeMap<String, String>,
    pub(super) access_tokens: crate::core::AccessTokens,
    /// How long a change waits before it is handled.
    pub(super) delay: Duration,
}

/// bol's time format: ISO 8601 with offset, no fractions.
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A price as bol writes it: a JSON number in euros.
pub(super) fn euros(minor: i64) -> Value {
    #[allow(clippy::cast_precision_loss, reason = "prices are small")]
    let v = minor as f64 / 100.0;
    json!(v)
}

impl Shop {
    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Now (real time), strictly after every earlier change.
    pub(super) fn tick(&mut self) -> DateTime<Utc> {
        crate::core::later(&mut self.now)
    }

    pub(super) fn offer_by_reference(&self, sku: &str) -> Option<&Offer> {
        self.offers
            .values()
            .find(|o| o.reference.as_deref() == Some(sku))
    }

    /// Open a process for `action`, handled after the delay.
    pub(super) fn process(
        &mut self,
        event_type: &'static str,
        description: String,
        entity_id: Option<String>,
        action: Action,
    ) -> Process {
        let id = self.id().to_string();
        let now = self.tick();
        let p = Process {
            id: id.clone(),
            event_type,
            description,
            entity_id,
            created: now,
            due: now + self.delay,
            action: Some(action),
            outcome: None,
        };
        self.processes.insert(id.clone(), p.clone());
        self.pending.push(id);
        p
    }

    /// Handle every process that is due, oldest first.
    pub(super) fn settle(&mut self) {
        let now = Utc::now();
        // Handled in the order they were opened, each once it is due.
        let ready = self
            .pending
            .iter()
            .take_while(|id| self.processes.get(*id).is_none_or(|p| p.due <= now))
            .count();
        let due: Vec<String> = self.pending.drain(..ready).collect();
        for id in due {
            let Some(action) = self.processes.get_mut(&id).and_then(|p| p.action.take()) else {
                continue;
            };
            let (outcome, entity) = self.apply(action);
            if let Some(p) = self.processes.get_mut(&id) {
                p.outcome = Some(outcome);
                if entity.is_some() {
                    p.entity_id = entity;
                }
            }
        }
    }

    fn apply(&mut self, action: Action) -> (Result<(), String>, Option<String>) {
        match action {
            Action::Stock { offer_id, amount } => {
                let now = self.tick();
                match self.offers.get_mut(&offer_id) {
                    Some(o) => {
                        o.stock = amount;
                        o.changed = now;
                        (Ok(()), None)
                    }
                    None => (Err(format!("Offer {offer_id} does not exist.")), None),
                }
            }
            Action::Ship {
                order_id,
                reference,
                items,
                transporter,
                track,
            } => {
                let now = self.tick();
                let sid = self.id().to_string();
                let Some(order) = self.orders.get_mut(&order_id) else {
                    return (Err(format!("Order {order_id} does not exist.")), None);
                };
                for (item_id, q) in &items {
                    match order.items.iter().find(|i| &i.id == item_id) {
                        Some(i) if i.open() >= *q => {}
                        Some(_) => {
                            return (
                                Err(format!(
                                    "Order item {item_id} has already been shipped or cancelled."
                                )),
                                None,
                            );
                        }
                        None => {
                            return (Err(format!("Order item {item_id} does not exist.")), None);
                        }
                    }
                }
                for (item_id, q) in &items {
                    if let Some(i) = order.items.iter_mut().find(|i| &i.id == item_id) {
                        i.shipped += q;
                        i.changed = now;
                    }
                }
                self.shipments.push(Shipment {
                    id: sid.clone(),
                    order_id,
                    reference,
                    items,
                    transporter,
                    track,
                    at: now,
                });
                (Ok(()), Some(sid))
            }
            Action::Export => {
                let rid = format!("{:x}", self.id());
                let mut csv = String::from(
                    "offerId,ean,conditionName,conditionCategory,conditionComment,bundlePricesPrice,fulfilmentDeliveryCode,stockAmount,onHoldByRetailer,fulfilmentType,mutationDateTime,referenceCode,correctedStock\n",
                );
                for o in self.offers.values() {
                    csv.push_str(&format!(
                        "{},{},NEW,NEW,,{},1-2d,{},false,FBR,{},{},{}\n",
                        o.id,
                        o.ean,
                        euros(o.price),
                        o.stock,
                        time(o.changed),
                        o.reference.clone().unwrap_or_default(),
                        o.stock,
                    ));
                }
                self.exports.insert(rid.clone(), csv);
                (Ok(()), Some(rid))
            }
        }
    }

    pub(super) fn seeded(seed: u64, products: usize, orders: usize) -> Self {
        let g = seed::generate(seed, products, orders);
        let mut shop = Self {
            next_id: 1_000_000_000 + seed * 1_000_000,
            now: seed::anchor(),
            offers: BTreeMap::new(),
            orders: BTreeMap::new(),
            shipments: Vec::new(),
            processes: BTreeMap::new(),
            pending: Vec::new(),
            exports: BTreeMap::new(),
            access_tokens: crate::core::AccessTokens::default(),
            delay: Duration::milliseconds(200),
        };
        let mut by_variant: BTreeMap<(usize, usize), String> = BTreeMap::new();
        for (pi, p) in g.products.iter().enumerate() {
            for (vi, v) in p.variants.iter().enumerate() {
                let n = shop.id();
                let id = format!(
                    "{n:08x}-0b01-4c0f-8e5a-{:012x}",
                    n * 7919 % 0xffff_ffff_ffff
                );
                let title = if p.has_options {
                    format!("{} - {}", p.title, v.title)
                } else {
                    p.title.clone()
                };
                by_variant.insert((pi, vi), id.clone());
                shop.offers.insert(
                    id.clone(),
                    Offer {
                        id,
                        ean: ean13(871_000_000_000 + n % 1_000_000_000),
                        reference: v.sku.clone(),
                        title,
                        stock: v.stock,
                        price: v.price,
                        changed: shop.now,
                    },
                );
            }
        }
        for o in &g.orders {
            let oid = format!("A{:09X}", shop.id() % 0xf_ffff_ffff);
            let mut items = Vec::new();
            for (pi, vi, q) in &o.lines {
                let Some(offer) = by_variant
                    .get(&(*pi, *vi))
                    .and_then(|id| shop.offers.get(id))
                else {
                    continue;
                };
                let offer = offer.clone();
                items.push(Item {
                    id: (shop.id() * 10).to_string(),
                    offer_id: offer.id,
                    ean: offer.ean,
                    reference: offer.reference,
                    title: offer.title,
                    quantity: *q,
                    shipped: if o.fulfilled { *q } else { 0 },
                    cancelled: if o.cancelled { *q } else { 0 },
                    unit_price: offer.price,
                    changed: o.created_at,
                });
            }
            // bol only passes on paid orders.
            if items.is_empty() || !o.paid {
                continue;
            }
            shop.orders.insert(
                oid.clone(),
                Order {
                    id: oid,
                    placed: o.created_at,
                    buyer: o.customer.clone(),
                    items,
                },
            );
        }
        shop
    }
}

/// A valid EAN-13 from 12 digits.
fn ean13(body: u64) -> String {
    let digits = format!("{:012}", body % 1_000_000_000_000);
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

fn split_street(address: &str) -> (String, String) {
    // "12 High Street" → ("High Street", "12"): bol keeps the house number apart.
    match address.split_once(' ') {
        Some((n, street)) if n.chars().all(|c| c.is_ascii_digit()) => {
            (street.to_owned(), n.to_owned())
        }
        _ => (address.to_owned(), "1".to_owned()),
    }
}

pub(super) fn details(p: &seed::Person) -> Value {
    let (street, number) = split_street(&p.address1);
    json!({
        "salutation": "UNKNOWN", "firstName": p.first_name, "surname": p.last_name,
        "streetName": street, "houseNumber": number, "zipCode": p.postcode, "city": p.city,
        "countryCode": p.country, "email": p.email, "company": p.company,
        "deliveryPhoneNumber": p.phone, "language": "nl",
    })
}

pub(super) fn reduced_json(o: &Order) -> Value {
    json!({
        "orderId": o.id, "orderPlacedDateTime": time(o.placed),
        "orderItems": o.items.iter().map(|i| json!({
            "orderItemId": i.id, "ean": i.ean, "fulfilmentMethod": "FBR",
            "fulfilmentStatus": if i.open() > 0 { "OPEN" } else { "HANDLED" },
            "quantity": i.quantity, "quantityShipped": i.shipped, "quantityCancelled": i.cancelled,
            "cancellationRequest": false, "latestChangedDateTime": time(i.changed),
        })).collect::<Vec<_>>(),
    })
}

pub(super) fn order_json(o: &Order) -> Value {
    json!({
        "orderId": o.id, "pickupPoint": false, "orderPlacedDateTime": time(o.placed),
        "shipmentDetails": details(&o.buyer), "billingDetails": details(&o.buyer),
        "orderItems": o.items.iter().map(|i| json!({
            "orderItemId": i.id, "cancellationRequest": false,
            "fulfilment": { "method": "FBR", "distributionParty": "RETAILER",
                "latestDeliveryDate": (o.placed + Duration::days(2)).format("%Y-%m-%d").to_string(),
                "timeFrameType": "REGULAR" },
            "offer": { "offerId": i.offer_id, "reference": i.reference },
            "product": { "ean": i.ean, "title": i.title },
            "quantity": i.quantity, "quantityShipped": i.shipped, "quantityCancelled": i.cancelled,
            "unitPrice": euros(i.unit_price), "totalPrice": euros(i.unit_price * i.quantity),
            "discounts": [], "commission": euros(i.unit_price * i.quantity * 15 / 100),
            "latestChangedDateTime": time(i.changed),
        })).collect::<Vec<_>>(),
    })
}

pub(super) fn process_json(p: &Process) -> Value {
    let status = match &p.outcome {
        None => "PENDING",
        Some(Ok(())) => "SUCCESS",
        Some(Err(_)) => "FAILURE",
    };
    let mut v = json!({
        "processStatusId": p.id, "eventType": p.event_type, "description": p.description,
        "status": status, "createTimestamp": time(p.created),
        "links": [{ "rel": "self", "href": format!("https://api.bol.com/shared/process-status/{}", p.id),
                    "method": "GET" }],
    });
    if let Some(e) = &p.entity_id {
        v["entityId"] = json!(e);
    }
    if let Some(Err(e)) = &p.outcome {
        v["errorMessage"] = json!(e);
    }
    v
}

pub(super) fn offer_json(o: &Offer) -> Value {
    json!({
        "offerId": o.id, "ean": o.ean, "reference": o.reference, "onHoldByRetailer": false,
        "unknownProductTitle": o.title,
        "pricing": { "bundlePrices": [{ "quantity": 1, "unitPrice": euros(o.price) }] },
        "stock": { "amount": o.stock, "correctedStock": o.stock, "managedByRetailer": true },
        "fulfilment": { "method": "FBR", "deliveryCode": "1-2d" },
        "store": { "productTitle": o.title, "visible": [{ "countryCode": "NL" }] },
        "condition": { "name": "NEW", "category": "NEW" },
        "notPublishableReasons": [],
    })
}

pub(super) fn shipment_json(s: &Shipment, o: Option<&Order>) -> Value {
    json!({
        "shipmentId": s.id, "shipmentDateTime": time(s.at), "shipmentReference": s.reference,
        "order": { "orderId": s.order_id, "orderPlacedDateTime": o.map(|o| time(o.placed)) },
        "shipmentItems": s.items.iter().map(|(id, _)| json!({
            "orderItemId": id,
            "ean": o.and_then(|o| o.items.iter().find(|i| &i.id == id)).map(|i| i.ean.clone()),
        })).collect::<Vec<_>>(),
        "transport": { "transportId": format!("T{}", s.id), "transporterCode": s.transporter,
                       "trackAndTrace": s.track },
    })
}

pub(super) const CSV: &str = super::CSV_TYPE;
