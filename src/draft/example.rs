//! An `examples:` entry from a real answer: the status, the headers the definition reads, the
//! body, and the `expect` (or `expect_error`) the runtime makes of it. `unitask status
//! --save-example` prints one; `unitask init` writes the sample as one.

use serde_json::{Map, Value};

use crate::draft::yaml;
use crate::model::Provider;
use crate::runtime::{self, Error};
use crate::task::UploadTask;

pub use crate::http::transport::Answer;

/// The headers of `answer` that `provider`'s mapping reads, as the example should keep them:
/// `Retry-After` (with `Date` when it is a date), the definition's own retry header, and the
/// `Content-Type` of a body that is not JSON (its decode error names it).
pub fn read_headers(provider: &Provider, answer: &Answer) -> Vec<(String, String)> {
    let find = |name: &str| {
        answer
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .cloned()
    };
    let mut kept = Vec::new();
    if let Some(retry) = find("retry-after") {
        if retry.1.trim().parse::<u64>().is_err() {
            kept.extend(find("date"));
        }
        kept.push(retry);
    }
    if let Some(own) = provider.failures.retry_after_header.as_deref() {
        kept.extend(find(own));
    }
    if serde_json::from_slice::<Value>(&answer.body).is_err() {
        kept.extend(find("content-type"));
    }
    kept
}

/// An `examples:` list item (indented for pasting under `examples:`) for `answer` to a request
/// for `task_id` with `inputs`. The `expect` is what the runtime makes of the answer as written
/// here, so the entry passes `validate` as it is.
pub fn entry(
    provider: &Provider,
    name: &str,
    task_id: &str,
    inputs: &[(String, String)],
    answer: &Answer,
) -> String {
    let task_input = &provider.task_id_input().name;
    let mut written_inputs = vec![(task_input.clone(), task_id.to_owned())];
    written_inputs.extend(inputs.iter().filter(|(n, _)| n != task_input).cloned());
    let headers = read_headers(provider, answer);
    let response = runtime::Response {
        status: answer.status,
        headers: &headers,
        body: &answer.body,
    };
    let result = runtime::normalize(provider, task_id, response);
    let mut out = format!("  - name: {}\n", yaml::scalar(name));
    if !written_inputs.is_empty() {
        out.push_str("    inputs:\n");
        for (input, value) in &written_inputs {
            out.push_str(&format!(
                "      {}: {}\n",
                yaml::scalar(input),
                yaml::quoted(value)
            ));
        }
    }
    out.push_str("    response:\n");
    if answer.status != 200 {
        out.push_str(&format!("      status: {}\n", answer.status));
    }
    if !headers.is_empty() {
        out.push_str("      headers:\n");
        for (header, value) in &headers {
            out.push_str(&format!(
                "        {}: {}\n",
                yaml::scalar(header),
                yaml::quoted(value)
            ));
        }
    }
    out.push_str(&body(&answer.body));
    match result {
        Ok(task) => {
            out.push_str("    expect:\n");
            for (key, value) in expectation(&task, task_id) {
                yaml::entry(&mut out, 6, &key, &value);
            }
        }
        Err(error) => {
            out.push_str("    expect_error:\n");
            let mut expected = expected_error(&error);
            // A date with no `Date` to read it against is a wait that depends on the clock.
            let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name));
            let dated =
                header("retry-after").is_some_and(|(_, v)| v.trim().parse::<u64>().is_err());
            if dated && header("date").is_none() {
                expected.remove("retry_after");
            }
            for (key, value) in expected {
                yaml::entry(&mut out, 6, &key, &value);
            }
        }
    }
    out
}

/// `body:` as YAML when it reads back as the same JSON, else `text:` with the bytes as they are
/// (a body that is not JSON, or one YAML would read otherwise).
fn body(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        let mut written = String::new();
        yaml::entry(&mut written, 6, "body", &value);
        if reads_back(&written, &value) {
            return written;
        }
    }
    if bytes.is_empty() {
        return "      text: \"\"\n".to_owned();
    }
    format!("      text: {}\n", yaml::quoted(&text))
}

/// Whether `written` (a `body:` entry) reads back as `value` through the definition reader.
fn reads_back(written: &str, value: &Value) -> bool {
    crate::spec::node::parse(written.trim_start())
        .is_ok_and(|root| root.to_json().get("body") == Some(value))
}

/// The `expect` of a task: every key that is not what an omitted key means (`id` the task id,
/// `terminal` what the state implies, `native_label` the definition's label, null, empty), `provider` and `raw` left out.
pub fn expectation(task: &UploadTask, task_id: &str) -> Map<String, Value> {
    let Ok(Value::Object(all)) = serde_json::to_value(task) else {
        return Map::new();
    };
    let mut map = Map::new();
    for (key, mut value) in all {
        let implied = match key.as_str() {
            "provider" | "raw" => true,
            "id" => value.as_str() == Some(task_id),
            "terminal" => value.as_bool() == Some(task.state.is_terminal()),
            // The runtime takes the label from the definition's `labels`, as an omitted key does.
            "native_label" => true,
            _ => is_empty(&value),
        };
        if implied {
            continue;
        }
        // Inside files, errors and the progress, an omitted key means null.
        match &mut value {
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(fields) = item {
                        fields.retain(|_, v| !v.is_null());
                    }
                }
            }
            Value::Object(fields) if key == "progress" => fields.retain(|_, v| !v.is_null()),
            _ => {}
        }
        map.insert(key, value);
    }
    map
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// The `expect_error` of an error: its kind, code (when it has one), message, whether it may be
/// retried, and the wait it asked for.
pub fn expected_error(error: &Error) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("kind".into(), error.kind.as_str().into());
    if let Some(code) = &error.code {
        map.insert("code".into(), code.clone().into());
    }
    map.insert("message".into(), error.message.clone().into());
    map.insert("retryable".into(), error.retryable.into());
    if let Some(wait) = error.retry_after {
        map.insert("retry_after".into(), wait.as_secs().into());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Retry-After` date is kept with the answer's `Date` (the wait is then fixed), and with
    /// no `Date` the entry leaves the wait out: it would depend on when `validate` runs.
    #[test]
    fn a_dated_wait_is_expected_only_with_its_date() {
        let text = include_str!("../../providers/hubspot.yaml");
        let provider =
            crate::validate::check_source("hubspot.yaml", Some("hubspot"), text).expect("valid");
        let retry = (
            "Retry-After".to_owned(),
            "Sun, 06 Nov 1994 08:51:37 GMT".to_owned(),
        );
        let date = (
            "Date".to_owned(),
            "Sun, 06 Nov 1994 08:49:37 GMT".to_owned(),
        );
        for (headers, wait) in [(vec![retry.clone(), date], true), (vec![retry], false)] {
            let answer = Answer {
                status: 429,
                headers,
                body: br#"{"status": "error", "message": "slow down"}"#.to_vec(),
            };
            let entry = entry(&provider, "throttled", "t-1", &[], &answer);
            assert_eq!(entry.contains("retry_after: 120"), wait, "{entry}");
            assert_eq!(entry.contains("retry_after"), wait, "{entry}");
            let pasted = text.replacen("\nexamples:\n", &format!("\nexamples:\n{entry}"), 1);
            if let Err(report) =
                crate::validate::check_source("hubspot.yaml", Some("hubspot"), &pasted)
            {
                panic!("{}", report.render_human(false));
            }
        }
    }
}
