//! Executing Admin API documents: validation against the published schema,
//! query cost and the leaky-bucket throttle, and resolvers over the shop.
//!
//! Objects are resolved as JSON built from the shop state; the executor
//! (apollo-compiler's, spec-compliant: aliases, fragments, variables,
//! `__typename`, null propagation) projects what the document selected.
//! Fields of the schema the simulator does not model resolve to null, which
//! the executor reports as an error where the schema says non-null.

use std::cell::RefCell;

use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::resolvers::{FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::JsonMap;
use apollo_compiler::schema::{ExtendedType, Type};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use base64::Engine as _;
use serde_json::{Value, json};

use super::Sim;
use super::search::Search;
use super::state::{self, Shop, gid, parse_gid};
use crate::core::lock;

/// Largest `first`/`last` on a connection.
const MAX_PAGE: i64 = 250;
/// Cost of a mutation field.
const MUTATION_COST: u64 = 10;

/// Events to deliver as webhooks once the request is answered.
pub(crate) type Events = RefCell<Vec<(&'static str, u64)>>;

fn to_bytes(v: Value) -> apollo_compiler::response::JsonValue {
    v.into()
}

fn field_err(message: impl Into<String>) -> FieldError {
    FieldError {
        message: message.into(),
    }
}

/// A resolved JSON object of a schema type.
struct Node<'s> {
    ty: String,
    data: Value,
    schema: &'s Valid<Schema>,
}

fn resolve_value<'a>(schema: &'a Valid<Schema>, v: Value, ty: &Type) -> ResolvedValue<'a> {
    if v.is_null() {
        return ResolvedValue::null();
    }
    if ty.is_list() {
        let item = ty.item_type().clone();
        let items = match v {
            Value::Array(a) => a,
            other => vec![other],
        };
        return ResolvedValue::list(
            items
                .into_iter()
                .map(move |i| resolve_value(schema, i, &item))
                .collect::<Vec<_>>(),
        );
    }
    let named = ty.inner_named_type().as_str();
    match schema.types.get(named) {
        Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
            let ty = v
                .get("__typename")
                .and_then(Value::as_str)
                .unwrap_or(named)
                .to_owned();
            ResolvedValue::object(Node {
                ty,
                data: v,
                schema,
            })
        }
        _ => ResolvedValue::leaf(to_bytes(v)),
    }
}

fn args(info: &ResolveInfo<'_>) -> Value {
    serde_json::to_value(info.arguments()).unwrap_or(Value::Null)
}

fn cursor(last_id: u64, last_value: i64) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(json!({ "last_id": last_id, "last_value": last_value }).to_string())
}

fn parse_cursor(s: &str) -> Result<(i64, u64), FieldError> {
    let bad = || field_err(format!("Invalid cursor for current pagination sort: {s}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((
        v["last_value"].as_i64().ok_or_else(bad)?,
        v["last_id"].as_u64().ok_or_else(bad)?,
    ))
}

/// `first`/`last` as Shopify demands them.
fn page_size(a: &Value) -> Result<(i64, bool), FieldError> {
    match (a["first"].as_i64(), a["last"].as_i64()) {
        (Some(_), Some(_)) => Err(field_err("you must provide one of first or last, not both")),
        // A bulk export takes everything.
        (None, None) if super::bulk::exporting() => Ok((1 << 40, false)),
        (None, None) => Err(field_err("you must provide one of first or last")),
        (Some(n), None) | (None, Some(n)) if !(0..=MAX_PAGE).contains(&n) => Err(field_err(
            format!("The `first`/`last` argument must be between 0 and {MAX_PAGE}, got {n}"),
        )),
        (Some(n), None) => Ok((n, false)),
        (None, Some(n)) => Ok((n, true)),
    }
}

/// One connection page over `(sort value, id, node)` items, already sorted
/// ascending; `reverse` flips the order. Keyset cursors: an item changed
/// while a client pages moves, it is never skipped.
fn connection(
    sim: &Sim,
    conn_type: &str,
    mut items: Vec<(i64, u64)>,
    a: &Value,
    render: impl Fn(u64) -> Value,
) -> Result<Value, FieldError> {
    let export = super::bulk::root_page();
    let (n, from_end) = match export {
        Some((_, chunk)) => (chunk as i64, false),
        None => page_size(a)?,
    };
    if a["reverse"].as_bool() == Some(true) {
        items.reverse();
    }
    let reverse = a["reverse"].as_bool() == Some(true);
    let mut start = 0;
    let mut end = items.len();
    if let Some((after, _)) = export {
        start = after.map_or(0, |c| {
            items
                .iter()
                .position(|k| if reverse { *k < c } else { *k > c })
                .unwrap_or(items.len())
        });
    } else if let Some(after) = a["after"].as_str() {
        let c = parse_cursor(after)?;
        start = items
            .iter()
            .position(|k| if reverse { *k < c } else { *k > c })
            .unwrap_or(items.len());
    }
    if let Some(before) = a["before"].as_str() {
        let c = parse_cursor(before)?;
        end = items
            .iter()
            .position(|k| if reverse { *k <= c } else { *k >= c })
            .unwrap_or(items.len())
            .max(start);
    }
    let n = n as usize;
    let (from, to) = if from_end {
        (end.saturating_sub(n).max(start), end)
    } else {
        (start, (start + n).min(end))
    };
    let mut keys: Vec<(i64, u64)> = items[from..to].to_vec();
    if export.is_some() {
        super::bulk::root_done(keys.last().copied(), to < end);
    }
    let before = from.checked_sub(1).and_then(|i| items.get(i)).copied();
    if !keys.is_empty() && !super::bulk::exporting() {
        sim.core.disturb_page(&mut keys, before);
    }
    let page: Vec<(i64, u64, Value)> = keys
        .into_iter()
        .map(|(k, id)| (k, id, render(id)))
        .collect();
    let edge_type = format!("{}Edge", conn_type.trim_end_matches("Connection"));
    let edges: Vec<Value> = page
        .iter()
        .map(|(k, id, node)| json!({ "__typename": edge_type, "cursor": cursor(*id, *k), "node": node }))
        .collect();
    let nodes: Vec<Value> = page.iter().map(|(_, _, n)| n.clone()).collect();
    Ok(json!({
        "__typename": conn_type,
        "edges": edges,
        "nodes": nodes,
        "pageInfo": {
            "__typename": "PageInfo",
            "hasNextPage": to < end,
            "hasPreviousPage": from > 0,
            "startCursor": page.first().map(|(k, id, _)| cursor(*id, *k)),
            "endCursor": page.last().map(|(k, id, _)| cursor(*id, *k)),
        }
    }))
}

impl ObjectValue for Node<'_> {
    fn type_name(&self) -> &str {
        &self.ty
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let name = info.field_name();
        let ty = &info.field_definition().ty;
        let a = args(info);
        let value = match (self.ty.as_str(), name) {
            ("InventoryLevel", "quantities") => {
                let q = &self.data["_quantities"];
                let names = a["names"].as_array().cloned().unwrap_or_default();
                let mut out = Vec::new();
                for n in names {
                    let n = n.as_str().unwrap_or_default();
                    let Some(v) = q.get(n) else {
                        return Err(field_err(format!("Invalid quantity name: {n}")));
                    };
                    out.push(json!({ "__typename": "InventoryQuantity",
                        "id": format!("{}&name={n}", self.data["id"].as_str().unwrap_or_default()),
                        "name": n, "quantity": v, "updatedAt": null }));
                }
                Value::Array(out)
            }
            ("InventoryItem", "inventoryLevel") => {
                let want = a["locationId"].as_str().unwrap_or_default();
                if parse_gid("Location", want) == Some(state::LOCATION_ID) {
                    self.data["_level"].clone()
                } else {
                    Value::Null
                }
            }
            _ => {
                let v = self.data.get(name).cloned().unwrap_or(Value::Null);
                let named = ty.inner_named_type().as_str();
                if named.ends_with("Connection")
                    && let Value::Array(list) = v
                {
                    let items = list
                        .into_iter()
                        .enumerate()
                        .map(|(i, n)| (i as i64, i as u64, n))
                        .collect();
                    connection_plain(named, items, &a)?
                } else if let (Some(first), Value::Array(list)) = (a["first"].as_i64(), &v) {
                    Value::Array(list.iter().take(first.max(0) as usize).cloned().collect())
                } else {
                    v
                }
            }
        };
        Ok(resolve_value(self.schema, value, ty))
    }
}

/// A nested connection (no fault injection: faults are for top-level lists).
fn connection_plain(
    conn_type: &str,
    items: Vec<(i64, u64, Value)>,
    a: &Value,
) -> Result<Value, FieldError> {
    let (n, from_end) = page_size(a)?;
    let mut start = 0;
    if let Some(after) = a["after"].as_str() {
        let (_, id) = parse_cursor(after)?;
        start = (id as usize + 1).min(items.len());
    }
    let n = n as usize;
    let (from, to) = if from_end {
        (items.len().saturating_sub(n).max(start), items.len())
    } else {
        (start, (start + n).min(items.len()))
    };
    let page = &items[from..to];
    let edge_type = format!("{}Edge", conn_type.trim_end_matches("Connection"));
    Ok(json!({
        "__typename": conn_type,
        "edges": page.iter().map(|(k, id, node)| json!({ "__typename": edge_type, "cursor": cursor(*id, *k), "node": node })).collect::<Vec<_>>(),
        "nodes": page.iter().map(|(_, _, n)| n.clone()).collect::<Vec<_>>(),
        "pageInfo": { "__typename": "PageInfo", "hasNextPage": to < items.len(), "hasPreviousPage": from > 0,
            "startCursor": page.first().map(|(k, id, _)| cursor(*id, *k)),
            "endCursor": page.last().map(|(k, id, _)| cursor(*id, *k)) }
    }))
}

/// The query or mutation root.
pub(crate) struct Root<'s> {
    pub mutation: bool,
    pub sim: &'s Sim,
    pub events: &'s Events,
    pub warnings: &'s RefCell<Vec<Value>>,
}

impl ObjectValue for Root<'_> {
    fn type_name(&self) -> &str {
        if self.mutation {
            "Mutation"
        } else {
            "QueryRoot"
        }
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let a = args(info);
        let name = info.field_name();
        let value = if self.mutation {
            let mut shop = lock(&self.sim.shop);
            match name {
                "inventorySetQuantities" => super::mutations::inventory_set_quantities(
                    &self.sim.core,
                    &mut shop,
                    &a["input"],
                ),
                "fulfillmentCreate" => {
                    let (payload, order) =
                        super::mutations::fulfillment_create(&mut shop, &a["fulfillment"]);
                    if let Some(o) = order {
                        self.events.borrow_mut().push(("orders/updated", o));
                        self.events.borrow_mut().push(("fulfillments/create", o));
                    }
                    payload
                }
                "fulfillmentTrackingInfoUpdate" | "fulfillmentCancel" | "orderCancel" => {
                    let (payload, order) = match name {
                        "fulfillmentTrackingInfoUpdate" => {
                            super::shipping::tracking_update(&mut shop, &a)
                        }
                        "fulfillmentCancel" => super::shipping::fulfillment_cancel(&mut shop, &a),
                        _ => super::shipping::order_cancel(&mut shop, &a),
                    };
                    if let Some(o) = order {
                        let topic = if name == "orderCancel" {
                            "orders/cancelled"
                        } else {
                            "fulfillments/update"
                        };
                        self.events.borrow_mut().push(("orders/updated", o));
                        self.events.borrow_mut().push((topic, o));
                    }
                    payload
                }
                "webhookSubscriptionCreate" => {
                    super::mutations::webhook_subscription_create(&mut shop, &a)
                }
                "bulkOperationRunQuery" => {
                    let id = shop.id();
                    let (payload, started) = super::bulk::run_query(self.sim, id, &a);
                    if let Some(id) = started {
                        self.events.borrow_mut().push((super::bulk::START, id));
                    }
                    payload
                }
                other => {
                    return Err(field_err(format!(
                        "The simulator does not implement the mutation `{other}`"
                    )));
                }
            }
        } else {
            let shop = lock(&self.sim.shop);
            self.query(&shop, name, &a, info)?
        };
        Ok(resolve_value(
            info.schema(),
            value,
            &info.field_definition().ty,
        ))
    }
}

fn sorted_keys<T>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> (i64, u64),
) -> Vec<(i64, u64)> {
    let mut v: Vec<(i64, u64)> = items.map(|t| key(&t)).collect();
    v.sort_unstable();
    v
}

impl Root<'_> {
    fn search(&self, field: &str, a: &Value) -> Search {
        let known = match field {
            "orders" => super::search::ORDER_FIELDS,
            "products" => super::search::PRODUCT_FIELDS,
            "productVariants" => super::search::VARIANT_FIELDS,
            _ => super::search::ITEM_FIELDS,
        };
        let s = Search::parse(a["query"].as_str().unwrap_or(""), known);
        if !s.unknown.is_empty() {
            self.warnings.borrow_mut().push(json!({
                "path": [field],
                "query": a["query"],
                "warnings": s.unknown.iter().map(|f| json!({ "field": f, "message": "Invalid search field for this query." })).collect::<Vec<_>>(),
            }));
        }
        s
    }

    fn query(
        &self,
        shop: &Shop,
        name: &str,
        a: &Value,
        info: &ResolveInfo<'_>,
    ) -> Result<Value, FieldError> {
        let conn = info
            .field_definition()
            .ty
            .inner_named_type()
            .as_str()
            .to_owned();
        Ok(match name {
            "shop" => json!({
                "__typename": "Shop", "id": gid("Shop", 1), "name": "Switchyard Sim Shop",
                "email": "owner@sim.example", "myshopifyDomain": "switchyard-sim.myshopify.com",
                "currencyCode": state::CURRENCY, "ianaTimezone": "Europe/London",
                "url": "https://switchyard-sim.myshopify.com",
                "primaryDomain": { "__typename": "Domain", "id": gid("Domain", 1), "host": "switchyard-sim.myshopify.com",
                                   "url": "https://switchyard-sim.myshopify.com", "sslEnabled": true }
            }),
            "orders" => {
                let s = self.search("orders", a);
                let key = a["sortKey"].as_str().unwrap_or("ID");
                let items =
                    sorted_keys(
                        shop.orders.values().filter(|o| s.matches_order(o)),
                        |o| match key {
                            "UPDATED_AT" => (o.updated_ms, o.id),
                            "CREATED_AT" | "PROCESSED_AT" => (o.created_ms, o.id),
                            "ORDER_NUMBER" => (o.number as i64, o.id),
                            _ => (o.id as i64, o.id),
                        },
                    );
                connection(self.sim, &conn, items, a, |id| {
                    shop.orders.get(&id).map_or(Value::Null, state::order_json)
                })?
            }
            "order" => a["id"]
                .as_str()
                .and_then(|id| parse_gid("Order", id))
                .and_then(|id| shop.orders.get(&id))
                .map_or(Value::Null, state::order_json),
            "fulfillmentOrder" => {
                let want = a["id"]
                    .as_str()
                    .and_then(|id| parse_gid("FulfillmentOrder", id));
                shop.orders
                    .values()
                    .find(|o| o.fulfillment_orders.iter().any(|f| Some(f.id) == want))
                    .and_then(|o| {
                        let j = state::order_json(o);
                        j["fulfillmentOrders"].as_array().and_then(|fs| {
                            fs.iter()
                                .find(|f| {
                                    f["id"]
                                        .as_str()
                                        .and_then(|i| parse_gid("FulfillmentOrder", i))
                                        == want
                                })
                                .cloned()
                        })
                    })
                    .unwrap_or(Value::Null)
            }
            "products" => {
                let s = self.search("products", a);
                let items = sorted_keys(
                    shop.products.values().filter(|p| {
                        s.matches_time(p.updated_ms, p.updated_ms)
                            && s.matches_text("title", &p.title)
                    }),
                    |p| (p.id as i64, p.id),
                );
                connection(self.sim, &conn, items, a, |id| {
                    shop.products
                        .get(&id)
                        .map_or(Value::Null, |p| state::product_json(shop, p, true))
                })?
            }
            "productVariants" => {
                let s = self.search("productVariants", a);
                let items = sorted_keys(
                    shop.variants.values().filter(|v| {
                        s.matches_time(v.updated_ms, v.updated_ms)
                            && s.matches_text("sku", v.sku.as_deref().unwrap_or(""))
                    }),
                    |v| (v.id as i64, v.id),
                );
                connection(self.sim, &conn, items, a, |id| {
                    shop.variants
                        .get(&id)
                        .map_or(Value::Null, |v| state::variant_json(shop, v))
                })?
            }
            "inventoryItems" => {
                let s = self.search("inventoryItems", a);
                let items = sorted_keys(
                    shop.variants
                        .values()
                        .filter(|v| s.matches_text("sku", v.sku.as_deref().unwrap_or(""))),
                    |v| (v.inventory_item_id as i64, v.inventory_item_id),
                );
                connection(self.sim, &conn, items, a, |item| {
                    shop.items
                        .get(&item)
                        .and_then(|v| shop.variants.get(v))
                        .map_or(Value::Null, |v| state::item_json(shop, v, true))
                })?
            }
            "inventoryItem" => a["id"]
                .as_str()
                .and_then(|id| parse_gid("InventoryItem", id))
                .and_then(|item| shop.items.get(&item))
                .and_then(|v| shop.variants.get(v))
                .map_or(Value::Null, |v| state::item_json(shop, v, true)),
            "locations" => connection(
                self.sim,
                &conn,
                vec![(state::LOCATION_ID as i64, state::LOCATION_ID)],
                a,
                |_| state::location_json(),
            )?,
            "location" => state::location_json(),
            "currentBulkOperation" => super::bulk::current(self.sim),
            "webhookSubscriptions" => {
                let items = sorted_keys(shop.webhooks.iter(), |w| (w.id as i64, w.id));
                connection(self.sim, &conn, items, a, |id| {
                    shop.webhooks
                        .iter()
                        .find(|w| w.id == id)
                        .map_or(Value::Null, super::mutations::webhook_json)
                })?
            }
            other => {
                return Err(field_err(format!(
                    "The simulator does not implement the query field `{other}`"
                )));
            }
        })
    }
}

/// Requested cost of a selection: objects 1, connections 2 + size × the
/// cost of a node, scalars and enums 0, mutation fields 10.
pub(crate) fn cost(
    schema: &Valid<Schema>,
    doc: &Valid<ExecutableDocument>,
    set: &SelectionSet,
    vars: &JsonMap,
    mutation_root: bool,
) -> u64 {
    let arg_int = |f: &apollo_compiler::executable::Field, name: &str| -> Option<u64> {
        let v = f.arguments.iter().find(|a| a.name == name)?;
        match v.value.as_ref() {
            apollo_compiler::ast::Value::Int(i) => i.try_to_i32().ok().map(|n| n.max(0) as u64),
            apollo_compiler::ast::Value::Variable(var) => vars.get(var.as_str())?.as_u64(),
            _ => None,
        }
    };
    let mut total = 0;
    for sel in &set.selections {
        match sel {
            Selection::Field(f) => {
                let named = f.definition.ty.inner_named_type().as_str();
                let leaf = !matches!(
                    schema.types.get(named),
                    Some(
                        ExtendedType::Object(_)
                            | ExtendedType::Interface(_)
                            | ExtendedType::Union(_)
                    )
                );
                let children = cost(schema, doc, &f.selection_set, vars, false);
                total += if mutation_root {
                    MUTATION_COST + children
                } else if leaf {
                    0
                } else if named.ends_with("Connection") {
                    let n = arg_int(f, "first")
                        .or_else(|| arg_int(f, "last"))
                        .unwrap_or(1);
                    2 + n * node_cost(schema, doc, &f.selection_set, vars)
                } else if f.definition.ty.is_list() {
                    let n = arg_int(f, "first").unwrap_or(1);
                    n * (1 + children)
                } else {
                    1 + children
                };
            }
            Selection::FragmentSpread(s) => {
                if let Some(frag) = s.fragment_def(doc) {
                    total += cost(schema, doc, &frag.selection_set, vars, mutation_root);
                }
            }
            Selection::InlineFragment(i) => {
                total += cost(schema, doc, &i.selection_set, vars, mutation_root);
            }
        }
    }
    total
}

/// Cost of one node of a connection: what is selected under `edges.node`
/// or `nodes` (the larger), plus the node itself.
fn node_cost(
    schema: &Valid<Schema>,
    doc: &Valid<ExecutableDocument>,
    set: &SelectionSet,
    vars: &JsonMap,
) -> u64 {
    let mut best = 0;
    for sel in &set.selections {
        let c = match sel {
            Selection::Field(f) if f.name == "nodes" => {
                1 + cost(schema, doc, &f.selection_set, vars, false)
            }
            Selection::Field(f) if f.name == "edges" => f
                .selection_set
                .selections
                .iter()
                .map(|s| match s {
                    Selection::Field(n) if n.name == "node" => {
                        1 + cost(schema, doc, &n.selection_set, vars, false)
                    }
                    _ => 0,
                })
                .max()
                .unwrap_or(0),
            Selection::FragmentSpread(s) => s
                .fragment_def(doc)
                .map_or(0, |fr| node_cost(schema, doc, &fr.selection_set, vars)),
            Selection::InlineFragment(i) => node_cost(schema, doc, &i.selection_set, vars),
            Selection::Field(_) => 0,
        };
        best = best.max(c);
    }
    best.max(1)
}

/// Objects in a response: the actual cost (never above the requested).
pub(crate) fn actual_cost(v: &Value) -> u64 {
    match v {
        Value::Object(m) => 1 + m.values().map(actual_cost).sum::<u64>(),
        Value::Array(a) => a.iter().map(actual_cost).sum(),
        _ => 0,
    }
}
