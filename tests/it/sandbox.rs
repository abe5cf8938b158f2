use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use unitask::http::transport::Request;
use unitask::sandbox::{self, Outcome, Sandbox, TrackKind};
use unitask::watch::{self, Answerer, Ending, Endpoint, Event, Target, Watcher};
use unitask::{Credentials, Engine, ErrorKind, Inputs, RetryPolicy, Transport, TransportConfig};

/// A client quick enough for tests, with room for a loaded machine: the sandbox's slow answer
/// (2.5 s) is past its timeout (1 s).
pub fn quick_client() -> Transport {
    quick_client_waiting(Duration::from_secs(1))
}

/// A client that retries quickly and gives each answer `timeout`.
pub fn quick_client_waiting(timeout: Duration) -> Transport {
    Transport::new(TransportConfig {
        timeout,
        retry: RetryPolicy {
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        ..TransportConfig::default()
    })
    .expect("client")
}

pub fn quick_options() -> sandbox::Options {
    sandbox::Options {
        slow: Duration::from_millis(2500),
        log: None,
        ..sandbox::Options::default()
    }
}

/// The built-in definitions, and a sandbox of all of them on a free loopback port.
async fn builtin_sandbox() -> (Engine, sandbox::Running) {
    let engine = crate::builtin_unlimited();
    let running = sandbox_of(&engine, quick_options()).await;
    (engine, running)
}

/// A sandbox of every definition `engine` holds, on a free loopback port.
pub async fn sandbox_of(engine: &Engine, options: sandbox::Options) -> sandbox::Running {
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    Sandbox::new(&providers, options)
        .start(0)
        .await
        .expect("sandbox")
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
    crate::sandbox_credentials(provider)
}

/// Whether a watched task ended where the sandbox says its track ends.
pub fn ended_as(ending: &Ending, expected: Outcome) -> bool {
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
    let (_, running) = builtin_sandbox().await;
    tokio::join!(
        watch_every_track(&running, Answerer::Generated, false),
        watch_every_track(&running, Answerer::Interpreted, false),
        watch_every_track(&running, Answerer::Generated, true),
        watch_every_track(&running, Answerer::Interpreted, true),
    );
    running.stop().await.expect("stops");
}

/// Points `watcher` at the sandbox for every provider it plays, with sandbox credentials.
pub fn add_every_provider(
    watcher: &mut Watcher,
    running: &sandbox::Running,
    answerer: Answerer,
    transport: &Transport,
) {
    for plan in running.sandbox().plans() {
        let provider = &plan.provider;
        watcher.add(Endpoint::new(
            Arc::new(provider.clone()),
            transport.clone(),
            Some(running.base_url(&provider.id)),
            sandbox_credentials(provider),
            answerer,
        ));
    }
}

/// Whether a track serves a documented `Retry-After` over a second (as documented: too slow for
/// a test; the fault-rate-limited track covers 429s with a one-second wait).
pub fn asks_a_long_wait(
    provider: &unitask::model::Provider,
    track: &unitask::sandbox::Track,
) -> bool {
    let own = provider.failures.retry_after_header.as_deref();
    track.steps.iter().any(|s| {
        s.reply.headers.iter().any(|(n, v)| {
            let wait_header = n.eq_ignore_ascii_case("retry-after")
                || own.is_some_and(|h| n.eq_ignore_ascii_case(h));
            wait_header && v.parse::<u64>().is_ok_and(|v| v > 1)
        })
    })
}

/// Watches the tracks that end (`endless` false: the watch ends when they all have) or the ones
/// that never do (an example of a running task, repeated forever: they must time out).
async fn watch_every_track(running: &sandbox::Running, answerer: Answerer, endless: bool) {
    let mut watcher = Watcher::new(watch::Options {
        timeout: Some(Duration::from_secs(if endless { 2 } else { 90 })),
        ..watch_options()
    });
    add_every_provider(&mut watcher, running, answerer, &quick_client());
    let mut targets = Vec::new();
    let mut expected = Vec::new();
    for plan in running.sandbox().plans() {
        let provider = &plan.provider;
        let inputs: Inputs = provider.sample_inputs().into_iter().collect();
        let faults = plan
            .tracks
            .iter()
            .filter(|t| matches!(t.kind, TrackKind::Fault(_)))
            .count();
        // Faults recover into the first scenario: a definition with one plays most of them.
        assert!(
            faults >= 5 || provider.scenarios.is_empty(),
            "{}: only {faults} fault scenarios: {:?}",
            provider.id,
            plan.skipped
        );
        for track in &plan.tracks {
            assert_eq!(track.unreachable(), None, "{} {}", provider.id, track.name);
            let slow_retry = asks_a_long_wait(provider, track);
            let never_ends = matches!(
                track.expected_end(watch::is_transient),
                Outcome::Task {
                    terminal: false,
                    ..
                }
            );
            if slow_retry || never_ends != endless {
                continue;
            }
            // Each id has its own lifecycle: every run takes fresh ones (the first is left for
            // other tests).
            let number =
                2 + usize::from(answerer == Answerer::Interpreted) + 2 * usize::from(endless);
            targets.push(Target {
                provider: provider.id.clone(),
                task_id: track.fresh_id(number).expect("a fresh id"),
                inputs: inputs.clone(),
            });
            expected.push((
                provider.id.clone(),
                track.name.clone(),
                track.expected_end(watch::is_transient),
            ));
        }
    }
    if targets.is_empty() {
        return;
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
    let (_, running) = builtin_sandbox().await;
    let client = quick_client();
    for plan in running.sandbox().plans() {
        let provider = &plan.provider;
        let base = running.base_url(&provider.id);
        let inputs: Inputs = provider.sample_inputs().into_iter().collect();
        let scenario = &provider.scenarios[0];
        // The same definition without auth sends no credential; its answer is read as usual.
        // (A definition that needs none is served as usual.)
        if provider.auth != unitask::model::Auth::None {
            let mut anonymous = provider.clone();
            anonymous.auth = unitask::model::Auth::None;
            let without = client
                .fetch(
                    &anonymous,
                    Request {
                        task_id: &scenario.task_id,
                        inputs: &inputs,
                        base_url: Some(&base),
                        credentials: &Credentials::new(),
                        quota: None,
                    },
                )
                .await;
            let error = without.expect_err("no credential");
            assert_eq!(
                error.kind,
                ErrorKind::Unauthorized,
                "{}: {error}",
                provider.id
            );
        }
        let credentials = sandbox_credentials(provider);
        // A task id the input takes (a URL task id has its own shape) and no track plays.
        if provider.task_id_input().refusal("not-served").is_none() {
            let missing = client
                .fetch(
                    provider,
                    Request {
                        task_id: "not-served",
                        inputs: &inputs,
                        base_url: Some(&base),
                        credentials: &credentials,
                        quota: None,
                    },
                )
                .await;
            assert_eq!(
                missing.expect_err("not served").kind,
                ErrorKind::NotFound,
                "{}",
                provider.id
            );
        }
        for (poll, &step) in scenario.steps.iter().enumerate() {
            let answer = client
                .fetch(
                    provider,
                    Request {
                        task_id: &scenario.task_id,
                        inputs: &inputs,
                        base_url: Some(&base),
                        credentials: &credentials,
                        quota: None,
                    },
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

/// Hostile requests get an answer and leave the sandbox serving: a non-ASCII byte where a task id
/// goes, invalid percent-encodings, a wrong method, an unknown provider, a huge id.
#[tokio::test]
async fn hostile_requests_never_stop_the_sandbox() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (engine, running) = builtin_sandbox().await;
    let long = "a".repeat(100_000);
    let requests: Vec<Vec<u8>> = vec![
        b"GET /hubspot/files/v3/files/import-from-url/async/tasks/\xc3\xa9/status HTTP/1.1\r\n"
            .to_vec(),
        b"GET /hubspot/files/v3/files/import-from-url/async/tasks/%ff%fe/status HTTP/1.1\r\n"
            .to_vec(),
        b"GET /tencent-smh/api/v1/file/lib/-/%0a%1b[2J?upload&access_token=x HTTP/1.1\r\n".to_vec(),
        b"DELETE /hubspot/files/v3/files/import-from-url/async/tasks/x/status HTTP/1.1\r\n"
            .to_vec(),
        b"GET /nope/x HTTP/1.1\r\n".to_vec(),
        format!("GET /church-tech/upload/{long} HTTP/1.1\r\n").into_bytes(),
    ];
    for mut request in requests {
        request.extend_from_slice(
            b"Host: 127.0.0.1\r\nAuthorization: Bearer x\r\nConnection: close\r\n\r\n",
        );
        let mut stream = tokio::net::TcpStream::connect(running.addr())
            .await
            .expect("connects");
        stream.write_all(&request).await.expect("sends");
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
            .await
            .expect("answers in time")
            .expect("reads");
        let head = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
        assert!(
            head.starts_with("HTTP/1.1 4"),
            "{}: {head}",
            String::from_utf8_lossy(&request[..60])
        );
    }
    // Still serving.
    let hubspot = &engine.get("hubspot").expect("hubspot").provider;
    let task = quick_client()
        .fetch(
            hubspot,
            Request {
                task_id: "import-succeeds-1",
                inputs: &Inputs::new(),
                base_url: Some(&running.base_url("hubspot")),
                credentials: &sandbox_credentials(hubspot),
                quota: None,
            },
        )
        .await;
    assert_eq!(task.expect("a task").state, unitask::State::Pending);
    running.stop().await.expect("stops");
}

/// Stopping the sandbox ends a slow answer at once instead of waiting it out.
#[tokio::test]
async fn stopping_the_sandbox_does_not_wait_for_slow_answers() {
    let engine = crate::builtin_unlimited();
    let hubspot = engine.get("hubspot").expect("hubspot").provider.clone();
    let options = sandbox::Options {
        slow: Duration::from_secs(60),
        log: None,
        ..sandbox::Options::default()
    };
    let running = Sandbox::new([&hubspot], options)
        .start(0)
        .await
        .expect("sandbox");
    let url = running.base_url("hubspot");
    let request = tokio::spawn(async move {
        let client = Transport::new(TransportConfig {
            timeout: Duration::from_secs(120),
            ..TransportConfig::default()
        })
        .expect("client");
        client
            .fetch(
                &hubspot,
                Request {
                    task_id: "fault-slow-1",
                    inputs: &Inputs::new(),
                    base_url: Some(&url),
                    credentials: &sandbox_credentials(&hubspot),
                    quota: None,
                },
            )
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    running.stop().await.expect("stops");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    request.abort();
}

/// A provider asking for an absurd `Retry-After` neither crashes `watch` nor parks it forever:
/// the wait is capped and the watch's own timeout still ends it.
#[tokio::test]
async fn an_absurd_retry_after_is_capped() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429).insert_header("Retry-After", "18446744073709551615"),
        )
        .mount(&server)
        .await;
    let engine = crate::builtin_unlimited();
    let hubspot = engine.get("hubspot").expect("hubspot").provider.clone();
    let mut watcher = Watcher::new(watch::Options {
        timeout: Some(Duration::from_secs(1)),
        ..watch_options()
    });
    let base_url = url::Url::parse(&server.uri()).expect("url");
    watcher.add(Endpoint::new(
        Arc::clone(&hubspot),
        quick_client(),
        Some(base_url),
        sandbox_credentials(&hubspot),
        Answerer::Interpreted,
    ));
    let target = Target {
        provider: "hubspot".into(),
        task_id: "t1".into(),
        inputs: Inputs::new(),
    };
    let started = std::time::Instant::now();
    let report = watcher
        .run(vec![target], std::future::pending(), |_| {})
        .await;
    assert_eq!(report.tasks[0].ending, Ending::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The task-id patterns of real providers: a hex digest, a prefixed key, a number, an
/// alphanumeric key.
pub const REALISTIC_PATTERNS: [&str; 4] = [
    "[0-9a-f]{32}",
    "vi[A-Za-z0-9]{20}",
    "[0-9]{1,19}",
    "[A-Za-z0-9]{1,128}",
];

/// Every seed and fixture definition tightened to `pattern` (see `crate::tightened`), with no
/// rate limit (these tests reach tracks; `rate_limits` tests the pace): file name and text. A
/// definition whose task id is a whole URL keeps its own pattern (a URL's), and is left out.
pub fn tightened_definitions(pattern: &str) -> Vec<(String, String)> {
    let mut files =
        unitask::validate::definition_files(&crate::at("providers")).expect("providers");
    files.extend(
        unitask::validate::definition_files(&crate::at("tests/fixtures/valid")).expect("fixtures"),
    );
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).expect("definition");
            let name = file.file_name().and_then(|n| n.to_str()).expect("name");
            (name.to_owned(), text)
        })
        .filter(|(_, text)| !text.contains("in: url"))
        .map(|(name, text)| {
            let tightened = crate::tightened(&without_rate_limits(&text), pattern);
            (name, tightened)
        })
        .collect()
}

/// A definition's text without its top-level `rate_limits:` block.
fn without_rate_limits(text: &str) -> String {
    let mut skipping = false;
    let mut kept = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("rate_limits:") {
            skipping = true;
        } else if skipping && !line.starts_with([' ', '-']) && !line.trim().is_empty() {
            skipping = false;
        }
        if !skipping {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// [`tightened_definitions`], loaded at run time.
pub fn tightened_engine(pattern: &str) -> Engine {
    let mut engine = Engine::empty();
    for (name, text) in tightened_definitions(pattern) {
        if let Err(error) = engine.load_str(&name, &text) {
            if let unitask::interp::LoadError::Invalid(reports) = &error {
                for report in reports {
                    eprint!("{}", report.render_human(false));
                }
            }
            panic!("{name} tightened to {pattern}: {error}");
        }
    }
    assert!(engine.iter().count() >= 6);
    assert!(engine.iter().all(|l| l.provider.rate_limits.is_empty()));
    engine
}

/// With the task-id pattern of any realistic provider, every track of every seed and fixture
/// definition is reachable: its first id answers its first step (one request, as `status` makes
/// it), and fresh ids end where the plan says when watched, by every engine that can answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_track_is_reachable_whatever_the_task_id_pattern() {
    for pattern in REALISTIC_PATTERNS {
        let engine = tightened_engine(pattern);
        let running = sandbox_of(&engine, quick_options()).await;
        let one_attempt = Transport::new(TransportConfig {
            timeout: Duration::from_secs(1),
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            ..TransportConfig::default()
        })
        .expect("client");
        let mut polls = Vec::new();
        for plan in running.sandbox().plans() {
            let provider = &plan.provider;
            let inputs: Inputs = provider.sample_inputs().into_iter().collect();
            let base = running.base_url(&provider.id);
            for track in &plan.tracks {
                assert_eq!(
                    track.unreachable(),
                    None,
                    "{pattern}: {} {}",
                    provider.id,
                    track.name
                );
                let id = track.fresh_id(1).expect("a fresh id");
                assert!(
                    provider.task_id_input().refusal(&id).is_none(),
                    "{pattern}: {id}"
                );
                let (client, inputs, base) = (&one_attempt, inputs.clone(), base.clone());
                polls.push(async move {
                    let credentials = sandbox_credentials(provider);
                    let answer = client
                        .fetch(
                            provider,
                            Request {
                                task_id: &id,
                                inputs: &inputs,
                                base_url: Some(&base),
                                credentials: &credentials,
                                quota: None,
                            },
                        )
                        .await;
                    let expected = track.steps[0].outcome;
                    let got = Outcome::of(&answer);
                    let same = got.same_as(expected);
                    assert!(
                        same,
                        "{pattern}: {} {} ({id}): got {got}, expected {expected}",
                        provider.id, track.name
                    );
                });
            }
        }
        futures_util::future::join_all(polls).await;
        tokio::join!(
            watch_every_track(&running, Answerer::Interpreted, false),
            watch_every_track(&running, Answerer::Interpreted, true),
        );
        running.stop().await.expect("stops");
    }
}

/// A pattern with room for a handful of ids: the tracks it cannot reach are listed as
/// unreachable with the reason (in the plan and in `GET /`), and every other one is reached.
#[tokio::test]
async fn a_track_the_pattern_leaves_no_room_for_is_listed_unreachable() {
    let text = std::fs::read_to_string(crate::at("providers/hubspot.yaml")).expect("hubspot");
    let mut engine = Engine::empty();
    engine
        .load_str("hubspot.yaml", &crate::tightened(&text, "[0-5]"))
        .expect("valid");
    let running = sandbox_of(&engine, quick_options()).await;
    let plan = &running.sandbox().plans()[0];
    let unreachable: Vec<&str> = plan.tracks.iter().filter_map(|t| t.unreachable()).collect();
    assert!(!unreachable.is_empty());
    assert!(
        unreachable
            .iter()
            .all(|why| why.contains("leaves room for 6 id(s)")),
        "{unreachable:?}"
    );
    // Every one of the six values reaches a track: the two scenarios' own ids, and four
    // generated, none given twice.
    let mut ids: Vec<String> = plan
        .tracks
        .iter()
        .filter_map(|t| t.task_id.clone())
        .collect();
    for track in &plan.tracks {
        ids.extend((1..).map_while(|n| track.fresh_id(n)));
    }
    ids.sort();
    assert_eq!(ids, ["0", "1", "2", "3", "4", "5"]);
    let body = reqwest::get(format!("{}/", running.url()))
        .await
        .expect("GET /")
        .bytes()
        .await
        .expect("body");
    let catalog: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let tracks = catalog["providers"][0]["tracks"]
        .as_array()
        .expect("tracks");
    for (track, shown) in plan.tracks.iter().zip(tracks) {
        assert_eq!(shown["unreachable"], serde_json::json!(track.unreachable()));
        assert_eq!(shown["task_id"].is_null(), track.unreachable().is_some());
    }
    running.stop().await.expect("stops");
}

/// A pattern that takes `<name>-<n>` but not the bare name still reaches every track by its
/// numbered ids (the bare name is no id, its numbers are).
#[test]
fn numbered_ids_reach_their_track_when_the_bare_name_is_refused() {
    let text = std::fs::read_to_string(crate::at("providers/hubspot.yaml")).expect("hubspot");
    let mut engine = Engine::empty();
    engine
        .load_str("hubspot.yaml", &crate::tightened(&text, "[a-z0-9-]{12,64}"))
        .expect("valid");
    let providers: Vec<_> = engine.iter().map(|l| l.provider.clone()).collect();
    let sandbox = Sandbox::new(&providers, sandbox::Options::default());
    let plan = &sandbox.plans()[0];
    let mut numbered = 0;
    for track in &plan.tracks {
        let id = track.fresh_id(3).expect("a fresh id");
        let reached = plan.resolve(&id).map(|t| t.name.as_str());
        assert_eq!(reached, Some(track.name.as_str()), "{id}");
        numbered += usize::from(track.ids == sandbox::Ids::Numbered && track.name.len() < 12);
    }
    assert!(numbered > 0, "no track with a short name is numbered");
}

/// The unconvertible-field fault of every seed and fixture definition answers over HTTP with
/// the first step's state, the mistyped field null and a warning naming it.
#[tokio::test]
async fn a_mistyped_field_costs_only_that_field() {
    let engine = tightened_engine(REALISTIC_PATTERNS[0]);
    let running = sandbox_of(&engine, quick_options()).await;
    let client = quick_client();
    let mut played = 0;
    for plan in running.sandbox().plans() {
        let provider = &plan.provider;
        let Some(track) = plan
            .tracks
            .iter()
            .find(|t| t.kind == TrackKind::Fault(sandbox::Fault::UnconvertibleField))
        else {
            continue;
        };
        let inputs: Inputs = provider.sample_inputs().into_iter().collect();
        let id = track.first_id().expect("an id");
        let answer = client
            .fetch(
                provider,
                Request {
                    task_id: &id,
                    inputs: &inputs,
                    base_url: Some(&running.base_url(&provider.id)),
                    credentials: &sandbox_credentials(provider),
                    quota: None,
                },
            )
            .await;
        let task = answer.unwrap_or_else(|e| panic!("{}: {e}", provider.id));
        assert!(
            Outcome::of(&Ok(task.clone())).same_as(track.steps[0].outcome),
            "{}",
            provider.id
        );
        // One value mistyped: a warning for each field that reads it (an id may be read twice).
        assert!(
            !task.warnings.is_empty()
                && task
                    .warnings
                    .iter()
                    .all(|w| w.message == task.warnings[0].message),
            "{}: {:?}",
            provider.id,
            task.warnings
        );
        let label = &track.steps[0].label;
        assert!(
            label.contains(&format!("`{}`", task.warnings[0].field)),
            "{}: {label} / {:?}",
            provider.id,
            task.warnings
        );
        played += 1;
    }
    assert!(played >= 6, "only {played} definitions play the fault");
    running.stop().await.expect("stops");
}

/// A task that hands over (`response.next`) is watched to the end of its follow-up and shown as
/// one task: its changes carry the follow-up's provider and id, it ends once, under the target
/// asked for, with the follow-up's state; the follow-up costs exactly its own lifecycle's
/// requests, and its inputs are the ones the first task carried on.
#[tokio::test]
async fn a_follow_up_is_watched_to_its_end_as_one_task() {
    let (_, running) = builtin_sandbox().await;
    let plan = running
        .sandbox()
        .plans()
        .iter()
        .find(|p| p.provider.id == "msgraph-copy-monitor")
        .expect("the monitor");
    let track = plan
        .tracks
        .iter()
        .find(|t| t.name == "copy-completes")
        .expect("a copy that completes");
    let next = plan.provider.response.next.as_ref().expect("a follow-up");
    let inputs: Inputs = plan.provider.sample_inputs().into_iter().collect();
    let targets: Vec<Target> = (1..=3)
        .map(|n| Target {
            provider: plan.provider.id.clone(),
            task_id: track.fresh_id(n).expect("an id"),
            inputs: inputs.clone(),
        })
        .collect();
    let item = "01MOWKYVJML57KN2ANMBA3JZJS2MBGC7KM";
    let before = running.sandbox().polls(&next.provider, item);
    let mut watcher = Watcher::new(watch_options());
    let transport = quick_client();
    for id in [plan.provider.id.as_str(), next.provider.as_str()] {
        let provider = running
            .sandbox()
            .plans()
            .iter()
            .find(|p| p.provider.id == id)
            .expect("served")
            .provider
            .clone();
        watcher.add(Endpoint::new(
            Arc::new(provider.clone()),
            transport.clone(),
            Some(running.base_url(id)),
            sandbox_credentials(&provider),
            Answerer::Interpreted,
        ));
    }
    let events = std::sync::Mutex::new(Vec::new());
    let report = watcher
        .run(targets.clone(), std::future::pending(), |event| {
            let index = event.key().get() as usize;
            let seen = match event {
                Event::Changed { target, task, .. } => {
                    (index, "changed", target.provider.clone(), task.next.clone())
                }
                Event::Failed { target, .. } => (index, "failed", target.provider.clone(), None),
                Event::Finished { target, .. } => {
                    (index, "finished", target.provider.clone(), None)
                }
                _ => unreachable!("no other event yet"),
            };
            events.lock().expect("not poisoned").push(seen);
        })
        .await;
    let events = events.into_inner().expect("not poisoned");
    for (index, finished) in report.tasks.iter().enumerate() {
        assert_eq!(finished.ending, Ending::Terminal(unitask::State::Succeeded));
        assert_eq!(
            finished.native_status.as_deref(),
            Some("file"),
            "the follow-up's status"
        );
        let mine: Vec<_> = events.iter().filter(|e| e.0 == index).collect();
        let handed = mine
            .iter()
            .find_map(|e| e.3.clone())
            .expect("the monitor named its follow-up");
        assert_eq!(handed.provider, next.provider);
        assert_eq!(handed.task_id, item);
        assert_eq!(
            handed.inputs.get("drive_id").map(String::as_str),
            inputs.get("drive_id"),
            "the drive id carried on"
        );
        assert!(
            mine.iter()
                .any(|e| e.1 == "changed" && e.2 == next.provider)
        );
        let ends: Vec<_> = mine.iter().filter(|e| e.1 == "finished").collect();
        assert_eq!(ends.len(), 1);
        assert_eq!(ends[0].2, plan.provider.id, "shown as the task asked for");
    }
    // Each follow-up's lifecycle is one answer (the item is there): one request each.
    assert_eq!(
        running.sandbox().polls(&next.provider, item) - before,
        targets.len() as u32
    );
    running.stop().await.expect("stops");
}
