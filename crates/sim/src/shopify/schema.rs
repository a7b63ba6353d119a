//! The published Admin API schema, loaded from Shopify's introspection
//! result (`admin_schema_2025-01.json.gz`) and rebuilt as a validated
//! [`Schema`], so every GraphQL document the simulator receives is checked
//! against the real API's types, fields and arguments.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;
use serde_json::Value;

use crate::SimError;

/// The file name of the schema this simulator follows.
pub const SCHEMA_FILE: &str = "admin_schema_2025-01.json.gz";

/// Where to look for the schema when no path is given: beside the working
/// directory's `shared/` (a checkout's sibling) and the source tree's.
#[must_use]
pub fn default_locations() -> Vec<PathBuf> {
    let rel = Path::new("channel-specs").join("shopify").join(SCHEMA_FILE);
    let mut out = vec![
        Path::new("shared").join(&rel),
        Path::new("..").join("shared").join(&rel),
    ];
    // The source tree's sibling `shared/` (crates/sim → ../../../shared).
    out.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared")
            .join(&rel),
    );
    out
}

/// The first default location that exists.
#[must_use]
pub fn find_default() -> Option<PathBuf> {
    default_locations().into_iter().find(|p| p.is_file())
}

/// Load and validate the schema from a gzipped (or plain) introspection JSON file.
pub fn load(path: &Path) -> Result<Valid<Schema>, SimError> {
    let bytes = std::fs::read(path).map_err(|e| SimError::Schema {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut s)
            .map_err(|e| SimError::Schema {
                path: path.to_owned(),
                reason: format!("not a gzip file: {e}"),
            })?;
        s
    } else {
        String::from_utf8(bytes).map_err(|e| SimError::Schema {
            path: path.to_owned(),
            reason: e.to_string(),
        })?
    };
    let json: Value = serde_json::from_str(&text).map_err(|e| SimError::Schema {
        path: path.to_owned(),
        reason: format!("not JSON: {e}"),
    })?;
    let sdl = introspection_to_sdl(&json).map_err(|reason| SimError::Schema {
        path: path.to_owned(),
        reason,
    })?;
    Schema::parse_and_validate(sdl, "shopify-admin-2025-01.graphql").map_err(|e| SimError::Schema {
        path: path.to_owned(),
        reason: e.errors.to_string().chars().take(2000).collect(),
    })
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
    let schema = if json["data"]["__schema"].is_object() {
        &json["data"]["__schema"]
    } else {
        &json["__schema"]
    };
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
}
