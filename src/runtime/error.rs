//! The typed request error: what a failed request becomes, whatever the provider.

use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A request that did not produce a task. It serializes (and reads back) without its
/// [`source`](std::error::Error::source), which is a live error value.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Error {
    /// What went wrong, in provider-independent terms.
    pub kind: ErrorKind,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The provider's error code.
    pub code: Option<String>,
    /// The provider's message, or ours when the provider gave none.
    pub message: String,
    /// Whether trying again may succeed.
    pub retryable: bool,
    /// How long the provider asked us to wait, in whole seconds.
    #[serde(serialize_with = "seconds", deserialize_with = "from_seconds", default)]
    #[cfg_attr(feature = "serve", schema(value_type = Option<u64>))]
    pub retry_after: Option<Duration>,
    /// The start of the body, for bodies we could not read.
    pub excerpt: Option<String>,
    /// Details the provider listed (a problem per field, a validation error per parameter).
    #[serde(default)]
    #[cfg_attr(feature = "serve", schema(value_type = Vec<crate::task::TaskError>))]
    pub details: Box<[crate::task::TaskError]>,
    /// The error underneath (the HTTP client's, an I/O error), for `source()`.
    #[serde(skip)]
    pub cause: Option<Cause>,
}

fn seconds<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => serializer.serialize_u64(d.as_secs()),
        None => serializer.serialize_none(),
    }
}

fn from_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_secs))
}

/// The error underneath an [`Error`]. Two causes are equal when they say the same thing (an
/// error value has no equality of its own). One pointer wide, so errors stay small.
#[derive(Clone)]
#[allow(clippy::redundant_allocation)]
pub struct Cause(Arc<Box<dyn std::error::Error + Send + Sync>>);

impl Cause {
    /// Wraps `error` to be the cause of an [`Error`].
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Cause {
        Cause(Arc::new(Box::new(error)))
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

/// What went wrong, in provider-independent terms.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credential is missing, invalid or expired.
    Unauthorized,
    /// The credential is valid but may not see this task.
    Forbidden,
    /// The task (or its library, store, account) does not exist.
    NotFound,
    /// Too many requests; see `retry_after`.
    RateLimited,
    /// The request was malformed or refused.
    InvalidRequest,
    /// The provider failed.
    Server,
    /// No answer in time.
    Timeout,
    /// The connection failed.
    Transport,
    /// The answer could not be read.
    Decode,
    /// The definition cannot make this request.
    Definition,
}

impl ErrorKind {
    /// Every kind, in the order of [`NAMES`](Self::NAMES).
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::RateLimited,
        ErrorKind::InvalidRequest,
        ErrorKind::Server,
        ErrorKind::Timeout,
        ErrorKind::Transport,
        ErrorKind::Decode,
        ErrorKind::Definition,
    ];

    /// The names written in definitions.
    pub const NAMES: [&'static str; 10] = [
        "unauthorized",
        "forbidden",
        "not_found",
        "rate_limited",
        "invalid_request",
        "server",
        "timeout",
        "transport",
        "decode",
        "definition",
    ];

    /// The name written in definitions and `--json` (`not_found`).
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The kind of that name (as [`ErrorKind::as_str`] writes it); `None` for any other text.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Self::ALL[i])
    }

    /// The kind an HTTP status means when the definition says nothing more.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 | 410 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::InvalidRequest,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = crate::task::UnknownName;

    /// A kind by the name definitions and `--json` use (`not_found`).
    fn from_str(name: &str) -> Result<ErrorKind, Self::Err> {
        ErrorKind::from_name(name)
            .ok_or_else(|| crate::task::UnknownName::new("error kind", name, &ErrorKind::NAMES))
    }
}

impl Error {
    /// An error with no response behind it (refused input, missing credential, client set-up).
    pub fn local(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            status: None,
            code: None,
            message: message.into(),
            retryable: false,
            retry_after: None,
            excerpt: None,
            details: Box::default(),
            cause: None,
        }
    }

    /// An answer we could not read, with an excerpt of it.
    pub fn decode(status: u16, message: impl Into<String>, body: &[u8]) -> Error {
        Error {
            kind: ErrorKind::Decode,
            status: Some(status),
            code: None,
            message: message.into(),
            retryable: false,
            retry_after: None,
            excerpt: Some(excerpt(body)),
            details: Box::default(),
            cause: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_ref()
            .map(|cause| &**cause.0 as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// The same error, with the error underneath it kept for `source()`.
    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.cause = Some(Cause::new(cause));
        self
    }
}

/// The first 200 characters of a body, lossily decoded, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(LIMIT * 4)]);
    let mut out: String = text.chars().take(LIMIT).collect();
    if text.chars().count() > LIMIT || body.len() > LIMIT * 4 {
        out.push('…');
    }
    out
}
