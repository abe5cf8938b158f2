use std::process::Output;

use serde_json::{Value, json};
use unitask::model::Expectation;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::root;
use crate::status::SECRET;

/// Runs the real binary with `env`, off the async runtime so the mock server keeps serving.
async fn unitask(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_unitask"))
            .args(&args)
            .envs(env)
            .env_remove("RUST_LOG")
            .current_dir(root())
            .output()
            .expect("run unitask")
    })
    .await
    .expect("join")
}

/// Runs the real binary with `env` at `RUST_LOG=trace`; all it wrote, stdout then stderr.
async fn output_at_trace(args: Vec<String>, mut env: Vec<(String, String)>) -> String {
    env.push(("RUST_LOG".into(), "trace".into()));
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_unitask"))
            .args(&args)
            .envs(env)
            .current_dir(root())
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn secret_env(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| ((*n).to_owned(), crate::credential_value(n, SECRET)))
        .collect()
}

/// Every variable a built-in provider reads its credential from.
fn env_names() -> Vec<&'static str> {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            let engine = crate::builtin_unlimited();
            let mut names: Vec<String> = engine
                .iter()
                .flat_map(|l| crate::test_scheme(&l.provider.auth).env_names())
                .map(str::to_owned)
                .collect();
            names.sort();
            names.dedup();
            names
        })
        .iter()
        .map(String::as_str)
        .collect()
}

async fn serve(status: u16, headers: &[(String, String)], body: &[u8]) -> MockServer {
    let server = MockServer::start().await;
    let mut reply = ResponseTemplate::new(status).set_body_bytes(body.to_vec());
    for (name, value) in headers {
        reply = reply.insert_header(name.as_str(), value.as_str());
    }
    // Whatever the definition's method (a HEAD, an empty PUT).
    Mock::given(wiremock::matchers::any())
        .respond_with(reply)
        .mount(&server)
        .await;
    server
}

/// A server that answers with `example`, and the `status --json` arguments that ask it for the
/// example's task (`None` when a required input cannot be found in the provider's examples).
async fn play(
    provider: &unitask::model::Provider,
    example: &unitask::model::Example,
    extra: &[&str],
) -> Option<(MockServer, Vec<String>)> {
    let inputs = crate::example_inputs(provider, example)?;
    let server = serve(
        example.response.status,
        &example.response.headers,
        &example.response.body,
    )
    .await;
    let mut args = vec![
        "status".to_owned(),
        provider.id.clone(),
        crate::example_task(provider, example),
        "--json".into(),
        "--base-url".into(),
        server.uri(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    for (name, value) in inputs.iter() {
        args.extend(["--param".to_owned(), format!("{name}={value}")]);
    }
    Some((server, args))
}

/// Each seed provider, each documented state: `status --json` gives the example's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_matches_every_documented_state() {
    let engine = crate::builtin_unlimited();
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        for example in &provider.examples {
            let Expectation::Task(expected) = &example.expect else {
                continue;
            };
            let Some((_server, args)) = play(provider, example, &[]).await else {
                continue;
            };
            let output = unitask(args, secret_env(&env_names())).await;
            assert_eq!(
                output.status.code(),
                Some(0),
                "{} {}: {}",
                provider.id,
                example.name,
                String::from_utf8_lossy(&output.stderr)
            );
            let got: Value = serde_json::from_slice(&output.stdout).expect("json");
            assert_eq!(got["provider"], json!(provider.id));
            for key in ["state", "native_status", "progress", "files", "errors"] {
                let mut want = expected.get(key).cloned().unwrap_or(match key {
                    "files" | "errors" => json!([]),
                    _ => Value::Null,
                });
                // An example leaves out the keys of a file, an error or a progress that are
                // null.
                if let (Value::Object(item), Value::Object(read)) = (&mut want, &got[key]) {
                    for name in read.keys() {
                        item.entry(name.clone()).or_insert(Value::Null);
                    }
                }
                if let (Value::Array(items), Value::Array(read)) = (&mut want, &got[key]) {
                    for (item, read) in items.iter_mut().zip(read) {
                        if let (Value::Object(item), Value::Object(read)) = (item, read) {
                            for name in read.keys() {
                                item.entry(name.clone()).or_insert(Value::Null);
                            }
                        }
                    }
                }
                assert_eq!(got[key], want, "{} {}: `{key}`", provider.id, example.name);
            }
            for key in [
                "id",
                "terminal",
                "created_at",
                "started_at",
                "updated_at",
                "completed_at",
                "extra",
                "raw",
            ] {
                assert!(got.get(key).is_some(), "`{key}` is always printed");
            }
        }
    }
}

/// A definition that was never compiled in answers through `--definitions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_loaded_at_run_time_are_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(crate::at("tests/fixtures/valid/presence-jobs.yaml"))
        .expect("fixture")
        .replace("id: presence-jobs", "id: my-exports");
    std::fs::write(dir.path().join("my-exports.yaml"), text).expect("write");
    let server = serve(
        200,
        &[],
        br#"{"started": 1714644000500, "result": {"files": []}}"#,
    )
    .await;
    let args = vec![
        "status".into(),
        "my-exports".into(),
        "e-1".into(),
        "--param".into(),
        "account=42".into(),
        "--base-url".into(),
        server.uri(),
        "--definitions".into(),
        dir.path().display().to_string(),
        "--json".into(),
    ];
    let output = unitask(args, secret_env(&["EXPORTS_TOKEN"])).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        (got["state"].as_str(), got["native_status"].as_str()),
        (Some("succeeded"), Some("result"))
    );
    assert_eq!(got["started_at"], "2024-05-02T10:00:00.5Z");
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests[0].url.path(), "/accounts/42/exports/e-1");
    assert_eq!(requests[0].url.query(), Some("status&format=json"));
}

/// An invalid run-time definition stops `status` with the same diagnostics as `validate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_run_time_definition_is_a_usage_error() {
    let fixture = crate::at("tests/fixtures/invalid/ut101-invalid-jsonpath.yaml");
    let args = vec![
        "status".into(),
        "hubspot".into(),
        "t-1".into(),
        "--definitions".into(),
        fixture.display().to_string(),
    ];
    let output = unitask(args, Vec::new()).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("error[UT101]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_failed_requests_from_usage_errors() {
    let not_found = serve(404, &[], br#"{"error": "Upload not found"}"#).await;
    let base = not_found.uri();
    type Case<'a> = (Vec<&'a str>, Vec<(String, String)>, i32);
    let cases: Vec<Case> = vec![
        (
            vec!["status", "church-tech", "u-1", "--base-url", &base],
            secret_env(&env_names()),
            1,
        ),
        (
            vec!["status", "church-tech", "..", "--base-url", &base],
            secret_env(&env_names()),
            2,
        ),
        (
            vec!["status", "church-tech", "u-1", "--base-url", &base],
            Vec::new(),
            2,
        ),
        (vec!["status", "nobody", "u-1"], secret_env(&env_names()), 2),
        (
            vec!["status", "church-tech", "u-1", "--param", "oops"],
            secret_env(&env_names()),
            2,
        ),
        (
            vec![
                "status",
                "hubspot",
                "t-1",
                "--base-url",
                "http://api.hubapi.com",
            ],
            secret_env(&env_names()),
            2,
        ),
    ];
    for (args, env, code) in cases {
        let output = unitask(args.iter().map(|a| (*a).to_owned()).collect(), env).await;
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let requests = not_found.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1, "only the valid request was sent");
}

/// A server answering `status` with the credential it was sent echoed back, in a JSON body
/// (which reads as a task with a `PROCESSING` status) or as text.
fn echo(status: u16, json: bool) -> impl Fn(&wiremock::Request) -> ResponseTemplate {
    move |request: &wiremock::Request| {
        let auth = request
            .headers
            .get("authorization")
            .or_else(|| request.headers.get("access-token"));
        let auth = auth
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = format!("you sent {auth} to {}", request.url);
        if json {
            ResponseTemplate::new(status).set_body_json(
                json!({"status": "PROCESSING", "confirmed": false, "error": text, "message": text}),
            )
        } else {
            ResponseTemplate::new(status).set_body_string(text)
        }
    }
}

/// With `RUST_LOG=trace`, no output of any run contains the secret in any form, in any auth
/// scheme: on success, on failure, on a refused redirect, on a closed port, and against servers
/// that echo the credential back in an error message, a non-JSON body, a retried 503 and a 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_any_output_even_at_trace() {
    use base64::Engine as _;
    let ok = serve(200, &[], br#"{"status": "PROCESSING", "taskId": "t-1", "confirmed": false, "total": 2, "finished": 1}"#).await;
    let limited = serve(
        429,
        &[("Retry-After".into(), "3600".into())],
        br#"{"status": "error"}"#,
    )
    .await;
    let redirect = serve(
        302,
        &[("Location".into(), "http://localhost:9/steal".into())],
        b"",
    )
    .await;
    let mut bases: Vec<String> = [&ok, &limited, &redirect].iter().map(|s| s.uri()).collect();
    let mut echoes = Vec::new();
    for (status, json) in [(401, true), (500, false), (503, true), (200, true)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(echo(status, json))
            .mount(&server)
            .await;
        bases.push(server.uri());
        echoes.push(server);
    }
    bases.push({
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("address"))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let basic = std::fs::read_to_string(crate::at("tests/fixtures/valid/tagged-jobs.yaml"))
        .expect("fixture");
    std::fs::write(dir.path().join("tagged-jobs.yaml"), basic).expect("write");
    let basic_token =
        base64::engine::general_purpose::STANDARD.encode(format!("{SECRET}:{SECRET}"));
    let encoded = "s3cr3t-T0ken%2B%2F%3D";
    for base in &bases {
        for (provider, extra) in [
            ("hubspot", vec![]),
            ("shoplazza", vec![]),
            ("tencent-smh", vec!["--param", "library_id=lib1"]),
            ("church-tech", vec![]),
            (
                "tagged-jobs",
                vec!["--definitions", dir.path().to_str().expect("utf-8")],
            ),
        ] {
            for json in [false, true] {
                let mut args: Vec<String> = [
                    "status",
                    provider,
                    "t-1",
                    "--base-url",
                    base,
                    "--max-attempts",
                    "2",
                ]
                .iter()
                .map(|a| (*a).to_owned())
                .collect();
                args.extend(extra.iter().map(|a| (*a).to_owned()));
                if json {
                    args.push("--json".into());
                }
                let mut env = secret_env(&env_names());
                env.extend(secret_env(&["JOBS_USER", "JOBS_PASSWORD"]));
                let all = output_at_trace(args, env).await;
                assert!(
                    all.contains("TRACE") || all.contains("DEBUG"),
                    "{provider}: logs were written"
                );
                for needle in [SECRET, encoded, "s3cr3t", basic_token.as_str()] {
                    assert!(
                        !all.contains(needle),
                        "{provider} at {base}: `{needle}` leaked:\n{all}"
                    );
                }
            }
        }
    }
    for server in echoes {
        assert!(
            !server
                .received_requests()
                .await
                .expect("recorded")
                .is_empty(),
            "the echo servers were asked"
        );
    }
}

/// An HTTP proxy in the environment never sees a plain-http request (it would read the
/// credential in clear); only https may go through a proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_never_goes_through_a_proxy() {
    let proxy = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(0)
        .mount(&proxy)
        .await;
    let target = serve(200, &[], br#"{"status": "QUEUED"}"#).await;
    let mut env = secret_env(&env_names());
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
    ] {
        env.push((name.into(), proxy.uri()));
    }
    let args = vec![
        "status".into(),
        "church-tech".into(),
        "u-1".into(),
        "--base-url".into(),
        target.uri(),
        "--json".into(),
    ];
    let output = unitask(args, env).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(target.received_requests().await.expect("recorded").len(), 1);
    proxy.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_human_summary_is_short_and_complete() {
    let body = br#"{"task_id": "t-1", "total": 2, "finished": 1, "status": 0,
        "success_list": [{"file_uri": "a.png", "origin_link": "https://x/a.png", "upload_link": "https://cdn/a.png"}],
        "failure_list": ["https://x/b.png"]}"#;
    let server = serve(200, &[], body).await;
    let args = vec![
        "status".into(),
        "shoplazza".into(),
        "t-1".into(),
        "--base-url".into(),
        server.uri(),
    ];
    let output = unitask(args, secret_env(&env_names())).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "shoplazza t-1: partial, final (native 0, Completed)\n  progress   1 of 2 items\n  file       a.png  https://cdn/a.png\n  error      the file could not be uploaded (https://x/b.png)\n"
    );
}

/// `--save-example` prints the answer as an `examples:` entry: the status, the headers the
/// definition reads, the body and what it produced, with the credential (echoed in the body and
/// a header) redacted; pasted into the definition, it validates.
#[tokio::test]
async fn save_example_prints_a_redacted_entry_that_validates() {
    let echoed = format!(
        r#"{{"status": "error", "message": "token {SECRET} is rate limited", "errorType": "RATE_LIMIT"}}"#
    );
    let headers = vec![
        ("Retry-After".to_owned(), "3".to_owned()),
        ("X-Echo".to_owned(), SECRET.to_owned()),
    ];
    let server = serve(429, &headers, echoed.as_bytes()).await;
    let args = vec![
        "status".into(),
        "hubspot".into(),
        "t-9".into(),
        "--max-attempts".into(),
        "1".into(),
        "--save-example".into(),
        "rate-limited-live".into(),
        "--base-url".into(),
        server.uri(),
    ];
    let output = unitask(args, secret_env(&env_names())).await;
    assert_eq!(output.status.code(), Some(1));
    let entry = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !entry.contains(SECRET) && !stderr.contains(SECRET),
        "{entry}{stderr}"
    );
    for expected in [
        "  - name: rate-limited-live\n",
        "      task_id: \"t-9\"\n",
        "      status: 429\n",
        "        retry-after: \"3\"\n",
        "token *** is rate limited",
        "    expect_error:\n      kind: rate_limited\n      code: RATE_LIMIT\n",
        "      retry_after: 3\n",
    ] {
        assert!(entry.contains(expected), "no {expected:?} in:\n{entry}");
    }
    // Headers the definition does not read stay out.
    assert!(!entry.contains("X-Echo"), "{entry}");
    let text = std::fs::read_to_string(root().join("providers/hubspot.yaml")).expect("hubspot");
    let pasted = text.replacen("\nexamples:\n", &format!("\nexamples:\n{entry}"), 1);
    assert_ne!(pasted, text);
    if let Err(report) = unitask::validate::check_source("hubspot.yaml", Some("hubspot"), &pasted) {
        panic!("{}\n{entry}", report.render_human(false));
    }
}

/// Files print what they have (never a placeholder), and `extra` values print by name.
#[tokio::test]
async fn the_human_summary_shows_files_as_they_are_and_extra_values() {
    let body = br#"{"confirmed": false, "path": ["foo", "DCIM001.mp4"], "type": "video",
        "creationTime": "2021-02-01T08:15:58.000Z", "parts": [{"Size": 5}, {"Size": 7}]}"#;
    let server = serve(200, &[], body).await;
    let args = vec![
        "status".into(),
        "tencent-smh".into(),
        "k-1".into(),
        "--param".into(),
        "library_id=lib1".into(),
        "--base-url".into(),
        server.uri(),
    ];
    let output = unitask(args, secret_env(&env_names())).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "tencent-smh k-1: running (native confirmed=false)\n  progress   12 bytes\n  created    2021-02-01T08:15:58Z\n  file       DCIM001.mp4  at foo/DCIM001.mp4\n  extra      type: video\n  extra      parts_uploaded: 2\n"
    );
}

/// For every seed provider and every example, `--engine generated` and `--engine interpreted`
/// print the same bytes, tasks and errors alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_print_the_same_bytes() {
    let engine = crate::builtin_unlimited();
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        for example in &provider.examples {
            let Some((_server, args)) = play(provider, example, &["--max-attempts", "1"]).await
            else {
                continue;
            };
            let mut outputs = Vec::new();
            for engine in ["generated", "interpreted"] {
                let mut with_engine = args.clone();
                with_engine.extend(["--engine".to_owned(), engine.to_owned()]);
                outputs.push(unitask(with_engine, secret_env(&env_names())).await);
            }
            assert_eq!(
                outputs[0].status.code(),
                outputs[1].status.code(),
                "{} {}",
                provider.id,
                example.name
            );
            assert!(!outputs[0].stdout.is_empty());
            assert!(
                outputs[0].stdout == outputs[1].stdout,
                "{} {}: the engines differ",
                provider.id,
                example.name
            );
        }
    }
}

/// OAuth at `RUST_LOG=trace`: with every grant, neither the grant's secrets (client secret,
/// refresh token, the private key) nor the access tokens it brings reach any output, when the
/// API echoes the token back in a 401 (the token is then replaced once), a 500 and a 200, with
/// and without `--json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_and_grant_secrets_never_reach_any_output_even_at_trace() {
    const ACCESS: &str = "acc3ss-T0KEN-value";
    const ROTATED: &str = "r0tated-REFRESH-value";
    let tokens = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": ROTATED,
        })))
        .mount(&tokens)
        .await;
    let mut apis = Vec::new();
    for (status, json) in [(401, true), (500, false), (200, true)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(echo(status, json))
            .mount(&server)
            .await;
        apis.push(server);
    }
    let private_key = include_str!("../../src/sandbox/keys/service-account.pem");
    // A line from the middle of the key: any piece of it would be a leak.
    let key_line = private_key.lines().nth(5).expect("a PEM body").to_owned();
    let grants = [
        (
            "client_credentials",
            "client_id_env: OAUTH_CLIENT_ID\n    client_secret_env: OAUTH_CLIENT_SECRET",
        ),
        (
            "refresh_token",
            "client_id_env: OAUTH_CLIENT_ID\n    refresh_token_env: OAUTH_REFRESH_TOKEN",
        ),
        (
            "jwt_bearer",
            "issuer_env: OAUTH_CLIENT_ID\n    private_key_env: OAUTH_PRIVATE_KEY",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (grant, fields) in grants {
        let id = format!("oauth-{}", grant.replace('_', "-"));
        let definition = format!(
            "id: {id}
name: OAuth {grant}
base_url: https://api.example.com
inputs:
  task_id:
    in: path
    role: task_id
request:
  path: /tasks/{{task_id}}
auth:
  oauth2:
    grant: {grant}
    token_url: https://login.example.com/oauth2/token
    {fields}
response:
  state:
    native:
      string: $.status
    documented: [PROCESSING, DONE]
    map:
      PROCESSING: running
      DONE: succeeded
examples:
  - name: done
    response:
      body: {{status: DONE}}
    expect:
      state: succeeded
      native_status: DONE
"
        );
        std::fs::write(dir.path().join(format!("{id}.yaml")), definition).expect("write");
        for api in &apis {
            for json in [false, true] {
                let mut args: Vec<String> = vec![
                    "status".into(),
                    id.clone(),
                    "t-1".into(),
                    "--base-url".into(),
                    api.uri(),
                    "--auth-url".into(),
                    format!("{}/token", tokens.uri()),
                    "--max-attempts".into(),
                    "2".into(),
                    "--definitions".into(),
                    dir.path().display().to_string(),
                ];
                if json {
                    args.push("--json".into());
                }
                let env = vec![
                    ("OAUTH_CLIENT_ID".to_owned(), "client-id".to_owned()),
                    ("OAUTH_CLIENT_SECRET".to_owned(), SECRET.to_owned()),
                    ("OAUTH_REFRESH_TOKEN".to_owned(), SECRET.to_owned()),
                    ("OAUTH_PRIVATE_KEY".to_owned(), private_key.to_owned()),
                ];
                let all = output_at_trace(args, env).await;
                let label = format!("{grant} against a {} echo", api.uri());
                assert!(all.contains("TRACE"), "{label}: logs were written:\n{all}");
                for needle in [SECRET, "s3cr3t", ACCESS, ROTATED, key_line.as_str()] {
                    assert!(!all.contains(needle), "{label}: `{needle}` leaked:\n{all}");
                }
            }
        }
    }
    let asked = tokens.received_requests().await.expect("recorded").len();
    // Each run fetched a token, and a 401 made each of those runs fetch a replacement.
    assert!(
        asked >= 3 * 3 * 2,
        "the token endpoint was asked {asked} times"
    );
}
