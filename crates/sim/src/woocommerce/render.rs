//! The API's JSON shapes, field for field as in the saved docs.

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Value, json};

use super::state::{Note, Order, Product, Tracking, Variation, Webhook, tax};
use crate::core::decimal;
use crate::seed::Person;

/// The simulated site's timezone: a fixed UTC+02:00.
pub(crate) fn site_offset() -> FixedOffset {
    FixedOffset::east_opt(2 * 3600).unwrap_or_else(|| Utc.fix())
}

use chrono::Offset as _;

/// Local and GMT renderings, both without a zone (as WordPress does).
pub(crate) fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&site_offset())
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

pub(crate) fn gmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn opt_local(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(local(t)))
}

fn opt_gmt(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(gmt(t)))
}

fn money(minor: i64) -> String {
    decimal(minor, 2)
}

fn address(p: &Person, billing: bool) -> Value {
    let mut a = json!({
        "first_name": p.first_name,
        "last_name": p.last_name,
        "company": p.company.clone().unwrap_or_default(),
        "address_1": p.address1,
        "address_2": p.address2.clone().unwrap_or_default(),
        "city": p.city,
        "state": p.region.clone().unwrap_or_default(),
        "postcode": p.postcode,
        "country": p.country,
    });
    if billing {
        a["email"] = json!(p.email);
        a["phone"] = json!(p.phone);
    }
    a
}

fn tax_entry(rate_id: u64, total: i64, subtotal: i64) -> Value {
    json!([{ "id": rate_id, "total": money(total), "subtotal": money(subtotal) }])
}

pub(crate) fn order(o: &Order, base: &str) -> Value {
    const RATE_ID: u64 = 1;
    let lines: Vec<Value> = o
        .lines
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "product_id": l.product_id,
                "variation_id": l.variation_id,
                "quantity": l.quantity,
                "tax_class": "",
                "subtotal": money(l.subtotal),
                "subtotal_tax": money(l.subtotal_tax()),
                "total": money(l.total),
                "total_tax": money(l.total_tax()),
                "taxes": tax_entry(RATE_ID, l.total_tax(), l.subtotal_tax()),
                "meta_data": [],
                "sku": l.sku,
                // WooCommerce sends the unit price as a JSON number.
                "price": (l.total as f64 / l.quantity.max(1) as f64) / 100.0,
            })
        })
        .collect();
    let discount = o.discount();
    json!({
        "id": o.id,
        "parent_id": 0,
        "number": o.id.to_string(),
        "order_key": o.order_key,
        "created_via": o.created_via,
        "version": "8.6.1",
        "status": o.status,
        "currency": o.currency,
        "date_created": local(o.created),
        "date_created_gmt": gmt(o.created),
        "date_modified": local(o.modified),
        "date_modified_gmt": gmt(o.modified),
        "discount_total": money(discount),
        "discount_tax": money(tax(discount)),
        "shipping_total": money(o.shipping),
        "shipping_tax": money(tax(o.shipping)),
        "cart_tax": money(o.cart_tax()),
        "total": money(o.total()),
        "total_tax": money(o.total_tax()),
        "prices_include_tax": false,
        "customer_id": 0,
        "customer_ip_address": "127.0.0.1",
        "customer_user_agent": "switchyard-sim",
        "customer_note": o.customer_note,
        "billing": address(&o.customer, true),
        "shipping": address(&o.customer, false),
        "payment_method": "bacs",
        "payment_method_title": "Direct bank transfer",
        "transaction_id": "",
        "date_paid": opt_local(o.paid),
        "date_paid_gmt": opt_gmt(o.paid),
        "date_completed": opt_local(o.completed),
        "date_completed_gmt": opt_gmt(o.completed),
        "cart_hash": format!("{:032x}", o.id),
        "meta_data": o.meta.iter().map(|(id, k, v)| json!({ "id": id, "key": k, "value": v })).collect::<Vec<_>>(),
        "line_items": lines,
        "tax_lines": [{
            "id": o.tax_line_id, "rate_code": "VAT-1", "rate_id": RATE_ID, "label": "VAT",
            "compound": false, "tax_total": money(o.cart_tax()),
            "shipping_tax_total": money(tax(o.shipping)), "meta_data": []
        }],
        "shipping_lines": [{
            "id": o.shipping_line_id,
            "method_title": o.shipping_method,
            "method_id": if o.shipping == 0 { "free_shipping" } else { "flat_rate" },
            "total": money(o.shipping),
            "total_tax": money(tax(o.shipping)),
            "taxes": tax_entry(RATE_ID, tax(o.shipping), tax(o.shipping)),
            "meta_data": []
        }],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [],
        "_links": {
            "self": [{ "href": format!("{base}/wp-json/wc/v3/orders/{}", o.id) }],
            "collection": [{ "href": format!("{base}/wp-json/wc/v3/orders") }]
        }
    })
}

fn stock_status(manage: bool, qty: Option<i64>) -> &'static str {
    if manage && qty.unwrap_or(0) <= 0 {
        "outofstock"
    } else {
        "instock"
    }
}

pub(crate) fn product(p: &Product, base: &str) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "slug": p.name.to_lowercase().replace(' ', "-"),
        "permalink": format!("{base}/product/{}/", p.name.to_lowercase().replace(' ', "-")),
        "date_created": local(p.created),
        "date_created_gmt": gmt(p.created),
        "date_modified": local(p.modified),
        "date_modified_gmt": gmt(p.modified),
        "type": p.kind,
        "status": "publish",
        "featured": false,
        "catalog_visibility": "visible",
        "description": "",
        "short_description": "",
        "sku": p.sku,
        "price": money(p.price),
        "regular_price": if p.kind == "simple" { money(p.price) } else { String::new() },
        "sale_price": "",
        "on_sale": false,
        "purchasable": true,
        "virtual": false,
        "downloadable": false,
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": p.manage_stock,
        "stock_quantity": p.stock_quantity,
        "stock_status": stock_status(p.manage_stock, p.stock_quantity),
        "backorders": "no",
        "backorders_allowed": false,
        "backordered": false,
        "weight": "",
        "dimensions": { "length": "", "width": "", "height": "" },
        "attributes": if p.kind == "variable" {
            json!([{ "id": 0, "name": "Size", "position": 0, "visible": true, "variation": true, "options": ["S", "M", "L"] }])
        } else { json!([]) },
        "variations": p.variations,
        "meta_data": [],
        "_links": {
            "self": [{ "href": format!("{base}/wp-json/wc/v3/products/{}", p.id) }],
            "collection": [{ "href": format!("{base}/wp-json/wc/v3/products") }]
        }
    })
}

pub(crate) fn variation(v: &Variation, base: &str) -> Value {
    json!({
        "id": v.id,
        "date_created": local(v.created),
        "date_created_gmt": gmt(v.created),
        "date_modified": local(v.modified),
        "date_modified_gmt": gmt(v.modified),
        "description": "",
        "permalink": format!("{base}/?p={}", v.id),
        "sku": v.sku,
        "price": money(v.price),
        "regular_price": money(v.price),
        "sale_price": "",
        "on_sale": false,
        "status": "publish",
        "purchasable": true,
        "virtual": false,
        "downloadable": false,
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": v.manage_stock,
        "stock_quantity": v.stock_quantity,
        "stock_status": stock_status(v.manage_stock, v.stock_quantity),
        "backorders": "no",
        "backorders_allowed": false,
        "backordered": false,
        "weight": "",
        "dimensions": { "length": "", "width": "", "height": "" },
        "attributes": [{ "id": 0, "name": "Size", "option": v.option }],
        "meta_data": [],
        "_links": {
            "self": [{ "href": format!("{base}/wp-json/wc/v3/products/{}/variations/{}", v.parent_id, v.id) }],
            "collection": [{ "href": format!("{base}/wp-json/wc/v3/products/{}/variations", v.parent_id) }],
            "up": [{ "href": format!("{base}/wp-json/wc/v3/products/{}", v.parent_id) }]
        }
    })
}

pub(crate) fn note(n: &Note) -> Value {
    json!({
        "id": n.id,
        "author": "WooCommerce",
        "date_created": local(n.created),
        "date_created_gmt": gmt(n.created),
        "note": n.note,
        "customer_note": n.customer_note,
    })
}

pub(crate) fn tracking(t: &Tracking) -> Value {
    let link = if t.custom_link.is_empty() {
        format!("https://track.example/{}", t.number)
    } else {
        t.custom_link.clone()
    };
    json!({
        "tracking_id": t.tracking_id,
        "tracking_provider": t.provider,
        "custom_tracking_provider": t.custom_provider,
        "custom_tracking_link": t.custom_link,
        "tracking_link": link,
        "tracking_number": t.number,
        "date_shipped": t.date_shipped.to_string(),
    })
}

pub(crate) fn webhook(w: &Webhook) -> Value {
    let (resource, event) = w.topic.split_once('.').unwrap_or((&w.topic, ""));
    json!({
        "id": w.id,
        "name": w.name,
        "status": w.status,
        "topic": w.topic,
        "resource": resource,
        "event": event,
        "hooks": [format!("woocommerce_{resource}_{event}")],
        "delivery_url": w.delivery_url,
        "date_created": local(w.created),
        "date_created_gmt": gmt(w.created),
        "date_modified": local(w.created),
        "date_modified_gmt": gmt(w.created),
    })
}
