//! XML bodies (`response.format: xml`) read as the JSON tree that paths read, by fixed rules:
//!
//! - the document is an object holding its root element by name: `<Error>…</Error>` is
//!   `{"Error": …}`, so paths start `$.Error.Code`;
//! - an element with only text is that text (a string: numbers and booleans are read from text
//!   like any string); an element with nothing in it is `null`;
//! - an element with attributes or child elements is an object: each attribute under `@name`,
//!   each child under its name, and its own text (if any besides whitespace) under `#text`;
//! - a child name that repeats is an array of those children, in document order; one that does
//!   not is the child itself. Paths of an XML definition read both alike (see
//!   [`crate::syntax::jsonpath::JsonPath::lenient`]): `[*]` over a single element yields it;
//! - names are local (a namespace prefix is dropped, `xmlns` attributes are left out); CDATA is
//!   text; the five predefined entities and character references are resolved, other
//!   entities are kept as written; comments, processing instructions and the DOCTYPE are
//!   skipped (nothing is ever fetched).
//!
//! Nesting deeper than [`MAX_DEPTH`] is refused, like JSON's.

use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};

/// Elements nested deeper than this are refused.
pub const MAX_DEPTH: usize = 128;

/// An element being read: its attributes and children so far, and its text.
struct Open {
    name: String,
    fields: Map<String, Value>,
    text: String,
    /// Whether any child element or attribute was seen (else the element is its text).
    structured: bool,
    /// The child names seen more than once (their value is the array of them).
    repeated: std::collections::HashSet<String>,
}

impl Open {
    fn new(start: &BytesStart<'_>) -> Result<Open, String> {
        let name = local(start.local_name().as_ref())?;
        let mut fields = Map::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| format!("a bad attribute: {e}"))?;
            let key = attribute.key;
            if key.as_ref() == b"xmlns" || key.as_ref().starts_with(b"xmlns:") {
                continue;
            }
            let value = attribute
                .unescape_value()
                .map_err(|e| format!("a bad attribute value: {e}"))?;
            fields.insert(
                format!("@{}", local(key.local_name().as_ref())?),
                Value::String(value.into_owned()),
            );
        }
        Ok(Open {
            name,
            structured: !fields.is_empty(),
            fields,
            text: String::new(),
            repeated: std::collections::HashSet::new(),
        })
    }

    /// The element as a JSON value, by the module's rules.
    fn close(mut self) -> Value {
        let text = self.text.trim();
        if !self.structured {
            return if text.is_empty() {
                Value::Null
            } else {
                Value::String(self.text)
            };
        }
        if !text.is_empty() {
            self.fields
                .insert("#text".into(), Value::String(text.to_owned()));
        }
        Value::Object(self.fields)
    }

    /// Adds a child: a second child of one name makes the name an array.
    fn add(&mut self, name: String, value: Value) {
        self.structured = true;
        match self.fields.get_mut(&name) {
            None => {
                self.fields.insert(name, value);
            }
            Some(Value::Array(items)) if self.repeated.contains(&name) => items.push(value),
            Some(existing) => {
                let first = std::mem::take(existing);
                *existing = Value::Array(vec![first, value]);
                self.repeated.insert(name);
            }
        }
    }
}

fn local(name: &[u8]) -> Result<String, String> {
    std::str::from_utf8(name)
        .map(str::to_owned)
        .map_err(|_| "a name that is not UTF-8".to_owned())
}

/// Reads an XML document into its JSON tree; the error says what is wrong, for a `decode`
/// error's message.
pub fn read(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} (at byte {})", reader.error_position()))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("elements nested more than {MAX_DEPTH} deep"));
                }
                stack.push(Open::new(&start)?);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err("content after the root element".into());
                }
                let element = Open::new(&start)?;
                let name = element.name.clone();
                let value = element.close();
                match stack.last_mut() {
                    Some(parent) => parent.add(name, value),
                    None => root = Some((name, value)),
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("an end tag with no start")?;
                let name = element.name.clone();
                let value = element.close();
                match stack.last_mut() {
                    Some(parent) => parent.add(name, value),
                    None => root = Some((name, value)),
                }
            }
            Event::Text(text) => {
                let decoded = text.xml_content().map_err(|e| format!("bad text: {e}"))?;
                match stack.last_mut() {
                    Some(open) => open.text.push_str(&decoded),
                    None if decoded.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(data) => {
                let decoded = data.xml_content().map_err(|e| format!("bad CDATA: {e}"))?;
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&decoded);
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(String::from)
                } else {
                    let name = reference
                        .xml_content()
                        .map_err(|e| format!("bad entity: {e}"))?;
                    quick_xml::escape::resolve_predefined_entity(&name).map(str::to_owned)
                };
                let written = || format!("&{};", String::from_utf8_lossy(reference.as_ref()));
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&resolved.unwrap_or_else(written));
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(format!(
            "the document ends inside `<{}>`",
            stack.last().map(|o| o.name.as_str()).unwrap_or_default()
        ));
    }
    let (name, value) = root.ok_or("no root element")?;
    let mut document = Map::new();
    document.insert(name, value);
    Ok(Value::Object(document))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(xml: &str) -> Value {
        read(xml.as_bytes()).unwrap_or_else(|e| panic!("{xml}: {e}"))
    }

    #[test]
    fn elements_attributes_text_and_repeats() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<s3:DescribeJobResult xmlns:s3="http://awss3control.amazonaws.com/doc/2018-08-20/">
  <Job>
    <JobId>ab12</JobId>
    <Status>Complete</Status>
    <Priority>10</Priority>
    <Empty/>
    <Tag Key="a" Value="b">text &amp; more &#x263A;</Tag>
    <Failure><FailureCode>c1</FailureCode></Failure>
    <Failure><FailureCode>c2</FailureCode></Failure>
    <Note><![CDATA[<raw> & kept]]></Note>
    <!-- a comment -->
  </Job>
</s3:DescribeJobResult>"#;
        assert_eq!(
            tree(xml),
            json!({
                "DescribeJobResult": {
                    "Job": {
                        "JobId": "ab12",
                        "Status": "Complete",
                        "Priority": "10",
                        "Empty": null,
                        "Tag": {"@Key": "a", "@Value": "b", "#text": "text & more ☺"},
                        "Failure": [{"FailureCode": "c1"}, {"FailureCode": "c2"}],
                        "Note": "<raw> & kept"
                    }
                }
            })
        );
    }

    #[test]
    fn a_single_child_is_itself_and_three_are_a_list() {
        assert_eq!(tree("<a><b>1</b></a>"), json!({"a": {"b": "1"}}));
        assert_eq!(
            tree("<a><b>1</b><b>2</b><c/><b>3</b></a>"),
            json!({"a": {"b": ["1", "2", "3"], "c": null}})
        );
        assert_eq!(tree("<a/>"), json!({"a": null}));
    }

    #[test]
    fn broken_documents_are_refused_with_a_reason() {
        for (xml, reason) in [
            ("<a><b></a>", "expected `</b>`"),
            ("<a>", "ends inside"),
            ("", "no root"),
            ("<a/><b/>", "after the root"),
            ("text", "outside the root"),
            ("\u{feff}{\"json\": 1}", "outside the root"),
        ] {
            let error = read(xml.as_bytes()).expect_err(xml);
            assert!(error.contains(reason), "{xml}: {error}");
        }
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert!(read(deep.as_bytes()).expect_err("deep").contains("nested"));
        assert!(read(b"<a>\xff</a>").is_err());
    }

    #[test]
    fn unknown_entities_are_kept_as_written() {
        assert_eq!(tree("<a>&nbsp;x</a>"), json!({"a": "&nbsp;x"}));
    }
}
