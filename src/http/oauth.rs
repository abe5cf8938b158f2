//! OAuth 2.0 access tokens. The client credentials (RFC 6749 §4.4) and refresh token (§6) grants
//! go through the `oauth2` crate; the JWT bearer grant (RFC 7523) signs an RS256 assertion with
//! `jsonwebtoken` and posts it. [`Tokens`] caches one token per credential set for each client:
//! concurrent polls share one fetch (single flight), a token is renewed before it expires (a skew
//! of a fifth of its life, at most a minute) and once after a 401.
//!
//! Tokens are secrets: held in `SecretString`, never in `Debug`, never logged, and sent only to
//! the provider's host; token endpoints are https or loopback http.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::model::ClientAuth;
use crate::runtime::{Error, ErrorKind};

/// The most a token's renewal is moved ahead of its expiry.
const MAX_SKEW: Duration = Duration::from_secs(60);
/// A token endpoint's answer is small; anything larger is refused.
const MAX_TOKEN_BODY: usize = 64 * 1024;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Everything one grant needs, resolved from the definition and the credentials.
#[derive(Clone)]
pub struct TokenSource {
    pub(crate) grant: &'static str,
    pub(crate) material: Material,
    /// The definition's token URL (placeholders filled); `None`: the key file's `token_uri`.
    pub(crate) token_url: Option<url::Url>,
    /// `--auth-url`: where the token is really fetched (the sandbox, a test server).
    pub(crate) redirect: Option<url::Url>,
    pub(crate) scopes: Vec<String>,
    pub(crate) audience: Option<String>,
    pub(crate) client_auth: ClientAuth,
}

/// The secrets of a grant.
#[derive(Clone)]
pub(crate) enum Material {
    Client {
        id: String,
        secret: SecretString,
    },
    Refresh {
        client_id: String,
        client_secret: Option<SecretString>,
        refresh_token: SecretString,
    },
    /// A service-account key file's path.
    KeyFile {
        path: String,
    },
    Pem {
        issuer: String,
        key: SecretString,
        key_id: Option<String>,
        subject: Option<String>,
    },
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("grant", &self.grant)
            .field("token_url", &self.token_url.as_ref().map(url::Url::as_str))
            .field("scopes", &self.scopes)
            .field("secrets", &"[redacted]")
            .finish()
    }
}

impl TokenSource {
    /// Identifies the credential set: the grant, where it goes, and a digest of its secrets.
    fn cache_key(&self) -> String {
        let mut hash = Sha256::new();
        let mut put = |part: &str| {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        };
        put(self.grant);
        put(self.token_url.as_ref().map_or("", url::Url::as_str));
        put(self.redirect.as_ref().map_or("", url::Url::as_str));
        put(&self.scopes.join(" "));
        put(self.audience.as_deref().unwrap_or_default());
        match &self.material {
            Material::Client { id, secret } => {
                put(id);
                put(secret.expose_secret());
            }
            Material::Refresh {
                client_id,
                client_secret,
                refresh_token,
            } => {
                put(client_id);
                put(client_secret.as_ref().map_or("", |s| s.expose_secret()));
                put(refresh_token.expose_secret());
            }
            Material::KeyFile { path } => put(path),
            Material::Pem {
                issuer,
                key,
                key_id,
                subject,
            } => {
                put(issuer);
                put(key.expose_secret());
                put(key_id.as_deref().unwrap_or_default());
                put(subject.as_deref().unwrap_or_default());
            }
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The secrets this source holds, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        match &self.material {
            Material::Client { secret, .. } => vec![secret.expose_secret()],
            Material::Refresh {
                client_secret,
                refresh_token,
                ..
            } => std::iter::once(refresh_token.expose_secret())
                .chain(client_secret.as_ref().map(|s| s.expose_secret()))
                .collect(),
            Material::KeyFile { .. } => Vec::new(),
            Material::Pem { key, .. } => vec![key.expose_secret()],
        }
    }

    fn failed(&self, host: &str, why: impl fmt::Display) -> Error {
        Error::local(
            ErrorKind::Unauthorized,
            format!("the OAuth {} grant failed at {host}: {why}", self.grant),
        )
    }
}

/// An access token and the cache generation it belongs to.
#[derive(Clone)]
pub struct Token {
    pub secret: SecretString,
    pub generation: u64,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(generation {}, [redacted])", self.generation)
    }
}

struct Cached {
    token: Token,
    /// When to fetch a new one (its expiry less the skew); `None`: it said nothing.
    renew_at: Option<Instant>,
}

#[derive(Default)]
struct Slot {
    cached: Option<Cached>,
    /// A refresh token the endpoint rotated to.
    rotated: Option<SecretString>,
}

/// The token cache of one client and its clones.
#[derive(Clone, Default)]
pub struct Tokens {
    slots: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>>,
    fetched: Arc<AtomicU64>,
    generation: Arc<AtomicU64>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("fetched", &self.fetched())
            .finish()
    }
}

impl Tokens {
    /// Tokens fetched so far (every grant request that was answered with a token).
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    fn slot(&self, key: String) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key).or_default().clone()
    }

    /// A valid token for `source`: the cached one, or one fetched now. Callers that arrive
    /// while a fetch runs wait for it and share its token.
    pub async fn get(&self, http: &reqwest::Client, source: &TokenSource) -> Result<Token, Error> {
        let slot = self.slot(source.cache_key());
        let mut slot = slot.lock().await;
        if let Some(cached) = &slot.cached
            && cached.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(cached.token.clone());
        }
        let fetched = fetch(http, source, slot.rotated.as_ref()).await?;
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let token = Token {
            secret: fetched.access_token,
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
        };
        let renew_at = fetched.expires_in.map(|life| {
            let skew = (life / 5).min(MAX_SKEW);
            Instant::now() + life.saturating_sub(skew)
        });
        if let Some(rotated) = fetched.refresh_token {
            slot.rotated = Some(rotated);
        }
        tracing::debug!(grant = source.grant, lifetime_s = ?fetched.expires_in.map(|d| d.as_secs()), "fetched an access token");
        slot.cached = Some(Cached {
            token: token.clone(),
            renew_at,
        });
        Ok(token)
    }

    /// Forgets `source`'s token if it is still the one of `generation` (a 401 answered it), so
    /// the next `get` fetches a new one; a token another poll already renewed is kept.
    pub async fn invalidate(&self, source: &TokenSource, generation: u64) {
        let slot = self.slot(source.cache_key());
        let mut slot = slot.lock().await;
        if slot
            .cached
            .as_ref()
            .is_some_and(|c| c.token.generation == generation)
        {
            slot.cached = None;
        }
    }
}

struct Fetched {
    access_token: SecretString,
    expires_in: Option<Duration>,
    refresh_token: Option<SecretString>,
}

/// The endpoint a token is fetched from, held to https or loopback http.
fn endpoint(source: &TokenSource, file_uri: Option<&str>) -> Result<url::Url, Error> {
    let url = match (&source.redirect, &source.token_url, file_uri) {
        (Some(redirect), _, _) => redirect.clone(),
        (None, Some(url), _) => url.clone(),
        (None, None, Some(uri)) => url::Url::parse(uri).map_err(|e| {
            source.failed("the key file", format!("its token_uri is not a URL: {e}"))
        })?,
        (None, None, None) => {
            return Err(source.failed("the key file", "it names no token_uri"));
        }
    };
    let secure = url.scheme() == "https"
        || (url.scheme() == "http" && crate::syntax::url::is_loopback(&url));
    if !secure {
        return Err(Error::local(
            ErrorKind::Definition,
            format!(
                "refusing the token endpoint {}: a token endpoint must be https (or http to a loopback host)",
                url.host_str().unwrap_or_default()
            ),
        ));
    }
    Ok(url)
}

async fn fetch(
    http: &reqwest::Client,
    source: &TokenSource,
    rotated: Option<&SecretString>,
) -> Result<Fetched, Error> {
    match &source.material {
        Material::Client { id, secret } => {
            let url = endpoint(source, None)?;
            let client = oauth2_client(&url, id, Some(secret), source.client_auth);
            let mut request = client.exchange_client_credentials();
            for scope in &source.scopes {
                request = request.add_scope(oauth2::Scope::new(scope.clone()));
            }
            if let Some(audience) = &source.audience {
                request = request.add_extra_param("audience", audience.clone());
            }
            let response = request
                .request_async(&Sender(http))
                .await
                .map_err(|e| token_error(source, &url, e))?;
            Ok(from_oauth2(&response))
        }
        Material::Refresh {
            client_id,
            client_secret,
            refresh_token,
        } => {
            let url = endpoint(source, None)?;
            let client = oauth2_client(&url, client_id, client_secret.as_ref(), source.client_auth);
            let refresh = oauth2::RefreshToken::new(
                rotated.unwrap_or(refresh_token).expose_secret().to_owned(),
            );
            let mut request = client.exchange_refresh_token(&refresh);
            for scope in &source.scopes {
                request = request.add_scope(oauth2::Scope::new(scope.clone()));
            }
            let response = request
                .request_async(&Sender(http))
                .await
                .map_err(|e| token_error(source, &url, e))?;
            Ok(from_oauth2(&response))
        }
        Material::KeyFile { path } => {
            let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                source
                    .failed("the key file", format!("cannot read {path}: {e}"))
                    .caused_by(e)
            })?;
            let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
                // The error's position only: the file holds a private key.
                source.failed(
                    "the key file",
                    format!(
                        "{path} is not a service-account key file (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                )
            })?;
            let url = endpoint(source, file.token_uri.as_deref())?;
            let audience = source
                .audience
                .clone()
                .or_else(|| file.token_uri.clone())
                .unwrap_or_else(|| url.to_string());
            let assertion = assertion(
                source,
                &file.client_email,
                &file.private_key,
                file.private_key_id.as_deref(),
                None,
                &audience,
            )?;
            post_assertion(http, source, &url, &assertion).await
        }
        Material::Pem {
            issuer,
            key,
            key_id,
            subject,
        } => {
            let url = endpoint(source, None)?;
            let audience = source
                .audience
                .clone()
                .or_else(|| source.token_url.as_ref().map(url::Url::to_string))
                .unwrap_or_else(|| url.to_string());
            let assertion = assertion(
                source,
                issuer,
                key.expose_secret(),
                key_id.as_deref(),
                subject.as_deref(),
                &audience,
            )?;
            post_assertion(http, source, &url, &assertion).await
        }
    }
}

/// The fields of a service-account key file that the grant reads.
#[derive(serde::Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// The claims of a JWT bearer assertion (RFC 7523 §3; Google's service-account flow).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// An RS256 assertion valid for an hour from now.
fn assertion(
    source: &TokenSource,
    issuer: &str,
    pem: &str,
    key_id: Option<&str>,
    subject: Option<&str>,
    audience: &str,
) -> Result<String, Error> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Claims {
        iss: issuer.to_owned(),
        sub: subject.map(str::to_owned),
        scope: (!source.scopes.is_empty()).then(|| source.scopes.join(" ")),
        aud: audience.to_owned(),
        iat: now,
        exp: now + 3600,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key_id.map(str::to_owned);
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|_| source.failed("the assertion", "the private key is not a PEM RSA key"))?;
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| source.failed("the assertion", format!("cannot sign it: {e}")))
}

/// A token endpoint's JSON answer, success or error (RFC 6749 §5.1, §5.2).
#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    access_token: Option<String>,
    /// A number, or (some servers) a string of one.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

async fn post_assertion(
    http: &reqwest::Client,
    source: &TokenSource,
    url: &url::Url,
    assertion: &str,
) -> Result<Fetched, Error> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", JWT_BEARER)
        .append_pair("assertion", assertion)
        .finish();
    let request = http::Request::builder()
        .method("POST")
        .uri(url.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body.into_bytes())
        .map_err(|e| source.failed(host(url), e))?;
    let response = send(http, request)
        .await
        .map_err(|e| transport(source, url, &e.0))?;
    let status = response.status().as_u16();
    let answer: Answer = serde_json::from_slice(response.body()).map_err(|_| {
        Error::decode(
            status,
            "the token endpoint's answer is not JSON",
            response.body(),
        )
    })?;
    match (answer.access_token, answer.error) {
        (Some(token), None) if (200..300).contains(&status) => Ok(Fetched {
            access_token: SecretString::from(token),
            expires_in: answer.expires_in.as_ref().and_then(seconds),
            refresh_token: answer.refresh_token.map(SecretString::from),
        }),
        (_, error) => {
            let mut failure = source.failed(
                host(url),
                match (error, answer.error_description) {
                    (Some(e), Some(d)) => format!("{e}: {d}"),
                    (Some(e), None) => e,
                    (None, _) => format!("HTTP {status} without a token"),
                },
            );
            failure.status = Some(status);
            failure.retryable = status >= 500;
            if failure.retryable {
                failure.kind = ErrorKind::Server;
            }
            Err(failure)
        }
    }
}

fn seconds(value: &serde_json::Value) -> Option<Duration> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().map(Duration::from_secs),
        serde_json::Value::String(s) => s.trim().parse().ok().map(Duration::from_secs),
        _ => None,
    }
}

fn host(url: &url::Url) -> &str {
    url.host_str().unwrap_or_default()
}

type BasicClient = oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth2_client(
    url: &url::Url,
    id: &str,
    secret: Option<&SecretString>,
    client_auth: ClientAuth,
) -> BasicClient {
    let mut client = oauth2::basic::BasicClient::new(oauth2::ClientId::new(id.to_owned()))
        .set_token_uri(oauth2::TokenUrl::from_url(url.clone()))
        .set_auth_type(match client_auth {
            ClientAuth::Basic => oauth2::AuthType::BasicAuth,
            ClientAuth::Body => oauth2::AuthType::RequestBody,
        });
    if let Some(secret) = secret {
        client =
            client.set_client_secret(oauth2::ClientSecret::new(secret.expose_secret().to_owned()));
    }
    client
}

fn from_oauth2(response: &oauth2::basic::BasicTokenResponse) -> Fetched {
    use oauth2::TokenResponse as _;
    Fetched {
        access_token: SecretString::from(response.access_token().secret().clone()),
        expires_in: response.expires_in(),
        refresh_token: response
            .refresh_token()
            .map(|t| SecretString::from(t.secret().clone())),
    }
}

fn token_error(
    source: &TokenSource,
    url: &url::Url,
    error: oauth2::RequestTokenError<
        HttpFailure,
        oauth2::StandardErrorResponse<oauth2::basic::BasicErrorResponseType>,
    >,
) -> Error {
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => source.failed(
            host(url),
            match response.error_description() {
                Some(description) => format!("{}: {description}", response.error()),
                None => response.error().to_string(),
            },
        ),
        oauth2::RequestTokenError::Request(failure) => transport(source, url, &failure.0),
        oauth2::RequestTokenError::Parse(_, body) => {
            let mut error = Error::decode(200, "the token endpoint's answer is not a token", &body);
            error.message = format!(
                "the OAuth {} grant at {}: {}",
                source.grant,
                host(url),
                error.message
            );
            error
        }
        oauth2::RequestTokenError::Other(why) => source.failed(host(url), why),
    }
}

fn transport(source: &TokenSource, url: &url::Url, why: &str) -> Error {
    let mut error = source.failed(host(url), why);
    error.kind = ErrorKind::Transport;
    error.retryable = true;
    error
}

/// The transport's client as the `oauth2` crate calls it. A named type rather than a closure:
/// its future is `Send` for every lifetime, so a fetch can run on any worker thread.
struct Sender<'a>(&'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Sender<'_> {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpFailure>> + Send + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// Why a token request got no answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HttpFailure(String);

/// Sends a token request with the transport's client (no redirects followed: a client secret
/// never goes anywhere else), reading at most `MAX_TOKEN_BODY` bytes.
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpFailure> {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    let mut builder = http.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let mut response = builder
        .send()
        .await
        .map_err(|e| HttpFailure(e.without_url().to_string()))?;
    let mut answer = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpFailure(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_TOKEN_BODY {
            return Err(HttpFailure(format!(
                "the token endpoint's answer is larger than {MAX_TOKEN_BODY} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    answer.body(body).map_err(|e| HttpFailure(e.to_string()))
}
