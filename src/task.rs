//! The unified model: what every provider's answer becomes.
//!
//! Field names are the contract (docs/architecture.md, "The unified model"): the CLI's `--json` prints
//! exactly these types, so renaming a field is a breaking change.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize, Serializer};

pub use crate::spec::ProgressUnit;

/// One task's status, normalized. What it serializes to reads back into an equal task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadTask {
    /// The definition id.
    pub provider: String,
    /// The task id.
    pub id: String,
    pub state: State,
    /// The provider's own value as text (`"PROCESSING"`, `"1"`, `"confirmed=false"`).
    pub native_status: String,
    /// The provider's name for a coded status (`"Transcoding"` for `"3"`), where the definition
    /// gives one.
    pub native_label: Option<String>,
    /// Whether the state is final.
    pub terminal: bool,
    pub progress: Option<Progress>,
    pub created_at: Option<jiff::Timestamp>,
    pub started_at: Option<jiff::Timestamp>,
    pub updated_at: Option<jiff::Timestamp>,
    pub completed_at: Option<jiff::Timestamp>,
    #[serde(default)]
    pub files: Vec<File>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Running,
    Succeeded,
    /// Finished, some items failed.
    Partial,
    Failed,
    Canceled,
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

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(serialize_with = "number")]
    pub done: f64,
    #[serde(serialize_with = "optional_number")]
    pub total: Option<f64>,
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct File {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub source_url: Option<String>,
    pub path: Option<String>,
    pub size: Option<u64>,
    pub mime: Option<String>,
    pub md5: Option<String>,
}

/// A task-level failure the provider reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskError {
    pub code: Option<String>,
    pub message: String,
    pub item: Option<String>,
}

/// A value that did not convert. Only the status is essential: any other field that cannot be
/// read is null, and says why here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Where in the task: `created_at`, `progress.total`, `files[2].size`, `extra.owner`.
    pub field: String,
    /// What was found and what the definition expected.
    pub message: String,
}
