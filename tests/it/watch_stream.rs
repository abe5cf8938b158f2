//! The watch as a stream, against the in-process sandbox: tasks added and removed while it
//! runs, a consumer slower than the polls, a stop, and a generated client watched directly.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use unitask::sandbox::{self, Outcome, Running, Sandbox, Track};
use unitask::watch::{
    self, Answerer, Ending, Event, Events, Target, TaskKey, WatchClosed, Watcher,
};
use unitask::{Engine, State};

/// Polls are quick; every wait on the stream is bounded.
fn options() -> watch::Options {
    watch::Options {
        concurrency: 8,
        interval: Some(Duration::from_millis(10)),
        max_interval: Some(Duration::from_millis(20)),
        timeout: Some(Duration::from_secs(60)),
        max_errors: 0,
    }
}

async fn hubspot_sandbox() -> (Engine, Running) {
    let engine = crate::builtin_unlimited();
    let running = Sandbox::of(&engine, sandbox::Options::default())
        .start(0)
        .await
        .expect("sandbox");
    (engine, running)
}

/// HubSpot's track named `name`.
fn track<'a>(running: &'a Running, name: &str) -> &'a Track {
    let plan = running
        .sandbox()
        .plan("hubspot")
        .expect("hubspot is played");
    plan.tracks
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no track {name}"))
}

/// A HubSpot track that never ends (an example of a running import, repeated).
fn endless(running: &Running) -> &Track {
    let plan = running
        .sandbox()
        .plan("hubspot")
        .expect("hubspot is played");
    plan.tracks
        .iter()
        .find(|t| {
            matches!(
                t.expected_end(watch::is_transient),
                Outcome::Task {
                    terminal: false,
                    ..
                }
            )
        })
        .expect("an example of a running import")
}

/// The track's states, one per change.
fn states_of(track: &Track) -> Vec<State> {
    let mut states: Vec<State> = track
        .steps
        .iter()
        .filter_map(|s| match s.outcome {
            Outcome::Task { state, .. } => Some(state),
            Outcome::Error { .. } => None,
        })
        .collect();
    states.dedup();
    states
}

/// The next event, or a failure after ten seconds.
async fn next(events: &mut Events) -> Option<Event> {
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within ten seconds")
}

#[tokio::test]
async fn tasks_added_while_the_stream_runs_are_watched_and_each_finishes_once() {
    let (engine, running) = hubspot_sandbox().await;
    let succeeds = track(&running, "import-succeeds");
    let fails = track(&running, "import-fails");
    let mut watcher = Watcher::new(options());
    watcher.add(
        running
            .client(&engine, "hubspot")
            .expect("hubspot")
            .endpoint(),
    );
    let (handle, mut events) = watcher.start();
    let first = handle
        .add(Target::new("hubspot", succeeds.fresh_id(3).expect("id")))
        .expect("open");
    let mut second = None;
    let mut finished: HashMap<TaskKey, Vec<Ending>> = HashMap::new();
    let mut changes: HashMap<TaskKey, Vec<State>> = HashMap::new();
    let mut last_polls: HashMap<TaskKey, u32> = HashMap::new();
    while let Some(event) = next(&mut events).await {
        // The second task arrives once the first is under way; then the watch takes no more.
        if second.is_none() {
            second = Some(
                handle
                    .add(Target::new("hubspot", fails.fresh_id(3).expect("id")))
                    .expect("open"),
            );
            handle.close();
            assert_eq!(handle.add(Target::new("hubspot", "late")), Err(WatchClosed));
        }
        let key = event.key();
        match event {
            Event::Changed { task, polls, .. } => {
                assert!(polls > last_polls.get(&key).copied().unwrap_or(0));
                last_polls.insert(key, polls);
                changes.entry(key).or_default().push(task.state);
            }
            Event::Finished { finished: f, .. } => {
                let last = f
                    .task
                    .as_ref()
                    .expect("the terminal task comes with the ending");
                if let Ending::Terminal(state) = f.ending {
                    assert_eq!(last.state, state);
                    assert!(last.terminal);
                }
                finished.entry(key).or_default().push(f.ending);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let second = second.expect("added");
    assert_eq!(finished.len(), 2, "{finished:?}");
    for (key, track) in [(first, succeeds), (second, fails)] {
        let Outcome::Task { state, .. } = track.expected_end(watch::is_transient) else {
            panic!("{} ends in a task", track.name);
        };
        assert_eq!(
            finished[&key],
            vec![Ending::Terminal(state)],
            "{}",
            track.name
        );
        let mut seen = changes[&key].clone();
        seen.dedup();
        assert_eq!(
            seen,
            states_of(track),
            "{}: every change, in order",
            track.name
        );
    }
    let _ = running.stop().await;
}

#[tokio::test]
async fn a_removed_task_finishes_as_removed_and_is_polled_no_more() {
    let (engine, running) = hubspot_sandbox().await;
    let id = endless(&running).fresh_id(4).expect("id");
    let mut watcher = Watcher::new(options());
    watcher.add(
        running
            .client(&engine, "hubspot")
            .expect("hubspot")
            .endpoint(),
    );
    let (handle, mut events) = watcher.start();
    let key = handle
        .add(Target::new("hubspot", id.clone()))
        .expect("open");
    let Some(Event::Changed { task, .. }) = next(&mut events).await else {
        panic!("the first answer is a change");
    };
    assert!(!task.terminal);
    // Another task keeps the watch busy while the first is taken out.
    let other = endless(&running).fresh_id(5).expect("id");
    let other_key = handle
        .add(Target::new("hubspot", other.clone()))
        .expect("open");
    assert!(matches!(
        next(&mut events).await,
        Some(Event::Changed { .. })
    ));
    handle.remove(key);
    let Some(Event::Finished {
        key: ended,
        finished,
        ..
    }) = next(&mut events).await
    else {
        panic!("the removal ends it");
    };
    assert_eq!(ended, key);
    assert_eq!(finished.ending, Ending::Removed);
    // The watch runs on (the other task is polled) and the removed one is polled no more. A
    // poll in flight at the removal is cancelled, but may be on the wire already: it lands
    // within the settling time.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let removed_polls = running.sandbox().polls("hubspot", &id);
    let other_polls = running.sandbox().polls("hubspot", &other);
    let quiet = tokio::time::timeout(Duration::from_millis(300), events.next()).await;
    assert!(quiet.is_err(), "no event: the other task does not change");
    assert!(running.sandbox().polls("hubspot", &other) > other_polls);
    assert_eq!(running.sandbox().polls("hubspot", &id), removed_polls);
    assert_eq!(
        finished.task, None,
        "only a terminal answer comes with the ending"
    );
    assert_eq!(finished.state, Some(task.state), "the last state seen");
    // The other goes too: closed with nothing left, the stream ends, and stays ended.
    handle.remove(other_key);
    handle.close();
    let Some(Event::Finished { key, finished, .. }) = next(&mut events).await else {
        panic!("the other task ends");
    };
    assert_eq!((key, finished.ending), (other_key, Ending::Removed));
    assert!(next(&mut events).await.is_none(), "closed and nothing left");
    assert!(next(&mut events).await.is_none(), "still ended");
    assert!(futures_util::stream::FusedStream::is_terminated(&events));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let polls = running.sandbox().polls("hubspot", &other);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(running.sandbox().polls("hubspot", &other), polls);
    let _ = running.stop().await;
}

#[tokio::test]
async fn a_slow_consumer_slows_polling_and_loses_nothing() {
    let (engine, running) = hubspot_sandbox().await;
    let succeeds = track(&running, "import-succeeds");
    let id = succeeds.fresh_id(5).expect("id");
    let mut watcher = Watcher::new(options());
    watcher.add(
        running
            .client(&engine, "hubspot")
            .expect("hubspot")
            .endpoint(),
    );
    let (handle, mut events) = watcher.start();
    handle
        .add(Target::new("hubspot", id.clone()))
        .expect("open");
    handle.close();
    let mut states = Vec::new();
    let mut ended = None;
    while let Some(event) = next(&mut events).await {
        // While the consumer is busy, nothing is polled: the stream drives the watch.
        let before = running.sandbox().polls("hubspot", &id);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(running.sandbox().polls("hubspot", &id), before);
        match event {
            Event::Changed { task, .. } => states.push(task.state),
            Event::Finished { finished, .. } => ended = Some(finished.ending),
            other => panic!("unexpected {other:?}"),
        }
    }
    states.dedup();
    assert_eq!(states, states_of(succeeds), "every change, in order");
    assert!(matches!(ended, Some(Ending::Terminal(State::Succeeded))));
    // Each step served once: waiting for the consumer cost no extra request.
    assert_eq!(
        running.sandbox().polls("hubspot", &id) as usize,
        succeeds.end_step(watch::is_transient).expect("ends") + 1
    );
    let _ = running.stop().await;
}

#[tokio::test]
async fn stop_ends_every_task_still_watched_as_interrupted_then_the_stream() {
    let (engine, running) = hubspot_sandbox().await;
    let endless = endless(&running);
    let mut watcher = Watcher::new(options());
    watcher.add(
        running
            .client(&engine, "hubspot")
            .expect("hubspot")
            .endpoint(),
    );
    let (handle, mut events) = watcher.start();
    let keys: Vec<TaskKey> = (6..8)
        .map(|n| {
            handle
                .add(Target::new("hubspot", endless.fresh_id(n).expect("id")))
                .expect("open")
        })
        .collect();
    let mut changed = 0;
    while changed < keys.len() {
        if let Some(Event::Changed { .. }) = next(&mut events).await {
            changed += 1;
        }
    }
    // Closed first (no more tasks), then stopped: the stop still reaches the watch.
    handle.close();
    handle.stop();
    let mut interrupted = Vec::new();
    while let Some(event) = next(&mut events).await {
        let Event::Finished { key, finished, .. } = event else {
            panic!("only endings after a stop: {event:?}");
        };
        assert_eq!(finished.ending, Ending::Interrupted);
        assert!(finished.state.is_some(), "the last state seen");
        interrupted.push(key);
    }
    interrupted.sort();
    assert_eq!(interrupted, keys);
    assert!(handle.add(Target::new("hubspot", "late")).is_err());
    let _ = running.stop().await;
}

#[tokio::test]
async fn a_generated_client_is_watched_directly() {
    use unitask::providers::hubspot;
    let (_engine, running) = hubspot_sandbox().await;
    let succeeds = track(&running, "import-succeeds");
    let token = running
        .sandbox()
        .credentials()
        .value("HUBSPOT_ACCESS_TOKEN")
        .expect("a placeholder")
        .to_owned();
    let client = hubspot::Client::builder()
        .token(token)
        .base_url(running.base_url("hubspot"))
        .build()
        .expect("client");
    let endpoint = client.endpoint();
    assert_eq!(endpoint.answerer(), Answerer::Generated);
    let mut watcher = Watcher::new(options());
    watcher.add(endpoint);
    let target = client.target(succeeds.fresh_id(6).expect("id"), &hubspot::Params {});
    let report = watcher
        .run(vec![target], std::future::pending(), |_| {})
        .await;
    assert_eq!(report.tasks[0].ending, Ending::Terminal(State::Succeeded));
    assert_eq!(report.tasks[0].state, Some(State::Succeeded));
    assert!(report.requests >= 1);
    let _ = running.stop().await;
}

#[tokio::test]
async fn a_target_of_a_provider_with_no_endpoint_finishes_at_once_with_a_definition_error() {
    let mut watcher = Watcher::new(options());
    watcher.add(
        Engine::builtin()
            .expect("built-ins")
            .provider("hubspot")
            .expect("hubspot")
            .endpoint(),
    );
    let (handle, mut events) = watcher.start();
    handle.add(Target::new("nobody", "t1")).expect("open");
    drop(handle);
    let Some(Event::Finished { finished, .. }) = next(&mut events).await else {
        panic!("it ends at once");
    };
    let Ending::Failed(error) = finished.ending else {
        panic!("an error");
    };
    assert_eq!(error.kind, unitask::ErrorKind::Definition);
    assert!(error.message.contains("hubspot"), "{}", error.message);
    assert!(next(&mut events).await.is_none(), "every handle dropped");
}

#[tokio::test]
async fn the_timeout_ends_every_task_and_closes_the_handle() {
    let (engine, running) = hubspot_sandbox().await;
    let id = endless(&running).fresh_id(8).expect("id");
    let mut watcher = Watcher::new(watch::Options {
        timeout: Some(Duration::from_millis(300)),
        ..options()
    });
    watcher.add(
        running
            .client(&engine, "hubspot")
            .expect("hubspot")
            .endpoint(),
    );
    let (handle, mut events) = watcher.start();
    let key = handle.add(Target::new("hubspot", id)).expect("open");
    assert!(matches!(
        next(&mut events).await,
        Some(Event::Changed { .. })
    ));
    let Some(Event::Finished {
        key: ended,
        finished,
        ..
    }) = next(&mut events).await
    else {
        panic!("the timeout ends it");
    };
    assert_eq!((ended, finished.ending), (key, Ending::TimedOut));
    assert!(next(&mut events).await.is_none());
    assert_eq!(
        handle.add(Target::new("hubspot", "late")),
        Err(WatchClosed),
        "a task added after the timeout is refused, not lost"
    );
    let _ = running.stop().await;
}

/// Tasks still in the handle's queue when the timeout passes end with it, each once.
#[tokio::test]
async fn tasks_queued_when_the_timeout_passes_end_timed_out() {
    let (engine, running) = hubspot_sandbox().await;
    let mut watcher = Watcher::new(watch::Options {
        timeout: Some(Duration::ZERO),
        ..options()
    });
    watcher.add(
        running
            .client(&engine, "hubspot")
            .expect("hubspot")
            .endpoint(),
    );
    let targets: Vec<Target> = (1..=3)
        .map(|n| Target::new("hubspot", format!("import-succeeds-{}", 20 + n)))
        .collect();
    let mut finished = 0;
    let report = watcher
        .run(targets, std::future::pending(), |event| {
            if matches!(event, Event::Finished { .. }) {
                finished += 1;
            }
        })
        .await;
    assert_eq!(finished, 3);
    for task in &report.tasks {
        assert_eq!(task.ending, Ending::TimedOut);
        assert_eq!(task.polls, 0);
    }
    let _ = running.stop().await;
}

/// A task that hands over to a provider the watch has no endpoint for is not reported as
/// ended: it fails, naming the follow-up.
#[tokio::test]
async fn a_follow_up_without_an_endpoint_is_an_error_not_an_end() {
    let (engine, running) = hubspot_sandbox().await;
    let plan = running
        .sandbox()
        .plan("msgraph-copy-monitor")
        .expect("the monitor");
    let track = plan
        .tracks
        .iter()
        .find(|t| t.name == "copy-completes")
        .expect("a copy that completes");
    let next_provider = plan.provider.response.next.as_ref().expect("a follow-up");
    let mut watcher = Watcher::new(options());
    let monitor = running
        .client(&engine, "msgraph-copy-monitor")
        .expect("the monitor");
    watcher.add(monitor.endpoint());
    let mut target = monitor.target(track.fresh_id(7).expect("id"));
    target.inputs = plan.provider.sample_inputs().into_iter().collect();
    let report = watcher
        .run(vec![target], std::future::pending(), |_| {})
        .await;
    let Ending::Failed(error) = &report.tasks[0].ending else {
        panic!("{:?}", report.tasks[0].ending);
    };
    assert_eq!(error.kind, unitask::ErrorKind::Definition);
    assert!(
        error.message.contains(&next_provider.provider),
        "{}",
        error.message
    );
    let _ = running.stop().await;
}

/// A consumer that holds an event longer than the transport's timeout while another task's poll
/// is in flight: that poll's answer is read when it arrives, not left to time out.
#[tokio::test]
async fn a_consumer_slower_than_the_timeout_never_times_a_poll_out() {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    for (id, delay) in [("quick", 50), ("slow", 400)] {
        Mock::given(path(format!("/v1/jobs/{id}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "status": "done" }))
                    .set_delay(Duration::from_millis(delay)),
            )
            .mount(&server)
            .await;
    }
    let mut engine = Engine::empty();
    engine
        .load_str(
            "held-jobs.yaml",
            r#"
id: held-jobs
name: Held jobs
base_url: https://api.held.example
inputs:
  job_id: { in: path, role: task_id }
request:
  path: /v1/jobs/{job_id}
auth:
  bearer: { env: HELD_TOKEN }
response:
  state:
    native: { string: $.status }
    documented: [done]
    map: { done: succeeded }
examples:
  - name: done
    response: { body: { status: done } }
    expect: { state: succeeded, native_status: done }
"#,
        )
        .expect("valid");
    let transport = unitask::Transport::new(unitask::TransportConfig {
        timeout: Duration::from_millis(700),
        retry: unitask::RetryPolicy {
            max_attempts: 1,
            ..unitask::RetryPolicy::default()
        },
        ..unitask::TransportConfig::default()
    })
    .expect("transport");
    let client = engine
        .provider("held-jobs")
        .expect("loaded")
        .credentials(unitask::Credentials::new().with("HELD_TOKEN", "t"))
        .base_url(url::Url::parse(&server.uri()).expect("url"))
        .transport(transport);
    let mut watcher = Watcher::new(options());
    watcher.add(client.endpoint());
    let (handle, mut events) = watcher.start();
    handle.add(client.target("quick")).expect("open");
    handle.add(client.target("slow")).expect("open");
    handle.close();
    let first = next(&mut events).await.expect("an event");
    assert_eq!(first.target().task_id, "quick");
    // Held past the timeout, with the slow poll in flight.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut endings = Vec::new();
    while let Some(event) = next(&mut events).await {
        if let Event::Failed { error, .. } = &event {
            panic!("{}: {error}", event.target().task_id);
        }
        if let Event::Finished {
            target, finished, ..
        } = event
        {
            endings.push((target.task_id.clone(), finished.ending));
        }
    }
    endings.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        endings,
        [
            ("quick".to_owned(), Ending::Terminal(State::Succeeded)),
            ("slow".to_owned(), Ending::Terminal(State::Succeeded)),
        ]
    );
}
