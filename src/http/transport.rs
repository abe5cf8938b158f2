//! Sending a prepared request: one pooled `reqwest` client (rustls, HTTP/2, gzip), timeouts, a
//! body-size limit, a redirect policy that never carries credentials to another host, and retries
//! with exponential backoff and jitter that honour `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder as _, ExponentialBuilder};

use crate::http::auth::PerAttempt;
use crate::http::oauth::Tokens;
use crate::http::redact::Redactor;
use crate::http::request::{self, Credentials, Inputs, PreparedRequest};
use crate::model::Provider;
use crate::runtime::quota::{self, Quota};
use crate::runtime::{Error, ErrorKind, normalize};
use crate::spec::Method;
use crate::task::UploadTask;

/// The body limit of a definition that sets none: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How requests are sent and retried.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportConfig {
    /// The longest wait for a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// For one attempt, from sending to the last byte of the body.
    pub timeout: Duration,
    /// Bodies larger than this are refused without being read whole, whatever the definition
    /// says (`--max-body`); `None`: each definition's `limits.max_body_bytes`, else
    /// [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: Option<usize>,
    /// When and how often a failed attempt is tried again.
    pub retry: RetryPolicy,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// Retries for reads: on connection errors, timeouts, and the statuses the definition calls
/// retryable (429 and 5xx by default).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The first wait between attempts (and the least, whatever `Retry-After` says).
    pub min_delay: Duration,
    /// The longest wait between attempts the backoff grows to.
    pub max_delay: Duration,
    /// The most time one fetch may take, attempts and waits together: no retry starts whose
    /// wait would end past it, and a `Retry-After` longer than what is left ends the retries
    /// and is reported in the error.
    pub total_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            total_budget: Duration::from_secs(30),
        }
    }
}

/// The HTTP transport every status request goes through: one pooled `reqwest` client (two: one
/// follows no redirect), the retry policy and the OAuth token cache. Cloning it is cheap and
/// shares all of them, so a service makes one and hands clones to every client, engine and watch.
#[derive(Debug, Clone)]
pub struct Transport {
    http: reqwest::Client,
    /// The same, following no redirect: for definitions that read a 3xx as an answer (a
    /// `303 See Other` from a finished job's monitor).
    unredirected: reqwest::Client,
    config: TransportConfig,
    /// Requests sent by this transport and its clones, retries included.
    sent: Arc<AtomicU64>,
    /// OAuth tokens, shared by the clones.
    tokens: Tokens,
}

/// An answer as it arrived (the last one of a fetch): what `status --save-example` writes down.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One status request, besides the definition that says how to make it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub task_id: &'a str,
    pub inputs: &'a Inputs,
    /// Instead of the definition's base URL.
    pub base_url: Option<&'a url::Url>,
    pub credentials: &'a Credentials,
    /// Where to keep what the last answer's `RateLimit` headers said of the allowance, when
    /// they said something (a watch paces its polls by it).
    pub quota: Option<&'a std::sync::Mutex<Option<Quota>>>,
}

/// What a fetch keeps of its last answer for its caller, besides the task.
#[derive(Clone, Copy, Default)]
struct Keep<'a> {
    /// The answer, whole.
    answer: Option<&'a std::sync::Mutex<Option<Answer>>>,
    /// What its `RateLimit` headers said.
    quota: Option<&'a std::sync::Mutex<Option<Quota>>>,
}

/// A task's request, made once from its provider, inputs, base URL and credentials, and sent
/// at every poll: its inputs never change, and what must change per attempt (a token, a
/// signature) is made per attempt anyway.
#[doc(hidden)]
#[derive(Debug)]
pub struct Prepared {
    request: PreparedRequest,
    /// What `input:` fields read (a follow-up carries them on).
    carried: Vec<(String, String)>,
    /// The request's headers, made once: what every attempt sends (a signature signs the list
    /// they came from), the credential marked sensitive so no log shows it.
    header_map: reqwest::header::HeaderMap,
}

impl Prepared {
    /// The request `request` makes to `provider`, or why it cannot be made (an input refused).
    pub fn new(provider: &Provider, request: Request<'_>) -> Result<Prepared, Error> {
        let Request {
            task_id,
            inputs,
            base_url,
            credentials,
            quota: _,
        } = request;
        let prepared = request::prepare(provider, task_id, inputs, base_url, credentials)?;
        let given: Vec<(String, String)> = inputs
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let headers = &prepared.headers;
        let mut header_map = reqwest::header::HeaderMap::with_capacity(headers.len());
        let secret_from = headers.len() - usize::from(prepared.secret_header);
        append_headers(&mut header_map, headers, secret_from)?;
        Ok(Prepared {
            carried: provider.request_inputs(task_id, &given),
            request: prepared,
            header_map,
        })
    }
}

/// Appends `headers` to `map` in their order, those from `secret_from` on marked sensitive; or
/// says which one HTTP cannot carry.
fn append_headers(
    map: &mut reqwest::header::HeaderMap,
    headers: &[(String, String)],
    secret_from: usize,
) -> Result<(), Error> {
    use reqwest::header::{HeaderName, HeaderValue};
    for (i, (name, value)) in headers.iter().enumerate() {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::local(
                ErrorKind::InvalidRequest,
                format!("`{name}` cannot be an HTTP header's name"),
            )
        })?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            Error::local(
                ErrorKind::InvalidRequest,
                format!("header `{name}` has a value HTTP cannot carry"),
            )
        })?;
        // Dates and nonces a signature adds are not secret, but marking them costs nothing.
        if i >= secret_from {
            value.set_sensitive(true);
        }
        map.append(header, value);
    }
    Ok(())
}

/// A fetch's answer and what it took: for the command line and the tests.
#[doc(hidden)]
#[derive(Debug)]
pub struct Fetched {
    pub result: Result<UploadTask, Error>,
    /// Attempts sent (0 when the request was refused before sending).
    pub attempts: u32,
    /// The last answer received, when asked for and one came; as the provider sent it except for
    /// tokens and signatures the fetch made itself: redact it before showing it.
    pub answer: Option<Answer>,
}

impl Transport {
    /// A transport with this configuration.
    pub fn new(config: TransportConfig) -> Result<Transport, Error> {
        Ok(Transport {
            http: http_client(&config, redirect_policy())?,
            unredirected: http_client(&config, reqwest::redirect::Policy::none())?,
            config,
            sent: Arc::new(AtomicU64::new(0)),
            tokens: Tokens::default(),
        })
    }

    /// The process's default transport ([`TransportConfig::default`]), made on first use and
    /// shared from then on: what clients and engines built without a transport use.
    pub fn shared() -> Result<Transport, Error> {
        static SHARED: std::sync::OnceLock<Result<Transport, Error>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| Transport::new(TransportConfig::default()))
            .clone()
    }

    /// How this transport sends and retries.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Requests sent so far by this transport and its clones, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Whether `other` is this transport or a clone of it (they count requests together).
    #[doc(hidden)]
    pub fn same_counter(&self, other: &Transport) -> bool {
        Arc::ptr_eq(&self.sent, &other.sent)
    }

    /// OAuth tokens fetched so far by this transport and its clones.
    pub fn tokens_fetched(&self) -> u64 {
        self.tokens.fetched()
    }

    /// Fetches and normalizes one task's status: what generated clients and the engine call.
    #[doc(hidden)]
    pub async fn fetch(
        &self,
        provider: &Provider,
        request: Request<'_>,
    ) -> Result<UploadTask, Error> {
        self.fetch_detailed(provider, request, false).await.result
    }

    /// [`Transport::fetch`], counting attempts and, with `keep_answer`, keeping the last answer
    /// received (none when no answer came: a refused input, a connection that failed).
    #[doc(hidden)]
    pub async fn fetch_detailed(
        &self,
        provider: &Provider,
        request: Request<'_>,
        keep_answer: bool,
    ) -> Fetched {
        let slot = std::sync::Mutex::new(None);
        let (result, attempts) = self
            .fetch_into(provider, request, keep_answer.then_some(&slot))
            .await;
        let answer = slot.into_inner().unwrap_or_else(|e| e.into_inner());
        Fetched {
            result,
            attempts,
            answer,
        }
    }

    /// [`Transport::fetch`] with the task's request made beforehand by [`Prepared::new`] from
    /// the same provider and request (a watch makes it once per task, not once per poll).
    #[doc(hidden)]
    pub async fn fetch_prepared(
        &self,
        provider: &Provider,
        request: Request<'_>,
        prepared: &Prepared,
    ) -> Result<UploadTask, Error> {
        let keep = Keep {
            answer: None,
            quota: request.quota,
        };
        self.send(provider, request, prepared, keep).await.0
    }

    async fn fetch_into(
        &self,
        provider: &Provider,
        request: Request<'_>,
        record: Option<&std::sync::Mutex<Option<Answer>>>,
    ) -> (Result<UploadTask, Error>, u32) {
        match Prepared::new(provider, request) {
            Ok(prepared) => {
                let keep = Keep {
                    answer: record,
                    quota: request.quota,
                };
                self.send(provider, request, &prepared, keep).await
            }
            Err(error) => (Err(error), 0),
        }
    }

    async fn send(
        &self,
        provider: &Provider,
        request: Request<'_>,
        prepared: &Prepared,
        keep: Keep<'_>,
    ) -> (Result<UploadTask, Error>, u32) {
        let Request {
            task_id,
            credentials,
            ..
        } = request;
        let policy = &self.config.retry;
        let started = Instant::now();
        let budget = policy.total_budget;
        let floor = policy.min_delay;
        // Tokens sent by this fetch's attempts: an answer may echo one.
        let tokens_used: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        // The secrets this fetch made or fetched itself (tokens, signing keys).
        let fetched_secrets = || {
            let mut fetched = Redactor::default();
            if let Some(per_attempt) = &prepared.request.per_attempt {
                fetched.add_secrets(per_attempt.secrets());
            }
            fetched.add_secrets(
                tokens_used
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(String::as_str),
            );
            fetched
        };
        // Every secret, built only when an error must be shown: most fetches never need one.
        let redactor = || {
            let mut redactor = Redactor::new(&provider.auth, credentials);
            redactor.extend(&fetched_secrets());
            redactor
        };

        let mut attempts = 0;
        // The backoff is made at the first failure: most fetches never need one.
        let mut backoff = None;
        // Whether this attempt is the one made again with a new OAuth token after a 401 (the
        // provider may have revoked the old one before its announced expiry): one per attempt.
        let mut reauthorized = false;
        let result = loop {
            if !reauthorized {
                attempts += 1;
            }
            let error = match self
                .attempt(provider, task_id, prepared, keep, &tokens_used)
                .await
            {
                Ok(task) => break Ok(task),
                Err((error, Some(generation))) if error.status == Some(401) && !reauthorized => {
                    if let Some(PerAttempt::Token(source)) = &prepared.request.per_attempt {
                        tracing::info!(provider = %provider.id, task = task_id, "the token was refused; fetching a new one");
                        self.tokens.invalidate(source, generation).await;
                        reauthorized = true;
                        continue;
                    }
                    error
                }
                Err((error, _)) => error,
            };
            reauthorized = false;
            if !error.retryable {
                break Err(error);
            }
            let planned = backoff
                .get_or_insert_with(|| {
                    ExponentialBuilder::new()
                        .with_jitter()
                        .with_min_delay(policy.min_delay)
                        .with_max_delay(policy.max_delay)
                        .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
                        .build()
                })
                .next();
            let wait = match (planned, error.retry_after) {
                (None, _) => break Err(error),
                // Never hammer: even `Retry-After: 0` waits the minimum delay.
                (Some(_), Some(asked)) => asked.max(floor),
                (Some(planned), None) => planned,
            };
            // The budget is wall-clock: attempts and waits together.
            if started
                .elapsed()
                .checked_add(wait)
                .is_none_or(|end| end > budget)
            {
                break Err(error);
            }
            tracing::info!(
                provider = %provider.id,
                task = task_id,
                error = %redactor().redact(&error.to_string()),
                wait_ms = wait.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        };
        let result = result.map_err(|mut error| {
            redactor().redact_error(&mut error);
            error
        });
        // A token or a signature is a secret the caller never saw, so cannot hide: a body that
        // echoes one back (a debugging endpoint's does) has it hidden here, in the task and in
        // the answer recorded for an example.
        let fetched = fetched_secrets();
        let result = result.map(|mut task| {
            fetched.redact_task(&mut task);
            task
        });
        if let Some(record) = keep.answer
            && !fetched.is_empty()
            && let Some(answer) = record.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
        {
            let body = String::from_utf8_lossy(&answer.body);
            let redacted = fetched.redact(&body);
            if redacted != body {
                answer.body = redacted.into_bytes();
            }
            for (_, value) in &mut answer.headers {
                *value = fetched.redact(value);
            }
        }
        tracing::debug!(
            provider = %provider.id,
            task = task_id,
            attempts,
            elapsed_ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "fetched"
        );
        (result, attempts)
    }

    /// The headers a per-attempt credential adds (a token from the cache, a fresh signature),
    /// with the token generation used; each is marked sensitive when sent.
    async fn per_attempt_headers(
        &self,
        prepared: &PreparedRequest,
        method: &str,
        tokens_used: &std::sync::Mutex<Vec<String>>,
    ) -> Result<(Vec<(String, String)>, Option<u64>), Error> {
        use secrecy::ExposeSecret as _;
        match &prepared.per_attempt {
            None => Ok((Vec::new(), None)),
            Some(PerAttempt::Token(source)) => {
                // Boxed: a token fetch is a whole request, and most polls find the token cached
                // or use no token at all; unboxed it would be carried in every poll's future.
                let token = Box::pin(self.tokens.get(&self.unredirected, source)).await?;
                let secret = token.secret.expose_secret();
                tokens_used
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(secret.to_owned());
                Ok((
                    vec![("Authorization".into(), format!("Bearer {secret}"))],
                    Some(token.generation),
                ))
            }
            Some(PerAttempt::Sign(signer)) => {
                let unsigned = crate::http::sign::Unsigned {
                    method,
                    url: &prepared.url,
                    headers: &prepared.headers,
                    body: prepared.body.as_deref().unwrap_or_default(),
                };
                let signed = signer
                    .sign(
                        unsigned,
                        std::time::SystemTime::now(),
                        &crate::http::sign::nonce(),
                    )
                    .map_err(|e| Error::local(ErrorKind::Unauthorized, e.0))?;
                Ok((signed, None))
            }
        }
    }

    /// One attempt: send, read the body within the size limit, normalize (and keep the answer
    /// in `keep` when asked). A failure carries the token generation it was sent with.
    async fn attempt(
        &self,
        provider: &Provider,
        task_id: &str,
        prepared: &Prepared,
        keep: Keep<'_>,
        tokens_used: &std::sync::Mutex<Vec<String>>,
    ) -> Result<UploadTask, (Error, Option<u64>)> {
        let Prepared {
            request: prepared,
            carried,
            header_map,
        } = prepared;
        // The slot says what the last answer said: an earlier attempt's spent window is stale.
        if let Some(slot) = keep.quota {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        let method = match prepared.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Head => reqwest::Method::HEAD,
            Method::Put => reqwest::Method::PUT,
        };
        let reads_redirects = provider
            .response
            .answers
            .iter()
            .any(|a| a.statuses.iter().any(|s| (300..400).contains(s)));
        let http = if reads_redirects {
            &self.unredirected
        } else {
            &self.http
        };
        let (added, generation) = self
            .per_attempt_headers(prepared, method.as_str(), tokens_used)
            .await
            .map_err(|e| (e, None))?;
        let failed = |error: Error| (error, generation);
        let mut request = reqwest::Request::new(method, prepared.url.clone());
        *request.headers_mut() = header_map.clone();
        append_headers(request.headers_mut(), &added, 0).map_err(failed)?;
        *request.body_mut() = prepared.body.clone().map(reqwest::Body::from);
        tracing::debug!(provider = %provider.id, method = ?prepared.method, url = %prepared.redacted_url(), "sending");
        self.sent.fetch_add(1, Ordering::Relaxed);
        let mut response = http
            .execute(request)
            .await
            .map_err(|e| failed(transport_error(e)))?;
        let status = response.status().as_u16();
        // A 3xx that was not followed is a redirect refused, unless it says nowhere to go (a
        // `308 Resume Incomplete`) or the definition reads it as an answer about the task.
        let location = response.headers().get(reqwest::header::LOCATION).cloned();
        let answer = provider
            .response
            .answers
            .iter()
            .any(|a| a.statuses.contains(&status));
        if response.status().is_redirection() && location.is_some() && !answer {
            let target = location
                .as_ref()
                .and_then(|l| l.to_str().ok())
                .and_then(|l| prepared.url.join(l).ok())
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| "an unknown place".into());
            return Err(failed(Error {
                kind: ErrorKind::InvalidRequest,
                status: Some(status),
                code: None,
                message: format!(
                    "the provider redirected to {target}; not followed, so the credential never leaves {}",
                    prepared.url.host_str().unwrap_or_default()
                ),
                retryable: false,
                retry_after: None,
                excerpt: None,
                details: Box::default(),
                cause: None,
            }));
        }
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(n, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (n.as_str().to_owned(), v.to_owned()))
            })
            .collect();
        if let Some(slot) = keep.quota
            && let Some(quota) = quota::read(&headers)
        {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(quota);
        }
        let limit = self
            .config
            .max_body_bytes
            .or(provider.limits.max_body_bytes)
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(failed(too_large(status, limit)));
        }
        let mut body = Vec::new();
        // A body that cannot be decoded (bad gzip) is `decode`, with its status; a body cut short
        // (the connection closed early) is a transport failure, worth retrying.
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            let bad_encoding = is_invalid_data(&e);
            let mut error = transport_error(e);
            if bad_encoding {
                error.kind = ErrorKind::Decode;
                error.status = Some(status);
                error.retryable = false;
            } else if error.kind == ErrorKind::Decode {
                error.kind = ErrorKind::Transport;
                error.retryable = true;
            }
            failed(error)
        })? {
            if body.len() + chunk.len() > limit {
                return Err(failed(too_large(status, limit)));
            }
            body.extend_from_slice(&chunk);
        }
        tracing::trace!(provider = %provider.id, status, bytes = body.len(), "received");
        let result = normalize::normalize_in(
            provider,
            task_id,
            normalize::Response {
                status,
                headers: &headers,
                body: &body,
            },
            normalize::Context {
                now: None,
                inputs: carried,
            },
        );
        if let Some(slot) = keep.answer {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Answer {
                status,
                headers,
                body,
            });
        }
        result.map_err(failed)
    }
}

/// A pooled reqwest client with the given redirect policy.
fn http_client(
    config: &TransportConfig,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder().no_proxy();
    // Proxies from the environment carry https only (a CONNECT tunnel: TLS end to end). Plain
    // http goes to loopback hosts only and never through a proxy, which would see it in clear.
    if let Some(proxy) = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        && let Ok(proxy) = reqwest::Proxy::https(&proxy)
    {
        builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
    }
    builder
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout)
        .redirect(redirects)
        .user_agent(concat!("unitask/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            let e = e.without_url();
            Error::local(
                ErrorKind::Transport,
                format!("cannot build the HTTP client: {e}"),
            )
            .caused_by(e)
        })
}

fn too_large(status: u16, limit: usize) -> Error {
    Error {
        kind: ErrorKind::Decode,
        status: Some(status),
        code: None,
        message: format!("the response body is larger than {limit} bytes; refused"),
        retryable: false,
        retry_after: None,
        excerpt: None,
        details: Box::default(),
        cause: None,
    }
}

/// Whether an I/O error in the chain says the data itself is bad (a corrupt compressed body),
/// as opposed to the connection failing.
fn is_invalid_data(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
            )
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A reqwest error, without its URL (which may carry a query credential).
fn transport_error(error: reqwest::Error) -> Error {
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_decode() {
        ErrorKind::Decode
    } else {
        ErrorKind::Transport
    };
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error {
        kind,
        status: None,
        code: None,
        message,
        retryable: kind != ErrorKind::Decode,
        retry_after: None,
        excerpt: None,
        details: Box::default(),
        cause: Some(crate::runtime::Cause::new(error)),
    }
}

/// Redirects are followed only to the same scheme, host and port: a credential (in a header or
/// in the query) never reaches another host. Anything else stops and is reported.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        let same_origin = first.as_ref().is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if !same_origin || attempt.previous().len() > 5 {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}
