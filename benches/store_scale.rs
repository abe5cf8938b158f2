//! The store at scale, on a SQLite file: the time to claim due polls as the table grows from
//! 10,000 to 1,000,000 tracked tasks (it must stay flat), the time to count tasks by state (what
//! every `/metrics` scrape reads), and the resident memory of the
//! service tracking 1,000,000 tasks while it polls the due ones to their end against the sandbox
//! (state on disk, only due polls in memory: at most 1 GiB).
//!
//!   cargo bench --bench store_scale [-- TASKS]      (default: 1000000)
//!
//! The sandbox runs in its own process, so the memory measured (this process's peak resident
//! set, VmHWM in /proc/self/status) is the service's alone. Rows are added with one SQL
//! statement per batch (a million `POST`s would measure HTTP, not the store); 10,000 of them are
//! due, the rest due in 30 days.

#[path = "support/sandbox.rs"]
mod sandbox;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use unitask::providers::hubspot;
use unitask::serve::{ServeOptions, Service, WebhookOptions};
use unitask::track::{Store, TrackOptions};
use unitask::watch;

const DUE: u64 = 10_000;

fn main() {
    let total: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scale.db");
    let url = format!("sqlite://{}", path.display());
    let before = memory();
    runtime.block_on(async {
        let store = Store::open(&url).await.expect("store");
        let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("a second connection");
        println!(
            "claiming 32 due tasks (median of 200 claims) and counting tasks by state (median of 5) as the table grows:"
        );
        println!(
            "{:>10} {:>12} {:>14} {:>12}",
            "tasks", "insert s", "claim µs", "count ms"
        );
        let mut have = 0;
        for size in [10_000, 100_000, total].into_iter().filter(|&s| s <= total) {
            let started = Instant::now();
            insert(&mut raw, have, size).await;
            let inserted = started.elapsed().as_secs_f64();
            have = size;
            let median = claim_time(&store, &mut raw, size).await;
            let counted = count_time(&store).await;
            println!("{size:>10} {inserted:>12.1} {median:>14.0} {counted:>12.1}");
        }
        // Every task not due for 30 days, but the first DUE, due now.
        sqlx::query(
            "UPDATE tracked SET next_poll_at = $1, lease = NULL, worker = NULL, course = '{}'",
        )
        .bind(now_ms() + 30 * 24 * 3600 * 1000)
        .execute(&mut raw)
        .await
        .expect("not due");
        sqlx::query("UPDATE tracked SET next_poll_at = $1 WHERE id <= $2")
            .bind(now_ms())
            .bind(DUE as i64)
            .execute(&mut raw)
            .await
            .expect("due");
    });
    let sandbox = sandbox::SandboxProcess::start();
    let (elapsed, polls) = runtime.block_on(serve(&url, &sandbox.url));
    let after = memory();
    println!(
        "\nservice tracking {total} tasks, {DUE} of them due and polled to their end: {polls} polls in {elapsed:.1} s"
    );
    println!(
        "resident memory: {:.0} MiB at start, peak {:.0} MiB (VmHWM), {:.0} MiB at the end",
        before.0 as f64 / 1024.0,
        after.1 as f64 / 1024.0,
        after.0 as f64 / 1024.0
    );
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("the SQLite file: {:.0} MiB", file as f64 / 1048576.0);
}

/// Adds tracked HubSpot imports `from + 1 ..= to`, in batches of 100,000.
async fn insert(raw: &mut sqlx::SqliteConnection, from: u64, to: u64) {
    let now = now_ms();
    let mut at = from;
    while at < to {
        let end = (at + 100_000).min(to);
        sqlx::query(
            "INSERT INTO tracked (provider, task_id, inputs, labels, course, next_poll_at, created_at, updated_at) \
             WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
             SELECT 'hubspot', 'import-succeeds-' || i, '{}', '{}', '{}', $3, $4, $4 FROM n",
        )
        .bind((at + 1) as i64)
        .bind(end as i64)
        .bind(now + 30 * 24 * 3600 * 1000)
        .bind(now)
        .execute(&mut *raw)
        .await
        .expect("inserted");
        at = end;
    }
}

/// The median time of 200 claims of 32 due tasks in a table of `size`.
async fn claim_time(store: &Store, raw: &mut sqlx::SqliteConnection, size: u64) -> f64 {
    let mut times = Vec::with_capacity(200);
    for round in 0..200u64 {
        let first = fastrand::u64(1..=size.saturating_sub(32).max(1));
        sqlx::query("UPDATE tracked SET next_poll_at = $1 WHERE id >= $2 AND id < $3")
            .bind(now_ms() - 1)
            .bind(first as i64)
            .bind((first + 32) as i64)
            .execute(&mut *raw)
            .await
            .expect("due");
        let started = Instant::now();
        let claimed = store
            .claim(
                &format!("bench{round}"),
                &["hubspot".to_owned()],
                32,
                Duration::from_secs(3600),
            )
            .await
            .expect("claimed");
        times.push(started.elapsed().as_secs_f64() * 1e6);
        assert_eq!(claimed.len(), 32.min(size as usize));
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The median time, in milliseconds, of counting every task by state and ending.
async fn count_time(store: &Store) -> f64 {
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        store.tasks_by_state().await.expect("counts");
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The service on the store, polling the sandbox until the due tasks have ended.
async fn serve(url: &str, sandbox: &str) -> (f64, u64) {
    let store = Store::open(url).await.expect("store");
    let client = hubspot::Client::builder()
        .token("bench")
        .base_url(format!("{sandbox}/hubspot").parse().expect("URL"))
        .build()
        .expect("client");
    let mut service = Service::new(
        store.clone(),
        ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            track: TrackOptions {
                watch: watch::Options {
                    concurrency: 64,
                    interval: Some(Duration::from_millis(10)),
                    max_interval: Some(Duration::from_millis(10)),
                    timeout: None,
                    max_errors: 0,
                },
                ..TrackOptions::default()
            },
            webhooks: WebhookOptions::default(),
        },
    );
    // The sandbox's plan: no rate limit.
    service.add(client.endpoint().rate_limits(Vec::new()));
    let bound = service.bind().await.expect("bound");
    let started = Instant::now();
    let watching = store.clone();
    let done = async move {
        // Ended tasks, read from the index on their state, every half second.
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let by = watching.tasks_by_state().await.expect("counts");
            let ended: u64 = by
                .iter()
                .filter(|(_, ending, _)| ending.is_some())
                .map(|(_, _, n)| n)
                .sum();
            if ended >= DUE {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(600), "{by:?}");
        }
    };
    let report = bound.run(done).await.expect("served");
    (started.elapsed().as_secs_f64(), report.polls)
}

/// Resident memory now and at its peak, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
