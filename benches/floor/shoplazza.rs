//! Shoplazza "Get Upload File Task", read by hand.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use unitask::task::ProgressUnit;
use unitask::{File, Progress, State, TaskError, UploadTask};

/// The task body: at the top level (2022-01) or under `data` (2025-06, 2026-01).
#[derive(Deserialize)]
struct ShoplazzaTask {
    task_id: Option<Text>,
    status: Status,
    finished: Option<Number>,
    total: Option<Number>,
    success_list: Option<Vec<Option<ShoplazzaFile>>>,
    /// The source URLs that could not be uploaded.
    failure_list: Option<Vec<Option<Text>>>,
}

#[derive(Deserialize)]
struct ShoplazzaFile {
    file_uri: Option<Text>,
    upload_link: Option<Text>,
    origin_link: Option<Text>,
}

/// The `{code, message, data}` envelope of the newer API versions.
#[derive(Deserialize)]
struct Envelope<'a> {
    code: Option<&'a str>,
}

/// `status`, an integer the API may also send as text; kept as canonical text.
struct Status(String);

/// A number, or a string holding one.
struct Number(f64);

/// A string, or a number or boolean read as written.
struct Text(String);

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Status;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Status, E> {
                Ok(Status(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Status, E> {
                Ok(Status(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Status, E> {
                if v.fract() == 0.0 && v.abs() < 9e15 {
                    Ok(Status((v as i64).to_string()))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Status, E> {
                v.trim()
                    .parse::<i64>()
                    .map(|n| Status(n.to_string()))
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Number, E> {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .map(Number)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(
                    serde_json::Number::from_f64(v)
                        .map_or_else(|| v.to_string(), |n| n.to_string()),
                ))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

fn text(value: Option<Text>) -> Option<String> {
    value.map(|Text(s)| s)
}

/// Shoplazza's answer for `task_id`, read by hand.
pub fn normalize(task_id: &str, body: &[u8]) -> UploadTask {
    let raw: serde_json::Value = serde_json::from_slice(body).expect("json");
    // The envelope is there when the body has a `code`; its payload is `data`.
    let payload = match raw.get("code") {
        Some(_) => {
            let envelope = Envelope::deserialize(&raw).expect("shoplazza envelope");
            assert!(
                envelope
                    .code
                    .is_some_and(|c| c.eq_ignore_ascii_case("Success")),
                "shoplazza envelope reports a failure"
            );
            raw.get("data").expect("shoplazza envelope data")
        }
        None => &raw,
    };
    let task = ShoplazzaTask::deserialize(payload).expect("shoplazza body");
    let Status(native_status) = task.status;
    let failures = task.failure_list.unwrap_or_default();
    let successes = task.success_list.unwrap_or_default();
    // Status 0 means "completed", whatever happened to the files.
    let state = match native_status.as_str() {
        "0" if !failures.is_empty() && successes.is_empty() => State::Failed,
        "0" if !failures.is_empty() => State::Partial,
        "0" => State::Succeeded,
        "1" => State::Running,
        _ => State::Unknown,
    };
    let progress = task.finished.map(|Number(done)| Progress {
        done,
        total: task.total.map(|Number(n)| n),
        unit: ProgressUnit::Items,
    });
    let files = successes
        .into_iter()
        .flatten()
        .map(|f| File {
            id: text(f.file_uri),
            url: text(f.upload_link),
            source_url: text(f.origin_link),
            ..File::default()
        })
        .collect();
    // Shoplazza lists the failed source URLs and gives no reason.
    let errors = failures
        .into_iter()
        .flatten()
        .map(|Text(url)| TaskError {
            code: None,
            message: "the file could not be uploaded".to_owned(),
            item: Some(url),
        })
        .collect();
    UploadTask {
        provider: "shoplazza".into(),
        id: text(task.task_id).unwrap_or_else(|| task_id.to_owned()),
        state,
        native_label: match native_status.as_str() {
            "0" => Some("Completed".to_owned()),
            "1" => Some("In progress".to_owned()),
            _ => None,
        },
        native_status,
        terminal: state.is_terminal(),
        progress,
        created_at: None,
        started_at: None,
        updated_at: None,
        completed_at: None,
        files,
        errors,
        extra: indexmap::IndexMap::new(),
        warnings: Vec::new(),
        next: None,
        raw,
    }
}
