//! Feeds API 2021-06-30 with the `JSON_LISTINGS_FEED` (v2): create a
//! document, upload it to its pre-signed URL, create the feed, poll it to
//! `DONE`, and read the processing report through its result document.
//! The pre-signed URLs (Amazon's S3) are served under `/_s3/`, without the
//! API's token, as S3 needs none.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{Store, time};
use super::{App, errors};
use crate::core::{host, lock};

/// A document: what was uploaded (or a report), and its content type.
#[derive(Debug, Clone)]
pub(super) struct Document {
    pub(super) content_type: String,
    pub(super) body: Option<Vec<u8>>,
}

/// A submitted feed.
#[derive(Debug, Clone)]
pub(super) struct Feed {
    pub(super) id: String,
    pub(super) input: String,
    pub(super) created: DateTime<Utc>,
    pub(super) due: DateTime<Utc>,
    pub(super) status: &'static str,
    pub(super) ended: Option<DateTime<Utc>>,
    pub(super) result: Option<String>,
}

fn feed_json(f: &Feed, marketplace: &str) -> Value {
    let mut v = json!({
        "feedId": f.id, "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [marketplace],
        "createdTime": time(f.created), "processingStatus": f.status,
    });
    if f.status != "IN_QUEUE" {
        v["processingStartTime"] = json!(time(f.created));
    }
    if let Some(e) = f.ended {
        v["processingEndTime"] = json!(time(e));
    }
    if let Some(r) = &f.result {
        v["resultFeedDocumentId"] = json!(r);
    }
    v
}

impl Store {
    /// Process every feed that is due.
    pub(super) fn settle_feeds(&mut self, seller: &str) {
        let now = Utc::now();
        let due: Vec<String> = self
            .feeds
            .values()
            .filter(|f| f.status == "IN_QUEUE" && f.due <= now)
            .map(|f| f.id.clone())
            .collect();
        for id in due {
            let input = self
                .feeds
                .get(&id)
                .and_then(|f| self.documents.get(&f.input))
                .and_then(|d| d.body.clone());
            let report = input
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .filter(|v| v["messages"].is_array())
                .map(|feed| self.apply_feed(&id, seller, &feed));
            let rid = format!("amzn1.tortuga.4.eu.{:x}", self.id());
            let ended = self.tick();
            let status = match report {
                Some(r) => {
                    self.documents.insert(
                        rid.clone(),
                        Document {
                            content_type: "application/json".into(),
                            body: Some(r.to_string().into_bytes()),
                        },
                    );
                    "DONE"
                }
                None => "FATAL",
            };
            if let Some(f) = self.feeds.get_mut(&id) {
                f.status = status;
                f.ended = Some(ended);
                f.result = (status == "DONE").then_some(rid);
            }
        }
    }

    /// Apply a listings feed's messages; the processing report.
    fn apply_feed(&mut self, feed_id: &str, seller: &str, feed: &Value) -> Value {
        let now = self.tick();
        let mut issues = Vec::new();
        let messages = feed["messages"].as_array().cloned().unwrap_or_default();
        let mut accepted = 0;
        for m in &messages {
            let mid = m["messageId"].clone();
            let mut problem = |code: &str, message: String| {
                issues.push(json!({ "messageId": mid, "code": code, "severity": "ERROR", "message": message }));
            };
            let Some(sku) = m["sku"].as_str() else {
                problem("4000001", "The message has no sku.".into());
                continue;
            };
            if m["operationType"] != "PATCH" && m["operationType"] != "PARTIAL_UPDATE" {
                problem(
                    "4000002",
                    format!("Operation {} is not supported here.", m["operationType"]),
                );
                continue;
            }
            let Some(listing) = self.listings.get_mut(sku) else {
                problem(
                    "4000003",
                    format!("SKU '{sku}' does not exist for this seller."),
                );
                continue;
            };
            let q = m["patches"]
                .as_array()
                .and_then(|p| {
                    p.iter()
                        .find(|p| p["path"] == "/attributes/fulfillment_availability")
                })
                .and_then(|p| p["value"][0]["quantity"].as_i64());
            match q {
                Some(q) if q >= 0 => {
                    listing.quantity = q;
                    listing.updated = now;
                    accepted += 1;
                }
                _ => problem(
                    "90220",
                    "'fulfillment_availability' needs a quantity of 0 or more.".into(),
                ),
            }
        }
        json!({
            "header": { "sellerId": seller, "version": "2.0", "feedId": feed_id },
            "issues": issues,
            "summary": { "errors": messages.len() - accepted, "warnings": 0,
                "messagesProcessed": messages.len(), "messagesAccepted": accepted,
                "messagesInvalid": messages.len() - accepted },
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DocumentIn {
    content_type: String,
}

/// `createFeedDocument`: an id and a pre-signed upload URL.
pub(super) async fn create_document(
    State(sim): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(input) = serde_json::from_slice::<DocumentIn>(&body) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "contentType is required",
        );
    };
    let mut store = lock(&sim.store);
    let id = format!("amzn1.tortuga.4.eu.{:x}", store.id());
    store.documents.insert(
        id.clone(),
        Document {
            content_type: input.content_type,
            body: None,
        },
    );
    let url = format!("http://{}/_s3/{id}", host(&headers));
    (
        StatusCode::CREATED,
        Json(json!({ "feedDocumentId": id, "url": url })),
    )
        .into_response()
}

/// The pre-signed upload: the body, with the declared content type.
pub(super) async fn upload(
    State(sim): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut store = lock(&sim.store);
    let Some(doc) = store.documents.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, "NoSuchKey").into_response();
    };
    let sent = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if sent != doc.content_type {
        return (
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch: the Content-Type differs from the one the URL was signed for",
        )
            .into_response();
    }
    doc.body = Some(body.to_vec());
    StatusCode::OK.into_response()
}

/// The pre-signed download of a document.
pub(super) async fn download(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let store = lock(&sim.store);
    match store.documents.get(&id) {
        Some(Document {
            content_type,
            body: Some(b),
        }) => {
            let mut r = b.clone().into_response();
            if let Ok(v) = HeaderValue::from_str(content_type) {
                r.headers_mut().insert("content-type", v);
            }
            r
        }
        _ => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FeedIn {
    feed_type: String,
    marketplace_ids: Vec<String>,
    input_feed_document_id: String,
}

/// `createFeed`: 202 with the feed id; processed after a short while.
pub(super) async fn create_feed(State(sim): State<App>, body: Bytes) -> Response {
    let Ok(input) = serde_json::from_slice::<FeedIn>(&body) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "feedType, marketplaceIds and inputFeedDocumentId are required",
        );
    };
    if input.feed_type != "JSON_LISTINGS_FEED" {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Only JSON_LISTINGS_FEED is simulated",
        );
    }
    if input.marketplace_ids != [sim.creds.marketplace_id.clone()] {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "marketplaceIds must name the seller's marketplace",
        );
    }
    let mut store = lock(&sim.store);
    if !store.documents.contains_key(&input.input_feed_document_id) {
        return errors(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "inputFeedDocumentId does not exist",
        );
    }
    let id = format!("{}", 50_000_000_000 + store.id());
    let now = store.tick();
    let due = now + store.feed_delay;
    store.feeds.insert(
        id.clone(),
        Feed {
            id: id.clone(),
            input: input.input_feed_document_id,
            created: now,
            due,
            status: "IN_QUEUE",
            ended: None,
            result: None,
        },
    );
    (StatusCode::ACCEPTED, Json(json!({ "feedId": id }))).into_response()
}

/// `getFeed`.
pub(super) async fn get_feed(State(sim): State<App>, Path(id): Path<String>) -> Response {
    let mut store = lock(&sim.store);
    store.settle_feeds(&sim.creds.seller_id);
    match store.feeds.get(&id) {
        Some(f) => Json(feed_json(f, &sim.creds.marketplace_id)).into_response(),
        None => errors(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Feed {id} not found"),
        ),
    }
}

/// `getFeedDocument`: the download URL of a (report) document.
pub(super) async fn get_document(
    State(sim): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let store = lock(&sim.store);
    if !store.documents.contains_key(&id) {
        return errors(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("Document {id} not found"),
        );
    }
    Json(json!({ "feedDocumentId": id, "url": format!("http://{}/_s3/{id}", host(&headers)) }))
        .into_response()
}
