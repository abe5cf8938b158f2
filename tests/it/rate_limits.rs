//! Declared rate limits (`rate_limits:`): the sandbox answers `429` past them, a watch keeps
//! under them and near them, and a limit that cannot be kept is a diagnostic.

use std::time::{Duration, Instant};

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
    watcher.add(
        running
            .client(&limited, "paced-jobs")
            .expect("client")
            .transport(transport())
            .endpoint(),
    );
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
