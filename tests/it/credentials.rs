use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use unitask::http::transport::{Fetched, Request};
use unitask::model::Provider;
use unitask::{Credentials, Engine, ErrorKind, Inputs, RetryPolicy, Transport, TransportConfig};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request as Received, Respond, ResponseTemplate};

const CLIENT_SECRET: &str = "cl13nt-S3CRET+/=";
const PRIVATE_KEY: &str = include_str!("../../src/sandbox/keys/service-account.pem");
const PUBLIC_KEY: &str = include_str!("../../src/sandbox/keys/service-account.pub.pem");

/// A definition of a task API at `https://api.example.com` with `auth` (indented YAML).
fn definition(auth: &str) -> Provider {
    let text = format!(
        "id: creds-jobs
name: Credentials fixture
base_url: https://api.example.com
inputs:
  task_id:
    in: path
    role: task_id
  region:
    in: query
    required: false
request:
  path: /tasks/{{task_id}}
auth:
{auth}
response:
  state:
    native:
      string: $.status
    documented: [RUNNING, DONE]
    map:
      RUNNING: running
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
    let mut engine = Engine::empty();
    engine.load_str("creds-jobs.yaml", &text).expect("valid");
    (*engine.get("creds-jobs").expect("loaded").provider).clone()
}

fn client(attempts: u32) -> Transport {
    Transport::new(TransportConfig {
        retry: RetryPolicy {
            max_attempts: attempts,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        timeout: Duration::from_secs(5),
        ..TransportConfig::default()
    })
    .expect("client")
}

fn base(server: &MockServer) -> url::Url {
    url::Url::parse(&server.uri()).expect("url")
}

/// A token endpoint that hands out `tok-1`, `tok-2`, … living `lifetime` seconds.
struct Issuer {
    issued: Arc<AtomicUsize>,
    lifetime: u64,
}

impl Respond for Issuer {
    fn respond(&self, _: &Received) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("tok-{n}"),
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }))
    }
}

/// The task API: `DONE` for a bearer token among `accepted`, 401 otherwise.
struct Api {
    accepted: Vec<&'static str>,
}

impl Respond for Api {
    fn respond(&self, request: &Received) -> ResponseTemplate {
        let given = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if self.accepted.iter().any(|t| given == format!("Bearer {t}")) {
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"status": "DONE"}))
        } else {
            ResponseTemplate::new(401).set_body_json(serde_json::json!({"message": "bad token"}))
        }
    }
}

const CLIENT_CREDENTIALS: &str = "  oauth2:
    grant: client_credentials
    token_url: https://login.example.com/{EXAMPLE_TENANT}/oauth2/token
    client_id_env: EXAMPLE_CLIENT_ID
    client_secret_env: EXAMPLE_CLIENT_SECRET
    scopes: [https://api.example.com/.default]";

/// Fetches task `t1` from `server`'s API with `credentials`, and what it took.
async fn fetch_t1(
    client: &Transport,
    provider: &Provider,
    credentials: &Credentials,
    server: &MockServer,
) -> Fetched {
    let base = base(server);
    let request = Request {
        task_id: "t1",
        inputs: &Inputs::new(),
        base_url: Some(&base),
        credentials,
        quota: None,
    };
    client.fetch_detailed(provider, request, false).await
}

fn client_credentials(server: &MockServer) -> Credentials {
    let mut credentials = Credentials::new();
    credentials
        .set("EXAMPLE_TENANT", "tenant-1")
        .set("EXAMPLE_CLIENT_ID", "client-1")
        .set("EXAMPLE_CLIENT_SECRET", CLIENT_SECRET)
        .set_token_endpoint(base(server).join("/token").expect("url"));
    credentials
}

#[tokio::test]
async fn concurrent_polls_share_one_token_until_it_expires() {
    let server = MockServer::start().await;
    let issued = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Issuer {
            issued: issued.clone(),
            lifetime: 3600,
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/tasks/t1"))
        .respond_with(Api {
            accepted: vec!["tok-1"],
        })
        .mount(&server)
        .await;
    let provider = definition(CLIENT_CREDENTIALS);
    let credentials = client_credentials(&server);
    let client = client(1);
    let (url, none) = (base(&server), Inputs::new());
    let polls = (0..12).map(|_| {
        client.fetch(
            &provider,
            Request {
                task_id: "t1",
                inputs: &none,
                base_url: Some(&url),
                credentials: &credentials,
                quota: None,
            },
        )
    });
    for result in futures_util::future::join_all(polls).await {
        assert_eq!(result.expect("fetched").native_status, "DONE");
    }
    assert_eq!(client.tokens_fetched(), 1, "one token for twelve polls");
    assert_eq!(issued.load(Ordering::SeqCst), 1);

    // The token request: the client authenticates with basic auth, the scope in the body.
    let requests = server.received_requests().await.expect("recorded");
    let token_request = requests
        .iter()
        .find(|r| r.url.path() == "/token")
        .expect("a token request");
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("client-1:{}", url_form(CLIENT_SECRET)));
    assert_eq!(
        token_request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Basic {basic}").as_str())
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token_request.body)
        .into_owned()
        .collect();
    assert!(
        form.contains(&("grant_type".into(), "client_credentials".into())),
        "{form:?}"
    );
    assert!(
        form.contains(&("scope".into(), "https://api.example.com/.default".into())),
        "{form:?}"
    );
    assert!(!String::from_utf8_lossy(&token_request.body).contains("S3CRET"));
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before basic auth.
fn url_form(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    let server = MockServer::start().await;
    let issued = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Issuer {
            issued: issued.clone(),
            lifetime: 1,
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(Api {
            accepted: vec!["tok-1", "tok-2", "tok-3"],
        })
        .mount(&server)
        .await;
    let provider = definition(CLIENT_CREDENTIALS);
    let credentials = client_credentials(&server);
    let client = client(1);
    let (url, none) = (base(&server), Inputs::new());
    let fetch = || {
        client.fetch(
            &provider,
            Request {
                task_id: "t1",
                inputs: &none,
                base_url: Some(&url),
                credentials: &credentials,
                quota: None,
            },
        )
    };
    fetch().await.expect("first");
    fetch().await.expect("same token");
    assert_eq!(client.tokens_fetched(), 1);
    // A one-second token is renewed a fifth of its life early.
    tokio::time::sleep(Duration::from_millis(850)).await;
    fetch().await.expect("renewed");
    assert_eq!(client.tokens_fetched(), 2);
}

/// The task API: `503` at the first request, then as [`Api`].
struct BusyFirst {
    requests: AtomicUsize,
    then: Api,
}

impl Respond for BusyFirst {
    fn respond(&self, request: &Received) -> ResponseTemplate {
        if self.requests.fetch_add(1, Ordering::SeqCst) == 0 {
            ResponseTemplate::new(503).set_body_string("busy")
        } else {
            self.then.respond(request)
        }
    }
}

#[tokio::test]
async fn a_token_refused_on_a_retry_is_replaced_within_that_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Issuer {
            issued: Arc::new(AtomicUsize::new(0)),
            lifetime: 3600,
        })
        .mount(&server)
        .await;
    // 503 with tok-1, then tok-1 refused (revoked meanwhile), then tok-2 accepted.
    Mock::given(method("GET"))
        .respond_with(BusyFirst {
            requests: AtomicUsize::new(0),
            then: Api {
                accepted: vec!["tok-2"],
            },
        })
        .mount(&server)
        .await;
    let provider = definition(CLIENT_CREDENTIALS);
    let credentials = client_credentials(&server);
    let client = client(3);
    let fetched = fetch_t1(&client, &provider, &credentials, &server).await;
    assert_eq!(
        fetched.result.expect("fetched on the retry").native_status,
        "DONE"
    );
    assert_eq!(
        (
            fetched.attempts,
            client.requests_sent(),
            client.tokens_fetched()
        ),
        (2, 3, 2)
    );
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let server = MockServer::start().await;
    let issued = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Issuer {
            issued: issued.clone(),
            lifetime: 3600,
        })
        .mount(&server)
        .await;
    // The provider revoked tok-1 before its announced expiry.
    Mock::given(method("GET"))
        .respond_with(Api {
            accepted: vec!["tok-2"],
        })
        .mount(&server)
        .await;
    let provider = definition(CLIENT_CREDENTIALS);
    let credentials = client_credentials(&server);
    let client = client(1);
    let fetched = fetch_t1(&client, &provider, &credentials, &server).await;
    assert_eq!(
        fetched
            .result
            .expect("fetched with the new token")
            .native_status,
        "DONE"
    );
    assert_eq!(client.tokens_fetched(), 2);
    // The request made again with the new token is the same attempt, sent twice.
    assert_eq!(fetched.attempts, 1);
    assert_eq!(client.requests_sent(), 2);

    // A token refused again is an error, not a loop.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Issuer {
            issued: Arc::new(AtomicUsize::new(0)),
            lifetime: 3600,
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(Api { accepted: vec![] })
        .mount(&server)
        .await;
    let credentials = client_credentials(&server);
    let client = self::client(1);
    let result = fetch_t1(&client, &provider, &credentials, &server)
        .await
        .result;
    assert_eq!(result.expect_err("refused").kind, ErrorKind::Unauthorized);
    assert_eq!(
        client.tokens_fetched(),
        2,
        "one replacement, then the error"
    );
}

#[tokio::test]
async fn a_failed_grant_is_unauthorized_and_names_the_grant() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": format!("the secret {CLIENT_SECRET} is wrong"),
        })))
        .mount(&server)
        .await;
    let provider = definition(CLIENT_CREDENTIALS);
    let credentials = client_credentials(&server);
    let result = fetch_t1(&client(1), &provider, &credentials, &server)
        .await
        .result;
    let error = result.expect_err("refused");
    assert_eq!(error.kind, ErrorKind::Unauthorized);
    assert!(
        error.message.contains("client_credentials grant"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("invalid_client"),
        "{}",
        error.message
    );
    assert!(!error.message.contains("S3CRET"), "{}", error.message);
    // The API was never called without a token.
    let requests = server.received_requests().await.expect("recorded");
    assert!(requests.iter().all(|r| r.url.path() == "/token"));
}

#[tokio::test]
async fn a_token_endpoint_must_be_https_or_loopback() {
    let provider = definition(CLIENT_CREDENTIALS);
    let mut credentials = Credentials::new();
    credentials
        .set("EXAMPLE_TENANT", "t")
        .set("EXAMPLE_CLIENT_ID", "c")
        .set("EXAMPLE_CLIENT_SECRET", CLIENT_SECRET)
        .set_token_endpoint(url::Url::parse("http://login.example.com/token").expect("url"));
    let server = MockServer::start().await;
    let result = fetch_t1(&client(1), &provider, &credentials, &server)
        .await
        .result;
    let error = result.expect_err("refused");
    assert_eq!(error.kind, ErrorKind::Definition);
    assert!(error.message.contains("must be https"), "{}", error.message);
    assert!(
        server
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

/// Verifies a JWT bearer assertion with the key file's public key, then issues a token.
struct AssertionChecker {
    audience: String,
}

impl Respond for AssertionChecker {
    fn respond(&self, request: &Received) -> ResponseTemplate {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"error": "unsupported_grant_type"}));
        }
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).expect("key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&["uploader@example-project.iam.gserviceaccount.com"]);
        match jsonwebtoken::decode::<serde_json::Value>(
            form.get("assertion").map(String::as_str).unwrap_or_default(),
            &key,
            &validation,
        ) {
            Ok(data)
                if data.claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
                    && data.header.kid.as_deref() == Some("key-1") =>
            {
                ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "access_token": "tok-1", "token_type": "Bearer", "expires_in": "3599",
                }))
            }
            other => ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_grant", "error_description": format!("{:?}", other.map(|d| d.claims)),
            })),
        }
    }
}

#[tokio::test]
async fn a_service_account_key_file_signs_an_assertion_the_endpoint_verifies() {
    let server = MockServer::start().await;
    let token_uri = format!("{}/token", server.uri());
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(AssertionChecker {
            audience: token_uri.clone(),
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(Api {
            accepted: vec!["tok-1"],
        })
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("service-account.json");
    std::fs::write(
        &key_file,
        serde_json::json!({
            "type": "service_account",
            "project_id": "example-project",
            "private_key_id": "key-1",
            "private_key": PRIVATE_KEY,
            "client_email": "uploader@example-project.iam.gserviceaccount.com",
            "token_uri": token_uri,
        })
        .to_string(),
    )
    .expect("written");
    // An access token is the fallback; the key file is used because it is set.
    let provider = definition(
        "  any_of:
    - oauth2:
        grant: jwt_bearer
        key_file_env: GOOGLE_APPLICATION_CREDENTIALS
        scopes: [https://www.googleapis.com/auth/cloud-platform]
    - bearer:
        env: GOOGLE_ACCESS_TOKEN",
    );
    let mut credentials = Credentials::new();
    credentials.set(
        "GOOGLE_APPLICATION_CREDENTIALS",
        key_file.display().to_string(),
    );
    let client = client(1);
    let result = fetch_t1(&client, &provider, &credentials, &server)
        .await
        .result;
    assert_eq!(result.expect("fetched").native_status, "DONE");
    assert_eq!(client.tokens_fetched(), 1);

    // Without the key file, the static token is used: no grant.
    let mut credentials = Credentials::new();
    credentials.set("GOOGLE_ACCESS_TOKEN", "tok-1");
    let result = fetch_t1(&client, &provider, &credentials, &server)
        .await
        .result;
    assert_eq!(result.expect("fetched").native_status, "DONE");
    assert_eq!(client.tokens_fetched(), 1);

    // Neither: one error naming every variable that would do.
    let result = fetch_t1(&client, &provider, &Credentials::new(), &server)
        .await
        .result;
    let error = result.expect_err("no credential");
    assert_eq!(
        error.message,
        "no credential: set GOOGLE_APPLICATION_CREDENTIALS (oauth2 jwt_bearer), or GOOGLE_ACCESS_TOKEN (bearer)"
    );
}

/// Answers 503 to the first request, then `DONE`.
struct FailOnce {
    seen: AtomicUsize,
}

impl Respond for FailOnce {
    fn respond(&self, _: &Received) -> ResponseTemplate {
        if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            ResponseTemplate::new(503)
        } else {
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"status": "DONE"}))
        }
    }
}

#[tokio::test]
async fn every_attempt_is_signed_afresh_retries_included() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("x-acs-action", "GetTask"))
        .respond_with(FailOnce {
            seen: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    let text = "  acs3_hmac_sha256: {}";
    let mut provider = definition(text);
    provider
        .request
        .headers
        .push(("x-acs-action".into(), "GetTask".into()));
    let mut credentials = Credentials::new();
    credentials
        .set("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKID")
        .set("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "acs-S3CRET");
    let Fetched {
        result, attempts, ..
    } = fetch_t1(&client(3), &provider, &credentials, &server).await;
    assert_eq!(result.expect("fetched").native_status, "DONE");
    assert_eq!(attempts, 2);
    let requests = server.received_requests().await.expect("recorded");
    let nonces: Vec<&str> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("x-acs-signature-nonce")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(nonces.len(), 2);
    assert_ne!(nonces[0], nonces[1], "a retry carries a fresh nonce");
    for request in &requests {
        let authorization = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            authorization
                .starts_with("ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host;x-acs-action;"),
            "{authorization}"
        );
        assert!(!authorization.contains("S3CRET"));
    }
}

#[tokio::test]
async fn aws_signing_reads_its_region_from_an_input() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"status": "RUNNING"})),
        )
        .mount(&server)
        .await;
    let provider = definition("  aws_sigv4:\n    service: mediaconvert\n    region_input: region");
    let mut credentials = Credentials::new();
    credentials
        .set("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .set("AWS_SECRET_ACCESS_KEY", "aws-S3CRET")
        .set("AWS_SESSION_TOKEN", "session-S3CRET");
    let inputs: Inputs = [("region", "eu-west-1")].into_iter().collect();
    let result = client(1)
        .fetch(
            &provider,
            Request {
                task_id: "t1",
                inputs: &inputs,
                base_url: Some(&base(&server)),
                credentials: &credentials,
                quota: None,
            },
        )
        .await;
    assert_eq!(result.expect("fetched").native_status, "RUNNING");
    let requests = server.received_requests().await.expect("recorded");
    let get = |name: &str| {
        requests[0]
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let authorization = get("authorization");
    assert!(
        authorization.contains("/eu-west-1/mediaconvert/aws4_request"),
        "{authorization}"
    );
    assert_eq!(get("x-amz-security-token"), "session-S3CRET");
    assert_eq!(get("x-amz-date").len(), "20150830T123600Z".len());
}

/// Serves `provider` in a sandbox checking against its placeholders (tokens living
/// `lifetime`), and fetches one of its tasks with `credentials` (the placeholders when `None`).
async fn through_sandbox(
    provider: &Provider,
    lifetime: Duration,
    polls: usize,
    tamper: impl Fn(&mut Credentials),
) -> (Vec<Result<unitask::UploadTask, unitask::Error>>, u64, u64) {
    let dir = tempfile::tempdir().expect("dir");
    let key_file = unitask::sandbox::auth::write_key_file(dir.path()).expect("key file");
    let options = unitask::sandbox::Options {
        token_lifetime: lifetime,
        ..unitask::sandbox::Options::default()
    };
    let running = unitask::sandbox::Sandbox::new([provider], options)
        .start(0)
        .await
        .expect("sandbox");
    let mut credentials = unitask::sandbox::auth::placeholder_credentials([provider], &key_file);
    credentials.set_token_endpoint(running.token_url(&provider.id));
    tamper(&mut credentials);
    let task = running.sandbox().plans()[0].tracks[0]
        .first_id()
        .expect("a task id");
    let client = client(1);
    let base = running.base_url(&provider.id);
    let inputs: Inputs = [("region", "eu-west-1")].into_iter().collect();
    let mut results = Vec::new();
    for _ in 0..polls {
        let result = client
            .fetch(
                provider,
                Request {
                    task_id: &task,
                    inputs: &inputs,
                    base_url: Some(&base),
                    credentials: &credentials,
                    quota: None,
                },
            )
            .await;
        results.push(result);
        if polls > 1 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let issued = running.sandbox().tokens_issued();
    let _ = running.stop().await;
    (results, client.tokens_fetched(), issued)
}

const SCHEMES: [&str; 5] = [
    CLIENT_CREDENTIALS,
    "  oauth2:
    grant: jwt_bearer
    key_file_env: GOOGLE_APPLICATION_CREDENTIALS
    scopes: [https://www.googleapis.com/auth/cloud-platform]",
    "  aws_sigv4:\n    service: mediaconvert\n    region_input: region",
    "  acs3_hmac_sha256: {}",
    "  any_of:
    - azure_shared_key:
        account_input: region
    - query_string:
        env: AZURE_STORAGE_SAS_TOKEN",
];

#[tokio::test]
async fn the_sandbox_recomputes_every_signature_and_checks_every_grant() {
    for auth in SCHEMES {
        let provider = definition(auth);
        let (results, _, _) = through_sandbox(&provider, Duration::from_secs(60), 1, |_| {}).await;
        let task = results[0]
            .as_ref()
            .unwrap_or_else(|e| panic!("{auth}: {e}"));
        assert_eq!(task.native_status, "DONE", "{auth}");
        // The same request with another secret is refused with the provider's own answer.
        let dir = tempfile::tempdir().expect("dir");
        let unknown_key = dir.path().join("unknown.json");
        std::fs::write(
            &unknown_key,
            serde_json::json!({
                "private_key": include_str!("../fixtures/keys/unknown-service-account.pem"),
                "client_email": unitask::sandbox::auth::SANDBOX_CLIENT_EMAIL,
                "token_uri": "https://oauth2.googleapis.com/token",
            })
            .to_string(),
        )
        .expect("written");
        let (results, _, _) = through_sandbox(&provider, Duration::from_secs(60), 1, |c| {
            for name in provider.auth.env_names() {
                if name == "GOOGLE_APPLICATION_CREDENTIALS" {
                    // Signed by a key the sandbox does not know.
                    c.set(name, unknown_key.display().to_string());
                } else if c.value(name).is_some() {
                    let wrong = if name == "AZURE_STORAGE_KEY" {
                        "d3Jvbmc="
                    } else {
                        "wrong"
                    };
                    c.set(name, wrong);
                }
            }
        })
        .await;
        let error = results[0].as_ref().expect_err(auth);
        assert_eq!(error.kind, ErrorKind::Unauthorized, "{auth}: {error}");
    }
}

#[tokio::test]
async fn a_watch_across_token_lifetimes_fetches_one_token_per_lifetime() {
    let provider = definition(CLIENT_CREDENTIALS);
    let started = std::time::Instant::now();
    let (results, fetched, issued) =
        through_sandbox(&provider, Duration::from_secs(1), 25, |_| {}).await;
    let elapsed = started.elapsed().as_secs_f64();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        fetched, issued,
        "every token the client fetched was issued once"
    );
    // Renewed at four fifths of a one-second life: never more often, never a 401 first.
    let most = (elapsed / 0.8).ceil() as u64 + 1;
    assert!(
        (2..=most).contains(&fetched),
        "{fetched} tokens in {elapsed:.1}s (at most {most})"
    );
}

/// `fault-token-expired` on every built-in with an OAuth grant, through both engines: the token
/// the client holds expires at the second poll; the client replaces it once and the watch goes
/// on to the track's end with no step lost. The same track read with a static credential (one
/// that cannot expire) plays the plain lifecycle.
#[tokio::test]
async fn a_token_that_expires_mid_watch_is_replaced_and_the_watch_goes_on() {
    use unitask::sandbox::{Fault, TrackKind};
    use unitask::watch::{self, Answerer, Endpoint, Target, Watcher};
    let engine = crate::builtin_unlimited();
    let dir = tempfile::tempdir().expect("dir");
    let key_file = unitask::sandbox::auth::write_key_file(dir.path()).expect("key file");
    let mut played = 0;
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        let running = unitask::sandbox::Sandbox::new([provider], Default::default())
            .start(0)
            .await
            .expect("sandbox");
        let plan = &running.sandbox().plans()[0];
        let Some(track) = plan
            .tracks
            .iter()
            .find(|t| t.kind == TrackKind::Fault(Fault::TokenExpired))
        else {
            let _ = running.stop().await;
            continue;
        };
        played += 1;
        let end = track.expected_end(watch::is_transient);
        let needed = track.end_step(watch::is_transient).expect("the track ends") as u32 + 1;
        let mut oauth = unitask::sandbox::auth::placeholder_credentials([provider], &key_file);
        oauth.set_token_endpoint(running.token_url(&provider.id));
        let runs = [
            ("oauth generated", oauth.clone(), Answerer::Generated, 1),
            ("oauth interpreted", oauth, Answerer::Interpreted, 2),
            (
                "static",
                crate::sandbox_credentials(provider),
                Answerer::Generated,
                3,
            ),
        ];
        for (name, credentials, answerer, n) in runs {
            let label = format!("{} {name}", provider.id);
            let task_id = track.fresh_id(n).expect("an id");
            let before = running.sandbox().auth_activity();
            let mut watcher = Watcher::new(watch::Options {
                concurrency: 1,
                interval: Some(Duration::from_millis(10)),
                max_interval: Some(Duration::from_millis(20)),
                timeout: Some(Duration::from_secs(30)),
                max_errors: 0,
            });
            watcher.add(Endpoint::new(
                Arc::clone(provider),
                client(3),
                Some(running.base_url(&provider.id)),
                credentials,
                answerer,
            ));
            let target = Target {
                provider: provider.id.clone(),
                task_id: task_id.clone(),
                inputs: provider.sample_inputs().into_iter().collect(),
            };
            let report = watcher
                .run(vec![target], std::future::pending(), |_| {})
                .await;
            let ending = &report.tasks[0].ending;
            assert!(
                crate::sandbox::ended_as(ending, end),
                "{label}: ended {ending:?}, the track ends {end}"
            );
            assert_eq!(
                running.sandbox().polls(&provider.id, &task_id),
                needed,
                "{label}: every step served once"
            );
            let expired = |activity: &[(&str, unitask::sandbox::auth::Activity)]| {
                activity.first().map_or(0, |(_, a)| a.tokens_expired)
            };
            let now = running.sandbox().auth_activity();
            let issued = |activity: &[(&str, unitask::sandbox::auth::Activity)]| {
                activity.first().map_or(0, |(_, a)| a.tokens_issued)
            };
            if name == "static" {
                assert_eq!(expired(&now), expired(&before), "{label}");
                // Exactly the requests the track needs: nothing refused.
                assert_eq!(report.requests, u64::from(needed), "{label}");
            } else {
                assert_eq!(expired(&now), expired(&before) + 1, "{label}");
                // Its first token, and the one that replaced the expired one.
                assert_eq!(issued(&now), issued(&before) + 2, "{label}");
                // The refused request, and each step's.
                assert_eq!(report.requests, u64::from(needed) + 1, "{label}");
            }
        }
        let _ = running.stop().await;
    }
    assert!(played >= 2, "only {played} built-ins play the fault");
}
