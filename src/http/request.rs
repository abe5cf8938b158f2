//! Building the status request: inputs checked and placed, the URL rendered from its templates,
//! the credential applied. Pure (no I/O), so every rule here is checked before anything is sent.
//!
//! Invariants 2 and 3 (docs/architecture.md): placeholder values are percent-encoded per segment and can
//! never add a segment or change the host; `""`, `.`, `..` and CR/LF are refused; host inputs
//! match their pattern; credentials go over https, or plain http to loopback only.

use std::collections::HashMap;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};

use crate::http::auth::PerAttempt;
use crate::model::{Auth, Input, Provider};
use crate::runtime::{Error, ErrorKind};
use crate::spec::{InputLocation, Method};
#[doc(hidden)]
pub use crate::syntax::url::is_loopback;

/// Everything but RFC 3986 unreserved characters is encoded inside a path segment or a query
/// component: `/`, `?`, `#`, `%`, `&`, `=` and spaces can never change the request's shape.
pub(crate) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Values for a provider's inputs, by input name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Inputs(Vec<(String, String)>);

impl Inputs {
    /// No inputs.
    pub fn new() -> Inputs {
        Inputs::default()
    }

    /// Sets `name` (replacing an earlier value).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Inputs {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
        self
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every input as `(name, value)`, in the order first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Inputs {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut inputs = Inputs::new();
        for (k, v) in iter {
            inputs.set(k, v);
        }
        inputs
    }
}

/// Secrets by environment-variable name, and where OAuth grants fetch their tokens when that
/// is not the definition's token URL (`--auth-url`). `Debug` never shows a value.
#[derive(Clone, Default)]
pub struct Credentials {
    secrets: HashMap<String, SecretString>,
    token_endpoint: Option<url::Url>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.secrets.keys().collect();
        names.sort();
        f.debug_struct("Credentials")
            .field("names", &names)
            .field("values", &"[redacted]")
            .field(
                "token_endpoint",
                &self.token_endpoint.as_ref().map(url::Url::as_str),
            )
            .finish()
    }
}

impl Credentials {
    /// No credentials.
    pub fn new() -> Credentials {
        Credentials::default()
    }

    /// These credentials with `secret` for the environment variable `name`, by value:
    /// `Credentials::new().with("HUBSPOT_ACCESS_TOKEN", token)`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, secret: impl Into<String>) -> Credentials {
        self.set(name, secret);
        self
    }

    /// These credentials, fetching OAuth tokens from `url` (see
    /// [`set_token_endpoint`](Self::set_token_endpoint)), by value.
    #[must_use]
    pub fn with_token_endpoint(mut self, url: url::Url) -> Credentials {
        self.set_token_endpoint(url);
        self
    }

    /// Sets the secret that the definition reads from the environment variable `name`.
    pub fn set(&mut self, name: impl Into<String>, secret: impl Into<String>) -> &mut Credentials {
        self.secrets
            .insert(name.into(), SecretString::from(secret.into()));
        self
    }

    /// Fetches OAuth tokens from `url` instead of the definition's token URL (the sandbox, a
    /// test server); held to the same rules (https, or http to a loopback host).
    pub fn set_token_endpoint(&mut self, url: url::Url) -> &mut Credentials {
        self.token_endpoint = Some(url);
        self
    }

    /// Where tokens are fetched instead of the definition's token URL, if set.
    pub fn token_endpoint(&self) -> Option<&url::Url> {
        self.token_endpoint.as_ref()
    }

    /// Reads every variable `auth` names from the process environment (missing ones stay unset).
    #[doc(hidden)]
    pub fn from_env(auth: &Auth) -> Credentials {
        let mut credentials = Credentials::new();
        for name in auth.env_names() {
            if let Ok(value) = std::env::var(name)
                && !value.is_empty()
            {
                credentials.set(name, value);
            }
        }
        credentials
    }

    /// The secret of `name`, or the error that says to set it.
    pub(crate) fn require(&self, name: &str) -> Result<&str, Error> {
        self.secrets
            .get(name)
            .map(|s| s.expose_secret())
            .ok_or_else(|| {
                Error::local(
                    ErrorKind::Unauthorized,
                    format!("no credential: set the environment variable {name}"),
                )
            })
    }

    /// The secret of one variable.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.secrets.get(name).map(|s| s.expose_secret())
    }

    /// The variables set.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.secrets.keys().map(String::as_str)
    }

    /// Every secret value, for redacting logs.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.secrets.values().map(|s| s.expose_secret())
    }
}

/// The environment variables an auth scheme reads.
#[doc(hidden)]
pub fn auth_env_names(auth: &Auth) -> Vec<&str> {
    auth.env_names()
}

/// A request ready to send. `Debug` redacts the credential.
#[doc(hidden)]
#[derive(Clone)]
pub struct PreparedRequest {
    pub method: Method,
    pub url: url::Url,
    /// Headers; the credential header, if any, is last and marked by `secret_header`.
    pub headers: Vec<(String, String)>,
    pub secret_header: bool,
    pub body: Option<Vec<u8>>,
    /// The query parameters that carry the credential, for redaction.
    pub secret_query: Vec<String>,
    /// A token or a signature the transport adds to each attempt.
    pub per_attempt: Option<PerAttempt>,
}

impl PreparedRequest {
    /// The URL with any credential in the query replaced by `***`, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url, &self.secret_query)
    }
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, (n, v))| {
                let secret = self.secret_header && i + 1 == self.headers.len();
                (n.as_str(), if secret { "***" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &self.redacted_url())
            .field("headers", &headers)
            .field("per_attempt", &self.per_attempt)
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned()),
            )
            .finish()
    }
}

/// `url` with the values of the query parameters `secrets` replaced by `***`.
#[doc(hidden)]
pub fn redact_url(url: &url::Url, secrets: &[String]) -> String {
    if secrets.is_empty() {
        return url.to_string();
    }
    let mut redacted = url.clone();
    if let Some(query) = url.query() {
        let parts: Vec<String> = query
            .split('&')
            .map(|part| match part.split_once('=') {
                Some((name, _)) if secrets.iter().any(|s| s == name) => format!("{name}=***"),
                _ => part.to_owned(),
            })
            .collect();
        redacted.set_query(Some(&parts.join("&")));
    }
    redacted.to_string()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::local(ErrorKind::InvalidRequest, message)
}

/// Refuses input names the provider does not have, and the task-id input (it is passed as the
/// task id). Generated clients call this too, so both engines refuse alike.
#[doc(hidden)]
pub fn check_input_names(provider: &Provider, inputs: &Inputs) -> Result<(), Error> {
    for (name, _) in inputs.iter() {
        if name == provider.task_id_input().name {
            return Err(invalid(format!(
                "`{name}` is the task id: pass it as the task id, not as an input"
            )));
        }
        if provider.input(name).is_none() {
            let names: Vec<&str> = provider.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(invalid(format!(
                "`{name}` is not an input of {} (inputs: {})",
                provider.id,
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Refuses credentials under names the definition never reads (a typo would otherwise surface
/// only as a 401, or as "no credential" for the name meant).
#[doc(hidden)]
pub fn check_credential_names(provider: &Provider, credentials: &Credentials) -> Result<(), Error> {
    let known = provider.auth.env_names();
    let mut unknown: Vec<&str> = credentials
        .names()
        .filter(|name| !known.contains(name))
        .collect();
    unknown.sort_unstable();
    match unknown.first() {
        None => Ok(()),
        Some(name) => Err(Error::local(
            ErrorKind::Unauthorized,
            format!(
                "`{name}` is not a credential of {} (it reads: {})",
                provider.id,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        )),
    }
}

/// The error for a required input with no value.
#[doc(hidden)]
pub fn missing_input(input: &Input) -> Error {
    let doc = input
        .doc
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    invalid(format!("input `{}` is required{doc}", input.name))
}

/// Builds the request for `task_id` with the other `inputs`, against the definition's base URL
/// or `base_url` when given (host inputs are then not needed).
#[doc(hidden)]
pub fn prepare(
    provider: &Provider,
    task_id: &str,
    inputs: &Inputs,
    base_url: Option<&url::Url>,
    credentials: &Credentials,
) -> Result<PreparedRequest, Error> {
    check_input_names(provider, inputs)?;
    let task_input = provider.task_id_input();
    let mut values: HashMap<&str, String> = HashMap::new();
    for input in &provider.inputs {
        let given = if input.name == task_input.name {
            Some(task_id.to_owned())
        } else {
            inputs.get(&input.name).map(str::to_owned)
        };
        let value = given.or_else(|| input.default.clone());
        match value {
            Some(value) => {
                if let Some(why) = input.refusal(&value) {
                    return Err(invalid(why));
                }
                values.insert(&input.name, value);
            }
            None if input.required
                && !(input.location == InputLocation::Host
                    && base_url.is_some()
                    && !provider.reads_host_input(&input.name)) =>
            {
                return Err(missing_input(input));
            }
            None => {}
        }
    }

    let mut url = match (&provider.base_url, base_url) {
        // The task id is the URL, its host already held to the allow-list by `refusal`.
        (None, given) => {
            let value = values
                .get(task_input.name.as_str())
                .map(String::as_str)
                .unwrap_or_default();
            let target = task_input.url_value(value).map_err(invalid)?;
            match given {
                Some(base) => rebase(base, &target),
                None => target,
            }
        }
        (Some(_), Some(url)) => url.clone(),
        (Some(template), None) => {
            let rendered = template.render(|name| values.get(name).cloned().unwrap_or_default());
            let url = url::Url::parse(&rendered)
                .map_err(|e| invalid(format!("the base URL {rendered:?} is not valid: {e}")))?;
            // Belt and braces: every host value must have landed inside the host.
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            for input in provider
                .inputs
                .iter()
                .filter(|i| i.location == InputLocation::Host)
            {
                if let Some(value) = values.get(input.name.as_str())
                    && !host.contains(&value.to_ascii_lowercase())
                {
                    return Err(invalid(format!(
                        "input `{}` did not stay inside the host",
                        input.name
                    )));
                }
            }
            url
        }
    };
    check_transport_security(&url, &provider.auth)?;
    // An `in: url` task id was refused one already; a base URL given on the command line or by
    // a definition could still carry one.
    if crate::syntax::url::has_credentials(&url) {
        return Err(Error::local(
            ErrorKind::Definition,
            format!(
                "the URL to {} carries a user name or password: a credential goes in the definition's `auth:`",
                url.host_str().unwrap_or_default()
            ),
        ));
    }

    let path = provider
        .request
        .path
        .render(|name| values.get(name).map(|v| encode(v)).unwrap_or_default());
    // A task id's URL is sent as it is, trailing `/` included, unless a path is added to it.
    if !path.is_empty() || provider.base_url.is_some() {
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
    }

    let mut query: Vec<String> = url.query().map(|q| vec![q.to_owned()]).unwrap_or_default();
    query.extend(provider.request.flags.iter().map(|f| encode(f)));
    query.extend(
        provider
            .request
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v))),
    );
    let mut headers: Vec<(String, String)> = provider.request.headers.clone();
    // Values already refused a line break; an input with no value leaves the header out.
    for (name, template) in &provider.request.header_templates {
        let mut complete = true;
        let value = template.render(|input| match values.get(input) {
            Some(value) => value.clone(),
            None => {
                complete = false;
                String::new()
            }
        });
        if complete {
            headers.push((name.clone(), value));
        }
    }
    let mut body_fields = serde_json::Map::new();
    for input in &provider.inputs {
        let Some(value) = values.get(input.name.as_str()) else {
            continue;
        };
        match input.location {
            InputLocation::Query => {
                query.push(format!("{}={}", encode(&input.wire_name), encode(value)))
            }
            InputLocation::Header => headers.push((input.wire_name.clone(), value.clone())),
            InputLocation::Body => {
                body_fields.insert(
                    input.wire_name.clone(),
                    serde_json::Value::String(value.clone()),
                );
            }
            // Carried to a follow-up only: never sent.
            InputLocation::Path
            | InputLocation::Host
            | InputLocation::Url
            | InputLocation::Next => {}
        }
    }

    let applied = crate::http::auth::apply(
        &provider.auth,
        credentials,
        &values,
        &mut headers,
        &mut query,
    )?;
    let secret_header = applied.secret_header;
    // Checked here, not when sending, so such a value is refused before any I/O. The message
    // names the header, never its value: the credential header may be the one refused.
    for (i, (name, value)) in headers.iter().enumerate() {
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            let what = if secret_header && i + 1 == headers.len() {
                "the credential".to_owned()
            } else {
                format!("header `{name}`")
            };
            return Err(invalid(format!(
                "{what} holds a line break or another control character HTTP cannot carry"
            )));
        }
    }
    url.set_query((!query.is_empty()).then(|| query.join("&")).as_deref());

    let body = match provider.request.method {
        Method::Get | Method::Head => None,
        // Every input is a variable, JSON-encoded where printed; one with no value is null.
        _ if provider.request.body_template.is_some() => {
            let template = provider.request.body_template.as_ref();
            let variables: std::collections::BTreeMap<&str, Option<&str>> = provider
                .inputs
                .iter()
                .map(|i| {
                    (
                        i.name.as_str(),
                        values.get(i.name.as_str()).map(String::as_str),
                    )
                })
                .collect();
            template
                .map(|t| t.render(&variables))
                .transpose()
                .map_err(|e| {
                    Error::local(
                        ErrorKind::Definition,
                        format!("the body template does not render: {}", e.message),
                    )
                })?
        }
        // An empty PUT (a session's status check) is sent with `Content-Length: 0`.
        Method::Put if provider.request.body.is_none() && body_fields.is_empty() => {
            Some(Vec::new())
        }
        Method::Post | Method::Put => {
            let mut body = match &provider.request.body {
                Some(serde_json::Value::Object(map)) => map.clone(),
                _ => serde_json::Map::new(),
            };
            body.extend(body_fields);
            Some(serde_json::to_vec(&serde_json::Value::Object(body)).unwrap_or_default())
        }
    };
    // A body is JSON unless the definition says otherwise; the credential header stays last.
    let typed = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if body.as_ref().is_some_and(|b| !b.is_empty()) && !typed {
        let at = headers.len() - usize::from(secret_header);
        headers.insert(at, ("content-type".into(), "application/json".into()));
    }
    Ok(PreparedRequest {
        method: provider.request.method,
        url,
        headers,
        secret_header,
        body,
        secret_query: applied.secret_query,
        per_attempt: applied.per_attempt,
    })
}

/// `target`'s path and query under `base` (`--base-url`, the sandbox): the origin and the path
/// prefix are `base`'s.
fn rebase(base: &url::Url, target: &url::Url) -> url::Url {
    let mut url = base.clone();
    let joined = format!("{}{}", base.path().trim_end_matches('/'), target.path());
    url.set_path(&joined);
    url.set_query(target.query());
    url
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// Credentials travel over https, or plain http to a loopback host.
#[doc(hidden)]
pub fn check_transport_security(url: &url::Url, auth: &Auth) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::local(
            ErrorKind::Definition,
            format!(
                "refusing plain http to {}: only loopback hosts may use http{}",
                url.host_str().unwrap_or_default(),
                if *auth == Auth::None {
                    ""
                } else {
                    ", and a credential never travels unencrypted"
                }
            ),
        )),
        other => Err(Error::local(
            ErrorKind::Definition,
            format!("unsupported URL scheme `{other}`"),
        )),
    }
}
