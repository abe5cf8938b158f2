//! Fault runs at scale: many tasks on every track of every seed provider — each fault the
//! sandbox can play (429 with `Retry-After`, 5xx, an answer past the client's timeout, a cut
//! connection, cut JSON, an undocumented status, a failure inside a 2xx), every scenario and
//! every example — watched at once through both engines. Every task must end exactly where its
//! track says, be reported done exactly once, and cost exactly the requests its track needs:
//! none lost, none sent twice, retries within their budget.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use unitask::sandbox::{Fault, Outcome, TrackKind};
use unitask::task::Progress;
use unitask::watch::{self, Answerer, Event, Target, Watcher};
use unitask::{Inputs, State};

use crate::sandbox::{
    add_every_provider, asks_a_long_wait, builtin_sandbox, ended_as, quick_client,
};

/// Ids per track and engine: with 57 tracks that end, each engine watches 1,140 tasks at once.
const IDS_PER_TRACK: usize = 20;

/// One watched task and what its track says about it.
struct Expected {
    provider: String,
    track: String,
    end: Outcome,
    requests: u32,
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
    let (_, running) = builtin_sandbox().await;
    let max_attempts = unitask::RetryPolicy::default().max_attempts;
    let (generated, interpreted) = tokio::join!(
        watch_at_scale(&running, Answerer::Generated),
        watch_at_scale(&running, Answerer::Interpreted),
    );
    for (answerer, (expected, report, heard)) in [
        (Answerer::Generated, generated),
        (Answerer::Interpreted, interpreted),
    ] {
        assert!(expected.len() >= 1000, "only {} tasks", expected.len());
        assert_eq!(report.tasks.len(), expected.len());
        let mut served = 0u64;
        for (index, ((want, finished), heard)) in
            expected.iter().zip(&report.tasks).zip(&heard).enumerate()
        {
            let task_id = task_id(answerer, &want.track, index);
            let label = format!("{answerer:?} {} {task_id}", want.provider);
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
            let requests = running.sandbox().polls(&want.provider, &task_id);
            served += u64::from(requests);
            assert_eq!(
                requests, want.requests,
                "{label}: {requests} requests reached the sandbox, the track needs {}",
                want.requests
            );
            assert!(
                finished.polls >= 1 && requests <= finished.polls * max_attempts,
                "{label}: {requests} requests in {} polls, {max_attempts} attempts each at most",
                finished.polls
            );
        }
        // Every request the client counts reached a task: nothing sent elsewhere or twice.
        assert_eq!(report.requests, served, "{answerer:?}");
    }
    running.stop().await.expect("stops");
}

/// Each engine polls its own ids, so the two runs never share a lifecycle.
fn task_id(answerer: Answerer, track: &str, index: usize) -> String {
    let offset = match answerer {
        Answerer::Generated => 100_000,
        Answerer::Interpreted => 200_000,
    };
    format!("{track}-{}", offset + index)
}

async fn watch_at_scale(
    running: &unitask::sandbox::Running,
    answerer: Answerer,
) -> (Vec<Expected>, watch::Report, Vec<Heard>) {
    let mut watcher = Watcher::new(
        quick_client(),
        watch::Options {
            concurrency: 64,
            interval: Some(Duration::from_millis(5)),
            max_interval: Some(Duration::from_millis(40)),
            // A guard against a hang, far past what the run needs.
            timeout: Some(Duration::from_secs(120)),
            max_errors: 5,
        },
    );
    let mut targets = Vec::new();
    let mut expected = Vec::new();
    let mut faults = HashSet::new();
    add_every_provider(&mut watcher, running, answerer);
    for plan in running.sandbox().plans() {
        let provider = &plan.provider;
        let inputs: Inputs = provider.sample_inputs().into_iter().collect();
        for track in plan.tracks.iter().filter(|t| plan.addressable(t)) {
            // Tracks that never end are the timeout's business (tests/it/sandbox.rs).
            let Some(end) = track.end_step(watch::is_transient) else {
                continue;
            };
            if asks_a_long_wait(track) {
                continue;
            }
            if let TrackKind::Fault(fault) = track.kind {
                faults.insert(fault);
            }
            for _ in 0..IDS_PER_TRACK {
                targets.push(Target {
                    provider: provider.id.clone(),
                    task_id: task_id(answerer, &track.name, targets.len()),
                    inputs: inputs.clone(),
                });
                expected.push(Expected {
                    provider: provider.id.clone(),
                    track: track.name.clone(),
                    end: track.expected_end(watch::is_transient),
                    requests: end as u32 + 1,
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
            match event {
                Event::Changed { index, task, .. } => {
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
                Event::Failed { index, .. } => {
                    let entry = &mut heard[index];
                    entry.after_finish += entry.finished;
                }
                Event::Finished { index, .. } => heard[index].finished += 1,
            }
        })
        .await;
    let heard = heard.lock().expect("not poisoned").clone();
    (expected, report, heard)
}
