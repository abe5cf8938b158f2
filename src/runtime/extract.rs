//! Reading typed values out of a JSON body with compiled [`Field`]s, and testing [`Condition`]s.
//!
//! Absent and null read as `None`. A value of the wrong type is an [`ExtractError`] naming the path
//! and what was found; the caller turns it into a `decode` error with an excerpt of the body.

use serde_json::Value;

use crate::model::{Condition, Field, FieldSource, TimeFormat};
use crate::spec::{Aggregate, ValueType};
use crate::syntax::jsonpath::JsonPath;

/// A value that is there but not what the definition says it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` should be {expected}, found {found}")]
pub struct ExtractError {
    pub path: String,
    pub expected: &'static str,
    pub found: String,
}

fn mismatch(field: &Field, expected: &'static str, found: &Value) -> ExtractError {
    ExtractError {
        path: match &field.source {
            FieldSource::Path(path) => path.to_string(),
            FieldSource::Constant(text) => format!("const {text}"),
        },
        expected,
        found: describe(found),
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

/// A selected node after the field's conversions: `None` when it reads as null (a null, a
/// sentinel of `null_values`, or a value mapped to null).
fn converted<'a>(field: &'a Field, node: &'a Value) -> Option<&'a Value> {
    if node.is_null() {
        return None;
    }
    let Some(convert) = &field.convert else {
        return Some(node);
    };
    if convert.nulls.iter().any(|null| same(node, null, false)) {
        return None;
    }
    match convert
        .values
        .iter()
        .find(|(key, _)| matches_key(key, node))
    {
        Some((_, replacement)) => (!replacement.is_null()).then_some(replacement),
        None => Some(node),
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

/// The nodes a field selects after its conversions, nulls dropped; the default when none is
/// left. Constants are handled by the callers.
fn nodes<'a>(field: &'a Field, path: &JsonPath, root: &'a Value) -> Vec<&'a Value> {
    let mut all: Vec<&Value> = path
        .select(root)
        .into_iter()
        .filter_map(|v| converted(field, v))
        .collect();
    if all.is_empty() {
        all.extend(default_of(field));
    }
    all
}

/// The first node a field selects, after its conversions, else the default.
fn first<'a>(field: &'a Field, path: &JsonPath, root: &'a Value) -> Option<&'a Value> {
    path.first(root)
        .and_then(|v| converted(field, v))
        .or_else(|| default_of(field))
}

/// Reads a field as text: strings as they are, numbers and booleans as written, `join` for lists.
pub fn text(field: &Field, root: &Value) -> Result<Option<String>, ExtractError> {
    let path = match &field.source {
        FieldSource::Constant(text) => return Ok(Some(text.clone())),
        FieldSource::Path(path) => path,
    };
    if let Some(separator) = &field.join {
        let mut parts = Vec::new();
        for node in nodes(field, path, root) {
            match node {
                Value::Array(items) => {
                    for item in items.iter().filter_map(|v| converted(field, v)) {
                        parts.push(scalar_text(field, item)?);
                    }
                }
                other => parts.push(scalar_text(field, other)?),
            }
        }
        return Ok((!parts.is_empty()).then(|| parts.join(separator)));
    }
    match first(field, path, root) {
        None => Ok(None),
        Some(value) => scalar_text(field, value).map(Some),
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
pub fn number(field: &Field, root: &Value) -> Result<Option<f64>, ExtractError> {
    let path = match &field.source {
        FieldSource::Constant(text) => {
            return text
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| mismatch(field, "a number", &Value::String(text.clone())));
        }
        FieldSource::Path(path) => path,
    };
    match field.aggregate {
        Some(Aggregate::Count) => Ok(Some(nodes(field, path, root).len() as f64)),
        Some(Aggregate::Sum) => {
            let selected = nodes(field, path, root);
            if selected.is_empty() {
                return Ok(None);
            }
            selected
                .into_iter()
                .try_fold(0.0, |sum, v| scalar_number(field, v).map(|n| sum + n))
                .map(Some)
        }
        None => first(field, path, root)
            .map(|v| scalar_number(field, v))
            .transpose(),
    }
}

fn scalar_number(field: &Field, value: &Value) -> Result<f64, ExtractError> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    };
    parsed.ok_or_else(|| mismatch(field, "a number", value))
}

/// Reads a field as a whole number (strings holding one are accepted).
pub fn integer(field: &Field, root: &Value) -> Result<Option<i64>, ExtractError> {
    match number(field, root)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => Ok(Some(n as i64)),
        Some(n) => Err(mismatch(field, "a whole number", &Value::from(n))),
    }
}

/// Reads a field as a boolean.
pub fn boolean(field: &Field, root: &Value) -> Result<Option<bool>, ExtractError> {
    let value = match &field.source {
        FieldSource::Constant(text) => return Ok(Some(text == "true")),
        FieldSource::Path(path) => first(field, path, root),
    };
    match value {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(mismatch(field, "a boolean", other)),
    }
}

/// The one value a scalar field reads: its constant as text, or its first node after the
/// conversions (`None` when there is none).
fn single<'a>(field: &'a Field, root: &'a Value) -> Option<std::borrow::Cow<'a, Value>> {
    match &field.source {
        FieldSource::Constant(text) => Some(std::borrow::Cow::Owned(Value::String(text.clone()))),
        FieldSource::Path(path) => first(field, path, root).map(std::borrow::Cow::Borrowed),
    }
}

/// Reads a field as a timestamp in the first of its declared formats that fits.
pub fn timestamp(field: &Field, root: &Value) -> Result<Option<jiff::Timestamp>, ExtractError> {
    let Some(value) = single(field, root) else {
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
        TimeFormat::Naive(pattern) => {
            let parsed = jiff::fmt::strtime::parse(pattern, value.as_str()?).ok()?;
            if parsed.offset().is_some() {
                return parsed.to_timestamp().ok();
            }
            zone.to_timestamp(parsed.to_datetime().ok()?).ok()
        }
    }
}

/// Reads a field as a duration in seconds.
pub fn duration(field: &Field, root: &Value) -> Result<Option<f64>, ExtractError> {
    let Some(value) = single(field, root) else {
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
fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

/// Reads a field as the JSON value of its declared type (for `extra`).
pub fn typed(field: &Field, root: &Value) -> Result<Option<Value>, ExtractError> {
    Ok(match field.kind {
        ValueType::String => text(field, root)?.map(Value::String),
        ValueType::Integer => integer(field, root)?.map(Value::from),
        ValueType::Number => number(field, root)?.map(number_value),
        ValueType::Boolean => boolean(field, root)?.map(Value::Bool),
        ValueType::Timestamp => timestamp(field, root)?.map(|t| Value::String(t.to_string())),
        ValueType::Duration => duration(field, root)?.map(number_value),
        ValueType::Json => match &field.source {
            FieldSource::Constant(text) => Some(Value::String(text.clone())),
            FieldSource::Path(path) if field.split.is_some() => {
                let separator = field.split.as_deref().unwrap_or_default();
                match first(field, path, root) {
                    None => None,
                    Some(Value::String(text)) => Some(Value::Array(
                        text.split(separator)
                            .map(str::trim)
                            .filter(|part| !part.is_empty())
                            .map(|part| Value::String(part.to_owned()))
                            .collect(),
                    )),
                    // Already a list: some providers send either form.
                    Some(list @ Value::Array(_)) => Some(list.clone()),
                    Some(other) => return Err(mismatch(field, "a string to split", other)),
                }
            }
            FieldSource::Path(path) if field.join.is_some() || !path.is_singular() => {
                if field.join.is_some() {
                    text(field, root)?.map(Value::String)
                } else {
                    let all: Vec<Value> = nodes(field, path, root).into_iter().cloned().collect();
                    (!all.is_empty()).then_some(Value::Array(all))
                }
            }
            FieldSource::Path(path) => first(field, path, root).cloned(),
        },
    })
}

/// Tests a condition on `root`.
pub fn holds(condition: &Condition, root: &Value) -> bool {
    match condition {
        Condition::Equals {
            path,
            value,
            ignore_case,
        } => path
            .select(root)
            .into_iter()
            .any(|node| same(node, value, *ignore_case)),
        Condition::In {
            path,
            values,
            ignore_case,
        } => path
            .select(root)
            .into_iter()
            .any(|node| values.iter().any(|v| same(node, v, *ignore_case))),
        Condition::Exists(path) => !path.select(root).is_empty(),
        Condition::Absent(path) => path.select(root).is_empty(),
        Condition::Null(path) => path.select(root).into_iter().any(Value::is_null),
        Condition::Empty(path) => !path.select(root).into_iter().any(is_filled),
        Condition::NonEmpty(path) => path.select(root).into_iter().any(is_filled),
        Condition::All(all) => all.iter().all(|c| holds(c, root)),
        Condition::Any(any) => any.iter().any(|c| holds(c, root)),
        Condition::Not(inner) => !holds(inner, root),
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
        let path = |p: &str| JsonPath::parse(p).expect(p);
        let eq = Condition::Equals {
            path: path("$.code"),
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
            path: path("$.n"),
            values: vec![json!(1.0), json!(2)],
            ignore_case: false,
        };
        assert!(holds(&one, &body));
        assert!(!holds(&Condition::Not(Box::new(one)), &body));
    }
}
