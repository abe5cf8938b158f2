//! HubSpot Files import-from-URL task status, read by hand.

use serde::Deserialize;
use unitask::{File, State, TaskError, UploadTask};

/// HubSpot's task body, as a hand-written reader would model it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HubspotTask {
    task_id: Option<String>,
    status: String,
    requested_at: Option<jiff::Timestamp>,
    started_at: Option<jiff::Timestamp>,
    completed_at: Option<jiff::Timestamp>,
    num_errors: Option<i64>,
    #[serde(default)]
    errors: Vec<HubspotError>,
    result: Option<HubspotFile>,
}

#[derive(Deserialize)]
struct HubspotError {
    category: Option<String>,
    message: String,
    context: Option<HubspotContext>,
}

#[derive(Deserialize)]
struct HubspotContext {
    #[serde(default)]
    url: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HubspotFile {
    id: Option<String>,
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    size: Option<u64>,
    file_md5: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    default_hosting_url: Option<String>,
}

/// HubSpot's answer for `task_id`, read by hand.
pub fn normalize(_task_id: &str, body: &[u8]) -> UploadTask {
    // `UploadTask` keeps the body as a JSON value, so the floor parses once and reads its struct
    // from that value.
    let raw: serde_json::Value = serde_json::from_slice(body).expect("json");
    let task = HubspotTask::deserialize(&raw).expect("hubspot body");
    let state = match (
        task.status.as_str(),
        task.errors.is_empty(),
        task.result.is_some(),
    ) {
        ("COMPLETE", false, false) => State::Failed,
        ("COMPLETE", false, true) => State::Partial,
        ("COMPLETE", _, _) => State::Succeeded,
        ("PENDING", _, _) => State::Pending,
        ("PROCESSING", _, _) => State::Running,
        ("CANCELED", _, _) => State::Canceled,
        _ => State::Unknown,
    };
    let mut extra = indexmap::IndexMap::new();
    if let Some(n) = task.num_errors {
        extra.insert("num_errors".to_owned(), serde_json::Value::from(n));
    }
    let files = task
        .result
        .map(|f| {
            if let Some(kind) = &f.kind {
                extra.insert(
                    "file_type".to_owned(),
                    serde_json::Value::from(kind.clone()),
                );
            }
            if let Some(url) = &f.default_hosting_url {
                extra.insert(
                    "default_hosting_url".to_owned(),
                    serde_json::Value::from(url.clone()),
                );
            }
            vec![File {
                id: f.id,
                name: f.name,
                url: f.url,
                source_url: None,
                path: f.path,
                size: f.size,
                mime: None,
                md5: f.file_md5,
            }]
        })
        .unwrap_or_default();
    UploadTask {
        provider: "hubspot".into(),
        id: task.task_id.unwrap_or_default(),
        state,
        native_status: task.status,
        native_label: None,
        terminal: state.is_terminal(),
        progress: None,
        created_at: task.requested_at,
        started_at: task.started_at,
        updated_at: None,
        completed_at: task.completed_at,
        files,
        errors: task
            .errors
            .into_iter()
            .map(|e| TaskError {
                code: e.category,
                message: e.message,
                item: e
                    .context
                    .map(|c| c.url.join(", "))
                    .filter(|urls| !urls.is_empty()),
            })
            .collect(),
        extra,
        warnings: Vec::new(),
        next: None,
        raw,
    }
}
