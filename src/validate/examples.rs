//! Runs every example through the real runtime and reports each field that differs from what the
//! example expects (UT121), pointing at the expected value.

use serde_json::{Map, Value};

use crate::model::{Expectation, ExpectedError, Provider};
use crate::runtime::normalize::{Failed, Mapping};
use crate::runtime::{self, Error};
use crate::spec::{self, Span};
use crate::validate::{Code, Diagnostic};

/// The keys an `expect` mapping may give, in `UploadTask` order.
const TASK_KEYS: &[&str] = &[
    "id",
    "state",
    "native_status",
    "native_label",
    "terminal",
    "progress",
    "created_at",
    "started_at",
    "updated_at",
    "completed_at",
    "files",
    "errors",
    "extra",
    "warnings",
    "next",
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
        let inputs = provider.request_inputs(task_id, &example.inputs);
        let context = runtime::normalize::Context {
            now: example.now,
            inputs: &inputs,
        };
        let result = runtime::normalize::normalize_detailed(provider, task_id, response, context);
        let name = &example.name;
        match (&example.expect, result) {
            (Expectation::Task(expected), Ok((mut task, warned))) => {
                // `raw` is not compared: do not copy it into the JSON.
                task.raw = Value::Null;
                let Some(expect) = &written.expect else {
                    continue;
                };
                // A value that did not convert where the example expects no warning: the
                // mapping that read it is what to look at.
                let mut reported = 0;
                if !expected.contains_key("warnings") {
                    for (warning, mapping) in task.warnings.iter().zip(&warned) {
                        if let Some(span) = mapping_span(def, *mapping) {
                            out.push(conversion_failure(name, &warning.message, span, written));
                            reported += 1;
                        }
                    }
                }
                let all_reported = reported > 0 && reported == task.warnings.len();
                let mut actual = match serde_json::to_value(&task) {
                    Ok(Value::Object(map)) => map,
                    _ => continue,
                };
                actual.remove("provider");
                actual.remove("raw");
                if all_reported {
                    actual.remove("warnings");
                }
                compare_task(provider, name, task_id, expected, &actual, expect, out);
            }
            (Expectation::Task(_), Err(failed)) => {
                let Failed { error, mapping } = *failed;
                if let Some(span) = mapping.and_then(|m| mapping_span(def, m)) {
                    out.push(conversion_failure(name, &error.message, span, written));
                    continue;
                }
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
            (Expectation::Error(expected), Ok((task, _))) => {
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
            (Expectation::Error(expected), Err(failed)) => {
                let error = failed.error;
                if let Some(written) = &written.expect_error {
                    compare_error(name, expected, &error, written, out);
                }
            }
        }
    }
}

/// A value that the mapping at `span` could not read in example `name`.
fn conversion_failure(
    name: &str,
    message: &str,
    span: Span,
    written: &spec::Example,
) -> Diagnostic {
    Diagnostic::new(
        Code::ExampleMismatch,
        span,
        format!("example `{name}`: this mapping cannot read its value: {message}"),
    )
    .label("fails on the example's body")
    .related(written.name.span, format!("example `{name}`"))
    .note(format!("in example `{name}`, which expects a task"))
    .help(conversion_help(message))
}

/// Where the definition writes `mapping`.
fn mapping_span(def: &spec::Definition, mapping: Mapping) -> Option<Span> {
    let response = &def.response;
    let field = |spec: &Option<spec::FieldSpec>| spec.as_ref().map(|f| f.span);
    match mapping {
        Mapping::Status => Some(response.state.native.span),
        Mapping::Field(name) => {
            let fields = &response.fields;
            field(match name {
                "id" => &fields.id,
                "created_at" => &fields.created_at,
                "started_at" => &fields.started_at,
                "updated_at" => &fields.updated_at,
                _ => &fields.completed_at,
            })
        }
        Mapping::Progress(key) => {
            let progress = response.progress.as_ref()?;
            match key {
                "done" => Some(progress.done.span),
                _ => field(&progress.total),
            }
        }
        Mapping::File { list, key } => {
            let files = response.files.get(list)?;
            field(match key {
                "id" => &files.id,
                "name" => &files.name,
                "url" => &files.url,
                "source_url" => &files.source_url,
                "path" => &files.path,
                "size" => &files.size,
                "mime" => &files.mime,
                _ => &files.md5,
            })
        }
        Mapping::TaskError { list, key } => {
            let errors = response.errors.get(list)?;
            match key {
                "message" => Some(errors.message.span),
                "code" => field(&errors.code),
                _ => field(&errors.item),
            }
        }
        Mapping::Extra(index) => response.extra.0.get(index).map(|(_, f)| f.span),
        Mapping::Next(None) => response.next.as_ref().map(|n| n.task_id.span),
        Mapping::Next(Some(index)) => response
            .next
            .as_ref()
            .and_then(|n| n.inputs.0.get(index))
            .map(|(_, f)| f.span),
    }
    .filter(|span| *span != Span::default())
}

fn conversion_help(message: &str) -> String {
    if message.contains("timestamp")
        || message.contains("epoch")
        || message.contains("declared format")
    {
        "set the mapping's `format` to how the provider writes times: `rfc3339`, `epoch_seconds`, `epoch_millis` or a strftime pattern".into()
    } else if message.contains("should be a number") || message.contains("whole number") {
        "point the path at a number (numbers inside strings are read too), or give the field another `type`".into()
    } else {
        "point the path at the value the provider sends, or change the mapping's `type`".into()
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
    provider: &Provider,
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
            None => default_for(provider, key, task_id, expected),
        };
        // Lists and objects compare value by value: a key a file, an error or the progress
        // leaves out means null.
        let mut differences = Vec::new();
        let compound = matches!(*key, "progress" | "files" | "errors" | "extra" | "warnings");
        if compound {
            differ(key, &want, got, *key != "extra", &mut differences);
        }
        let equal = if compound {
            differences.is_empty()
        } else if TIME_KEYS.contains(key) {
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
        let diagnostic = if want.is_null() || got.is_null() || differences.is_empty() {
            // A whole value on one side (null against an object, a string) reads best whole.
            Diagnostic::new(
                Code::ExampleMismatch,
                span,
                format!(
                    "example `{name}`: `{key}` is {}, but {} was expected",
                    short(got),
                    short(&want)
                ),
            )
            .help(format!("the mapping produced `{key}: {got}`"))
        } else {
            let mut diagnostic = Diagnostic::new(
                Code::ExampleMismatch,
                span,
                format!(
                    "example `{name}`: `{key}` differs from what is expected in {}",
                    plural(differences.len(), "place")
                ),
            );
            for (path, want, got) in differences.iter().take(MAX_DIFFERENCES) {
                let show = |v: &Option<Value>| v.as_ref().map_or("absent".to_owned(), short);
                diagnostic = diagnostic.note(format!(
                    "`{path}`: expected {}, produced {}",
                    show(want),
                    show(got)
                ));
            }
            if differences.len() > MAX_DIFFERENCES {
                diagnostic = diagnostic.note(format!(
                    "and {} more",
                    plural(differences.len() - MAX_DIFFERENCES, "difference")
                ));
            }
            diagnostic.help("fix the expectation, or the mapping if the example is right")
        };
        out.push(diagnostic.label(where_));
    }
}

/// A mismatch report lists at most this many differing values.
const MAX_DIFFERENCES: usize = 8;

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// One differing value: its path in the task, what was expected and what was produced (`None`:
/// absent).
type Difference = (String, Option<Value>, Option<Value>);

/// Every leaf where `want` and `got` differ. An expected null matches an absent key; with
/// `nulls_omittable`, a key the expectation leaves out also matches a produced null (a file's
/// `md5`, progress's `total`), else a produced key must be expected.
fn differ(path: &str, want: &Value, got: &Value, nulls_omittable: bool, out: &mut Vec<Difference>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, want) in w {
                let at = format!("{path}.{key}");
                match g.get(key) {
                    Some(got) => differ(&at, want, got, nulls_omittable, out),
                    None if want.is_null() => {}
                    None => out.push((at, Some(want.clone()), None)),
                }
            }
            for (key, got) in g {
                if !(w.contains_key(key) || nulls_omittable && got.is_null()) {
                    out.push((format!("{path}.{key}"), None, Some(got.clone())));
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            for i in 0..w.len().max(g.len()) {
                let at = format!("{path}[{i}]");
                match (w.get(i), g.get(i)) {
                    (Some(want), Some(got)) => differ(&at, want, got, nulls_omittable, out),
                    (want, got) => {
                        let shown = |v: Option<&Value>| {
                            v.map(|v| {
                                if nulls_omittable {
                                    without_nulls(v)
                                } else {
                                    v.clone()
                                }
                            })
                        };
                        out.push((at, shown(want), shown(got)));
                    }
                }
            }
        }
        _ if same_json(want, got) => {}
        _ => out.push((path.to_owned(), Some(want.clone()), Some(got.clone()))),
    }
}

/// `value` with the null members of its objects left out, for showing a whole item.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What an omitted key must be.
fn default_for(
    provider: &Provider,
    key: &str,
    task_id: &str,
    expected: &Map<String, Value>,
) -> Value {
    match key {
        "id" => Value::String(task_id.to_owned()),
        // The label of the expected native status, as the definition gives it.
        "native_label" => expected
            .get("native_status")
            .and_then(Value::as_str)
            .and_then(|native| provider.response.state.labels.get(native))
            .map_or(Value::Null, |label| Value::String(label.clone())),
        "terminal" => {
            let state = expected
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Value::Bool(crate::task::State::from_name(state).is_some_and(|s| s.is_terminal()))
        }
        "files" | "errors" | "warnings" => Value::Array(Vec::new()),
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
    // Each detail as the task's errors are written: omitted keys are null.
    if let (Some(want), Some(written)) = (&expected.details, &written.details) {
        let got: Vec<Value> = actual
            .details
            .iter()
            .map(|d| serde_json::to_value(d).unwrap_or_default())
            .collect();
        let want: Vec<Value> = want
            .iter()
            .map(|d| {
                let mut d = d.clone();
                if let Value::Object(map) = &mut d {
                    for key in ["code", "message", "item"] {
                        map.entry(key).or_insert(Value::Null);
                    }
                }
                d
            })
            .collect();
        if got != want {
            mismatch(
                written.span,
                "details",
                format!("`{}`", Value::Array(got)),
                format!("`{}`", Value::Array(want)),
            );
        }
    }
}
