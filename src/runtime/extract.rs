//! Reading typed values out of an answer with compiled [`Field`]s, and testing [`Condition`]s.
//!
//! An [`Answer`] is everything a definition may read: the body, the payload inside its envelope,
//! the headers, the HTTP status and the clock; an [`At`] adds the item a `files` or `errors`
//! entry maps. A field's values pass through the same steps in both engines: select (a path
//! from its scope, a header, a constant), convert each (`null_values`, `capture`, `map`), work
//! out its `expr`, then combine (`aggregate`, `join`) or take the first; the default when
//! nothing is left. Absent and null read as `None`. A value of the wrong type is an
//! [`ExtractError`] naming where it was read and what was found.

use std::borrow::Cow;

use serde_json::Value;

use crate::model::{Condition, Field, FieldSource, Operand, Subject, TimeFormat};
use crate::spec::{Aggregate, CompareOp, Scope, ValueType};
use crate::syntax::expr::Operands;
use crate::syntax::jsonpath::JsonPath;

/// Everything an answer offers to read.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub status: u16,
    /// Header names compare case-insensitively.
    pub headers: &'a [(String, String)],
    /// The whole body (null when it is empty).
    pub body: &'a Value,
    /// The envelope's root, or the body.
    pub payload: &'a Value,
    /// The time that `before_now` and `after_now` compare with; `None` reads the system clock
    /// when a condition needs it.
    pub now: Option<jiff::Timestamp>,
    /// The values the request was made with, by input name: what `input:` fields read.
    pub inputs: &'a [(String, String)],
}

impl<'a> Answer<'a> {
    /// An answer that is only `value` (status 200, no header): what `validate` reads the values
    /// a definition writes through.
    pub fn of_value(value: &'a Value) -> Answer<'a> {
        Answer {
            status: 200,
            headers: &[],
            body: value,
            payload: value,
            now: None,
            inputs: &[],
        }
    }

    /// Reads from the payload.
    pub fn at(&'a self) -> At<'a> {
        At {
            answer: self,
            item: None,
        }
    }

    /// Every value of the header `name` (given lowercased), in order.
    pub fn header_values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn now(&self) -> jiff::Timestamp {
        self.now.unwrap_or_else(jiff::Timestamp::now)
    }
}

/// Where a read happens: an answer, and the item a `files` or `errors` entry maps.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub answer: &'a Answer<'a>,
    pub item: Option<&'a Value>,
}

impl<'a> At<'a> {
    /// The same answer, reading from `item`.
    pub fn with_item(self, item: &'a Value) -> At<'a> {
        At {
            answer: self.answer,
            item: Some(item),
        }
    }

    /// Where a path of `scope` starts (the payload for `item` outside a list).
    pub fn root(&self, scope: Scope) -> &'a Value {
        match scope {
            Scope::Item => self.item.unwrap_or(self.answer.payload),
            Scope::Payload => self.answer.payload,
            Scope::Body => self.answer.body,
        }
    }
}

/// A value that is there but not what the definition says it is. Boxed: every read returns a
/// `Result` of it, and a small one keeps the common path (no error) cheap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` should be {}, found {}", .0.path, .0.expected, .0.found)]
pub struct ExtractError(Box<Mismatch>);

/// What an [`ExtractError`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub expected: &'static str,
    pub found: String,
}

impl ExtractError {
    pub fn new(path: String, expected: &'static str, found: String) -> ExtractError {
        ExtractError(Box::new(Mismatch {
            path,
            expected,
            found,
        }))
    }
}

impl std::ops::Deref for ExtractError {
    type Target = Mismatch;

    fn deref(&self) -> &Mismatch {
        &self.0
    }
}

fn mismatch(field: &Field, expected: &'static str, found: &Value) -> ExtractError {
    ExtractError::new(source_name(field), expected, describe(found))
}

/// Where a field reads, as messages name it.
fn source_name(field: &Field) -> String {
    match (&field.source, &field.expr) {
        (FieldSource::Path(path), Some(expr)) if path.as_str() == "$" => expr.to_string(),
        (FieldSource::Path(path), _) => path.to_string(),
        (FieldSource::Constant(text), _) => format!("const {text}"),
        (FieldSource::Header(name), _) => format!("header {name}"),
        (FieldSource::Input(name), _) => format!("input {name}"),
    }
}

/// A short description of a JSON value for messages: `a string "abc"`, `an object`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean {b}"),
        Value::Number(n) => format!("a number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("a string {:?}…", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("a string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// One selected value after the field's conversions and expression: `None` when it reads as
/// null (a null, a sentinel of `null_values`, a value mapped to null, an expression with a
/// missing operand).
fn convert<'a>(
    field: &'a Field,
    at: &At<'a>,
    node: Cow<'a, Value>,
) -> Result<Option<Cow<'a, Value>>, ExtractError> {
    if node.is_null() {
        return Ok(None);
    }
    let node = match &field.convert {
        None => node,
        Some(convert) => {
            if convert.nulls.iter().any(|null| same(&node, null, false)) {
                return Ok(None);
            }
            let node = match &convert.capture {
                Some(pattern) => captured(field, pattern, &node)?,
                None => node,
            };
            match convert
                .values
                .iter()
                .find(|(key, _)| matches_key(key, &node))
            {
                Some((_, replacement)) if replacement.is_null() => return Ok(None),
                Some((_, replacement)) => Cow::Borrowed(replacement),
                None => node,
            }
        }
    };
    match &field.expr {
        None => Ok(Some(node)),
        Some(expr) => {
            let operands = ExprOperands {
                field,
                current: &node,
                at,
            };
            Ok(expr.eval(&operands)?.map(|n| Cow::Owned(number_value(n))))
        }
    }
}

/// The text of `capture`'s first group (or of its whole match) in a value's text.
fn captured<'a>(
    field: &Field,
    pattern: &regex_lite::Regex,
    node: &Value,
) -> Result<Cow<'a, Value>, ExtractError> {
    let text = match node {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Owned(b.to_string()),
        other => return Err(mismatch(field, "text for `capture`", other)),
    };
    let captures = pattern
        .captures(&text)
        .ok_or_else(|| mismatch(field, "text that `capture` matches", node))?;
    let part = captures
        .get(1)
        .or_else(|| captures.get(0))
        .map_or("", |m| m.as_str());
    Ok(Cow::Owned(Value::String(part.to_owned())))
}

/// An expression's operands, read for one value of a field.
struct ExprOperands<'a, 'b> {
    field: &'a Field,
    current: &'b Value,
    at: &'b At<'a>,
}

impl Operands for ExprOperands<'_, '_> {
    type Error = ExtractError;

    fn path(&self, path: &JsonPath, current: bool) -> Result<Option<f64>, ExtractError> {
        let root = if current {
            self.current
        } else {
            self.at.root(self.field.scope)
        };
        match path.first(root) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => operand_number(value).map(Some).ok_or_else(|| {
                let path = if current {
                    path.as_str().replacen('$', "@", 1)
                } else {
                    path.to_string()
                };
                ExtractError::new(path, "a number", describe(value))
            }),
        }
    }

    fn header(&self, name: &str) -> Result<Option<f64>, ExtractError> {
        match self.at.answer.header_values(name).next() {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    ExtractError::new(
                        format!("header {name}"),
                        "a number",
                        describe(&Value::String(text.to_owned())),
                    )
                }),
        }
    }
}

fn operand_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Whether a value map's key (always text in YAML) names `node`: strings exactly, numbers by
/// value (`3` names `3.0`), booleans as `true`/`false`.
fn matches_key(key: &str, node: &Value) -> bool {
    match node {
        Value::String(text) => text == key,
        Value::Number(n) => key
            .parse::<f64>()
            .is_ok_and(|k| n.as_f64() == Some(k) || n.to_string() == key),
        Value::Bool(b) => key == if *b { "true" } else { "false" },
        _ => false,
    }
}

fn default_of(field: &Field) -> Option<&Value> {
    field.convert.as_ref().and_then(|c| c.default.as_ref())
}

/// The values a field reads: every selected node (or only the first, with `first`) through
/// [`convert`], nulls dropped (none when `when` does not hold); else its fallback's; else its
/// default.
fn values<'a>(
    field: &'a Field,
    at: &At<'a>,
    first: bool,
) -> Result<Vec<Cow<'a, Value>>, ExtractError> {
    let mut out = Vec::new();
    let read = field.when.as_ref().is_none_or(|when| holds(when, at));
    match &field.source {
        _ if !read => {}
        FieldSource::Constant(text) => out.push(Cow::Owned(Value::String(text.clone()))),
        FieldSource::Path(path) => {
            let root = at.root(field.scope);
            if first {
                if let Some(node) = path.first(root) {
                    out.extend(convert(field, at, Cow::Borrowed(node))?);
                }
            } else {
                for node in path.select(root) {
                    out.extend(convert(field, at, Cow::Borrowed(node))?);
                }
            }
        }
        FieldSource::Input(name) => {
            let given = at.answer.inputs.iter().find(|(n, _)| n == name);
            if let Some((_, value)) = given {
                out.extend(convert(
                    field,
                    at,
                    Cow::Owned(Value::String(value.clone())),
                )?);
            }
        }
        FieldSource::Header(name) => {
            for text in at.answer.header_values(name) {
                out.extend(convert(
                    field,
                    at,
                    Cow::Owned(Value::String(text.to_owned())),
                )?);
                if first {
                    break;
                }
            }
        }
    }
    if out.is_empty()
        && let Some(fallback) = &field.fallback
    {
        out = values(fallback, at, first)?;
    }
    if out.is_empty()
        && let Some(default) = default_of(field)
    {
        out.push(Cow::Borrowed(default));
    }
    Ok(out)
}

/// The first value a field reads, after its conversions, else the default.
#[inline]
fn single<'a>(field: &'a Field, at: &At<'a>) -> Result<Option<Cow<'a, Value>>, ExtractError> {
    // Most fields are a bare path: its node as it is, none of the steps below.
    if let FieldSource::Path(path) = &field.source
        && field.is_bare()
    {
        return Ok(path
            .first(at.root(field.scope))
            .filter(|node| !node.is_null())
            .map(Cow::Borrowed));
    }
    single_converted(field, at)
}

/// [`single`] through the whole pipeline: `values(field, at, true)`'s first item, without its
/// list (this runs for every field of every answer).
fn single_converted<'a>(
    field: &'a Field,
    at: &At<'a>,
) -> Result<Option<Cow<'a, Value>>, ExtractError> {
    let read = field.when.as_ref().is_none_or(|when| holds(when, at));
    let own = match &field.source {
        _ if !read => None,
        FieldSource::Constant(text) => Some(Cow::Owned(Value::String(text.clone()))),
        FieldSource::Path(path) => match path.first(at.root(field.scope)) {
            Some(node) => convert(field, at, Cow::Borrowed(node))?,
            None => None,
        },
        FieldSource::Input(name) => match at.answer.inputs.iter().find(|(n, _)| n == name) {
            Some((_, value)) => convert(field, at, Cow::Owned(Value::String(value.clone())))?,
            None => None,
        },
        FieldSource::Header(name) => match at.answer.header_values(name).next() {
            Some(text) => convert(field, at, Cow::Owned(Value::String(text.to_owned())))?,
            None => None,
        },
    };
    let own = match (own, &field.fallback) {
        (None, Some(fallback)) => single(fallback, at)?,
        (own, _) => own,
    };
    Ok(own.or_else(|| default_of(field).map(Cow::Borrowed)))
}

/// Reads a field as text: strings as they are, numbers and booleans as written, `join` for lists.
pub fn text(field: &Field, at: &At<'_>) -> Result<Option<String>, ExtractError> {
    if let Some(separator) = &field.join {
        let mut parts = Vec::new();
        for node in values(field, at, false)? {
            match &*node {
                Value::Array(items) => {
                    for item in items {
                        if let Some(item) = convert(field, at, Cow::Borrowed(item))? {
                            parts.push(scalar_text(field, &item)?);
                        }
                    }
                }
                other => parts.push(scalar_text(field, other)?),
            }
        }
        return Ok((!parts.is_empty()).then(|| parts.join(separator)));
    }
    match single(field, at)? {
        None => Ok(None),
        Some(value) => scalar_text(field, &value).map(Some),
    }
}

fn scalar_text(field: &Field, value: &Value) -> Result<String, ExtractError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(mismatch(field, "a string", other)),
    }
}

/// Reads a field as a number: JSON numbers, or strings holding one (`"42.5"`). `aggregate: sum`
/// adds every selected number; `aggregate: count` counts the selected nodes.
pub fn number(field: &Field, at: &At<'_>) -> Result<Option<f64>, ExtractError> {
    match field.aggregate {
        Some(Aggregate::Count) => Ok(Some(values(field, at, false)?.len() as f64)),
        Some(Aggregate::Sum) => {
            let selected = values(field, at, false)?;
            if selected.is_empty() {
                return Ok(None);
            }
            selected
                .iter()
                .try_fold(0.0, |sum, v| scalar_number(field, v).map(|n| sum + n))
                .map(Some)
        }
        None => single(field, at)?
            .map(|v| scalar_number(field, &v))
            .transpose(),
    }
}

fn scalar_number(field: &Field, value: &Value) -> Result<f64, ExtractError> {
    operand_number(value).ok_or_else(|| mismatch(field, "a number", value))
}

/// Reads a field as a whole number (strings holding one are accepted).
pub fn integer(field: &Field, at: &At<'_>) -> Result<Option<i64>, ExtractError> {
    match number(field, at)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => Ok(Some(n as i64)),
        Some(n) => Err(mismatch(field, "a whole number", &Value::from(n))),
    }
}

/// Reads a field as a boolean: `true` and `false`, also as text (any case), which is how XML
/// and headers write them.
pub fn boolean(field: &Field, at: &At<'_>) -> Result<Option<bool>, ExtractError> {
    match single(field, at)? {
        None => Ok(None),
        Some(value) => as_boolean(&value)
            .map(Some)
            .ok_or_else(|| mismatch(field, "a boolean", &value)),
    }
}

/// A boolean, or text that says one.
pub fn as_boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Reads a field as a timestamp in the first of its declared formats that fits.
pub fn timestamp(field: &Field, at: &At<'_>) -> Result<Option<jiff::Timestamp>, ExtractError> {
    let Some(value) = single(field, at)? else {
        return Ok(None);
    };
    field
        .time_formats
        .iter()
        .find_map(|format| parse_timestamp_in(format, &field.zone, &value))
        .map(Some)
        .ok_or_else(|| mismatch(field, expected_time(&field.time_formats), &value))
}

fn expected_time(formats: &[TimeFormat]) -> &'static str {
    match formats {
        [TimeFormat::Rfc3339] => "an RFC 3339 timestamp",
        [TimeFormat::EpochSeconds] => "epoch seconds",
        [TimeFormat::EpochMillis] => "epoch milliseconds",
        [TimeFormat::HttpDate] => "an HTTP date",
        [TimeFormat::Naive(_)] => "a time in the declared format",
        _ => "a timestamp in one of the declared formats",
    }
}

/// Parses one timestamp value, reading a time without an offset as UTC; `None` when it does
/// not fit the format.
pub fn parse_timestamp(format: &TimeFormat, value: &Value) -> Option<jiff::Timestamp> {
    parse_timestamp_in(format, &jiff::tz::TimeZone::UTC, value)
}

/// [`parse_timestamp`], reading a time written without an offset in `zone`. A strftime
/// pattern with `%z` or `%Z` reads the offset the text gives.
pub fn parse_timestamp_in(
    format: &TimeFormat,
    zone: &jiff::tz::TimeZone,
    value: &Value,
) -> Option<jiff::Timestamp> {
    let epoch = |scale_digits: u32| -> Option<jiff::Timestamp> {
        let number;
        let text = match value {
            Value::Number(n) => {
                number = n.to_string();
                number.as_str()
            }
            Value::String(s) => s.trim(),
            _ => return None,
        };
        jiff::Timestamp::from_nanosecond(decimal_nanos(text, scale_digits)?).ok()
    };
    match format {
        TimeFormat::Rfc3339 => value.as_str()?.parse::<jiff::Timestamp>().ok(),
        TimeFormat::EpochSeconds => epoch(9),
        TimeFormat::EpochMillis => epoch(6),
        TimeFormat::HttpDate => http_date(value.as_str()?),
        TimeFormat::Naive(pattern) => {
            let parsed = jiff::fmt::strtime::parse(pattern, value.as_str()?).ok()?;
            if parsed.offset().is_some() {
                return parsed.to_timestamp().ok();
            }
            zone.to_timestamp(parsed.to_datetime().ok()?).ok()
        }
    }
}

/// An HTTP date in any of the three forms RFC 9110 §5.6.7 says recipients accept: IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
/// (`Sun Nov  6 08:49:37 1994`).
pub fn http_date(text: &str) -> Option<jiff::Timestamp> {
    if let Ok(zoned) = jiff::fmt::rfc2822::parse(text) {
        return Some(zoned.timestamp());
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| jiff::civil::DateTime::strptime(format, &text).ok())
        .and_then(|civil| civil.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|zoned| zoned.timestamp())
}

/// Reads a field as a duration in seconds.
pub fn duration(field: &Field, at: &At<'_>) -> Result<Option<f64>, ExtractError> {
    let Some(value) = single(field, at)? else {
        return Ok(None);
    };
    parse_duration(&value, field.duration_millis)
        .map(Some)
        .ok_or_else(|| mismatch(field, "a duration", &value))
}

/// A span of time in seconds: a number (of milliseconds when `millis`, also inside a string),
/// or text such as `15s`, `1m30s`, `1.5h` or ISO 8601 `PT1M30S`. Negative spans are refused.
pub fn parse_duration(value: &Value, millis: bool) -> Option<f64> {
    let scale = if millis { 1e-3 } else { 1.0 };
    let seconds = match value {
        Value::Number(n) => n.as_f64()? * scale,
        Value::String(text) => {
            let text = text.trim();
            match text.parse::<f64>() {
                Ok(n) => n * scale,
                Err(_) => text.parse::<jiff::SignedDuration>().ok()?.as_secs_f64(),
            }
        }
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds)
}

/// A decimal count of seconds (scale 9) or milliseconds (scale 6) as nanoseconds, exactly:
/// through an `f64`, `1714644000.25` would become `…00.249999872`. Exponents fall back to `f64`.
fn decimal_nanos(text: &str, scale_digits: u32) -> Option<i128> {
    if text.contains(['e', 'E']) {
        let nanos = text.parse::<f64>().ok()? * 10f64.powi(scale_digits as i32);
        return (nanos.is_finite() && nanos.abs() < 1e30).then(|| nanos.round() as i128);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !all_digits(whole)
        || !all_digits(fraction)
        || whole.len() > 20
    {
        return None;
    }
    let scale = 10i128.pow(scale_digits);
    let whole = if whole.is_empty() {
        0
    } else {
        whole.parse::<i128>().ok()?
    };
    let kept = &fraction[..fraction.len().min(scale_digits as usize)];
    let fraction = if kept.is_empty() {
        0
    } else {
        kept.parse::<i128>().ok()? * 10i128.pow(scale_digits - kept.len() as u32)
    };
    let nanos = whole * scale + fraction;
    Some(if negative { -nanos } else { nanos })
}

/// A number as JSON: whole numbers without a fraction.
pub fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

/// Reads a field as the JSON value of its declared type (for `extra`).
pub fn typed(field: &Field, at: &At<'_>) -> Result<Option<Value>, ExtractError> {
    Ok(match field.kind {
        ValueType::String => text(field, at)?.map(Value::String),
        ValueType::Integer => integer(field, at)?.map(Value::from),
        ValueType::Number => number(field, at)?.map(number_value),
        ValueType::Boolean => boolean(field, at)?.map(Value::Bool),
        ValueType::Timestamp => timestamp(field, at)?.map(|t| Value::String(t.to_string())),
        ValueType::Duration => duration(field, at)?.map(number_value),
        ValueType::Json => {
            let plural = matches!(&field.source, FieldSource::Path(path) if !path.is_singular());
            if let Some(separator) = &field.split {
                match single(field, at)?.as_deref() {
                    None => None,
                    Some(Value::String(text)) => Some(Value::Array(
                        text.split(separator.as_str())
                            .map(str::trim)
                            .filter(|part| !part.is_empty())
                            .map(|part| Value::String(part.to_owned()))
                            .collect(),
                    )),
                    // Already a list: some providers send either form.
                    Some(list @ Value::Array(_)) => Some(list.clone()),
                    Some(other) => return Err(mismatch(field, "a string to split", other)),
                }
            } else if field.join.is_some() {
                text(field, at)?.map(Value::String)
            } else if plural {
                let all: Vec<Value> = values(field, at, false)?
                    .into_iter()
                    .map(Cow::into_owned)
                    .collect();
                (!all.is_empty()).then_some(Value::Array(all))
            } else {
                single(field, at)?.map(Cow::into_owned)
            }
        }
    })
}

/// Tests a condition.
pub fn holds(condition: &Condition, at: &At<'_>) -> bool {
    match condition {
        Condition::Equals {
            subject: Subject::Header(name),
            value,
            ignore_case,
        } => at
            .answer
            .header_values(name)
            .any(|text| same(&header_as(text, value), value, *ignore_case)),
        Condition::In {
            subject: Subject::Header(name),
            values,
            ignore_case,
        } => at.answer.header_values(name).any(|text| {
            values
                .iter()
                .any(|v| same(&header_as(text, v), v, *ignore_case))
        }),
        Condition::Equals {
            subject,
            value,
            ignore_case,
        } => any_node(subject, at, |node| same(node, value, *ignore_case)),
        Condition::In {
            subject,
            values,
            ignore_case,
        } => any_node(subject, at, |node| {
            values.iter().any(|v| same(node, v, *ignore_case))
        }),
        Condition::Exists(subject) => any_node(subject, at, |_| true),
        Condition::Absent(subject) => !any_node(subject, at, |_| true),
        Condition::Null(subject) => any_node(subject, at, Value::is_null),
        Condition::Empty(subject) => !any_node(subject, at, is_filled),
        Condition::NonEmpty(subject) => any_node(subject, at, is_filled),
        Condition::Status(statuses) => statuses.contains(&at.answer.status),
        Condition::Compare { left, op, right } => {
            let Ok(Some(left)) = number(left, at) else {
                return false;
            };
            let right = match &**right {
                Operand::Number(n) => *n,
                Operand::Field(field) => match number(field, at) {
                    Ok(Some(n)) => n,
                    _ => return false,
                },
            };
            match op {
                CompareOp::Eq => left == right,
                CompareOp::Ne => left != right,
                CompareOp::Lt => left < right,
                CompareOp::Le => left <= right,
                CompareOp::Gt => left > right,
                CompareOp::Ge => left >= right,
            }
        }
        Condition::BeforeNow(field) => {
            matches!(timestamp(field, at), Ok(Some(t)) if t < at.answer.now())
        }
        Condition::AfterNow(field) => {
            matches!(timestamp(field, at), Ok(Some(t)) if t > at.answer.now())
        }
        Condition::All(all) => all.iter().all(|c| holds(c, at)),
        Condition::Any(any) => any.iter().any(|c| holds(c, at)),
        Condition::Not(inner) => !holds(inner, at),
    }
}

/// Whether `test` holds for one node the subject selects: a header's values are strings.
fn any_node(subject: &Subject, at: &At<'_>, test: impl Fn(&Value) -> bool) -> bool {
    match subject {
        Subject::Path(path, scope) => path.select(at.root(*scope)).into_iter().any(test),
        Subject::Header(name) => at
            .answer
            .header_values(name)
            .any(|text| test(&Value::String(text.trim().to_owned()))),
    }
}

/// A header's text as the kind of value it is compared with: headers are text, so `200`
/// equals the header `200` and `true` the header `True`.
fn header_as(text: &str, like: &Value) -> Value {
    let text = text.trim();
    match like {
        Value::Number(_) => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map_or_else(|| Value::String(text.to_owned()), number_value),
        Value::Bool(_) => as_boolean(&Value::String(text.to_owned()))
            .map_or_else(|| Value::String(text.to_owned()), Value::Bool),
        _ => Value::String(text.to_owned()),
    }
}

fn is_filled(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// JSON equality where numbers compare by value and strings may ignore case.
pub fn same(a: &Value, b: &Value, ignore_case: bool) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) if ignore_case => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The readers as the tests call them: on a body alone.
    fn number(field: &Field, body: &Value) -> Result<Option<f64>, ExtractError> {
        super::number(field, &Answer::of_value(body).at())
    }
    fn text(field: &Field, body: &Value) -> Result<Option<String>, ExtractError> {
        super::text(field, &Answer::of_value(body).at())
    }
    fn timestamp(field: &Field, body: &Value) -> Result<Option<jiff::Timestamp>, ExtractError> {
        super::timestamp(field, &Answer::of_value(body).at())
    }
    fn holds(condition: &Condition, body: &Value) -> bool {
        super::holds(condition, &Answer::of_value(body).at())
    }

    fn field(path: &str) -> Field {
        Field::plain(
            FieldSource::Path(JsonPath::parse(path).expect(path)),
            ValueType::Json,
        )
    }

    #[test]
    fn numbers_in_strings_and_sums() {
        let body = json!({"p": "42.5", "parts": [{"Size": 2}, {"Size": 3}], "bad": {"x": 1}});
        assert_eq!(number(&field("$.p"), &body), Ok(Some(42.5)));
        let mut sum = field("$.parts[*].Size");
        sum.aggregate = Some(Aggregate::Sum);
        assert_eq!(number(&sum, &body), Ok(Some(5.0)));
        let mut count = field("$.parts[*]");
        count.aggregate = Some(Aggregate::Count);
        assert_eq!(number(&count, &body), Ok(Some(2.0)));
        assert_eq!(number(&field("$.missing"), &body), Ok(None));
        let error = number(&field("$.bad"), &body).expect_err("object is no number");
        assert_eq!(
            error.to_string(),
            "`$.bad` should be a number, found an object"
        );
    }

    #[test]
    fn timestamps_in_every_format() {
        let utc = |s: &str| s.parse::<jiff::Timestamp>().expect(s);
        let cases = [
            (
                TimeFormat::Rfc3339,
                json!("2024-05-02T10:00:00.120Z"),
                utc("2024-05-02T10:00:00.12Z"),
            ),
            (
                TimeFormat::EpochSeconds,
                json!(1714644000.5),
                utc("2024-05-02T10:00:00.5Z"),
            ),
            (
                TimeFormat::EpochSeconds,
                json!(1714644000.25),
                utc("2024-05-02T10:00:00.25Z"),
            ),
            (
                TimeFormat::EpochSeconds,
                json!("-1.5"),
                utc("1969-12-31T23:59:58.5Z"),
            ),
            (
                TimeFormat::EpochSeconds,
                json!(1.7146440005e9),
                utc("2024-05-02T10:00:00.5Z"),
            ),
            (
                TimeFormat::EpochSeconds,
                json!("1714644000"),
                utc("2024-05-02T10:00:00Z"),
            ),
            (
                TimeFormat::EpochMillis,
                json!(1714644000120_i64),
                utc("2024-05-02T10:00:00.12Z"),
            ),
            (
                TimeFormat::Naive("%Y-%m-%d %H:%M:%S".into()),
                json!("2024-05-02 10:00:00"),
                utc("2024-05-02T10:00:00Z"),
            ),
        ];
        for (format, value, expected) in cases {
            assert_eq!(
                parse_timestamp(&format, &value),
                Some(expected),
                "{format:?} {value}"
            );
        }
        assert_eq!(parse_timestamp(&TimeFormat::Rfc3339, &json!(12)), None);
        assert_eq!(
            parse_timestamp(&TimeFormat::EpochSeconds, &json!(1e300)),
            None
        );
    }

    #[test]
    fn durations_in_every_form() {
        let seconds = |v: Value| parse_duration(&v, false);
        assert_eq!(seconds(json!(90)), Some(90.0));
        assert_eq!(seconds(json!("90")), Some(90.0));
        assert_eq!(seconds(json!("15s")), Some(15.0));
        assert_eq!(seconds(json!("1m30s")), Some(90.0));
        assert_eq!(seconds(json!("1.5s")), Some(1.5));
        assert_eq!(seconds(json!("250ms")), Some(0.25));
        assert_eq!(seconds(json!("PT1M30S")), Some(90.0));
        assert_eq!(seconds(json!("1h")), Some(3600.0));
        assert_eq!(parse_duration(&json!(1500), true), Some(1.5));
        assert_eq!(seconds(json!("-5s")), None);
        assert_eq!(seconds(json!("soon")), None);
        assert_eq!(seconds(json!(true)), None);
    }

    #[test]
    fn conversions_map_null_and_default() {
        let mut code = field("$.code");
        code.kind = ValueType::String;
        code.convert = Some(Box::new(crate::model::Conversions {
            capture: None,
            values: vec![
                ("3".into(), json!("INVALID_ARGUMENT")),
                ("gone".into(), Value::Null),
            ],
            nulls: vec![json!(-1), json!("")],
            default: Some(json!("NONE")),
        }));
        let read = |body: Value| text(&code, &body);
        assert_eq!(
            read(json!({"code": 3})),
            Ok(Some("INVALID_ARGUMENT".into()))
        );
        assert_eq!(
            read(json!({"code": 3.0})),
            Ok(Some("INVALID_ARGUMENT".into()))
        );
        assert_eq!(read(json!({"code": 4})), Ok(Some("4".into())));
        assert_eq!(read(json!({"code": -1})), Ok(Some("NONE".into())));
        assert_eq!(read(json!({"code": ""})), Ok(Some("NONE".into())));
        assert_eq!(read(json!({"code": "gone"})), Ok(Some("NONE".into())));
        assert_eq!(read(json!({})), Ok(Some("NONE".into())));
        let mut sum = field("$.parts[*]");
        sum.aggregate = Some(Aggregate::Sum);
        sum.convert = Some(Box::new(crate::model::Conversions {
            nulls: vec![json!(-1)],
            ..Default::default()
        }));
        assert_eq!(number(&sum, &json!({"parts": [2, -1, 3]})), Ok(Some(5.0)));
        assert_eq!(number(&sum, &json!({"parts": [-1]})), Ok(None));
    }

    #[test]
    fn naive_times_in_a_zone_and_several_formats() {
        let utc = |s: &str| s.parse::<jiff::Timestamp>().expect(s);
        let shanghai = jiff::tz::TimeZone::get("Asia/Shanghai").expect("bundled tzdb");
        let naive = TimeFormat::Naive("%Y-%m-%d %H:%M:%S".into());
        assert_eq!(
            parse_timestamp_in(&naive, &shanghai, &json!("2024-05-02 18:00:00")),
            Some(utc("2024-05-02T10:00:00Z"))
        );
        // New York in summer is UTC-4, in winter UTC-5: the zone, not a fixed offset.
        let new_york = jiff::tz::TimeZone::get("America/New_York").expect("bundled tzdb");
        assert_eq!(
            parse_timestamp_in(&naive, &new_york, &json!("2024-07-01 08:00:00")),
            Some(utc("2024-07-01T12:00:00Z"))
        );
        assert_eq!(
            parse_timestamp_in(&naive, &new_york, &json!("2024-01-01 08:00:00")),
            Some(utc("2024-01-01T13:00:00Z"))
        );
        // An offset in the text wins over the zone.
        let offset = TimeFormat::Naive("%Y-%m-%d %H:%M:%S %z".into());
        assert_eq!(
            parse_timestamp_in(&offset, &shanghai, &json!("2024-05-02 10:00:00 +0000")),
            Some(utc("2024-05-02T10:00:00Z"))
        );
        let mut both = field("$.t");
        both.time_formats = vec![TimeFormat::Rfc3339, TimeFormat::EpochSeconds];
        assert_eq!(
            timestamp(&both, &json!({"t": 1714644000})),
            Ok(Some(utc("2024-05-02T10:00:00Z")))
        );
        assert_eq!(
            timestamp(&both, &json!({"t": "2024-05-02T10:00:00Z"})),
            Ok(Some(utc("2024-05-02T10:00:00Z")))
        );
        let error = timestamp(&both, &json!({"t": "yesterday"})).expect_err("no format fits");
        assert_eq!(error.expected, "a timestamp in one of the declared formats");
    }

    #[test]
    fn joins_lists_into_text() {
        let mut joined = field("$.path");
        joined.join = Some("/".into());
        let body = json!({"path": ["foo", "bar", "a.mp4"]});
        assert_eq!(text(&joined, &body), Ok(Some("foo/bar/a.mp4".into())));
    }

    #[test]
    fn conditions() {
        let body = json!({"code": "success", "errors": [], "n": 1, "x": null});
        let path = |p: &str| Subject::Path(JsonPath::parse(p).expect(p), Scope::Payload);
        let eq = Condition::Equals {
            subject: path("$.code"),
            value: json!("Success"),
            ignore_case: true,
        };
        assert!(holds(&eq, &body));
        assert!(holds(&Condition::Empty(path("$.errors")), &body));
        assert!(holds(&Condition::Empty(path("$.missing")), &body));
        assert!(!holds(&Condition::NonEmpty(path("$.errors")), &body));
        assert!(holds(&Condition::Null(path("$.x")), &body));
        assert!(holds(&Condition::Exists(path("$.x")), &body));
        assert!(holds(&Condition::Absent(path("$.y")), &body));
        let one = Condition::In {
            subject: path("$.n"),
            values: vec![json!(1.0), json!(2)],
            ignore_case: false,
        };
        assert!(holds(&one, &body));
        assert!(!holds(&Condition::Not(Box::new(one)), &body));
    }

    fn answer<'a>(headers: &'a [(String, String)], body: &'a Value, status: u16) -> Answer<'a> {
        Answer {
            status,
            headers,
            body,
            payload: body,
            now: Some("2024-05-02T10:00:00Z".parse().expect("time")),
            inputs: &[],
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn headers_status_and_the_clock() {
        let headers = headers(&[
            ("Upload-Offset", "400"),
            ("upload-length", "400"),
            ("Upload-Expires", "Wed, 01 May 2024 16:00:00 GMT"),
            ("X-Empty", " "),
        ]);
        let body = Value::Null;
        let answer = answer(&headers, &body, 204);
        let at = answer.at();
        let header = |name: &str| {
            Field::plain(
                FieldSource::Header(name.to_ascii_lowercase()),
                ValueType::Json,
            )
        };
        assert_eq!(
            super::number(&header("Upload-Offset"), &at),
            Ok(Some(400.0))
        );
        assert_eq!(super::text(&header("X-Missing"), &at), Ok(None));
        let subject = |name: &str| Subject::Header(name.to_ascii_lowercase());
        let equal = Condition::Equals {
            subject: subject("UPLOAD-OFFSET"),
            value: json!(400),
            ignore_case: false,
        };
        assert!(super::holds(&equal, &at));
        assert!(super::holds(
            &Condition::Exists(subject("upload-length")),
            &at
        ));
        assert!(super::holds(&Condition::Empty(subject("X-Empty")), &at));
        assert!(super::holds(&Condition::Absent(subject("X-Missing")), &at));
        assert!(super::holds(&Condition::Status(vec![200, 204]), &at));
        assert!(!super::holds(&Condition::Status(vec![404]), &at));
        let compare = |op| Condition::Compare {
            left: Box::new(header("Upload-Offset")),
            op,
            right: Box::new(Operand::Field(header("Upload-Length"))),
        };
        assert!(super::holds(&compare(CompareOp::Eq), &at));
        assert!(super::holds(&compare(CompareOp::Ge), &at));
        assert!(!super::holds(&compare(CompareOp::Lt), &at));
        let missing = Condition::Compare {
            left: Box::new(header("X-Missing")),
            op: CompareOp::Ne,
            right: Box::new(Operand::Number(1.0)),
        };
        assert!(
            !super::holds(&missing, &at),
            "a side that does not read never holds"
        );
        let mut expires = header("Upload-Expires");
        expires.time_formats = vec![TimeFormat::HttpDate];
        assert!(super::holds(
            &Condition::BeforeNow(Box::new(expires.clone())),
            &at
        ));
        assert!(!super::holds(&Condition::AfterNow(Box::new(expires)), &at));
    }

    #[test]
    fn captures_and_expressions_per_value() {
        let headers = headers(&[("Range", "bytes=0-524287")]);
        let body = json!({
            "done": 3, "total": 4, "zero": 0,
            "parts": [{"from": 0, "to": 99}, {"from": 100, "to": 149}],
            "__type": "com.amazonaws.mediaconvert#NotFoundException"
        });
        let answer = answer(&headers, &body, 308);
        let at = answer.at();
        let expr = |text: &str| {
            Some(Box::new(
                crate::syntax::expr::Expr::parse(text).expect(text),
            ))
        };
        let capture = |pattern: &str| {
            Some(Box::new(crate::model::Conversions {
                capture: Some(regex_lite::Regex::new(pattern).expect(pattern)),
                ..Default::default()
            }))
        };
        let mut range = Field::plain(FieldSource::Header("range".into()), ValueType::Number);
        range.convert = capture(r"^bytes=\d+-(\d+)$");
        range.expr = expr("@ + 1");
        assert_eq!(super::number(&range, &at), Ok(Some(524288.0)));
        let mut parts = field("$.parts[*]");
        parts.aggregate = Some(Aggregate::Sum);
        parts.expr = expr("@.to - @.from + 1");
        assert_eq!(super::number(&parts, &at), Ok(Some(150.0)));
        let mut percent = field("$");
        percent.expr = expr("$.done / $.total * 100");
        assert_eq!(super::number(&percent, &at), Ok(Some(75.0)));
        percent.expr = expr("$.done / $.zero");
        assert_eq!(
            super::number(&percent, &at),
            Ok(None),
            "no number from a zero total"
        );
        let mut code = field("$.__type");
        code.convert = capture("(?:.*#)?(.+)$");
        assert_eq!(
            super::text(&code, &at),
            Ok(Some("NotFoundException".into()))
        );
        let mut unmatched = field("$.done");
        unmatched.convert = capture("^x(.*)");
        let error = super::text(&unmatched, &at).expect_err("does not match");
        assert_eq!(error.expected, "text that `capture` matches");
    }

    #[test]
    fn scopes_items_and_when() {
        let body = json!({"data": {"url": "https://a", "items": [{"n": 1}]}, "code": 0});
        let payload = body["data"].clone();
        let answer = Answer {
            payload: &payload,
            ..Answer::of_value(&body)
        };
        let item = &payload["items"][0];
        let at = answer.at().with_item(item);
        let from = |p: &str, scope| {
            let mut f = field(p);
            f.scope = scope;
            super::text(&f, &at)
        };
        assert_eq!(from("$.n", Scope::Item), Ok(Some("1".into())));
        assert_eq!(from("$.url", Scope::Payload), Ok(Some("https://a".into())));
        assert_eq!(from("$.code", Scope::Body), Ok(Some("0".into())));
        let mut guarded = field("$.url");
        guarded.scope = Scope::Payload;
        guarded.when = Some(Box::new(Condition::Equals {
            subject: Subject::Path(JsonPath::parse("$.code").expect("path"), Scope::Body),
            value: json!(1),
            ignore_case: false,
        }));
        assert_eq!(super::text(&guarded, &at), Ok(None));
    }

    #[test]
    fn a_fallback_reads_when_the_field_reads_nothing() {
        let body = json!({"size": "11", "detail": null, "code": "x"});
        let mut done = field("$.done");
        done.fallback = Some(Box::new(field("$.size")));
        assert_eq!(number(&done, &body), Ok(Some(11.0)));
        // A `when` that does not hold leaves the field's own value unread, not its fallback.
        let mut guarded = field("$.size");
        guarded.when = Some(Box::new(Condition::Status(vec![308])));
        guarded.fallback = Some(Box::new(field("$.code")));
        assert_eq!(text(&guarded, &body), Ok(Some("x".into())));
        // The default comes last.
        let mut message = field("$.detail");
        message.fallback = Some(Box::new(field("$.missing")));
        message.convert = Some(Box::new(crate::model::Conversions {
            default: Some(json!("none")),
            ..Default::default()
        }));
        assert_eq!(text(&message, &body), Ok(Some("none".into())));
    }

    #[test]
    fn booleans_also_as_text() {
        for (value, read) in [
            (json!(true), Some(true)),
            (json!("False"), Some(false)),
            (json!(" TRUE "), Some(true)),
            (json!("yes"), None),
            (json!(1), None),
        ] {
            assert_eq!(as_boolean(&value), read, "{value}");
        }
    }
}
