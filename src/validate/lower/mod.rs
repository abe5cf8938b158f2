//! The semantic rules: spec → model, one check per concern, every problem recorded.
//!
//! Each `check_*`/`lower_*` function reports with the code whose documentation (in `codes.rs`)
//! describes the rule. A section that has problems still lets the others be checked; the model is
//! only returned when nothing was found.

use std::time::Duration;

use regex_lite::Regex;

use crate::model;
use crate::runtime::ErrorKind;
use crate::spec::{self, Span, Text, de};
use crate::syntax::jsonpath::JsonPath;
use crate::syntax::template::Template;
use crate::task::State;
use crate::validate::{Code, Diagnostic};

mod auth;
mod examples;
mod failures;
mod fields;
mod request;
mod state;

/// What a field mapping must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Text,
    Number,
    Integer,
    Timestamp,
    /// `extra`: the `type` key decides, JSON by default.
    Extra,
    /// A wait: a duration by default, or a number of seconds, or a time to wait until.
    Wait,
}

struct Lowerer<'a> {
    source: &'a str,
    out: &'a mut Vec<Diagnostic>,
    /// Where the paths being lowered start when they do not say `from`.
    scope: spec::Scope,
    /// Whether they belong to a `files` or `errors` item (so `from: item` means something).
    in_item: bool,
    /// The declared inputs' names, which `input:` fields may read.
    input_names: Vec<String>,
    /// Whether answers are XML: paths read its tree leniently.
    xml: bool,
}

pub(super) fn lower(
    def: &spec::Definition,
    stem: Option<&str>,
    source: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<model::Provider> {
    let mut l = Lowerer {
        source,
        out,
        scope: spec::Scope::Payload,
        in_item: false,
        input_names: def.inputs.iter().map(|(n, _)| n.value.clone()).collect(),
        xml: def.response.format == spec::BodyFormat::Xml,
    };
    l.check_id(&def.id, stem);
    let inputs = l.lower_inputs(def);
    let base_url = l.lower_base_url(def);
    let request = l.lower_request(def);
    l.check_unused_inputs(def, &base_url, &request);
    let auth = l.lower_auth(&def.auth);
    l.check_header_names(def);
    let response = l.lower_response(&def.response);
    l.check_carried_inputs(def, response.as_ref());
    let failures = l.lower_failures(&def.failures);
    let polling = l.lower_polling(def.polling.as_ref());
    let rate_limits = l.lower_rate_limits(&def.rate_limits);
    let limits = l.lower_limits(def.limits.as_ref());
    let examples = l.lower_examples(def, &inputs);
    let scenarios = examples.as_ref().and_then(|examples| {
        let task_input = inputs.as_ref().map(|(all, i)| &all[*i]);
        l.lower_scenarios(def, examples, task_input)
    });
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
        rate_limits: rate_limits?,
        limits: limits?,
        examples: examples?,
        scenarios: scenarios?,
    })
}

/// Where the byte `index` of a literal block scalar's value (`|`, `|-`, `|+`) is in its source
/// text `raw`: each line of the value is a line of the block without its indentation. `None`
/// for any other scalar, or a block whose lines do not hold the value verbatim.
fn literal_block_offset(raw: &str, value: &str, index: usize) -> Option<usize> {
    if !raw.starts_with('|') {
        return None;
    }
    let header_end = raw.find('\n')? + 1;
    let body = &raw[header_end..];
    let indent = body
        .lines()
        .find(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches(' ').len())?;
    // The value's line that holds `index`, and the column in it.
    let before = &value[..index.min(value.len())];
    let line = before.matches('\n').count();
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1);
    let mut offset = header_end;
    for (i, source_line) in body.split_inclusive('\n').enumerate() {
        if i == line {
            let content = source_line.get(indent.min(source_line.len())..)?;
            let wanted = value.lines().nth(line).unwrap_or_default();
            return content
                .starts_with(wanted)
                .then_some(offset + indent + column);
        }
        offset += source_line.len();
    }
    None
}

/// `Some(())` when a check found nothing, for `?`-chaining sections.
fn all_ok(before: usize, out: &[Diagnostic]) -> Option<()> {
    (out.len() == before).then_some(())
}

impl Lowerer<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.out.push(diagnostic);
    }

    /// Runs `lower` with paths starting at `scope` (inside an item when `in_item`).
    fn scoped<T>(
        &mut self,
        scope: spec::Scope,
        in_item: bool,
        lower: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let saved = (self.scope, self.in_item);
        self.scope = scope;
        self.in_item = in_item;
        let lowered = lower(self);
        (self.scope, self.in_item) = saved;
        lowered
    }

    /// The scope a `from` names, or where paths start here; `item` only inside an item.
    fn scope_of(&mut self, from: &Option<spec::Spanned<spec::Scope>>) -> Option<spec::Scope> {
        match from {
            None => Some(self.scope),
            Some(from) if from.value == spec::Scope::Item && !self.in_item => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        from.span,
                        "`from: item` reads the item of a `files` or `errors` entry, and there is none here",
                    )
                    .help("write `from: payload` or `from: body`, or remove `from`"),
                );
                None
            }
            Some(from) => Some(from.value),
        }
    }

    /// The source span of the byte `index` of a scalar's text, one character wide; the whole
    /// node where the source does not hold the text verbatim (escapes, folded lines, aliases).
    fn inner_span(&self, text: &Text, index: usize) -> Span {
        let span = text.span;
        let raw = self.source.get(span.start..span.end).unwrap_or_default();
        let value = text.value.as_str();
        if let Some(at) = literal_block_offset(raw, value, index) {
            let start = span.start + at;
            let width = self.source[start..]
                .chars()
                .next()
                .filter(|c| *c != '\n')
                .map_or(0, char::len_utf8);
            return Span::new(start, start + width);
        }
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
        let path = self.json_path(text)?;
        if !self.xml {
            return Some(path);
        }
        let lenient = path.lenient();
        if lenient.is_none() {
            self.push(
                Diagnostic::new(
                    Code::InvalidJsonPath,
                    text.span,
                    format!("`{}` needs the query engine, which an XML body cannot use", text.value),
                )
                .label("filters, slices and `..` read JSON")
                .help("read an XML body with names, indexes and `[*]`; keep the items you want with `when:`"),
            );
        }
        lenient
    }

    fn json_path(&mut self, text: &Text) -> Option<JsonPath> {
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
}
