//! JSONPath (RFC 9535), parsed once by `jsonpath-rust` and lowered where possible.
//!
//! Most paths in definitions are chains of names, indexes and wildcards (`$.data.status`,
//! `$.parts[0]`, `$.parts[*].Size`); those are lowered to [`Step`]s and walked directly, with no
//! query engine per request (the engine also builds a normalized path string for every node it
//! visits, which made it a fifth of a normalization). Anything else (filters, slices,
//! descendants) keeps the parsed query and runs it.

use std::fmt;

use jsonpath_rust::parser::errors::JsonPathError;
use jsonpath_rust::parser::model::Filter as JpFilter;
use jsonpath_rust::parser::model::{
    Comparable, Comparison, FilterAtom, FnArg, JpQuery, Literal, Segment, Selector, Test,
    TestFunction,
};
use jsonpath_rust::parser::parse_json_path;
use serde_json::Value;

/// A compiled path.
#[derive(Debug, Clone)]
pub struct JsonPath {
    text: String,
    plan: Plan,
}

#[derive(Debug, Clone)]
enum Plan {
    /// Names and indexes only: at most one node.
    Simple(Vec<Step>),
    /// Names, indexes and at least one wildcard: any number of nodes.
    Walk(Vec<Step>),
    /// A full query.
    Query(Box<JpQuery>),
    /// Names, indexes and wildcards read from an XML document, where one element and a list of
    /// them look alike: a name over a list reads it in each item, an index `0` or `-1` or a
    /// wildcard over anything but a list reads the thing itself.
    Lenient(Vec<Step>),
}

/// One step of a lowered path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Name(String),
    Index(i64),
    /// Every element of an array or member value of an object, in order (`[*]`, `.*`).
    Wildcard,
}

/// Why a path does not parse, and the byte offset of the offending character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PathError {
    pub message: String,
    pub offset: usize,
}

impl JsonPath {
    /// Parses and lowers `text`.
    pub fn parse(text: &str) -> Result<JsonPath, PathError> {
        if !text.starts_with('$') {
            return Err(PathError {
                message: "a JSONPath starts with `$`".into(),
                offset: 0,
            });
        }
        let query = parse_json_path(text).map_err(|e| path_error(text, e))?;
        let plan = match lower(&query) {
            Some(steps) if steps.contains(&Step::Wildcard) => Plan::Walk(steps),
            Some(steps) => Plan::Simple(steps),
            None => Plan::Query(Box::new(query)),
        };
        Ok(JsonPath {
            text: text.to_owned(),
            plan,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The same path, read from an XML document (see [`Plan::Lenient`]); `None` for a path
    /// that needs the query engine (filters, slices, descendants), whose JSON semantics an XML
    /// document does not have.
    pub fn lenient(self) -> Option<JsonPath> {
        let steps = match self.plan {
            Plan::Simple(steps) | Plan::Walk(steps) => steps,
            Plan::Lenient(_) => return Some(self),
            Plan::Query(_) => return None,
        };
        Some(JsonPath {
            text: self.text,
            plan: Plan::Lenient(steps),
        })
    }

    /// The lowered steps, when the path is a chain of names and indexes.
    pub fn steps(&self) -> Option<&[Step]> {
        match &self.plan {
            Plan::Simple(steps) => Some(steps),
            Plan::Walk(_) | Plan::Query(_) | Plan::Lenient(_) => None,
        }
    }

    /// True when the path names one node (it may still select several of an XML list).
    pub fn is_singular(&self) -> bool {
        match &self.plan {
            Plan::Simple(_) => true,
            Plan::Lenient(steps) => !steps.contains(&Step::Wildcard),
            Plan::Walk(_) | Plan::Query(_) => false,
        }
    }

    /// The last field name of the path (`$.data.confirmed` → `confirmed`), if it ends in a name.
    pub fn last_name(&self) -> Option<&str> {
        match &self.plan {
            Plan::Simple(steps) | Plan::Walk(steps) | Plan::Lenient(steps) => match steps.last() {
                Some(Step::Name(name)) => Some(name),
                _ => None,
            },
            Plan::Query(query) => match query.segments.last() {
                Some(Segment::Selector(Selector::Name(name))) => Some(unquote(name)),
                _ => None,
            },
        }
    }

    /// The regular expressions given as literals to `match()` and `search()` in filters, so
    /// `validate` can check that they compile.
    pub fn regex_literals(&self) -> Vec<String> {
        let mut found = Vec::new();
        if let Plan::Query(query) = &self.plan {
            segments_regexes(&query.segments, &mut found);
        }
        found
    }

    /// The first node the path selects.
    pub fn first<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        match &self.plan {
            Plan::Simple(steps) => walk(root, steps),
            Plan::Walk(_) | Plan::Query(_) | Plan::Lenient(_) => {
                self.select(root).into_iter().next()
            }
        }
    }

    /// Every node the path selects, in document order.
    pub fn select<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        match &self.plan {
            Plan::Simple(steps) => walk(root, steps).into_iter().collect(),
            Plan::Walk(steps) => {
                let mut found = Vec::new();
                walk_all(root, steps, &mut found);
                found
            }
            Plan::Query(query) => jsonpath_rust::query::js_path_process(query, root)
                .map(|refs| refs.into_iter().map(|r| r.val()).collect())
                .unwrap_or_default(),
            Plan::Lenient(steps) => {
                let mut found = Vec::new();
                walk_lenient(root, steps, &mut found);
                found
            }
        }
    }
}

/// Walks an XML document's tree (see [`Plan::Lenient`]).
fn walk_lenient<'a>(node: &'a Value, steps: &[Step], found: &mut Vec<&'a Value>) {
    let Some((step, rest)) = steps.split_first() else {
        found.push(node);
        return;
    };
    match (step, node) {
        (Step::Name(_), Value::Array(items)) => {
            for item in items {
                walk_lenient(item, steps, found);
            }
        }
        (Step::Name(name), Value::Object(map)) => {
            if let Some(value) = member(map, name) {
                walk_lenient(value, rest, found);
            }
        }
        (Step::Index(i), Value::Array(items)) => {
            if let Some(item) = array_index(items.len(), *i).and_then(|i| items.get(i)) {
                walk_lenient(item, rest, found);
            }
        }
        (Step::Index(0 | -1), Value::Object(_) | Value::String(_)) => {
            walk_lenient(node, rest, found);
        }
        (Step::Wildcard, Value::Array(items)) => {
            for item in items {
                walk_lenient(item, rest, found);
            }
        }
        (Step::Wildcard, Value::Object(_) | Value::String(_)) => walk_lenient(node, rest, found),
        _ => {}
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A member of an object. Small objects (most bodies) are scanned: comparing a few short keys
/// costs less than hashing the name with the map's SipHash, which was a tenth of a normalization.
fn member<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    const SCAN: usize = 16;
    if map.len() <= SCAN {
        map.iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    } else {
        map.get(name)
    }
}

fn walk<'a>(root: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let mut node = root;
    for step in steps {
        node = match (step, node) {
            (Step::Name(name), Value::Object(map)) => member(map, name)?,
            (Step::Index(i), Value::Array(items)) => items.get(array_index(items.len(), *i)?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The node a chain of names and indexes leads to in `value`; `None` when the chain leaves the
/// document.
pub fn locate<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    walk(value, steps)
}

/// The node a chain of names and indexes leads to in `value`, for writing; `None` when the
/// chain leaves the document.
pub fn locate_mut<'a>(value: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    let mut node = value;
    for step in steps {
        node = match (step, node) {
            (Step::Name(name), Value::Object(map)) => map.get_mut(name)?,
            (Step::Index(i), Value::Array(items)) => {
                let index = array_index(items.len(), *i)?;
                items.get_mut(index)?
            }
            _ => return None,
        };
    }
    Some(node)
}

/// Where index `i` points in an array of `len` items (a negative one counts from the end).
fn array_index(len: usize, i: i64) -> Option<usize> {
    if i < 0 {
        len.checked_sub(i.unsigned_abs() as usize)
    } else {
        usize::try_from(i).ok()
    }
}

/// Every node `steps` reaches from `node`, in document order.
fn walk_all<'a>(node: &'a Value, steps: &[Step], found: &mut Vec<&'a Value>) {
    let Some((step, rest)) = steps.split_first() else {
        found.push(node);
        return;
    };
    match step {
        Step::Wildcard => match node {
            Value::Array(items) => items.iter().for_each(|item| walk_all(item, rest, found)),
            Value::Object(map) => map.values().for_each(|value| walk_all(value, rest, found)),
            _ => {}
        },
        single => {
            if let Some(next) = walk(node, std::slice::from_ref(single)) {
                walk_all(next, rest, found);
            }
        }
    }
}

/// jsonpath-rust keeps name selectors with their quotes (`'a'`); steps hold the bare name.
fn unquote(name: &str) -> &str {
    let bytes = name.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'\'' || bytes[0] == b'"')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        &name[1..name.len() - 1]
    } else {
        name
    }
}

fn segments_regexes(segments: &[Segment], found: &mut Vec<String>) {
    for segment in segments {
        match segment {
            Segment::Descendant(inner) => {
                segments_regexes(std::slice::from_ref(inner.as_ref()), found)
            }
            Segment::Selector(selector) => selector_regexes(selector, found),
            Segment::Selectors(selectors) => {
                selectors.iter().for_each(|s| selector_regexes(s, found))
            }
        }
    }
}

fn selector_regexes(selector: &Selector, found: &mut Vec<String>) {
    if let Selector::Filter(filter) = selector {
        filter_regexes(filter, found);
    }
}

fn filter_regexes(filter: &JpFilter, found: &mut Vec<String>) {
    match filter {
        JpFilter::Or(all) | JpFilter::And(all) => all.iter().for_each(|f| filter_regexes(f, found)),
        JpFilter::Atom(FilterAtom::Filter { expr, .. }) => filter_regexes(expr, found),
        JpFilter::Atom(FilterAtom::Test { expr, .. }) => test_regexes(expr, found),
        JpFilter::Atom(FilterAtom::Comparison(comparison)) => {
            let (a, b) = match comparison.as_ref() {
                Comparison::Eq(a, b)
                | Comparison::Ne(a, b)
                | Comparison::Gt(a, b)
                | Comparison::Gte(a, b)
                | Comparison::Lt(a, b)
                | Comparison::Lte(a, b) => (a, b),
            };
            for side in [a, b] {
                if let Comparable::Function(function) = side {
                    function_regexes(function, found);
                }
            }
        }
    }
}

fn test_regexes(test: &Test, found: &mut Vec<String>) {
    match test {
        Test::RelQuery(segments) => segments_regexes(segments, found),
        Test::AbsQuery(query) => segments_regexes(&query.segments, found),
        Test::Function(function) => function_regexes(function, found),
    }
}

fn function_regexes(function: &TestFunction, found: &mut Vec<String>) {
    let args: Vec<&FnArg> = match function {
        TestFunction::Match(value, pattern) | TestFunction::Search(value, pattern) => {
            if let FnArg::Literal(Literal::String(text)) = pattern {
                found.push(unquote(text).to_owned());
            }
            vec![value, pattern]
        }
        TestFunction::Custom(_, args) => args.iter().collect(),
        TestFunction::Length(arg) => vec![arg.as_ref()],
        TestFunction::Value(arg) | TestFunction::Count(arg) => vec![arg],
    };
    for arg in args {
        match arg {
            FnArg::Literal(_) => {}
            FnArg::Test(test) => test_regexes(test, found),
            FnArg::Filter(filter) => filter_regexes(filter, found),
        }
    }
}

fn lower(query: &JpQuery) -> Option<Vec<Step>> {
    query
        .segments
        .iter()
        .map(|segment| match segment {
            Segment::Selector(Selector::Name(name)) => {
                let bare = unquote(name);
                // Escapes inside quoted names are left to the query engine.
                (!bare.contains('\\')).then(|| Step::Name(bare.to_owned()))
            }
            Segment::Selector(Selector::Index(i)) => Some(Step::Index(*i)),
            Segment::Selector(Selector::Wildcard) => Some(Step::Wildcard),
            _ => None,
        })
        .collect()
}

fn path_error(text: &str, error: JsonPathError) -> PathError {
    match error {
        JsonPathError::PestError(pest_error) => {
            let offset = match pest_error.location {
                pest::error::InputLocation::Pos(p) => p,
                pest::error::InputLocation::Span((s, _)) => s,
            }
            .min(text.len());
            let message = match text[offset..].chars().next() {
                Some(c) => format!("unexpected `{c}` in JSONPath"),
                None => "JSONPath ends too early".to_owned(),
            };
            PathError { message, offset }
        }
        JsonPathError::MaxNestingDepthExceeded(depth) => PathError {
            message: format!("JSONPath nests deeper than {depth} levels"),
            offset: 0,
        },
        other => PathError {
            message: format!("invalid JSONPath: {other}"),
            offset: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_paths_read_one_element_and_a_list_alike() {
        let one = serde_json::json!({"R": {"Job": {"Id": "a", "Tag": {"K": "x"}}}});
        let many = serde_json::json!({"R": {"Job": [{"Id": "a"}, {"Id": "b"}]}});
        let read = |path: &str, doc: &Value| -> Vec<Value> {
            let path = JsonPath::parse(path)
                .expect(path)
                .lenient()
                .expect("lenient");
            path.select(doc).into_iter().cloned().collect()
        };
        assert_eq!(read("$.R.Job[*].Id", &one), ["a"]);
        assert_eq!(read("$.R.Job[*].Id", &many), ["a", "b"]);
        assert_eq!(read("$.R.Job.Id", &many), ["a", "b"]);
        assert_eq!(read("$.R.Job[0].Id", &one), ["a"]);
        assert_eq!(read("$.R.Job[-1].Id", &many), ["b"]);
        assert_eq!(read("$.R.Job.Tag[*].K", &one), ["x"]);
        assert!(read("$.R.Missing[*]", &one).is_empty());
        assert!(
            JsonPath::parse("$.R[?@.Id == 'a']")
                .expect("parses")
                .lenient()
                .is_none()
        );
    }
    use serde_json::json;

    /// Lowered wildcard paths select exactly what the query engine selects, in the same order.
    #[test]
    fn wildcard_walks_agree_with_the_query_engine() {
        let doc = json!({
            "parts": [{"Size": 1}, {"Size": 2, "x": [1, 2]}, {"y": null}, 7],
            "map": {"b": {"Size": 3}, "a": [{"Size": 4}], "c": "s"},
            "empty": [],
            "scalar": 5
        });
        for text in [
            "$.parts[*]",
            "$.parts[*].Size",
            "$.parts[*].x[*]",
            "$.parts[-1]",
            "$.map.*",
            "$.map.*.Size",
            "$.map[*][0].Size",
            "$.*",
            "$.*.*",
            "$.empty[*]",
            "$.scalar[*]",
            "$.missing[*].Size",
        ] {
            let path = JsonPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let query = parse_json_path(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let engine: Vec<&Value> = jsonpath_rust::query::js_path_process(&query, &doc)
                .map(|refs| refs.into_iter().map(|r| r.val()).collect())
                .unwrap_or_default();
            assert_eq!(path.select(&doc), engine, "{text}");
            assert_eq!(path.first(&doc), engine.first().copied(), "{text}");
            if text.contains('*') {
                assert!(path.steps().is_none() && !path.is_singular(), "{text}");
            }
        }
    }

    #[test]
    fn lowers_names_and_indexes() {
        let table: [(&str, Option<Vec<Step>>); 6] = [
            ("$", Some(vec![])),
            (
                "$.data.status",
                Some(vec![Step::Name("data".into()), Step::Name("status".into())]),
            ),
            ("$['task id']", Some(vec![Step::Name("task id".into())])),
            (
                "$.parts[-1]",
                Some(vec![Step::Name("parts".into()), Step::Index(-1)]),
            ),
            ("$.parts[*].Size", None),
            ("$.errors[?@.code == 'x']", None),
        ];
        for (text, steps) in table {
            let path = JsonPath::parse(text).expect(text);
            assert_eq!(path.steps().map(<[Step]>::to_vec), steps, "{text}");
            assert_eq!(path.to_string(), text);
        }
    }

    #[test]
    fn selects_like_the_query_engine() {
        let body = json!({"data": {"status": 1, "parts": [{"Size": 2}, {"Size": 3}]}});
        let cases = [
            ("$.data.status", vec![json!(1)]),
            ("$.data.parts[-1].Size", vec![json!(3)]),
            ("$.data.parts[*].Size", vec![json!(2), json!(3)]),
            ("$.data.missing", vec![]),
            ("$.data.status.deeper", vec![]),
        ];
        for (text, expected) in cases {
            let path = JsonPath::parse(text).expect(text);
            let got: Vec<Value> = path.select(&body).into_iter().cloned().collect();
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn finds_regexes_in_filters() {
        let path =
            JsonPath::parse("$.a[?match(@.b, 'x[0-9]+') && !search(@.c, '^y')].d").expect("valid");
        assert_eq!(path.regex_literals(), ["x[0-9]+", "^y"]);
        assert!(
            JsonPath::parse("$.a.b")
                .expect("valid")
                .regex_literals()
                .is_empty()
        );
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        let table = [
            ("data.status", 0),
            ("$.data[", 7),
            ("$.data..[?", 10),
            ("$.a[?@.b == ]", 12),
            ("$.a['x]", 4),
        ];
        for (text, offset) in table {
            let error = JsonPath::parse(text).expect_err(text);
            assert_eq!(error.offset, offset, "{text}: {}", error.message);
        }
    }
}
