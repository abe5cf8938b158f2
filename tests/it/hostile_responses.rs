//! Hostile answers and hostile credentials: bodies far past the size limit, deeply nested,
//! cut at every byte, labelled HTML, or dribbled one byte at a time; credentials carrying line
//! breaks. Each gives a typed error with an excerpt (or the task, when it is one), never a
//! panic and never a hang, and nothing injected reaches the wire.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use unitask::http::transport::{Fetched, Request};
use unitask::model::{Expectation, Provider};
use unitask::runtime::{self, normalize::Response};
use unitask::{Engine, ErrorKind, Inputs, RetryPolicy, Transport, TransportConfig};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn builtin() -> Vec<Provider> {
    let engine = Engine::builtin().expect("built-ins");
    engine.iter().map(|l| (*l.provider).clone()).collect()
}

fn one_attempt(timeout: Duration) -> Transport {
    Transport::new(TransportConfig {
        timeout,
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..TransportConfig::default()
    })
    .expect("client")
}

/// A loopback server that reads one request and hands the socket to `answer`; returns its
/// address and what `answer` returned.
async fn raw_server<F, Fut, T>(answer: F) -> (url::Url, tokio::task::JoinHandle<T>)
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + Send,
    T: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = url::Url::parse(&format!(
        "http://{}",
        listener.local_addr().expect("address")
    ))
    .expect("url");
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut request = [0u8; 8192];
        let _ = socket.read(&mut request).await;
        answer(socket).await
    });
    (url, task)
}

/// 64 MiB of JSON sent chunked (no length to refuse it by): the client stops at its 4 MiB limit
/// and hangs up, so the server cannot write much more than the limit and the kernel's buffers.
#[tokio::test]
async fn a_body_far_past_the_limit_is_cut_off_not_read() {
    let church = crate::status::provider("church-tech");
    let (base, server) = raw_server(|mut socket| async move {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await.expect("head");
        let chunk = vec![b' '; 64 * 1024];
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        let mut written = 0usize;
        while written < 64 * 1024 * 1024 {
            if socket.write_all(&framed).await.is_err() {
                break;
            }
            written += chunk.len();
        }
        written
    })
    .await;
    let result = one_attempt(Duration::from_secs(20))
        .fetch(
            &church,
            Request {
                task_id: "u-1",
                inputs: &Inputs::new(),
                base_url: Some(&base),
                credentials: &crate::credentials_with(&church, "t"),
                quota: None,
            },
        )
        .await;
    let error = result.expect_err("too large");
    assert_eq!(error.kind, ErrorKind::Decode, "{error}");
    assert!(
        error.message.contains("larger than 4194304 bytes"),
        "{error}"
    );
    let written = server.await.expect("server");
    assert!(
        written < 32 * 1024 * 1024,
        "the server wrote {written} bytes before the client hung up"
    );
}

/// A 3 MB answer inside the limit is read whole: 20,000 files, every one in the task.
#[tokio::test]
async fn a_large_body_inside_the_limit_is_read_whole() {
    let shoplazza = crate::status::provider("shoplazza");
    let files: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            serde_json::json!({
                "file_uri": format!("{i:032x}.jpeg"),
                "origin_link": format!("https://images.example.com/{i}.jpg"),
                "upload_link": format!("https://cdn.shoplazza.com/{i:032x}.jpeg"),
            })
        })
        .collect();
    let body = serde_json::json!({
        "task_id": "t-1", "total": 20_000, "finished": 20_000, "status": 0,
        "success_list": files, "failure_list": [], "origin_list": [],
    });
    let bytes = serde_json::to_vec(&body).expect("json");
    assert!(bytes.len() > 3_000_000, "{} bytes", bytes.len());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(bytes, "application/json"))
        .mount(&server)
        .await;
    let base = url::Url::parse(&server.uri()).expect("url");
    let result = one_attempt(Duration::from_secs(20))
        .fetch(
            &shoplazza,
            Request {
                task_id: "t-1",
                inputs: &Inputs::new(),
                base_url: Some(&base),
                credentials: &crate::credentials_with(&shoplazza, "t"),
                quota: None,
            },
        )
        .await;
    let task = result.expect("a task");
    assert_eq!(task.files.len(), 20_000);
    assert_eq!(task.state, unitask::State::Succeeded);
}

/// A million nested arrays, or objects, where a task belongs: a decode error with an excerpt
/// (the parser's depth limit), on the test's ordinary thread stack, for every provider, whatever
/// the status.
#[test]
fn deeply_nested_json_is_a_decode_error_not_an_overflow() {
    let arrays = "[".repeat(1_000_000);
    let objects = "{\"a\":".repeat(200_000);
    for provider in builtin() {
        for body in [arrays.as_bytes(), objects.as_bytes()] {
            let ok = runtime::normalize(
                &provider,
                "t",
                Response {
                    status: 200,
                    headers: &[],
                    body,
                },
            );
            let error = ok.expect_err("not a task");
            assert_eq!(error.kind, ErrorKind::Decode, "{}: {error}", provider.id);
            let excerpt = error.excerpt.expect("an excerpt");
            assert!(
                excerpt.chars().count() == 201 && excerpt.ends_with('…'),
                "{excerpt}"
            );
            // A failure status keeps its own kind: the body is only read for its message.
            let failed = runtime::normalize(
                &provider,
                "t",
                Response {
                    status: 503,
                    headers: &[],
                    body,
                },
            );
            assert_eq!(failed.expect_err("503").kind, ErrorKind::Server);
        }
    }
}

/// Every example body of every provider, cut at every byte: a task (where the cut still reads
/// as one) or a typed error with an excerpt of exactly what came.
#[test]
fn every_cut_of_every_example_is_a_task_or_a_typed_error() {
    let mut cuts = 0;
    for provider in builtin() {
        for example in &provider.examples {
            let response = &example.response;
            let success = matches!(example.expect, Expectation::Task(_));
            for end in 0..response.body.len() {
                let body = &response.body[..end];
                cuts += 1;
                let answer = runtime::normalize(
                    &provider,
                    "t",
                    Response {
                        status: response.status,
                        headers: &response.headers,
                        body,
                    },
                );
                if let Err(error) = answer {
                    if success && serde_json::from_slice::<serde_json::Value>(body).is_err() {
                        assert_eq!(error.kind, ErrorKind::Decode, "{} {end}", example.name);
                    }
                    if let Some(excerpt) = &error.excerpt {
                        let shown = excerpt.trim_end_matches('…');
                        assert!(
                            String::from_utf8_lossy(body).starts_with(shown),
                            "{}: {excerpt:?}",
                            example.name
                        );
                    }
                }
            }
        }
    }
    assert!(cuts > 5_000, "{cuts} cuts");
}

/// A login page where JSON belongs (a captive portal or a proxy answering for the API): a
/// decode error that names the Content-Type and quotes the page. The label alone is not
/// trusted either way: JSON labelled `text/plain` reads as JSON.
#[tokio::test]
async fn an_html_page_is_named_and_a_mislabelled_json_body_is_read() {
    let html = "<!DOCTYPE html><html><body><h1>Sign in to the Wi-Fi</h1></body></html>";
    // A HEAD's answer has no body to mislabel.
    let with_bodies = builtin()
        .into_iter()
        .filter(|p| p.request.method != unitask::spec::Method::Head);
    for provider in with_bodies {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(html.as_bytes(), "text/html; charset=utf-8"),
            )
            .mount(&server)
            .await;
        let base = url::Url::parse(&server.uri()).expect("url");
        let example = provider
            .examples
            .iter()
            .find(|e| {
                e.response.status == 200
                    && matches!(e.expect, Expectation::Task(_))
                    && crate::example_inputs(&provider, e).is_some()
            })
            .expect("a successful example");
        let inputs = crate::example_inputs(&provider, example).expect("inputs");
        let task_id = provider.example_task_id(example).to_owned();
        let client = one_attempt(Duration::from_secs(5));
        let credentials = crate::credentials_with(&provider, "t");
        let result = client
            .fetch(
                &provider,
                Request {
                    task_id: &task_id,
                    inputs: &inputs,
                    base_url: Some(&base),
                    credentials: &credentials,
                    quota: None,
                },
            )
            .await;
        let error = result.expect_err("not JSON");
        assert_eq!(error.kind, ErrorKind::Decode, "{}: {error}", provider.id);
        assert!(
            error
                .message
                .contains("(Content-Type: text/html; charset=utf-8)"),
            "{}: {}",
            provider.id,
            error.message
        );
        assert!(
            error
                .excerpt
                .as_deref()
                .is_some_and(|e| e.contains("Sign in"))
        );

        server.reset().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(example.response.body.clone(), "text/plain"),
            )
            .mount(&server)
            .await;
        let result = client
            .fetch(
                &provider,
                Request {
                    task_id: &task_id,
                    inputs: &inputs,
                    base_url: Some(&base),
                    credentials: &credentials,
                    quota: None,
                },
            )
            .await;
        let expected = runtime::normalize(
            &provider,
            &task_id,
            Response {
                status: 200,
                headers: &[],
                body: &example.response.body,
            },
        );
        assert_eq!(
            result.map(|t| t.state),
            expected.map(|t| t.state),
            "{}",
            provider.id
        );
    }
}

/// Headers, then one byte of the body every 50 ms: the client's timeout covers the whole answer,
/// so the drip ends with a timeout instead of holding the task forever. A server that accepts
/// and never answers ends the same way.
#[tokio::test]
async fn a_dribbling_or_silent_server_ends_in_a_timeout() {
    let hubspot = crate::status::provider("hubspot");
    let dribble = |mut socket: tokio::net::TcpStream| async move {
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
        let _ = socket.write_all(head.as_bytes()).await;
        for _ in 0..2_000 {
            if socket.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let silent = |socket: tokio::net::TcpStream| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(socket);
    };
    let (dribbling, first) = raw_server(dribble).await;
    let (quiet, second) = raw_server(silent).await;
    for base in [dribbling, quiet] {
        let started = std::time::Instant::now();
        let result = one_attempt(Duration::from_millis(500))
            .fetch(
                &hubspot,
                Request {
                    task_id: "t-1",
                    inputs: &Inputs::new(),
                    base_url: Some(&base),
                    credentials: &crate::credentials_with(&hubspot, "t"),
                    quota: None,
                },
            )
            .await;
        let error = result.expect_err("timed out");
        assert_eq!(error.kind, ErrorKind::Timeout, "{base}: {error}");
        assert!(error.retryable);
        // A guard against a hang, not a measurement: the drip alone would take 100 s.
        assert!(started.elapsed() < Duration::from_secs(30), "{base}");
    }
    first.abort();
    second.abort();
}

/// A credential carrying a line break (a pasted token with its newline, or an attempt to add a
/// header): refused before any request wherever it would go into a header, and the message
/// names the credential without showing it; in a query it is percent-encoded and arrives intact.
#[tokio::test]
async fn a_credential_with_a_line_break_never_reaches_a_header() {
    const INJECTED: &str = "tok3n\r\nX-Injected: yes";
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let base = url::Url::parse(&server.uri()).expect("url");
    let mut engine = Engine::builtin().expect("built-ins");
    engine
        .load_paths(&[crate::at("tests/fixtures/valid")])
        .expect("fixtures");
    let client = one_attempt(Duration::from_secs(5));
    let mut schemes = std::collections::BTreeSet::new();
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        // Every required input, from the examples or made up: the request must get built.
        let mut inputs: Inputs = provider.sample_inputs().into_iter().collect();
        for input in &provider.inputs {
            let needed = input.required
                && input.location != unitask::spec::InputLocation::Host
                && input.name != provider.task_id_input().name;
            if needed && inputs.get(&input.name).is_none() {
                inputs.set(input.name.as_str(), "1");
            }
        }
        let credentials = crate::credentials_with(provider, INJECTED);
        let before = server.received_requests().await.unwrap_or_default().len();
        // A task id the definition takes, so only the credential can be refused.
        let task_id = provider
            .examples
            .first()
            .map_or("t-1", |e| provider.example_task_id(e))
            .to_owned();
        let Fetched {
            result, attempts, ..
        } = client
            .fetch_detailed(
                provider,
                Request {
                    task_id: &task_id,
                    inputs: &inputs,
                    base_url: Some(&base),
                    credentials: &credentials,
                    quota: None,
                },
                false,
            )
            .await;
        let after = server.received_requests().await.unwrap_or_default();
        let scheme = match crate::test_scheme(&provider.auth) {
            unitask::model::Auth::None => continue,
            unitask::model::Auth::Query { param, .. } => {
                // Sent, encoded: the server sees the exact secret in its parameter, no header.
                assert_eq!(after.len(), before + 1, "{}: not sent", provider.id);
                let request = after.last().expect("sent");
                assert!(
                    request
                        .url
                        .query_pairs()
                        .any(|(k, v)| k == param.as_str() && v == INJECTED),
                    "{}",
                    provider.id
                );
                assert!(request.headers.get("x-injected").is_none());
                "query"
            }
            // Base64 carries any byte: the header itself stays clean.
            unitask::model::Auth::Basic { .. } => {
                assert_eq!(after.len(), before + 1, "{}: not sent", provider.id);
                let request = after.last().expect("sent");
                assert!(request.headers.get("x-injected").is_none());
                "basic"
            }
            unitask::model::Auth::Bearer { .. } | unitask::model::Auth::Header { .. } => {
                let error = result.expect_err("refused");
                assert_eq!(
                    (error.kind, attempts),
                    (ErrorKind::InvalidRequest, 0),
                    "{}",
                    provider.id
                );
                assert_eq!(after.len(), before, "{}: a request was sent", provider.id);
                let shown = format!("{error} {error:?}");
                assert!(shown.contains("the credential"), "{shown}");
                assert!(
                    !shown.contains("tok3n") && !shown.contains("X-Injected"),
                    "{shown}"
                );
                "header"
            }
            // Granted or signed: the secret is exchanged or hashed, never a header of its own,
            // and no error shows it.
            other => {
                assert!(
                    after.iter().all(|r| r.headers.get("x-injected").is_none()),
                    "{}",
                    provider.id
                );
                if let Err(error) = &result {
                    let shown = format!("{error} {error:?}");
                    assert!(!shown.contains("X-Injected"), "{shown}");
                }
                other.name()
            }
        };
        schemes.insert(scheme);
    }
    assert_eq!(
        schemes.into_iter().collect::<Vec<_>>(),
        [
            "acs3_hmac_sha256",
            "aws_sigv4",
            "azure_shared_key",
            "basic",
            "header",
            "query"
        ]
    );
}
