//! The tracking service, in-process and through the binary, against the sandbox: tasks
//! registered over HTTP end where their plans say; every change reaches a webhook receiver that
//! verifies each signature and counts deliveries per `webhook-id`; the journal streams as
//! Server-Sent Events and resumes after `Last-Event-ID`; the API's rules (idempotency,
//! conflicts, validation, removal, the token) hold; a serve killed with SIGKILL and started again
//! on its SQLite file loses nothing; two serves on PostgreSQL, one killed, lose nothing.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use unitask::Engine;
use unitask::sandbox::Running;
use unitask::serve::{ServeOptions, Service, WebhookOptions, WebhookSecret};
use unitask::track::{Store, TrackOptions};
use unitask::watch;

use crate::tracking::{Played, played, sandbox_of_everything, temp_store_url};

/// A webhook receiver on loopback: verifies every signature, counts attempts per
/// `webhook-id`, keeps each id's body, and refuses the first attempt of every webhook (`503`)
/// when `flaky`, so that each is retried once; with `broken`, it refuses every attempt.
#[derive(Clone)]
pub struct Receiver {
    secret: WebhookSecret,
    flaky: bool,
    broken: bool,
    seen: Arc<Mutex<Seen>>,
}

#[derive(Default)]
pub struct Seen {
    /// Attempts per webhook-id.
    pub attempts: HashMap<String, u32>,
    /// The body of each webhook-id (every attempt must carry the same).
    pub bodies: HashMap<String, Value>,
    /// Attempts whose signature did not verify.
    pub forged: u32,
}

impl Receiver {
    pub async fn start(secret: WebhookSecret, flaky: bool, broken: bool) -> (Receiver, String) {
        let receiver = Receiver {
            secret,
            flaky,
            broken,
            seen: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    pub fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().expect("lock"))
    }
}

async fn hook(
    axum::extract::State(receiver): axum::extract::State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let verified = receiver.secret.verify_headers(&headers, &body, 300);
    let mut seen = receiver.seen.lock().expect("lock");
    let Ok(id) = verified.map(str::to_owned) else {
        seen.forged += 1;
        return StatusCode::UNAUTHORIZED;
    };
    let value: Value = serde_json::from_slice(&body).expect("a JSON body");
    if let Some(earlier) = seen.bodies.get(&id) {
        assert_eq!(earlier, &value, "{id}: every attempt carries the same body");
    }
    seen.bodies.insert(id.clone(), value);
    let attempts = seen.attempts.entry(id).or_default();
    *attempts += 1;
    if receiver.broken || (receiver.flaky && *attempts == 1) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

/// A service on `store` polling the in-process sandbox, quickly; stopped when the sender fires.
async fn service(
    engine: &Engine,
    running: &Running,
    store: Store,
    secret: WebhookSecret,
    token: Option<&str>,
    attempts: u32,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let transport = unitask::Transport::new(unitask::TransportConfig {
        timeout: Duration::from_millis(500),
        retry: unitask::RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            total_budget: Duration::from_secs(5),
        },
        ..unitask::TransportConfig::default()
    })
    .expect("transport");
    let mut service = Service::new(
        store,
        ServeOptions {
            addr: "127.0.0.1:0".parse().expect("addr"),
            token: token.map(str::to_owned),
            track: TrackOptions {
                watch: watch::Options {
                    concurrency: 16,
                    interval: Some(Duration::from_millis(20)),
                    max_interval: Some(Duration::from_millis(60)),
                    timeout: None,
                    max_errors: 5,
                },
                lease: Duration::from_secs(10),
                idle_check: Duration::from_millis(100),
                heartbeat: Duration::from_millis(200),
                ..TrackOptions::default()
            },
            webhooks: WebhookOptions {
                secret,
                attempts,
                first_retry: Duration::from_millis(50),
                max_retry: Duration::from_millis(200),
                timeout: Duration::from_secs(2),
                concurrency: 8,
                idle_check: Duration::from_millis(100),
            },
        },
    );
    for loaded in engine.iter() {
        let client = running
            .client(engine, loaded.id())
            .expect("a client")
            .transport(transport.clone());
        service.add(client.endpoint());
    }
    let bound = service.bind().await.expect("bound");
    let addr = bound.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        bound
            .run(async {
                let _ = stopped.await;
            })
            .await
            .expect("the service stops cleanly");
    });
    (addr, stop, task)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn post(client: &reqwest::Client, addr: SocketAddr, body: &Value) -> (u16, Value) {
    let response = client
        .post(format!("http://{addr}/v1/tasks"))
        .json(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn register(p: &Played, callback: &str) -> Value {
    json!({
        "provider": p.task.provider,
        "task_id": p.task.task_id,
        "inputs": p.task.inputs,
        "callback_url": callback,
        "labels": {"batch": "one"},
    })
}

/// Waits until no task is left tracked (60 s at most).
async fn until_all_ended(store: &Store) {
    let started = Instant::now();
    loop {
        let (tracked, _) = store.counts().await.expect("counts");
        if tracked == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{tracked} task(s) still tracked after a minute"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every journaled event's webhook was delivered (30 s at most).
async fn until_delivered(store: &Store, events: usize) {
    let started = Instant::now();
    loop {
        let by: BTreeMap<String, u64> = store
            .deliveries_by_status()
            .await
            .expect("deliveries")
            .into_iter()
            .collect();
        if by.get("delivered").copied().unwrap_or(0) as usize == events {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "deliveries after 30 s: {by:?} of {events} events"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first `n` events of the stream at `url` (with `Last-Event-ID: after`, if given).
async fn sse(
    client: &reqwest::Client,
    url: &str,
    after: Option<i64>,
    n: usize,
) -> Vec<(i64, String)> {
    let mut request = client.get(url);
    if let Some(after) = after {
        request = request.header("last-event-id", after.to_string());
    }
    let mut response = request.send().await.expect("GET /v1/events");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    let mut events = Vec::new();
    while events.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within ten seconds")
            .expect("read")
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let mut id = None;
            let mut kind = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    kind = v.to_owned();
                }
            }
            if let Some(id) = id {
                events.push((id, kind));
            }
        }
    }
    events.truncate(n);
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_registered_over_http_end_where_their_plans_say_and_every_change_is_a_signed_webhook()
{
    let engine = crate::builtin_unlimited();
    let running = sandbox_of_everything(&engine).await;
    let played = played(&running);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&temp_store_url(&dir)).await.expect("store");
    let secret = WebhookSecret::random();
    let (receiver, callback) = Receiver::start(secret.clone(), true, false).await;
    let (addr, stop, task) = service(&engine, &running, store.clone(), secret, None, 5).await;
    let client = http();
    for p in &played {
        let (status, record) = post(&client, addr, &register(p, &callback)).await;
        assert_eq!(status, 201, "{record}");
        assert_eq!(record["ending"], Value::Null);
    }
    // The same registration again is idempotent; another with other labels conflicts.
    let first = &played[0];
    assert_eq!(
        post(&client, addr, &register(first, &callback)).await.0,
        200
    );
    let mut other = register(first, &callback);
    other["labels"] = json!({"batch": "two"});
    assert_eq!(post(&client, addr, &other).await.0, 409);
    // What cannot be polled is refused before it is stored.
    let (status, body) = post(&client, addr, &json!({"provider": "nope", "task_id": "1"})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("hubspot")
    );
    let mut bad_callback = register(first, "ftp://example.invalid/hook");
    bad_callback["task_id"] = json!("another-task");
    assert_eq!(post(&client, addr, &bad_callback).await.0, 422);
    let (status, _) = post(&client, addr, &json!({"provider": "hubspot"})).await;
    assert_eq!(status, 422, "a body without task_id");
    let mut bad_label = register(first, &callback);
    bad_label["task_id"] = json!("another-task");
    bad_label["labels"] = json!({"a\"b": "c"});
    assert_eq!(post(&client, addr, &bad_label).await.0, 422);

    until_all_ended(&store).await;
    let journal = crate::tracking::journal(&store).await;
    let events: usize = journal.values().map(Vec::len).sum();
    until_delivered(&store, events).await;
    for p in &played {
        let url = format!(
            "http://{addr}/v1/tasks/{}/{}",
            p.task.provider,
            percent_encoding::utf8_percent_encode(
                &p.task.task_id,
                percent_encoding::NON_ALPHANUMERIC
            )
        );
        let record: unitask::track::Tracked = client
            .get(&url)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("a record");
        assert!(
            crate::tracking::ending_matches(&record, &p.expected),
            "{} {}: ended {:?}, its plan says {}",
            p.task.provider,
            p.task.task_id,
            record.ending,
            p.expected
        );
    }
    // Every event's webhook arrived, signed, retried once after the receiver's 503, with one
    // body per webhook-id; each task's end came once.
    receiver.seen(|seen| {
        assert_eq!(seen.forged, 0);
        assert_eq!(seen.attempts.len(), events);
        assert!(
            seen.attempts.values().all(|&n| n == 2),
            "{:?}",
            seen.attempts
        );
        let mut ends: HashMap<(String, String), u32> = HashMap::new();
        for body in seen.bodies.values() {
            assert_eq!(body["data"]["labels"]["batch"], "one");
            if body["type"] == "task.ended" {
                let key = (
                    body["data"]["provider"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    body["data"]["task_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                *ends.entry(key).or_default() += 1;
            }
        }
        assert_eq!(ends.len(), played.len());
        assert!(ends.values().all(|&n| n == 1));
    });
    // The journal as Server-Sent Events, from the start, then resumed after the third.
    let stream = format!("http://{addr}/v1/events");
    let from_start = sse(&client, &stream, None, 5).await;
    assert_eq!(
        from_start.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert!(from_start.iter().all(|e| e.1.starts_with("task.")));
    let resumed = sse(&client, &stream, Some(3), 2).await;
    assert_eq!(resumed.iter().map(|e| e.0).collect::<Vec<_>>(), vec![4, 5]);
    // Listing by label, by provider, by state, a page at a time.
    let page: Value = client
        .get(format!("http://{addr}/v1/tasks?label=batch:one&limit=5"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("a page");
    assert_eq!(page["tasks"].as_array().map(Vec::len), Some(5));
    assert!(page["next"].is_i64());
    let succeeded: Value = client
        .get(format!(
            "http://{addr}/v1/tasks?state=succeeded&provider=hubspot"
        ))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("a page");
    let tasks = succeeded["tasks"].as_array().expect("tasks");
    assert!(!tasks.is_empty());
    assert!(
        tasks
            .iter()
            .all(|t| t["task"]["state"] == "succeeded" && t["provider"] == "hubspot")
    );
    // The document, the metrics, the health.
    let document: Value = client
        .get(format!("http://{addr}/openapi.json"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    for path in [
        "/v1/tasks",
        "/v1/tasks/{provider}/{task_id}",
        "/v1/events",
        "/v1/deliveries",
        "/metrics",
        "/healthz",
    ] {
        assert!(
            document["paths"][path].is_object(),
            "{path} in the document"
        );
    }
    assert!(document["components"]["schemas"]["Tracked"].is_object());
    let metrics = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("unitask_polls_total "), "{metrics}");
    assert!(
        metrics.contains(&format!(
            "unitask_webhook_deliveries{{status=\"delivered\"}} {events}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("unitask_poll_duration_seconds_count "),
        "{metrics}"
    );
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("GET");
    assert_eq!(health.status(), 200);
    let _ = stop.send(());
    task.await.expect("stopped");
    let _ = running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_the_token_and_failed_webhooks() {
    let engine = crate::builtin_unlimited();
    let running = sandbox_of_everything(&engine).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&temp_store_url(&dir)).await.expect("store");
    let secret = WebhookSecret::random();
    // A receiver that never takes a webhook: each is given up after its two attempts.
    let (receiver, callback) = Receiver::start(secret.clone(), false, true).await;
    let (addr, stop, task) = service(
        &engine,
        &running,
        store.clone(),
        secret,
        Some("s3cret-token"),
        2,
    )
    .await;
    let client = http();
    let endless = running
        .sandbox()
        .plan("hubspot")
        .expect("hubspot")
        .tracks
        .iter()
        .find(|t| {
            matches!(
                t.expected_end(watch::is_transient),
                unitask::sandbox::Outcome::Task {
                    terminal: false,
                    ..
                }
            )
        })
        .and_then(|t| t.fresh_id(1))
        .expect("a running import");
    let body = json!({"provider": "hubspot", "task_id": endless, "callback_url": callback});
    // Without the token: refused; /healthz and /openapi.json stay open.
    let refused = client
        .post(format!("http://{addr}/v1/tasks"))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("GET")
            .status(),
        401
    );
    assert_eq!(
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .expect("GET")
            .status(),
        200
    );
    let authorized = |request: reqwest::RequestBuilder| request.bearer_auth("s3cret-token");
    let created = authorized(client.post(format!("http://{addr}/v1/tasks")))
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(created.status(), 201);
    // It runs on; removed, it ends `removed`, journaled and posted like any end.
    let url = format!("http://{addr}/v1/tasks/hubspot/{endless}");
    let started = Instant::now();
    loop {
        let record: Value = authorized(client.get(&url))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        if record["polls"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not polled: {record}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let removed: Value = authorized(client.delete(&url))
        .send()
        .await
        .expect("DELETE")
        .json()
        .await
        .expect("JSON");
    assert_eq!(removed["ending"], "removed");
    let polls = removed["polls"].as_u64().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: Value = authorized(client.get(&url))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        after["polls"].as_u64(),
        Some(polls),
        "polled after its removal"
    );
    assert_eq!(
        authorized(client.delete(format!("http://{addr}/v1/tasks/hubspot/never-tracked")))
            .send()
            .await
            .expect("DELETE")
            .status(),
        404
    );
    // Every webhook failed after two attempts, and says so.
    let started = Instant::now();
    let failed = loop {
        let page: Value =
            authorized(client.get(format!("http://{addr}/v1/deliveries?status=failed")))
                .send()
                .await
                .expect("GET")
                .json()
                .await
                .expect("JSON");
        let failed = page["deliveries"].as_array().cloned().unwrap_or_default();
        let journaled = crate::tracking::journal(&store)
            .await
            .values()
            .map(Vec::len)
            .sum::<usize>();
        if !failed.is_empty() && failed.len() == journaled {
            break failed;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for delivery in &failed {
        assert_eq!(delivery["attempts"], 2);
        assert!(
            delivery["last_error"]
                .as_str()
                .unwrap_or_default()
                .contains("503")
        );
    }
    receiver.seen(|seen| {
        assert_eq!(seen.forged, 0);
        assert!(seen.attempts.values().all(|&n| n == 2));
    });
    let _ = stop.send(());
    task.await.expect("stopped");
    // Beyond loopback without a token, the service does not start.
    let refused = Service::new(
        store,
        ServeOptions {
            addr: "0.0.0.0:0".parse().expect("addr"),
            token: None,
            track: TrackOptions::default(),
            webhooks: WebhookOptions::default(),
        },
    )
    .bind()
    .await;
    assert!(matches!(
        refused,
        Err(unitask::serve::ServeError::NoToken(_))
    ));
    let _ = running.stop().await;
}
