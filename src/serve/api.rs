//! The service's HTTP API (axum), described by an OpenAPI document (utoipa) served at
//! `/openapi.json`: tracked tasks under `/v1/tasks`, the journal as Server-Sent Events at
//! `/v1/events`, webhook deliveries at `/v1/deliveries`, `/healthz` and `/metrics`. Everything
//! but `/healthz` and `/openapi.json` takes the bearer token when one is set.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::webhooks::DeliveryMetrics;
use crate::task::State as TaskState;
use crate::track::store::{Delivery, Journaled, NewTask, Tracked, Tracking};
use crate::track::{LATENCY_BUCKETS, Store, StoreError, TrackMetrics};
use crate::watch::{Endpoint, Target};

/// What every handler reads.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) store: Store,
    pub(crate) endpoints: Arc<HashMap<String, Endpoint>>,
    pub(crate) token: Option<Arc<str>>,
    pub(crate) polls: Arc<TrackMetrics>,
    pub(crate) webhooks: Arc<DeliveryMetrics>,
}

/// The routes.
pub(crate) fn router(app: App) -> Router {
    let guarded = Router::new()
        .route("/v1/tasks", get(list_tasks).post(track_task))
        .route(
            "/v1/tasks/{provider}/{*task_id}",
            get(get_task).delete(untrack_task),
        )
        .route("/v1/events", get(events))
        .route("/v1/deliveries", get(deliveries))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), bearer));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .merge(guarded)
        .with_state(app)
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "unitask",
        description = "Tracks upload and import tasks of many providers until each ends, durably: one unified task, a journal of changes, webhooks."
    ),
    paths(track_task, list_tasks, get_task, untrack_task, events, deliveries, healthz, metrics),
    components(schemas(TrackRequest, TaskPage, ApiError, ErrorBody, Tracked, Journaled, Delivery, DeliveryPage)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// An error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `unauthorized`, `not_found`, `invalid`, `conflict`, `store`.
    code: &'static str,
    /// For people.
    message: String,
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    let body = ApiError {
        error: ErrorBody {
            code,
            message: message.into(),
        },
    };
    (status, Json(body)).into_response()
}

fn store_error(e: StoreError) -> Response {
    tracing::error!("{e}");
    error(StatusCode::SERVICE_UNAVAILABLE, "store", e.to_string())
}

/// Requires `Authorization: Bearer <token>` when the service has a token.
async fn bearer(State(app): State<App>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same(given.as_bytes(), token.as_bytes()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send the service's token: Authorization: Bearer $UNITASK_API_TOKEN",
            );
        }
    }
    next.run(request).await
}

/// Compares in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A task to track.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackRequest {
    /// The provider id (`GET /openapi.json` does not list them: the service's definitions do).
    provider: String,
    /// The provider's id for the task.
    task_id: String,
    /// The provider's other inputs.
    #[serde(default)]
    inputs: BTreeMap<String, String>,
    /// Where each change is posted (Standard Webhooks), `http` or `https`.
    callback_url: Option<String>,
    /// Labels to find it by.
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Tracks a task (idempotent).
#[utoipa::path(
    post,
    path = "/v1/tasks",
    request_body = TrackRequest,
    responses(
        (status = 201, description = "Tracked from now on", body = Tracked),
        (status = 200, description = "Already tracked, the same way", body = Tracked),
        (status = 409, description = "Already tracked with other inputs, callback or labels", body = ApiError),
        (status = 422, description = "Unknown provider, bad inputs or callback", body = ApiError),
    )
)]
async fn track_task(
    State(app): State<App>,
    body: Result<Json<TrackRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                rejection.body_text(),
            );
        }
    };
    let Some(endpoint) = app.endpoints.get(&request.provider) else {
        let mut known: Vec<&str> = app.endpoints.keys().map(String::as_str).collect();
        known.sort_unstable();
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "no provider `{}` here (known: {})",
                request.provider,
                known.join(", ")
            ),
        );
    };
    if request.task_id.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "task_id is empty",
        );
    }
    let target = Target {
        provider: request.provider.clone(),
        task_id: request.task_id.clone(),
        inputs: request.inputs.iter().collect(),
    };
    if let Err(e) = endpoint.check(&target) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.message);
    }
    if let Some((name, _)) = request.labels.iter().find(|(name, value)| {
        name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            || value.len() > 256
    }) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            format!(
                "label {name:?}: a name is 1 to 64 of A-Z, a-z, 0-9, `_`, `.`, `-`, and a value at most 256 bytes"
            ),
        );
    }
    if let Some(url) = &request.callback_url {
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            _ => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    format!("callback_url {url:?} is not an http(s) URL"),
                );
            }
        }
    }
    let task = NewTask {
        provider: request.provider,
        task_id: request.task_id,
        inputs: request.inputs,
        labels: request.labels,
        callback_url: request.callback_url,
    };
    match app.store.track(&task).await {
        Ok(Tracking::Created(record)) => (StatusCode::CREATED, Json(record)).into_response(),
        Ok(Tracking::Existing(record)) => {
            if record.inputs != task.inputs
                || record.labels != task.labels
                || record.callback_url != task.callback_url
            {
                return error(
                    StatusCode::CONFLICT,
                    "conflict",
                    "this task is tracked with other inputs, labels or callback_url",
                );
            }
            (StatusCode::OK, Json(record)).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// Which tasks to list.
#[derive(Debug, Deserialize)]
struct ListQuery {
    provider: Option<String>,
    state: Option<String>,
    /// `name:value`.
    label: Option<String>,
    ended: Option<bool>,
    after: Option<i64>,
    limit: Option<u32>,
}

/// A page of tracked tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    /// Oldest first.
    tasks: Vec<Tracked>,
    /// Pass as `after` for the next page; absent on the last.
    next: Option<i64>,
}

/// Lists tracked tasks, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/tasks",
    params(
        ("provider" = Option<String>, Query, description = "Only this provider's"),
        ("state" = Option<String>, Query, description = "Only those whose last task is in this state"),
        ("label" = Option<String>, Query, description = "Only those with this label, `name:value`"),
        ("ended" = Option<bool>, Query, description = "Only those ended (true) or still tracked (false)"),
        ("after" = Option<i64>, Query, description = "The previous page's `next`"),
        ("limit" = Option<u32>, Query, description = "At most this many (100 by default, 1,000 at most)"),
    ),
    responses((status = 200, body = TaskPage), (status = 422, body = ApiError))
)]
async fn list_tasks(State(app): State<App>, Query(query): Query<ListQuery>) -> Response {
    let state = match query.state.as_deref().map(str::parse::<TaskState>) {
        None => None,
        Some(Ok(state)) => Some(state),
        Some(Err(e)) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string()),
    };
    let label = match query.label.as_deref() {
        None => None,
        Some(text) => match text.split_once(':') {
            Some((name, value)) => Some((name.to_owned(), value.to_owned())),
            None => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "label is `name:value`",
                );
            }
        },
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let filter = crate::track::Filter {
        provider: query.provider,
        state,
        label,
        ended: query.ended,
        after: query.after,
        limit,
    };
    match app.store.list(&filter).await {
        Ok(page) => {
            let next = (page.len() == limit as usize)
                .then(|| page.last().map(|(id, _)| *id))
                .flatten();
            let tasks = page.into_iter().map(|(_, record)| record).collect();
            Json(TaskPage { tasks, next }).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// A tracked task: its last `UploadTask` and how it ended, if it has.
#[utoipa::path(
    get,
    path = "/v1/tasks/{provider}/{task_id}",
    params(("provider" = String, Path), ("task_id" = String, Path, description = "May contain `/`")),
    responses((status = 200, body = Tracked), (status = 404, body = ApiError))
)]
async fn get_task(
    State(app): State<App>,
    Path((provider, task_id)): Path<(String, String)>,
) -> Response {
    match app.store.get(&provider, &task_id).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => not_tracked(&provider, &task_id),
        Err(e) => store_error(e),
    }
}

/// Stops tracking a task: it ends `removed`.
#[utoipa::path(
    delete,
    path = "/v1/tasks/{provider}/{task_id}",
    params(("provider" = String, Path), ("task_id" = String, Path, description = "May contain `/`")),
    responses((status = 200, body = Tracked), (status = 404, body = ApiError))
)]
async fn untrack_task(
    State(app): State<App>,
    Path((provider, task_id)): Path<(String, String)>,
) -> Response {
    match app.store.untrack(&provider, &task_id).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => not_tracked(&provider, &task_id),
        Err(e) => store_error(e),
    }
}

fn not_tracked(provider: &str, task_id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("{provider} {task_id} is not tracked"),
    )
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    after: Option<i64>,
}

/// Every change and end, as Server-Sent Events (`id` is the journal's; `event` is
/// `task.changed` or `task.ended`; `data` is the journal row). Resumes after `Last-Event-ID`
/// (or `?after=`); from the start of the journal without either.
#[utoipa::path(
    get,
    path = "/v1/events",
    params(
        ("after" = Option<i64>, Query, description = "Resume after this event id"),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id"),
    ),
    responses((status = 200, description = "text/event-stream of Journaled", body = Journaled, content_type = "text/event-stream"))
)]
async fn events(
    State(app): State<App>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(query.after)
        .unwrap_or(0);
    let state = (app.store, after, VecDeque::<Journaled>::new());
    let stream = futures_util::stream::unfold(state, |(store, mut after, mut buffer)| async move {
        loop {
            if let Some(event) = buffer.pop_front() {
                after = event.id;
                let sse = SseEvent::default()
                    .id(event.id.to_string())
                    .event(event.kind.clone())
                    .json_data(&event)
                    .unwrap_or_default();
                return Some((Ok(sse), (store, after, buffer)));
            }
            match store.events_after(after, 200).await {
                Ok(page) if !page.is_empty() => buffer.extend(page),
                Ok(_) => {
                    // Woken by this process's journal, or looking again soon for others'.
                    tokio::select! {
                        () = store.journaled() => {}
                        () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!("{e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Debug, Deserialize)]
struct DeliveriesQuery {
    status: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
}

/// A page of webhook deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    /// By event id.
    deliveries: Vec<Delivery>,
    /// Pass as `after` for the next page; absent on the last.
    next: Option<i64>,
}

/// Webhook deliveries: `failed` ones are those given up after their last attempt.
#[utoipa::path(
    get,
    path = "/v1/deliveries",
    params(
        ("status" = Option<String>, Query, description = "`pending`, `delivered` or `failed`"),
        ("after" = Option<i64>, Query, description = "The previous page's `next`"),
        ("limit" = Option<u32>, Query, description = "At most this many (100 by default)"),
    ),
    responses((status = 200, body = DeliveryPage), (status = 422, body = ApiError))
)]
async fn deliveries(State(app): State<App>, Query(query): Query<DeliveriesQuery>) -> Response {
    if let Some(status) = &query.status
        && !matches!(status.as_str(), "pending" | "delivered" | "failed")
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "status is `pending`, `delivered` or `failed`",
        );
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    match app
        .store
        .deliveries(query.status.as_deref(), query.after.unwrap_or(0), limit)
        .await
    {
        Ok(deliveries) => {
            let next = (deliveries.len() == limit as usize)
                .then(|| deliveries.last().map(|d| d.event_id))
                .flatten();
            Json(DeliveryPage { deliveries, next }).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// `200 ok` when the store answers, else `503`.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200), (status = 503)))]
async fn healthz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

/// This document.
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        ApiDoc::openapi().to_pretty_json().unwrap_or_default(),
    )
        .into_response()
}

/// Prometheus text: tasks by state and ending, polls, errors, 429s, dropped outcomes, webhook
/// deliveries, and the poll latency histogram.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "text/plain")))]
async fn metrics(State(app): State<App>) -> Response {
    let mut out = String::new();
    let tasks = match app.store.tasks_by_state().await {
        Ok(tasks) => tasks,
        Err(e) => return store_error(e),
    };
    let deliveries = match app.store.deliveries_by_status().await {
        Ok(deliveries) => deliveries,
        Err(e) => return store_error(e),
    };
    out.push_str("# HELP unitask_tasks_tracked Tasks still tracked, by the state of their last answer.\n# TYPE unitask_tasks_tracked gauge\n");
    let mut tracked: BTreeMap<String, u64> = BTreeMap::new();
    let mut ended: BTreeMap<String, u64> = BTreeMap::new();
    for (state, ending, n) in tasks {
        match ending {
            None => {
                *tracked
                    .entry(state.unwrap_or_else(|| "unpolled".into()))
                    .or_default() += n
            }
            Some(ending) => *ended.entry(ending).or_default() += n,
        }
    }
    for (state, n) in &tracked {
        let _ = writeln!(out, "unitask_tasks_tracked{{state=\"{state}\"}} {n}");
    }
    out.push_str(
        "# HELP unitask_tasks_ended Tasks ended, by how.\n# TYPE unitask_tasks_ended gauge\n",
    );
    for (ending, n) in &ended {
        let _ = writeln!(out, "unitask_tasks_ended{{ending=\"{ending}\"}} {n}");
    }
    let polls = &app.polls;
    let counters = [
        (
            "unitask_polls_total",
            "Polls answered and written by this process.",
            &polls.polls,
        ),
        (
            "unitask_poll_errors_total",
            "Polls that failed after their retries.",
            &polls.poll_errors,
        ),
        (
            "unitask_rate_limited_total",
            "Polls a provider refused with 429.",
            &polls.rate_limited,
        ),
        (
            "unitask_outcomes_dropped_total",
            "Poll outcomes dropped: the task was removed or claimed elsewhere.",
            &polls.dropped,
        ),
        (
            "unitask_store_errors_total",
            "Errors of the store.",
            &polls.store_errors,
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            value.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP unitask_poll_duration_seconds How long polls took, retries included.\n# TYPE unitask_poll_duration_seconds histogram\n");
    for (bound, count) in LATENCY_BUCKETS.iter().zip(&polls.latency) {
        let _ = writeln!(
            out,
            "unitask_poll_duration_seconds_bucket{{le=\"{bound}\"}} {}",
            count.load(Ordering::Relaxed)
        );
    }
    let count = polls.latency[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "unitask_poll_duration_seconds_bucket{{le=\"+Inf\"}} {count}\nunitask_poll_duration_seconds_sum {}\nunitask_poll_duration_seconds_count {count}",
        polls.latency_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    out.push_str("# HELP unitask_webhook_attempts_total Webhook attempts by this process, by result.\n# TYPE unitask_webhook_attempts_total counter\n");
    for (result, value) in [
        ("delivered", &app.webhooks.delivered),
        ("retried", &app.webhooks.retried),
        ("failed", &app.webhooks.failed),
    ] {
        let _ = writeln!(
            out,
            "unitask_webhook_attempts_total{{result=\"{result}\"}} {}",
            value.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP unitask_webhook_deliveries Webhooks in the store, by status.\n# TYPE unitask_webhook_deliveries gauge\n");
    for (status, n) in deliveries {
        let _ = writeln!(out, "unitask_webhook_deliveries{{status=\"{status}\"}} {n}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
