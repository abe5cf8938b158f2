//! Identity, inputs, the base URL, the request (path, flags, query, headers, body) and polling
//! hints: everything about how the status request is made.

use std::collections::HashSet;

use super::Lowerer;
use crate::model;
use crate::spec::{self, InputLocation, InputRole, Span, Text, de};
use crate::syntax::template::Template;
use crate::validate::{Code, Diagnostic};

/// The first place `word` stands alone (not inside a longer name) within a template tag
/// (`{{ … }}` or `{% … %}`) of `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let name = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(open) = text[from..].find(['{']).map(|i| from + i) {
        let close = match text.get(open..open + 2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            _ => {
                from = open + 1;
                continue;
            }
        };
        let end = text[open..].find(close).map_or(text.len(), |i| open + i);
        let found = text[open..end]
            .match_indices(word)
            .map(|(i, _)| open + i)
            .find(|&i| !text[..i].ends_with(name) && !text[i + word.len()..].starts_with(name));
        if found.is_some() {
            return found;
        }
        from = end;
    }
    None
}

/// The largest body limit a definition may set.
const MAX_BODY_LIMIT: usize = 1 << 30;

impl Lowerer<'_> {
    /// UT116: the id is a slug and equals the file stem.
    pub(super) fn check_id(&mut self, id: &Text, stem: Option<&str>) {
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
    pub(super) fn lower_inputs(
        &mut self,
        def: &spec::Definition,
    ) -> Option<(Vec<model::Input>, usize)> {
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
            let hosts = self.lower_hosts(name, input);
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
            if let Some(role) = &input.role
                && role.value == InputRole::TaskId
            {
                task_ids.push(name);
            }
            let wire_name = match &input.wire_name {
                Some(wire) => self.wire_name(wire, "parameter"),
                None => Some(name.value.clone()),
            };
            let is_task_id = input
                .role
                .as_ref()
                .is_some_and(|r| r.value == InputRole::TaskId);
            // The task id is always given (it is the command's argument), wherever it goes.
            if is_task_id && let Some(required) = input.required.as_ref().filter(|r| !r.value) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        required.span,
                        format!("the task id `{}` cannot be optional", name.value),
                    )
                    .help("remove `required: false`: every request names its task"),
                );
            }
            let required = is_task_id
                || input.required.as_ref().map(|r| r.value).unwrap_or(
                    matches!(location, InputLocation::Path | InputLocation::Host)
                        && input.default.is_none(),
                );
            inputs.push(model::Input {
                name: name.value.clone(),
                location,
                required,
                default: input.default.as_ref().map(|d| d.value.clone()),
                pattern,
                hosts,
                wire_name: wire_name.unwrap_or_default(),
                doc: input.doc.clone(),
            });
            // A default is sent like any value: it must pass the same rules.
            if let (Some(default), Some(lowered)) = (&input.default, inputs.last())
                && let Some(why) = lowered.refusal(&default.value)
            {
                self.push(
                    Diagnostic::new(
                        Code::InvalidDefault,
                        default.span,
                        format!("default `{}` cannot be sent: {why}", default.value),
                    )
                    .help("fix the default, or widen the pattern"),
                );
            }
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

    /// UT107: an `in: url` input is the task id and names the hosts it may reach (`hosts`); no
    /// other input has `hosts`.
    fn lower_hosts(&mut self, name: &Text, input: &spec::Input) -> Option<regex_lite::Regex> {
        let is_url = input.location.value == InputLocation::Url;
        match (&input.hosts, is_url) {
            (Some(hosts), true) => {
                let regex = self.regex(hosts);
                if let Some(regex) = &regex
                    && regex.is_match("")
                {
                    self.push(
                        Diagnostic::new(
                            Code::UnconstrainedHost,
                            hosts.span,
                            "`hosts` matches an empty host",
                        )
                        .help("write the provider's own hosts, e.g. `([a-z0-9-]+\\.)*sharepoint\\.com`"),
                    );
                }
                let task_id = input
                    .role
                    .as_ref()
                    .is_some_and(|r| r.value == InputRole::TaskId);
                if !task_id {
                    self.push(
                        Diagnostic::new(
                            Code::TaskIdRole,
                            input.location.span,
                            format!("url input `{}` is not the task id", name.value),
                        )
                        .help(
                            "an `in: url` input is the whole status URL: give it `role: task_id`",
                        ),
                    );
                }
                regex
            }
            (None, true) => {
                self.push(
                    Diagnostic::new(
                        Code::UnconstrainedHost,
                        name.span,
                        format!("url input `{}` has no `hosts`", name.value),
                    )
                    .label("any host could be passed here")
                    .help("add `hosts:`, a pattern of the provider's own hosts, e.g. `([a-z0-9-]+\\.)*sharepoint\\.com`"),
                );
                None
            }
            (Some(hosts), false) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        hosts.span,
                        "`hosts` is for `in: url` inputs",
                    )
                    .help("constrain a host input with `pattern`, or remove `hosts`"),
                );
                None
            }
            (None, false) => None,
        }
    }

    /// The base URL: a template whose placeholders are host inputs; https, or http to loopback.
    /// Absent exactly when the task id is a whole URL: `Some(None)`.
    pub(super) fn lower_base_url(&mut self, def: &spec::Definition) -> Option<Option<Template>> {
        let url_input = def
            .inputs
            .iter()
            .find(|(_, i)| i.location.value == InputLocation::Url);
        let base_url = match (&def.base_url, url_input) {
            (None, Some(_)) => return Some(None),
            (Some(base_url), None) => base_url,
            (Some(base_url), Some((name, _))) => {
                self.push(
                    Diagnostic::new(
                        Code::InsecureBaseUrl,
                        base_url.span,
                        format!(
                            "the task id `{}` is a whole URL, so there is no base URL",
                            name.value
                        ),
                    )
                    .related(name.span, "the URL input")
                    .help("remove `base_url`: requests go to the URL the task id gives"),
                );
                return None;
            }
            (None, None) => {
                self.push(
                    Diagnostic::new(Code::InsecureBaseUrl, def.id.span, "no `base_url`")
                        .help("write the API's base URL, e.g. `base_url: https://api.example.com`, or make the task id an `in: url` input"),
                );
                return None;
            }
        };
        let template = self.template(base_url)?;
        self.check_placeholders(base_url, &template, InputLocation::Host, def);
        // Substitute a plausible host for each placeholder, then let the URL parser judge.
        let sample = template.render(|_| "placeholder.example".to_owned());
        match url::Url::parse(&sample) {
            // Never printed: the value would show the password.
            Ok(url) if crate::syntax::url::has_credentials(&url) => self.push(
                Diagnostic::new(
                    Code::InsecureBaseUrl,
                    base_url.span,
                    "the base URL carries a user name or password",
                )
                .label("it would travel outside `auth:`, and show wherever the URL does")
                .help("remove it from the URL; a credential goes in `auth:` (e.g. `basic:` with `username_env` and `password_env`), read from the environment"),
            ),
            Ok(url) if url.scheme() == "https" => {}
            Ok(url) if url.scheme() == "http" && crate::syntax::url::is_loopback(&url) => {}
            Ok(url) if url.scheme() == "http" => self.push(
                Diagnostic::new(
                    Code::InsecureBaseUrl,
                    base_url.span,
                    format!("base URL `{}` uses plain http for a host that is not loopback", base_url.value),
                )
                .label("credentials would travel unencrypted")
                .help("use `https://`; plain `http://` is only for `localhost`, `127.0.0.1` and `[::1]`"),
            ),
            Ok(url) => self.push(
                Diagnostic::new(
                    Code::InsecureBaseUrl,
                    base_url.span,
                    format!("base URL scheme `{}` is not https", url.scheme()),
                )
                .help("write an absolute `https://` URL"),
            ),
            Err(error) => self.push(
                Diagnostic::new(
                    Code::InsecureBaseUrl,
                    base_url.span,
                    format!("base URL `{}` is not an absolute URL: {error}", base_url.value),
                )
                .help("write an absolute URL such as `https://api.example.com`"),
            ),
        }
        Some(Some(template))
    }

    /// UT103: every placeholder is a declared input of the right kind.
    pub(super) fn check_placeholders(
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
    pub(super) fn lower_request(&mut self, def: &spec::Definition) -> Option<model::Request> {
        let request = &def.request;
        let by_url = def
            .inputs
            .iter()
            .any(|(_, i)| i.location.value == InputLocation::Url);
        let path = match &request.path {
            Some(written) => {
                let path = self.template(written);
                if let Some(template) = &path {
                    if !written.value.starts_with('/') {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidTemplate,
                                written.span,
                                format!("request path `{}` does not start with `/`", written.value),
                            )
                            .help("write the path from the root: `/files/v3/tasks/{task_id}`"),
                        );
                    }
                    self.check_path_literals(written, template);
                    self.check_placeholders(written, template, InputLocation::Path, def);
                }
                path
            }
            // The task id's URL is the whole request URL.
            None if by_url => Template::parse("").ok(),
            None => {
                self.push(
                    Diagnostic::new(Code::InvalidTemplate, def.id.span, "no `request.path`")
                        .help("write the status request's path, e.g. `path: /tasks/{task_id}`"),
                );
                None
            }
        };
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
        let mut header_templates = Vec::new();
        let input_names: Vec<&str> = def.inputs.iter().map(|(n, _)| n.value.as_str()).collect();
        for (name, value) in request.headers.iter() {
            let (Some(n), Some(v)) = (self.wire_name(name, "header"), self.wire_value(value))
            else {
                continue;
            };
            // A value with a placeholder is a template of the inputs.
            if !v.contains('{') {
                headers.push((n, v));
                continue;
            }
            let Some(template) = self.template(value) else {
                continue;
            };
            let mut known = true;
            for (placeholder, offset) in template.placeholders() {
                if !input_names.contains(&placeholder) {
                    let span = self.inner_span(value, offset);
                    self.push(
                        Diagnostic::new(
                            Code::UndeclaredPlaceholder,
                            span,
                            format!("placeholder `{{{placeholder}}}` in header `{n}` is not a declared input"),
                        )
                        .label("undeclared")
                        .help("a header value's placeholders name inputs, e.g. `x-amz-account-id: '{account_id}'`"),
                    );
                    known = false;
                }
            }
            if known {
                header_templates.push((n, template));
            }
        }
        let body_inputs = def
            .inputs
            .iter()
            .filter(|(_, i)| i.location.value == InputLocation::Body)
            .map(|(n, _)| n)
            .collect::<Vec<_>>();
        if !request.method.has_body() {
            if let Some(body) = &request.body {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        body.span,
                        format!("a {} request has no body", request.method.as_str()),
                    )
                    .help("set `method: POST` for APIs that read with a JSON body"),
                );
            }
            for name in body_inputs {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        name.span,
                        format!(
                            "input `{}` is `in: body` but the request is a {}",
                            name.value,
                            request.method.as_str()
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
        let body_template = match &request.body_template {
            Some(text) => Some(self.body_template(def, text)?),
            None => None,
        };
        Some(model::Request {
            method: request.method,
            path: path?,
            flags,
            query,
            headers,
            header_templates,
            body,
            body_template,
        })
    }

    /// UT128: a body template is for a `POST` or `PUT` without a fixed `body`, parses, reads
    /// only declared inputs, uses every `in: body` input, and renders a JSON document for
    /// sample values.
    fn body_template(
        &mut self,
        def: &spec::Definition,
        text: &Text,
    ) -> Option<crate::syntax::body::BodyTemplate> {
        let request = &def.request;
        if !request.method.has_body() {
            self.push(
                Diagnostic::new(
                    Code::InvalidBodyTemplate,
                    text.span,
                    format!("a {} request has no body", request.method.as_str()),
                )
                .help("set `method: POST` (or `PUT`) for APIs that read a document"),
            );
            return None;
        }
        if let Some(body) = &request.body {
            self.push(
                Diagnostic::new(
                    Code::InvalidBodyTemplate,
                    body.span,
                    "a request has a `body` or a `body_template`, not both",
                )
                .help("move the fixed parts into the template"),
            );
            return None;
        }
        let template = match crate::syntax::body::BodyTemplate::parse(&text.value) {
            Ok(template) => template,
            Err(error) => {
                let span = match error.offset {
                    Some(offset) => self.inner_span(text, offset),
                    None => text.span,
                };
                self.push(
                    Diagnostic::new(
                        Code::InvalidBodyTemplate,
                        span,
                        format!("invalid body template: {}", error.message),
                    )
                    .help("print inputs with `{{ name }}` (JSON-encoded for you, no quotes around it); `tojson` is the only filter"),
                );
                return None;
            }
        };
        let declared: Vec<&str> = def.inputs.iter().map(|(n, _)| n.value.as_str()).collect();
        let mut sound = true;
        for variable in template.variables() {
            if !declared.contains(&variable.as_str()) {
                sound = false;
                // Under the first place the name is printed or tested.
                let span = find_word(&text.value, &variable)
                    .map(|at| {
                        let start = self.inner_span(text, at);
                        let end = self.inner_span(text, at + variable.len() - 1);
                        Span::new(start.start, end.end.max(start.end))
                    })
                    .unwrap_or(text.span);
                self.push(
                    Diagnostic::new(
                        Code::InvalidBodyTemplate,
                        span,
                        format!("the body template reads `{variable}`, which is not an input"),
                    )
                    .label("not an input")
                    .help(de::did_you_mean(&variable, &declared)),
                );
            }
        }
        let used = template.variables();
        for (name, input) in def.inputs.iter() {
            if input.location.value == InputLocation::Body && !used.contains(&name.value) {
                self.push(
                    Diagnostic::new(
                        Code::UnusedInput,
                        name.span,
                        format!(
                            "input `{}` is `in: body` but the body template never prints it",
                            name.value
                        ),
                    )
                    .label("its value would be dropped")
                    .help(format!(
                        "print it in the template with `{{{{ {} }}}}`",
                        name.value
                    )),
                );
            }
        }
        if !sound {
            return None;
        }
        // Every input a value, as a request would carry them.
        let values: std::collections::BTreeMap<&str, Option<&str>> = def
            .inputs
            .iter()
            .map(|(name, input)| {
                let value = input
                    .default
                    .as_ref()
                    .map(|d| d.value.as_str())
                    .unwrap_or("sample");
                (name.value.as_str(), Some(value))
            })
            .collect();
        if let Err(error) = template.render(&values) {
            self.push(
                Diagnostic::new(
                    Code::InvalidBodyTemplate,
                    text.span,
                    format!("the body template does not render for sample values: {}", error.message),
                )
                .help("write the JSON document, and print values without quotes around them: `{\"id\": {{ task_id }}}`"),
            );
            return None;
        }
        Some(template)
    }

    /// UT102: the path's literal text is a plain path: no `?` or `#` (query and fragment have
    /// their own keys) and no `.` or `..` segment (the URL parser would collapse it).
    pub(super) fn check_path_literals(&mut self, text: &Text, template: &Template) {
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

    /// UT123: no header is sent twice: fixed headers, header inputs and the auth scheme's header
    /// are compared case-insensitively.
    pub(super) fn check_header_names(&mut self, def: &spec::Definition) {
        let mut names: Vec<(String, Span, &str)> = Vec::new();
        for (name, _) in def.request.headers.iter() {
            names.push((name.value.clone(), name.span, "a fixed header"));
        }
        for (name, input) in def.inputs.iter() {
            if input.location.value == InputLocation::Header {
                let wire = input.wire_name.as_ref().unwrap_or(name);
                names.push((wire.value.clone(), wire.span, "a header input"));
            }
        }
        // Alternatives are never sent together: each is held to the fixed headers alone.
        let fixed = names.len();
        self.report_duplicate_headers(&names, 0);
        let alternatives: Vec<&spec::Auth> = match &def.auth {
            spec::Auth::AnyOf(list) => list.iter().map(|a| &a.value).collect(),
            one => vec![one],
        };
        for auth in alternatives {
            names.truncate(fixed);
            names.extend(auth_headers(auth, def));
            self.report_duplicate_headers(&names, fixed);
        }
    }

    /// UT123 for every header of `names` from index `from` on that an earlier one repeats.
    fn report_duplicate_headers(&mut self, names: &[(String, Span, &str)], from: usize) {
        for (i, (name, span, what)) in names.iter().enumerate().skip(from) {
            if let Some((_, first, first_what)) = names[..i]
                .iter()
                .find(|(other, _, _)| other.eq_ignore_ascii_case(name))
            {
                self.push(
                    Diagnostic::new(
                        Code::DuplicateHeader,
                        *span,
                        format!("the request would send the header `{name}` twice"),
                    )
                    .label(format!("{what} sets it here"))
                    .related(*first, format!("{first_what} sets it here"))
                    .help("HTTP header names are case-insensitive: keep one of them"),
                );
            }
        }
    }

    /// UT104: path and host inputs appear in their template.
    pub(super) fn check_unused_inputs(
        &mut self,
        def: &spec::Definition,
        base_url: &Option<Option<Template>>,
        request: &Option<model::Request>,
    ) {
        let (Some(base_url), Some(request)) = (base_url, request) else {
            return;
        };
        let used: HashSet<&str> = base_url
            .iter()
            .flat_map(|b| b.placeholders())
            .chain(request.path.placeholders())
            .chain(
                request
                    .header_templates
                    .iter()
                    .flat_map(|(_, t)| t.placeholders()),
            )
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

    /// UT127: a body limit is a size from 1 byte to 1 GiB.
    pub(super) fn lower_limits(&mut self, limits: Option<&spec::Limits>) -> Option<model::Limits> {
        let Some(limits) = limits else {
            return Some(model::Limits::default());
        };
        let max_body_bytes = match &limits.max_body_bytes {
            None => None,
            Some(written) => match crate::syntax::size::parse(&written.value.0) {
                Some(bytes) if (1..=MAX_BODY_LIMIT).contains(&bytes) => Some(bytes),
                _ => {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidLimit,
                            written.span,
                            "`max_body_bytes` is not a size from 1 byte to 1 GiB",
                        )
                        .help("write a number of bytes or a size with its unit: `16 MiB`, `500 kB`, `8388608`"),
                    );
                    return None;
                }
            },
        };
        Some(model::Limits {
            max_body_bytes,
            keep_raw: limits.keep_raw.as_ref().is_none_or(|k| k.value),
        })
    }

    pub(super) fn lower_polling(
        &mut self,
        polling: Option<&spec::Polling>,
    ) -> Option<model::Polling> {
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

    pub(super) fn lower_rate_limits(
        &mut self,
        limits: &[spec::RateLimit],
    ) -> Option<Vec<model::RateLimit>> {
        let mut lowered = Vec::new();
        let mut valid = true;
        for limit in limits {
            let requests = limit.requests.value;
            if !(1..=1_000_000).contains(&requests) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        limit.requests.span,
                        format!("`requests: {requests}` is outside 1–1,000,000"),
                    )
                    .help("the number of requests the provider allows in each `per` window"),
                );
                valid = false;
                continue;
            }
            let burst = match &limit.burst {
                Some(burst) if (1..=requests).contains(&burst.value) => Some(burst.value as u32),
                Some(burst) => {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidValue,
                            burst.span,
                            format!("`burst: {}` is outside 1–{requests} (`requests`)", burst.value),
                        )
                        .help("how many requests may go at once after a quiet spell; leave it out to space requests evenly"),
                    );
                    valid = false;
                    continue;
                }
                None => None,
            };
            let Some(per) = self.duration(&limit.per) else {
                valid = false;
                continue;
            };
            if per > model::RateLimit::LONGEST_WINDOW {
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        limit.per.span,
                        format!("`per: {}` is longer than 30 days", limit.per.value),
                    )
                    .help("a window of at most 30 days, as `1s`, `10m` or `24h`"),
                );
                valid = false;
                continue;
            }
            lowered.push(model::RateLimit {
                requests: requests as u32,
                per,
                burst,
                scope: limit
                    .scope
                    .as_ref()
                    .map_or(spec::RateLimitScope::Credential, |s| s.value),
            });
        }
        valid.then_some(lowered)
    }
}

/// The headers an auth scheme sets, with where the definition names the scheme.
fn auth_headers(auth: &spec::Auth, def: &spec::Definition) -> Vec<(String, Span, &'static str)> {
    let authorization =
        |span: Span, what: &'static str| vec![("Authorization".to_owned(), span, what)];
    let anywhere = def.id.span;
    match auth {
        spec::Auth::Bearer(source) => authorization(source.env.span, "the bearer credential"),
        spec::Auth::Basic(basic) => authorization(basic.username_env.span, "the basic credential"),
        spec::Auth::Header(header) => {
            vec![(
                header.name.value.clone(),
                header.name.span,
                "the credential",
            )]
        }
        spec::Auth::Oauth2(oauth) => authorization(oauth.grant.span, "the OAuth token"),
        spec::Auth::AwsSigv4(aws) => {
            let mut names = authorization(aws.service.span, "the AWS signature");
            names.push(("x-amz-date".into(), aws.service.span, "the AWS signature"));
            names.push((
                "x-amz-security-token".into(),
                aws.service.span,
                "the AWS signature",
            ));
            if aws.content_sha256 {
                names.push((
                    "x-amz-content-sha256".into(),
                    aws.service.span,
                    "the AWS signature",
                ));
            }
            names
        }
        spec::Auth::Acs3HmacSha256(_) => {
            let mut names = authorization(anywhere, "the ACS3 signature");
            for header in [
                "x-acs-date",
                "x-acs-signature-nonce",
                "x-acs-content-sha256",
                "x-acs-security-token",
            ] {
                names.push((header.into(), anywhere, "the ACS3 signature"));
            }
            names
        }
        spec::Auth::AzureSharedKey(azure) => {
            let mut names = authorization(azure.account_input.span, "the Shared Key signature");
            names.push((
                "x-ms-date".into(),
                azure.account_input.span,
                "the Shared Key signature",
            ));
            names
        }
        spec::Auth::None
        | spec::Auth::Query(_)
        | spec::Auth::QueryString(_)
        | spec::Auth::AnyOf(_) => Vec::new(),
    }
}
