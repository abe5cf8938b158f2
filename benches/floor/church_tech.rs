//! church.tech "Get an Upload", read by hand.

use serde::Deserialize;
use serde_json::Value;
use unitask::{File, State, UploadTask};

/// church.tech's upload body, as a hand-written reader would model it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Upload {
    id: Option<String>,
    status: String,
    source: Option<String>,
    source_url: Option<String>,
    source_duration: Option<f64>,
    audio_url: Option<String>,
    audio_duration: Option<f64>,
    video_url: Option<String>,
    video_duration: Option<f64>,
    format: Option<String>,
    content: Option<Value>,
    message: Option<String>,
}

/// Whole numbers stay integers (`600`, not `600.0`), as the runtime writes them.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

fn file(name: &str, url: String) -> File {
    File {
        name: Some(name.to_owned()),
        url: Some(url),
        ..File::default()
    }
}

/// church.tech's answer for `task_id`, read by hand.
pub fn normalize(task_id: &str, body: &[u8]) -> UploadTask {
    // `UploadTask` keeps the body as a JSON value, so the floor parses once and reads its struct
    // from that value.
    let raw: Value = serde_json::from_slice(body).expect("json");
    let upload = Upload::deserialize(&raw).expect("church.tech body");
    // Only QUEUED and COMPLETE are documented; anything else is unknown.
    let state = match upload.status.as_str() {
        "QUEUED" => State::Pending,
        "COMPLETE" => State::Succeeded,
        _ => State::Unknown,
    };
    let mut files = Vec::with_capacity(2);
    if let Some(url) = upload.audio_url {
        files.push(file("audio", url));
    }
    if let Some(url) = upload.video_url {
        files.push(file("video", url));
    }
    let mut extra = indexmap::IndexMap::with_capacity(8);
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            extra.insert(key.to_owned(), value);
        }
    };
    put("source", upload.source.map(Value::String));
    put("source_url", upload.source_url.map(Value::String));
    put("format", upload.format.map(Value::String));
    put("source_duration_s", upload.source_duration.map(number));
    put("audio_duration_s", upload.audio_duration.map(number));
    put("video_duration_s", upload.video_duration.map(number));
    put("content", upload.content);
    put("message", upload.message.map(Value::String));
    UploadTask {
        provider: "church-tech".into(),
        id: upload.id.unwrap_or_else(|| task_id.to_owned()),
        state,
        native_status: upload.status,
        native_label: None,
        terminal: state.is_terminal(),
        progress: None,
        created_at: None,
        started_at: None,
        updated_at: None,
        completed_at: None,
        files,
        errors: Vec::new(),
        extra,
        warnings: Vec::new(),
        next: None,
        raw,
    }
}
