//! Bulk operations, as Shopify runs them for exports: `bulkOperationRunQuery`
//! takes a query document whose one root field is a connection, validates it,
//! and starts an operation (one bulk query at a time per shop: a second is
//! refused with `OPERATION_IN_PROGRESS`). `currentBulkOperation` reports its
//! `status` (`CREATED`, `RUNNING`, `COMPLETED`), counts and, once complete,
//! the `url` of the result in JSONL: one line per object, every node of a
//! nested connection on a line of its own after its parent with
//! `__parentId`. Connections in a bulk query take no `first`: everything
//! matching is exported, and no query cost is charged. The result is served
//! at that URL without credentials (as Shopify's signed storage links are),
//! and answers `Range: bytes=N-M` requests with `206 Partial Content`.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Duration;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::{OperationType, Selection};
use apollo_compiler::resolvers::Execution;
use apollo_compiler::validation::Valid;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::Sim;
use super::graphql::Root;
use super::state::gid;
use crate::core::lock;

/// The event that starts a bulk operation once its request is answered.
pub(crate) const START: &str = "bulk/start";

/// How long an operation stays `CREATED` before it runs.
const START_DELAY: Duration = Duration::from_millis(200);

/// Root items exported per run of the query (the executor is fast on
/// pages of this size; the export runs it page after page).
const CHUNK: usize = 250;

/// Where an export running on this thread stands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Export {
    /// The sort key of the last root item exported.
    pub after: Option<(i64, u64)>,
    /// Whether the root connection has more items.
    pub more: bool,
}

thread_local! {
    /// Set while a bulk query runs on this thread: nested connections
    /// without `first`/`last` then give every item, and the root
    /// connection gives the next [`CHUNK`] after `after`.
    static BULK: Cell<Option<Export>> = const { Cell::new(None) };
}

/// Whether a bulk query is running on this thread.
pub(crate) fn exporting() -> bool {
    BULK.with(Cell::get).is_some()
}

/// For the root connection of a running export: where to start and how
/// many to give.
pub(crate) fn root_page() -> Option<(Option<(i64, u64)>, usize)> {
    BULK.with(Cell::get).map(|e| (e.after, CHUNK))
}

/// The root connection gave items up to `last`, and has `more` or not.
pub(crate) fn root_done(last: Option<(i64, u64)>, more: bool) {
    BULK.with(|b| {
        if let Some(mut e) = b.get() {
            e.after = last.or(e.after);
            e.more = more;
            b.set(Some(e));
        }
    });
}

/// The shop's bulk query operation (the latest one).
#[derive(Debug, Clone)]
pub(crate) struct BulkOp {
    id: u64,
    query: String,
    status: &'static str,
    created_at: chrono::DateTime<chrono::Utc>,
    completed_at: Option<chrono::DateTime<chrono::Utc>>,
    error_code: Option<&'static str>,
    object_count: u64,
    root_object_count: u64,
    url: Option<String>,
    file: Option<Arc<Vec<u8>>>,
}

impl BulkOp {
    fn json(&self) -> Value {
        json!({
            "__typename": "BulkOperation",
            "id": gid("BulkOperation", self.id),
            "status": self.status,
            "type": "QUERY",
            "query": self.query,
            "createdAt": self.created_at.to_rfc3339(),
            "completedAt": self.completed_at.map(|t| t.to_rfc3339()),
            "errorCode": self.error_code,
            "objectCount": self.object_count.to_string(),
            "rootObjectCount": self.root_object_count.to_string(),
            "fileSize": self.file.as_ref().map(|f| f.len().to_string()),
            "url": self.url,
            "partialDataUrl": null,
        })
    }
}

fn user_error(code: &str, message: String) -> Value {
    json!({
        "__typename": "BulkOperationRunQueryPayload",
        "bulkOperation": null,
        "userErrors": [{ "__typename": "BulkOperationUserError", "code": code, "field": ["query"], "message": message }],
    })
}

/// A bulk query document, validated against the schema and held to what a
/// bulk query may be (one query operation, one root connection), or why
/// it is refused.
fn document(sim: &Sim, query: &str) -> Result<Valid<ExecutableDocument>, String> {
    let doc = ExecutableDocument::parse_and_validate(&sim.schema, query, "bulk.graphql")
        .map_err(|e| e.errors.to_string())?;
    let op = doc
        .operations
        .get(None)
        .map_err(|e| e.message().to_string())?;
    if op.operation_type != OperationType::Query {
        return Err("Bulk queries must be a query operation.".into());
    }
    let fields: Vec<_> = op
        .selection_set
        .selections
        .iter()
        .filter_map(|s| match s {
            Selection::Field(f) => Some(f),
            _ => None,
        })
        .collect();
    match fields.as_slice() {
        [f] if f.ty().inner_named_type().as_str().ends_with("Connection") => {}
        _ => {
            return Err("Bulk queries must contain exactly one top-level connection field.".into());
        }
    }
    Ok(doc)
}

/// `bulkOperationRunQuery`: the payload, and the operation to start once
/// the request is answered.
pub(crate) fn run_query(sim: &Sim, shop_id: u64, a: &Value) -> (Value, Option<u64>) {
    let query = a["query"].as_str().unwrap_or_default().to_owned();
    let mut current = lock(&sim.bulk);
    if let Some(op) = current
        .as_ref()
        .filter(|o| matches!(o.status, "CREATED" | "RUNNING"))
    {
        return (
            user_error(
                "OPERATION_IN_PROGRESS",
                format!(
                    "A bulk query operation for this app and shop is already in progress: {}.",
                    gid("BulkOperation", op.id)
                ),
            ),
            None,
        );
    }
    if let Err(reason) = document(sim, &query) {
        return (
            user_error("INVALID", format!("Invalid bulk query: {reason}")),
            None,
        );
    }
    let op = BulkOp {
        id: shop_id,
        query,
        status: "CREATED",
        created_at: chrono::Utc::now(),
        completed_at: None,
        error_code: None,
        object_count: 0,
        root_object_count: 0,
        url: None,
        file: None,
    };
    let payload = json!({
        "__typename": "BulkOperationRunQueryPayload",
        "bulkOperation": op.json(),
        "userErrors": [],
    });
    *current = Some(op);
    (payload, Some(shop_id))
}

/// `currentBulkOperation`.
pub(crate) fn current(sim: &Sim) -> Value {
    lock(&sim.bulk).as_ref().map_or(Value::Null, BulkOp::json)
}

/// Run operation `id` after a moment, off the request, and keep its result
/// for `http://{host}/_sim/bulk/{id}.jsonl`.
pub(crate) fn start(sim: Arc<Sim>, id: u64, host: String) {
    tokio::spawn(async move {
        tokio::time::sleep(START_DELAY).await;
        let query = {
            let mut current = lock(&sim.bulk);
            let Some(op) = current.as_mut().filter(|o| o.id == id) else {
                return;
            };
            op.status = "RUNNING";
            op.query.clone()
        };
        let runner = Arc::clone(&sim);
        let result = tokio::task::spawn_blocking(move || export(&runner, &query))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let mut current = lock(&sim.bulk);
        let Some(op) = current.as_mut().filter(|o| o.id == id) else {
            return;
        };
        op.completed_at = Some(chrono::Utc::now());
        match result {
            Ok((file, objects, roots)) => {
                op.status = "COMPLETED";
                op.object_count = objects;
                op.root_object_count = roots;
                // Shopify gives no URL when nothing matched.
                op.url = (objects > 0).then(|| format!("http://{host}/_sim/bulk/{id}.jsonl"));
                op.file = Some(Arc::new(file));
            }
            Err(e) => {
                tracing::warn!(error = %e, "bulk operation failed");
                op.status = "FAILED";
                op.error_code = Some("INTERNAL_SERVER_ERROR");
            }
        }
    });
}

/// Run a bulk query over the whole shop: the JSONL file, objects, roots.
fn export(sim: &Sim, query: &str) -> Result<(Vec<u8>, u64, u64), String> {
    let doc = document(sim, query)?;
    let op = doc
        .operations
        .get(None)
        .map_err(|e| e.message().to_string())?;
    let events = RefCell::new(Vec::new());
    let warnings = RefCell::new(Vec::new());
    let root = Root {
        mutation: false,
        sim,
        events: &events,
        warnings: &warnings,
    };
    let mut file = Vec::new();
    let (mut objects, mut roots) = (0u64, 0u64);
    let mut at = Export {
        after: None,
        more: true,
    };
    while at.more {
        at.more = false;
        BULK.with(|b| b.set(Some(at)));
        let result = Execution::new(&sim.schema, &doc)
            .operation(op)
            .execute_sync(&root);
        at = BULK.with(Cell::take).unwrap_or(at);
        let resp = result.map_err(|e| e.message().to_string())?;
        let out = serde_json::to_value(resp).map_err(|e| e.to_string())?;
        if let Some(errors) = out["errors"].as_array().filter(|e| !e.is_empty()) {
            return Err(Value::Array(errors.clone()).to_string());
        }
        for conn in out["data"].as_object().into_iter().flat_map(|d| d.values()) {
            for node in nodes(conn) {
                roots += 1;
                objects += flatten(node, None, &mut file)?;
            }
        }
    }
    Ok((file, objects, roots))
}

/// The nodes of a connection's JSON (`edges { node }` or `nodes`).
fn nodes(conn: &Value) -> Vec<Value> {
    if let Some(edges) = conn["edges"].as_array() {
        return edges.iter().map(|e| e["node"].clone()).collect();
    }
    conn["nodes"].as_array().cloned().unwrap_or_default()
}

/// Whether a field's value is a connection's JSON.
fn is_connection(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.get("edges").is_some_and(Value::is_array) || o.get("nodes").is_some_and(Value::is_array)
    })
}

/// Write `node` (without its nested connections) and then every node of
/// those connections, each with `__parentId`; returns the lines written.
fn flatten(node: Value, parent: Option<&str>, out: &mut Vec<u8>) -> Result<u64, String> {
    let Value::Object(fields) = node else {
        return Ok(0);
    };
    let mut own = Map::new();
    let mut children = Vec::new();
    for (k, v) in fields {
        if is_connection(&v) {
            children.push(v);
        } else {
            own.insert(k, v);
        }
    }
    let id = own.get("id").and_then(Value::as_str).map(str::to_owned);
    if let Some(p) = parent {
        own.insert("__parentId".into(), json!(p));
    }
    serde_json::to_writer(&mut *out, &Value::Object(own)).map_err(|e| e.to_string())?;
    out.push(b'\n');
    let mut lines = 1;
    for conn in children {
        let Some(id) = id.as_deref() else {
            return Err("a node with a nested connection must select `id`".into());
        };
        for child in nodes(&conn) {
            lines += flatten(child, Some(id), out)?;
        }
    }
    Ok(lines)
}

/// `GET /_sim/bulk/{id}.jsonl`, whole or by `Range: bytes=N-[M]`.
pub(crate) async fn file(
    State(sim): State<Arc<Sim>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let id = name
        .strip_suffix(".jsonl")
        .and_then(|n| n.parse::<u64>().ok());
    let file = lock(&sim.bulk)
        .as_ref()
        .filter(|o| Some(o.id) == id)
        .and_then(|o| o.file.clone());
    let Some(file) = file else {
        return (StatusCode::NOT_FOUND, "NoSuchKey").into_response();
    };
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .map(|(a, b)| {
            (
                a.trim().parse::<usize>().ok(),
                b.trim().parse::<usize>().ok(),
            )
        });
    let total = file.len();
    let jsonl = [(header::CONTENT_TYPE, "application/jsonl")];
    match range {
        None => (jsonl, file.as_ref().clone()).into_response(),
        Some((Some(from), _)) if from >= total => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{total}"))],
        )
            .into_response(),
        Some((Some(from), to)) => {
            let to = to.map_or(total - 1, |t| t.min(total - 1)).max(from);
            (
                StatusCode::PARTIAL_CONTENT,
                jsonl,
                [(header::CONTENT_RANGE, format!("bytes {from}-{to}/{total}"))],
                file[from..=to].to_vec(),
            )
                .into_response()
        }
        Some((None, _)) => (StatusCode::BAD_REQUEST, "bad Range").into_response(),
    }
}
