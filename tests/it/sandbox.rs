use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use unitask::sandbox::{self, Outcome, Sandbox, TrackKind};
use unitask::watch::{self, Answerer, Ending, Endpoint, Event, Target, Watcher};
use unitask::{Client, ClientConfig, Credentials, Engine, ErrorKind, Inputs, RetryPolicy};

/// A client quick enough for tests: the sandbox's slow answer (1 s) is past its timeout.
pub fn quick_client() -> Client {
    Client::new(ClientConfig {
        timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        ..ClientConfig::default()
    })
    .expect("client")
}

pub fn quick_options() -> sandbox::Options {
    sandbox::Options {
        slow: Duration::from_secs(1),
        log: None,
    }
}

fn watch_options() -> watch::Options {
    watch::Options {
        concurrency: 16,
        interval: Some(Duration::from_millis(10)),
        max_interval: Some(Duration::from_millis(50)),
        timeout: Some(Duration::from_secs(30)),
        max_errors: 5,
    }
}

fn sandbox_credentials(provider: &unitask::model::Provider) -> Credentials {
    let mut credentials = Credentials::new();
    for name in unitask::http::request::auth_env_names(&provider.auth) {
        credentials.set(name, "sandbox-token");
    }
    credentials
}

/// Whether a watched task ended where the sandbox says its track ends.
fn ended_as(ending: &Ending, expected: Outcome) -> bool {
    match (ending, expected) {
        (Ending::Terminal(state), Outcome::Task { state: s, .. }) => *state == s,
        (Ending::Failed(error), Outcome::Error { kind, .. }) => error.kind == kind,
        (
            Ending::TimedOut,
            Outcome::Task {
                terminal: false, ..
            },
        ) => true,
        _ => false,
    }
}

/// Every track of every seed provider — scenarios, faults, examples — watched to its end through
/// the sandbox, by both engines: each ends exactly where the sandbox's plan says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_track_of_every_provider_ends_where_its_plan_says() {
    let engine = Engine::builtin().expect("built-ins");
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    let running = Sandbox::new(&providers, quick_options())
        .start(0)
        .await
        .expect("sandbox");
    tokio::join!(
        watch_every_track(&running, Answerer::Generated),
        watch_every_track(&running, Answerer::Interpreted)
    );
    running.stop().await.expect("stops");
}

async fn watch_every_track(running: &sandbox::Running, answerer: Answerer) {
    let mut watcher = Watcher::new(
        quick_client(),
        watch::Options {
            // Tracks that never end (an example of a running task) end here.
            timeout: Some(Duration::from_secs(4)),
            ..watch_options()
        },
    );
    let mut targets = Vec::new();
    let mut expected = Vec::new();
    for plan in running.sandbox().plans() {
        let provider = &plan.provider;
        watcher.add(Endpoint {
            provider: provider.clone(),
            base_url: Some(running.base_url(&provider.id)),
            credentials: sandbox_credentials(provider),
            answerer,
        });
        let inputs: Inputs = provider.sample_inputs().into_iter().collect();
        let faults = plan
            .tracks
            .iter()
            .filter(|t| matches!(t.kind, TrackKind::Fault(_)))
            .count();
        assert!(
            faults >= 5,
            "{}: only {faults} fault scenarios: {:?}",
            provider.id,
            plan.skipped
        );
        for track in &plan.tracks {
            assert!(plan.addressable(track), "{} {}", provider.id, track.name);
            // A documented `Retry-After: 10` is served as documented: too slow for a test
            // (the fault-rate-limited track covers 429s with a one-second wait).
            let slow_retry = track.steps.iter().any(|s| {
                s.reply.headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("retry-after") && v.parse::<u64>().is_ok_and(|v| v > 1)
                })
            });
            if slow_retry {
                continue;
            }
            // Each id has its own lifecycle: every run takes fresh ones.
            let number = targets.len()
                + if answerer == Answerer::Generated {
                    100
                } else {
                    1000
                };
            targets.push(Target {
                provider: provider.id.clone(),
                task_id: format!("{}-{number}", track.name),
                inputs: inputs.clone(),
            });
            expected.push((
                provider.id.clone(),
                track.name.clone(),
                track.expected_end(watch::is_transient),
            ));
        }
    }
    let finished = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&finished);
    let report = watcher
        .run(targets.clone(), std::future::pending(), move |event| {
            if let Event::Finished { .. } = event {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
        .await;
    assert_eq!(finished.load(Ordering::Relaxed), targets.len());
    assert_eq!(report.tasks.len(), targets.len());
    for ((provider, track, outcome), task) in expected.iter().zip(&report.tasks) {
        assert!(
            ended_as(&task.ending, *outcome),
            "{answerer:?} {provider} {track}: ended {:?}, expected {outcome}",
            task.ending
        );
    }
    assert!(report.requests >= targets.len() as u64);
}

/// The sandbox refuses a request without the credential the way the provider does, answers 404
/// the provider's way for a task it does not serve, and advances a scenario one step per poll.
#[tokio::test]
async fn the_sandbox_checks_credentials_and_advances_per_poll() {
    let engine = Engine::builtin().expect("built-ins");
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    let running = Sandbox::new(&providers, quick_options())
        .start(0)
        .await
        .expect("sandbox");
    let client = quick_client();
    for plan in running.sandbox().plans() {
        let provider = &plan.provider;
        let base = running.base_url(&provider.id);
        let inputs: Inputs = provider.sample_inputs().into_iter().collect();
        let scenario = &provider.scenarios[0];
        // The same definition without auth sends no credential; its answer is read as usual.
        let mut anonymous = provider.clone();
        anonymous.auth = unitask::model::Auth::None;
        let (without, _) = client
            .fetch(
                &anonymous,
                &scenario.task_id,
                &inputs,
                Some(&base),
                &Credentials::new(),
            )
            .await;
        let error = without.expect_err("no credential");
        assert_eq!(
            error.kind,
            ErrorKind::Unauthorized,
            "{}: {error}",
            provider.id
        );
        let credentials = sandbox_credentials(provider);
        let (missing, _) = client
            .fetch(provider, "not-served", &inputs, Some(&base), &credentials)
            .await;
        assert_eq!(
            missing.expect_err("not served").kind,
            ErrorKind::NotFound,
            "{}",
            provider.id
        );
        for (poll, &step) in scenario.steps.iter().enumerate() {
            let (answer, _) = client
                .fetch(
                    provider,
                    &scenario.task_id,
                    &inputs,
                    Some(&base),
                    &credentials,
                )
                .await;
            let example = &provider.examples[step];
            match (&example.expect, answer) {
                (unitask::model::Expectation::Task(expected), Ok(task)) => assert_eq!(
                    Some(task.state.as_str()),
                    expected.get("state").and_then(|s| s.as_str()),
                    "{} poll {poll}",
                    provider.id
                ),
                (unitask::model::Expectation::Error(expected), Err(error)) => {
                    assert_eq!(error.kind, expected.kind, "{} poll {poll}", provider.id)
                }
                (_, other) => panic!("{} poll {poll}: {other:?}", provider.id),
            }
        }
    }
    assert!(running.served() > 0);
    running.stop().await.expect("stops");
}
