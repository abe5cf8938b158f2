//! The sandbox's side of credentials: the secrets it checks against (given, or placeholders it
//! shares with `demo` and the tests), an OAuth token endpoint per provider that issues
//! short-lived tokens (each grant checked: the client's secret, the refresh token, the JWT
//! assertion's RS256 signature and claims), and every request signature recomputed from the
//! secret with the request's own date and nonce (a stale date or a reused nonce is refused).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use crate::http::request::Credentials;
use crate::http::sign::{Signer, Unsigned};
use crate::model::{Auth, Grant, JwtKey, OAuth2, Provider, Signing};

/// What every variable holds in the sandbox unless the caller gives it.
pub const PLACEHOLDER: &str = "sandbox-credential";
/// The built-in service account's private key: a key made for the sandbox and the tests, which
/// signs nothing anywhere else.
pub const SANDBOX_PRIVATE_KEY: &str = include_str!("keys/service-account.pem");
/// Its client email.
pub const SANDBOX_CLIENT_EMAIL: &str = "sandbox@unitask.invalid";
/// How far a signed request's date may be from the sandbox's clock (the providers' own rule).
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// Tokens and nonces remembered at most; past it the oldest are forgotten.
const MAX_REMEMBERED: usize = 100_000;

/// The placeholder credentials of `providers`: what `demo` and the tests give a client, and
/// what a sandbox checks unless told otherwise. A key-file variable names `key_file` (write it
/// with [`write_key_file`]); an Azure key is base64; every other variable holds
/// [`PLACEHOLDER`].
pub fn placeholder_credentials<'a, P: std::borrow::Borrow<Provider> + 'a>(
    providers: impl IntoIterator<Item = &'a P>,
    key_file: &std::path::Path,
) -> Credentials {
    let mut credentials = Credentials::new();
    for provider in providers {
        let provider: &Provider = provider.borrow();
        for scheme in schemes(&provider.auth) {
            for name in scheme.env_names() {
                credentials.set(name, placeholder_for(scheme, name, key_file));
            }
        }
    }
    credentials
}

fn placeholder_for(auth: &Auth, name: &str, key_file: &std::path::Path) -> String {
    match auth {
        Auth::Sign(signing) if matches!(**signing, Signing::AzureSharedKey { ref key_env, .. } if key_env == name) => {
            base64::engine::general_purpose::STANDARD.encode(PLACEHOLDER)
        }
        Auth::OAuth2(oauth) => match &oauth.grant {
            Grant::JwtBearer(JwtKey::KeyFile { env }) if env == name => {
                key_file.display().to_string()
            }
            Grant::JwtBearer(JwtKey::Pem {
                private_key_env, ..
            }) if private_key_env == name => SANDBOX_PRIVATE_KEY.to_owned(),
            _ => PLACEHOLDER.to_owned(),
        },
        Auth::QueryString { .. } => format!("sv=2021-08-06&sr=b&sp=r&sig={PLACEHOLDER}"),
        _ => PLACEHOLDER.to_owned(),
    }
}

/// Writes the built-in service account's key file into `dir` and returns its path.
pub fn write_key_file(dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join("sandbox-service-account.json");
    std::fs::write(&path, key_file().to_string())?;
    Ok(path)
}

/// The built-in service account's key file, in Google's format.
fn key_file() -> serde_json::Value {
    serde_json::json!({
        "type": "service_account",
        "project_id": "unitask-sandbox",
        "private_key_id": "sandbox-key",
        "private_key": SANDBOX_PRIVATE_KEY,
        "client_email": SANDBOX_CLIENT_EMAIL,
        "client_id": "0",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
}

/// The schemes of `auth`: itself, or each alternative.
pub fn schemes(auth: &Auth) -> Vec<&Auth> {
    match auth {
        Auth::AnyOf(list) => list.iter().collect(),
        one => vec![one],
    }
}

/// What one provider's credentials did in a sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Tokens its token endpoint issued.
    pub tokens_issued: u64,
    /// Tokens `fault-token-expired` expired before their time.
    pub tokens_expired: u64,
    /// Requests whose signature the sandbox recomputed and accepted.
    pub signed_requests: u64,
}

/// Tokens issued, nonces seen, and what each provider's credentials did. `Debug` shows counts,
/// never a token.
#[derive(Default)]
pub(crate) struct Ledger {
    /// Token → (provider id, when it expires).
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    nonces: Mutex<(HashSet<String>, std::collections::VecDeque<String>)>,
    /// (provider id, task id) whose token `fault-token-expired` has expired already.
    expired_for: Mutex<HashSet<(String, String)>>,
    activity: Mutex<HashMap<String, Activity>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("activity", &*lock(&self.activity))
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Ledger {
    /// What each provider's credentials did so far.
    pub(crate) fn activity(&self) -> HashMap<String, Activity> {
        lock(&self.activity).clone()
    }

    fn count(&self, provider: &str, add: impl FnOnce(&mut Activity)) {
        add(lock(&self.activity).entry(provider.to_owned()).or_default());
    }

    /// Expires `token` now if it is a live token of `provider` and no token has been expired
    /// for `task_id` before; whether it did.
    pub(crate) fn expire_once(&self, provider: &str, task_id: &str, token: &str) -> bool {
        let mut tokens = lock(&self.tokens);
        let now = Instant::now();
        let Some((owner, expires)) = tokens.get_mut(token) else {
            return false;
        };
        if owner != provider || *expires <= now {
            return false;
        }
        let mut expired_for = lock(&self.expired_for);
        if expired_for.len() >= MAX_REMEMBERED
            || !expired_for.insert((provider.to_owned(), task_id.to_owned()))
        {
            return false;
        }
        *expires = now;
        drop((tokens, expired_for));
        self.count(provider, |a| a.tokens_expired += 1);
        true
    }

    fn issue(&self, provider: &str, lifetime: Duration) -> String {
        let token = format!("sbx-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let mut tokens = lock(&self.tokens);
        let now = Instant::now();
        if tokens.len() >= MAX_REMEMBERED {
            tokens.retain(|_, (_, expires)| *expires > now);
        }
        if tokens.len() < MAX_REMEMBERED {
            tokens.insert(token.clone(), (provider.to_owned(), now + lifetime));
        }
        drop(tokens);
        self.count(provider, |a| a.tokens_issued += 1);
        token
    }

    /// Why `token` is not a live token of `provider`, if it is not.
    fn check_token(&self, provider: &str, token: &str) -> Result<(), String> {
        let tokens = lock(&self.tokens);
        match tokens.get(token) {
            Some((owner, expires)) if owner == provider && *expires > Instant::now() => Ok(()),
            Some((owner, _)) if owner == provider => Err("the access token has expired".into()),
            _ => Err("the access token was not issued by this sandbox for this provider".into()),
        }
    }

    /// Whether `nonce` is new (it is remembered from now on).
    fn fresh_nonce(&self, nonce: &str) -> bool {
        let mut guard = lock(&self.nonces);
        let (seen, order) = &mut *guard;
        if !seen.insert(nonce.to_owned()) {
            return false;
        }
        order.push_back(nonce.to_owned());
        if order.len() > MAX_REMEMBERED
            && let Some(oldest) = order.pop_front()
        {
            seen.remove(&oldest);
        }
        true
    }
}

/// A request as the sandbox received it, for checking its credential.
pub(crate) struct Received<'a> {
    pub method: &'a str,
    /// The URL the client addressed (scheme, `Host`, path and query as sent).
    pub url: url::Url,
    pub headers: &'a axum::http::HeaderMap,
    pub body: &'a [u8],
}

impl Received<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Checks a request's credential against `credentials`: `Ok` when one of the definition's
/// schemes accepts it, else why not.
pub(crate) fn check(
    provider: &Provider,
    credentials: &Credentials,
    ledger: &Ledger,
    request: &Received<'_>,
) -> Result<(), String> {
    let mut why = Vec::new();
    for scheme in schemes(&provider.auth) {
        match check_one(scheme, provider, credentials, ledger, request) {
            Ok(()) => {
                if matches!(scheme, Auth::Sign(_)) {
                    ledger.count(&provider.id, |a| a.signed_requests += 1);
                }
                return Ok(());
            }
            Err(reason) => why.push(reason),
        }
    }
    Err(why.join("; or "))
}

/// The token of an `Authorization: Bearer` header, if the request has one.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn check_one(
    auth: &Auth,
    provider: &Provider,
    credentials: &Credentials,
    ledger: &Ledger,
    request: &Received<'_>,
) -> Result<(), String> {
    let bearer = || bearer_token(request.headers);
    match auth {
        Auth::None => Ok(()),
        // Static secrets: present where the definition puts them.
        Auth::Bearer { .. } => bearer().map(|_| ()).ok_or("no bearer token".into()),
        Auth::Header { name, prefix, .. } => request
            .header(name)
            .and_then(|v| v.strip_prefix(prefix.as_str()))
            .filter(|rest| !rest.is_empty())
            .map(|_| ())
            .ok_or(format!("no credential in `{name}`")),
        Auth::Query { param, .. } => request
            .url
            .query_pairs()
            .any(|(n, v)| n == *param && !v.is_empty())
            .then_some(())
            .ok_or(format!("no `{param}` in the query")),
        Auth::Basic { password_env, .. } => basic_pair(request.header("authorization"))
            .filter(|(u, p)| !u.is_empty() && (password_env.is_none() || !p.is_empty()))
            .map(|_| ())
            .ok_or("no basic credential".into()),
        Auth::QueryString { env } => {
            let given = credentials.value(env).unwrap_or_default();
            let expected: Vec<(String, String)> =
                url::form_urlencoded::parse(given.trim_start_matches('?').as_bytes())
                    .into_owned()
                    .collect();
            let sent: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
            let complete = !expected.is_empty() && expected.iter().all(|p| sent.contains(p));
            complete
                .then_some(())
                .ok_or("the SAS token is missing or altered".into())
        }
        Auth::OAuth2(_) => {
            let token = bearer().ok_or("no bearer token")?;
            ledger.check_token(&provider.id, token)
        }
        Auth::Sign(signing) => verify_signature(signing, credentials, ledger, request),
        Auth::AnyOf(_) => Err("nested alternatives".into()),
    }
}

/// Recomputes the signature of `request` with the sandbox's secret, the request's own date
/// (and nonce), and the headers it says it signed; compares it with the one sent.
fn verify_signature(
    signing: &Signing,
    credentials: &Credentials,
    ledger: &Ledger,
    request: &Received<'_>,
) -> Result<(), String> {
    let sent = request.header("authorization").unwrap_or_default();
    let secret = |name: &str| {
        credentials
            .value(name)
            .map(|v| SecretString::from(v.to_owned()))
            .ok_or(format!("the sandbox has no {name}"))
    };
    let recent = |time: SystemTime| {
        let skew = match SystemTime::now().duration_since(time) {
            Ok(ago) => ago,
            Err(ahead) => ahead.duration(),
        };
        (skew <= MAX_SKEW)
            .then_some(time)
            .ok_or("the signed date is more than 15 minutes off".to_owned())
    };
    // The request's headers that a signer adds itself are left out: it adds them again.
    let own = |added: &[&str]| -> Vec<(String, String)> {
        request
            .headers
            .iter()
            .filter(|(n, _)| {
                let n = n.as_str();
                n != "authorization" && n != "host" && !added.contains(&n)
            })
            .filter_map(|(n, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (n.as_str().to_owned(), v.to_owned()))
            })
            .collect()
    };
    let (signer, time, nonce, headers) = match signing {
        Signing::AwsSigV4 {
            service,
            content_sha256,
            access_key_id_env,
            secret_access_key_env,
            session_token_env,
            ..
        } => {
            // Credential=<key>/<date>/<region>/<service>/aws4_request
            let scope = sent
                .split("Credential=")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .unwrap_or_default();
            let parts: Vec<&str> = scope.split('/').collect();
            let [key, _, region, signed_service, _] = parts[..] else {
                return Err("no AWS4-HMAC-SHA256 signature".into());
            };
            if Some(key) != credentials.value(access_key_id_env) {
                return Err("an unknown access key id".into());
            }
            if signed_service != service {
                return Err(format!("signed for `{signed_service}`, not `{service}`"));
            }
            let date = request.header("x-amz-date").unwrap_or_default();
            let time = utc("%Y%m%dT%H%M%SZ", date).ok_or("no valid x-amz-date")?;
            // Only the headers it signed: a proxy may add others.
            let signed: Vec<&str> = sent
                .split("SignedHeaders=")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .unwrap_or_default()
                .split(';')
                .collect();
            let headers: Vec<(String, String)> =
                own(&["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"])
                    .into_iter()
                    .filter(|(n, _)| signed.contains(&n.as_str()))
                    .collect();
            let signer = Signer::AwsSigV4 {
                service: service.clone(),
                region: region.to_owned(),
                content_sha256: *content_sha256,
                access_key_id: key.to_owned(),
                secret_access_key: secret(secret_access_key_env)?,
                session_token: credentials
                    .value(session_token_env)
                    .filter(|_| request.header("x-amz-security-token").is_some())
                    .map(|v| SecretString::from(v.to_owned())),
            };
            (signer, recent(time)?, String::new(), headers)
        }
        Signing::Acs3 {
            access_key_id_env,
            access_key_secret_env,
            security_token_env,
        } => {
            let date = request.header("x-acs-date").unwrap_or_default();
            let time = utc("%Y-%m-%dT%H:%M:%SZ", date).ok_or("no valid x-acs-date")?;
            let nonce = request
                .header("x-acs-signature-nonce")
                .unwrap_or_default()
                .to_owned();
            let signer = Signer::Acs3 {
                access_key_id: credentials
                    .value(access_key_id_env)
                    .unwrap_or_default()
                    .to_owned(),
                access_key_secret: secret(access_key_secret_env)?,
                security_token: credentials
                    .value(security_token_env)
                    .filter(|_| request.header("x-acs-security-token").is_some())
                    .map(|v| SecretString::from(v.to_owned())),
            };
            let headers = own(&[
                "x-acs-date",
                "x-acs-signature-nonce",
                "x-acs-content-sha256",
                "x-acs-security-token",
            ]);
            (signer, recent(time)?, nonce, headers)
        }
        Signing::AzureSharedKey { key_env, .. } => {
            let account = sent
                .strip_prefix("SharedKey ")
                .and_then(|s| s.split_once(':'))
                .map(|(account, _)| account.to_owned())
                .ok_or("no SharedKey signature")?;
            let date = request.header("x-ms-date").unwrap_or_default();
            let time = utc("%a, %d %b %Y %H:%M:%S GMT", date).ok_or("no valid x-ms-date")?;
            let signer = Signer::AzureSharedKey {
                account,
                key: secret(key_env)?,
            };
            (signer, recent(time)?, String::new(), own(&["x-ms-date"]))
        }
    };
    let unsigned = Unsigned {
        method: request.method,
        url: &request.url,
        headers: &headers,
        body: request.body,
    };
    let expected = signer.sign(unsigned, time, &nonce).map_err(|e| e.0)?;
    let authorization = expected
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if authorization != sent {
        return Err("the signature does not match the request".into());
    }
    if matches!(signing, Signing::Acs3 { .. }) && !ledger.fresh_nonce(&nonce) {
        return Err("the signature nonce was used before".into());
    }
    Ok(())
}

/// A UTC time written as `format` says (with no offset in it).
fn utc(format: &str, text: &str) -> Option<SystemTime> {
    let civil = jiff::fmt::strtime::parse(format, text)
        .ok()?
        .to_datetime()
        .ok()?;
    let zoned = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    Some(SystemTime::from(zoned.timestamp()))
}

/// The token endpoint of `provider`: checks the grant and issues a token living `lifetime`.
/// Answers `(status, JSON body)` as RFC 6749 §5 says.
pub(crate) fn token_endpoint(
    provider: &Provider,
    credentials: &Credentials,
    ledger: &Ledger,
    lifetime: Duration,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let refuse = |status: u16, error: &str, description: &str| {
        (
            status,
            serde_json::json!({ "error": error, "error_description": description }),
        )
    };
    let Some(oauth) = schemes(&provider.auth).into_iter().find_map(|a| match a {
        Auth::OAuth2(oauth) => Some(oauth),
        _ => None,
    }) else {
        return refuse(404, "invalid_request", "this provider has no OAuth grant");
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let grant_type = form
        .get("grant_type")
        .map(String::as_str)
        .unwrap_or_default();
    let accepted = match (&oauth.grant, grant_type) {
        (
            Grant::ClientCredentials {
                client_id_env,
                client_secret_env,
            },
            "client_credentials",
        ) => client_authenticated(
            credentials,
            headers,
            &form,
            client_id_env,
            Some(client_secret_env),
        ),
        (
            Grant::RefreshToken {
                client_id_env,
                client_secret_env,
                refresh_token_env,
            },
            "refresh_token",
        ) => client_authenticated(
            credentials,
            headers,
            &form,
            client_id_env,
            client_secret_env.as_ref(),
        )
        .and_then(|()| {
            (form.get("refresh_token").map(String::as_str) == credentials.value(refresh_token_env))
                .then_some(())
                .ok_or(("invalid_grant", "the refresh token is not valid"))
        }),
        (Grant::JwtBearer(key), "urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            verify_assertion(oauth, key, credentials, form.get("assertion"))
        }
        _ => Err(("unsupported_grant_type", "this provider uses another grant")),
    };
    match accepted {
        Ok(()) => {
            let token = ledger.issue(&provider.id, lifetime);
            (
                200,
                serde_json::json!({
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": lifetime.as_secs().max(1),
                }),
            )
        }
        Err((error @ "invalid_client", why)) => refuse(401, error, why),
        Err((error, why)) => refuse(400, error, why),
    }
}

type Refusal = (&'static str, &'static str);

/// The client's id and secret, from basic auth or the form, as `oauth` says it sends them.
fn client_authenticated(
    credentials: &Credentials,
    headers: &axum::http::HeaderMap,
    form: &HashMap<String, String>,
    client_id_env: &str,
    client_secret_env: Option<&String>,
) -> Result<(), Refusal> {
    let decode = |text: &str| {
        url::form_urlencoded::parse(format!("x={text}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let basic = basic_pair(headers.get("authorization").and_then(|v| v.to_str().ok()))
        .map(|(id, secret)| (decode(&id), decode(&secret)));
    let (id, secret) = basic.unwrap_or_else(|| {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        )
    });
    let id_ok = Some(id.as_str()) == credentials.value(client_id_env);
    let secret_ok =
        client_secret_env.is_none_or(|env| Some(secret.as_str()) == credentials.value(env));
    (id_ok && secret_ok)
        .then_some(())
        .ok_or(("invalid_client", "the client id or secret is wrong"))
}

/// The user and password of an `Authorization: Basic` value.
fn basic_pair(authorization: Option<&str>) -> Option<(String, String)> {
    let token = authorization?.strip_prefix("Basic ")?;
    let pair = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let pair = String::from_utf8(pair).ok()?;
    let (user, password) = pair.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// An RS256 assertion signed by the key the sandbox knows, for the right audience, unexpired.
fn verify_assertion(
    oauth: &OAuth2,
    key: &JwtKey,
    credentials: &Credentials,
    assertion: Option<&String>,
) -> Result<(), Refusal> {
    let invalid = ("invalid_grant", "the assertion is not valid");
    let (issuer, pem, audience) = match key {
        JwtKey::KeyFile { env } => {
            // The file the sandbox was given, else the built-in service account's.
            let file = credentials
                .value(env)
                .and_then(|path| std::fs::read_to_string(path).ok())
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .unwrap_or_else(key_file);
            let field = |name: &str| file[name].as_str().map(str::to_owned);
            (
                field("client_email").ok_or(invalid)?,
                SecretString::from(field("private_key").ok_or(invalid)?),
                oauth.audience.clone().or_else(|| field("token_uri")),
            )
        }
        JwtKey::Pem {
            issuer_env,
            private_key_env,
            ..
        } => (
            credentials.value(issuer_env).ok_or(invalid)?.to_owned(),
            SecretString::from(
                credentials
                    .value(private_key_env)
                    .ok_or(invalid)?
                    .to_owned(),
            ),
            oauth
                .audience
                .clone()
                .or_else(|| oauth.token_url.as_ref().map(|t| t.to_string())),
        ),
    };
    let public = public_pem(pem.expose_secret()).ok_or(invalid)?;
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).map_err(|_| invalid)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    match &audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    let claims = jsonwebtoken::decode::<crate::http::oauth::Claims>(
        assertion.map(String::as_str).unwrap_or_default(),
        &decoding,
        &validation,
    )
    .map_err(|_| invalid)?
    .claims;
    let scopes = oauth.scopes.join(" ");
    if claims.scope.unwrap_or_default() != scopes || claims.exp > claims.iat + 3600 {
        return Err(invalid);
    }
    Ok(())
}

/// The public half of a PEM RSA private key (PKCS#8 or PKCS#1), as PEM.
fn public_pem(private: &str) -> Option<String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
    let key = rsa::PrivateKey::from_pkcs8_pem(private)
        .ok()
        .or_else(|| rsa::PrivateKey::from_pkcs1_pem(private).ok())?;
    rsa::PublicKey::from(&key)
        .to_public_key_pem(LineEnding::LF)
        .ok()
}
