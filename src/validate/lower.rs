//! The semantic rules: spec → model, one check per concern, every problem recorded.
//!
//! Each `check_*`/`lower_*` function reports with the code whose documentation (in `codes.rs`)
//! describes the rule. A section that has problems still lets the others be checked; the model is
//! only returned when nothing was found.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use regex_lite::Regex;

use crate::model::{self, Field, FieldSource, TimeFormat};
use crate::runtime::ErrorKind;
use crate::spec::{self, FieldSpec, InputLocation, InputRole, Method, Span, Text, ValueType, de};
use crate::syntax::jsonpath::JsonPath;
use crate::syntax::template::Template;
use crate::task::State;
use crate::validate::{Code, Diagnostic};

/// What a field mapping must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Text,
    Number,
    Integer,
    Timestamp,
    /// `extra`: the `type` key decides, JSON by default.
    Extra,
}

struct Lowerer<'a> {
    source: &'a str,
    out: &'a mut Vec<Diagnostic>,
}

pub(super) fn lower(
    def: &spec::Definition,
    stem: Option<&str>,
    source: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<model::Provider> {
    let mut l = Lowerer { source, out };
    l.check_id(&def.id, stem);
    let inputs = l.lower_inputs(def);
    let base_url = l.lower_base_url(def);
    let request = l.lower_request(def);
    l.check_unused_inputs(def, &base_url, &request);
    let auth = l.lower_auth(&def.auth);
    let response = l.lower_response(&def.response);
    let failures = l.lower_failures(&def.failures);
    let polling = l.lower_polling(def.polling.as_ref());
    let examples = l.lower_examples(def, &inputs);
    let scenarios = examples
        .as_ref()
        .and_then(|examples| l.lower_scenarios(def, examples));
    let (inputs, task_id_input) = inputs?;
    Some(model::Provider {
        id: def.id.value.clone(),
        name: def.name.clone(),
        docs: def.docs.clone(),
        api_version: def.api_version.clone(),
        base_url: base_url?,
        base_url_confirmed: def.base_url_confirmed,
        inputs,
        task_id_input,
        request: request?,
        auth: auth?,
        response: response?,
        failures: failures?,
        polling: polling?,
        examples: examples?,
        scenarios: scenarios?,
    })
}

/// `Some(())` when a check found nothing, for `?`-chaining sections.
fn all_ok(before: usize, out: &[Diagnostic]) -> Option<()> {
    (out.len() == before).then_some(())
}

impl Lowerer<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.out.push(diagnostic);
    }

    /// The source span of the byte `index` of a scalar's text, one character wide; the whole
    /// node where the source does not hold the text verbatim (escapes, folded lines, aliases).
    fn inner_span(&self, text: &Text, index: usize) -> Span {
        let span = text.span;
        let raw = self.source.get(span.start..span.end).unwrap_or_default();
        let value = text.value.as_str();
        // Only where the source holds the value verbatim (plain, or quoted without escapes, on
        // one line) does an index into the value map to a column; otherwise mark the whole node.
        let quoted = |q: char| {
            raw.len() >= 2
                && raw.starts_with(q)
                && raw.ends_with(q)
                && &raw[1..raw.len() - 1] == value
        };
        let offset = if raw == value {
            0
        } else if quoted('\'') || quoted('"') {
            1
        } else {
            return span;
        };
        let start = span.start + offset + index.min(value.len());
        let width = self.source[start..]
            .chars()
            .next()
            .filter(|c| *c != '\n' && start < span.end)
            .map_or(0, char::len_utf8);
        Span::new(start, start + width)
    }

    fn path(&mut self, text: &Text) -> Option<JsonPath> {
        match JsonPath::parse(&text.value) {
            Ok(path) => {
                let mut valid = true;
                for pattern in path.regex_literals() {
                    if let Err(error) = Regex::new(&pattern) {
                        valid = false;
                        let detail = error.to_string();
                        let reason = detail.lines().last().unwrap_or("invalid").trim();
                        let at = text.value.find(pattern.as_str()).unwrap_or(0);
                        let start = self.inner_span(text, at).start;
                        let end = self
                            .inner_span(text, at + pattern.len().saturating_sub(1))
                            .end;
                        self.push(
                            Diagnostic::new(
                                Code::InvalidPattern,
                                Span::new(start, end.max(start)),
                                format!(
                                    "invalid regular expression `{pattern}` in JSONPath: {reason}"
                                ),
                            )
                            .label("does not compile")
                            .help("`match()` and `search()` take an I-Regexp (RFC 9485) pattern"),
                        );
                    }
                }
                valid.then_some(path)
            }
            Err(error) => {
                let span = self.inner_span(text, error.offset);
                self.push(
                    Diagnostic::new(
                        Code::InvalidJsonPath,
                        span,
                        format!("invalid JSONPath `{}`: {}", text.value, error.message),
                    )
                    .label(error.message)
                    .help("JSONPath (RFC 9535) starts with `$`: `$.data.status`, `$.parts[*].Size`, `$.errors[?@.code == 'x']`"),
                );
                None
            }
        }
    }

    fn template(&mut self, text: &Text) -> Option<Template> {
        match Template::parse(&text.value) {
            Ok(template) => Some(template),
            Err(error) => {
                let span = self.inner_span(text, error.offset);
                self.push(
                    Diagnostic::new(
                        Code::InvalidTemplate,
                        span,
                        format!("invalid URL template `{}`: {}", text.value, error.message),
                    )
                    .label(error.message)
                    .help("placeholders are `{name}`, with letters, digits and `_`"),
                );
                None
            }
        }
    }

    fn regex(&mut self, text: &Text) -> Option<Regex> {
        match Regex::new(&format!("^(?:{})$", text.value)) {
            Ok(regex) => Some(regex),
            Err(error) => {
                let detail = error.to_string();
                let reason = detail.lines().last().unwrap_or("invalid").trim();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason).to_owned();
                self.push(
                    Diagnostic::new(
                        Code::InvalidPattern,
                        text.span,
                        format!("invalid pattern `{}`: {reason}", text.value),
                    )
                    .label("does not compile")
                    .help("patterns use Rust regex syntax and are anchored (the whole value must match)"),
                );
                None
            }
        }
    }

    fn state(&mut self, text: &Text) -> Option<State> {
        self.named(
            text,
            State::from_name,
            &State::NAMES,
            Code::InvalidState,
            "state",
        )
    }

    fn kind(&mut self, text: &Text) -> Option<ErrorKind> {
        self.named(
            text,
            ErrorKind::from_name,
            &ErrorKind::NAMES,
            Code::InvalidErrorKind,
            "error kind",
        )
    }

    /// A name from a fixed vocabulary (states, error kinds), with "did you mean".
    fn named<T>(
        &mut self,
        text: &Text,
        lookup: fn(&str) -> Option<T>,
        names: &[&str],
        code: Code,
        what: &str,
    ) -> Option<T> {
        let found = lookup(&text.value);
        if found.is_none() {
            self.push(
                Diagnostic::new(code, text.span, format!("unknown {what} `{}`", text.value))
                    .label(format!("not one of the {what}s"))
                    .help(de::did_you_mean(&text.value, names)),
            );
        }
        found
    }

    fn env_name(&mut self, text: &Text) -> Option<String> {
        let valid =
            !text.value.is_empty()
                && text.value.chars().enumerate().all(|(i, c)| {
                    c.is_ascii_uppercase() || c == '_' || (i > 0 && c.is_ascii_digit())
                });
        if valid {
            Some(text.value.clone())
        } else {
            self.push(
                Diagnostic::new(
                    Code::InvalidName,
                    text.span,
                    format!("`{}` is not an environment variable name", text.value),
                )
                .label("expected `[A-Z_][A-Z0-9_]*`")
                .help("name the variable that holds the secret, e.g. `HUBSPOT_ACCESS_TOKEN`; never the secret itself"),
            );
            None
        }
    }

    /// A header, query parameter or flag name: an HTTP token.
    fn wire_name(&mut self, text: &Text, what: &str) -> Option<String> {
        let valid = !text.value.is_empty()
            && text
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        if valid {
            Some(text.value.clone())
        } else {
            self.push(
                Diagnostic::new(
                    Code::InvalidName,
                    text.span,
                    format!("`{}` is not a valid {what} name", text.value),
                )
                .label("letters, digits and `-_.~!#$%&'*+^`|` only")
                .help(format!(
                    "write the {what} name exactly as it goes on the wire"
                )),
            );
            None
        }
    }

    /// A fixed header or query value: no line breaks.
    fn wire_value(&mut self, text: &Text) -> Option<String> {
        if text.value.contains(['\r', '\n']) {
            self.push(
                Diagnostic::new(
                    Code::InvalidName,
                    text.span,
                    "a header or query value cannot contain a line break",
                )
                .help("remove the line break; a block scalar (`|`) keeps one at the end"),
            );
            None
        } else {
            Some(text.value.clone())
        }
    }

    /// UT116: the id is a slug and equals the file stem.
    fn check_id(&mut self, id: &Text, stem: Option<&str>) {
        let slug = !id.value.is_empty()
            && id
                .value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !id.value.starts_with('-');
        if !slug {
            self.push(
                Diagnostic::new(
                    Code::IdMismatch,
                    id.span,
                    format!(
                        "provider id `{}` is not lowercase letters, digits and `-`",
                        id.value
                    ),
                )
                .help("ids become module names and CLI arguments: `hubspot`, `tencent-smh`"),
            );
        } else if let Some(stem) = stem
            && stem != id.value
        {
            self.push(
                Diagnostic::new(
                    Code::IdMismatch,
                    id.span,
                    format!("provider id `{}` does not match the file name `{stem}.yaml`", id.value),
                )
                .label(format!("expected `{stem}`"))
                .help("rename the file or change the id: `unitask status <id>` finds definitions by file name"),
            );
        }
    }

    /// Inputs: names, patterns, defaults, host constraints, the task-id role.
    fn lower_inputs(&mut self, def: &spec::Definition) -> Option<(Vec<model::Input>, usize)> {
        let mut inputs = Vec::with_capacity(def.inputs.len());
        let mut task_ids: Vec<&Text> = Vec::new();
        for (name, input) in def.inputs.iter() {
            let name_ok = !name.value.is_empty()
                && name
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.value.starts_with(|c: char| c.is_ascii_digit());
            if !name_ok {
                self.push(
                    Diagnostic::new(
                        Code::InvalidName,
                        name.span,
                        format!("input name `{}` is not an identifier", name.value),
                    )
                    .label("letters, digits and `_`, not starting with a digit")
                    .help("input names are used as `{placeholders}` and `--param NAME=VALUE`"),
                );
            }
            let pattern = input.pattern.as_ref().and_then(|p| self.regex(p));
            let location = input.location.value;
            if location == InputLocation::Host && input.pattern.is_none() {
                self.push(
                    Diagnostic::new(
                        Code::UnconstrainedHost,
                        name.span,
                        format!("host input `{}` has no `pattern`", name.value),
                    )
                    .label("any host could be passed here")
                    .help("add a pattern that only matches the provider's own hosts, e.g. `[a-z0-9-]+\\.myshoplaza\\.com`"),
                );
            }
            if let (Some(default), Some(regex)) = (&input.default, &pattern)
                && !regex.is_match(&default.value)
            {
                self.push(
                    Diagnostic::new(
                        Code::InvalidDefault,
                        default.span,
                        format!(
                            "default `{}` does not match the input's own pattern",
                            default.value
                        ),
                    )
                    .help("fix the default or widen the pattern"),
                );
            }
            if let Some(role) = &input.role
                && role.value == InputRole::TaskId
            {
                task_ids.push(name);
            }
            let wire_name = match &input.wire_name {
                Some(wire) => self.wire_name(wire, "parameter"),
                None => Some(name.value.clone()),
            };
            let required = input.required.unwrap_or(
                matches!(location, InputLocation::Path | InputLocation::Host)
                    && input.default.is_none(),
            );
            inputs.push(model::Input {
                name: name.value.clone(),
                location,
                required,
                default: input.default.as_ref().map(|d| d.value.clone()),
                pattern,
                wire_name: wire_name.unwrap_or_default(),
                doc: input.doc.clone(),
            });
        }
        let task_id_input = match task_ids.as_slice() {
            [one] => inputs.iter().position(|i| i.name == one.value),
            [] => {
                let span = def.inputs.0.first().map_or(def.id.span, |(k, _)| k.span);
                self.push(
                    Diagnostic::new(Code::TaskIdRole, span, "no input has `role: task_id`")
                        .help("mark the input that identifies the task with `role: task_id`"),
                );
                None
            }
            [first, rest @ ..] => {
                for other in rest {
                    self.push(
                        Diagnostic::new(
                            Code::TaskIdRole,
                            other.span,
                            format!(
                                "inputs `{}` and `{}` both have `role: task_id`",
                                first.value, other.value
                            ),
                        )
                        .related(first.span, "first task id")
                        .help("exactly one input identifies the task"),
                    );
                }
                None
            }
        };
        Some((inputs, task_id_input?))
    }

    /// The base URL: a template whose placeholders are host inputs; https, or http to loopback.
    fn lower_base_url(&mut self, def: &spec::Definition) -> Option<Template> {
        let template = self.template(&def.base_url)?;
        self.check_placeholders(&def.base_url, &template, InputLocation::Host, def);
        // Substitute a plausible host for each placeholder, then let the URL parser judge.
        let sample = template.render(|_| "placeholder.example".to_owned());
        match url::Url::parse(&sample) {
            Ok(url) if url.scheme() == "https" => {}
            Ok(url) if url.scheme() == "http" && crate::syntax::url::is_loopback(&url) => {}
            Ok(url) if url.scheme() == "http" => self.push(
                Diagnostic::new(
                    Code::InsecureBaseUrl,
                    def.base_url.span,
                    format!("base URL `{}` uses plain http for a host that is not loopback", def.base_url.value),
                )
                .label("credentials would travel unencrypted")
                .help("use `https://`; plain `http://` is only for `localhost`, `127.0.0.1` and `[::1]`"),
            ),
            Ok(url) => self.push(
                Diagnostic::new(
                    Code::InsecureBaseUrl,
                    def.base_url.span,
                    format!("base URL scheme `{}` is not https", url.scheme()),
                )
                .help("write an absolute `https://` URL"),
            ),
            Err(error) => self.push(
                Diagnostic::new(
                    Code::InsecureBaseUrl,
                    def.base_url.span,
                    format!("base URL `{}` is not an absolute URL: {error}", def.base_url.value),
                )
                .help("write an absolute URL such as `https://api.example.com`"),
            ),
        }
        Some(template)
    }

    /// UT103: every placeholder is a declared input of the right kind.
    fn check_placeholders(
        &mut self,
        text: &Text,
        template: &Template,
        location: InputLocation,
        def: &spec::Definition,
    ) {
        let names: Vec<&str> = def
            .inputs
            .iter()
            .filter(|(_, i)| i.location.value == location)
            .map(|(n, _)| n.value.as_str())
            .collect();
        let kind = match location {
            InputLocation::Host => "host",
            _ => "path",
        };
        for (name, offset) in template.placeholders() {
            if names.contains(&name) {
                continue;
            }
            let start = self.inner_span(text, offset - 1).start;
            let end = self.inner_span(text, offset + name.len()).end;
            let declared_elsewhere = def.inputs.get(name).map(|i| i.location.value);
            let help = match declared_elsewhere {
                Some(_) => format!("declare `{name}` with `in: {kind}` to use it here"),
                None => {
                    let hint = de::did_you_mean(name, &names);
                    if names.is_empty() {
                        format!("declare it under `inputs:` with `in: {kind}`")
                    } else {
                        format!("{hint} (or declare `{name}` under `inputs:` with `in: {kind}`)")
                    }
                }
            };
            self.push(
                Diagnostic::new(
                    Code::UndeclaredPlaceholder,
                    Span::new(start, end),
                    match declared_elsewhere {
                        Some(_) => format!(
                            "placeholder `{{{name}}}` names an input that is not `in: {kind}`"
                        ),
                        None => format!("placeholder `{{{name}}}` is not a declared input"),
                    },
                )
                .label("undeclared")
                .help(help),
            );
        }
    }

    /// The request: method, path template, flags, fixed query and headers, body.
    fn lower_request(&mut self, def: &spec::Definition) -> Option<model::Request> {
        let request = &def.request;
        let path = self.template(&request.path);
        if let Some(template) = &path {
            if !request.path.value.starts_with('/') {
                self.push(
                    Diagnostic::new(
                        Code::InvalidTemplate,
                        request.path.span,
                        format!(
                            "request path `{}` does not start with `/`",
                            request.path.value
                        ),
                    )
                    .help("write the path from the root: `/files/v3/tasks/{task_id}`"),
                );
            }
            self.check_path_literals(&request.path, template);
            self.check_placeholders(&request.path, template, InputLocation::Path, def);
        }
        let flags: Vec<String> = request
            .flags
            .iter()
            .filter_map(|f| self.wire_name(f, "query flag"))
            .collect();
        let mut query = Vec::new();
        for (name, value) in request.query.iter() {
            if let (Some(n), Some(v)) = (
                self.wire_name(name, "query parameter"),
                self.wire_value(value),
            ) {
                query.push((n, v));
            }
        }
        let mut headers = Vec::new();
        for (name, value) in request.headers.iter() {
            if let (Some(n), Some(v)) = (self.wire_name(name, "header"), self.wire_value(value)) {
                headers.push((n, v));
            }
        }
        let body_inputs = def
            .inputs
            .iter()
            .filter(|(_, i)| i.location.value == InputLocation::Body)
            .map(|(n, _)| n)
            .collect::<Vec<_>>();
        if request.method == Method::Get {
            if let Some(body) = &request.body {
                self.push(
                    Diagnostic::new(Code::InvalidValue, body.span, "a GET request has no body")
                        .help("set `method: POST` for APIs that read with a JSON body"),
                );
            }
            for name in body_inputs {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        name.span,
                        format!(
                            "input `{}` is `in: body` but the request is a GET",
                            name.value
                        ),
                    )
                    .help("set `request.method: POST`, or move the input to the path or query"),
                );
            }
        }
        let body = match &request.body {
            Some(body) if !body.value.is_object() => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        body.span,
                        "the request body must be a mapping",
                    )
                    .help("write the JSON object as a YAML mapping"),
                );
                None
            }
            Some(body) => Some(body.value.clone()),
            None => None,
        };
        Some(model::Request {
            method: request.method,
            path: path?,
            flags,
            query,
            headers,
            body,
        })
    }

    /// UT102: the path's literal text is a plain path: no `?` or `#` (query and fragment have
    /// their own keys) and no `.` or `..` segment (the URL parser would collapse it).
    fn check_path_literals(&mut self, text: &Text, template: &Template) {
        let literal = template.render(|_| "x".to_owned());
        let problem = if let Some(at) = text.value.find(['?', '#']) {
            Some((
                at,
                "a request path cannot hold a query or fragment: use `flags:` and `query:`",
            ))
        } else if literal.split('/').any(|seg| seg == "." || seg == "..") {
            let at = text.value.find("/.").map_or(0, |i| i + 1);
            Some((
                at,
                "`.` and `..` segments would be collapsed by the URL parser",
            ))
        } else {
            None
        };
        if let Some((at, message)) = problem {
            let span = self.inner_span(text, at);
            self.push(
                Diagnostic::new(
                    Code::InvalidTemplate,
                    span,
                    format!("request path `{}`: {message}", text.value),
                )
                .label("here")
                .help(
                    "write the path exactly as the provider documents it, e.g. `/api/v1/file/{id}`",
                ),
            );
        }
    }

    /// UT104: path and host inputs appear in their template.
    fn check_unused_inputs(
        &mut self,
        def: &spec::Definition,
        base_url: &Option<Template>,
        request: &Option<model::Request>,
    ) {
        let (Some(base_url), Some(request)) = (base_url, request) else {
            return;
        };
        let used: HashSet<&str> = base_url
            .placeholders()
            .chain(request.path.placeholders())
            .map(|(n, _)| n)
            .collect();
        for (name, input) in def.inputs.iter() {
            let location = input.location.value;
            if matches!(location, InputLocation::Path | InputLocation::Host)
                && !used.contains(name.value.as_str())
            {
                let template = if location == InputLocation::Host {
                    "base_url"
                } else {
                    "request.path"
                };
                self.push(
                    Diagnostic::new(
                        Code::UnusedInput,
                        name.span,
                        format!("input `{}` is never used in `{template}`", name.value),
                    )
                    .label("its value would be dropped")
                    .help(format!(
                        "add `{{{}}}` to `{template}`, or remove the input",
                        name.value
                    )),
                );
            }
        }
    }

    fn lower_auth(&mut self, auth: &spec::Auth) -> Option<model::Auth> {
        Some(match auth {
            spec::Auth::None => model::Auth::None,
            spec::Auth::Bearer(source) => model::Auth::Bearer {
                env: self.env_name(&source.env)?,
            },
            spec::Auth::Header(header) => {
                let name = self.wire_name(&header.name, "header");
                let prefix = match &header.prefix {
                    Some(prefix) => self.wire_value(prefix),
                    None => Some(String::new()),
                };
                let env = self.env_name(&header.env);
                model::Auth::Header {
                    name: name?,
                    prefix: prefix?,
                    env: env?,
                }
            }
            spec::Auth::Query(query) => {
                let param = self.wire_name(&query.param, "query parameter");
                let env = self.env_name(&query.env);
                model::Auth::Query {
                    param: param?,
                    env: env?,
                }
            }
            spec::Auth::Basic(basic) => {
                let username_env = self.env_name(&basic.username_env);
                let password_env = self.env_name(&basic.password_env);
                model::Auth::Basic {
                    username_env: username_env?,
                    password_env: password_env?,
                }
            }
        })
    }

    /// A field mapping for a slot.
    fn field(&mut self, spec: &FieldSpec, slot: Slot) -> Option<Field> {
        let before = self.out.len();
        let source = match (&spec.path, &spec.constant) {
            (Some(path), None) => self.path(path).map(FieldSource::Path),
            (None, Some(constant)) => Some(FieldSource::Constant(constant.value.clone())),
            (Some(_), Some(constant)) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        constant.span,
                        "a field has both `path` and `const`",
                    )
                    .help("keep one: `path` reads the body, `const` is fixed text"),
                );
                None
            }
            (None, None) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        spec.span,
                        "a field needs `path` or `const`",
                    )
                    .help("write `path: $.field` (or just the JSONPath string)"),
                );
                None
            }
        };
        let kind = match (slot, &spec.kind) {
            (Slot::Extra, Some(kind)) => kind.value,
            (Slot::Extra, None) => ValueType::Json,
            (_, Some(kind)) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        kind.span,
                        "`type` is fixed for this field",
                    )
                    .help("`type` is for `extra` fields only; remove it"),
                );
                ValueType::Json
            }
            (Slot::Text, None) => ValueType::String,
            (Slot::Number, None) => ValueType::Number,
            (Slot::Integer, None) => ValueType::Integer,
            (Slot::Timestamp, None) => ValueType::Timestamp,
        };
        let time_format = match &spec.format {
            Some(format) if kind != ValueType::Timestamp => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        format.span,
                        "`format` only applies to timestamps",
                    )
                    .help("remove `format`, or set `type: timestamp` on an `extra` field"),
                );
                TimeFormat::Rfc3339
            }
            Some(format) => self.time_format(format).unwrap_or(TimeFormat::Rfc3339),
            None => TimeFormat::Rfc3339,
        };
        if let Some(aggregate) = &spec.aggregate {
            let numeric = matches!(kind, ValueType::Number | ValueType::Integer);
            if !numeric {
                self.push(
                    Diagnostic::new(Code::InvalidField, aggregate.span, "`aggregate` needs a numeric field")
                        .help("use it for progress counts and sizes, or on an `extra` field with `type: number`"),
                );
            }
            if let Some(join) = &spec.join {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        join.span,
                        "a field cannot both `join` and `aggregate`",
                    )
                    .help("`join` makes text, `aggregate` makes a number: keep one"),
                );
            }
        }
        if let Some(join) = &spec.join
            && !matches!(kind, ValueType::String | ValueType::Json)
        {
            self.push(
                Diagnostic::new(
                    Code::InvalidField,
                    join.span,
                    "`join` makes text, but this field is not text",
                )
                .help("remove `join`"),
            );
        }
        all_ok(before, self.out)?;
        Some(Field {
            source: source?,
            kind,
            time_format,
            join: spec.join.as_ref().map(|j| j.value.clone()),
            aggregate: spec.aggregate.as_ref().map(|a| a.value),
        })
    }

    fn optional_field(&mut self, spec: &Option<FieldSpec>, slot: Slot) -> Option<Option<Field>> {
        match spec {
            Some(spec) => self.field(spec, slot).map(Some),
            None => Some(None),
        }
    }

    fn time_format(&mut self, text: &Text) -> Option<TimeFormat> {
        match text.value.as_str() {
            "rfc3339" => return Some(TimeFormat::Rfc3339),
            "epoch_seconds" => return Some(TimeFormat::EpochSeconds),
            "epoch_millis" => return Some(TimeFormat::EpochMillis),
            _ => {}
        }
        let sample = jiff::civil::date(2024, 5, 2).at(10, 0, 0, 0);
        let valid =
            text.value.contains('%') && jiff::fmt::strtime::format(&text.value, sample).is_ok();
        if valid {
            Some(TimeFormat::Naive(text.value.clone()))
        } else {
            self.push(
                Diagnostic::new(
                    Code::InvalidTimeFormat,
                    text.span,
                    format!("unknown timestamp format `{}`", text.value),
                )
                .help("use `rfc3339`, `epoch_seconds`, `epoch_millis`, or a strftime pattern such as `%Y-%m-%d %H:%M:%S`"),
            );
            None
        }
    }

    fn condition(&mut self, condition: &spec::Condition, span: Span) -> Option<model::Condition> {
        use spec::Condition as C;
        Some(match condition {
            C::Equals(cmp) => model::Condition::Equals {
                path: self.path(&cmp.path)?,
                value: cmp.value.value.clone(),
                ignore_case: cmp.ignore_case,
            },
            C::In(membership) => {
                let path = self.path(&membership.path);
                if membership.values.value.is_empty() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidCondition,
                            membership.values.span,
                            "`in` with no values never holds",
                        )
                        .help("list the values, or remove the condition"),
                    );
                    return None;
                }
                model::Condition::In {
                    path: path?,
                    values: membership.values.value.clone(),
                    ignore_case: membership.ignore_case,
                }
            }
            C::Exists(path) => model::Condition::Exists(self.path(path)?),
            C::Absent(path) => model::Condition::Absent(self.path(path)?),
            C::Null(path) => model::Condition::Null(self.path(path)?),
            C::Empty(path) => model::Condition::Empty(self.path(path)?),
            C::NonEmpty(path) => model::Condition::NonEmpty(self.path(path)?),
            C::All(list) | C::Any(list) => {
                if list.is_empty() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidCondition,
                            span,
                            "an empty `all`/`any` list says nothing",
                        )
                        .help("list at least one condition"),
                    );
                    return None;
                }
                let lowered: Vec<Option<model::Condition>> = list
                    .iter()
                    .map(|c| self.condition(&c.value, c.span))
                    .collect();
                let lowered: Vec<model::Condition> = lowered.into_iter().collect::<Option<_>>()?;
                if matches!(condition, C::All(_)) {
                    model::Condition::All(lowered)
                } else {
                    model::Condition::Any(lowered)
                }
            }
            C::Not(inner) => {
                model::Condition::Not(Box::new(self.condition(&inner.value, inner.span)?))
            }
        })
    }

    fn lower_response(&mut self, response: &spec::Response) -> Option<model::ResponsePlan> {
        let state = self.lower_state(&response.state);
        let before = self.out.len();
        let envelope = match &response.envelope {
            Some(envelope) => {
                let when = envelope
                    .when
                    .as_ref()
                    .map(|w| self.condition(&w.value, w.span));
                let root = self.path(&envelope.root);
                let success = envelope
                    .success
                    .as_ref()
                    .map(|s| self.condition(&s.value, s.span));
                match (when, root, success) {
                    (Some(None), _, _) | (_, None, _) | (_, _, Some(None)) => None,
                    (when, Some(root), success) => Some(model::EnvelopePlan {
                        when: when.flatten(),
                        root,
                        success: success.flatten(),
                    }),
                }
            }
            None => None,
        };
        let fields = &response.fields;
        let id = self.optional_field(&fields.id, Slot::Text);
        let created_at = self.optional_field(&fields.created_at, Slot::Timestamp);
        let started_at = self.optional_field(&fields.started_at, Slot::Timestamp);
        let updated_at = self.optional_field(&fields.updated_at, Slot::Timestamp);
        let completed_at = self.optional_field(&fields.completed_at, Slot::Timestamp);
        let progress = match &response.progress {
            Some(progress) => {
                let done = self.field(&progress.done, Slot::Number);
                let total = self.optional_field(&progress.total, Slot::Number);
                Some(model::ProgressPlan {
                    unit: progress.unit.value,
                    done: done?,
                    total: total?,
                })
            }
            None => None,
        };
        let mut files = Vec::new();
        for spec in &response.files {
            let each = self.path(&spec.each);
            let id = self.optional_field(&spec.id, Slot::Text);
            let name = self.optional_field(&spec.name, Slot::Text);
            let url = self.optional_field(&spec.url, Slot::Text);
            let source_url = self.optional_field(&spec.source_url, Slot::Text);
            let path = self.optional_field(&spec.path, Slot::Text);
            let size = self.optional_field(&spec.size, Slot::Integer);
            let mime = self.optional_field(&spec.mime, Slot::Text);
            let md5 = self.optional_field(&spec.md5, Slot::Text);
            if let (
                Some(each),
                Some(id),
                Some(name),
                Some(url),
                Some(source_url),
                Some(path),
                Some(size),
                Some(mime),
                Some(md5),
            ) = (each, id, name, url, source_url, path, size, mime, md5)
            {
                files.push(model::FilesPlan {
                    each,
                    id,
                    name,
                    url,
                    source_url,
                    path,
                    size,
                    mime,
                    md5,
                });
            }
        }
        let mut errors = Vec::new();
        for spec in &response.errors {
            let each = self.path(&spec.each);
            let message = self.field(&spec.message, Slot::Text);
            let code = self.optional_field(&spec.code, Slot::Text);
            let item = self.optional_field(&spec.item, Slot::Text);
            if let (Some(each), Some(message), Some(code), Some(item)) = (each, message, code, item)
            {
                errors.push(model::ErrorsPlan {
                    each,
                    message,
                    code,
                    item,
                });
            }
        }
        let mut extra = Vec::new();
        for (name, spec) in response.extra.iter() {
            // Extra names become typed fields of generated records.
            let identifier = name
                .value
                .starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name
                    .value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !identifier {
                self.push(
                    Diagnostic::new(
                        Code::InvalidName,
                        name.span,
                        format!("extra name `{}` is not a snake_case identifier", name.value),
                    )
                    .label("lowercase letters, digits and `_`")
                    .help("extra names become fields of the generated record: write e.g. `audio_duration_s`"),
                );
            }
            if let Some(field) = self.field(spec, Slot::Extra) {
                extra.push((name.value.clone(), field));
            }
        }
        all_ok(before, self.out)?;
        Some(model::ResponsePlan {
            envelope,
            state: state?,
            id: id?,
            created_at: created_at?,
            started_at: started_at?,
            updated_at: updated_at?,
            completed_at: completed_at?,
            progress,
            files,
            errors,
            extra,
        })
    }

    /// The state: native source, documented values, map, rules; every documented value mapped.
    fn lower_state(&mut self, state: &spec::StateSpec) -> Option<model::StatePlan> {
        let native = match &state.native.value {
            spec::NativeSource::String(path) => self.path(path).map(model::NativePlan::String),
            spec::NativeSource::Integer(path) => self.path(path).map(model::NativePlan::Integer),
            spec::NativeSource::Boolean(path) => self.path(path).and_then(|p| {
                let name = p.last_name().map(str::to_owned);
                if name.is_none() {
                    self.push(
                        Diagnostic::new(Code::InvalidJsonPath, path.span, "a boolean status path must end in a field name")
                            .help("the native text is `name=true`/`name=false`, so the path needs a name: `$.confirmed`"),
                    );
                }
                Some(model::NativePlan::Boolean(p, name?))
            }),
            spec::NativeSource::Presence(paths) => {
                let mut candidates = Vec::new();
                for text in paths {
                    if let Some(path) = self.path(text) {
                        match path.last_name().map(str::to_owned) {
                            Some(name) => candidates.push((path, name)),
                            None => self.push(
                                Diagnostic::new(Code::InvalidJsonPath, text.span, "a presence path must end in a field name")
                                    .help("the native text is the field's name, so the path needs one: `$.result`"),
                            ),
                        }
                    }
                }
                if paths.is_empty() {
                    self.push(
                        Diagnostic::new(Code::InvalidValue, state.native.span, "`presence` needs at least one path")
                            .help("list the fields whose presence tells the state, e.g. `[$.result, $.error]`"),
                    );
                }
                Some(model::NativePlan::Presence(candidates))
            }
            spec::NativeSource::TagKey(path) => self.path(path).map(model::NativePlan::TagKey),
        };
        if state.documented.is_empty() {
            self.push(
                Diagnostic::new(Code::UnmappedValue, state.native.span, "`state.documented` lists no values")
                    .help("list every status value the provider documents, so each can be checked to be mapped"),
            );
        }
        // The native texts this source can produce, where they form a closed set or a shape.
        let value_shape = |text: &str| -> Option<String> {
            match &native {
                Some(model::NativePlan::Integer(_)) => match text.parse::<i64>() {
                    Ok(n) if n.to_string() == text => None,
                    Ok(n) => Some(format!(
                        "the native text of an integer status is canonical: write `{n}`"
                    )),
                    Err(_) => Some("an integer status is written as a number, e.g. `0`".into()),
                },
                Some(model::NativePlan::Boolean(_, name)) => {
                    let allowed = [format!("{name}=true"), format!("{name}=false")];
                    (!allowed.iter().any(|a| a == text)).then(|| {
                        format!(
                            "this boolean status reads as `{}` or `{}`",
                            allowed[0], allowed[1]
                        )
                    })
                }
                Some(model::NativePlan::Presence(candidates)) => {
                    let known = candidates.iter().any(|(_, name)| name == text) || text == "none";
                    let names: Vec<&str> = candidates.iter().map(|(_, n)| n.as_str()).collect();
                    (!known).then(|| {
                        format!(
                            "a presence status reads as one of `{}` or `none`",
                            names.join("`, `")
                        )
                    })
                }
                _ => None,
            }
        };
        let documented: Vec<String> = state.documented.iter().map(|d| d.value.clone()).collect();
        let mut seen = HashSet::new();
        for value in &state.documented {
            if let Some(help) = value_shape(&value.value) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        value.span,
                        format!("`{}` cannot be a native value of this status", value.value),
                    )
                    .help(help),
                );
            }
            if !seen.insert(value.value.as_str()) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        value.span,
                        format!("`{}` is listed twice", value.value),
                    )
                    .help("remove the repeated value"),
                );
            }
        }
        let mut map = HashMap::new();
        for (native, target) in state.map.iter() {
            if !documented.contains(&native.value) {
                self.push(
                    Diagnostic::new(
                        Code::UndocumentedValue,
                        native.span,
                        format!(
                            "mapped value `{}` is not in `state.documented`",
                            native.value
                        ),
                    )
                    .label("not documented")
                    .help(undocumented_help(&native.value, &documented)),
                );
            }
            if let Some(state) = self.state(target) {
                map.insert(native.value.clone(), state);
            }
        }
        let mut rules = Vec::new();
        for rule in &state.rules {
            for native in &rule.native {
                if !documented.contains(&native.value) {
                    self.push(
                        Diagnostic::new(
                            Code::UndocumentedValue,
                            native.span,
                            format!("rule value `{}` is not in `state.documented`", native.value),
                        )
                        .help(undocumented_help(&native.value, &documented)),
                    );
                }
            }
            let when = self.condition(&rule.when.value, rule.when.span);
            let target = self.state(&rule.state);
            if let (Some(when), Some(state)) = (when, target) {
                rules.push(model::RulePlan {
                    native: rule.native.iter().map(|n| n.value.clone()).collect(),
                    when,
                    state,
                });
            }
        }
        for value in &state.documented {
            // Rules only refine: a value must map to a state when no rule matches.
            if state.map.get(&value.value).is_none() {
                self.push(
                    Diagnostic::new(
                        Code::UnmappedValue,
                        value.span,
                        format!(
                            "documented value `{}` is not mapped to a state",
                            value.value
                        ),
                    )
                    .label("unmapped")
                    .help(format!(
                        "add `{}: <state>` under `state.map`",
                        quote_key(&value.value)
                    )),
                );
            }
        }
        Some(model::StatePlan {
            native: native?,
            documented,
            map,
            rules,
        })
    }

    fn lower_failures(&mut self, failures: &spec::Failures) -> Option<model::FailurePlan> {
        let before = self.out.len();
        let mut bodies = Vec::new();
        for body in &failures.bodies {
            if body.code.is_none() && body.message.is_none() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        body.span,
                        "an error body shape needs `code` or `message`",
                    )
                    .help("write `message: $.error` or `code: $.code`"),
                );
            }
            let code = self.optional_field(&body.code, Slot::Text);
            let message = self.optional_field(&body.message, Slot::Text);
            if let (Some(code), Some(message)) = (code, message) {
                bodies.push(model::ErrorBodyPlan { code, message });
            }
        }
        let mut codes = HashMap::new();
        for (code, kind) in failures.codes.iter() {
            if let Some(kind) = self.kind(kind) {
                codes.insert(code.value.clone(), kind);
            }
        }
        let mut statuses = HashMap::new();
        for (status, kind) in failures.statuses.iter() {
            let kind = self.kind(kind);
            let status_code = self.http_status(status.span, status.value.parse::<u16>().ok());
            if let (Some(kind), Some(status_code)) = (kind, status_code) {
                statuses.insert(status_code, kind);
            }
        }
        let mut in_body = Vec::new();
        for failure in &failures.in_body {
            let when = self.condition(&failure.when.value, failure.when.span);
            let kind = self.kind(&failure.kind);
            if let (Some(when), Some(kind)) = (when, kind) {
                in_body.push((when, kind));
            }
        }
        let retryable_statuses = match &failures.retryable_statuses {
            Some(list) => list
                .iter()
                .filter_map(|s| self.http_status(s.span, Some(s.value)))
                .collect(),
            None => vec![408, 429, 500, 502, 503, 504],
        };
        let retry_after_header = failures
            .retry_after_header
            .as_ref()
            .and_then(|h| self.wire_name(h, "header"));
        all_ok(before, self.out)?;
        Some(model::FailurePlan {
            bodies,
            codes,
            statuses,
            in_body,
            retryable_statuses,
            retryable_codes: failures
                .retryable_codes
                .iter()
                .map(|c| c.value.clone())
                .collect(),
            retry_after_header,
        })
    }

    fn http_status(&mut self, span: Span, status: Option<u16>) -> Option<u16> {
        match status {
            Some(s) if (100..=599).contains(&s) => Some(s),
            _ => {
                self.push(
                    Diagnostic::new(Code::InvalidDefault, span, "not an HTTP status")
                        .help("HTTP statuses are numbers from 100 to 599"),
                );
                None
            }
        }
    }

    fn lower_polling(&mut self, polling: Option<&spec::Polling>) -> Option<model::Polling> {
        let Some(polling) = polling else {
            return Some(model::Polling::default());
        };
        let defaults = model::Polling::default();
        let interval = self.duration(&polling.interval);
        let max_interval = match &polling.max_interval {
            Some(text) => self.duration(text),
            None => interval.map(|i| i.max(defaults.max_interval)),
        };
        let backoff = match &polling.backoff {
            Some(b) if b.value >= 1.0 && b.value <= 10.0 => Some(b.value),
            Some(b) => {
                self.push(
                    Diagnostic::new(Code::InvalidDuration, b.span, format!("backoff `{}` is outside 1–10", b.value))
                        .help("the wait is multiplied by this factor while a task stays unchanged; 1.5 is typical"),
                );
                None
            }
            None => Some(defaults.backoff),
        };
        if let (Some(interval), Some(max), Some(text)) =
            (interval, max_interval, &polling.max_interval)
            && max < interval
        {
            self.push(
                Diagnostic::new(
                    Code::InvalidDuration,
                    text.span,
                    "`max_interval` is shorter than `interval`",
                )
                .help("the wait grows from `interval` up to `max_interval`"),
            );
            return None;
        }
        Some(model::Polling {
            interval: interval?,
            max_interval: max_interval?,
            backoff: backoff?,
        })
    }

    fn duration(&mut self, text: &Text) -> Option<Duration> {
        let parsed = text
            .value
            .parse::<jiff::SignedDuration>()
            .ok()
            .and_then(|d| Duration::try_from(d).ok())
            .filter(|d| !d.is_zero());
        if parsed.is_none() {
            self.push(
                Diagnostic::new(
                    Code::InvalidDuration,
                    text.span,
                    format!("`{}` is not a positive duration", text.value),
                )
                .help("write durations like `500ms`, `2s`, `1m`"),
            );
        }
        parsed
    }

    fn lower_examples(
        &mut self,
        def: &spec::Definition,
        inputs: &Option<(Vec<model::Input>, usize)>,
    ) -> Option<Vec<model::Example>> {
        let before = self.out.len();
        let mut names = HashSet::new();
        let mut examples = Vec::with_capacity(def.examples.len());
        for example in &def.examples {
            if !names.insert(example.name.value.as_str()) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidExample,
                        example.name.span,
                        format!("example name `{}` is used twice", example.name.value),
                    )
                    .help("scenarios refer to examples by name: make each unique"),
                );
            }
            let mut values = Vec::new();
            for (name, value) in example.inputs.iter() {
                match def.inputs.get(&name.value) {
                    None => self.push(
                        Diagnostic::new(
                            Code::InvalidExample,
                            name.span,
                            format!("example input `{}` is not a declared input", name.value),
                        )
                        .help(de::did_you_mean(
                            &name.value,
                            &def.inputs
                                .iter()
                                .map(|(n, _)| n.value.as_str())
                                .collect::<Vec<_>>(),
                        )),
                    ),
                    Some(_) => {
                        let pattern = inputs
                            .as_ref()
                            .and_then(|(inputs, _)| inputs.iter().find(|i| i.name == name.value))
                            .and_then(|i| i.pattern.as_ref());
                        if let Some(pattern) = pattern
                            && !pattern.is_match(&value.value)
                        {
                            self.push(
                                Diagnostic::new(
                                    Code::InvalidExample,
                                    value.span,
                                    format!("example value `{}` does not match the pattern of input `{}`", value.value, name.value),
                                )
                                .help("a caller could not pass this value; fix the example or the pattern"),
                            );
                        }
                        values.push((name.value.clone(), value.value.clone()));
                    }
                }
            }
            let response = &example.response;
            if response.body.is_some() && response.text.is_some() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidExample,
                        example.name.span,
                        format!(
                            "example `{}` has both `body` and `text`",
                            example.name.value
                        ),
                    )
                    .help("`body` is JSON written as YAML; `text` is the raw body: keep one"),
                );
            }
            let status = self.http_status(response.status.span, Some(response.status.value));
            let body = match (&response.body, &response.text) {
                (Some(body), _) => serde_json::to_vec(&body.value.0).unwrap_or_default(),
                (None, Some(text)) => text.value.as_bytes().to_vec(),
                (None, None) => Vec::new(),
            };
            let expect = match (&example.expect, &example.expect_error) {
                (Some(expect), None) => Some(model::Expectation::Task(
                    expect
                        .value
                        .iter()
                        .map(|(k, v)| (k.value.clone(), v.value.0.clone()))
                        .collect(),
                )),
                (None, Some(error)) => {
                    let kind = self.kind(&error.kind);
                    kind.map(|kind| {
                        model::Expectation::Error(model::ExpectedError {
                            kind,
                            code: error.code.as_ref().map(|c| c.value.clone()),
                            message: error.message.as_ref().map(|m| m.value.clone()),
                            retryable: error.retryable.as_ref().map(|r| r.value),
                            retry_after: error.retry_after.as_ref().map(|r| r.value),
                        })
                    })
                }
                _ => {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidExample,
                            example.name.span,
                            format!(
                                "example `{}` needs exactly one of `expect` and `expect_error`",
                                example.name.value
                            ),
                        )
                        .help("`expect` gives the UploadTask, `expect_error` the error"),
                    );
                    None
                }
            };
            if let (Some(status), Some(expect)) = (status, expect) {
                examples.push(model::Example {
                    name: example.name.value.clone(),
                    inputs: values,
                    response: model::ExampleResponse {
                        status,
                        headers: response
                            .headers
                            .iter()
                            .map(|(k, v)| (k.value.clone(), v.value.clone()))
                            .collect(),
                        body,
                    },
                    expect,
                });
            }
        }
        all_ok(before, self.out)?;
        Some(examples)
    }

    fn lower_scenarios(
        &mut self,
        def: &spec::Definition,
        examples: &[model::Example],
    ) -> Option<Vec<model::Scenario>> {
        let before = self.out.len();
        let mut scenarios = Vec::new();
        for scenario in &def.scenarios {
            if scenario.steps.is_empty() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidScenario,
                        scenario.name.span,
                        format!("scenario `{}` has no steps", scenario.name.value),
                    )
                    .help("list example names in the order the sandbox should serve them"),
                );
            }
            let mut steps = Vec::new();
            for step in &scenario.steps {
                match examples.iter().position(|e| e.name == step.value) {
                    Some(index) => steps.push(index),
                    None => self.push(
                        Diagnostic::new(
                            Code::InvalidScenario,
                            step.span,
                            format!("scenario step `{}` is not an example", step.value),
                        )
                        .help(de::did_you_mean(
                            &step.value,
                            &examples.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
                        )),
                    ),
                }
            }
            scenarios.push(model::Scenario {
                name: scenario.name.value.clone(),
                task_id: scenario.task_id.value.clone(),
                steps,
            });
        }
        all_ok(before, self.out)?;
        Some(scenarios)
    }
}

fn undocumented_help(value: &str, documented: &[String]) -> String {
    let known: Vec<&str> = documented.iter().map(String::as_str).collect();
    if known.is_empty() {
        format!("add `{value}` to `state.documented`")
    } else {
        format!(
            "{} (or add `{value}` to `state.documented`)",
            de::did_you_mean(value, &known)
        )
    }
}

/// A map key as it must be written in YAML (quoted when YAML would read it as something else).
fn quote_key(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && value.parse::<f64>().is_err()
        && !matches!(value, "true" | "false" | "null" | "~");
    if plain {
        value.to_owned()
    } else {
        format!("{value:?}")
    }
}
