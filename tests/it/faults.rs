//! Fault runs at scale: many tasks on every track of every seed provider — each fault the
//! sandbox can play (429 with `Retry-After`, 5xx, an answer past the client's timeout, a cut
//! connection, cut JSON, an undocumented status, a failure inside a 2xx), every scenario and
//! every example — watched at once through both engines. Every task must end exactly where its
//! track says and be reported done exactly once. A track that ends costs exactly the requests
//! it needs (none lost, none sent twice) and never less time than the `Retry-After`s it served;
//! a track that repeats a transient error is given up after `max_errors + 1` polls in a row, each
//! within its attempts.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use unitask::sandbox::{self, Fault, Outcome, Track, TrackKind};
use unitask::task::Progress;
use unitask::watch::{self, Answerer, Ending, Event, Target, Watcher};
use unitask::{Inputs, RetryPolicy, State};

use crate::sandbox::{
    add_every_provider, asks_a_long_wait, ended_as, quick_client_waiting, sandbox_of,
};

/// Ids per track and engine: each engine watches over a thousand tasks at once.
const IDS_PER_TRACK: usize = 20;
const MAX_ERRORS: u32 = 3;

/// An answer must take longer than this to be a timeout, which costs a request more than the
/// track needs: far longer than a loaded machine takes, and shorter than the sandbox's slow one.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
const SLOW_ANSWER: Duration = Duration::from_secs(6);

/// One watched task and what its track says about it.
struct Expected {
    provider: String,
    track: String,
    task_id: String,
    end: Outcome,
    cost: Cost,
    /// The `Retry-After`s served before the end, in all.
    waits: Duration,
}

/// What a task's track costs a client that follows it to its end.
#[derive(Clone, Copy)]
enum Cost {
    /// The track ends at a step: one request per step up to it.
    Requests(u32),
    /// The track repeats a transient error: given up after `MAX_ERRORS + 1` polls in a row.
    GivesUp,
}

/// What the event stream said about one task.
#[derive(Default, Clone)]
struct Heard {
    finished: u32,
    after_finish: u32,
    last_change: Option<(State, String, Option<Progress>)>,
    repeated_changes: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_through_every_fault_end_once_within_their_budget() {
    let options = sandbox::Options {
        slow: SLOW_ANSWER,
        log: None,
        ids_per_track: 2 * IDS_PER_TRACK,
        ..sandbox::Options::default()
    };
    let running = sandbox_of(&crate::builtin_unlimited(), options).await;
    let max_attempts = RetryPolicy::default().max_attempts;
    let (generated, interpreted) = tokio::join!(
        watch_at_scale(&running, Answerer::Generated),
        watch_at_scale(&running, Answerer::Interpreted),
    );
    for (answerer, (expected, report, heard)) in [
        (Answerer::Generated, generated),
        (Answerer::Interpreted, interpreted),
    ] {
        assert!(expected.len() >= 1000, "only {} tasks", expected.len());
        let given_up = expected
            .iter()
            .filter(|e| matches!(e.cost, Cost::GivesUp))
            .count();
        assert!(given_up > 0, "no track repeats a transient error");
        assert_eq!(report.tasks.len(), expected.len());
        let mut served = 0u64;
        for ((want, finished), heard) in expected.iter().zip(&report.tasks).zip(&heard) {
            let task_id = &want.task_id;
            let label = format!("{answerer:?} {} {} {task_id}", want.provider, want.track);
            assert!(
                ended_as(&finished.ending, want.end),
                "{label}: ended {:?}, its track ends {}",
                finished.ending,
                want.end
            );
            assert_eq!(
                heard.finished, 1,
                "{label}: reported done {} times",
                heard.finished
            );
            assert_eq!(heard.after_finish, 0, "{label}: events after its end");
            assert_eq!(
                heard.repeated_changes, 0,
                "{label}: the same state reported twice"
            );
            let requests = running.sandbox().polls(&want.provider, task_id);
            served += u64::from(requests);
            assert!(
                finished.polls >= 1 && requests <= finished.polls * max_attempts,
                "{label}: {requests} requests in {} polls, {max_attempts} attempts each at most",
                finished.polls
            );
            match want.cost {
                Cost::Requests(needed) => assert_eq!(
                    requests, needed,
                    "{label}: {requests} requests reached the sandbox, the track needs {needed}"
                ),
                Cost::GivesUp => {
                    assert!(matches!(finished.ending, Ending::Failed(_)), "{label}");
                    assert_eq!(
                        finished.polls,
                        MAX_ERRORS + 1,
                        "{label}: polls before giving up"
                    );
                }
            }
            assert!(
                finished.elapsed >= want.waits,
                "{label}: ended after {:?}, its answers asked to wait {:?}",
                finished.elapsed,
                want.waits
            );
        }
        // Every request the client counts reached a task: nothing sent elsewhere or twice.
        assert_eq!(report.requests, served, "{answerer:?}");
    }
    running.stop().await.expect("stops");
}

/// The `Retry-After` seconds a track serves in its first `steps` answers.
fn waits(track: &Track, steps: usize) -> Duration {
    let seconds: u64 = track.steps[..steps]
        .iter()
        .flat_map(|s| &s.reply.headers)
        .filter(|(n, _)| n.eq_ignore_ascii_case("retry-after"))
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum();
    Duration::from_secs(seconds)
}

/// Each engine polls its own ids, so the two runs never share a lifecycle.
/// The `copy`-th fresh id of `track` for `answerer`: the two engines never share an id.
fn task_id(answerer: Answerer, track: &sandbox::Track, copy: usize) -> String {
    let offset = match answerer {
        Answerer::Generated => 0,
        Answerer::Interpreted => IDS_PER_TRACK,
    };
    track.fresh_id(offset + copy + 1).expect("a fresh id")
}

async fn watch_at_scale(
    running: &sandbox::Running,
    answerer: Answerer,
) -> (Vec<Expected>, watch::Report, Vec<Heard>) {
    let mut watcher = Watcher::new(watch::Options {
        concurrency: 64,
        interval: Some(Duration::from_millis(5)),
        max_interval: Some(Duration::from_millis(40)),
        // A guard against a hang, far past what the run needs.
        timeout: Some(Duration::from_secs(300)),
        max_errors: MAX_ERRORS,
    });
    let transport = quick_client_waiting(REQUEST_TIMEOUT);
    add_every_provider(&mut watcher, running, answerer, &transport);
    let mut targets = Vec::new();
    let mut expected = Vec::new();
    let mut faults = HashSet::new();
    for plan in running.sandbox().plans() {
        let provider = &plan.provider;
        // A follow-up's requests go to another definition's shared ids, which this count cannot
        // tell apart: `sandbox.rs` follows them exactly.
        if provider.response.next.is_some() {
            continue;
        }
        let inputs: Inputs = provider.sample_inputs().into_iter().collect();
        for track in &plan.tracks {
            assert_eq!(track.unreachable(), None, "{} {}", provider.id, track.name);
            if asks_a_long_wait(provider, track) {
                continue;
            }
            let end = track.expected_end(watch::is_transient);
            let (cost, waits) = match (track.end_step(watch::is_transient), end) {
                (Some(step), _) => (Cost::Requests(step as u32 + 1), waits(track, step + 1)),
                (None, Outcome::Error { .. }) => (Cost::GivesUp, Duration::ZERO),
                // A task that never ends is the watch timeout's business (tests/it/sandbox.rs).
                (None, Outcome::Task { .. }) => continue,
            };
            if let TrackKind::Fault(fault) = track.kind {
                faults.insert(fault);
            }
            for copy in 0..IDS_PER_TRACK {
                let task_id = task_id(answerer, track, copy);
                targets.push(Target {
                    provider: provider.id.clone(),
                    task_id: task_id.clone(),
                    inputs: inputs.clone(),
                });
                expected.push(Expected {
                    provider: provider.id.clone(),
                    track: track.name.clone(),
                    task_id,
                    end,
                    cost,
                    waits,
                });
            }
        }
    }
    // The run is only as strong as the tracks it covers: some provider plays every fault.
    for fault in Fault::ALL {
        assert!(
            faults.contains(&fault),
            "no provider plays {}",
            fault.name()
        );
    }
    let heard = Arc::new(Mutex::new(vec![Heard::default(); targets.len()]));
    let listener = Arc::clone(&heard);
    let report = watcher
        .run(targets, std::future::pending(), move |event| {
            let mut heard = listener.lock().expect("not poisoned");
            let index = event.key().get() as usize;
            match event {
                Event::Changed { task, .. } => {
                    let entry = &mut heard[index];
                    entry.after_finish += entry.finished;
                    let change = (
                        task.state,
                        task.native_status.clone(),
                        task.progress.clone(),
                    );
                    if entry.last_change.as_ref() == Some(&change) {
                        entry.repeated_changes += 1;
                    }
                    entry.last_change = Some(change);
                }
                Event::Failed { .. } => {
                    let entry = &mut heard[index];
                    entry.after_finish += entry.finished;
                }
                Event::Finished { .. } => heard[index].finished += 1,
                _ => unreachable!("no other event yet"),
            }
        })
        .await;
    let heard = heard.lock().expect("not poisoned").clone();
    (expected, report, heard)
}
