//! What the OpenAPI document promises beyond each handler's own
//! annotations: the answers every route can give (bad input, auth, size,
//! media type, overload, failure), the `Idempotency-Key` header of every
//! POST and its `idempotent-replayed` answer, and the `servers` entry.
//!
//! These come from the layers every request crosses (extractors, the
//! authentication and idempotency middleware, the body limit, the error
//! mapping), so they are added here once, for every operation, rather
//! than repeated in each handler's annotation.

use utoipa::Modify;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, Object, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Required};

/// The header a client sets to make a POST safe to retry.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The response header that marks a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";

/// The answers shared by every operation, as named component responses:
/// (name, status, description).
const SHARED: &[(&str, &str, &str)] = &[
    (
        "BadRequest",
        "400",
        "The request cannot be read: malformed JSON, a query parameter of the wrong type, or an invalid `Idempotency-Key`",
    ),
    (
        "Unauthorized",
        "401",
        "No bearer token, or one that is unknown, revoked or expired",
    ),
    (
        "Forbidden",
        "403",
        "The token may not take this action (a plugin token outside its plugin's routes, a store-scoped token on an account-wide action)",
    ),
    (
        "NotFound",
        "404",
        "No such resource in the caller's account (another account's resources are not found either)",
    ),
    (
        "Conflict",
        "409",
        "The request conflicts with the resource's state, or its `Idempotency-Key` belongs to another request (`idempotency_key_reused`) or to one still running (`idempotency_key_in_progress`)",
    ),
    (
        "UriTooLong",
        "414",
        "The request target (path and query) is longer than 8 KiB",
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body is larger than the server's `max_body_bytes`",
    ),
    (
        "UnsupportedMediaType",
        "415",
        "The body is not `application/json`",
    ),
    (
        "Unprocessable",
        "422",
        "The body is JSON but not valid for this operation (`field` names what is wrong)",
    ),
    (
        "Internal",
        "500",
        "An internal error; it has been logged with the request id",
    ),
    (
        "Unavailable",
        "503",
        "The database is away for a moment; retry after `Retry-After` seconds",
    ),
];

/// Adds the shared answers, the idempotency headers and `servers`.
#[derive(Debug)]
pub(crate) struct Contract;

fn string() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .build()
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))),
        )
        .build()
}

impl Modify for Contract {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, status, description) in SHARED {
            let mut response = error_response(description);
            if *status == "503" {
                response.headers.insert(
                    "Retry-After".to_owned(),
                    HeaderBuilder::new()
                        .schema(
                            ObjectBuilder::new()
                                .schema_type(SchemaType::Type(Type::Integer))
                                .minimum(Some(0)),
                        )
                        .description(Some("Seconds to wait before retrying"))
                        .build(),
                );
            }
            components
                .responses
                .insert((*name).to_owned(), RefOr::T(response));
        }
        doc.servers = Some(vec![
            ServerBuilder::new()
                .url("/")
                .description(Some("This instance (the origin serving this document)"))
                .build(),
            ServerBuilder::new()
                .url("http://127.0.0.1:8080")
                .description(Some(
                    "A local `switchyard serve` on its default listen address",
                ))
                .build(),
        ]);
        webhooks(doc);
        merge_strict_flattened(doc);
        close_variants(doc, &["RuleAction"]);
        for (path, item) in &mut doc.paths.paths {
            let has_id = path.contains('{');
            let ops = [
                (&mut item.get, "GET"),
                (&mut item.put, "PUT"),
                (&mut item.post, "POST"),
                (&mut item.patch, "PATCH"),
                (&mut item.delete, "DELETE"),
            ];
            for (op, method) in ops {
                if let Some(op) = op.as_mut() {
                    complete(op, method, has_id);
                    add_example(op);
                }
            }
        }
    }
}

/// Add what every operation of this kind can answer, keeping what the
/// handler's annotation says for a status it lists itself.
fn complete(op: &mut Operation, method: &str, has_id: bool) {
    let public = op.security.as_ref().is_some_and(|s| {
        s.iter().all(|r| {
            serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
        })
    });
    let body = op.request_body.is_some();
    let mut statuses = vec!["400", "414", "500", "503"];
    if !public {
        statuses.extend(["401", "403"]);
    }
    if has_id {
        statuses.push("404");
    }
    if body {
        statuses.extend(["413", "415", "422"]);
    }
    if method == "POST" && !public {
        statuses.push("409");
        add_idempotency(op);
    }
    for status in statuses {
        let name = SHARED
            .iter()
            .find(|(_, s, _)| *s == status)
            .map_or("Internal", |(n, _, _)| n);
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
    sort_statuses(op);
}

/// The `Idempotency-Key` parameter, and `idempotent-replayed` on the 2xx
/// answers.
fn add_idempotency(op: &mut Operation) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    if !params.iter().any(|p| p.name == IDEMPOTENCY_KEY) {
        params.push(
            ParameterBuilder::new()
                .name(IDEMPOTENCY_KEY)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Makes the request safe to retry: a second request to this operation with the same key and the same body within 24 hours gets the first one's answer, marked `idempotent-replayed: true`, without doing anything again; the same key with another body is 409 `idempotency_key_reused`. Keys belong to an account and an operation. 1 to 255 printable ASCII characters; a UUID is a good choice.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Type(Type::String))
                        .min_length(Some(1))
                        .max_length(Some(255))
                        .pattern(Some("^[!-~]+$")),
                ))
                .build(),
        );
    }
    for (status, response) in &mut op.responses.responses {
        if status.starts_with('2')
            && let RefOr::T(r) = response
        {
            r.headers.entry(REPLAYED.to_owned()).or_insert_with(|| {
                HeaderBuilder::new()
                    .schema(string())
                    .description(Some(
                        "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`",
                    ))
                    .build()
            });
        }
    }
}

/// The examples recorded from a real run (`examples.json`, written by the
/// end-to-end test `examples`), by operation id: path parameters, request
/// body, status and answer.
static EXAMPLES: &str = include_str!("../examples.json");

/// Put the operation's recorded example on its parameters, its request
/// body and its success answer.
fn add_example(op: &mut Operation) {
    static PARSED: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let all = PARSED.get_or_init(|| serde_json::from_str(EXAMPLES).unwrap_or_default());
    let Some(e) = op.operation_id.as_deref().and_then(|id| all.get(id)) else {
        return;
    };
    if let (Some(params), Some(values)) = (op.parameters.as_mut(), e["parameters"].as_object()) {
        for p in params.iter_mut() {
            if let Some(v) = values.get(&p.name) {
                *p = ParameterBuilder::from(p.clone())
                    .example(Some(v.clone()))
                    .build();
            }
        }
    }
    if let (Some(body), Some(request)) = (op.request_body.as_mut(), e.get("request")) {
        for content in body.content.values_mut() {
            content.example = Some(request.clone());
        }
    }
    let status = e["status"].to_string();
    if let (Some(RefOr::T(r)), Some(response)) =
        (op.responses.responses.get_mut(&status), e.get("response"))
    {
        for content in r.content.values_mut() {
            content.example = Some(response.clone());
        }
    }
}

/// Statuses in numeric order, so the document reads (and diffs) well.
fn sort_statuses(op: &mut Operation) {
    let mut all: Vec<_> = std::mem::take(&mut op.responses.responses)
        .into_iter()
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    op.responses.responses.extend(all);
}

/// A struct that flattens a closed one (`deny_unknown_fields`) is an
/// `allOf` whose first member admits no other property, so no value could
/// match both members. Each such composite becomes the one closed object
/// it means: the members' properties and required fields together.
fn merge_strict_flattened(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let closed = |o: &Object| {
        matches!(
            o.additional_properties.as_deref(),
            Some(AdditionalProperties::FreeForm(false))
        )
    };
    let strict: std::collections::BTreeMap<String, Object> = components
        .schemas
        .iter()
        .filter_map(|(name, s)| match s {
            RefOr::T(Schema::Object(o)) if closed(o) => Some((name.clone(), o.clone())),
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::AllOf(all)) = schema else {
            continue;
        };
        let members: Option<Vec<Object>> = all
            .items
            .iter()
            .map(|item| match item {
                RefOr::Ref(r) => r
                    .ref_location
                    .rsplit('/')
                    .next()
                    .and_then(|name| strict.get(name))
                    .cloned(),
                RefOr::T(Schema::Object(o)) => Some(o.clone()),
                RefOr::T(_) => None,
            })
            .collect();
        let Some(members) = members else {
            continue;
        };
        if !members.iter().any(closed) {
            continue;
        }
        let mut merged = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .description(all.description.clone())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build();
        for m in members {
            merged.properties.extend(m.properties);
            merged.required.extend(m.required);
        }
        *schema = RefOr::T(Schema::Object(merged));
    }
}

/// Internally tagged enums that deny unknown fields: the derive leaves
/// each variant's object open, the server refuses any other field.
fn close_variants(doc: &mut OpenApi, names: &[&str]) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for name in names {
        if let Some(RefOr::T(Schema::OneOf(one))) = components.schemas.get_mut(*name) {
            for item in &mut one.items {
                if let RefOr::T(Schema::Object(o)) = item {
                    o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// Put `T`'s schema, and the schemas it refers to, into the components.
fn register<T: utoipa::ToSchema>(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    let mut all = vec![(T::name().into_owned(), T::schema())];
    T::schemas(&mut all);
    for (name, schema) in all {
        components.schemas.entry(name).or_insert(schema);
    }
}

fn schema_ref(name: &str) -> serde_json::Value {
    serde_json::json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The OpenAPI 3.1 `webhooks` section: every event type a subscription
/// receives, and the plugin messages, each a signed POST (Standard
/// Webhooks) whose body is `{type, timestamp, data}`.
fn webhooks(doc: &mut OpenApi) {
    use serde_json::{Value, json};
    use switchyard_domain::webhook::{EventType, WebhookEntity};
    register::<switchyard_storage::Product>(doc);
    register::<switchyard_storage::OrderRecord>(doc);
    register::<switchyard_storage::FulfilmentRecord>(doc);
    register::<switchyard_storage::ListingRecord>(doc);
    register::<switchyard_storage::OrderEntity>(doc);
    register::<switchyard_storage::ChannelEvent>(doc);
    register::<switchyard_storage::Invoice>(doc);
    let components = doc.components.get_or_insert_with(Default::default);
    let extra: [(&str, Value); 1] = [(
        "WebhookProduct",
        json!({
            "description": "A product as of the event, with its stock at that moment",
            "allOf": [schema_ref("Product"), {
                "type": "object",
                "required": ["kit", "stock"],
                "properties": {
                    "kit": { "type": "boolean" },
                    "stock": {
                        "type": "object",
                        "description": "A plain product's `on_hand`, `committed` and `available`; a kit's `available`",
                        "required": ["available"],
                        "properties": {
                            "on_hand": { "type": "integer", "format": "int64" },
                            "committed": { "type": "integer", "format": "int64" },
                            "available": { "type": "integer", "format": "int64" }
                        }
                    }
                }
            }]
        }),
    )];
    for (name, schema) in extra {
        if let Ok(s) = serde_json::from_value(schema) {
            components.schemas.insert(name.to_owned(), s);
        }
    }
    let headers = json!([
        { "name": "webhook-id", "in": "header", "required": true, "schema": { "type": "string" },
          "description": "The message id (`msg_…`): the same on every attempt, so a receiver can drop duplicates" },
        { "name": "webhook-timestamp", "in": "header", "required": true, "schema": { "type": "string", "pattern": "^[0-9]+$" },
          "description": "Unix seconds when this attempt was signed; refuse old ones" },
        { "name": "webhook-signature", "in": "header", "required": true, "schema": { "type": "string" },
          "description": "`v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\">`, space-separated when two secrets are in use during a rotation (Standard Webhooks)" }
    ]);
    let responses = json!({
        "2XX": { "description": "Taken; any 2xx ends the delivery" },
        "410": { "description": "Gone: the endpoint is disabled at once" },
        "default": { "description": "Anything else (or no answer in 15 s) is retried: after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h" }
    });
    let envelope = |kind: &str, data: Value, extra: Value| {
        let mut props = json!({
            "type": { "type": "string", "const": kind },
            "timestamp": { "type": "string", "format": "date-time", "description": "When the event happened" },
            "data": data,
        });
        if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        json!({
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "properties": props,
        })
    };
    let operation = |kind: &str, summary: String, body: Value, tag: &str| {
        json!({ "post": {
            "operationId": format!("webhook_{}", kind.replace('.', "_")),
            "tags": [tag],
            "summary": summary,
            "parameters": headers,
            "requestBody": { "required": true, "content": { "application/json": { "schema": body } } },
            "responses": responses,
        }})
    };
    let mut out = serde_json::Map::new();
    for kind in EventType::ALL {
        let data = match kind.entity {
            WebhookEntity::Order => schema_ref("OrderEntity"),
            WebhookEntity::Product => schema_ref("WebhookProduct"),
            WebhookEntity::ChannelProduct => schema_ref("ListingRecord"),
            WebhookEntity::Fulfilment => schema_ref("FulfilmentRecord"),
            WebhookEntity::Channel => schema_ref("ChannelEvent"),
            WebhookEntity::Invoice | WebhookEntity::CreditNote => schema_ref("Invoice"),
        };
        let name = kind.to_string();
        let summary = format!("`{name}`, to the store's subscribed webhook endpoints");
        out.insert(
            name.clone(),
            operation(&name, summary, envelope(&name, data, json!({})), "webhooks"),
        );
    }
    for kind in ["order.routed", "order.cancelled"] {
        let name = format!("plugin.{kind}");
        let summary = format!("`{kind}`, to the plugin (3PL) the order was routed to");
        let data = json!({ "allOf": [schema_ref("OrderEntity")], "description": "The order, without the channel's raw payload" });
        let extra = json!({ "plugin_id": schema_ref("PluginId") });
        out.insert(
            name,
            operation(kind, summary, envelope(kind, data, extra), "plugins"),
        );
    }
    doc.extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".to_owned(), Value::Object(out));
}
