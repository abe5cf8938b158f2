//! Writing YAML that reads back exactly what was written: scalars plain only where YAML cannot
//! misread them, else double-quoted with escapes; JSON values as block mappings and sequences.

use serde_json::Value;

/// `text` as a YAML scalar: plain when it is a simple word, path or URL that YAML reads as that
/// very string, else double-quoted (every character YAML cannot carry raw is escaped).
pub fn scalar(text: &str) -> String {
    if is_plain(text) {
        text.to_owned()
    } else {
        quoted(text)
    }
}

fn is_plain(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let reserved = matches!(
        text.to_ascii_lowercase().as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
    );
    let numeric = text.parse::<f64>().is_ok()
        || text.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '+' || c == '-')
        || text.eq_ignore_ascii_case(".inf")
        || text.eq_ignore_ascii_case(".nan");
    (first.is_ascii_alphabetic() || first == '_' || first == '/' || first == '$')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./$@".contains(c))
        && !reserved
        && !numeric
        && !text.ends_with(':')
}

/// `text` double-quoted, with `"`, `\` and every character YAML does not allow raw escaped.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// YAML 1.2's printable characters (`c-printable`), less the byte-order mark.
fn printable(c: char) -> bool {
    matches!(c,
        '\u{20}'..='\u{7e}'
        | '\u{85}'
        | '\u{a0}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fefe}'
        | '\u{ff00}'..='\u{fffd}'
        | '\u{10000}'..='\u{10ffff}')
}

/// A JSON scalar (or an empty container) as YAML, or `None` for a non-empty container.
fn inline(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        _ => return None,
    })
}

/// Writes `key: value` at `indent` spaces, nesting containers in block style.
pub fn entry(out: &mut String, indent: usize, key: &str, value: &Value) {
    out.push_str(&" ".repeat(indent));
    out.push_str(&scalar(key));
    out.push(':');
    match inline(value) {
        Some(text) => {
            out.push(' ');
            out.push_str(&text);
            out.push('\n');
        }
        None => {
            out.push('\n');
            body(out, indent + 2, value);
        }
    }
}

/// Writes the members or items of a non-empty container at `indent`.
fn body(out: &mut String, indent: usize, value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                entry(out, indent, key, value);
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&" ".repeat(indent));
                out.push('-');
                match inline(item) {
                    Some(text) => {
                        out.push(' ');
                        out.push_str(&text);
                        out.push('\n');
                    }
                    None => {
                        // The item's own lines, two further in, the first one after the dash.
                        let mut nested = String::new();
                        body(&mut nested, indent + 2, item);
                        out.push(' ');
                        out.push_str(nested.trim_start_matches(' '));
                    }
                }
            }
        }
        other => {
            out.push_str(&" ".repeat(indent));
            out.push_str(&inline(other).unwrap_or_default());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the definition reader makes of the YAML value written at `v`.
    fn read_back(text: &str) -> Value {
        crate::spec::node::parse(text).expect("parses").to_json()["v"].clone()
    }

    #[test]
    fn values_read_back_as_written() {
        let value = serde_json::json!({
            "status": "RUNNING", "n": 3, "f": 42.5, "big": 1e20, "neg": -1, "t": true, "z": null,
            "yes": "yes", "num": "42", "date": "2024-05-02", "colon": "a: b", "hash": "a #b",
            "quote": "it's \"x\"", "nl": "a\nb", "tab": "\t", "del": "\u{7f}", "bom": "\u{feff}",
            "emoji": "😀", "empty": "", "list": [1, "two", [3, [4]], {"a": {"b": []}}, {}],
            "nested": {"deep": [{"x": 1, "y": [{"z": "w"}]}]}, "": "blank key", "0": "zero",
            "-": "dash", "*": "star", "&a": "amp", "[": "bracket", "$.path[*]": "path",
        });
        let mut text = String::new();
        entry(&mut text, 0, "v", &value);
        assert_eq!(read_back(&text), value, "{text}");
    }
}
