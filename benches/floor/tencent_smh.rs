//! Tencent Cloud Smart Media Hosting upload task status, read by hand.

use serde::Deserialize;
use serde_json::Value;
use unitask::task::ProgressUnit;
use unitask::{File, Progress, State, UploadTask};

/// The "Get File Upload Task Status" body, as a hand-written reader would model it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SmhUpload {
    confirmed: bool,
    /// The final path, one segment per element; null once its folder is deleted.
    path: Option<Vec<Option<String>>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    creation_time: Option<jiff::Timestamp>,
    conflict_resolution_strategy: Option<String>,
    upload_id: Option<String>,
    parts: Option<Vec<Option<SmhPart>>>,
    upload_part_info: Option<SmhPartInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SmhPart {
    size: Option<f64>,
}

#[derive(Deserialize)]
struct SmhPartInfo {
    expiration: Option<jiff::Timestamp>,
}

/// The Smart Media Hosting answer for `task_id` (the `confirmKey`), read by hand.
pub fn normalize(task_id: &str, body: &[u8]) -> UploadTask {
    // `UploadTask` keeps the body as a JSON value, so the floor parses once and reads its struct
    // from that value.
    let raw: Value = serde_json::from_slice(body).expect("json");
    let task = SmhUpload::deserialize(&raw).expect("tencent-smh body");
    let state = if task.confirmed {
        State::Succeeded
    } else {
        State::Running
    };

    let parts = task.parts.unwrap_or_default();
    // The expected total is known only to the caller; no sizes at all means no progress.
    let mut sizes = parts.iter().flatten().filter_map(|p| p.size).peekable();
    let progress = sizes.peek().is_some().then(|| Progress {
        done: sizes.sum(),
        total: None,
        unit: ProgressUnit::Bytes,
    });

    let files = task
        .path
        .map(|segments| {
            let name = segments.last().cloned().flatten();
            let segments: Vec<String> = segments.into_iter().flatten().collect();
            File {
                name,
                path: (!segments.is_empty()).then(|| segments.join("/")),
                ..File::default()
            }
        })
        .into_iter()
        .collect();

    let mut extra = indexmap::IndexMap::with_capacity(5);
    if let Some(kind) = task.kind {
        extra.insert("type".to_owned(), Value::String(kind));
    }
    if let Some(strategy) = task.conflict_resolution_strategy {
        extra.insert(
            "conflict_resolution_strategy".to_owned(),
            Value::String(strategy),
        );
    }
    if let Some(upload_id) = task.upload_id {
        extra.insert("upload_id".to_owned(), Value::String(upload_id));
    }
    extra.insert(
        "parts_uploaded".to_owned(),
        Value::from(parts.iter().flatten().count()),
    );
    if let Some(expires) = task.upload_part_info.and_then(|info| info.expiration) {
        extra.insert(
            "upload_info_expires_at".to_owned(),
            Value::String(expires.to_string()),
        );
    }

    UploadTask {
        provider: "tencent-smh".into(),
        id: task_id.to_owned(),
        state,
        native_status: format!("confirmed={}", task.confirmed),
        native_label: None,
        terminal: state.is_terminal(),
        progress,
        created_at: task.creation_time,
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
