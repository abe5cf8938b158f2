//! CPU per poll of the library's watch and of the tracker (the scheduler of `serve` and
//! `watch --store`, on a SQLite file, journaling every change), side by side with a hand-written
//! tokio + reqwest + serde poller of the same kind of sandbox tasks, in one run.
//!
//!   cargo bench --bench poll_cpu [-- TASKS ROUNDS [POLLERS]]
//!
//! (default: 3000 tasks, 3 rounds, every poller; POLLERS names some of them, comma-separated,
//! to profile one alone: `hand-written,watch,tracker`.)
//!
//! The sandbox runs in its own process (`unitask sandbox`), so this process's CPU time (user +
//! system, from /proc/self/stat) is the poller's alone. Every poller runs on a current-thread
//! runtime with 32 polls in flight and no wait between polls, over fresh HubSpot imports that
//! go pending → processing → complete (three polls each, every one a change). Rounds take the
//! pollers in turn, so drift on a shared machine hits each alike. A ratio ≥ 0.8 means the poller
//! spends at most 1.25× the hand-written one's CPU per poll.

#[path = "support/sandbox.rs"]
mod sandbox;

use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, stream};
use unitask::providers::hubspot;
use unitask::track::{NewTask, Store, TrackOptions, Tracker};
use unitask::watch::{self, Target, Watcher};
use unitask::{RetryPolicy, Transport, TransportConfig};

const CONCURRENCY: usize = 32;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let tasks: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let only = args.next();
    let runs = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p == name))
    };
    let sandbox = sandbox::SandboxProcess::start();
    let url = sandbox.url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "{tasks} tasks × 3 polls per poller and round, {rounds} rounds, {CONCURRENCY} in flight"
    );
    println!(
        "{:<6} {:<14} {:>8} {:>9} {:>10} {:>12}",
        "round", "poller", "polls", "seconds", "polls/s", "CPU µs/poll"
    );
    let mut totals = [(0u64, 0f64); 3];
    let mut next_id = 1;
    for round in 1..=rounds {
        for (p, name) in ["hand-written", "watch", "tracker"].iter().enumerate() {
            if !runs(name) {
                continue;
            }
            let ids: Vec<String> = (next_id..next_id + tasks)
                .map(|n| format!("import-succeeds-{n}"))
                .collect();
            next_id += tasks;
            let store_url = format!(
                "sqlite://{}",
                dir.path().join(format!("r{round}.db")).display()
            );
            let (polls, seconds, cpu) = runtime.block_on(async {
                // The tracker's tasks are registered first, outside the measure: that is one
                // insert per task, not per poll.
                let store = if p == 2 {
                    let store = Store::open(&store_url).await.expect("store");
                    for id in &ids {
                        store
                            .track(&NewTask {
                                provider: "hubspot".into(),
                                task_id: id.clone(),
                                ..NewTask::default()
                            })
                            .await
                            .expect("tracked");
                    }
                    Some(store)
                } else {
                    None
                };
                // Each poller's client is made outside the measure too (a reqwest client loads
                // its TLS roots): what is measured is polling.
                let handmade = reqwest::Client::new();
                let endpoint = client(&url).endpoint().rate_limits(Vec::new());
                let cpu_before = cpu_seconds();
                let started = Instant::now();
                let polls = match (p, store) {
                    (0, _) => handwritten(&handmade, &url, ids).await,
                    (1, _) => watched(endpoint, ids).await,
                    (_, Some(store)) => tracked(endpoint, store).await,
                    _ => unreachable!(),
                };
                (
                    polls,
                    started.elapsed().as_secs_f64(),
                    cpu_seconds() - cpu_before,
                )
            });
            totals[p].0 += polls;
            totals[p].1 += cpu;
            println!(
                "{round:<6} {name:<14} {polls:>8} {seconds:>9.2} {:>10.0} {:>12.1}",
                polls as f64 / seconds,
                cpu * 1e6 / polls as f64
            );
        }
    }
    let per_poll = |(polls, cpu): (u64, f64)| cpu * 1e6 / polls as f64;
    let floor = per_poll(totals[0]);
    println!();
    for (p, name) in ["hand-written", "watch", "tracker"].iter().enumerate() {
        if totals[p].0 == 0 {
            continue;
        }
        let mine = per_poll(totals[p]);
        println!(
            "{name:<14} {mine:>7.1} µs of CPU per poll: {:.2}× the hand-written poller's throughput per CPU second",
            floor / mine
        );
    }
    drop(sandbox);
}

/// This process's user + system CPU time, in seconds (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command name (which is in parentheses and may hold spaces).
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    ticks as f64 / 100.0
}

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

/// What a hand-written client reads of HubSpot's answer.
#[derive(serde::Deserialize)]
struct ImportStatus {
    status: String,
}

/// The floor: one reqwest client, one serde struct, a loop per task until a terminal status.
async fn handwritten(client: &reqwest::Client, url: &str, ids: Vec<String>) -> u64 {
    stream::iter(ids)
        .map(|id| {
            let client = client.clone();
            async move {
                let mut polls = 0;
                loop {
                    let answer = client
                        .get(format!(
                            "{url}/hubspot/files/v3/files/import-from-url/async/tasks/{id}/status"
                        ))
                        .bearer_auth("bench")
                        .header("accept", "application/json")
                        .send()
                        .await
                        .expect("an answer");
                    let status: ImportStatus = answer.json().await.expect("a status");
                    polls += 1;
                    if matches!(status.status.as_str(), "COMPLETE" | "CANCELED") {
                        return polls;
                    }
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .fold(0, |sum, polls| async move { sum + polls })
        .await
}

fn client(url: &str) -> hubspot::Client {
    hubspot::Client::builder()
        .token("bench")
        .base_url(format!("{url}/hubspot").parse().expect("URL"))
        .transport(transport())
        .build()
        .expect("client")
}

fn options() -> watch::Options {
    watch::Options {
        concurrency: CONCURRENCY,
        interval: Some(Duration::ZERO),
        max_interval: Some(Duration::ZERO),
        timeout: None,
        max_errors: 0,
    }
}

/// The library's watch, with the generated client's endpoint (on the sandbox's plan: no limit).
async fn watched(endpoint: watch::Endpoint, ids: Vec<String>) -> u64 {
    let mut watcher = Watcher::new(options());
    watcher.add(endpoint);
    let targets = ids
        .into_iter()
        .map(|id| Target::new("hubspot", id))
        .collect();
    let report = watcher.run(targets, std::future::pending(), |_| {}).await;
    report.tasks.iter().map(|t| u64::from(t.polls)).sum()
}

/// The tracker on a SQLite file: claims, polls, writes every outcome and journals every change.
async fn tracked(endpoint: watch::Endpoint, store: Store) -> u64 {
    let mut tracker = Tracker::new(
        store,
        TrackOptions {
            watch: options(),
            until_idle: true,
            idle_check: Duration::from_millis(50),
            ..TrackOptions::default()
        },
    );
    tracker.add(endpoint);
    let report = tracker
        .run(std::future::pending(), |_| {})
        .await
        .expect("tracker");
    report.polls
}
