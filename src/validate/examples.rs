//! Runs every example through the real runtime and reports each field that differs from what the
//! example expects (UT121), pointing at the expected value.

use serde_json::{Map, Value};

use crate::model::{Expectation, ExpectedError, Provider};
use crate::runtime::{self, Error};
use crate::spec::{self, Span};
use crate::validate::{Code, Diagnostic};

/// The keys an `expect` mapping may give, in `UploadTask` order.
const TASK_KEYS: &[&str] = &[
    "id",
    "state",
    "native_status",
    "terminal",
    "progress",
    "created_at",
    "started_at",
    "updated_at",
    "completed_at",
    "files",
    "errors",
    "extra",
];

const TIME_KEYS: &[&str] = &["created_at", "started_at", "updated_at", "completed_at"];

pub(super) fn run(provider: &Provider, def: &spec::Definition, out: &mut Vec<Diagnostic>) {
    for (example, written) in provider.examples.iter().zip(&def.examples) {
        let task_id = provider.example_task_id(example);
        let response = runtime::Response {
            status: example.response.status,
            headers: &example.response.headers,
            body: &example.response.body,
        };
        let result = runtime::normalize(provider, task_id, response);
        let name = &example.name;
        match (&example.expect, result) {
            (Expectation::Task(expected), Ok(mut task)) => {
                // `raw` is not compared: do not copy it into the JSON.
                task.raw = Value::Null;
                let Some(expect) = &written.expect else {
                    continue;
                };
                let mut actual = match serde_json::to_value(&task) {
                    Ok(Value::Object(map)) => map,
                    _ => continue,
                };
                actual.remove("provider");
                actual.remove("raw");
                compare_task(name, task_id, expected, &actual, expect, out);
            }
            (Expectation::Task(_), Err(error)) => {
                let span = written
                    .expect
                    .as_ref()
                    .map_or(written.name.span, |e| e.span);
                out.push(
                    Diagnostic::new(
                        Code::ExampleMismatch,
                        span,
                        format!("example `{name}` expects a task, but the mapping returned an error: {error}"),
                    )
                    .label("expected a task")
                    .help(error_help(&error)),
                );
            }
            (Expectation::Error(expected), Ok(task)) => {
                let span = written
                    .expect_error
                    .as_ref()
                    .map_or(written.name.span, |e| e.kind.span);
                out.push(
                    Diagnostic::new(
                        Code::ExampleMismatch,
                        span,
                        format!(
                            "example `{name}` expects a `{}` error, but the mapping returned a task in state `{}` (native `{}`)",
                            expected.kind, task.state, task.native_status
                        ),
                    )
                    .label("expected an error")
                    .help("check `failures.in_body` and the envelope's `success` test"),
                );
            }
            (Expectation::Error(expected), Err(error)) => {
                if let Some(written) = &written.expect_error {
                    compare_error(name, expected, &error, written, out);
                }
            }
        }
    }
}

fn error_help(error: &Error) -> String {
    match &error.excerpt {
        Some(excerpt) => format!("the body starts with: {excerpt}"),
        None => "use `expect_error` if this response is meant to fail".into(),
    }
}

type Expect = spec::Spanned<spec::OrderedMap<spec::Spanned<spec::AnyValue>>>;

fn compare_task(
    name: &str,
    task_id: &str,
    expected: &Map<String, Value>,
    actual: &Map<String, Value>,
    written: &Expect,
    out: &mut Vec<Diagnostic>,
) {
    for (key, _) in written.value.iter() {
        if !TASK_KEYS.contains(&key.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::InvalidExample,
                    key.span,
                    format!("`{}` is not a field of an expected task", key.value),
                )
                .help(crate::spec::de::did_you_mean(&key.value, TASK_KEYS)),
            );
        }
    }
    for required in ["state", "native_status"] {
        if !expected.contains_key(required) {
            out.push(
                Diagnostic::new(
                    Code::InvalidExample,
                    written.span,
                    format!("example `{name}` must give `{required}`"),
                )
                .help(format!(
                    "add `{required}: {}`",
                    actual.get(required).map(short).unwrap_or_default()
                )),
            );
        }
    }
    for key in TASK_KEYS {
        let Some(got) = actual.get(*key) else {
            continue;
        };
        let want = match expected.get(*key) {
            Some(value) => value.clone(),
            None => default_for(key, task_id, expected),
        };
        let equal = if TIME_KEYS.contains(key) {
            same_time(&want, got)
        } else {
            same_json(&want, got)
        };
        // An omitted `terminal` follows the expected state: one mismatch is enough.
        let derived_terminal = *key == "terminal" && !expected.contains_key("terminal");
        if equal || (derived_terminal && actual.get("state") != expected.get("state")) {
            continue;
        }
        let (span, where_) = match written.value.0.iter().find(|(k, _)| k.value == *key) {
            Some((_, value)) => (value.span, "expected here".to_owned()),
            None => (
                written.span,
                format!(
                    "`{key}` is omitted from this `expect`, which means {}",
                    short(&want)
                ),
            ),
        };
        let span = if span == Span::default() {
            written.span
        } else {
            span
        };
        out.push(
            Diagnostic::new(
                Code::ExampleMismatch,
                span,
                format!(
                    "example `{name}`: `{key}` is {}, but {} was expected",
                    short(got),
                    short(&want)
                ),
            )
            .label(where_)
            .help(format!("the mapping produced `{key}: {got}`")),
        );
    }
}

/// What an omitted key must be.
fn default_for(key: &str, task_id: &str, expected: &Map<String, Value>) -> Value {
    match key {
        "id" => Value::String(task_id.to_owned()),
        "terminal" => {
            let state = expected
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Value::Bool(crate::task::State::from_name(state).is_some_and(|s| s.is_terminal()))
        }
        "files" | "errors" => Value::Array(Vec::new()),
        "extra" => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

fn same_time(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(w), Value::String(g)) => {
            match (w.parse::<jiff::Timestamp>(), g.parse::<jiff::Timestamp>()) {
                (Ok(w), Ok(g)) => w == g,
                _ => w == g,
            }
        }
        _ => want == got,
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// A value for a message: compact JSON, cut at 120 characters.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        format!("`{}…`", text.chars().take(120).collect::<String>())
    } else {
        format!("`{text}`")
    }
}

fn compare_error(
    name: &str,
    expected: &ExpectedError,
    actual: &Error,
    written: &spec::ExpectedError,
    out: &mut Vec<Diagnostic>,
) {
    let mut mismatch = |span: Span, field: &str, got: String, want: String| {
        out.push(
            Diagnostic::new(
                Code::ExampleMismatch,
                span,
                format!("example `{name}`: error `{field}` is {got}, but {want} was expected"),
            )
            .label("expected here")
            .help(format!("the mapping produced the error: {actual}")),
        );
    };
    let quoted = |v: &Option<String>| v.as_ref().map_or("none".into(), |s| format!("`{s}`"));
    if expected.kind != actual.kind {
        mismatch(
            written.kind.span,
            "kind",
            format!("`{}`", actual.kind),
            format!("`{}`", expected.kind),
        );
    }
    if expected.code != actual.code {
        let span = written.code.as_ref().map_or(written.kind.span, |c| c.span);
        mismatch(span, "code", quoted(&actual.code), quoted(&expected.code));
    }
    if expected
        .message
        .as_ref()
        .is_some_and(|m| *m != actual.message)
    {
        let span = written
            .message
            .as_ref()
            .map_or(written.kind.span, |m| m.span);
        mismatch(
            span,
            "message",
            format!("`{}`", actual.message),
            quoted(&expected.message),
        );
    }
    if let (Some(want), Some(span)) = (
        expected.retryable,
        written.retryable.as_ref().map(|r| r.span),
    ) && want != actual.retryable
    {
        mismatch(
            span,
            "retryable",
            actual.retryable.to_string(),
            want.to_string(),
        );
    }
    let got_wait = actual.retry_after.map(|d| d.as_secs());
    // Omitted, `retry_after` is not compared: an HTTP-date `Retry-After` depends on the clock.
    if expected.retry_after.is_some() && got_wait != expected.retry_after {
        let span = written
            .retry_after
            .as_ref()
            .map_or(written.kind.span, |r| r.span);
        let show = |v: Option<u64>| v.map_or("none".into(), |s| format!("{s}s"));
        mismatch(
            span,
            "retry_after",
            show(got_wait),
            show(expected.retry_after),
        );
    }
}
