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
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
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

/// Statuses in numeric order, so the document reads (and diffs) well.
fn sort_statuses(op: &mut Operation) {
    let mut all: Vec<_> = std::mem::take(&mut op.responses.responses)
        .into_iter()
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    op.responses.responses.extend(all);
}
