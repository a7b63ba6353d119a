//! The operator's view: Prometheus metrics at `GET /metrics` and readiness
//! at `GET /readyz` (`/healthz` stays the liveness check).
//!
//! The recorder is process-wide ([`install`], idempotent). HTTP requests
//! are counted by method, route template (never the raw path, so ids do
//! not multiply the series) and status; the workers count their own work
//! (`switchyard_engine::measure`); the queue gauges are read from the
//! database at each scrape.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use switchyard_storage::WORKER_STALE_AFTER_SECS;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ErrorDetail;

/// HTTP requests answered, by method, route and status.
pub const HTTP_REQUESTS: &str = "switchyard_http_requests_total";
/// Time to answer an HTTP request, by method and route.
pub const HTTP_SECONDS: &str = "switchyard_http_request_duration_seconds";
/// Items waiting in a work queue, by queue.
pub const QUEUE_DEPTH: &str = "switchyard_queue_depth";
/// Age of the oldest item waiting in a work queue (0 when empty), by queue.
pub const QUEUE_OLDEST: &str = "switchyard_queue_oldest_age_seconds";

/// Histogram buckets (seconds): from a fast API answer to a slow channel.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often the recorder's histograms are drained into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Install the process's Prometheus recorder (once; later calls return the
/// same handle). Other components describe their own metrics after it
/// (`switchyard_engine::measure::describe`). When another recorder was installed first, the handle
/// renders what this process could not record: nothing.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_buckets(BUCKETS) {
            Ok(b) => b,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        match metrics::set_global_recorder(recorder) {
            Ok(()) => {
                describe();
                // Histogram samples wait in buckets until upkeep drains them;
                // without it a server nobody scrapes would grow without end.
                let h = handle.clone();
                let upkeep = std::thread::Builder::new()
                    .name("metrics-upkeep".to_owned())
                    .spawn(move || {
                        loop {
                            std::thread::sleep(UPKEEP_EVERY);
                            h.run_upkeep();
                        }
                    });
                if let Err(e) = upkeep {
                    tracing::warn!(error = %e, "cannot start the metrics upkeep; /metrics drains them when scraped");
                }
            }
            Err(e) => tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty"),
        }
        handle
    })
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route and status"
    );
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route"
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Items waiting in a work queue (due now or retrying later)"
    );
    describe_gauge!(
        QUEUE_OLDEST,
        Unit::Seconds,
        "Age of the oldest item waiting in a work queue (0 when empty)"
    );
}

/// Middleware: count and time every request by its route template.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let clock = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    histogram!(HTTP_SECONDS, "method" => method.clone(), "route" => route.clone())
        .record(clock.elapsed().as_secs_f64());
    counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    resp
}

/// `GET /metrics`: the Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Prometheus text exposition (version 0.0.4) of the HTTP, worker and queue metrics", content_type = "text/plain", body = String),
    )
)]
pub async fn scrape(State(state): State<AppState>) -> Response {
    let handle = install();
    match state.storage.queue_depths().await {
        Ok(queues) => {
            let now = Utc::now();
            for q in queues {
                let age = q
                    .oldest
                    .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
                gauge!(QUEUE_DEPTH, "queue" => q.queue).set(q.items as f64);
                gauge!(QUEUE_OLDEST, "queue" => q.queue).set(age);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the queue depths for /metrics"),
    }
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Liveness: the process answers, and whether the database does.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    #[schema(example = "ok")]
    pub status: HealthStatus,
    /// The storage backend (`sqlite`, `postgres`), when it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "sqlite")]
    pub database: Option<&'static str>,
}

/// Whether the process and its database answer.
#[derive(Debug, Serialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Everything answers.
    Ok,
    /// The database does not.
    Unavailable,
}

/// `GET /healthz`: liveness.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "The process and its database answer", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.storage.ping().await {
        Ok(()) => axum::Json(Health {
            status: HealthStatus::Ok,
            database: Some(state.storage.backend()),
        })
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(Health {
                    status: HealthStatus::Unavailable,
                    database: None,
                }),
            )
                .into_response()
        }
    }
}

/// Readiness: what was checked, and what is missing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: ReadyStatus,
    /// The checks.
    pub checks: ReadinessChecks,
    /// What is missing (only when not ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// Ready or not.
#[derive(Debug, Serialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    /// Serving, and someone does the work.
    Ready,
    /// Not yet, or not any more.
    NotReady,
}

/// The checks behind readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// `ok` or `unavailable`.
    #[schema(example = "ok")]
    pub database: &'static str,
    /// Worker instances alive (beat within 10 s); null when the database
    /// does not answer.
    #[schema(example = 1, minimum = 0)]
    pub workers: Option<i64>,
}

/// `GET /readyz`: 200 when the database answers and a worker instance beat
/// within the staleness window (this process's, or another's sharing the
/// database); 503 with what is missing otherwise.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready: the database answers and a worker instance is alive", body = Readiness),
        (status = 503, description = "Not ready; `error` says why", body = Readiness),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let since = Utc::now() - chrono::Duration::seconds(WORKER_STALE_AFTER_SECS);
    let workers = match state.storage.ping().await {
        Ok(()) => match state.storage.live_instances(since).await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: cannot count the worker instances");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            None
        }
    };
    let checks = ReadinessChecks {
        database: if workers.is_some() {
            "ok"
        } else {
            "unavailable"
        },
        workers,
    };
    let problem = match workers {
        None => Some("the database does not answer"),
        Some(0) => Some("no worker instance has beaten in the last 10 seconds"),
        Some(_) => None,
    };
    let ready = problem.is_none();
    let body = Readiness {
        status: if ready {
            ReadyStatus::Ready
        } else {
            ReadyStatus::NotReady
        },
        checks,
        error: problem.map(|m| ErrorDetail {
            code: "not_ready".to_owned(),
            message: m.to_owned(),
            field: None,
        }),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}
