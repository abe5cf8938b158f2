use std::time::{Duration, Instant};

use unitask::http::transport::{Fetched, Request};
use unitask::model::{Expectation, Provider};
use unitask::runtime::{self, normalize::Response};
use unitask::{Credentials, Engine, ErrorKind, Inputs, RetryPolicy, Transport, TransportConfig};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request as Received, ResponseTemplate};

pub const SECRET: &str = "s3cr3t-T0ken+/=";

fn engine() -> Engine {
    Engine::builtin().expect("built-in definitions are valid")
}

pub fn provider(id: &str) -> Provider {
    Provider::clone(&engine().get(id).expect("provider").provider)
}

fn no_retry() -> Transport {
    Transport::new(TransportConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        timeout: Duration::from_secs(5),
        ..TransportConfig::default()
    })
    .expect("client")
}

/// A transport that retries as `retry` says.
fn retrying(retry: RetryPolicy) -> Transport {
    Transport::new(TransportConfig {
        retry,
        ..TransportConfig::default()
    })
    .expect("client")
}

fn credentials(provider: &Provider) -> Credentials {
    crate::credentials_with(provider, SECRET)
}

/// Values for required inputs that examples do not always give.
fn base_inputs(id: &str) -> Inputs {
    match id {
        "tencent-smh" => [("library_id", "smh0123456789abc")].into_iter().collect(),
        _ => Inputs::new(),
    }
}

/// The exact request each seed provider must make for `task`, with `inputs`.
fn expected_path(id: &str, task: &str, inputs: &Inputs) -> String {
    match id {
        "hubspot" => format!("/files/v3/files/import-from-url/async/tasks/{task}/status"),
        "shoplazza" => format!(
            "/openapi/{}/file/task/{task}",
            inputs.get("api_version").unwrap_or("2022-01")
        ),
        "tencent-smh" => format!(
            "/api/v1/file/{}/{}/{task}",
            inputs.get("library_id").expect("library"),
            inputs.get("space_id").unwrap_or("-")
        ),
        "church-tech" => format!("/upload/{task}"),
        other => panic!("no expectations for {other}"),
    }
}

/// The credential is where the definition says, and (for SMH) the bare `?upload` flag is sent.
fn credential_in_place(id: &'static str) -> impl Fn(&Received) -> bool + Send + Sync + 'static {
    move |request: &Received| {
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let bearer = format!("Bearer {SECRET}");
        match id {
            "hubspot" | "church-tech" => {
                header("authorization").as_deref() == Some(bearer.as_str())
            }
            "shoplazza" => header("access-token").as_deref() == Some(SECRET),
            "tencent-smh" => {
                let query = request.url.query().unwrap_or_default();
                let pairs: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
                query.split('&').next() == Some("upload")
                    && pairs.contains(&("access_token".to_owned(), SECRET.to_owned()))
                    && header("authorization").is_none()
            }
            _ => false,
        }
    }
}

/// Fetches `task` from `server` with the test credential in every variable the provider reads.
async fn fetch_from(
    client: &Transport,
    provider: &Provider,
    task: &str,
    inputs: &Inputs,
    server: &MockServer,
) -> Fetched {
    let base = url::Url::parse(&server.uri()).expect("uri");
    let request = Request {
        task_id: task,
        inputs,
        base_url: Some(&base),
        credentials: &credentials(provider),
        quota: None,
    };
    client.fetch_detailed(provider, request, false).await
}

/// Every example of every seed provider, played by a real HTTP server: the client makes exactly
/// the documented request and returns what the example's normalization gives.
#[tokio::test]
async fn every_example_of_every_seed_provider_over_http() {
    let client = no_retry();
    for id in ["church-tech", "hubspot", "shoplazza", "tencent-smh"] {
        let provider = provider(id);
        let credentials = credentials(&provider);
        for example in &provider.examples {
            let server = MockServer::start().await;
            let mut inputs = base_inputs(id);
            for (name, value) in &example.inputs {
                inputs.set(name.as_str(), value.as_str());
            }
            let task_input = provider.task_id_input().name.clone();
            let task = inputs.get(&task_input).unwrap_or("example-task").to_owned();
            let mut other = Inputs::new();
            for (name, value) in inputs.iter().filter(|(n, _)| *n != task_input) {
                other.set(name, value);
            }
            let mut reply = ResponseTemplate::new(example.response.status)
                .set_body_bytes(example.response.body.clone());
            for (name, value) in &example.response.headers {
                reply = reply.insert_header(name.as_str(), value.as_str());
            }
            Mock::given(method("GET"))
                .and(path(expected_path(id, &task, &inputs)))
                .and(credential_in_place(id))
                .respond_with(reply)
                .expect(1)
                .mount(&server)
                .await;
            let base = url::Url::parse(&server.uri()).expect("uri");
            let Fetched {
                result: got,
                attempts,
                ..
            } = client
                .fetch_detailed(
                    &provider,
                    Request {
                        task_id: &task,
                        inputs: &other,
                        base_url: Some(&base),
                        credentials: &credentials,
                        quota: None,
                    },
                    false,
                )
                .await;
            let want = runtime::normalize(
                &provider,
                &task,
                Response {
                    status: example.response.status,
                    headers: &example.response.headers,
                    body: &example.response.body,
                },
            );
            let mut got = got;
            if let Ok(task) = &mut got {
                // The server adds headers; the body is what matters.
                assert_eq!(task.raw, want.as_ref().expect("same outcome").raw);
            }
            assert_eq!(got, want, "{id} example `{}`", example.name);
            assert_eq!(attempts, 1);
            if let Expectation::Task(expected) = &example.expect {
                let task = got.expect("a task");
                assert_eq!(Some(&serde_json::json!(task.state)), expected.get("state"));
            }
            server.verify().await;
        }
    }
}

#[tokio::test]
async fn retries_honour_retry_after_then_succeed() {
    let provider = provider("hubspot");
    let server = MockServer::start().await;
    let body = serde_json::json!({"taskId": "t-1", "status": "PROCESSING"});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1").set_body_json(
            serde_json::json!({"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT"}),
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let client = Transport::new(TransportConfig::default()).expect("client");
    let base = url::Url::parse(&server.uri()).expect("uri");
    let started = Instant::now();
    let Fetched {
        result, attempts, ..
    } = client
        .fetch_detailed(
            &provider,
            Request {
                task_id: "t-1",
                inputs: &Inputs::new(),
                base_url: Some(&base),
                credentials: &credentials(&provider),
                quota: None,
            },
            false,
        )
        .await;
    assert_eq!(
        result.expect("second attempt succeeds").native_status,
        "PROCESSING"
    );
    assert_eq!(attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as the provider asked"
    );
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit() {
    let provider = provider("church-tech");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .expect(3)
        .mount(&server)
        .await;
    let client = retrying(RetryPolicy {
        max_attempts: 3,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        total_budget: Duration::from_secs(5),
    });
    let Fetched {
        result, attempts, ..
    } = fetch_from(&client, &provider, "u-1", &Inputs::new(), &server).await;
    let error = result.expect_err("always 503");
    assert_eq!(
        (error.kind, error.status, error.retryable),
        (ErrorKind::Server, Some(503), true)
    );
    assert_eq!(error.excerpt.as_deref(), Some("busy"));
    assert_eq!(attempts, 3);
}

#[tokio::test]
async fn a_backoff_beyond_the_budget_is_not_waited() {
    let provider = provider("church-tech");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .expect(1)
        .mount(&server)
        .await;
    // Every planned wait (5 s) ends past the budget (1 s): the first failure is the answer.
    let client = retrying(RetryPolicy {
        max_attempts: 5,
        min_delay: Duration::from_secs(5),
        max_delay: Duration::from_secs(5),
        total_budget: Duration::from_secs(1),
    });
    let started = Instant::now();
    let Fetched {
        result, attempts, ..
    } = fetch_from(&client, &provider, "u-1", &Inputs::new(), &server).await;
    let error = result.expect_err("503");
    assert_eq!((error.kind, error.status), (ErrorKind::Server, Some(503)));
    assert_eq!(attempts, 1);
    assert!(started.elapsed() < Duration::from_secs(1), "waited");
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_is_reported_not_waited() {
    let provider = provider("hubspot");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let client = Transport::new(TransportConfig::default()).expect("client");
    let Fetched {
        result, attempts, ..
    } = fetch_from(&client, &provider, "t-1", &Inputs::new(), &server).await;
    let error = result.expect_err("rate limited");
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.retry_after, Some(Duration::from_secs(3600)));
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    for id in ["hubspot", "shoplazza", "tencent-smh"] {
        let provider = provider(id);
        let thief = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&thief)
            .await;
        let server = MockServer::start().await;
        // Same port family, other host name: `localhost` is not `127.0.0.1`.
        let elsewhere = thief.uri().replace("127.0.0.1", "localhost");
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("Location", format!("{elsewhere}/collect").as_str()),
            )
            .expect(1)
            .mount(&server)
            .await;
        let base = url::Url::parse(&server.uri()).expect("uri");
        let result = no_retry()
            .fetch(
                &provider,
                Request {
                    task_id: "t-1",
                    inputs: &base_inputs(id),
                    base_url: Some(&base),
                    credentials: &credentials(&provider),
                    quota: None,
                },
            )
            .await;
        let error = result.expect_err("redirect refused");
        assert_eq!(error.status, Some(302), "{id}");
        assert!(error.message.contains("not followed"), "{}", error.message);
        assert!(!error.message.contains(SECRET));
        thief.verify().await;
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let provider = provider("church-tech");
    let server = MockServer::start().await;
    let huge = format!(
        "{{\"status\": \"QUEUED\", \"pad\": \"{}\"}}",
        "x".repeat(64 * 1024)
    );
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(huge))
        .mount(&server)
        .await;
    let client = Transport::new(TransportConfig {
        max_body_bytes: Some(16 * 1024),
        ..TransportConfig::default()
    })
    .expect("client");
    let Fetched { result, .. } =
        fetch_from(&client, &provider, "u-1", &Inputs::new(), &server).await;
    let error = result.expect_err("too large");
    assert_eq!(error.kind, ErrorKind::Decode);
    assert!(
        error.message.contains("larger than 16384 bytes"),
        "{}",
        error.message
    );
}

/// A 7 MB answer (a transcript) is read under a definition that allows 16 MiB, and the task does
/// not keep it (`keep_raw: false`); the same answer is refused under the default 4 MiB, and
/// under a caller's `max_body_bytes` smaller than the definition's.
#[tokio::test]
async fn a_large_answer_is_read_within_its_definitions_limit() {
    let text = std::fs::read_to_string(crate::at("tests/fixtures/valid/failing-jobs.yaml"))
        .expect("fixture");
    let large = unitask::validate::check_source("failing-jobs.yaml", Some("failing-jobs"), &text)
        .expect("valid");
    let words: String = (0..700_000)
        .map(|i| format!("word{:05} ", i % 100_000))
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "state": "DONE", "transcript": words }))
        .expect("json");
    assert!(body.len() > 7_000_000, "{} bytes", body.len());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let client = no_retry();
    let credentials = crate::credentials_with(&large, SECRET);
    let Fetched { result, .. } =
        fetch_from(&client, &large, "job-1", &Inputs::new(), &server).await;
    let task = result.expect("read whole");
    assert_eq!(task.state, unitask::State::Succeeded);
    assert_eq!(task.raw, serde_json::Value::Null, "not kept");
    // The same answer for a definition without a limit of its own: the default 4 MiB.
    let Fetched { result, .. } = fetch_from(
        &client,
        &provider("church-tech"),
        "u-1",
        &Inputs::new(),
        &server,
    )
    .await;
    let error = result.expect_err("too large");
    assert!(
        error.message.contains("larger than 4194304 bytes"),
        "{error}"
    );
    // The caller's limit wins over the definition's.
    let capped = Transport::new(TransportConfig {
        max_body_bytes: Some(1 << 20),
        ..TransportConfig::default()
    })
    .expect("client");
    let base = url::Url::parse(&server.uri()).expect("uri");
    let result = capped
        .fetch(
            &large,
            Request {
                task_id: "job-1",
                inputs: &Inputs::new(),
                base_url: Some(&base),
                credentials: &credentials,
                quota: None,
            },
        )
        .await;
    let error = result.expect_err("too large");
    assert!(
        error.message.contains("larger than 1048576 bytes"),
        "{error}"
    );
}

/// A server that promises 100 bytes, sends 12 and hangs up.
#[tokio::test]
async fn a_truncated_body_is_a_transport_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buffer = [0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"status\": \"")
            .await;
        drop(socket);
    });
    let provider = provider("church-tech");
    let base = url::Url::parse(&format!("http://{address}")).expect("uri");
    let result = no_retry()
        .fetch(
            &provider,
            Request {
                task_id: "u-1",
                inputs: &Inputs::new(),
                base_url: Some(&base),
                credentials: &credentials(&provider),
                quota: None,
            },
        )
        .await;
    let error = result.expect_err("truncated");
    assert_eq!(error.kind, ErrorKind::Transport, "{error}");
    assert!(error.retryable);
    server.await.expect("server task");
}

#[tokio::test]
async fn hostile_inputs_are_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let base = url::Url::parse(&server.uri()).expect("uri");
    let client = no_retry();
    for (id, task, params) in [
        ("church-tech", "..", vec![]),
        ("church-tech", ".", vec![]),
        ("church-tech", "", vec![]),
        ("church-tech", "a\r\nX-Evil: 1", vec![]),
        ("hubspot", "../../files/v3/files", vec![]),
        ("tencent-smh", "key", vec![("library_id", "..")]),
        (
            "tencent-smh",
            "key",
            vec![("library_id", "lib"), ("space_id", "a/b")],
        ),
        (
            "tencent-smh",
            "key",
            vec![("library_id", "lib"), ("user_id", "u\nx")],
        ),
        ("shoplazza", "t-1", vec![("api_version", "../2022-01")]),
        ("shoplazza", "t-1", vec![("no_such_input", "1")]),
    ] {
        let provider = provider(id);
        let inputs: Inputs = params.into_iter().collect();
        let Fetched {
            result, attempts, ..
        } = client
            .fetch_detailed(
                &provider,
                Request {
                    task_id: task,
                    inputs: &inputs,
                    base_url: Some(&base),
                    credentials: &credentials(&provider),
                    quota: None,
                },
                false,
            )
            .await;
        let error = result.expect_err("refused");
        assert_eq!(
            (error.kind, error.status),
            (ErrorKind::InvalidRequest, None),
            "{id} {task:?}: {error}"
        );
        assert_eq!(attempts, 0);
    }
    server.verify().await;
}

#[test]
fn host_inputs_must_match_their_pattern() {
    let provider = provider("shoplazza");
    let credentials = credentials(&provider);
    for host in [
        "evil.example.com",
        "store.myshoplaza.com.evil.com",
        "a.myshoplaza.com/x",
        "a.myshoplaza.com:1@evil.com",
    ] {
        let inputs: Inputs = [("store_domain", host)].into_iter().collect();
        let error = unitask::http::request::prepare(&provider, "t-1", &inputs, None, &credentials)
            .expect_err(host);
        assert_eq!(error.kind, ErrorKind::InvalidRequest, "{host}");
    }
    let inputs: Inputs = [("store_domain", "my-store.myshoplazza.com")]
        .into_iter()
        .collect();
    let request = unitask::http::request::prepare(&provider, "t-1", &inputs, None, &credentials)
        .expect("valid");
    assert_eq!(
        request.url.as_str(),
        "https://my-store.myshoplazza.com/openapi/2022-01/file/task/t-1"
    );
}

/// Placeholder values are encoded for their segment: the path keeps its shape, whatever the value.
#[test]
fn placeholder_values_never_change_the_path_shape() {
    let mut engine = Engine::empty();
    let text = std::fs::read_to_string(crate::at("tests/fixtures/valid/presence-jobs.yaml"))
        .expect("fixture");
    engine.load_str("presence-jobs.yaml", &text).expect("valid");
    let provider = &engine.get("presence-jobs").expect("loaded").provider;
    let mut credentials = Credentials::new();
    credentials.set("EXPORTS_TOKEN", SECRET);
    let inputs: Inputs = [("account", "42")].into_iter().collect();
    for (task, encoded) in [
        ("t 1/2", "t%201%2F2"),
        ("a?b#c", "a%3Fb%23c"),
        ("%2e%2e", "%252e%252e"),
        ("...", "..."),
        ("é", "%C3%A9"),
    ] {
        let request = unitask::http::request::prepare(provider, task, &inputs, None, &credentials)
            .expect(task);
        assert_eq!(
            request.url.path(),
            format!("/accounts/42/exports/{encoded}"),
            "{task}"
        );
        assert_eq!(request.url.query(), Some("status&format=json"));
        assert_eq!(request.url.host_str(), Some("127.0.0.1"));
    }
}

#[test]
fn credentials_never_travel_over_plain_http_to_other_hosts() {
    let provider = provider("hubspot");
    let base = url::Url::parse("http://api.hubapi.com").expect("url");
    let error = unitask::http::request::prepare(
        &provider,
        "t-1",
        &Inputs::new(),
        Some(&base),
        &credentials(&provider),
    )
    .expect_err("plain http");
    assert_eq!(error.kind, ErrorKind::Definition);
    for loopback in ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"] {
        let base = url::Url::parse(loopback).expect("url");
        unitask::http::request::prepare(
            &provider,
            "t-1",
            &Inputs::new(),
            Some(&base),
            &credentials(&provider),
        )
        .expect(loopback);
    }
}

#[test]
fn a_base_url_never_carries_a_user_name_or_password() {
    let provider = provider("hubspot");
    for given in [
        "https://someone:hunter2@api.hubapi.com",
        "https://someone@api.hubapi.com",
        "http://:hunter2@127.0.0.1:9",
    ] {
        let base = url::Url::parse(given).expect("url");
        let error = unitask::http::request::prepare(
            &provider,
            "t-1",
            &Inputs::new(),
            Some(&base),
            &credentials(&provider),
        )
        .expect_err(given);
        assert_eq!(error.kind, ErrorKind::Definition, "{given}");
        assert!(error.message.contains("user name or password"), "{error}");
        assert!(!error.message.contains("hunter2"), "{error}");
        assert!(!error.message.contains("someone"), "{error}");
    }
}

#[test]
fn a_missing_credential_names_its_variable_and_debug_never_shows_one() {
    let provider = provider("tencent-smh");
    let inputs = base_inputs("tencent-smh");
    let error =
        unitask::http::request::prepare(&provider, "key", &inputs, None, &Credentials::new())
            .expect_err("no credential");
    assert_eq!((error.kind, error.status), (ErrorKind::Unauthorized, None));
    assert!(error.message.contains("SMH_ACCESS_TOKEN"));
    let credentials = credentials(&provider);
    let request = unitask::http::request::prepare(&provider, "key", &inputs, None, &credentials)
        .expect("valid");
    for shown in [
        format!("{credentials:?}"),
        format!("{request:?}"),
        request.redacted_url(),
    ] {
        assert!(
            !shown.contains(SECRET) && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
    assert!(
        request
            .url
            .as_str()
            .contains("access_token=s3cr3t-T0ken%2B%2F%3D")
    );
}

#[test]
fn a_prepared_request_never_shows_its_credential() {
    let provider = provider("hubspot");
    let credentials = credentials(&provider);
    let prepared = unitask::http::transport::Prepared::new(
        &provider,
        Request {
            task_id: "t-1",
            inputs: &Inputs::new(),
            base_url: None,
            credentials: &credentials,
            quota: None,
        },
    )
    .expect("prepared");
    let shown = format!("{prepared:?}");
    assert!(shown.contains("api.hubapi.com"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
}

#[tokio::test]
async fn a_post_with_a_json_body_and_basic_auth() {
    let mut engine = Engine::empty();
    let text = std::fs::read_to_string(crate::at("tests/fixtures/valid/tagged-jobs.yaml"))
        .expect("fixture");
    engine.load_str("tagged-jobs.yaml", &text).expect("valid");
    let provider = engine.get("tagged-jobs").expect("loaded").provider.clone();
    let server = MockServer::start().await;
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ci:pw")
    );
    Mock::given(method("POST"))
        .and(path("/v2/jobs:status"))
        .and(header("authorization", basic.as_str()))
        .and(header("x-tenant", "acme"))
        .and(wiremock::matchers::query_param("verbose", "true"))
        .and(wiremock::matchers::body_json(
            serde_json::json!({"include": ["progress", "times"], "jobId": "build-42"}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"ok": true, "result": {"state": {"Queued": {}}}}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut credentials = Credentials::new();
    credentials
        .set("JOBS_USER", "ci")
        .set("JOBS_PASSWORD", "pw");
    let inputs: Inputs = [("verbose", "true"), ("tenant", "acme")]
        .into_iter()
        .collect();
    let base = url::Url::parse(&server.uri()).expect("uri");
    let result = no_retry()
        .fetch(
            &provider,
            Request {
                task_id: "build-42",
                inputs: &inputs,
                base_url: Some(&base),
                credentials: &credentials,
                quota: None,
            },
        )
        .await;
    let task = result.expect("task");
    assert_eq!(
        (task.state, task.native_status.as_str()),
        (unitask::State::Pending, "Queued")
    );
    server.verify().await;
}

/// A POST carries one `Content-Type`: the definition's own when it sets one (any case), else
/// `application/json`; never both (seen on the wire before).
#[tokio::test]
async fn a_definitions_content_type_replaces_the_default() {
    let text = std::fs::read_to_string(crate::at("tests/fixtures/valid/tagged-jobs.yaml"))
        .expect("fixture");
    let typed = text.replace(
        "  method: POST\n",
        "  method: POST\n  headers:\n    content-TYPE: application/vnd.jobs+json\n",
    );
    assert_ne!(typed, text);
    for (definition, expected) in [
        (text.as_str(), "application/json"),
        (typed.as_str(), "application/vnd.jobs+json"),
    ] {
        let mut engine = Engine::empty();
        engine
            .load_str("tagged-jobs.yaml", definition)
            .expect("valid");
        let provider = engine.get("tagged-jobs").expect("loaded").provider.clone();
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"ok": true, "result": {"state": {"Queued": {}}}}),
            ))
            .expect(1)
            .mount(&server)
            .await;
        let mut credentials = Credentials::new();
        credentials
            .set("JOBS_USER", "ci")
            .set("JOBS_PASSWORD", "pw");
        let base = url::Url::parse(&server.uri()).expect("uri");
        let result = no_retry()
            .fetch(
                &provider,
                Request {
                    task_id: "build-42",
                    inputs: &Inputs::new(),
                    base_url: Some(&base),
                    credentials: &credentials,
                    quota: None,
                },
            )
            .await;
        result.expect("task");
        let received = server.received_requests().await.expect("recorded");
        let types: Vec<&str> = received[0]
            .headers
            .get_all("content-type")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(types, vec![expected]);
    }
}

/// A definition's own retry header is a hint for answers worth retrying only: a 404 that carries
/// it gets no `retry_after`; a 503 or a retryable code inside a 200 does.
#[test]
fn a_custom_retry_header_applies_to_retryable_answers_only() {
    let text = std::fs::read_to_string(crate::at("tests/fixtures/valid/tagged-jobs.yaml"))
        .expect("fixture");
    let provider = unitask::validate::check_source("tagged-jobs.yaml", Some("tagged-jobs"), &text)
        .expect("valid");
    let headers = vec![("X-Jobs-Retry-In".to_owned(), "7".to_owned())];
    for (status, body, wait) in [
        (404, &br#"{"ok": false}"#[..], None),
        (503, b"", Some(7)),
        (
            200,
            br#"{"ok": true, "error": {"code": "THROTTLED", "message": "slow down"}}"#,
            Some(7),
        ),
    ] {
        let error = runtime::normalize(
            &provider,
            "t",
            Response {
                status,
                headers: &headers,
                body,
            },
        )
        .expect_err("a failure");
        assert_eq!(
            error.retry_after.map(|d| d.as_secs()),
            wait,
            "{status}: {error}"
        );
        assert_eq!(error.retryable, wait.is_some(), "{status}");
    }
}

/// Even a loose host pattern cannot send the credential elsewhere: host values are DNS names.
#[test]
fn a_loose_host_pattern_cannot_move_the_host() {
    let text = "id: loose
name: Loose
base_url: https://{shop}
inputs:
  id: { in: path, role: task_id }
  shop: { in: host, pattern: '.+\\.myshop\\.com' }
request:
  path: /tasks/{id}
auth:
  bearer: { env: LOOSE_TOKEN }
response:
  state:
    native: { string: $.status }
    documented: [DONE]
    map: { DONE: succeeded }
";
    let mut engine = Engine::empty();
    engine.load_str("loose.yaml", text).expect("valid");
    let provider = &engine.get("loose").expect("loaded").provider;
    let mut credentials = Credentials::new();
    credentials.set("LOOSE_TOKEN", SECRET);
    for shop in [
        "evil.example#.myshop.com",
        "evil.example/.myshop.com",
        "evil.example?.myshop.com",
        "me@evil.example:1.myshop.com",
    ] {
        let inputs: Inputs = [("shop", shop)].into_iter().collect();
        let error = unitask::http::request::prepare(provider, "t-1", &inputs, None, &credentials)
            .expect_err(shop);
        assert_eq!(
            (error.kind, error.status),
            (ErrorKind::InvalidRequest, None),
            "{shop}"
        );
    }
    let inputs: Inputs = [("shop", "a.myshop.com")].into_iter().collect();
    let request = unitask::http::request::prepare(provider, "t-1", &inputs, None, &credentials)
        .expect("valid");
    assert_eq!(request.url.host_str(), Some("a.myshop.com"));
}

/// tencent-smh's `confirm_key` pattern allows dots: only the dot-segment rule stops `..`.
#[tokio::test]
async fn dot_segments_are_refused_even_where_the_pattern_allows_them() {
    let provider = provider("tencent-smh");
    assert!(
        provider
            .input("confirm_key")
            .and_then(|i| i.pattern.as_ref())
            .is_some_and(|p| p.is_match(".."))
    );
    for key in ["..", "."] {
        let error = unitask::http::request::prepare(
            &provider,
            key,
            &base_inputs("tencent-smh"),
            None,
            &credentials(&provider),
        )
        .expect_err(key);
        assert_eq!(
            (error.kind, error.status),
            (ErrorKind::InvalidRequest, None)
        );
        assert!(
            error.message.contains("change the request's path"),
            "{}",
            error.message
        );
    }
}

/// A small gzip body that inflates past the limit: only the streaming check can stop it.
#[tokio::test]
async fn the_limit_applies_to_decompressed_bytes() {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(br#"{"status": "QUEUED", "pad": ""#)
        .expect("gzip");
    encoder
        .write_all(&vec![b'x'; 8 * 1024 * 1024])
        .expect("gzip");
    encoder.write_all(br#""}"#).expect("gzip");
    let compressed = encoder.finish().expect("gzip");
    assert!(compressed.len() < 64 * 1024);
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Encoding", "gzip")
                .set_body_bytes(compressed),
        )
        .mount(&server)
        .await;
    let provider = provider("church-tech");
    let Fetched { result, .. } =
        fetch_from(&no_retry(), &provider, "u-1", &Inputs::new(), &server).await;
    let error = result.expect_err("inflates past 4 MiB");
    assert_eq!(error.kind, ErrorKind::Decode);
    assert!(
        error.message.contains("larger than 4194304 bytes"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_corrupt_gzip_body_is_a_decode_error_with_its_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Encoding", "gzip")
                .set_body_string("this is not gzip at all"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let provider = provider("church-tech");
    let client = Transport::new(TransportConfig::default()).expect("client");
    let Fetched {
        result, attempts, ..
    } = fetch_from(&client, &provider, "u-1", &Inputs::new(), &server).await;
    let error = result.expect_err("bad gzip");
    assert_eq!(
        (error.kind, error.status, error.retryable),
        (ErrorKind::Decode, Some(200), false)
    );
    assert_eq!(attempts, 1);
}

/// Connection errors carry no URL, so a query credential cannot ride along in the message.
#[tokio::test]
async fn connection_errors_never_carry_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = listener.local_addr().expect("address");
    drop(listener);
    let provider = provider("tencent-smh");
    let base = url::Url::parse(&format!("http://{closed}")).expect("url");
    let result = no_retry()
        .fetch(
            &provider,
            Request {
                task_id: "key",
                inputs: &base_inputs("tencent-smh"),
                base_url: Some(&base),
                credentials: &credentials(&provider),
                quota: None,
            },
        )
        .await;
    let error = result.expect_err("refused");
    assert_eq!(error.kind, ErrorKind::Transport);
    assert!(
        !error.to_string().contains("s3cr3t") && !error.to_string().contains("access_token"),
        "{error}"
    );
}

/// A provider that echoes the credential back: the returned error hides it.
#[tokio::test]
async fn echoed_credentials_are_redacted_from_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(|request: &Received| {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            ResponseTemplate::new(401).set_body_json(
                serde_json::json!({"error": format!("bad token {auth} for {}", request.url)}),
            )
        })
        .mount(&server)
        .await;
    let provider = provider("church-tech");
    let Fetched { result, .. } =
        fetch_from(&no_retry(), &provider, "u-1", &Inputs::new(), &server).await;
    let error = result.expect_err("401");
    assert!(
        error.message.contains("bad token Bearer ***"),
        "{}",
        error.message
    );
    assert!(!format!("{error:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn retry_after_zero_still_backs_off() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .expect(2)
        .mount(&server)
        .await;
    let client = retrying(RetryPolicy {
        max_attempts: 2,
        min_delay: Duration::from_millis(300),
        max_delay: Duration::from_secs(1),
        total_budget: Duration::from_secs(10),
    });
    let provider = provider("church-tech");
    let started = Instant::now();
    let Fetched { attempts, .. } =
        fetch_from(&client, &provider, "u-1", &Inputs::new(), &server).await;
    assert_eq!(attempts, 2);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn plain_http_goes_to_loopback_only_even_without_credentials() {
    let text = "id: open
name: Open
base_url: https://api.example.com
inputs:
  id: { in: path, role: task_id }
request:
  path: /tasks/{id}
auth: none
response:
  state:
    native: { string: $.status }
    documented: [DONE]
    map: { DONE: succeeded }
";
    let mut engine = Engine::empty();
    engine.load_str("open.yaml", text).expect("valid");
    let provider = &engine.get("open").expect("loaded").provider;
    let base = url::Url::parse("http://example.com").expect("url");
    let error = unitask::http::request::prepare(
        provider,
        "t-1",
        &Inputs::new(),
        Some(&base),
        &Credentials::new(),
    )
    .expect_err("plain http");
    assert_eq!(error.kind, ErrorKind::Definition);
}

#[test]
fn the_task_id_is_not_an_input_too() {
    let provider = provider("hubspot");
    let inputs: Inputs = [("task_id", "zzz")].into_iter().collect();
    let error =
        unitask::http::request::prepare(&provider, "t-1", &inputs, None, &credentials(&provider))
            .expect_err("task id as input");
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
}
