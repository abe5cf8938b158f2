//! Tracking in a store, against the in-process sandbox: a tracker on a real SQLite file polls
//! every played task of every built-in provider until it ends where its plan says, journals each
//! end once, and, stopped halfway and started again on the same file, neither polls an ended
//! task again nor tells a change twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use unitask::sandbox::{self, Outcome, Running, Sandbox, TrackKind};
use unitask::track::{
    Journaled, NewTask, Store, TrackOptions, Tracked, Tracker, Tracking, store::Filter,
};
use unitask::watch::{self, Event};
use unitask::{Engine, RetryPolicy, Transport, TransportConfig};

/// One played task: where it is, and how its plan says it ends.
#[derive(Debug, Clone)]
pub struct Played {
    pub task: NewTask,
    pub expected: String,
}

/// The sandbox of every built-in provider, slow replies a little over the transport's timeout.
pub async fn sandbox_of_everything(engine: &Engine) -> Running {
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    Sandbox::new(
        &providers,
        sandbox::Options {
            slow: Duration::from_millis(1200),
            log: None,
            token_lifetime: Duration::from_secs(2),
            ..sandbox::Options::default()
        },
    )
    .start(0)
    .await
    .expect("sandbox")
}

/// Every track of every provider that ends (a scenario's first id, a fault's own), with the
/// ending its plan gives.
pub fn played(running: &Running) -> Vec<Played> {
    let mut played = Vec::new();
    for plan in running.sandbox().plans() {
        let inputs: BTreeMap<String, String> = plan.provider.sample_inputs().into_iter().collect();
        for track in &plan.tracks {
            let task_id = match track.kind {
                TrackKind::Scenario => track.first_id(),
                TrackKind::Fault(_) => track.fresh_id(1),
                TrackKind::Example => continue,
            };
            let Some(task_id) = task_id else { continue };
            let expected = match track.expected_end(watch::is_transient) {
                Outcome::Task {
                    terminal: false, ..
                } => continue,
                outcome => outcome.to_string(),
            };
            played.push(Played {
                task: NewTask {
                    provider: plan.provider.id.clone(),
                    task_id,
                    inputs: inputs.clone(),
                    // Carried unchanged into every journal entry.
                    labels: BTreeMap::from([("track".to_owned(), track.name.clone())]),
                    ..NewTask::default()
                },
                expected,
            });
        }
    }
    assert!(played.len() > 40, "only {} tracks played", played.len());
    played
}

/// A tracker of `store` with an endpoint per provider, polling quickly.
pub fn tracker(engine: &Engine, running: &Running, store: Store, worker: &str) -> Tracker {
    let transport = Transport::new(TransportConfig {
        timeout: Duration::from_millis(500),
        retry: RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            total_budget: Duration::from_secs(5),
        },
        ..TransportConfig::default()
    })
    .expect("transport");
    let mut tracker = Tracker::new(
        store,
        TrackOptions {
            watch: watch::Options {
                concurrency: 16,
                interval: Some(Duration::from_millis(20)),
                max_interval: Some(Duration::from_millis(60)),
                timeout: Some(Duration::from_secs(90)),
                max_errors: 5,
            },
            lease: Duration::from_secs(10),
            idle_check: Duration::from_millis(200),
            heartbeat: Duration::from_millis(200),
            until_idle: true,
            worker: worker.to_owned(),
        },
    );
    for loaded in engine.iter() {
        let client = running
            .client(engine, loaded.id())
            .expect("a client of every provider")
            .transport(transport.clone());
        tracker.add(client.endpoint());
    }
    tracker
}

/// What an ending looks like next to a plan's outcome (`succeeded`, `error: not_found`, …).
pub fn ending_matches(record: &unitask::track::Tracked, expected: &str) -> bool {
    match (&record.ending, &record.error) {
        (Some(ending), Some(error)) if ending == "error" => {
            expected == format!("error: {}", error.kind)
        }
        (Some(ending), _) => ending == expected,
        (None, _) => false,
    }
}

/// A task's journal: each event's type and what the task was then.
pub type TaskJournal = Vec<(String, Option<String>)>;

/// The journal, whole, by (provider, task id).
pub async fn journal(store: &Store) -> HashMap<(String, String), TaskJournal> {
    by_task(&every_event(store).await)
}

/// Every journaled event, oldest first.
async fn every_event(store: &Store) -> Vec<Journaled> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &Journaled| e.id);
        let page = store.events_after(after, 500).await.expect("journal");
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

fn task_key(event: &Journaled) -> (String, String) {
    (event.data.provider.clone(), event.data.task_id.clone())
}

fn by_task(events: &[Journaled]) -> HashMap<(String, String), TaskJournal> {
    let mut by_task: HashMap<(String, String), TaskJournal> = HashMap::new();
    for event in events {
        let seen = event
            .data
            .task
            .as_ref()
            .map(|t| format!("{} {} {:?}", t.state, t.native_status, t.progress));
        by_task
            .entry(task_key(event))
            .or_default()
            .push((event.kind.clone(), seen));
    }
    by_task
}

/// Every played task ended once in the journal, where its plan says; the journal, for the
/// caller's own checks.
pub async fn each_ended_once_as_planned(
    store: &Store,
    played: &[Played],
) -> HashMap<(String, String), TaskJournal> {
    let events = every_event(store).await;
    let journal = by_task(&events);
    // The record each task's last journal entry carries.
    let last_records: HashMap<(String, String), &Tracked> =
        events.iter().map(|e| (task_key(e), &e.data)).collect();
    for p in played {
        let record = store
            .get(&p.task.provider, &p.task.task_id)
            .await
            .expect("get")
            .expect("tracked");
        assert!(
            ending_matches(&record, &p.expected),
            "{} {}: ended {:?} ({:?}), its plan says {}",
            p.task.provider,
            p.task.task_id,
            record.ending,
            record.error.as_ref().map(|e| e.kind),
            p.expected
        );
        let events = &journal[&(p.task.provider.clone(), p.task.task_id.clone())];
        let ends = events
            .iter()
            .filter(|(kind, _)| kind == "task.ended")
            .count();
        assert_eq!(ends, 1, "{}: {events:?}", p.task.task_id);
        assert_eq!(events.last().map(|e| e.0.as_str()), Some("task.ended"));
        // The journal's record of the end is the record as the store holds it.
        let key = (p.task.provider.clone(), p.task.task_id.clone());
        assert_eq!(last_records.get(&key), Some(&&record), "{key:?}");
    }
    journal
}

/// A SQLite store on a file in `dir`.
pub fn temp_store_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("unitask.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_ends_once_in_the_journal_where_its_plan_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    every_task_ends_once(&temp_store_url(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_ends_once_in_the_journal_on_postgres() {
    let cluster = crate::postgres::Cluster::start();
    every_task_ends_once(&cluster.url()).await;
}

async fn every_task_ends_once(url: &str) {
    let engine = crate::builtin_unlimited();
    let running = sandbox_of_everything(&engine).await;
    let played = played(&running);
    let store = Store::open(url).await.expect("store");
    for p in &played {
        assert!(matches!(
            store.track(&p.task).await.expect("track"),
            Tracking::Created(_)
        ));
        // Tracking it again changes nothing.
        assert!(matches!(
            store.track(&p.task).await.expect("track"),
            Tracking::Existing(_)
        ));
    }
    let told = Arc::new(Mutex::new(Vec::new()));
    let report = {
        let told = Arc::clone(&told);
        tracker(&engine, &running, store.clone(), "one")
            .run(std::future::pending(), move |event| {
                told.lock().expect("lock").push(event.clone());
            })
            .await
            .expect("tracker")
    };
    assert_eq!(report.stopped, unitask::track::Stopped::Idle, "{report:?}");
    assert_eq!(report.dropped, 0);
    assert_eq!(report.store_errors, 0);
    let journal = each_ended_once_as_planned(&store, &played).await;
    let told = std::mem::take(&mut *told.lock().expect("lock"));
    for p in &played {
        let events = &journal[&(p.task.provider.clone(), p.task.task_id.clone())];
        // What was told is what was journaled: one Changed per task.changed.
        let changed = events
            .iter()
            .filter(|(kind, _)| kind == "task.changed")
            .count();
        let told_changed = told
            .iter()
            .filter(|e| {
                matches!(e, Event::Changed { .. })
                    && e.target().task_id == p.task.task_id
                    && e.target().provider == p.task.provider
            })
            .count();
        // A follow-up's changes are told under its own target, journaled under the task's.
        if !told
            .iter()
            .any(|e| matches!(e, Event::Changed { .. }) && e.target().provider != p.task.provider)
        {
            assert_eq!(changed, told_changed, "{}", p.task.task_id);
        }
    }
    let (tracked, ended) = store.counts().await.expect("counts");
    assert_eq!((tracked, ended), (0, played.len() as u64));
    // Listing pages through everything ended, and filters by provider.
    let mut seen = 0;
    let mut after = None;
    let mut listed: BTreeMap<(Option<String>, Option<String>), u64> = BTreeMap::new();
    loop {
        let page = store
            .list(&Filter {
                ended: Some(true),
                after,
                limit: 7,
                ..Filter::default()
            })
            .await
            .expect("list");
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        seen += page.len();
        for (_, record) in &page {
            let state = record.task.as_ref().map(|t| t.state.as_str().to_owned());
            *listed.entry((state, record.ending.clone())).or_default() += 1;
        }
    }
    assert_eq!(seen, played.len());
    // The tally the store's triggers keep (what `/metrics` reads) is what the rows say.
    let tally: BTreeMap<(Option<String>, Option<String>), u64> = store
        .tasks_by_state()
        .await
        .expect("tally")
        .into_iter()
        .filter(|(.., n)| *n > 0)
        .map(|(state, ending, n)| ((state, ending), n))
        .collect();
    assert_eq!(tally, listed);
    let hubspot = store
        .list(&Filter {
            provider: Some("hubspot".into()),
            limit: 1000,
            ..Filter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        hubspot.len(),
        played
            .iter()
            .filter(|p| p.task.provider == "hubspot")
            .count()
    );
    let _ = running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracker_stopped_halfway_resumes_without_polling_ended_tasks_or_telling_a_change_twice() {
    let engine = crate::builtin_unlimited();
    let running = sandbox_of_everything(&engine).await;
    let played = played(&running);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = temp_store_url(&dir);
    {
        let store = Store::open(&url).await.expect("store");
        for p in &played {
            store.track(&p.task).await.expect("track");
        }
        // Stopped once a third of the tasks have ended, polls in flight.
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut stop = Some(stop);
        let mut ends = 0;
        let third = played.len() / 3;
        let report = tracker(&engine, &running, store.clone(), "first")
            .run(
                async {
                    let _ = stopped.await;
                },
                |event| {
                    if matches!(event, Event::Finished { .. }) {
                        ends += 1;
                        if ends == third {
                            stop.take().map(|s| s.send(()));
                        }
                    }
                },
            )
            .await
            .expect("tracker");
        assert_eq!(report.stopped, unitask::track::Stopped::Interrupted);
        let (tracked, ended) = store.counts().await.expect("counts");
        assert!(ended >= third as u64 && tracked > 0, "{tracked} {ended}");
    }
    // The ended tasks' polls, as the sandbox counted them.
    let store = Store::open(&url).await.expect("the same store, reopened");
    // A provider another hands over to is polled for the other's follow-ups too: not counted.
    let followed: Vec<String> = engine
        .iter()
        .filter_map(|l| Some(l.provider.response.next.as_ref()?.provider.clone()))
        .collect();
    let mut polls_of_ended = Vec::new();
    for p in played
        .iter()
        .filter(|p| !followed.contains(&p.task.provider))
    {
        let record = store
            .get(&p.task.provider, &p.task.task_id)
            .await
            .expect("get")
            .expect("tracked");
        if record.ending.is_some() {
            polls_of_ended.push((
                p,
                running.sandbox().polls(&p.task.provider, &p.task.task_id),
            ));
        }
    }
    let report = tracker(&engine, &running, store.clone(), "second")
        .run(std::future::pending(), |_| {})
        .await
        .expect("tracker");
    assert_eq!(report.stopped, unitask::track::Stopped::Idle);
    for (p, polls) in polls_of_ended {
        assert_eq!(
            running.sandbox().polls(&p.task.provider, &p.task.task_id),
            polls,
            "{} {} ended before the restart and was polled again",
            p.task.provider,
            p.task.task_id
        );
    }
    let journal = each_ended_once_as_planned(&store, &played).await;
    for p in &played {
        let events = &journal[&(p.task.provider.clone(), p.task.task_id.clone())];
        // No change told twice: two changes in a row never show the same task.
        let changes: Vec<&Option<String>> = events
            .iter()
            .filter(|(kind, _)| kind == "task.changed")
            .map(|(_, seen)| seen)
            .collect();
        for pair in changes.windows(2) {
            assert_ne!(pair[0], pair[1], "{}: {events:?}", p.task.task_id);
        }
    }
    let _ = running.stop().await;
}

/// Two trackers on one PostgreSQL store share the tasks; one is killed (its run dropped midway:
/// no clean-up, leases held, heartbeat silent) and the other takes its tasks over: every task
/// ends once in the journal, where its plan says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_trackers_share_a_postgres_store_and_one_killed_loses_nothing() {
    let cluster = crate::postgres::Cluster::start();
    let engine = crate::builtin_unlimited();
    let running = sandbox_of_everything(&engine).await;
    let played = played(&running);
    let store = Store::open(&cluster.url()).await.expect("store");
    for p in &played {
        store.track(&p.task).await.expect("track");
    }
    let (first_store, second_store) = (
        Store::open(&cluster.url()).await.expect("store"),
        Store::open(&cluster.url()).await.expect("store"),
    );
    let first_ends = Arc::new(Mutex::new(0usize));
    let first = {
        let first_ends = Arc::clone(&first_ends);
        let tracker = tracker(&engine, &running, first_store, "doomed");
        tokio::spawn(async move {
            tracker
                .run(std::future::pending(), move |event| {
                    if matches!(event, Event::Finished { .. }) {
                        *first_ends.lock().expect("lock") += 1;
                    }
                })
                .await
        })
    };
    let second = tokio::spawn(
        tracker(&engine, &running, second_store, "survivor").run(std::future::pending(), |_| {}),
    );
    // Killed once it has ended a few tasks, with polls in flight.
    tokio::time::timeout(Duration::from_secs(60), async {
        while *first_ends.lock().expect("lock") < 5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first tracker ends tasks");
    first.abort();
    assert!(first.await.is_err(), "the first tracker was killed");
    let report = second.await.expect("joined").expect("tracker");
    assert_eq!(report.stopped, unitask::track::Stopped::Idle, "{report:?}");
    assert!(report.polls > 0);
    each_ended_once_as_planned(&store, &played).await;
    assert_eq!(
        store.counts().await.expect("counts"),
        (0, played.len() as u64)
    );
    let _ = running.stop().await;
}
