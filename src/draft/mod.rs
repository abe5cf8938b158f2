//! Drafting a definition from one real answer (`unitask init`): the inputs from the URL's id-like
//! segments (patterns inferred from the values), the likely status field with its value as the
//! documented list, timestamps, the id, progress, files and errors where the answer has them,
//! and the answer itself as the first example, its `expect` filled in by running it. Every guess
//! is marked with a `# guess:` comment. The draft is validated before it is returned, and a
//! mapping that would fail on the sample is left out, so it passes `validate` as written.
//!
//! [`example`] writes an `examples:` entry from any answer (`unitask status --save-example`).

pub mod example;
pub mod yaml;

use serde_json::{Map, Value};

use crate::model::{EXAMPLE_TASK_ID, Provider, TimeFormat};
use crate::runtime::extract::parse_timestamp;
use crate::runtime::normalize::{self, Mapping};
use crate::spec::Method;

/// What a draft is made from.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The provider id (the file will be `<id>.yaml`).
    pub id: &'a str,
    /// The answer's body: a JSON object.
    pub body: &'a Value,
    /// The URL the answer came from, if known.
    pub url: Option<&'a url::Url>,
    pub method: Method,
}

/// Why no draft could be made.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("`{0}` is not a provider id: use lowercase letters, digits and `-`, e.g. `acme-jobs`")]
    Id(String),
    #[error("the sample answer must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error("the URL must be an http(s) URL with a host (it is `{0}`)")]
    Url(String),
    /// A draft that does not validate is a bug of the drafter; the diagnostics say where.
    #[error("the draft does not validate (please report this):\n{0}")]
    Invalid(String),
}

/// A definition for `sample`, as YAML text that passes `validate`.
pub fn draft(sample: &Sample<'_>) -> Result<String, DraftError> {
    let slug = !sample.id.is_empty()
        && !sample.id.starts_with('-')
        && sample
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !slug {
        return Err(DraftError::Id(sample.id.to_owned()));
    }
    let Value::Object(body) = sample.body else {
        return Err(DraftError::NotAnObject(kind_of(sample.body)));
    };
    let mut draft = Draft::new(sample, body)?;
    let bytes = serde_json::to_vec(sample.body).unwrap_or_default();
    let answer = example::Answer {
        status: 200,
        headers: Vec::new(),
        body: bytes,
    };
    // Each pass leaves out the mapping that failed on the sample; there are only so many.
    for _ in 0..64 {
        let skeleton = draft.render(None);
        let provider = validated(sample.id, &skeleton)?;
        let response = normalize::Response {
            status: answer.status,
            headers: &answer.headers,
            body: &answer.body,
        };
        match normalize::normalize_detailed(
            &provider,
            &draft.task_value,
            response,
            normalize::Context::default(),
        ) {
            // A guessed mapping that cannot read the sample is left out, not kept with a warning.
            Ok((_, warned)) if warned.iter().any(|mapping| draft.drop(*mapping)) => {}
            Ok(_) => {
                let entry = example::entry(
                    &provider,
                    "sample",
                    &draft.task_value,
                    &draft.example_inputs(),
                    &answer,
                );
                let text = draft.render(Some(&entry));
                validated(sample.id, &text)?;
                return Ok(text);
            }
            Err(failed) => match failed.mapping {
                Some(mapping) if draft.drop(mapping) => {}
                _ => return Err(DraftError::Invalid(failed.error.to_string())),
            },
        }
    }
    Err(DraftError::Invalid(
        "too many mappings fail on the sample".into(),
    ))
}

fn validated(id: &str, text: &str) -> Result<Provider, DraftError> {
    crate::validate::check_source(&format!("{id}.yaml"), Some(id), text)
        .map_err(|report| DraftError::Invalid(report.render_human(false)))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One step from the root to a value.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Each,
}

/// A JSONPath for `segments`, relative to `$`.
fn path(segments: &[Seg]) -> String {
    let mut out = String::from("$");
    for segment in segments {
        match segment {
            Seg::Key(key) if is_identifier(key) => {
                out.push('.');
                out.push_str(key);
            }
            Seg::Key(key) => {
                out.push_str("['");
                out.push_str(key);
                out.push_str("']");
            }
            Seg::Each => out.push_str("[*]"),
        }
    }
    out
}

fn is_identifier(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Keys a path can name without escapes (JSONPath and YAML both read them as they are).
fn nameable(key: &str) -> bool {
    !key.is_empty()
        && !key.contains(['\'', '\\', '"'])
        && key.chars().all(|c| !c.is_control() && c != '\u{feff}')
}

/// `camelCase`, `kebab-case` and `Title Case` keys in lower snake case, for comparing names.
fn words(key: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        });
    }
    out
}

/// Every member of every object reachable from `value` without crossing an array, shallowest
/// first, at most `depth` levels down.
fn members(value: &Value, depth: usize) -> Vec<(Vec<Seg>, &str, &Value)> {
    let mut out = Vec::new();
    let mut level: Vec<(Vec<Seg>, &Value)> = vec![(Vec::new(), value)];
    for _ in 0..depth {
        let mut next = Vec::new();
        for (at, node) in level {
            let Value::Object(map) = node else { continue };
            for (key, child) in map {
                if !nameable(key) {
                    continue;
                }
                let mut child_at = at.clone();
                child_at.push(Seg::Key(key.clone()));
                out.push((child_at.clone(), key.as_str(), child));
                next.push((child_at, child));
            }
        }
        level = next;
    }
    out
}

/// A draft input.
#[derive(Debug, Clone)]
struct InputDraft {
    name: String,
    location: &'static str,
    pattern: Option<String>,
    value: String,
    task_id: bool,
    /// The query parameter's name, when it differs from the input's.
    wire_name: Option<String>,
    note: String,
}

#[derive(Debug, Clone)]
enum NativeDraft {
    String(String),
    Integer(String),
    Boolean(String),
    /// No status field was found: the presence of `$.status`.
    Presence,
}

#[derive(Debug, Clone)]
struct ProgressDraft {
    unit: &'static str,
    done: String,
    total: Option<String>,
}

#[derive(Debug, Clone)]
struct ListDraft {
    each: String,
    /// Unified field name → path relative to the item.
    fields: Vec<(&'static str, String)>,
    note: String,
}

/// Everything a draft says, before it is written.
#[derive(Debug, Clone)]
struct Draft {
    id: String,
    base_url: String,
    base_url_note: Option<String>,
    method: Method,
    path: String,
    flags: Vec<String>,
    query: Vec<(String, String)>,
    inputs: Vec<InputDraft>,
    task_value: String,
    auth: (String, Option<String>),
    native: NativeDraft,
    documented: Vec<(String, &'static str)>,
    id_field: Option<String>,
    times: Vec<(&'static str, String, Option<String>)>,
    progress: Option<ProgressDraft>,
    files: Option<ListDraft>,
    errors: Option<ListDraft>,
    unmapped: Vec<String>,
}

impl Draft {
    fn new(sample: &Sample<'_>, body: &Map<String, Value>) -> Result<Draft, DraftError> {
        let env = format!("{}_TOKEN", sample.id.to_ascii_uppercase().replace('-', "_"));
        let root = Value::Object(body.clone());
        let mut draft = Draft {
            id: sample.id.to_owned(),
            base_url: "https://api.example.com".into(),
            base_url_note: Some("guess: no --url was given; write the provider's host here".into()),
            method: sample.method,
            path: String::new(),
            flags: Vec::new(),
            query: Vec::new(),
            inputs: Vec::new(),
            task_value: EXAMPLE_TASK_ID.to_owned(),
            auth: (env, None),
            native: NativeDraft::Presence,
            documented: Vec::new(),
            id_field: None,
            times: Vec::new(),
            progress: None,
            files: None,
            errors: None,
            unmapped: Vec::new(),
        };
        match sample.url {
            Some(url) => draft.read_url(url)?,
            None => draft.default_request(&root),
        }
        draft.find_status(&root);
        draft.find_id(&root);
        draft.find_times(&root);
        draft.find_progress(&root);
        draft.find_files(&root);
        draft.find_errors(&root);
        draft.note_unmapped(body);
        Ok(draft)
    }

    /// Base URL, path inputs (id-like segments), query flags, inputs and the credential.
    fn read_url(&mut self, url: &url::Url) -> Result<(), DraftError> {
        let host = url
            .host_str()
            .filter(|_| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| DraftError::Url(format!("{}:…", url.scheme())))?;
        let loopback = crate::syntax::url::is_loopback(url);
        let scheme = if loopback { url.scheme() } else { "https" };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        self.base_url = format!("{scheme}://{host}{port}");
        self.base_url_note = (url.scheme() == "http" && !loopback)
            .then(|| "guess: the URL was plain http; credentials only travel over https".into());
        let segments: Vec<&str> = url.path().split('/').filter(|s| !s.is_empty()).collect();
        let last_id = segments.iter().rposition(|s| id_like(&decoded(s)));
        let mut path = String::new();
        let mut previous: Option<&str> = None;
        for (i, segment) in segments.iter().enumerate() {
            let value = decoded(segment);
            if id_like(&value) {
                let task_id = Some(i) == last_id;
                let name = self.input_name(previous, task_id);
                path.push_str(&format!("/{{{name}}}"));
                self.push_input(name, "path", value, task_id);
            } else {
                path.push('/');
                path.push_str(segment);
            }
            previous = Some(segment);
        }
        let mut seen = std::collections::HashSet::new();
        for (name, value) in url.query_pairs() {
            let name = name.into_owned();
            // A name given twice keeps its first value: the query names each parameter once.
            if !seen.insert(name.clone()) {
                continue;
            }
            let wire_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
            if !wire_ok {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            let secret = [
                "token",
                "key",
                "secret",
                "sig",
                "pass",
                "pwd",
                "auth",
                "credential",
                "jwt",
                "session",
                "sid",
                "code",
                "access",
                "bearer",
                "hmac",
                "nonce",
                "cookie",
            ]
            .iter()
            .any(|w| lower.contains(w));
            if secret {
                // The value is a credential: it is never written down.
                self.auth.1.get_or_insert(name);
            } else if value.is_empty() {
                self.flags.push(name);
            } else if id_like(&value) && !self.inputs.iter().any(|i| i.name == words(&name)) {
                let task_id = !self.inputs.iter().any(|i| i.task_id);
                let input = if is_identifier(&words(&name)) {
                    words(&name)
                } else {
                    self.input_name(None, task_id)
                };
                self.push_input(input, "query", value.into_owned(), task_id);
                if let Some(last) = self.inputs.last_mut()
                    && last.name != name
                {
                    last.wire_name = Some(name);
                }
            } else if !value.contains(['\r', '\n']) {
                self.query.push((name, value.into_owned()));
            }
        }
        if !self.inputs.iter().any(|i| i.task_id) {
            self.no_id_in_url(&mut path);
        }
        self.path = if path.is_empty() { "/".into() } else { path };
        Ok(())
    }

    /// A URL with no id in it: a POST sends the id in its body; a GET gets a `{task_id}`
    /// segment at the end.
    fn no_id_in_url(&mut self, path: &mut String) {
        let value = self.task_value.clone();
        if self.method == Method::Post {
            self.push_input("task_id".into(), "body", value, true);
            if let Some(last) = self.inputs.last_mut() {
                last.note = "guess: the URL showed no id, so it is sent in the JSON body".into();
            }
        } else {
            path.push_str("/{task_id}");
            self.push_input("task_id".into(), "path", value, true);
            if let Some(last) = self.inputs.last_mut() {
                last.note = "guess: the URL showed no id, so one was added at the end".into();
            }
        }
    }

    /// Without a URL: `GET /tasks/{task_id}` (or a POST with the id in the body).
    fn default_request(&mut self, root: &Value) {
        // The body's own id makes a better example id than the default.
        if let Some(id) = ["id", "task_id", "taskId", "job_id", "jobId"]
            .iter()
            .find_map(|k| scalar_text(root.get(*k)?))
            .filter(|id| {
                !id.is_empty() && !matches!(id.as_str(), "." | "..") && !id.contains(['\r', '\n'])
            })
        {
            self.task_value = id;
        }
        let value = self.task_value.clone();
        if self.method == Method::Post {
            self.path = "/tasks/status".into();
            self.push_input("task_id".into(), "body", value, true);
            if let Some(last) = self.inputs.last_mut() {
                last.note = "guess: no --url was given; sent in the JSON body".into();
            }
        } else {
            self.path = "/tasks/{task_id}".into();
            self.push_input("task_id".into(), "path", value, true);
            if let Some(last) = self.inputs.last_mut() {
                last.note = "guess: no --url was given; where does the id go?".into();
            }
        }
    }

    /// A name for the input after the segment `previous`: `jobs` → `job_id`.
    fn input_name(&self, previous: Option<&str>, task_id: bool) -> String {
        let base = previous
            .map(decoded)
            .filter(|p| !id_like(p))
            .map(|p| {
                let w = words(&p);
                let singular = if let Some(stem) = w.strip_suffix("ies") {
                    format!("{stem}y")
                } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
                    w[..w.len() - 1].to_owned()
                } else {
                    w
                };
                format!("{}_id", singular.trim_matches('_'))
            })
            .filter(|n| is_identifier(n) && n != "_id");
        let mut name = base.unwrap_or_else(|| if task_id { "task_id" } else { "id" }.to_owned());
        let mut n = 2;
        while self.inputs.iter().any(|i| i.name == name) {
            name = format!(
                "{}_{n}",
                name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_')
            );
            n += 1;
        }
        name
    }

    fn push_input(&mut self, name: String, location: &'static str, value: String, task_id: bool) {
        let pattern = infer_pattern(&value);
        let note = match &pattern {
            // The value itself is written only as the example's input, never in a comment.
            Some(_) => "guess: the pattern was inferred from the URL's value".to_owned(),
            None => "add a `pattern` for the values the provider issues".into(),
        };
        if task_id {
            self.task_value = value.clone();
        }
        self.inputs.push(InputDraft {
            name,
            location,
            pattern,
            value,
            task_id,
            wire_name: None,
            note,
        });
    }

    fn example_inputs(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter(|i| !i.task_id)
            .map(|i| (i.name.clone(), i.value.clone()))
            .collect()
    }

    /// The likeliest status field: `status`, `state`, `*_status`, `*_state`, `phase`, then a
    /// completion flag, shallowest first.
    fn find_status(&mut self, root: &Value) {
        let mut best: Option<(i32, Vec<Seg>, &str, &Value)> = None;
        for (at, key, value) in members(root, 3) {
            let w = words(key);
            let score = match value {
                Value::String(_) | Value::Number(_) => match w.as_str() {
                    "status" => 100,
                    "state" => 90,
                    w if w.ends_with("_status") || w.ends_with("status") => 80,
                    w if w.ends_with("_state") => 70,
                    "phase" | "stage" => 60,
                    _ => continue,
                },
                Value::Bool(_) => match w.as_str() {
                    "done" | "completed" | "complete" | "finished" | "confirmed" | "ready"
                    | "is_done" | "is_complete" | "is_completed" | "is_finished" => 50,
                    _ => continue,
                },
                _ => continue,
            } - 10 * (at.len() as i32 - 1);
            if let Value::Number(n) = value
                && !(n.is_i64() || n.is_u64())
            {
                continue;
            }
            if best.as_ref().is_none_or(|(s, ..)| score > *s) {
                best = Some((score, at, key, value));
            }
        }
        let Some((_, at, key, value)) = best else {
            self.native = NativeDraft::Presence;
            self.documented = vec![("status".into(), "unknown"), ("none".into(), "unknown")];
            return;
        };
        let at = path(&at);
        match value {
            Value::String(text) => {
                self.native = NativeDraft::String(at);
                self.documented = vec![(text.clone(), state_guess(text))];
            }
            // Beyond i64, an integer status is read as text (a string status takes numbers).
            Value::Number(n) if n.as_i64().is_some() => {
                self.native = NativeDraft::Integer(at);
                self.documented = vec![(n.to_string(), "unknown")];
            }
            Value::Number(n) => {
                self.native = NativeDraft::String(at);
                self.documented = vec![(n.to_string(), "unknown")];
            }
            Value::Bool(b) => {
                let name = key.to_owned();
                let failing = words(key).contains("fail") || words(key).contains("error");
                let (yes, no) = if failing {
                    ("failed", "running")
                } else {
                    ("succeeded", "running")
                };
                // Both values of a flag are known: both are documented.
                let mut documented =
                    vec![(format!("{name}=true"), yes), (format!("{name}=false"), no)];
                if !b {
                    documented.reverse();
                }
                self.native = NativeDraft::Boolean(at);
                self.documented = documented;
            }
            _ => {}
        }
    }

    fn native_path(&self) -> Option<&str> {
        match &self.native {
            NativeDraft::String(p) | NativeDraft::Integer(p) | NativeDraft::Boolean(p) => Some(p),
            NativeDraft::Presence => None,
        }
    }

    fn find_id(&mut self, root: &Value) {
        let found = members(root, 1).into_iter().find(|(_, key, value)| {
            matches!(
                words(key).as_str(),
                "id" | "task_id" | "job_id" | "upload_id" | "import_id" | "uuid"
            ) && matches!(value, Value::String(_) | Value::Number(_))
        });
        self.id_field = found.map(|(at, ..)| path(&at));
    }

    /// Fields whose values are times, by name: created, started, updated, completed.
    fn find_times(&mut self, root: &Value) {
        for (at, key, value) in members(root, 3) {
            let w = words(key);
            let slot = if w.contains("creat") || w == "submitted_at" {
                "created_at"
            } else if w.contains("start") || w.contains("begin") {
                "started_at"
            } else if w.contains("updat") || w.contains("modif") || w.contains("changed") {
                "updated_at"
            } else if w.contains("complet")
                || w.contains("finish")
                || w.starts_with("end")
                || w.contains("_end")
                || w.starts_with("done")
            {
                "completed_at"
            } else {
                continue;
            };
            if self.times.iter().any(|(s, ..)| *s == slot) {
                continue;
            }
            if let Some(format) = time_format(&w, value) {
                self.times.push((slot, path(&at), format));
            }
        }
    }

    /// A percent field, or a count done out of a total at one level.
    fn find_progress(&mut self, root: &Value) {
        let all = members(root, 3);
        let numeric = |v: &Value| match v {
            Value::Number(_) => true,
            Value::String(s) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
            _ => false,
        };
        if let Some((at, ..)) = all.iter().find(|(_, key, value)| {
            let w = words(key);
            numeric(value)
                && (w == "progress"
                    || w.contains("percent")
                    || w == "completion"
                    || w.ends_with("_progress"))
        }) {
            self.progress = Some(ProgressDraft {
                unit: "percent",
                done: path(at),
                total: None,
            });
            return;
        }
        for (at, key, value) in &all {
            let w = words(key);
            let done_like = [
                "done",
                "finished",
                "completed",
                "processed",
                "uploaded",
                "succeeded",
                "success",
                "transferred",
                "received",
            ]
            .iter()
            .any(|d| w == *d || w.starts_with(&format!("{d}_")) || w.ends_with(&format!("_{d}")));
            let timey = w.ends_with("_at") || w.contains("time") || w.contains("date");
            if !done_like || timey || !numeric(value) || matches!(value, Value::Bool(_)) {
                continue;
            }
            let parent = &at[..at.len() - 1];
            let total = all.iter().find(|(other, k, v)| {
                let t = words(k);
                &other[..other.len() - 1] == parent
                    && numeric(v)
                    && (t == "total" || t.starts_with("total_") || t.ends_with("_total"))
            });
            let bytes = w.contains("byte")
                || w.contains("size")
                || total.is_some_and(|(_, k, _)| words(k).contains("byte"));
            self.progress = Some(ProgressDraft {
                unit: if bytes { "bytes" } else { "items" },
                done: path(at),
                total: total.map(|(p, ..)| path(p)),
            });
            return;
        }
    }

    /// The array (or object) whose items look most like files: a URL, a name, a size.
    fn find_files(&mut self, root: &Value) {
        let mut best: Option<(usize, ListDraft)> = None;
        for (at, key, value) in members(root, 3) {
            let (each, items): (Vec<Seg>, Vec<&Value>) = match value {
                Value::Array(items) if items.iter().any(Value::is_object) => {
                    let mut each = at.clone();
                    each.push(Seg::Each);
                    (each, items.iter().filter(|i| i.is_object()).collect())
                }
                Value::Object(_) => (at.clone(), vec![value]),
                _ => continue,
            };
            let w = words(key);
            if w.contains("error") || w.contains("fail") {
                continue;
            }
            let fields = file_fields(&items);
            let has_place = fields
                .iter()
                .any(|(f, _)| matches!(*f, "url" | "source_url" | "name" | "path"));
            if !has_place || fields.len() < 2 {
                continue;
            }
            // A list is likelier than one object; more fields, likelier still.
            let score = fields.len() * 2 + usize::from(each.last() == Some(&Seg::Each)) * 3;
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((
                    score,
                    ListDraft {
                        each: path(&each),
                        fields,
                        note: format!("guess: the items of `{key}` look like files"),
                    },
                ));
            }
        }
        self.files = best.map(|(_, list)| list);
    }

    /// An `errors` (or `failures`) list: strings, or objects with a message.
    fn find_errors(&mut self, root: &Value) {
        for (at, key, value) in members(root, 2) {
            let w = words(key);
            let named = matches!(
                w.as_str(),
                "errors"
                    | "error_list"
                    | "failures"
                    | "failed"
                    | "failure_list"
                    | "failed_files"
                    | "problems"
                    | "error_details"
            );
            let Value::Array(items) = value else { continue };
            if !named {
                continue;
            }
            let mut each = at.clone();
            each.push(Seg::Each);
            let objects: Vec<&Map<String, Value>> =
                items.iter().filter_map(Value::as_object).collect();
            let strings = items.iter().all(|i| i.is_string() || i.is_null());
            let mut fields: Vec<(&'static str, String)> = Vec::new();
            if !items.is_empty() && strings {
                fields.push(("message", "$".into()));
            } else {
                let pick = |names: &[&str]| {
                    names.iter().find_map(|n| {
                        let present = objects.iter().any(|o| o.contains_key(*n));
                        let textual = objects.iter().filter_map(|o| o.get(*n)).all(|v| {
                            matches!(v, Value::String(_) | Value::Number(_) | Value::Null)
                        });
                        (present && textual).then(|| format!("$.{n}"))
                    })
                };
                match pick(&["message", "msg", "error", "detail", "description", "reason"]) {
                    Some(message) => fields.push(("message", message)),
                    None if items.is_empty() => fields.push(("message", "$.message".into())),
                    None => continue,
                }
                if let Some(code) = pick(&["code", "error_code", "errorCode", "type"]) {
                    fields.push(("code", code));
                }
                if let Some(item) = pick(&["url", "file", "filename", "name", "source", "item"]) {
                    fields.push(("item", item));
                }
            }
            self.errors = Some(ListDraft {
                each: path(&each),
                fields,
                note: format!("guess: `{key}` lists the task's failures"),
            });
            return;
        }
    }

    /// Top-level keys no mapping reads, for a comment.
    fn note_unmapped(&mut self, body: &Map<String, Value>) {
        let used: Vec<String> = self
            .native_path()
            .into_iter()
            .map(str::to_owned)
            .chain(self.id_field.clone())
            .chain(self.times.iter().map(|(_, p, _)| p.clone()))
            .chain(
                self.progress
                    .iter()
                    .flat_map(|p| [Some(p.done.clone()), p.total.clone()])
                    .flatten(),
            )
            .chain(self.files.iter().map(|f| f.each.clone()))
            .chain(self.errors.iter().map(|e| e.each.clone()))
            .collect();
        self.unmapped = body
            .keys()
            .filter(|k| {
                let top = path(&[Seg::Key((*k).clone())]);
                !used.iter().any(|u| {
                    u == &top
                        || u.starts_with(&format!("{top}."))
                        || u.starts_with(&format!("{top}["))
                })
            })
            .cloned()
            .collect();
    }

    /// Leaves out the mapping that failed on the sample; `false` when there was nothing to drop.
    fn drop(&mut self, mapping: Mapping) -> bool {
        match mapping {
            Mapping::Status => {
                if matches!(self.native, NativeDraft::Presence) {
                    return false;
                }
                self.native = NativeDraft::Presence;
                self.documented = vec![("status".into(), "unknown"), ("none".into(), "unknown")];
            }
            Mapping::Field("id") => return self.id_field.take().is_some(),
            Mapping::Field(name) => {
                let before = self.times.len();
                self.times.retain(|(slot, ..)| *slot != name);
                return self.times.len() < before;
            }
            Mapping::Progress(_) => return self.progress.take().is_some(),
            Mapping::File { key, .. } => return drop_field(&mut self.files, key),
            Mapping::TaskError { key, .. } => return drop_field(&mut self.errors, key),
            // A draft writes no extra values and no follow-up.
            Mapping::Extra(_) | Mapping::Next(_) => return false,
        }
        true
    }

    /// The definition as YAML; `example` is the `examples:` entry, once it is known.
    fn render(&self, example: Option<&str>) -> String {
        let mut out = String::new();
        out.push_str("# yaml-language-server: $schema=provider.schema.json\n");
        out.push_str(&format!(
            "# Drafted by `unitask init` from one answer. Check every line marked `# guess:` against\n# the provider's documentation, add an example for every documented status and error\n# body, then run `unitask validate {}.yaml`.\n",
            self.id
        ));
        out.push_str(&format!("id: {}\n", self.id));
        out.push_str(&format!(
            "name: {}\n",
            yaml::quoted(&format!("{} — task status (draft)", self.id))
        ));
        out.push_str(
            "docs: https://example.com/docs  # guess: the page that documents this call\n",
        );
        match &self.base_url_note {
            Some(note) => {
                out.push_str(&format!(
                    "base_url: {}  # {note}\n",
                    yaml::scalar(&self.base_url)
                ));
                out.push_str("base_url_confirmed: false\n");
            }
            None => out.push_str(&format!("base_url: {}\n", yaml::scalar(&self.base_url))),
        }
        out.push_str("\ninputs:\n");
        for input in &self.inputs {
            out.push_str(&format!("  {}:\n", input.name));
            out.push_str(&format!("    in: {}\n", input.location));
            if input.task_id {
                out.push_str("    role: task_id\n");
            }
            let note = &input.note;
            if let Some(wire) = &input.wire_name {
                out.push_str(&format!("    wire_name: {}\n", yaml::scalar(wire)));
            }
            match &input.pattern {
                Some(pattern) => out.push_str(&format!(
                    "    pattern: {}  # {note}\n",
                    yaml::quoted(pattern)
                )),
                None => out.push_str(&format!("    # {note}\n")),
            }
            if !input.task_id && input.location != "path" {
                out.push_str("    required: true\n");
            }
        }
        out.push_str("\nrequest:\n");
        if self.method == Method::Post {
            out.push_str("  method: POST\n");
        }
        out.push_str(&format!("  path: {}\n", yaml::quoted(&self.path)));
        if !self.flags.is_empty() {
            out.push_str("  flags:\n");
            for flag in &self.flags {
                out.push_str(&format!("    - {}\n", yaml::scalar(flag)));
            }
        }
        if !self.query.is_empty() {
            out.push_str("  query:  # guess: fixed values, from the URL\n");
            for (name, value) in &self.query {
                out.push_str(&format!(
                    "    {}: {}\n",
                    yaml::scalar(name),
                    yaml::quoted(value)
                ));
            }
        }
        out.push_str("\nauth:  # guess: how does the provider authenticate?\n");
        match &self.auth {
            (env, Some(param)) => out.push_str(&format!(
                "  query:\n    param: {}\n    env: {env}\n",
                yaml::scalar(param)
            )),
            (env, None) => out.push_str(&format!("  bearer:\n    env: {env}\n")),
        }
        out.push_str("\nresponse:\n  state:\n    native:\n");
        match &self.native {
            NativeDraft::String(p) => out.push_str(&format!("      string: {}\n", yaml::quoted(p))),
            NativeDraft::Integer(p) => out.push_str(&format!("      integer: {}\n", yaml::quoted(p))),
            NativeDraft::Boolean(p) => out.push_str(&format!("      boolean: {}\n", yaml::quoted(p))),
            NativeDraft::Presence => out.push_str(
                "      # guess: no status field was found in the sample; say where the status is\n      presence: [\"$.status\"]\n",
            ),
        }
        out.push_str("    # guess: only the sample's value is listed; list every value the provider documents\n    documented:\n");
        for (value, _) in &self.documented {
            out.push_str(&format!("      - {}\n", yaml::quoted(value)));
        }
        out.push_str("    map:  # guess: what each value means\n");
        for (value, state) in &self.documented {
            out.push_str(&format!("      {}: {state}\n", yaml::quoted(value)));
        }
        if self.id_field.is_some() || !self.times.is_empty() {
            out.push_str("  fields:\n");
            if let Some(id) = &self.id_field {
                out.push_str(&format!("    id: {}\n", yaml::quoted(id)));
            }
            for (slot, at, format) in &self.times {
                match format {
                    Some(format) => out.push_str(&format!(
                        "    {slot}: {{ path: {}, format: {} }}  # guess: from the field's name and value\n",
                        yaml::quoted(at),
                        yaml::quoted(format)
                    )),
                    None => out.push_str(&format!(
                        "    {slot}: {}  # guess: from the field's name\n",
                        yaml::quoted(at)
                    )),
                }
            }
        }
        if let Some(progress) = &self.progress {
            out.push_str("  progress:  # guess: from the fields' names\n");
            out.push_str(&format!("    unit: {}\n", progress.unit));
            out.push_str(&format!("    done: {}\n", yaml::quoted(&progress.done)));
            if let Some(total) = &progress.total {
                out.push_str(&format!("    total: {}\n", yaml::quoted(total)));
            }
        }
        for (key, list) in [("files", &self.files), ("errors", &self.errors)] {
            let Some(list) = list else { continue };
            out.push_str(&format!("  {key}:  # {}\n", list.note));
            out.push_str(&format!("    - each: {}\n", yaml::quoted(&list.each)));
            for (field, at) in &list.fields {
                out.push_str(&format!("      {field}: {}\n", yaml::quoted(at)));
            }
        }
        if !self.unmapped.is_empty() {
            let shown: Vec<String> = self
                .unmapped
                .iter()
                .take(20)
                .map(|k| format!("`{k}`"))
                .collect();
            out.push_str(&format!(
                "  # also in the answer, not mapped: {}{} (`extra:` can keep any of them, typed)\n",
                shown.join(", "),
                if self.unmapped.len() > 20 {
                    ", …"
                } else {
                    ""
                }
            ));
        }
        out.push_str("\nfailures:  # guess: fill in the provider's error body\n  bodies:\n    - code: $.code\n      message: $.message\n");
        out.push_str("\npolling:\n  interval: 2s\n  max_interval: 30s\n");
        if let Some(entry) = example {
            // A lifecycle lets the sandbox play it, and its faults recover into it.
            out.push_str(&format!(
                "\nscenarios:  # guess: chain the examples of one task, pending → running → succeeded\n  - name: sample-lifecycle\n    task_id: {}\n    steps: [sample]\n",
                yaml::quoted(&self.task_value)
            ));
            // Last, so `status --save-example NAME >> FILE` adds to the list.
            out.push_str("\nexamples:\n");
            out.push_str(entry);
        }
        out
    }
}

fn drop_field(list: &mut Option<ListDraft>, key: &str) -> bool {
    let Some(draft) = list else { return false };
    let before = draft.fields.len();
    draft.fields.retain(|(field, _)| *field != key);
    let dropped = draft.fields.len() < before;
    if draft.fields.is_empty()
        || !draft.fields.iter().any(|(f, _)| *f == "message") && key == "message"
    {
        *list = None;
    }
    dropped
}

/// A state for a status text, from the words it uses (`unknown` when none tell).
fn state_guess(text: &str) -> &'static str {
    let w = text.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|x| w.contains(x));
    if has(&["partial"]) {
        "partial"
    } else if has(&["cancel", "abort"]) {
        "canceled"
    } else if has(&["expire", "timed_out", "timeout"]) {
        "expired"
    } else if has(&["fail", "error", "reject", "invalid"]) {
        "failed"
    } else if has(&[
        "success",
        "succeed",
        "complete",
        "done",
        "finish",
        "ready",
        "ok",
        "confirmed",
        "processed",
        "available",
    ]) {
        "succeeded"
    } else if has(&[
        "pend", "queue", "wait", "creat", "new", "schedul", "accept", "submit", "init",
    ]) {
        "pending"
    } else if has(&[
        "run", "progress", "process", "upload", "import", "convert", "transcod", "active", "work",
        "start", "encod",
    ]) {
        "running"
    } else {
        "unknown"
    }
}

/// How a time-named value is written, if it is a time: `None` for RFC 3339 (the default), else
/// the format; no answer when the value is not a time.
fn time_format(name: &str, value: &Value) -> Option<Option<String>> {
    let fits = |format: &TimeFormat| parse_timestamp(format, value).is_some();
    match value {
        Value::String(_) => {
            if fits(&TimeFormat::Rfc3339) {
                return Some(None);
            }
            [
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M:%S%.f",
            ]
            .iter()
            .find(|p| fits(&TimeFormat::Naive(p.to_string())))
            .map(|p| Some(p.to_string()))
        }
        Value::Number(n) => {
            let timey = name.ends_with("_at")
                || name.contains("time")
                || name.contains("date")
                || name.ends_with("_on");
            let x = n.as_f64()?;
            if !timey {
                None
            } else if (1e9..1e10).contains(&x) && fits(&TimeFormat::EpochSeconds) {
                Some(Some("epoch_seconds".into()))
            } else if (1e12..1e13).contains(&x) && fits(&TimeFormat::EpochMillis) {
                Some(Some("epoch_millis".into()))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Which file field a key of an item names, by its name (and, for `type`, its value).
fn file_field(key: &str, value: &Value) -> Option<&'static str> {
    let w = words(key);
    let text = value.as_str().unwrap_or_default();
    Some(match w.as_str() {
        "source_url" | "origin_link" | "origin_url" | "original_url" | "source" | "src"
        | "input_url" => "source_url",
        "url" | "href" | "link" | "download_url" | "download_link" | "uri" | "upload_link"
        | "file_url" | "public_url" | "signed_url" => "url",
        "name" | "filename" | "file_name" | "title" | "display_name" | "key" | "file_uri" => "name",
        "size" | "bytes" | "filesize" | "file_size" | "size_bytes" | "length"
        | "content_length" | "size_in_bytes" => "size",
        "mime" | "mime_type" | "mimetype" | "content_type" => "mime",
        "type" if text.contains('/') => "mime",
        "md5" | "md5_hash" | "md5sum" | "checksum_md5" => "md5",
        "id" | "file_id" | "uuid" => "id",
        "path" | "file_path" | "filepath" => "path",
        _ => return None,
    })
}

/// The file fields the items share, each read from the first key that names it, kept only when
/// every item's value has the type the field needs.
fn file_fields(items: &[&Value]) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    let Some(Value::Object(first)) = items.first() else {
        return fields;
    };
    for (key, value) in first {
        if !nameable(key) {
            continue;
        }
        let Some(field) = file_field(key, value) else {
            continue;
        };
        if fields.iter().any(|(f, _)| *f == field) {
            continue;
        }
        let fits = items
            .iter()
            .filter_map(|item| item.get(key))
            .all(|v| match field {
                "size" => match v {
                    Value::Number(n) => n.as_f64().is_some_and(|f| f.fract() == 0.0 && f >= 0.0),
                    Value::String(s) => s.trim().parse::<u64>().is_ok(),
                    Value::Null => true,
                    _ => false,
                },
                _ => matches!(
                    v,
                    Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null
                ),
            });
        if fits {
            fields.push((field, path(&[Seg::Key(key.clone())])));
        }
    }
    fields
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn decoded(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether a path segment or query value looks like an identifier a provider issued rather than
/// a word of the API: a UUID, a number, a long hex string, or a token mixing letters and digits
/// — but not a version (`v2`, `2022-01`, `1.0`).
pub fn id_like(value: &str) -> bool {
    let len = value.chars().count();
    if len == 0 || len > 512 || value.contains(['\r', '\n', '/']) || matches!(value, "." | "..") {
        return false;
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let letters = value.chars().filter(char::is_ascii_alphabetic).count();
    let version = {
        let numeric = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.');
        let prefixed = value
            .strip_prefix(['v', 'V'])
            .is_some_and(|v| v.len() <= 4 && numeric(v));
        prefixed
            || (value.contains('.') && value.len() <= 5 && numeric(value))
            || is_date_like(value)
    };
    if version {
        return false;
    }
    let hexish = value.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    (digits == len && len >= 1)
        || (hexish && len >= 16 && digits > 0)
        || (digits > 0 && letters > 0 && len >= 6)
        || (len >= 20
            && letters > 0
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)))
}

/// `2022-01`, `2024-05-02`: API versions written as dates.
fn is_date_like(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() >= 2
        && parts.len() <= 3
        && parts[0].len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts[1..].iter().all(|p| p.len() == 2)
}

/// A pattern for values like `sample`, or `None` when none fits it (it always matches `sample`).
pub fn infer_pattern(sample: &str) -> Option<String> {
    let uuid = {
        let parts: Vec<&str> = sample.split('-').collect();
        parts.len() == 5
            && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
            && parts
                .iter()
                .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
    };
    let upper = sample.chars().any(|c| c.is_ascii_uppercase());
    let lower = sample.chars().any(|c| c.is_ascii_lowercase());
    let hex_class = match (upper, lower) {
        (true, true) => "[0-9a-fA-F]",
        (true, false) => "[0-9A-F]",
        _ => "[0-9a-f]",
    };
    let len = sample.chars().count();
    let pattern = if uuid {
        format!(
            "{hex_class}{{8}}-{hex_class}{{4}}-{hex_class}{{4}}-{hex_class}{{4}}-{hex_class}{{12}}"
        )
    } else if sample.chars().all(|c| c.is_ascii_digit()) && len > 0 {
        format!("[0-9]{{1,{}}}", len.max(20))
    } else if len >= 16 && sample.chars().all(|c| c.is_ascii_hexdigit()) {
        format!("{hex_class}{{{len}}}")
    } else {
        let mut class = String::new();
        if sample.chars().any(|c| c.is_ascii_uppercase()) {
            class.push_str("A-Z");
        }
        if sample.chars().any(|c| c.is_ascii_lowercase()) {
            class.push_str("a-z");
        }
        if sample.chars().any(|c| c.is_ascii_digit()) {
            class.push_str("0-9");
        }
        // Letters of either case and digits are all allowed once one is seen: ids mix them.
        if !class.is_empty() {
            class = "A-Za-z0-9".into();
        }
        let mut dash = false;
        for c in sample.chars().filter(|c| !c.is_ascii_alphanumeric()) {
            if !c.is_ascii_graphic() {
                return None;
            }
            if c == '-' {
                dash = true;
            } else if !class.contains(c) {
                if "\\]^[".contains(c) {
                    class.push('\\');
                }
                class.push(c);
            }
        }
        if dash {
            class.push('-');
        }
        if class.is_empty() {
            return None;
        }
        format!("[{class}]{{1,{}}}", (2 * len).max(64))
    };
    let compiled = regex_lite::Regex::new(&format!("^(?:{pattern})$")).ok()?;
    compiled.is_match(sample).then_some(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_told_from_words_and_versions() {
        for id in [
            "2b3c6f1e-79f5-4b9c-b3f1-4f2c0d0c1e55",
            "12345",
            "5f4dcc3b5aa765d61d8327deb882cf99",
            "vi3Fk2aQ9xZ0pLmN7bC1dE",
            "job_8f2k1",
        ] {
            assert!(id_like(id), "{id}");
        }
        for word in [
            "api",
            "v1",
            "v2.1",
            "2022-01",
            "2024-05-02",
            "status",
            "files",
            "upload",
        ] {
            assert!(!id_like(word), "{word}");
        }
    }

    #[test]
    fn patterns_match_their_sample() {
        for (sample, pattern) in [
            (
                "2b3c6f1e-79f5-4b9c-b3f1-4f2c0d0c1e55",
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            ),
            ("12345", "[0-9]{1,20}"),
            ("5f4dcc3b5aa765d61d8327deb882cf99", "[0-9a-f]{32}"),
            ("job_8f2k1", "[A-Za-z0-9_]{1,64}"),
            ("a.b-c~d", "[A-Za-z0-9.~-]{1,64}"),
        ] {
            assert_eq!(infer_pattern(sample).as_deref(), Some(pattern), "{sample}");
        }
        assert_eq!(infer_pattern("a\u{7}b"), None);
    }

    #[test]
    fn a_state_is_guessed_from_the_words_of_a_status() {
        assert_eq!(state_guess("PROCESSING"), "running");
        assert_eq!(state_guess("COMPLETE_WITH_ERRORS"), "failed");
        assert_eq!(state_guess("Finished"), "succeeded");
        assert_eq!(state_guess("queued"), "pending");
        assert_eq!(state_guess("weird"), "unknown");
    }
}
