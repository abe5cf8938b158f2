//! Generated code: the golden copy is fresh and compiles with warnings denied, the typed API
//! works, and the generated clients answer exactly as the interpreter does.

use unitask::http::transport::Request;
use unitask::model::Provider;
use unitask::{Engine, Inputs, RetryPolicy, Transport, TransportConfig};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::at;

/// The golden copy, compiled as part of this test binary with warnings denied (dead code aside:
/// a test binary does not use every public item).
#[deny(warnings)]
#[allow(dead_code)]
#[rustfmt::skip]
#[path = "golden/generated.rs"]
mod golden;

/// Every valid fixture, sorted: the golden copy is generated from all of them.
fn golden_sources() -> Vec<String> {
    let mut paths: Vec<String> = std::fs::read_dir(at("tests/fixtures/valid"))
        .expect("fixtures folder")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".yaml"))
        .map(|name| format!("tests/fixtures/valid/{name}"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn the_golden_copy_is_fresh() {
    let sources = golden_sources();
    let loaded: Vec<(Provider, String)> = sources
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(at(path)).expect("fixture");
            let stem = std::path::Path::new(path)
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("stem");
            (
                unitask::validate::check_source(path, Some(stem), &text).expect("valid"),
                text,
            )
        })
        .collect();
    let pairs: Vec<(&Provider, &str)> = loaded.iter().map(|(p, t)| (p, t.as_str())).collect();
    let code = unitask::codegen::generate(&pairs).expect("generates");
    let committed = std::fs::read_to_string(at("tests/it/golden/generated.rs")).expect("golden");
    assert!(
        code == committed,
        "tests/it/golden/generated.rs is stale: run `cargo run -- generate {} > tests/it/golden/generated.rs`",
        sources.join(" ")
    );
    // Deterministic: the same input gives the same bytes, whatever the order it comes in.
    let reversed: Vec<(&Provider, &str)> = pairs.iter().rev().copied().collect();
    assert_eq!(
        unitask::codegen::generate(&reversed).expect("generates"),
        code
    );
}

#[test]
fn the_typed_api_reads_statuses_params_and_extras() {
    use golden::presence_jobs;
    use golden::tagged_jobs;
    assert_eq!(
        tagged_jobs::Status::from_native("Running"),
        tagged_jobs::Status::Working
    );
    assert_eq!(
        tagged_jobs::Status::from_native("Paused"),
        tagged_jobs::Status::Other("Paused".into())
    );
    assert_eq!(tagged_jobs::Status::CanceledByUser.as_native(), "Cancelled");
    assert_eq!(
        presence_jobs::Status::from_native("none"),
        presence_jobs::Status::None
    );

    // A required input is a plain field: it cannot be forgotten.
    let params = presence_jobs::Params {
        account: "42".into(),
    };
    assert_eq!(params.to_inputs().get("account"), Some("42"));
    let missing =
        presence_jobs::Params::from_inputs(&Inputs::new()).expect_err("account is required");
    assert_eq!(missing.message, "input `account` is required");
    let unknown: Inputs = [("acount", "42")].into_iter().collect();
    assert!(
        presence_jobs::Params::from_inputs(&unknown)
            .expect_err("typo")
            .message
            .contains("is not an input of presence-jobs")
    );
    assert_eq!(
        tagged_jobs::Params::default(),
        tagged_jobs::Params {
            region: None,
            verbose: None,
            tenant: None
        }
    );
}

#[tokio::test]
async fn a_generated_client_fetches_a_typed_record() {
    use golden::tagged_jobs;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "ok": true,
            "result": {"state": {"Running": {"percent": "12.5"}}, "attempts": 3, "owner": {"name": "ci"}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = tagged_jobs::Client::builder()
        .credential("JOBS_USER", "u")
        .credential("JOBS_PASSWORD", "p")
        .base_url(url::Url::parse(&server.uri()).expect("uri"))
        .build()
        .expect("client");
    let record = client
        .status("job-1", &tagged_jobs::Params::default())
        .await
        .expect("record");
    assert_eq!(record.status, tagged_jobs::Status::Working);
    assert_eq!(
        record.extra,
        tagged_jobs::Extra {
            attempts: Some(3),
            owner: Some("ci".into())
        }
    );
    assert_eq!(record.task.progress.as_ref().map(|p| p.done), Some(12.5));
    let task: unitask::UploadTask = record.into();
    assert_eq!(task.native_status, "Running");
}

/// Labels name the variants, and converted extras arrive typed: durations as `Duration`.
#[tokio::test]
async fn labels_and_conversions_reach_the_typed_record() {
    use golden::converted_jobs;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "state": 1, "elapsed": "PT1M30S", "timeout_ms": 1500, "tags": "x,y"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = converted_jobs::Client::builder()
        .transport(Transport::new(TransportConfig::default()).expect("transport"))
        .base_url(url::Url::parse(&server.uri()).expect("uri"))
        .build()
        .expect("client");
    let record = client
        .status("render-1", &converted_jobs::Params::default())
        .await
        .expect("record");
    assert_eq!(record.status, converted_jobs::Status::Transcoding);
    assert_eq!(record.task.native_label.as_deref(), Some("Transcoding"));
    assert_eq!(
        record.extra,
        converted_jobs::Extra {
            elapsed_s: Some(std::time::Duration::from_secs(90)),
            timeout_s: Some(std::time::Duration::from_millis(1500)),
            tags: Some(serde_json::json!(["x", "y"])),
            urgent: Some(false),
        }
    );
    assert_eq!(
        converted_jobs::Status::from_native("0"),
        converted_jobs::Status::Queued
    );
}

/// Every example of every seed provider, over HTTP: the generated client and the interpreter
/// return the same task or the same error.
#[tokio::test]
async fn generated_clients_and_the_interpreter_agree_on_every_example() {
    let engine = Engine::builtin().expect("built-ins");
    let built_in: Vec<&str> = engine.iter().map(|l| l.provider.id.as_str()).collect();
    assert_eq!(
        unitask::providers::GENERATED,
        built_in.as_slice(),
        "every built-in has a generated client"
    );
    let http = Transport::new(TransportConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..TransportConfig::default()
    })
    .expect("client");
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        let credentials = crate::credentials_with(provider, "secret-token");
        for example in &provider.examples {
            let server = MockServer::start().await;
            let mut reply = ResponseTemplate::new(example.response.status)
                .set_body_bytes(example.response.body.clone());
            for (name, value) in &example.response.headers {
                reply = reply.insert_header(name.as_str(), value.as_str());
            }
            Mock::given(method("GET"))
                .respond_with(reply)
                .mount(&server)
                .await;
            let base = url::Url::parse(&server.uri()).expect("uri");
            let Some(inputs) = crate::example_inputs(provider, example) else {
                continue;
            };
            let task = crate::example_task(provider, example);
            let task = task.as_str();
            let request = Request {
                task_id: task,
                inputs: &inputs,
                base_url: Some(&base),
                credentials: &credentials,
                quota: None,
            };
            let interpreted = http.fetch(provider, request).await;
            let generated = unitask::providers::status(&provider.id, &http, request)
                .await
                .expect("generated client exists");
            assert_eq!(
                generated, interpreted,
                "{} example `{}`",
                provider.id, example.name
            );
        }
        // Refusals agree too.
        let bad: Inputs = [("nope", "1")].into_iter().collect();
        let request = Request {
            task_id: "t-1",
            inputs: &bad,
            base_url: None,
            credentials: &credentials,
            quota: None,
        };
        let interpreted = http.fetch(provider, request).await;
        let generated = unitask::providers::status(&provider.id, &http, request)
            .await
            .expect("generated client exists");
        assert_eq!(
            generated.expect_err("refused").message,
            interpreted.expect_err("refused").message
        );
    }
}
