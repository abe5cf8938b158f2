//! Status code + headers + body → `UploadTask` or a typed [`Error`].
//!
//! The order matters and is the same for every provider: a non-2xx status is a failure; a body
//! that is not JSON is a decode error; a failure reported inside the body (`failures.in_body`, or
//! an envelope whose success test fails) is a failure; otherwise the payload is mapped.

use std::time::Duration;

use serde_json::Value;

use crate::model::{Field, Provider, StatePlan};
use crate::runtime::error::excerpt;
use crate::runtime::extract::{self, Answer, At, ExtractError};
use crate::runtime::{Error, ErrorKind};
use crate::task::{File, Progress, State, TaskError, UploadTask, Warning};

/// A response as the transport (or an example, or the sandbox) hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    pub status: u16,
    /// Header names compare case-insensitively.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Response<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Normalizes one response for `task_id`.
pub fn normalize(
    provider: &Provider,
    task_id: &str,
    response: Response<'_>,
) -> Result<UploadTask, Error> {
    normalize_in(provider, task_id, response, Context::default())
}

/// What normalization knows besides the answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The clock that time-relative conditions (`before_now`, `after_now`) compare with;
    /// `None` reads the system clock when a condition needs it.
    pub now: Option<jiff::Timestamp>,
    /// The values the request was made with, by input name (the task id included): what
    /// `input:` fields read.
    pub inputs: &'a [(String, String)],
}

/// [`normalize`] in a context: a fixed clock, the request's inputs.
pub fn normalize_in(
    provider: &Provider,
    task_id: &str,
    response: Response<'_>,
    context: Context<'_>,
) -> Result<UploadTask, Error> {
    normalize_detailed(provider, task_id, response, context)
        .map(|(task, _)| task)
        .map_err(|failed| failed.error)
}

/// Which mapping of a definition read a value: what a conversion failure points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// `response.state.native`.
    Status,
    /// `response.fields.<name>`: `id`, `created_at`, `started_at`, `updated_at`, `completed_at`.
    Field(&'static str),
    /// `response.progress.done` or `.total`.
    Progress(&'static str),
    /// A key of the `list`-th `response.files` entry.
    File { list: usize, key: &'static str },
    /// A key of the `list`-th `response.errors` entry.
    TaskError { list: usize, key: &'static str },
    /// The `index`-th `response.extra` entry.
    Extra(usize),
    /// `response.next.task_id`, or the named entry of `response.next.inputs`.
    Next(Option<usize>),
}

/// A failed normalization, with the mapping that failed when a conversion did.
#[derive(Debug, Clone)]
pub struct Failed {
    pub error: Error,
    pub mapping: Option<Mapping>,
}

impl From<Error> for Box<Failed> {
    fn from(error: Error) -> Box<Failed> {
        Box::new(Failed {
            error,
            mapping: None,
        })
    }
}

/// [`normalize`], saying which mapping read each value that did not convert (one per task
/// warning, in order) or that failed the answer (`validate` points at it).
pub fn normalize_detailed(
    provider: &Provider,
    task_id: &str,
    response: Response<'_>,
    context: Context<'_>,
) -> Result<(UploadTask, Vec<Mapping>), Box<Failed>> {
    let now = context.now;
    let success = (200..300).contains(&response.status);
    // A non-2xx is a failure unless the definition calls it an answer about the task.
    let answered = if success {
        None
    } else {
        let parsed: Option<Value> = parse_body(provider, response.body).ok();
        match answer_for(provider, response, parsed.as_ref()) {
            Some(answer) => Some(answer),
            None => return Err(failure(provider, response, parsed.as_ref(), None).into()),
        }
    };
    let blank = response.body.iter().all(u8::is_ascii_whitespace);
    // An answer that may have no body reads as null: a HEAD's, a 204's, a declared answer's.
    let bodiless = provider.request.method == crate::spec::Method::Head
        || matches!(response.status, 204 | 205)
        || answered.is_some();
    let fixed = answered.and_then(|a| a.state);
    let (body, raw_text) = if blank && bodiless {
        (Value::Null, None)
    } else {
        match parse_body(provider, response.body) {
            Ok(body) => (body, None),
            // A declared answer is about its status: a body that does not read is null, and
            // `raw` keeps its text.
            Err(_) if answered.is_some() => (
                Value::Null,
                Some(String::from_utf8_lossy(response.body).into_owned()),
            ),
            Err(e) => return Err(unreadable(provider, response, &e).into()),
        }
    };
    let whole = Answer {
        status: response.status,
        headers: response.headers,
        body: &body,
        payload: &body,
        now,
        inputs: context.inputs,
    };
    for (condition, kind) in &provider.failures.in_body {
        if extract::holds(condition, &whole.at()) {
            return Err(failure(provider, response, Some(&body), Some(*kind)).into());
        }
    }
    let plan = &provider.response;
    let mut payload = &body;
    // A body-less answer has no envelope to open.
    if let Some(envelope) = &plan.envelope
        && !body.is_null()
        && envelope
            .when
            .as_ref()
            .is_none_or(|w| extract::holds(w, &whole.at()))
    {
        if let Some(success) = &envelope.success
            && !extract::holds(success, &whole.at())
        {
            return Err(failure(
                provider,
                response,
                Some(&body),
                Some(ErrorKind::InvalidRequest),
            )
            .into());
        }
        payload = envelope.root.first(&body).ok_or_else(|| {
            Error::decode(
                response.status,
                format!(
                    "the envelope has no payload at `{}`{}",
                    envelope.root,
                    mislabelled(provider, response)
                ),
                response.body,
            )
        })?;
    }
    let answer = Answer { payload, ..whole };
    let (mut task, warned) = map_task(provider, task_id, &answer, fixed).map_err(|e| {
        Box::new(Failed {
            mapping: Some(Mapping::Status),
            error: Error::decode(response.status, e.to_string(), response.body),
        })
    })?;
    // The body moves into the task: no copy of what may be the largest value here.
    task.raw = match raw_text {
        _ if !provider.limits.keep_raw => Value::Null,
        Some(text) => Value::String(text),
        None => body,
    };
    Ok((task, warned))
}

/// The `answers` entry a non-2xx response matches, if any.
fn answer_for<'p>(
    provider: &'p Provider,
    response: Response<'_>,
    body: Option<&Value>,
) -> Option<&'p crate::model::AnswerPlan> {
    let document = body.unwrap_or(&Value::Null);
    let whole = Answer {
        status: response.status,
        headers: response.headers,
        body: document,
        payload: document,
        now: None,
        inputs: &[],
    };
    provider.response.answers.iter().find(|answer| {
        answer.statuses.contains(&response.status)
            && answer
                .when
                .as_ref()
                .is_none_or(|w| extract::holds(w, &whole.at()))
    })
}

/// A body that should be JSON and is not. The Content-Type is not trusted either way
/// (providers label JSON `text/plain`); it is named because an HTML page there is a proxy's,
/// not the API's.
fn unreadable(provider: &Provider, response: Response<'_>, error: &str) -> Error {
    let format = format_name(provider);
    let labelled = mislabelled(provider, response);
    Error::decode(
        response.status,
        format!(
            "the body is not valid {}{labelled}: {error}",
            format.to_ascii_uppercase()
        ),
        response.body,
    )
}

fn format_name(provider: &Provider) -> &'static str {
    match provider.response.format {
        crate::spec::BodyFormat::Json => "json",
        crate::spec::BodyFormat::Xml => "xml",
    }
}

/// ` (Content-Type: text/html)` when the answer says it is not in the definition's format (an
/// HTML page is often well-formed XML: then it reads, but holds nothing the definition wants).
fn mislabelled(provider: &Provider, response: Response<'_>) -> String {
    match response.header("content-type") {
        Some(kind) if !kind.to_ascii_lowercase().contains(format_name(provider)) => {
            format!(" (Content-Type: {})", excerpt(kind.as_bytes()))
        }
        _ => String::new(),
    }
}

/// A body read in the definition's format (JSON, or XML into its tree).
fn parse_body(provider: &Provider, body: &[u8]) -> Result<Value, String> {
    match provider.response.format {
        crate::spec::BodyFormat::Json => serde_json::from_slice(body).map_err(|e| e.to_string()),
        crate::spec::BodyFormat::Xml => crate::runtime::xml::read(body),
    }
}

/// Warnings as a task is mapped, with the mapping behind each (for `validate`).
#[derive(Default)]
struct Warnings {
    list: Vec<Warning>,
    mappings: Vec<Mapping>,
}

impl Warnings {
    /// The value, or `None` and a warning at `field` when it did not convert.
    fn keep<T>(
        &mut self,
        read: Result<Option<T>, ExtractError>,
        mapping: Mapping,
        field: impl FnOnce() -> String,
    ) -> Option<T> {
        match read {
            Ok(value) => value,
            Err(error) => {
                self.list.push(Warning {
                    field: field(),
                    message: error.to_string(),
                });
                self.mappings.push(mapping);
                None
            }
        }
    }
}

/// Maps a payload into a task (`raw` is left for the caller to fill). Only the status must
/// convert; every other field that does not is null, with a warning.
fn map_task(
    provider: &Provider,
    task_id: &str,
    answer: &Answer<'_>,
    fixed: Option<State>,
) -> Result<(UploadTask, Vec<Mapping>), MapError> {
    let plan = &provider.response;
    let at = &answer.at();
    // A state the HTTP status fixes has that status as its native text.
    let (native, state) = match fixed {
        Some(state) => (answer.status.to_string(), state),
        None => {
            let native = native_status(&plan.state, at)?;
            let state = state_of(&plan.state, &native, at);
            (native, state)
        }
    };
    let mut warnings = Warnings::default();
    let id = match &plan.id {
        Some(field) => warnings.keep(extract::text(field, at), Mapping::Field("id"), || {
            "id".into()
        }),
        None => None,
    }
    .unwrap_or_else(|| task_id.to_owned());
    let mut time = |field: &Option<Field>, name: &'static str| match field {
        Some(field) => warnings.keep(extract::timestamp(field, at), Mapping::Field(name), || {
            name.into()
        }),
        None => None,
    };
    let created_at = time(&plan.created_at, "created_at");
    let started_at = time(&plan.started_at, "started_at");
    let updated_at = time(&plan.updated_at, "updated_at");
    let completed_at = time(&plan.completed_at, "completed_at");
    let progress = plan.progress.as_ref().and_then(|progress| {
        let done = warnings.keep(
            extract::number(&progress.done, at),
            Mapping::Progress("done"),
            || "progress.done".into(),
        )?;
        let total = progress.total.as_ref().and_then(|total| {
            warnings.keep(
                extract::number(total, at),
                Mapping::Progress("total"),
                || "progress.total".into(),
            )
        });
        Some(Progress {
            done,
            total,
            unit: progress.unit,
        })
    });
    let mut files = Vec::new();
    for (list, spec) in plan.files.iter().enumerate() {
        for node in spec.each.select(at.root(spec.from)) {
            let item = &at.with_item(node);
            if node.is_null() || spec.when.as_ref().is_some_and(|w| !extract::holds(w, item)) {
                continue;
            }
            let index = files.len();
            let mut text = |field: &Option<Field>, key: &'static str| {
                warnings.keep(
                    optional_text(field, item),
                    Mapping::File { list, key },
                    || format!("files[{index}].{key}"),
                )
            };
            let file = File {
                id: text(&spec.id, "id"),
                name: text(&spec.name, "name"),
                url: text(&spec.url, "url"),
                source_url: text(&spec.source_url, "source_url"),
                path: text(&spec.path, "path"),
                mime: text(&spec.mime, "mime"),
                md5: text(&spec.md5, "md5"),
                size: match &spec.size {
                    Some(field) => warnings
                        .keep(
                            extract::integer(field, item),
                            Mapping::File { list, key: "size" },
                            || format!("files[{index}].size"),
                        )
                        .and_then(|n| u64::try_from(n).ok()),
                    None => None,
                },
            };
            files.push(file);
        }
    }
    let errors = map_errors(&plan.errors, at, &mut |read, list, key, index| {
        warnings.keep(read, Mapping::TaskError { list, key }, || {
            format!("errors[{index}].{key}")
        })
    });
    let mut extra = indexmap::IndexMap::with_capacity(plan.extra.len());
    for (index, (name, field)) in plan.extra.iter().enumerate() {
        if let Some(value) = warnings.keep(extract::typed(field, at), Mapping::Extra(index), || {
            format!("extra.{name}")
        }) {
            extra.insert(name.clone(), value);
        }
    }
    let next = plan.next.as_ref().filter(|n| n.states.contains(&state));
    let next = next.and_then(|next| {
        let task_id = warnings.keep(
            extract::text(&next.task_id, at),
            Mapping::Next(None),
            || "next.task_id".into(),
        )?;
        let mut inputs = indexmap::IndexMap::with_capacity(next.inputs.len());
        for (index, (name, field)) in next.inputs.iter().enumerate() {
            if let Some(value) =
                warnings.keep(extract::text(field, at), Mapping::Next(Some(index)), || {
                    format!("next.inputs.{name}")
                })
            {
                inputs.insert(name.clone(), value);
            }
        }
        Some(crate::task::Next {
            provider: next.provider.clone(),
            task_id,
            inputs,
        })
    });
    let task = UploadTask {
        provider: provider.id.clone(),
        id,
        state,
        native_label: plan.state.labels.get(&native).cloned(),
        native_status: native,
        terminal: state.is_terminal(),
        progress,
        created_at,
        started_at,
        updated_at,
        completed_at,
        files,
        errors,
        extra,
        warnings: warnings.list,
        next,
        raw: Value::Null,
    };
    Ok((task, warnings.mappings))
}

/// What an errors list reads a value with: the value, or `None` when it did not convert (the
/// reader decides what to say), given the list, the key and the error's index.
type ReadText<'r> = dyn FnMut(Result<Option<String>, ExtractError>, usize, &'static str, usize) -> Option<String>
    + 'r;

/// The errors `plans` map out of an answer: task errors, or the details of a request error.
fn map_errors(
    plans: &[crate::model::ErrorsPlan],
    at: &At<'_>,
    keep: &mut ReadText<'_>,
) -> Vec<TaskError> {
    let mut errors = Vec::new();
    for (list, spec) in plans.iter().enumerate() {
        for node in spec.each.select(at.root(spec.from)) {
            let item = &at.with_item(node);
            if node.is_null() || spec.when.as_ref().is_some_and(|w| !extract::holds(w, item)) {
                continue;
            }
            let index = errors.len();
            let code = keep(optional_text(&spec.code, item), list, "code", index);
            let item_text = keep(optional_text(&spec.item, item), list, "item", index);
            let message = keep(extract::text(&spec.message, item), list, "message", index)
                .unwrap_or_default();
            errors.push(TaskError {
                code,
                message,
                item: item_text,
            });
        }
    }
    errors
}

/// A field that the definition may leave out, read as text.
fn optional_text(field: &Option<Field>, at: &At<'_>) -> Result<Option<String>, ExtractError> {
    match field {
        Some(field) => extract::text(field, at),
        None => Ok(None),
    }
}

/// Why a payload could not be mapped: only the status is essential.
#[derive(Debug, thiserror::Error)]
enum MapError {
    #[error("the status field `{0}` is missing")]
    MissingStatus(String),
    #[error("the status field `{path}` should be {expected}, found {found}")]
    StatusType {
        path: String,
        expected: &'static str,
        found: String,
    },
}

/// The native status text.
fn native_status(plan: &StatePlan, at: &At<'_>) -> Result<String, MapError> {
    native_text(&plan.native, plan.default.as_ref(), at)
}

/// The text one source reads (`default` when its field is absent or null).
fn native_text(
    native: &crate::model::NativePlan,
    default: Option<&Value>,
    at: &At<'_>,
) -> Result<String, MapError> {
    let payload = at.answer.payload;
    use crate::model::NativePlan;
    let wrong =
        |path: &crate::syntax::jsonpath::JsonPath, expected, found: &Value| MapError::StatusType {
            path: path.to_string(),
            expected,
            found: extract::describe(found),
        };
    let present = |path: &crate::syntax::jsonpath::JsonPath| {
        path.first(payload)
            .filter(|v| !v.is_null())
            .or(default)
            .ok_or_else(|| MapError::MissingStatus(path.to_string()))
    };
    match native {
        NativePlan::String(path) => match present(path)? {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(wrong(path, "a string", other)),
        },
        NativePlan::Integer(path) => match present(path)? {
            // The text is canonical, so `"01"`, `" +1"` and `1.0` all read as `1`.
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            Value::Number(n)
                if n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9e15) =>
            {
                Ok((n.as_f64().unwrap_or_default() as i64).to_string())
            }
            Value::String(s) if s.trim().parse::<i64>().is_ok() => Ok(s
                .trim()
                .parse::<i64>()
                .map(|n| n.to_string())
                .unwrap_or_default()),
            other => Err(wrong(path, "an integer", other)),
        },
        NativePlan::Boolean(path, name) => {
            let value = present(path)?;
            match extract::as_boolean(value) {
                Some(b) => Ok(format!("{name}={b}")),
                None => Err(wrong(path, "a boolean", value)),
            }
        }
        NativePlan::Presence(candidates) => Ok(candidates
            .iter()
            .find(|(path, _)| path.first(payload).is_some_and(|v| !v.is_null()))
            .map_or_else(|| "none".to_owned(), |(_, name)| name.clone())),
        NativePlan::HttpStatus => Ok(at.answer.status.to_string()),
        NativePlan::Header(name) => Ok(at
            .answer
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or_else(|| "none".to_owned(), |(_, v)| v.trim().to_owned())),
        NativePlan::TagKey(path) => match present(path)? {
            Value::Object(map) if map.len() == 1 => {
                Ok(map.keys().next().cloned().unwrap_or_default())
            }
            Value::String(s) => Ok(s.clone()),
            other => Err(wrong(path, "an object with a single key", other)),
        },
        // Every axis must read: a status is essential, each of its parts too.
        NativePlan::Axes(axes) => {
            let mut text = String::new();
            for (i, (name, axis)) in axes.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                text.push_str(name);
                text.push('=');
                text.push_str(&native_text(axis, None, at)?);
            }
            Ok(text)
        }
    }
}

/// Rules first, in order; then the value map; else `unknown`.
fn state_of(plan: &StatePlan, native: &str, at: &At<'_>) -> State {
    for rule in &plan.rules {
        if (rule.native.is_empty() || rule.native.iter().any(|n| n == native))
            && extract::holds(&rule.when, at)
        {
            return rule.state;
        }
    }
    plan.map.get(native).copied().unwrap_or(State::Unknown)
}

/// A failure: the provider's code, message and details from the error body shape that finds
/// the most of its fields, the kind from the code, the given kind, or the status, in that order.
fn failure(
    provider: &Provider,
    response: Response<'_>,
    body: Option<&Value>,
    kind: Option<ErrorKind>,
) -> Error {
    let failures = &provider.failures;
    // Headers are read whatever the body: a code may come in one (`x-amzn-ErrorType`).
    let document = body.unwrap_or(&Value::Null);
    let answer = Answer {
        status: response.status,
        headers: response.headers,
        body: document,
        payload: document,
        now: None,
        inputs: &[],
    };
    let at = &answer.at();
    // The shape that finds the most of its fields wins; the first among equals.
    let mut best: (usize, Option<String>, Option<String>, Option<usize>) = (0, None, None, None);
    for (index, shape) in failures.bodies.iter().enumerate() {
        let read = |f: &Option<Field>| {
            f.as_ref()
                .and_then(|f| extract::text(f, at).ok().flatten())
                .filter(|s| !s.is_empty())
        };
        let code = read(&shape.code);
        let message = read(&shape.message);
        let found = usize::from(code.is_some()) + usize::from(message.is_some());
        if found > best.0 {
            best = (found, code, message, Some(index));
        }
    }
    let (_, code, message, shape) = best;
    // A detail whose value does not convert is left out: a request error has no warnings.
    let details = shape
        .map(|i| {
            map_errors(&failures.bodies[i].details, at, &mut |read, _, _, _| {
                read.ok().flatten()
            })
        })
        .unwrap_or_default();
    let kind = code
        .as_deref()
        .and_then(|c| failures.codes.get(c).copied())
        .or(kind)
        .or_else(|| failures.statuses.get(&response.status).copied())
        .unwrap_or_else(|| ErrorKind::from_status(response.status));
    let (standard, own) = retry_after(provider, response, at);
    let retryable = failures.retryable_statuses.contains(&response.status)
        || code
            .as_deref()
            .is_some_and(|c| failures.retryable_codes.iter().any(|r| r == c))
        || (standard.or(own).is_some() && kind == ErrorKind::RateLimited);
    // The definition's own hint is for answers worth retrying, nothing else: a 404 that
    // happens to carry it has nothing to wait for.
    let retry_after = standard.or(own.filter(|_| retryable));
    let message = message
        .or_else(|| body.is_none().then(|| plain_text(response)).flatten())
        .unwrap_or_else(|| match body {
            Some(_) => format!(
                "HTTP {} with no message the definition can read",
                response.status
            ),
            None if response.body.is_empty() => {
                format!("HTTP {} with an empty body", response.status)
            }
            None => format!("HTTP {} with a body that is not JSON", response.status),
        });
    let excerpt = body
        .is_none()
        .then(|| excerpt(response.body))
        .filter(|e| !e.is_empty());
    Error {
        kind,
        status: Some(response.status),
        code,
        message,
        retryable,
        retry_after,
        excerpt,
        details: details.into(),
        cause: None,
    }
}

/// A plain-text error body as its message: labelled `text/plain`, or not labelled and not
/// markup; UTF-8, on one line, at most 300 characters. An HTML page (a proxy's) is not one.
fn plain_text(response: Response<'_>) -> Option<String> {
    let labelled = response
        .header("content-type")
        .map(|kind| kind.trim().to_ascii_lowercase());
    let text = std::str::from_utf8(response.body).ok()?.trim();
    let plain = match labelled.as_deref() {
        Some(kind) => kind.starts_with("text/plain"),
        None => !text.starts_with('<'),
    };
    if !plain || text.is_empty() {
        return None;
    }
    let line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    const LIMIT: usize = 300;
    Some(if line.chars().count() > LIMIT {
        let mut cut: String = line.chars().take(LIMIT).collect();
        cut.push('…');
        cut
    } else {
        line
    })
}

/// The standard wait (`Retry-After`, seconds or an HTTP date; else the IETF `RateLimit`
/// headers when nothing is left), and the definition's own (its header of seconds, or its
/// `retry_after` field: seconds, a duration, or a time to wait until).
fn retry_after(
    provider: &Provider,
    response: Response<'_>,
    at: &At<'_>,
) -> (Option<Duration>, Option<Duration>) {
    // Against the server's own clock when it says what it is (`Date`): a skewed local clock
    // then neither stretches nor cuts the wait, and the same answer always means the same
    // wait. Against ours otherwise.
    let until = |date: jiff::Timestamp| {
        let sent = response
            .header("date")
            .and_then(extract::http_date)
            .unwrap_or_else(jiff::Timestamp::now);
        u64::try_from((date.as_second() - sent.as_second()).max(0)).unwrap_or(0)
    };
    let header = provider
        .failures
        .retry_after_header
        .as_deref()
        .and_then(|name| response.header(name))
        .and_then(|v| v.trim().parse::<u64>().ok());
    let field = provider.failures.retry_after.as_ref().and_then(|field| {
        let seconds = match field.kind {
            crate::spec::ValueType::Timestamp => {
                extract::timestamp(field, at).ok().flatten().map(until)?
            }
            crate::spec::ValueType::Duration => {
                extract::duration(field, at).ok().flatten()?.ceil() as u64
            }
            _ => extract::number(field, at)
                .ok()
                .flatten()
                .filter(|n| n.is_finite() && *n >= 0.0)?
                .ceil() as u64,
        };
        Some(seconds)
    });
    let standard = response
        .header("retry-after")
        .and_then(|v| {
            let v = v.trim();
            v.parse::<u64>()
                .ok()
                .or_else(|| extract::http_date(v).map(until))
        })
        .or_else(|| {
            super::quota::read(response.headers)
                .and_then(|quota| quota.wait)
                .map(|wait| wait.as_secs())
        });
    (
        standard.map(Duration::from_secs),
        header.or(field).map(Duration::from_secs),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Provider {
        let text = include_str!("../../providers/hubspot.yaml");
        crate::validate::check_source("hubspot.yaml", Some("hubspot"), text).expect("valid")
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let provider = provider();
        let in_a_minute = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(61);
        let date = jiff::fmt::rfc2822::to_string(&in_a_minute.to_zoned(jiff::tz::TimeZone::UTC))
            .expect("date");
        for (value, low, high) in [
            ("120", 120, 120),
            (date.as_str(), 55, 61),
            ("Wed, 21 Oct 2015 07:28:00 GMT", 0, 0),
        ] {
            let headers = vec![("retry-after".to_owned(), value.to_owned())];
            let error = normalize(
                &provider,
                "t",
                Response {
                    status: 429,
                    headers: &headers,
                    body: b"",
                },
            )
            .expect_err("429");
            let wait = error.retry_after.expect("retry_after").as_secs();
            assert!((low..=high).contains(&wait), "{value}: {wait}");
            assert!(error.retryable);
        }
    }

    /// A date is read against the answer's own `Date`, whatever the local clock says: found by
    /// the normalize fuzz target, where two reads of one answer straddled a second and differed.
    #[test]
    fn a_retry_after_date_counts_from_the_answers_date() {
        let provider = provider();
        for (retry_after, date, wait) in [
            (
                "Sun, 06 Nov 1994 08:51:37 GMT",
                "Sun, 06 Nov 1994 08:49:37 GMT",
                120,
            ),
            (
                "Sun, 06 Nov 1994 08:49:37 GMT",
                "Sun, 06 Nov 1994 08:51:37 GMT",
                0,
            ),
            // The fuzzer's input: RFC 2822's obsolete forms (two-digit year, a military zone).
            (
                "8 dEc\t33\u{c}00:00\u{c}:\u{c}33\r g",
                "Thu, 08 Dec 2033 00:00:00 GMT",
                33,
            ),
        ] {
            let headers = vec![
                ("Retry-After".to_owned(), retry_after.to_owned()),
                ("Date".to_owned(), date.to_owned()),
            ];
            let response = Response {
                status: 503,
                headers: &headers,
                body: b"",
            };
            let error = normalize(&provider, "t", response).expect_err("503");
            assert_eq!(
                error.retry_after,
                Some(Duration::from_secs(wait)),
                "{retry_after:?}"
            );
        }
    }

    /// A 429's wait, where `Retry-After` is missing, is a spent window's reset (every form of
    /// the `RateLimit` headers is read by `quota`, and tested there).
    #[test]
    fn rate_limit_headers_are_a_wait_when_nothing_is_left() {
        let provider = provider();
        for (headers, wait) in [
            (vec![("RateLimit", r#""default";r=0;t=12"#)], Some(12)),
            (
                vec![("RateLimit-Remaining", "0"), ("RateLimit-Reset", "7")],
                Some(7),
            ),
            (vec![("RateLimit", r#""default";r=1;t=12"#)], None),
            // `Retry-After` wins.
            (
                vec![("Retry-After", "5"), ("RateLimit", r#""default";r=0;t=12"#)],
                Some(5),
            ),
        ] {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            let error = normalize(
                &provider,
                "t",
                Response {
                    status: 429,
                    headers: &headers,
                    body: b"",
                },
            )
            .expect_err("429");
            assert_eq!(error.retry_after.map(|d| d.as_secs()), wait, "{headers:?}");
        }
    }

    #[test]
    fn a_plain_text_error_body_is_the_message() {
        let provider = provider();
        for (kind, body, message) in [
            (Some("text/plain"), "Not Found\n", "Not Found"),
            (
                None,
                "ERR_UPLOAD_NOT_FOUND: upload not found",
                "ERR_UPLOAD_NOT_FOUND: upload not found",
            ),
            (
                Some("text/html"),
                "<h1>Bad Gateway</h1>",
                "HTTP 502 with a body that is not JSON",
            ),
            (
                None,
                "<html>Bad Gateway</html>",
                "HTTP 502 with a body that is not JSON",
            ),
            (
                Some("application/octet-stream"),
                "binary",
                "HTTP 502 with a body that is not JSON",
            ),
        ] {
            let headers: Vec<(String, String)> = kind
                .map(|k| vec![("Content-Type".to_owned(), k.to_owned())])
                .unwrap_or_default();
            let error = normalize(
                &provider,
                "t",
                Response {
                    status: 502,
                    headers: &headers,
                    body: body.as_bytes(),
                },
            )
            .expect_err("502");
            assert_eq!(error.message, message, "{kind:?} {body:?}");
            assert!(error.excerpt.is_some());
        }
    }

    #[test]
    fn integer_statuses_read_canonically() {
        let text = include_str!("../../providers/shoplazza.yaml");
        let provider = crate::validate::check_source("shoplazza.yaml", Some("shoplazza"), text)
            .expect("valid");
        for body in [
            r#"{"status": "+1"}"#,
            r#"{"status": " 01"}"#,
            r#"{"status": 1.0}"#,
            r#"{"status": 1}"#,
        ] {
            let task = normalize(
                &provider,
                "t",
                Response {
                    status: 200,
                    headers: &[],
                    body: body.as_bytes(),
                },
            )
            .expect(body);
            assert_eq!(
                (task.native_status.as_str(), task.state),
                ("1", State::Running),
                "{body}"
            );
        }
    }

    #[test]
    fn bad_bodies_are_typed_errors_with_an_excerpt() {
        let provider = provider();
        let cases: [(&[u8], &str); 4] = [
            (b"{\"status\": \"PEND", "not valid JSON"),
            (b"[1, 2]", "the status field `$.status` is missing"),
            (b"{\"status\": {\"a\": 1}}", "should be a string"),
            (b"\xff\xfe", "not valid JSON"),
        ];
        for (body, message) in cases {
            let error = normalize(
                &provider,
                "t",
                Response {
                    status: 200,
                    headers: &[],
                    body,
                },
            )
            .expect_err("bad");
            assert_eq!(error.kind, ErrorKind::Decode);
            assert!(error.message.contains(message), "{}", error.message);
            assert!(error.excerpt.is_some());
        }
    }
}
