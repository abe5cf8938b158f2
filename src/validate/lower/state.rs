//! The native status and its mapping into a unified state, and the conditions that rules,
//! envelopes and in-body failures test.

use std::collections::{HashMap, HashSet};

use super::Lowerer;
use crate::model;
use crate::spec::{self, Span, Text, de};
use crate::validate::{Code, Diagnostic};

impl Lowerer<'_> {
    /// Labels name documented values (UT111), with one line of text each (UT117).
    fn lower_labels(
        &mut self,
        state: &spec::StateSpec,
        documented: &[String],
    ) -> HashMap<String, String> {
        let mut labels = HashMap::new();
        for (native, label) in state.labels.iter() {
            if !documented.contains(&native.value) {
                self.push(undocumented("labelled", native, documented).label("not documented"));
            }
            let text = label.value.trim();
            if text.is_empty() || label.value.contains(['\r', '\n']) {
                self.push(
                    Diagnostic::new(
                        Code::InvalidName,
                        label.span,
                        "a label is the provider's name for the value, on one line",
                    )
                    .help("write the name the provider's documentation uses, e.g. `Transcoding`"),
                );
                continue;
            }
            labels.insert(native.value.clone(), text.to_owned());
        }
        labels
    }

    /// `state.default` must be what the status source reads: a boolean for `boolean`, a
    /// whole number for `integer`, text for `string` and `tag_key`; `presence` has its own
    /// (`none`).
    fn lower_status_default(
        &mut self,
        state: &spec::StateSpec,
        native: Option<&model::NativePlan>,
    ) -> Option<serde_json::Value> {
        use serde_json::Value;
        let written = state.default.as_ref()?;
        let value = &written.value.0;
        let fits = match native? {
            model::NativePlan::String(_) => matches!(value, Value::String(_) | Value::Number(_)),
            model::NativePlan::Integer(_) => {
                value.as_i64().is_some()
                    || value
                        .as_str()
                        .is_some_and(|s| s.trim().parse::<i64>().is_ok())
            }
            model::NativePlan::Boolean(..) => value.is_boolean(),
            model::NativePlan::TagKey(_) => {
                value.is_string() || value.as_object().is_some_and(|map| map.len() == 1)
            }
            model::NativePlan::Presence(_) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidConversion,
                        written.span,
                        "a `presence` status has no default: it reads `none` when no field is there",
                    )
                    .help("map `none` in `state.map` instead"),
                );
                return None;
            }
            model::NativePlan::HttpStatus => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidConversion,
                        written.span,
                        "an `http_status` status has no default: every answer has a status",
                    )
                    .help("remove `default`"),
                );
                return None;
            }
            model::NativePlan::Header(_) => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidConversion,
                        written.span,
                        "a `header` status has no default: it reads `none` when the header is absent",
                    )
                    .help("map `none` in `state.map` instead"),
                );
                return None;
            }
            // Reported where axes are lowered.
            model::NativePlan::Axes(_) => return None,
        };
        if !fits {
            self.push(
                Diagnostic::new(
                    Code::InvalidConversion,
                    written.span,
                    "`state.default` is not a value the status field can hold",
                )
                .label("the value read when the status field is absent or null")
                .help("write it as the provider would send it: `false` for a boolean status, `0` for an integer one"),
            );
            return None;
        }
        Some(value.clone())
    }

    /// A condition; its paths start at `self.scope` unless they say `from`.
    pub(super) fn condition(
        &mut self,
        condition: &spec::Condition,
        span: Span,
    ) -> Option<model::Condition> {
        use spec::Condition as C;
        Some(match condition {
            C::Equals(cmp) => {
                let subject = self.subject(&cmp.path, &cmp.header, &cmp.from, span);
                model::Condition::Equals {
                    subject: subject?,
                    value: cmp.value.value.clone(),
                    ignore_case: cmp.ignore_case,
                }
            }
            C::In(membership) => {
                let subject =
                    self.subject(&membership.path, &membership.header, &membership.from, span);
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
                    subject: subject?,
                    values: membership.values.value.clone(),
                    ignore_case: membership.ignore_case,
                }
            }
            C::Exists(target) => model::Condition::Exists(self.target(target)?),
            C::Absent(target) => model::Condition::Absent(self.target(target)?),
            C::Null(target) => model::Condition::Null(self.target(target)?),
            C::Empty(target) => model::Condition::Empty(self.target(target)?),
            C::NonEmpty(target) => model::Condition::NonEmpty(self.target(target)?),
            C::Status(list) => {
                let statuses: Vec<u16> = list
                    .statuses
                    .iter()
                    .filter_map(|s| self.http_status(list.span, Some(*s)))
                    .collect();
                if list.statuses.is_empty() {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidCondition,
                            list.span,
                            "`status` with no statuses never holds",
                        )
                        .help("list the HTTP statuses, e.g. `status: [404, 410]`"),
                    );
                }
                if statuses.len() != list.statuses.len() || statuses.is_empty() {
                    return None;
                }
                model::Condition::Status(statuses)
            }
            C::Compare(compare) => {
                let left = self.field(&compare.left, super::Slot::Number);
                let right = match (&compare.right, &compare.value) {
                    (Some(right), None) => self
                        .field(right, super::Slot::Number)
                        .map(model::Operand::Field),
                    (None, Some(value)) => Some(model::Operand::Number(value.value)),
                    _ => {
                        self.push(
                            Diagnostic::new(
                                Code::InvalidCondition,
                                span,
                                "`compare` needs one right side: `right` (read from the answer) or `value` (a number)",
                            )
                            .help("e.g. `compare: {left: $.done, op: ge, right: $.total}` or `{left: $.done, op: gt, value: 0}`"),
                        );
                        None
                    }
                };
                model::Condition::Compare {
                    left: Box::new(left?),
                    op: compare.op.value,
                    right: Box::new(right?),
                }
            }
            C::BeforeNow(field) => {
                model::Condition::BeforeNow(Box::new(self.field(field, super::Slot::Timestamp)?))
            }
            C::AfterNow(field) => {
                model::Condition::AfterNow(Box::new(self.field(field, super::Slot::Timestamp)?))
            }
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

    fn target(&mut self, target: &spec::Target) -> Option<model::Subject> {
        self.subject(&target.path, &target.header, &target.from, target.span)
    }

    /// What a condition looks at: a path (from a scope) or a header, exactly one.
    fn subject(
        &mut self,
        path: &Option<Text>,
        header: &Option<Text>,
        from: &Option<spec::Spanned<spec::Scope>>,
        span: Span,
    ) -> Option<model::Subject> {
        match (path, header) {
            (Some(path), None) => {
                let scope = self.scope_of(from);
                Some(model::Subject::Path(self.path(path)?, scope?))
            }
            (None, Some(header)) => {
                if let Some(from) = from {
                    self.push(
                        Diagnostic::new(
                            Code::InvalidCondition,
                            from.span,
                            "`from` says where a path starts; a header has no path",
                        )
                        .help("remove `from`"),
                    );
                    return None;
                }
                let name = self.wire_name(header, "header")?;
                Some(model::Subject::Header(name.to_ascii_lowercase()))
            }
            _ => {
                self.push(
                    Diagnostic::new(
                        Code::InvalidCondition,
                        span,
                        "a condition looks at one thing: a `path` or a `header`",
                    )
                    .help("write `path: $.status` or `header: Upload-Offset`, not both or neither"),
                );
                None
            }
        }
    }

    /// One native status source.
    fn lower_native(
        &mut self,
        native: &spec::NativeSource,
        span: Span,
        axis: bool,
    ) -> Option<model::NativePlan> {
        match native {
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
                        Diagnostic::new(Code::InvalidValue, span, "`presence` needs at least one path")
                            .help("list the fields whose presence tells the state, e.g. `[$.result, $.error]`"),
                    );
                }
                Some(model::NativePlan::Presence(candidates))
            }
            spec::NativeSource::TagKey(path) => self.path(path).map(model::NativePlan::TagKey),
            spec::NativeSource::HttpStatus => Some(model::NativePlan::HttpStatus),
            spec::NativeSource::Header(name) => self
                .wire_name(name, "header")
                .map(|n| model::NativePlan::Header(n.to_ascii_lowercase())),
            spec::NativeSource::Axes(axes) if !axis => {
                let mut lowered = Vec::new();
                for (name, source) in axes.iter() {
                    if let Some(plan) = self.lower_native(&source.value, source.span, true) {
                        lowered.push((name.value.clone(), plan));
                    }
                }
                if axes.len() < 2 {
                    self.push(
                        Diagnostic::new(Code::InvalidValue, span, "`axes` combine two or more statuses")
                            .help("with one status, write it directly: `native: { string: $.status }`"),
                    );
                    return None;
                }
                (lowered.len() == axes.len()).then_some(model::NativePlan::Axes(lowered))
            }
            spec::NativeSource::Axes(_) => {
                self.push(
                    Diagnostic::new(Code::InvalidValue, span, "an axis is one status, not axes of its own")
                        .help("list every axis at the same level under `axes`"),
                );
                None
            }
        }
    }

    /// Why `text` cannot be a native value of this source, if it cannot.
    fn value_shape(native: Option<&model::NativePlan>, text: &str) -> Option<String> {
        match native {
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
            Some(model::NativePlan::HttpStatus) => match text.parse::<u16>() {
                Ok(status) if (100..=599).contains(&status) && status.to_string() == text => None,
                _ => Some("an `http_status` status is an HTTP status, e.g. `308`".into()),
            },
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
    }

    /// Each value is one the source can produce and is listed once.
    fn check_documented(&mut self, values: &[Text], native: Option<&model::NativePlan>) {
        let mut seen = HashSet::new();
        for value in values {
            if let Some(help) = Self::value_shape(native, &value.value) {
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
    }

    /// The state: native source, documented values, map, rules; every documented value mapped.
    pub(super) fn lower_state(&mut self, state: &spec::StateSpec) -> Option<model::StatePlan> {
        let native = self.lower_native(&state.native.value, state.native.span, false);
        if let spec::NativeSource::Axes(axes) = &state.native.value {
            return self.lower_axes_state(state, axes, native);
        }
        let written = match &state.documented {
            spec::Documented::List(values) => values.as_slice(),
            spec::Documented::Axes(axes) => {
                let span = axes.0.first().map_or(state.native.span, |(k, _)| k.span);
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        span,
                        "values by axis are for a status with `axes`",
                    )
                    .help("list the documented values: `documented: [QUEUED, RUNNING, DONE]`"),
                );
                &[]
            }
        };
        if written.is_empty() {
            self.push(
                Diagnostic::new(Code::UnmappedValue, state.native.span, "`state.documented` lists no values")
                    .help("list every status value the provider documents, so each can be checked to be mapped"),
            );
        }
        self.check_documented(written, native.as_ref());
        let documented: Vec<String> = written.iter().map(|d| d.value.clone()).collect();
        let mut map = HashMap::new();
        for (native, target) in state.map.iter() {
            if !documented.contains(&native.value) {
                self.push(undocumented("mapped", native, &documented).label("not documented"));
            }
            if let Some(state) = self.state(target) {
                map.insert(native.value.clone(), state);
            }
        }
        let mut rules = Vec::new();
        for rule in &state.rules {
            for native in &rule.native {
                if !documented.contains(&native.value) {
                    self.push(undocumented("rule", native, &documented));
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
        for value in written {
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
        let labels = self.lower_labels(state, &documented);
        let default = self.lower_status_default(state, native.as_ref());
        Some(model::StatePlan {
            native: native?,
            documented,
            map,
            labels,
            rules,
            default,
        })
    }

    /// A status of two or more axes (`upload=complete, transcode=in_progress`): values are
    /// documented per axis; a `map` key or a rule's `native` value names some axes
    /// (`upload=error`) and stands for every documented combination it matches, the first key
    /// that matches a combination mapping it; every combination must be mapped.
    fn lower_axes_state(
        &mut self,
        state: &spec::StateSpec,
        axes: &spec::OrderedMap<spec::Spanned<spec::NativeSource>>,
        native: Option<model::NativePlan>,
    ) -> Option<model::StatePlan> {
        let names: Vec<&str> = axes.iter().map(|(n, _)| n.value.as_str()).collect();
        let mut per_axis: Vec<Vec<String>> = vec![Vec::new(); names.len()];
        match &state.documented {
            spec::Documented::Axes(written) => {
                for (axis, values) in written.iter() {
                    let Some(i) = names.iter().position(|n| *n == axis.value) else {
                        self.push(
                            Diagnostic::new(
                                Code::UndocumentedValue,
                                axis.span,
                                format!("`{}` is not an axis of the status", axis.value),
                            )
                            .help(de::did_you_mean(&axis.value, &names)),
                        );
                        continue;
                    };
                    let source = match &native {
                        Some(model::NativePlan::Axes(lowered)) => lowered.get(i).map(|(_, p)| p),
                        _ => None,
                    };
                    self.check_documented(values, source);
                    per_axis[i] = values.iter().map(|v| v.value.clone()).collect();
                }
            }
            spec::Documented::List(_) => {
                self.push(
                    Diagnostic::new(
                        Code::UnmappedValue,
                        state.native.span,
                        "a status with `axes` documents its values per axis",
                    )
                    .help(format!(
                        "write `documented: {{ {}: [...] }}`",
                        names.join(": [...], ")
                    )),
                );
                return None;
            }
        }
        for (i, values) in per_axis.iter().enumerate() {
            if values.is_empty() {
                self.push(
                    Diagnostic::new(Code::UnmappedValue, axes.0[i].0.span, format!("axis `{}` documents no values", names[i]))
                        .help(format!("add `{}: [...]` under `state.documented`, every value the provider documents", names[i])),
                );
            }
        }
        // Every combination, in the order the values are documented.
        const MAX_COMBINATIONS: usize = 4096;
        let count = per_axis.iter().map(Vec::len).product::<usize>();
        if count > MAX_COMBINATIONS {
            self.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    state.native.span,
                    format!(
                        "{count} combinations of the axes' values, more than {MAX_COMBINATIONS}"
                    ),
                )
                .help("document fewer values, or combine fewer axes"),
            );
            return None;
        }
        let mut combinations: Vec<Vec<&str>> = vec![Vec::new()];
        for values in &per_axis {
            combinations = combinations
                .into_iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        let mut next = prefix.clone();
                        next.push(v.as_str());
                        next
                    })
                })
                .collect();
        }
        let text = |values: &[&str]| -> String {
            names
                .iter()
                .zip(values)
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let documented: Vec<String> = combinations.iter().map(|c| text(c)).collect();
        let mut map = HashMap::new();
        for (key, target) in state.map.iter() {
            let pairs = self.axis_key(key, &names, &per_axis);
            let target = self.state(target);
            if let (Some(pairs), Some(target)) = (pairs, target) {
                for combination in &combinations {
                    if pairs.iter().all(|(i, v)| combination[*i] == v) {
                        map.entry(text(combination)).or_insert(target);
                    }
                }
            }
        }
        let mut rules = Vec::new();
        for rule in &state.rules {
            let mut native = Vec::new();
            for key in &rule.native {
                if let Some(pairs) = self.axis_key(key, &names, &per_axis) {
                    native.extend(
                        combinations
                            .iter()
                            .filter(|c| pairs.iter().all(|(i, v)| c[*i] == v))
                            .map(|c| text(c)),
                    );
                }
            }
            let when = self.condition(&rule.when.value, rule.when.span);
            let target = self.state(&rule.state);
            if let (Some(when), Some(state)) = (when, target) {
                rules.push(model::RulePlan {
                    native,
                    when,
                    state,
                });
            }
        }
        let unmapped: Vec<&String> = documented
            .iter()
            .filter(|d| !map.contains_key(*d))
            .collect();
        if !unmapped.is_empty() {
            let shown: Vec<String> = unmapped.iter().take(3).map(|d| format!("`{d}`")).collect();
            self.push(
                Diagnostic::new(
                    Code::UnmappedValue,
                    state.native.span,
                    format!(
                        "{} combination(s) of the axes are not mapped to a state: {}{}",
                        unmapped.len(),
                        shown.join(", "),
                        if unmapped.len() > 3 { ", …" } else { "" }
                    ),
                )
                .label("unmapped")
                .help(format!(
                    "add `\"{}\": <state>` (or a key naming fewer axes) under `state.map`",
                    unmapped[0]
                )),
            );
        }
        if let Some((key, _)) = state.labels.0.first() {
            self.push(
                Diagnostic::new(
                    Code::UndocumentedValue,
                    key.span,
                    "labels name the coded values of a single status",
                )
                .help("remove `labels`: a status with `axes` is named by its axes' values"),
            );
        }
        if let Some(default) = &state.default {
            self.push(
                Diagnostic::new(
                    Code::InvalidConversion,
                    default.span,
                    "a status with `axes` has no default",
                )
                .help("each axis must be there: remove `default`"),
            );
        }
        Some(model::StatePlan {
            native: native?,
            documented,
            map,
            labels: HashMap::new(),
            rules,
            default: None,
        })
    }

    /// A key naming some axes' values, `upload=error` or `upload=complete, transcode=error`:
    /// each axis declared once, each value documented for its axis.
    fn axis_key(
        &mut self,
        key: &Text,
        names: &[&str],
        per_axis: &[Vec<String>],
    ) -> Option<Vec<(usize, String)>> {
        let mut pairs: Vec<(usize, String)> = Vec::new();
        for part in key.value.split(',') {
            let Some((axis, value)) = part.trim().split_once('=') else {
                self.push(
                    Diagnostic::new(
                        Code::UndocumentedValue,
                        key.span,
                        format!("`{}` does not name an axis", key.value),
                    )
                    .help(format!(
                        "write `axis=value`, several joined by `, `: `{}=...`",
                        names.first().unwrap_or(&"axis")
                    )),
                );
                return None;
            };
            let (axis, value) = (axis.trim(), value.trim());
            let Some(i) = names.iter().position(|n| *n == axis) else {
                self.push(
                    Diagnostic::new(
                        Code::UndocumentedValue,
                        key.span,
                        format!("`{axis}` is not an axis of the status"),
                    )
                    .help(de::did_you_mean(axis, names)),
                );
                return None;
            };
            if !per_axis[i].iter().any(|v| v == value) {
                let known: Vec<&str> = per_axis[i].iter().map(String::as_str).collect();
                self.push(
                    Diagnostic::new(
                        Code::UndocumentedValue,
                        key.span,
                        format!("`{value}` is not a documented value of axis `{axis}`"),
                    )
                    .help(de::did_you_mean(value, &known)),
                );
                return None;
            }
            if pairs.iter().any(|(j, _)| *j == i) {
                self.push(
                    Diagnostic::new(
                        Code::UndocumentedValue,
                        key.span,
                        format!("axis `{axis}` is named twice"),
                    )
                    .help("name each axis once"),
                );
                return None;
            }
            pairs.push((i, value.to_owned()));
        }
        Some(pairs)
    }
}

/// UT111 for a `role` value (`mapped`, `rule`, `labelled`) that `documented` does not list.
fn undocumented(role: &str, native: &Text, documented: &[String]) -> Diagnostic {
    Diagnostic::new(
        Code::UndocumentedValue,
        native.span,
        format!(
            "{role} value `{}` is not in `state.documented`",
            native.value
        ),
    )
    .help(undocumented_help(&native.value, documented))
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
