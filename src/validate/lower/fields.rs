//! Field mappings (paths, constants, types, conversions) and the response plan built from them:
//! envelope, id and timestamps, progress, files, errors and `extra`.

use serde_json::Value;

use super::{Lowerer, Slot, all_ok};
use crate::model::{self, Field, FieldSource, TimeFormat};
use crate::runtime::extract::{self, Answer, ExtractError};
use crate::spec::{self, Aggregate, FieldSpec, Text, ValueType};
use crate::syntax::jsonpath::JsonPath;
use crate::validate::{Code, Diagnostic};

/// Reads `value` through `field` as the slot does.
fn read_as(field: &Field, slot: Slot, value: &Value) -> Result<(), ExtractError> {
    let answer = Answer::of_value(value);
    let at = &answer.at();
    match slot {
        Slot::Text => extract::text(field, at).map(drop),
        Slot::Number => extract::number(field, at).map(drop),
        Slot::Integer => extract::integer(field, at).map(drop),
        Slot::Timestamp => extract::timestamp(field, at).map(drop),
        Slot::Extra | Slot::Wait => extract::typed(field, at).map(drop),
    }
}

/// A zone: an IANA name (the database is built in), `UTC`, or a fixed offset `+08:00`/`-0530`.
pub(crate) fn parse_zone(text: &str) -> Option<jiff::tz::TimeZone> {
    let offset = text
        .strip_prefix('+')
        .map(|rest| (1, rest))
        .or_else(|| text.strip_prefix('-').map(|rest| (-1, rest)));
    if let Some((sign, rest)) = offset {
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) || rest.len() > 5 {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = digits[2..].parse().ok()?;
        if hours > 18 || minutes > 59 {
            return None;
        }
        let offset = jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()?;
        return Some(jiff::tz::TimeZone::fixed(offset));
    }
    jiff::tz::TimeZone::get(text).ok()
}

impl Lowerer<'_> {
    /// A field mapping for a slot.
    pub(super) fn field(&mut self, spec: &FieldSpec, slot: Slot) -> Option<Field> {
        let before = self.out.len();
        let source = self.field_source(spec);
        let scope = self.scope_of(&spec.from);
        if let (Some(from), None, None) = (&spec.from, &spec.path, &spec.expr) {
            self.push(
                Diagnostic::new(
                    Code::InvalidField,
                    from.span,
                    "`from` says where `path` starts, and this field has no path",
                )
                .help("remove `from`, or read the value with `path`"),
            );
        }
        let expr = spec
            .expr
            .as_ref()
            .and_then(|text| self.expression(text, slot, spec));
        let when = spec
            .when
            .as_ref()
            .and_then(|w| self.condition(&w.value, w.span))
            .map(Box::new);
        let kind = match (slot, &spec.kind) {
            (Slot::Extra, Some(kind)) => kind.value,
            // A count is a whole number and a sum or an expression a number, whatever they read.
            (Slot::Extra, None) => match spec.aggregate.as_ref().map(|a| a.value) {
                Some(Aggregate::Count) => ValueType::Integer,
                Some(Aggregate::Sum) => ValueType::Number,
                None if spec.expr.is_some() => ValueType::Number,
                None => ValueType::Json,
            },
            (Slot::Wait, None) => ValueType::Duration,
            (Slot::Wait, Some(kind))
                if matches!(
                    kind.value,
                    ValueType::Duration
                        | ValueType::Number
                        | ValueType::Integer
                        | ValueType::Timestamp
                ) =>
            {
                kind.value
            }
            (Slot::Wait, Some(kind)) => {
                self.push(
                    Diagnostic::new(Code::InvalidField, kind.span, "a wait is a duration, a number of seconds or a time")
                        .help("write `type: duration` (the default), `number`, or `timestamp` for a time to wait until"),
                );
                ValueType::Duration
            }
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
        let numeric_kind = matches!(kind, ValueType::Number | ValueType::Integer);
        let (time_formats, duration_millis) = self.formats(spec, kind);
        let zone = self.zone(spec, kind, &time_formats);
        if let Some(aggregate) = &spec.aggregate {
            if !numeric_kind {
                self.push(
                    Diagnostic::new(Code::InvalidField, aggregate.span, "`aggregate` makes a number, but this field is not one")
                        .help("use it for progress counts and sizes, or on an `extra` field with `type: integer` or `number` (or no `type`)"),
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
        if let Some(split) = &spec.split
            && (slot != Slot::Extra
                || kind != ValueType::Json
                || spec.join.is_some()
                || spec.aggregate.is_some())
        {
            self.push(
                Diagnostic::new(
                    Code::InvalidConversion,
                    split.span,
                    "`split` makes a list, which only an `extra` field of type `json` holds",
                )
                .help("use `split` on an `extra` field without `type`, `join` or `aggregate`"),
            );
        }
        let convert = self.conversions(spec);
        all_ok(before, self.out)?;
        if spec.when.is_some() && when.is_none() {
            return None;
        }
        // The same slot: the fallback reads the same kind of value.
        let fallback = match &spec.fallback {
            Some(other) => Some(Box::new(self.field(other, slot)?)),
            None => None,
        };
        let field = Field {
            source: source?,
            scope: scope?,
            kind,
            time_formats,
            zone: zone.unwrap_or(jiff::tz::TimeZone::UTC),
            duration_millis,
            join: spec.join.as_ref().map(|j| j.value.clone()),
            split: spec.split.as_ref().map(|s| s.value.clone()),
            aggregate: spec.aggregate.as_ref().map(|a| a.value),
            convert,
            expr: expr.map(Box::new),
            when,
            fallback,
        };
        self.check_conversions(spec, &field, slot);
        all_ok(before, self.out)?;
        Some(field)
    }

    /// Where a field reads: exactly one of `path`, `const` and `header`, or none with `expr`
    /// (which then reads from the scope).
    fn field_source(&mut self, spec: &FieldSpec) -> Option<FieldSource> {
        let written: Vec<(&str, &Text)> = [
            ("path", spec.path.as_ref()),
            ("const", spec.constant.as_ref()),
            ("header", spec.header.as_ref()),
            ("input", spec.input.as_ref()),
        ]
        .into_iter()
        .filter_map(|(key, text)| text.map(|t| (key, t)))
        .collect();
        match written.as_slice() {
            [("path", path)] => self.path(path).map(FieldSource::Path),
            [("const", constant)] => {
                for (key, span) in [
                    ("from", spec.from.as_ref().map(|f| f.span)),
                    ("expr", spec.expr.as_ref().map(|e| e.span)),
                    ("capture", spec.capture.as_ref().map(|c| c.span)),
                ] {
                    if let Some(span) = span {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidField,
                                span,
                                format!("a `const` has no `{key}`: it is fixed text"),
                            )
                            .help(format!("remove `{key}`, or read the value with `path`")),
                        );
                    }
                }
                Some(FieldSource::Constant(constant.value.clone()))
            }
            [("input", input)] => {
                if !self.input_names.contains(&input.value) {
                    let names: Vec<&str> = self.input_names.iter().map(String::as_str).collect();
                    self.push(
                        Diagnostic::new(
                            Code::InvalidField,
                            input.span,
                            format!("`{}` is not an input of this definition", input.value),
                        )
                        .help(crate::spec::de::did_you_mean(&input.value, &names)),
                    );
                    return None;
                }
                Some(FieldSource::Input(input.value.clone()))
            }
            [(_, header)] => self
                .wire_name(header, "header")
                .map(|name| FieldSource::Header(name.to_ascii_lowercase())),
            [] if spec.expr.is_some() => JsonPath::parse("$").ok().map(FieldSource::Path),
            [] => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        spec.span,
                        "a field needs `path`, `const`, `header` or `expr`",
                    )
                    .help("write `path: $.field` (or just the JSONPath string)"),
                );
                None
            }
            [(first, _), (second, text), ..] => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        text.span,
                        format!("a field has both `{first}` and `{second}`"),
                    )
                    .help("keep one: `path` reads the body, `header` a response header, `const` is fixed text"),
                );
                None
            }
        }
    }

    /// UT125: an expression parses, and makes a number for a field that holds one.
    fn expression(
        &mut self,
        text: &Text,
        slot: Slot,
        spec: &FieldSpec,
    ) -> Option<crate::syntax::expr::Expr> {
        let numeric = match slot {
            Slot::Number | Slot::Integer | Slot::Timestamp | Slot::Wait => true,
            Slot::Text => false,
            Slot::Extra => spec.kind.as_ref().is_none_or(|k| {
                matches!(
                    k.value,
                    ValueType::Number
                        | ValueType::Integer
                        | ValueType::Duration
                        | ValueType::Timestamp
                )
            }),
        };
        if !numeric {
            self.push(
                Diagnostic::new(
                    Code::InvalidExpression,
                    text.span,
                    "`expr` makes a number, but this field is not one",
                )
                .help("use `expr` for progress, sizes and numeric `extra` fields (`type: number`, `integer`, `duration`)"),
            );
            return None;
        }
        match crate::syntax::expr::Expr::parse(&text.value) {
            Ok(expr) => Some(expr),
            Err(error) => {
                let span = self.inner_span(text, error.offset);
                self.push(
                    Diagnostic::new(
                        Code::InvalidExpression,
                        span,
                        format!("invalid expression `{}`: {}", text.value, error.message),
                    )
                    .label(error.message)
                    .help("numbers, `+ - * /`, parentheses, paths (`$.total`, `@.to`) and `header(\"Name\")`"),
                );
                None
            }
        }
    }

    /// The timestamp formats (tried in order), or how a duration's bare numbers count.
    fn formats(&mut self, spec: &FieldSpec, kind: ValueType) -> (Vec<TimeFormat>, bool) {
        let Some(format) = &spec.format else {
            return (vec![TimeFormat::Rfc3339], false);
        };
        match kind {
            ValueType::Timestamp => {
                let formats: Vec<TimeFormat> = format
                    .items
                    .iter()
                    .filter_map(|text| self.time_format(text))
                    .collect();
                if format.items.is_empty() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidTimeFormat,
                            format.span,
                            "an empty list of timestamp formats",
                        )
                        .help("list at least one format, e.g. `[rfc3339, epoch_seconds]`"),
                    );
                }
                if formats.is_empty() {
                    (vec![TimeFormat::Rfc3339], false)
                } else {
                    (formats, false)
                }
            }
            ValueType::Duration => {
                let millis = match format.items.as_slice() {
                    [one] if one.value == "seconds" => false,
                    [one] if one.value == "millis" => true,
                    _ => {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidConversion,
                                format.span,
                                "a duration's `format` is `seconds` or `millis`",
                            )
                            .label("how a bare number counts")
                            .help("texts such as `15s`, `1m30s` and `PT1M30S` are read whatever the format"),
                        );
                        false
                    }
                };
                (vec![TimeFormat::Rfc3339], millis)
            }
            _ => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        format.span,
                        "`format` only applies to timestamps and durations",
                    )
                    .help("remove `format`, or set `type: timestamp` on an `extra` field"),
                );
                (vec![TimeFormat::Rfc3339], false)
            }
        }
    }

    /// The zone of naive times: an IANA name or a fixed offset, for a timestamp field that has a
    /// format without an offset.
    fn zone(
        &mut self,
        spec: &FieldSpec,
        kind: ValueType,
        formats: &[TimeFormat],
    ) -> Option<jiff::tz::TimeZone> {
        let text = spec.zone.as_ref()?;
        let naive = formats.iter().any(|f| matches!(f, TimeFormat::Naive(_)));
        if kind != ValueType::Timestamp || !naive {
            self.push(
                Diagnostic::new(
                    Code::InvalidConversion,
                    text.span,
                    "`zone` applies to timestamps written without an offset",
                )
                .help("add a strftime `format` such as `%Y-%m-%d %H:%M:%S`, or remove `zone`: RFC 3339 and epoch times carry their own"),
            );
            return None;
        }
        match parse_zone(&text.value) {
            Some(zone) => Some(zone),
            None => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidConversion,
                        text.span,
                        format!("unknown time zone `{}`", text.value),
                    )
                    .help("write an IANA name such as `Asia/Shanghai` or `America/New_York`, or an offset such as `+08:00`"),
                );
                None
            }
        }
    }

    /// `map`, `null_values`, `capture` and `default`, which only a value that is read can have.
    fn conversions(&mut self, spec: &FieldSpec) -> Option<Box<model::Conversions>> {
        if spec.map.is_empty()
            && spec.null_values.is_empty()
            && spec.default.is_none()
            && spec.capture.is_none()
        {
            return None;
        }
        let capture = spec.capture.as_ref().and_then(|text| self.capture(text));
        if let Some(constant) = &spec.constant {
            self.push(
                Diagnostic::new(
                    Code::InvalidConversion,
                    constant.span,
                    "a `const` has no value to convert",
                )
                .help("remove `map`, `null_values` and `default`, or read the value with `path`"),
            );
        }
        if let (Some(default), Some(Aggregate::Count)) =
            (&spec.default, spec.aggregate.as_ref().map(|a| a.value))
        {
            self.push(
                Diagnostic::new(
                    Code::InvalidConversion,
                    default.span,
                    "a count has no default: it is 0 when nothing is selected",
                )
                .help("remove `default`"),
            );
        }
        Some(Box::new(model::Conversions {
            capture,
            values: spec
                .map
                .iter()
                .map(|(key, value)| (key.value.clone(), value.value.0.clone()))
                .collect(),
            nulls: spec.null_values.iter().map(|v| v.value.0.clone()).collect(),
            default: spec.default.as_ref().map(|d| d.value.0.clone()),
        }))
    }

    /// A `default` and each `map` value must read as the field's type, or a mapping that
    /// validates would fail on the first answer that uses it.
    fn check_conversions(&mut self, spec: &FieldSpec, field: &Field, slot: Slot) {
        let Some(root) = JsonPath::parse("$").ok() else {
            return;
        };
        let as_field = Field {
            source: FieldSource::Path(root),
            scope: spec::Scope::Payload,
            convert: None,
            expr: None,
            when: None,
            fallback: None,
            ..field.clone()
        };
        let written = spec
            .default
            .iter()
            .map(|d| ("`default`", d))
            .chain(spec.map.iter().map(|(_, v)| ("this `map` value", v)));
        for (what, value) in written {
            if value.value.0.is_null() {
                continue;
            }
            if let Err(error) = read_as(&as_field, slot, &value.value.0) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidConversion,
                        value.span,
                        format!("{what} does not read as the field's type: {}", error.found),
                    )
                    .label(format!("should be {}", error.expected))
                    .help("write the value as the provider would send it, converted: a number for progress and sizes, text for names"),
                );
            }
        }
    }

    /// UT126: `answers` list non-2xx statuses, each with a known state if it fixes one; an
    /// `http_status` status documents only statuses that are answers (2xx, or listed here).
    fn lower_answers(
        &mut self,
        answers: &[spec::AnswerSpec],
        written: &spec::StateSpec,
        state: Option<&model::StatePlan>,
    ) -> Vec<model::AnswerPlan> {
        let mut lowered = Vec::new();
        for answer in answers {
            let statuses: Vec<u16> = answer
                .status
                .statuses
                .iter()
                .filter_map(|s| self.http_status(answer.status.span, Some(*s)))
                .collect();
            if answer.status.statuses.is_empty() {
                self.push(
                    Diagnostic::new(Code::InvalidAnswer, answer.status.span, "an answer needs a status")
                        .help("list the HTTP statuses that answer about the task, e.g. `status: [404, 410]`"),
                );
            }
            if let Some(ok) = statuses.iter().find(|s| (200..300).contains(*s)) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidAnswer,
                        answer.status.span,
                        format!("{ok} is a success: every 2xx already answers about the task"),
                    )
                    .help("list only the non-2xx statuses that answer about the task (`308`, `404`, `410`)"),
                );
            }
            let when = match &answer.when {
                Some(w) => self
                    .scoped(spec::Scope::Body, false, |l| l.condition(&w.value, w.span))
                    .map(Some),
                None => Some(None),
            };
            let fixed = match &answer.state {
                Some(s) => self.state(s).map(Some),
                None => Some(None),
            };
            if let (Some(when), Some(state)) = (when, fixed) {
                lowered.push(model::AnswerPlan {
                    statuses,
                    when,
                    state,
                });
            }
        }
        if let Some(state) = state
            && matches!(state.native, model::NativePlan::HttpStatus)
        {
            let documented = match &written.documented {
                spec::Documented::List(values) => values.as_slice(),
                spec::Documented::Axes(_) => &[],
            };
            for value in documented {
                let Ok(status) = value.value.parse::<u16>() else {
                    continue;
                };
                let answered = (200..300).contains(&status)
                    || lowered.iter().any(|a| a.statuses.contains(&status));
                if !answered {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidAnswer,
                            value.span,
                            format!("{status} is a request error, so it is never a native status"),
                        )
                        .label("not an answer")
                        .help(format!(
                            "list it under `response.answers`: `- status: {status}`"
                        )),
                    );
                }
            }
        }
        lowered
    }

    /// UT104: an `in: next` input is carried to the follow-up (`next` reads it with `input:`),
    /// or its value would be dropped.
    pub(super) fn check_carried_inputs(
        &mut self,
        def: &spec::Definition,
        response: Option<&model::ResponsePlan>,
    ) {
        let Some(response) = response else {
            return;
        };
        let read: Vec<&str> = response
            .next
            .iter()
            .flat_map(|n| std::iter::once(&n.task_id).chain(n.inputs.iter().map(|(_, f)| f)))
            .filter_map(|f| match &f.source {
                FieldSource::Input(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        for (name, input) in def.inputs.iter() {
            if input.location.value == spec::InputLocation::Next
                && !read.contains(&name.value.as_str())
            {
                self.push(
                    Diagnostic::new(
                        Code::UnusedInput,
                        name.span,
                        format!(
                            "input `{}` is `in: next` but the follow-up never reads it",
                            name.value
                        ),
                    )
                    .label("its value would be dropped")
                    .help(format!(
                        "read it under `response.next.inputs` with `{{input: {}}}`",
                        name.value
                    )),
                );
            }
        }
    }

    /// UT129: a follow-up names another definition by id, hands over in terminal states, and
    /// reads its task id and inputs like any field.
    fn lower_next(&mut self, next: &spec::NextSpec) -> Option<model::NextPlan> {
        let before = self.out.len();
        let states: Vec<crate::task::State> = if next.when.is_empty() {
            vec![crate::task::State::Succeeded]
        } else {
            next.when.iter().filter_map(|s| self.state(s)).collect()
        };
        for (state, written) in states.iter().zip(&next.when) {
            if !state.is_terminal() {
                self.push(
                    Diagnostic::new(
                        Code::InvalidNext,
                        written.span,
                        format!("`{state}` is not a state a task ends in"),
                    )
                    .help("a follow-up starts once the task is done: `succeeded`, `partial`, `failed`, `canceled` or `expired`"),
                );
            }
        }
        let id = &next.provider;
        let slug = !id.value.is_empty()
            && id
                .value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !slug {
            self.push(
                Diagnostic::new(
                    Code::InvalidNext,
                    id.span,
                    format!("`{}` is not a definition id", id.value),
                )
                .help("name the definition that reads the follow-up by its id (its file name)"),
            );
        }
        let task_id = self.field(&next.task_id, Slot::Text);
        let mut inputs = Vec::new();
        for (name, spec) in next.inputs.iter() {
            if let Some(field) = self.field(spec, Slot::Text) {
                inputs.push((name.value.clone(), field));
            }
        }
        all_ok(before, self.out)?;
        Some(model::NextPlan {
            states,
            provider: id.value.clone(),
            provider_span: id.span,
            task_id: task_id?,
            inputs,
        })
    }

    /// Errors from items: task errors, or the details of an error body.
    pub(super) fn lower_errors(&mut self, specs: &[spec::ErrorsSpec]) -> Vec<model::ErrorsPlan> {
        let mut errors = Vec::new();
        for spec in specs {
            let each = self.path(&spec.each);
            let from = self.items_from(&spec.from);
            let (when, message, code, item) = self.scoped(spec::Scope::Item, true, |l| {
                (
                    l.item_condition(&spec.when),
                    l.field(&spec.message, Slot::Text),
                    l.optional_field(&spec.code, Slot::Text),
                    l.optional_field(&spec.item, Slot::Text),
                )
            });
            if let (Some(from), Some(when), Some(each), Some(message), Some(code), Some(item)) =
                (from, when, each, message, code, item)
            {
                errors.push(model::ErrorsPlan {
                    each,
                    from,
                    when,
                    message,
                    code,
                    item,
                });
            }
        }
        errors
    }

    /// Where a list's `each` starts: the payload, or the whole body; never an item.
    fn items_from(&mut self, from: &Option<spec::Spanned<spec::Scope>>) -> Option<spec::Scope> {
        match from {
            Some(from) if from.value == spec::Scope::Item => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidField,
                        from.span,
                        "the items of a list come from the payload or the body, not from an item",
                    )
                    .help("write `from: payload` (the default) or `from: body`"),
                );
                None
            }
            Some(from) => Some(from.value),
            None => Some(spec::Scope::Payload),
        }
    }

    /// An item's `when`: `Some(None)` when there is none, `None` when it does not lower.
    fn item_condition(
        &mut self,
        when: &Option<spec::Spanned<spec::Condition>>,
    ) -> Option<Option<model::Condition>> {
        match when {
            Some(when) => self.condition(&when.value, when.span).map(Some),
            None => Some(None),
        }
    }

    pub(super) fn optional_field(
        &mut self,
        spec: &Option<FieldSpec>,
        slot: Slot,
    ) -> Option<Option<Field>> {
        match spec {
            Some(spec) => self.field(spec, slot).map(Some),
            None => Some(None),
        }
    }

    /// A `capture` pattern: a regular expression, not anchored (write `^` and `$` to anchor it).
    fn capture(&mut self, text: &Text) -> Option<regex_lite::Regex> {
        match regex_lite::Regex::new(&text.value) {
            Ok(regex) => Some(regex),
            Err(error) => {
                let detail = error.to_string();
                let reason = detail.lines().last().unwrap_or("invalid").trim();
                self.push(
                    Diagnostic::new(
                        Code::InvalidPattern,
                        text.span,
                        format!("invalid `capture` pattern `{}`: {reason}", text.value),
                    )
                    .label("does not compile")
                    .help("a regular expression whose first group is kept, e.g. `#(.+)$`"),
                );
                None
            }
        }
    }

    pub(super) fn time_format(&mut self, text: &Text) -> Option<TimeFormat> {
        match text.value.as_str() {
            "rfc3339" => return Some(TimeFormat::Rfc3339),
            "http_date" => return Some(TimeFormat::HttpDate),
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
                .help("use `rfc3339`, `epoch_seconds`, `epoch_millis`, `http_date`, or a strftime pattern such as `%Y-%m-%d %H:%M:%S`"),
            );
            None
        }
    }

    pub(super) fn lower_response(
        &mut self,
        response: &spec::Response,
    ) -> Option<model::ResponsePlan> {
        let state = self.lower_state(&response.state);
        let before = self.out.len();
        let envelope = match &response.envelope {
            Some(envelope) => {
                // The envelope is tested on the whole body.
                let (when, success) = self.scoped(spec::Scope::Body, false, |l| {
                    let when = envelope
                        .when
                        .as_ref()
                        .map(|w| l.condition(&w.value, w.span));
                    let success = envelope
                        .success
                        .as_ref()
                        .map(|s| l.condition(&s.value, s.span));
                    (when, success)
                });
                let root = self.path(&envelope.root);
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
        // `None` when it does not lower; the other sections are still checked.
        let progress = match &response.progress {
            Some(progress) => {
                let done = self.field(&progress.done, Slot::Number);
                let total = self.optional_field(&progress.total, Slot::Number);
                match (done, total) {
                    (Some(done), Some(total)) => Some(Some(model::ProgressPlan {
                        unit: progress.unit.value,
                        done,
                        total,
                    })),
                    _ => None,
                }
            }
            None => Some(None),
        };
        let mut files = Vec::new();
        for spec in &response.files {
            let each = self.path(&spec.each);
            let from = self.items_from(&spec.from);
            let (when, id, name, url, source_url, path, size, mime, md5) =
                self.scoped(spec::Scope::Item, true, |l| {
                    (
                        l.item_condition(&spec.when),
                        l.optional_field(&spec.id, Slot::Text),
                        l.optional_field(&spec.name, Slot::Text),
                        l.optional_field(&spec.url, Slot::Text),
                        l.optional_field(&spec.source_url, Slot::Text),
                        l.optional_field(&spec.path, Slot::Text),
                        l.optional_field(&spec.size, Slot::Integer),
                        l.optional_field(&spec.mime, Slot::Text),
                        l.optional_field(&spec.md5, Slot::Text),
                    )
                });
            if let (
                Some(from),
                Some(when),
                Some(each),
                Some(id),
                Some(name),
                Some(url),
                Some(source_url),
                Some(path),
                Some(size),
                Some(mime),
                Some(md5),
            ) = (
                from, when, each, id, name, url, source_url, path, size, mime, md5,
            ) {
                files.push(model::FilesPlan {
                    each,
                    from,
                    when,
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
        let errors = self.lower_errors(&response.errors);
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
        let answers = self.lower_answers(&response.answers, &response.state, state.as_ref());
        let next = match &response.next {
            Some(next) => self.lower_next(next).map(Some),
            None => Some(None),
        };
        all_ok(before, self.out)?;
        Some(model::ResponsePlan {
            format: response.format,
            answers,
            next: next?,
            envelope,
            state: state?,
            id: id?,
            created_at: created_at?,
            started_at: started_at?,
            updated_at: updated_at?,
            completed_at: completed_at?,
            progress: progress?,
            files,
            errors,
            extra,
        })
    }
}
