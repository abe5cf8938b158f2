//! The typed request error: what a failed request becomes, whatever the provider.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// A request that did not produce a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Error {
    pub kind: ErrorKind,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The provider's error code.
    pub code: Option<String>,
    /// The provider's message, or ours when the provider gave none.
    pub message: String,
    /// Whether trying again may succeed.
    pub retryable: bool,
    /// How long the provider asked us to wait.
    #[serde(serialize_with = "seconds")]
    pub retry_after: Option<Duration>,
    /// The start of the body, for bodies we could not read.
    pub excerpt: Option<String>,
    /// Details the provider listed (a problem per field, a validation error per parameter).
    pub details: Vec<crate::task::TaskError>,
}

fn seconds<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => serializer.serialize_u64(d.as_secs()),
        None => serializer.serialize_none(),
    }
}

/// What went wrong, in provider-independent terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
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

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

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
            details: Vec::new(),
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
            details: Vec::new(),
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

impl std::error::Error for Error {}

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
