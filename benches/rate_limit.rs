//! A watch against a declared rate limit: 10,000 tasks (three polls each) of a provider that
//! allows 1,000 requests a second, against the sandbox enforcing the limit exactly and
//! answering `429` past it. Prints the requests, the rate sustained, its share of the declared
//! rate and the `429`s; once as a window (no second holds more than 1,000) and once as a bucket
//! (100 at once, refilled at 1,000 a second).
//!
//!   cargo bench --bench rate_limit            (RATE_LIMIT_TASKS=N for another count)

use std::time::{Duration, Instant};

use unitask::sandbox::{self, Sandbox};
use unitask::watch::{self, Ending, Target, Watcher};
use unitask::{Engine, RetryPolicy, Transport, TransportConfig};

const REQUESTS_PER_SECOND: u32 = 1_000;

fn definition(limit: &str) -> String {
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
rate_limits:
  - {limit}
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

async fn run(label: &str, limit: &str, tasks: usize) {
    let mut engine = Engine::empty();
    engine
        .load_str("paced-jobs.yaml", &definition(limit))
        .expect("valid");
    let running = Sandbox::of(
        &engine,
        sandbox::Options {
            ids_per_track: tasks,
            ..sandbox::Options::default()
        },
    )
    .start(0)
    .await
    .expect("sandbox");
    let transport = Transport::new(TransportConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..TransportConfig::default()
    })
    .expect("transport");
    let mut watcher = Watcher::new(watch::Options {
        concurrency: 64,
        interval: Some(Duration::from_millis(1)),
        max_interval: Some(Duration::from_millis(1)),
        timeout: None,
        max_errors: 0,
    });
    watcher.add(
        running
            .client(&engine, "paced-jobs")
            .expect("client")
            .transport(transport)
            .endpoint(),
    );
    let targets: Vec<Target> = (1..=tasks)
        .map(|n| Target::new("paced-jobs", format!("job-runs-{n}")))
        .collect();
    let started = Instant::now();
    let report = watcher.run(targets, std::future::pending(), |_| {}).await;
    let elapsed = started.elapsed().as_secs_f64();
    let ended = report
        .tasks
        .iter()
        .filter(|t| matches!(t.ending, Ending::Terminal(_)))
        .count();
    let rate = (report.requests.saturating_sub(1)) as f64 / elapsed;
    println!(
        "{label:<8} {tasks} tasks ({ended} ended), {} requests in {elapsed:.2} s: {rate:.0} req/s = {:.1}% of {REQUESTS_PER_SECOND}/s; {} answered 429",
        report.requests,
        100.0 * rate / f64::from(REQUESTS_PER_SECOND),
        running.sandbox().rate_limited(),
    );
    let _ = running.stop().await;
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    let tasks = std::env::var("RATE_LIMIT_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        run(
            "window",
            &format!("{{ requests: {REQUESTS_PER_SECOND}, per: 1s }}"),
            tasks,
        )
        .await;
        run(
            "bucket",
            &format!("{{ requests: {REQUESTS_PER_SECOND}, per: 1s, burst: 100 }}"),
            tasks,
        )
        .await;
    });
}
