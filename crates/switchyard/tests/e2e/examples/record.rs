//! Recording the walk: each call's path parameters, request and answer,
//! secrets replaced, compared with the committed examples (or written over
//! them with `SWITCHYARD_BLESS_EXAMPLES=1`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Map, Value, json};
use switchyard_testkit::Tenant;

use crate::World;

/// Walks the document's operations, recording each call.
pub(super) struct Walk<'a> {
    w: &'a World,
    /// operationId → (method, path template, documented success status).
    ops: BTreeMap<String, (Method, String, u16)>,
    /// Values for path templates and body placeholders (`{name}`).
    ctx: BTreeMap<String, String>,
    out: BTreeMap<String, Value>,
}

impl<'a> Walk<'a> {
    pub(super) async fn new(w: &'a World) -> Self {
        let doc: Value = reqwest::get(format!("{}/v1/openapi.json", w.app.address))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut ops = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                    continue;
                };
                let Some(id) = op["operationId"].as_str() else {
                    continue;
                };
                let ok: Vec<u16> = op["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter_map(|s| s.parse().ok())
                    .filter(|s| (200..300).contains(s))
                    .collect();
                assert_eq!(ok.len(), 1, "{id} documents one success status");
                ops.insert(id.to_owned(), (m, path.clone(), ok[0]));
            }
        }
        let mut ctx = BTreeMap::new();
        ctx.insert("store_id".into(), w.store.clone());
        ctx.insert("shopify".into(), w.shopify_ch.clone());
        ctx.insert("woo".into(), w.woo_ch.clone());
        Self {
            w,
            ops,
            ctx,
            out: BTreeMap::new(),
        }
    }

    pub(super) fn set(&mut self, name: &str, value: impl Into<String>) {
        self.ctx.insert(name.to_owned(), value.into());
    }

    fn fill(&self, text: &str) -> String {
        let mut s = text.to_owned();
        for (k, v) in &self.ctx {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }

    /// Call `op` as the store's owner.
    pub(super) async fn call(&mut self, op: &str, body: Option<Value>) -> Value {
        let t = self.w.t.clone();
        self.call_as(&t, op, body).await
    }

    /// Call `op` with `t`'s token and record it; the answer must be the
    /// documented success.
    pub(super) async fn call_as(&mut self, t: &Tenant, op: &str, body: Option<Value>) -> Value {
        let (method, template, status) = self
            .ops
            .get(op)
            .cloned()
            .unwrap_or_else(|| panic!("{op} is not in the document"));
        assert!(!self.out.contains_key(op), "{op} is walked once");
        let path = self.fill(&template);
        assert!(!path.contains('{'), "{op}: no value for {path}");
        let body = body.map(|b| serde_json::from_str::<Value>(&self.fill(&b.to_string())).unwrap());
        let r = self
            .w
            .app
            .request(t, method.clone(), &path, body.as_ref())
            .await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{op} {method} {path}: {}",
            r.body
        );
        self.record(op, &template, &path, body, status, r.body.clone());
        r.body
    }

    pub(super) fn record(
        &mut self,
        op: &str,
        template: &str,
        path: &str,
        request: Option<Value>,
        status: u16,
        response: Value,
    ) {
        let mut params = Map::new();
        for (name, value) in template.split('/').zip(path.split('/')) {
            if let Some(name) = name.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                params.insert(name.to_owned(), Value::String(value.to_owned()));
            }
        }
        let mut e = Map::new();
        if !params.is_empty() {
            e.insert("parameters".into(), Value::Object(params));
        }
        if let Some(b) = request {
            e.insert("request".into(), redact(b));
        }
        e.insert("status".into(), json!(status));
        if !response.is_null() {
            e.insert("response".into(), redact(response));
        }
        self.out.insert(op.to_owned(), Value::Object(e));
    }
}

/// Credentials a call answers are replaced by values of the same form (the
/// committed examples hold no secret of any server), and lists are cut to
/// their first two entries.
fn redact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), &v) {
                        ("token" | "secret" | "prefix" | "url", Value::String(s))
                            if k != "url" || s.contains("/connect/") =>
                        {
                            Value::String(example_secret(s))
                        }
                        _ => redact(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        // Two entries show a list's form; the document stays readable.
        Value::Array(a) => Value::Array(a.into_iter().take(2).map(redact).collect()),
        other => other,
    }
}

/// `whsec_…` stays `whsec_`, a token keeps its prefix; the rest is fixed.
fn example_secret(s: &str) -> String {
    if let Some((head, secret)) = s.rsplit_once("/connect/") {
        return format!("{head}/connect/{}", example_secret(secret));
    }
    match s.split_once('_') {
        Some((prefix, rest)) => {
            let filler: String = rest
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if !c.is_ascii_alphanumeric() {
                        c
                    } else {
                        b"EXAMPLE0"[i % 8] as char
                    }
                })
                .collect();
            format!("{prefix}_{filler}")
        }
        None => "EXAMPLE".into(),
    }
}

/// What must stay the same between the committed examples and a new run:
/// ids, times, secrets and counts vary; keys, types and literal text do not.
fn shape(v: &Value) -> Value {
    match v {
        // Maps keyed by id (`by_plugin`, a channel's prices) keep their form.
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let id = k
                        .split_once('_')
                        .is_some_and(|(p, u)| p.len() <= 4 && u.len() == 26);
                    (if id { "<id>".into() } else { k.clone() }, shape(v))
                })
                .collect(),
        ),
        // Lists may hold more or fewer entries from run to run (a worker's
        // timing); the shape of the first entry is what stays.
        Value::Array(a) => match a.first() {
            Some(first) => json!([shape(first)]),
            None => json!([]),
        },
        Value::Null => Value::Null,
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
    }
}

/// Does `got` have the shape `want` has, where either may leave a list
/// empty or a value null (an optional value one run has and the other not)?
fn same_shape(want: &Value, got: &Value, at: &str, diffs: &mut Vec<String>) {
    match (want, got) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                same_shape(x, y, &format!("{at}[0]"), diffs);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => same_shape(x, y, &format!("{at}.{k}"), diffs),
                    (Some(_), None) => diffs.push(format!("{at}.{k} is no longer answered")),
                    (None, Some(_)) => diffs.push(format!("{at}.{k} is new")),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => diffs.push(format!("{at}: was {a}, now {b}")),
    }
}

fn examples_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../api/examples.json")
}

impl Walk<'_> {
    /// Every operation walked; then the committed examples checked against
    /// this run's, or rewritten by it.
    pub(super) fn finish(&self) {
        let missing: Vec<&String> = self
            .ops
            .keys()
            .filter(|op| !self.out.contains_key(*op))
            .collect();
        assert!(
            missing.is_empty(),
            "operations without an example: {missing:?}"
        );

        let file = examples_file();
        let fresh = Value::Object(self.out.clone().into_iter().collect());
        if std::env::var_os("SWITCHYARD_BLESS_EXAMPLES").is_some() {
            std::fs::write(&file, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
            return;
        }
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let mut diffs = Vec::new();
        for (op, now) in fresh.as_object().unwrap() {
            let Some(was) = committed.get(op) else {
                diffs.push(format!("{op}: no committed example"));
                continue;
            };
            if was["status"] != now["status"] {
                diffs.push(format!(
                    "{op}: status {} → {}",
                    was["status"], now["status"]
                ));
            }
            same_shape(
                &shape(&was["request"]),
                &shape(&now["request"]),
                &format!("{op} request"),
                &mut diffs,
            );
            same_shape(
                &shape(&was["response"]),
                &shape(&now["response"]),
                &format!("{op} response"),
                &mut diffs,
            );
        }
        assert!(
            diffs.is_empty(),
            "the committed examples differ from what the server does (run with \
             SWITCHYARD_BLESS_EXAMPLES=1 to rewrite them):\n{}",
            diffs.join("\n")
        );
    }
}
