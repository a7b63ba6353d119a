//! The published Admin API schema, rebuilt from Shopify's introspection
//! result as a validated [`Schema`], so every GraphQL document the
//! simulator receives is checked against the real API's types, fields and
//! arguments.
//!
//! The simulator ships a trimmed copy of the published file
//! (`admin_schema_2025-01.json.gz`, ISC-licensed data from `Shopify/dev-mcp`;
//! see `crates/sim/schema/README.md`), compiled into the binary: the root
//! fields it serves ([`SERVED_QUERIES`], [`SERVED_MUTATIONS`]) and every type
//! reachable from them, with descriptions left out. A document valid against
//! the full schema that uses only those root fields is valid against the
//! trimmed one, and the other way round. [`trim`] makes it:
//! `cargo run -p switchyard-sim --example trim_shopify_schema -- FULL.json.gz OUT.json.gz`.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;
use serde_json::{Map, Value};

use crate::SimError;

/// The published file the shipped schema is trimmed from.
pub const SOURCE_FILE: &str = "admin_schema_2025-01.json.gz";

/// The query root fields the simulator answers.
pub const SERVED_QUERIES: [&str; 12] = [
    "shop",
    "orders",
    "order",
    "fulfillmentOrder",
    "products",
    "productVariants",
    "inventoryItems",
    "inventoryItem",
    "locations",
    "location",
    "webhookSubscriptions",
    "currentBulkOperation",
];

/// The mutations the simulator performs.
pub const SERVED_MUTATIONS: [&str; 7] = [
    "inventorySetQuantities",
    "fulfillmentCreate",
    "fulfillmentTrackingInfoUpdate",
    "fulfillmentCancel",
    "orderCancel",
    "webhookSubscriptionCreate",
    "bulkOperationRunQuery",
];

/// The trimmed schema, as shipped.
const EMBEDDED: &[u8] = include_bytes!("../../schema/shopify-admin-2025-01.trimmed.json.gz");

/// What the shipped schema is called in messages.
pub const EMBEDDED_NAME: &str = "shopify-admin-2025-01.trimmed.json.gz (built in)";

/// The shipped schema, validated.
pub fn embedded() -> Result<Valid<Schema>, SimError> {
    parse(EMBEDDED, Path::new(EMBEDDED_NAME))
}

/// Load and validate a schema from a gzipped (or plain) introspection JSON
/// file, such as the full published one.
pub fn load(path: &Path) -> Result<Valid<Schema>, SimError> {
    let bytes = std::fs::read(path).map_err(|e| SimError::Schema {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    parse(&bytes, path)
}

/// The introspection JSON in `bytes` (gzipped or plain).
pub fn read_json(bytes: &[u8]) -> Result<Value, String> {
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut s)
            .map_err(|e| format!("not a gzip file: {e}"))?;
        s
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())?
    };
    serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))
}

fn parse(bytes: &[u8], origin: &Path) -> Result<Valid<Schema>, SimError> {
    let err = |reason: String| SimError::Schema {
        path: origin.to_owned(),
        reason,
    };
    let json = read_json(bytes).map_err(err)?;
    let sdl = introspection_to_sdl(&json).map_err(err)?;
    Schema::parse_and_validate(sdl, "shopify-admin-2025-01.graphql")
        .map_err(|e| err(e.errors.to_string().chars().take(2000).collect()))
}

fn schema_root(json: &Value) -> &Value {
    if json["data"]["__schema"].is_object() {
        &json["data"]["__schema"]
    } else {
        &json["__schema"]
    }
}

fn named_type(mut t: &Value) -> Option<&str> {
    while t["ofType"].is_object() {
        t = &t["ofType"];
    }
    t["name"].as_str()
}

fn without_descriptions(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| k.as_str() != "description")
                .map(|(k, v)| (k.clone(), without_descriptions(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_descriptions).collect()),
        other => other.clone(),
    }
}

/// The introspection result `full` cut down to the root fields the
/// simulator serves and every type reachable from them (through fields,
/// arguments, input fields, interfaces, possible types and directive
/// arguments), without descriptions, in the published order.
pub fn trim(full: &Value) -> Result<Value, String> {
    let schema = schema_root(full);
    let types: HashMap<&str, &Value> = schema["types"]
        .as_array()
        .ok_or("no __schema.types in the introspection result")?
        .iter()
        .filter_map(|t| Some((t["name"].as_str()?, t)))
        .collect();
    let roots = [
        (schema["queryType"]["name"].as_str(), &SERVED_QUERIES[..]),
        (
            schema["mutationType"]["name"].as_str(),
            &SERVED_MUTATIONS[..],
        ),
    ];
    let mut keep: BTreeSet<&str> = BTreeSet::new();
    let mut todo: Vec<&str> = Vec::new();
    fn add<'a>(name: Option<&'a str>, keep: &mut BTreeSet<&'a str>, todo: &mut Vec<&'a str>) {
        if let Some(n) = name
            && keep.insert(n)
        {
            todo.push(n);
        }
    }
    let mut root_fields: HashMap<&str, Vec<Value>> = HashMap::new();
    for (root, served) in roots {
        let root = root.ok_or("the schema has no query or mutation type")?;
        let t = types.get(root).ok_or(format!("root type {root} missing"))?;
        keep.insert(root);
        let mut fields = Vec::new();
        for want in served {
            let f = t["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["name"] == *want)
                .ok_or(format!("{root}.{want} is not in the schema"))?;
            add(named_type(&f["type"]), &mut keep, &mut todo);
            for a in f["args"].as_array().into_iter().flatten() {
                add(named_type(&a["type"]), &mut keep, &mut todo);
            }
            fields.push(f.clone());
        }
        root_fields.insert(root, fields);
    }
    for d in schema["directives"].as_array().into_iter().flatten() {
        for a in d["args"].as_array().into_iter().flatten() {
            add(named_type(&a["type"]), &mut keep, &mut todo);
        }
    }
    while let Some(name) = todo.pop() {
        let t = types
            .get(name)
            .ok_or(format!("type {name} is referenced but not defined"))?;
        for f in t["fields"].as_array().into_iter().flatten() {
            add(named_type(&f["type"]), &mut keep, &mut todo);
            for a in f["args"].as_array().into_iter().flatten() {
                add(named_type(&a["type"]), &mut keep, &mut todo);
            }
        }
        for f in t["inputFields"].as_array().into_iter().flatten() {
            add(named_type(&f["type"]), &mut keep, &mut todo);
        }
        for key in ["interfaces", "possibleTypes"] {
            for i in t[key].as_array().into_iter().flatten() {
                add(i["name"].as_str(), &mut keep, &mut todo);
            }
        }
    }
    let mut out_types = Vec::with_capacity(keep.len());
    for t in schema["types"].as_array().into_iter().flatten() {
        let Some(name) = t["name"].as_str().filter(|n| keep.contains(n)) else {
            continue;
        };
        let mut t = without_descriptions(t);
        if let Some(fields) = root_fields.get(name) {
            t["fields"] = Value::Array(fields.iter().map(without_descriptions).collect());
        }
        out_types.push(t);
    }
    let mut out = schema.as_object().cloned().unwrap_or_default();
    out.insert("types".into(), Value::Array(out_types));
    out.insert(
        "directives".into(),
        without_descriptions(&schema["directives"]),
    );
    Ok(serde_json::json!({ "data": { "__schema": out } }))
}

const BUILTIN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];
const BUILTIN_DIRECTIVES: [&str; 5] = ["include", "skip", "deprecated", "specifiedBy", "oneOf"];

fn type_ref(t: &Value) -> Result<String, String> {
    match t["kind"].as_str() {
        Some("NON_NULL") => Ok(format!("{}!", type_ref(&t["ofType"])?)),
        Some("LIST") => Ok(format!("[{}]", type_ref(&t["ofType"])?)),
        Some(_) => t["name"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "a named type reference has no name".to_owned()),
        None => Err("a type reference has no kind".into()),
    }
}

fn input_values(out: &mut String, args: &Value) -> Result<(), String> {
    let Some(args) = args.as_array().filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    out.push('(');
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let name = a["name"].as_str().ok_or("an argument has no name")?;
        let _ = write!(out, "{name}: {}", type_ref(&a["type"])?);
        if let Some(d) = a["defaultValue"].as_str() {
            let _ = write!(out, " = {d}");
        }
    }
    out.push(')');
    Ok(())
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|l| l.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default()
}

/// Rebuild SDL from an introspection result (`{"data":{"__schema":…}}` or
/// `{"__schema":…}`). Descriptions and deprecations are left out: they do
/// not change what is valid.
pub fn introspection_to_sdl(json: &Value) -> Result<String, String> {
    let schema = schema_root(json);
    let types = schema["types"]
        .as_array()
        .ok_or("no __schema.types in the introspection result")?;
    let mut out = String::with_capacity(2 << 20);
    out.push_str("schema {");
    for (op, key) in [
        ("query", "queryType"),
        ("mutation", "mutationType"),
        ("subscription", "subscriptionType"),
    ] {
        if let Some(n) = schema[key]["name"].as_str() {
            let _ = write!(out, " {op}: {n}");
        }
    }
    out.push_str(" }\n");
    for d in schema["directives"].as_array().into_iter().flatten() {
        let Some(name) = d["name"].as_str() else {
            continue;
        };
        if BUILTIN_DIRECTIVES.contains(&name) {
            continue;
        }
        let _ = write!(out, "directive @{name}");
        input_values(&mut out, &d["args"])?;
        if d["isRepeatable"].as_bool() == Some(true) {
            out.push_str(" repeatable");
        }
        let _ = writeln!(
            out,
            " on {}",
            names_of_locations(&d["locations"]).join(" | ")
        );
    }
    for t in types {
        let name = t["name"].as_str().ok_or("a type has no name")?;
        if name.starts_with("__") {
            continue;
        }
        match t["kind"].as_str() {
            Some("SCALAR") => {
                if !BUILTIN_SCALARS.contains(&name) {
                    let _ = writeln!(out, "scalar {name}");
                }
            }
            Some(kind @ ("OBJECT" | "INTERFACE")) => {
                let kw = if kind == "OBJECT" {
                    "type"
                } else {
                    "interface"
                };
                let _ = write!(out, "{kw} {name}");
                let ifaces = names(&t["interfaces"]);
                if !ifaces.is_empty() {
                    let _ = write!(out, " implements {}", ifaces.join(" & "));
                }
                out.push_str(" {\n");
                for f in t["fields"].as_array().into_iter().flatten() {
                    let fname = f["name"].as_str().ok_or("a field has no name")?;
                    let _ = write!(out, "  {fname}");
                    input_values(&mut out, &f["args"])?;
                    let _ = writeln!(out, ": {}", type_ref(&f["type"])?);
                }
                out.push_str("}\n");
            }
            Some("UNION") => {
                let _ = writeln!(
                    out,
                    "union {name} = {}",
                    names(&t["possibleTypes"]).join(" | ")
                );
            }
            Some("ENUM") => {
                let _ = write!(out, "enum {name} {{");
                for v in names(&t["enumValues"]) {
                    let _ = write!(out, " {v}");
                }
                out.push_str(" }\n");
            }
            Some("INPUT_OBJECT") => {
                let _ = writeln!(out, "input {name} {{");
                for f in t["inputFields"].as_array().into_iter().flatten() {
                    let fname = f["name"].as_str().ok_or("an input field has no name")?;
                    let _ = write!(out, "  {fname}: {}", type_ref(&f["type"])?);
                    if let Some(d) = f["defaultValue"].as_str() {
                        let _ = write!(out, " = {d}");
                    }
                    out.push('\n');
                }
                out.push_str("}\n");
            }
            other => return Err(format!("type {name} has unknown kind {other:?}")),
        }
    }
    Ok(out)
}

fn names_of_locations(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_small_introspection_result_round_trips_to_a_valid_schema() {
        let intro = json!({"data": {"__schema": {
            "queryType": {"name": "QueryRoot"}, "mutationType": null, "subscriptionType": null,
            "directives": [],
            "types": [
                {"kind": "OBJECT", "name": "QueryRoot", "interfaces": [], "fields": [
                    {"name": "shop", "args": [], "type": {"kind": "NON_NULL", "ofType": {"kind": "OBJECT", "name": "Shop"}}},
                    {"name": "orders", "args": [{"name": "first", "type": {"kind": "SCALAR", "name": "Int"}, "defaultValue": "10"}],
                     "type": {"kind": "LIST", "ofType": {"kind": "OBJECT", "name": "Shop"}}}
                ]},
                {"kind": "OBJECT", "name": "Shop", "interfaces": [{"name": "Node"}], "fields": [
                    {"name": "id", "args": [], "type": {"kind": "NON_NULL", "ofType": {"kind": "SCALAR", "name": "ID"}}}
                ]},
                {"kind": "INTERFACE", "name": "Node", "interfaces": [], "fields": [
                    {"name": "id", "args": [], "type": {"kind": "NON_NULL", "ofType": {"kind": "SCALAR", "name": "ID"}}}
                ]},
                {"kind": "SCALAR", "name": "ID"},
                {"kind": "SCALAR", "name": "Int"},
                {"kind": "SCALAR", "name": "String"},
                {"kind": "SCALAR", "name": "Boolean"}
            ]
        }}});
        let sdl = introspection_to_sdl(&intro).unwrap();
        let schema = Schema::parse_and_validate(sdl, "t.graphql").unwrap();
        assert!(schema.types.contains_key("Shop"));
    }

    fn root_fields(schema: &Schema, root: &str) -> Vec<String> {
        let Some(apollo_compiler::schema::ExtendedType::Object(o)) = schema.types.get(root) else {
            panic!("{root} is not an object type");
        };
        o.fields.keys().map(ToString::to_string).collect()
    }

    #[test]
    fn the_shipped_schema_serves_exactly_the_simulators_root_fields() {
        let schema = embedded().unwrap();
        assert_eq!(root_fields(&schema, "QueryRoot"), SERVED_QUERIES);
        assert_eq!(root_fields(&schema, "Mutation"), SERVED_MUTATIONS);
        for t in [
            "Order",
            "FulfillmentOrder",
            "InventoryItem",
            "Node",
            "MoneyBag",
        ] {
            assert!(schema.types.contains_key(t), "{t} is kept");
        }
        assert!(
            !schema.types.contains_key("ArticleCreatePayload"),
            "types reachable only from other root fields are left out"
        );
    }

    #[test]
    fn trimming_keeps_what_is_reachable_from_served_fields_and_drops_the_rest() {
        let obj = |name: &str, fields: &[(&str, &str)]| {
            json!({"kind": "OBJECT", "name": name, "description": "words", "interfaces": [],
                   "fields": fields.iter().map(|(f, t)| json!({"name": f, "args": [],
                       "description": "more words",
                       "type": {"kind": "NON_NULL", "ofType": {"kind": "OBJECT", "name": t}}})).collect::<Vec<_>>()})
        };
        let mut query: Vec<(&str, &str)> = SERVED_QUERIES.iter().map(|f| (*f, "Shop")).collect();
        query.push(("discounts", "Discount"));
        let mutation: Vec<(&str, &str)> = SERVED_MUTATIONS.iter().map(|f| (*f, "Shop")).collect();
        let full = json!({"data": {"__schema": {
            "queryType": {"name": "QueryRoot"}, "mutationType": {"name": "Mutation"},
            "subscriptionType": null, "directives": [],
            "types": [obj("QueryRoot", &query), obj("Mutation", &mutation),
                      obj("Shop", &[("owner", "Staff")]), obj("Staff", &[]),
                      obj("Discount", &[])]
        }}});
        let t = trim(&full).unwrap();
        let names: Vec<&str> = t["data"]["__schema"]["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["QueryRoot", "Mutation", "Shop", "Staff"]);
        assert!(!t.to_string().contains("words"), "descriptions are dropped");
        let q = &t["data"]["__schema"]["types"][0]["fields"];
        assert_eq!(q.as_array().unwrap().len(), SERVED_QUERIES.len());

        let mut missing = full.clone();
        missing["data"]["__schema"]["types"][0]["fields"]
            .as_array_mut()
            .unwrap()
            .remove(0);
        assert!(trim(&missing).unwrap_err().contains("QueryRoot.shop"));
    }

    /// The shipped file is what the trimming makes of the published one
    /// (when the published one is at hand).
    #[test]
    fn the_shipped_schema_is_the_trimmed_published_file() {
        let Some(dir) = std::env::var_os("SWITCHYARD_CHANNEL_SPECS") else {
            eprintln!("skipped: set SWITCHYARD_CHANNEL_SPECS to compare with {SOURCE_FILE}");
            return;
        };
        let full = std::fs::read(Path::new(&dir).join("shopify").join(SOURCE_FILE)).unwrap();
        let trimmed = trim(&read_json(&full).unwrap()).unwrap();
        assert_eq!(trimmed, read_json(EMBEDDED).unwrap());
    }
}
