//! Declared rate limits (`rate_limits:`): the sandbox answers `429` past them, a watch keeps
//! under them and near them, and a limit that cannot be kept is a diagnostic. Answers' IETF
//! `RateLimit` headers pace a watch too, where the definition declares nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request as Received, Respond, ResponseTemplate};

use unitask::sandbox::{self, Sandbox};
use unitask::watch::{self, Ending, Target, Watcher};
use unitask::{Engine, RetryPolicy, State, Transport, TransportConfig};

/// A transport of the test's own (so its request count is the test's), with no retry.
fn transport() -> Transport {
    Transport::new(TransportConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..TransportConfig::default()
    })
    .expect("transport")
}

/// A made-up provider whose tasks take three polls; `limits` is its `rate_limits:` (or nothing).
fn definition(limits: &str) -> String {
    format!(
        r#"
id: paced-jobs
name: Paced jobs
base_url: https://api.paced.example
inputs:
  job_id: {{ in: path, role: task_id }}
request:
  path: /v1/jobs/{{job_id}}
auth:
  bearer: {{ env: PACED_TOKEN }}
response:
  state:
    native: {{ string: $.status }}
    documented: [queued, working, done]
    map: {{ queued: pending, working: running, done: succeeded }}
{limits}
examples:
  - name: queued
    response: {{ body: {{ status: queued }} }}
    expect: {{ state: pending, native_status: queued }}
  - name: working
    response: {{ body: {{ status: working }} }}
    expect: {{ state: running, native_status: working }}
  - name: done
    response: {{ body: {{ status: done }} }}
    expect: {{ state: succeeded, native_status: done }}
scenarios:
  - name: job-runs
    task_id: j-1
    steps: [queued, working, done]
"#
    )
}

const LIMIT: &str = "rate_limits:\n  - { requests: 20, per: 1s }";

fn engine(limits: &str) -> Engine {
    let mut engine = Engine::empty();
    engine
        .load_str("paced-jobs.yaml", &definition(limits))
        .expect("valid");
    engine
}

/// The sandbox's `paced-jobs`, as `engine` defines it, for a watch.
fn sandbox_endpoint(running: &sandbox::Running, engine: &Engine) -> watch::Endpoint {
    running
        .client(engine, "paced-jobs")
        .expect("client")
        .transport(transport())
        .endpoint()
}

/// Polls as fast as the watch may: the limit is what paces it.
fn eager() -> watch::Options {
    watch::Options {
        concurrency: 16,
        interval: Some(Duration::from_millis(1)),
        max_interval: Some(Duration::from_millis(1)),
        timeout: Some(Duration::from_secs(60)),
        max_errors: 0,
    }
}

fn targets(from: usize, count: usize) -> Vec<Target> {
    (from..from + count)
        .map(|n| Target::new("paced-jobs", format!("job-runs-{n}")))
        .collect()
}

#[tokio::test]
async fn a_watch_keeps_under_a_declared_limit_and_near_it() {
    let limited = engine(LIMIT);
    let running = Sandbox::of(&limited, sandbox::Options::default())
        .start(0)
        .await
        .expect("sandbox");
    let mut watcher = Watcher::new(eager());
    watcher.add(sandbox_endpoint(&running, &limited));
    let started = Instant::now();
    let report = watcher
        .run(targets(1, 20), std::future::pending(), |_| {})
        .await;
    let elapsed = started.elapsed();
    for task in &report.tasks {
        assert_eq!(task.ending, Ending::Terminal(State::Succeeded));
    }
    assert_eq!(running.sandbox().rate_limited(), 0, "never over the limit");
    assert_eq!(report.requests, 60, "three polls a task, no retry");
    // 60 requests at 20 a second, the first at once: 59 intervals. Never faster than declared;
    // near it (the bench `rate_limit` measures how near: here the machine is shared).
    let rate = 59.0 / elapsed.as_secs_f64();
    assert!(rate <= 20.0, "{rate:.2} requests a second");
    assert!(rate >= 0.75 * 20.0, "{rate:.2} requests a second");
    let _ = running.stop().await;
}

/// The control: the sandbox enforces the limit; a client that does not know of it goes over.
#[tokio::test]
async fn the_sandbox_answers_429_past_a_declared_limit() {
    let limited = engine(LIMIT);
    let running = Sandbox::of(&limited, sandbox::Options::default())
        .start(0)
        .await
        .expect("sandbox");
    let unaware = engine("");
    let client = running
        .client(&unaware, "paced-jobs")
        .expect("client")
        .transport(transport());
    let mut refused = 0;
    for n in 0..30 {
        if let Err(error) = client.status(&format!("job-runs-{}", 100 + n)).await {
            assert_eq!(error.kind, unitask::ErrorKind::RateLimited);
            assert!(error.retry_after.is_some(), "Retry-After is sent");
            refused += 1;
        }
    }
    assert!(refused > 0);
    assert_eq!(running.sandbox().rate_limited(), refused);
    let _ = running.stop().await;
}

#[test]
fn a_limit_that_cannot_be_kept_is_a_diagnostic() {
    for (limits, says) in [
        ("rate_limits:\n  - { requests: 0, per: 1s }", "outside 1"),
        (
            "rate_limits:\n  - { requests: 10, per: 1s, burst: 11 }",
            "burst: 11",
        ),
        ("rate_limits:\n  - { requests: 10, per: soon }", "soon"),
        (
            "rate_limits:\n  - { requests: 10, per: 9999999h }",
            "longer than 30 days",
        ),
        (
            "rate_limits:\n  - { requests: 10, per: 1s, scope: tenant }",
            "tenant",
        ),
    ] {
        let error = Engine::empty()
            .load_str("paced-jobs.yaml", &definition(limits))
            .expect_err(limits);
        assert!(error.to_string().contains(says), "{limits}: {error}");
    }
}

/// What a provider's answers say of its limit.
#[derive(Clone, Copy)]
enum Advertised {
    /// `RateLimit-Policy: "default";q=N;w=1` on every answer.
    Policy,
    /// `RateLimit: limit=N, remaining=R, reset=T` on every answer, of a fixed one-second window.
    Remaining,
}

/// An API that allows `allowed` requests a second, answers `429` past that, and says so in
/// its headers; a job is done at its third poll.
struct Limited {
    allowed: usize,
    advertised: Advertised,
    started: Instant,
    /// The times of the requests answered, last second only.
    answered: Mutex<VecDeque<Instant>>,
    /// Fixed windows: the window's number and the requests it answered.
    window: Mutex<(u64, usize)>,
    polls: Mutex<HashMap<String, u32>>,
    refused: Mutex<u64>,
}

impl Limited {
    fn new(allowed: usize, advertised: Advertised) -> Limited {
        Limited {
            allowed,
            advertised,
            started: Instant::now(),
            answered: Mutex::default(),
            window: Mutex::default(),
            polls: Mutex::default(),
            refused: Mutex::default(),
        }
    }

    /// Whether the request may be answered now (and then counts it).
    fn admit(&self) -> bool {
        let now = Instant::now();
        let mut answered = self.answered.lock().expect("lock");
        while answered
            .front()
            .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(1))
        {
            answered.pop_front();
        }
        let mut window = self.window.lock().expect("lock");
        let number = now.duration_since(self.started).as_secs();
        if window.0 != number {
            *window = (number, 0);
        }
        if answered.len() >= self.allowed || window.1 >= self.allowed {
            return false;
        }
        answered.push_back(now);
        window.1 += 1;
        true
    }

    fn headers(&self, template: ResponseTemplate) -> ResponseTemplate {
        match self.advertised {
            Advertised::Policy => template.insert_header(
                "RateLimit-Policy",
                format!(r#""default";q={};w=1"#, self.allowed),
            ),
            Advertised::Remaining => {
                let used = self.window.lock().expect("lock").1;
                template.insert_header(
                    "RateLimit",
                    format!(
                        "limit={}, remaining={}, reset=1",
                        self.allowed,
                        self.allowed - used
                    ),
                )
            }
        }
    }
}

/// [`Limited`] mounted on a mock server (the test keeps it too, to count).
struct Api(Arc<Limited>);

impl Respond for Api {
    fn respond(&self, request: &Received) -> ResponseTemplate {
        let api = &self.0;
        if !api.admit() {
            *api.refused.lock().expect("lock") += 1;
            return api.headers(ResponseTemplate::new(429).insert_header("Retry-After", "1"));
        }
        let mut polls = api.polls.lock().expect("lock");
        let count = polls.entry(request.url.path().to_owned()).or_default();
        *count += 1;
        let status = if *count >= 3 { "done" } else { "working" };
        api.headers(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "status": status })),
        )
    }
}

/// `api` on a mock server, and a client of it whose definition declares no limit.
async fn unaware_client(api: &Arc<Limited>) -> (MockServer, unitask::ProviderClient) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(Api(Arc::clone(api)))
        .mount(&server)
        .await;
    let client = engine("")
        .provider("paced-jobs")
        .expect("loaded")
        .credentials(unitask::Credentials::new().with("PACED_TOKEN", "t"))
        .base_url(url::Url::parse(&server.uri()).expect("url"))
        .transport(transport());
    (server, client)
}

/// Watches `tasks` jobs of a provider that declares no limit against `api`, one poll at a
/// time: how long it took.
async fn watch_unaware(api: Arc<Limited>, tasks: usize) -> Duration {
    let (_server, client) = unaware_client(&api).await;
    let mut watcher = Watcher::new(watch::Options {
        concurrency: 1,
        ..eager()
    });
    watcher.add(client.endpoint());
    let started = Instant::now();
    let report = watcher
        .run(targets(1, tasks), std::future::pending(), |_| {})
        .await;
    let elapsed = started.elapsed();
    for task in &report.tasks {
        assert_eq!(task.ending, Ending::Terminal(State::Succeeded));
    }
    assert_eq!(
        *api.refused.lock().expect("lock"),
        0,
        "never over the limit"
    );
    assert_eq!(report.requests, 3 * tasks as u64, "no 429, so no retry");
    elapsed
}

/// The policy the first answer names paces every later poll: 24 polls at 10 a second take
/// more than two seconds (unpaced, they take milliseconds and the API refuses most).
#[tokio::test]
async fn an_answers_policy_paces_a_watch_that_declares_no_limit() {
    let elapsed = watch_unaware(Arc::new(Limited::new(10, Advertised::Policy)), 8).await;
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
}

/// An answer that says its window is spent holds the polls until the window resets: 9 polls
/// at 3 a second span at least two window resets.
#[tokio::test]
async fn an_answer_with_nothing_left_holds_the_watch_until_the_window_resets() {
    let elapsed = watch_unaware(Arc::new(Limited::new(3, Advertised::Remaining)), 3).await;
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
}

/// A tracker paces itself by the same answers: 24 polls at 10 a second, none refused.
#[tokio::test]
async fn an_answers_policy_paces_a_tracker_too() {
    let api = Arc::new(Limited::new(10, Advertised::Policy));
    let (_server, client) = unaware_client(&api).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = unitask::track::Store::open(&crate::tracking::temp_store_url(&dir))
        .await
        .expect("store");
    for target in targets(1, 8) {
        store
            .track(&unitask::track::NewTask {
                provider: target.provider.clone(),
                task_id: target.task_id.clone(),
                ..unitask::track::NewTask::default()
            })
            .await
            .expect("track");
    }
    let mut tracker = unitask::track::Tracker::new(
        store,
        unitask::track::TrackOptions {
            watch: watch::Options {
                concurrency: 1,
                ..eager()
            },
            idle_check: Duration::from_millis(50),
            until_idle: true,
            ..unitask::track::TrackOptions::default()
        },
    );
    tracker.add(client.endpoint());
    let started = Instant::now();
    let report = tracker
        .run(std::future::pending(), |_| {})
        .await
        .expect("tracker");
    let elapsed = started.elapsed();
    assert_eq!(report.stopped, unitask::track::Stopped::Idle, "{report:?}");
    assert_eq!(
        *api.refused.lock().expect("lock"),
        0,
        "never over the limit"
    );
    assert_eq!(report.requests, 24, "no 429, so no retry");
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn a_plans_limit_reads_as_the_command_line_writes_it() {
    let limit: watch::RateLimit = "190/10s".parse().expect("a window");
    assert_eq!(
        (limit.requests, limit.per, limit.burst, limit.scope),
        (
            190,
            Duration::from_secs(10),
            None,
            watch::RateLimitScope::Credential
        )
    );
    let limit: watch::RateLimit = "1000/10s,burst=1000,scope=host".parse().expect("a bucket");
    assert_eq!(
        (limit.burst, limit.scope),
        (Some(1000), watch::RateLimitScope::Host)
    );
    for (text, says) in [
        ("0/1s", "from 1 to 1000000"),
        ("10/1s,burst=11", "from 1 to 10"),
        ("10/soon", "soon"),
        ("10/9999999h", "longer than 30 days"),
        ("10", "REQUESTS/PER"),
        ("10/1s,tenant=a", "tenant=a"),
    ] {
        let error = text.parse::<watch::RateLimit>().expect_err(text);
        assert!(error.contains(says), "{text}: {error}");
    }
}

/// A deployment on another plan than the definition documents: the sandbox plays it
/// (`Engine::set_rate_limits`) and the watch keeps it (`Endpoint::rate_limits`).
#[tokio::test]
async fn a_plans_limit_replaces_the_declared_one_on_both_sides() {
    let plan: watch::RateLimit = "5/1s".parse().expect("a limit");
    let mut stricter = engine(LIMIT);
    stricter
        .set_rate_limits("paced-jobs", vec![plan])
        .expect("loaded");
    let running = Sandbox::of(&stricter, sandbox::Options::default())
        .start(0)
        .await
        .expect("sandbox");
    let declared = engine(LIMIT);
    let mut watcher = Watcher::new(eager());
    watcher.add(sandbox_endpoint(&running, &declared).rate_limits(vec![plan]));
    let started = Instant::now();
    let report = watcher
        .run(targets(1, 5), std::future::pending(), |_| {})
        .await;
    let elapsed = started.elapsed();
    for task in &report.tasks {
        assert_eq!(task.ending, Ending::Terminal(State::Succeeded));
    }
    assert_eq!(running.sandbox().rate_limited(), 0, "never over the plan");
    assert_eq!(report.requests, 15);
    // 15 requests at 5 a second: 14 intervals, more than two seconds (at the declared 20 a
    // second, under one).
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    // The control: kept to the declared limit alone, a watch goes over the plan.
    let mut unaware_of_plan = Watcher::new(eager());
    unaware_of_plan.add(sandbox_endpoint(&running, &declared));
    let _ = unaware_of_plan
        .run(targets(100, 5), std::future::pending(), |_| {})
        .await;
    assert!(running.sandbox().rate_limited() > 0, "over the plan");
    assert!(
        stricter
            .set_rate_limits("no-such-provider", Vec::new())
            .is_err()
    );
    let _ = running.stop().await;
}
