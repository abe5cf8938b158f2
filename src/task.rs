//! The unified model: what every provider's answer becomes.
//!
//! Field names are the contract (docs/architecture.md, "The unified model"): the CLI's `--json` prints
//! exactly these types, so renaming a field is a breaking change.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize, Serializer};

pub use crate::spec::ProgressUnit;

/// One task's status, normalized. What it serializes to reads back into an equal task.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadTask {
    /// The definition id.
    pub provider: String,
    /// The task id.
    pub id: String,
    /// The unified state; [`State::Unknown`] for a native status the definition does not map.
    pub state: State,
    /// The provider's own value as text (`"PROCESSING"`, `"1"`, `"confirmed=false"`).
    pub native_status: String,
    /// The provider's name for a coded status (`"Transcoding"` for `"3"`), where the definition
    /// gives one.
    pub native_label: Option<String>,
    /// Whether the state is final.
    pub terminal: bool,
    /// How far along the task is; `None` when the definition reads no progress or its `done`
    /// does not convert.
    pub progress: Option<Progress>,
    /// When the task was created; `None` when the provider does not say.
    pub created_at: Option<jiff::Timestamp>,
    /// When work on the task started; `None` when the provider does not say.
    pub started_at: Option<jiff::Timestamp>,
    /// When the provider last changed the task; `None` when it does not say.
    pub updated_at: Option<jiff::Timestamp>,
    /// When the task finished; `None` when the provider does not say.
    pub completed_at: Option<jiff::Timestamp>,
    /// The files the task produced or is about, in the order the definition selects them.
    #[serde(default)]
    pub files: Vec<File>,
    /// Task-level failures the provider reported (one per failed item, for instance).
    #[serde(default)]
    pub errors: Vec<TaskError>,
    /// Provider-specific values the definition names.
    #[serde(default)]
    pub extra: IndexMap<String, serde_json::Value>,
    /// Values the definition reads that did not convert: each such field is null (or left
    /// out), and the rest of the task stands.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The follow-up the definition hands over to once the task is done (its result on another
    /// resource): `watch` follows it to its end.
    pub next: Option<Next>,
    /// The provider's body, untouched.
    #[serde(default)]
    pub raw: serde_json::Value,
}

/// A follow-up task on another definition.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Next {
    /// The definition id.
    pub provider: String,
    /// Its task id.
    pub task_id: String,
    /// Its other inputs.
    pub inputs: IndexMap<String, String>,
}

/// The unified state.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Accepted, not started yet.
    Pending,
    /// Under way.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished, some items failed.
    Partial,
    /// Ended in failure.
    Failed,
    /// Stopped before the end, by a user or the provider.
    Canceled,
    /// Given up by the provider when its time ran out (an upload session that lapsed).
    Expired,
    /// A value the definition does not map: never terminal, never an error.
    Unknown,
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 8] = [
        State::Pending,
        State::Running,
        State::Succeeded,
        State::Partial,
        State::Failed,
        State::Canceled,
        State::Expired,
        State::Unknown,
    ];

    /// The names written in definitions.
    pub const NAMES: [&'static str; 8] = [
        "pending",
        "running",
        "succeeded",
        "partial",
        "failed",
        "canceled",
        "expired",
        "unknown",
    ];

    /// The name written in definitions and `--json` (`succeeded`).
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The state of that name (as [`State::as_str`] writes it); `None` for any other text.
    pub fn from_name(name: &str) -> Option<State> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Self::ALL[i])
    }

    /// Whether a task in this state will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Succeeded | State::Partial | State::Failed | State::Canceled | State::Expired
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for State {
    type Err = UnknownName;

    /// A state by the name definitions and `--json` use (`succeeded`).
    fn from_str(name: &str) -> Result<State, UnknownName> {
        State::from_name(name).ok_or_else(|| UnknownName::new("state", name, &State::NAMES))
    }
}

/// A name that names no [`State`] (or [`ErrorKind`](crate::ErrorKind)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{given}`; expected one of {expected}")]
pub struct UnknownName {
    what: &'static str,
    given: String,
    expected: String,
}

impl UnknownName {
    pub(crate) fn new(what: &'static str, given: &str, names: &[&str]) -> UnknownName {
        UnknownName {
            what,
            given: given.to_owned(),
            expected: names.join(", "),
        }
    }
}

/// How far along a task is.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Work done, in `unit`s (a percent for [`ProgressUnit::Percent`]).
    #[serde(serialize_with = "number")]
    pub done: f64,
    /// Work in all, in `unit`s; `None` when the provider does not say.
    #[serde(serialize_with = "optional_number")]
    pub total: Option<f64>,
    /// What `done` and `total` count.
    pub unit: ProgressUnit,
}

/// Whole numbers print without a fraction (`3`, not `3.0`).
fn number<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

fn optional_number<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => number(v, serializer),
        None => serializer.serialize_none(),
    }
}

/// A file the task produced or is about.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// The provider's id for the file.
    pub id: Option<String>,
    /// The file's name.
    pub name: Option<String>,
    /// Where the file can be fetched.
    pub url: Option<String>,
    /// Where the file was imported from.
    pub source_url: Option<String>,
    /// Where the file is stored on the provider's side (a path, an object key, an `s3://` URL).
    pub path: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
    /// Its media type (`video/mp4`).
    pub mime: Option<String>,
    /// Its MD5 digest, as the provider writes it (hex or base64).
    pub md5: Option<String>,
}

/// A task-level failure the provider reported.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskError {
    /// The provider's code for the failure.
    pub code: Option<String>,
    /// What went wrong, in the provider's words.
    pub message: String,
    /// The item the error is about (a source URL, a file name).
    pub item: Option<String>,
}

/// A value that did not convert. Only the status is essential: any other field that cannot be
/// read is null, and says why here.
#[cfg_attr(feature = "serve", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Where in the task: `created_at`, `progress.total`, `files[2].size`, `extra.owner`.
    pub field: String,
    /// What was found and what the definition expected.
    pub message: String,
}
