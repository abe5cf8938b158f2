//! Field mappings (paths, constants, types, conversions) and the response plan built from them:
//! envelope, id and timestamps, progress, files, errors and `extra`.

use super::{Lowerer, Slot, all_ok};
use crate::model::{self, Field, FieldSource, TimeFormat};
use crate::spec::{self, Aggregate, FieldSpec, Text, ValueType};
use crate::validate::{Code, Diagnostic};

impl Lowerer<'_> {
    /// A field mapping for a slot.
    pub(super) fn field(&mut self, spec: &FieldSpec, slot: Slot) -> Option<Field> {
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
            // A count is a whole number and a sum a number, whatever they read.
            (Slot::Extra, None) => match spec.aggregate.as_ref().map(|a| a.value) {
                Some(Aggregate::Count) => ValueType::Integer,
                Some(Aggregate::Sum) => ValueType::Number,
                None => ValueType::Json,
            },
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
        all_ok(before, self.out)?;
        Some(Field {
            source: source?,
            kind,
            time_format,
            join: spec.join.as_ref().map(|j| j.value.clone()),
            aggregate: spec.aggregate.as_ref().map(|a| a.value),
        })
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

    pub(super) fn time_format(&mut self, text: &Text) -> Option<TimeFormat> {
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

    pub(super) fn lower_response(
        &mut self,
        response: &spec::Response,
    ) -> Option<model::ResponsePlan> {
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
}
