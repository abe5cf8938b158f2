//! Request-body templates: the JSON body of a `POST` or `PUT` written as a minijinja template
//! whose variables are the inputs, for APIs that read a document (GraphQL, search queries).
//!
//! Every value a template prints is JSON-encoded by the environment itself (minijinja's JSON
//! auto-escaping): `{"id": {{ task_id }}}` renders `{"id": "gid://shopify/BulkOperation/1"}`, so
//! no input value can add a key, close a string or change the document's shape. The environment
//! has no filters but `tojson` (for text captured with `{% set %}`), no `safe`, strict undefined
//! variables, and a fuel limit, so a template always ends. Parsed once, when the definition is
//! validated.

use std::collections::BTreeMap;
use std::fmt;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::Value;

use crate::syntax::jsonpath::Step;

/// A compiled body template.
#[derive(Clone)]
pub struct BodyTemplate {
    source: String,
    env: Environment<'static>,
}

impl fmt::Debug for BodyTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyTemplate")
            .field("source", &self.source)
            .finish()
    }
}

/// Why a template does not parse or render, and where in its text when that is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BodyError {
    pub message: String,
    /// The byte offset in the template's text.
    pub offset: Option<usize>,
}

/// The template's name inside its environment.
const NAME: &str = "body";

/// Enough for any document a status request sends; a template that loops past it is stopped.
const FUEL: u64 = 50_000;

/// Where an input's value lands in the rendered document: the path to the JSON string that
/// holds it, and the text around it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub input: String,
    pub path: Vec<Step>,
    pub before: String,
    pub after: String,
}

impl BodyTemplate {
    /// Compiles `source`.
    pub fn parse(source: &str) -> Result<BodyTemplate, BodyError> {
        let mut env = Environment::empty();
        env.set_auto_escape_callback(|_| AutoEscape::Json);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        // Text captured with `{% set %}` is printed as it is; `tojson` makes it a JSON string.
        env.add_filter("tojson", |value: minijinja::Value| {
            serde_json::to_string(&value)
                .map(minijinja::Value::from_safe_string)
                .map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
                })
        });
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|e| error(source, &e))?;
        Ok(BodyTemplate {
            source: source.to_owned(),
            env,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variables the template reads (sorted).
    pub fn variables(&self) -> Vec<String> {
        let Ok(template) = self.env.get_template(NAME) else {
            return Vec::new();
        };
        let mut names: Vec<String> = template.undeclared_variables(false).into_iter().collect();
        names.sort();
        names
    }

    /// The body for these values (`None` renders as JSON `null`): the rendered text, which must
    /// be a JSON document.
    pub fn render(&self, values: &BTreeMap<&str, Option<&str>>) -> Result<Vec<u8>, BodyError> {
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| error(&self.source, &e))?;
        let text = template
            .render(values)
            .map_err(|e| error(&self.source, &e))?;
        if let Err(e) = serde_json::from_str::<Value>(&text) {
            return Err(BodyError {
                message: format!("the rendered body is not JSON: {e}"),
                offset: None,
            });
        }
        Ok(text.into_bytes())
    }

    /// Where each of `inputs` lands in the document, found by rendering each with a marker:
    /// what the sandbox reads a templated body with. An input that does not land inside one
    /// string (it is not printed, or is transformed) has no placement.
    pub fn placements(&self, inputs: &[&str], sample: &str) -> Vec<Placement> {
        let mut found = Vec::new();
        for input in inputs {
            let marker = format!("\u{1}unitask-{input}\u{1}");
            let values: BTreeMap<&str, Option<&str>> = inputs
                .iter()
                .map(|name| {
                    (
                        *name,
                        Some(if name == input {
                            marker.as_str()
                        } else {
                            sample
                        }),
                    )
                })
                .collect();
            let Ok(text) = self.render(&values) else {
                continue;
            };
            let Ok(document) = serde_json::from_slice::<Value>(&text) else {
                continue;
            };
            let mut path = Vec::new();
            if let Some((before, after)) = find_marker(&document, &marker, &mut path) {
                found.push(Placement {
                    input: (*input).to_owned(),
                    path,
                    before,
                    after,
                });
            }
        }
        found
    }
}

/// The path to the first string holding `marker`, and the text around it there.
fn find_marker(value: &Value, marker: &str, path: &mut Vec<Step>) -> Option<(String, String)> {
    match value {
        Value::String(text) => text
            .split_once(marker)
            .map(|(before, after)| (before.to_owned(), after.to_owned())),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            path.push(Step::Index(i as i64));
            let found = find_marker(item, marker, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            path.push(Step::Name(key.clone()));
            let found = find_marker(item, marker, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
        _ => None,
    }
}

/// A minijinja error, with the byte offset in `source` of the line it names.
fn error(source: &str, error: &minijinja::Error) -> BodyError {
    // The start of the line minijinja names (its byte ranges need its `debug` feature).
    let offset = error.line().map(|line| {
        source
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum()
    });
    let message = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    BodyError { message, offset }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<&'a str, Option<&'a str>> {
        pairs.iter().map(|(n, v)| (*n, Some(*v))).collect()
    }

    #[test]
    fn values_are_json_encoded_whatever_they_hold() {
        let template =
            BodyTemplate::parse(r#"{"variables": {"id": {{ id }}}, "n": 1}"#).expect("parses");
        for id in [
            "gid://shopify/BulkOperation/1",
            "\"}, \"admin\": true, \"x\": {\"",
            "\\",
            "\n\u{0}é",
        ] {
            let body = template.render(&values(&[("id", id)])).expect("renders");
            let document: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(document["variables"]["id"], Value::from(id));
            assert_eq!(document.as_object().map(|m| m.len()), Some(2));
        }
    }

    #[test]
    fn captured_text_becomes_a_json_string_with_tojson() {
        let template = BodyTemplate::parse(
            "{% set query %}query($id: ID!) {\n  node(id: $id) { id }\n}{% endset %}\n{\"query\": {{ query|tojson }}, \"variables\": {\"id\": {{ task_id }}}}",
        )
        .expect("parses");
        assert_eq!(template.variables(), ["task_id"]);
        let body = template
            .render(&values(&[("task_id", "gid://x/1")]))
            .expect("renders");
        let document: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            document["query"],
            "query($id: ID!) {\n  node(id: $id) { id }\n}"
        );
        assert_eq!(document["variables"]["id"], "gid://x/1");
    }

    #[test]
    fn refusals_name_where() {
        let broken = BodyTemplate::parse("{\"id\": {{ id }").expect_err("unclosed");
        assert!(broken.offset.is_some(), "{broken:?}");
        let quoted = BodyTemplate::parse(r#"{"id": "{{ id }}"}"#).expect("parses");
        let error = quoted
            .render(&values(&[("id", "x")]))
            .expect_err("not JSON");
        assert!(error.message.contains("not JSON"), "{error}");
        let unknown = BodyTemplate::parse(r#"{"id": {{ id|safe }}}"#)
            .and_then(|t| t.render(&values(&[("id", "x")])))
            .expect_err("no safe filter");
        assert!(unknown.message.contains("filter"), "{unknown}");
        let endless = BodyTemplate::parse("{% for a in range(1000000) %}{% endfor %}{}")
            .and_then(|t| t.render(&values(&[])))
            .expect_err("stops");
        assert!(!endless.message.is_empty());
    }

    #[test]
    fn placements_find_each_input() {
        let template = BodyTemplate::parse(
            r#"{"query": "q", "variables": {"id": {{ "gid://shopify/BulkOperation/" ~ job_id }}, "list": [1, {{ shop }}]}}"#,
        )
        .expect("parses");
        let found = template.placements(&["job_id", "shop"], "sample");
        assert_eq!(
            found,
            [
                Placement {
                    input: "job_id".into(),
                    path: vec![Step::Name("variables".into()), Step::Name("id".into())],
                    before: "gid://shopify/BulkOperation/".into(),
                    after: String::new(),
                },
                Placement {
                    input: "shop".into(),
                    path: vec![
                        Step::Name("variables".into()),
                        Step::Name("list".into()),
                        Step::Index(1)
                    ],
                    before: String::new(),
                    after: String::new(),
                },
            ]
        );
    }
}
