//! The YAML document as a tree of spanned nodes.
//!
//! `serde-saphyr` parses the text (syntax errors, alias budgets) into this tree; every node keeps the
//! byte range it came from, so any later stage can point a caret at it. The tree keeps duplicate
//! keys (the parser is told to pass them through) so that [`duplicate_keys`] can report all of them
//! instead of stopping at the first.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::budget::BudgetBreach;

use crate::spec::span::Span;

/// A YAML node with the byte range of its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: NodeKind,
}

/// The shape of a node. Scalars keep the type YAML 1.2 core inference gave them; the typed
/// deserializer turns them back into text where a string is expected (see `spec::de`).
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key: its text (non-string scalars are kept as written) and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub span: Span,
    pub text: String,
    /// An earlier key of the same mapping has the same text.
    pub repeated: bool,
}

/// A YAML syntax error, with the 1-based line and column the parser reported.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub line: usize,
    pub column: usize,
    /// What to do about it, when the parser's message alone does not say.
    pub help: Option<&'static str>,
}

impl Node {
    /// A short, lowercase name of the node's type, for messages ("a string", "a mapping").
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The node as JSON (examples' bodies and expectations are written in YAML).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.text.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The value under `key` when this node is a mapping (the first, if the key is repeated).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node of `key` when this node is a mapping.
    pub fn key(&self, key: &str) -> Option<&Key> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(k, _)| k),
            _ => None,
        }
    }
}

/// The deepest nesting a definition may have, block and flow collections alike.
pub const MAX_NESTING: usize = 24;

/// What the YAML parser may spend on one document: serde-saphyr's defaults (250,000 nodes,
/// bounded aliases and scalar bytes), with nesting capped at [`MAX_NESTING`].
fn budget_limits() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_NESTING;
    budget.flow_nesting_limit = MAX_NESTING;
    budget
}

fn too_deep() -> String {
    format!(
        "the document is nested more than {MAX_NESTING} levels deep; a definition never needs that"
    )
}

/// Parses YAML text into a node tree.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    options.strict_booleans = true;
    options.with_snippet = false;
    // Each level of nesting costs the spanned deserializer a deep stack of frames (about 40 KiB a
    // level in a debug build): 100 nested `[` overflowed a 2 MiB thread. Definitions need a dozen
    // levels; these limits keep any document well inside a 2 MiB stack.
    options.budget = Some(budget_limits());
    let parsed: Result<RawNode, _> = serde_saphyr::from_str_with_options(source, options);
    match parsed {
        Ok(raw) => Ok(raw.into_node(source)),
        Err(error) => {
            let (line, column) = error.location().map_or((1, 1), |l| {
                (l.line().max(1) as usize, l.column().max(1) as usize)
            });
            let message = error.to_string();
            // The parser appends its own position; the diagnostic shows it already.
            let message = match message.rfind(" at line ") {
                Some(cut) => message[..cut].to_string(),
                None => message,
            };
            const TOO_BIG: &str = "a definition is a few hundred nodes: look for an alias used over and over, or generated data pasted in";
            const TOO_DEEP: &str = "a definition needs a dozen levels at most: look for an unclosed `[` or `{`, or data pasted in";
            // A breach while expanding an alias arrives wrapped in where the alias was used.
            let mut root = &error;
            while let serde_saphyr::Error::AliasError { error, .. }
            | serde_saphyr::Error::WithSnippet { error, .. } = root
            {
                root = error;
            }
            let breach = match root {
                serde_saphyr::Error::Budget { breach, .. } => Some(breach),
                _ => None,
            };
            let (message, help) = match breach {
                Some(BudgetBreach::Nodes { .. }) => {
                    let limit = budget_limits().max_nodes;
                    let message = format!(
                        "the document has more than {limit} nodes, more than a definition may hold"
                    );
                    (message, Some(TOO_BIG))
                }
                Some(BudgetBreach::Depth { .. }) => (too_deep(), Some(TOO_DEEP)),
                Some(_) => {
                    let message = format!("the document is too large to read ({message})");
                    (message, Some(TOO_BIG))
                }
                None if message.contains("recursion limit") => (too_deep(), Some(TOO_DEEP)),
                None if message.contains("from_str_multiple") => {
                    let message = "a definition file holds one YAML document, but this one has several (`---`)";
                    (message.to_owned(), None)
                }
                None => (message, None),
            };
            Err(SyntaxError {
                message,
                line,
                column,
                help,
            })
        }
    }
}

/// Every repeated key in every mapping of the tree: (the repeated key, the first occurrence).
pub fn duplicate_keys(root: &Node) -> Vec<(&Key, &Key)> {
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match &node.kind {
            NodeKind::Map(entries) => {
                for (i, (key, value)) in entries.iter().enumerate() {
                    if key.repeated
                        && let Some((first, _)) =
                            entries[..i].iter().find(|(k, _)| k.text == key.text)
                    {
                        found.push((key, first));
                    }
                    stack.push(value);
                }
            }
            NodeKind::Seq(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    found.sort_by_key(|(key, _)| key.span.start);
    found
}

/// Flags every key whose text an earlier key of the mapping has. Mappings in definitions are
/// small, so a linear scan beats hashing; large ones (hostile input) get a hash set.
fn mark_repeated(entries: &mut [(Key, Node)]) {
    const LINEAR: usize = 16;
    if entries.len() <= LINEAR {
        for i in 1..entries.len() {
            let (before, rest) = entries.split_at_mut(i);
            let key = &mut rest[0].0;
            key.repeated = before.iter().any(|(k, _)| k.text == key.text);
        }
    } else {
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        for (key, _) in entries.iter_mut() {
            key.repeated = !seen.insert(key.text.clone());
        }
    }
}

/// Keys that start with a tab or a space: the parser took a tab-indented line for a key with
/// leading whitespace, which is never what the author meant.
pub fn tab_indented_keys<'a>(root: &'a Node, source: &str) -> Vec<&'a Key> {
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match &node.kind {
            NodeKind::Map(entries) => {
                for (key, value) in entries {
                    // A quoted key may start with a blank; a plain one only got it from a tab.
                    let quoted = source
                        .get(key.span.start..)
                        .is_some_and(|rest| rest.starts_with(['"', '\'']));
                    if key.text.starts_with(['\t', ' ']) && !quoted {
                        found.push(key);
                    }
                    stack.push(value);
                }
            }
            NodeKind::Seq(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    found
}

/// Removes the innermost mapping entry (or sequence item) whose key or value is exactly at `span`,
/// and returns the span of the mapping it was in with the removed key (empty for an item).
/// `None` when nothing below the root matches.
pub fn prune(root: &mut Node, span: Span) -> Option<(Span, String)> {
    fn visit(node: &mut Node, span: Span) -> Option<(Span, String)> {
        let own = node.span;
        match &mut node.kind {
            NodeKind::Map(entries) => {
                for (_, value) in entries.iter_mut() {
                    if let Some(found) = visit(value, span) {
                        return Some(found);
                    }
                }
                let hit = entries
                    .iter()
                    .position(|(k, v)| k.span == span || v.span == span)?;
                let (key, _) = entries.remove(hit);
                Some((own, key.text))
            }
            NodeKind::Seq(items) => {
                for item in items.iter_mut() {
                    if let Some(found) = visit(item, span) {
                        return Some(found);
                    }
                }
                let hit = items.iter().position(|v| v.span == span)?;
                items.remove(hit);
                Some((own, String::new()))
            }
            _ => None,
        }
    }
    visit(root, span)
}

/// What serde-saphyr hands us: values with its own span type, converted to [`Node`] afterwards.
struct RawNode {
    span: serde_saphyr::Span,
    kind: RawKind,
}

enum RawKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<RawNode>),
    Map(Vec<(serde_saphyr::Spanned<KeyText>, RawNode)>),
}

impl RawNode {
    fn into_node(self, source: &str) -> Node {
        let span = to_span(self.span, source);
        let kind = match self.kind {
            RawKind::Null => NodeKind::Null,
            RawKind::Bool(b) => NodeKind::Bool(b),
            RawKind::Int(i) => NodeKind::Int(i),
            RawKind::Float(f) => NodeKind::Float(f),
            RawKind::Str(s) => NodeKind::Str(s),
            RawKind::Seq(items) => {
                NodeKind::Seq(items.into_iter().map(|n| n.into_node(source)).collect())
            }
            RawKind::Map(entries) => {
                let mut entries: Vec<(Key, Node)> = entries
                    .into_iter()
                    .map(|(k, v)| {
                        let key = Key {
                            span: to_span(k.referenced.span(), source),
                            text: k.value.0,
                            repeated: false,
                        };
                        (key, v.into_node(source))
                    })
                    .collect();
                mark_repeated(&mut entries);
                NodeKind::Map(entries)
            }
        };
        Node { span, kind }
    }
}

fn to_span(span: serde_saphyr::Span, source: &str) -> Span {
    let start = span
        .byte_offset()
        .map_or(0, |o| o as usize)
        .min(source.len());
    let len = span.byte_len().map_or(0, |l| l as usize);
    let end = (start + len).min(source.len());
    Span { start, end }
}

/// A mapping key as text: any scalar (`~` and `null` keys read as `null`, as written keys do).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key (a key cannot be a list or a mapping)")
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
            fn visit_none<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<KeyText, E> {
                Ok(KeyText(v))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<RawKind>::deserialize(deserializer)?;
        Ok(RawNode {
            span: spanned.referenced.span(),
            kind: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for RawKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawKind, E> {
        Ok(RawKind::Null)
    }
    fn visit_none<E>(self) -> Result<RawKind, E> {
        Ok(RawKind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawKind, D::Error> {
        RawKind::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawKind, E> {
        Ok(RawKind::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawKind, E> {
        Ok(RawKind::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<RawKind, E> {
        Ok(i64::try_from(v).map_or(RawKind::Float(v as f64), RawKind::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawKind, E> {
        Ok(RawKind::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawKind, E> {
        Ok(RawKind::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawKind, E> {
        Ok(RawKind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawKind, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawKind, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(RawKind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_source_text() {
        let source = "id: demo\nstate:\n  path: '$.a'\n  n: 12\n";
        let root = parse(source).expect("valid yaml");
        let state = root.get("state").expect("state");
        let path = state.get("path").expect("path");
        assert_eq!(&source[path.span.start..path.span.end], "'$.a'");
        let n = state.get("n").expect("n");
        assert_eq!(n.kind, NodeKind::Int(12));
        assert_eq!(&source[n.span.start..n.span.end], "12");
    }

    #[test]
    fn duplicate_keys_are_kept_and_found() {
        let root = parse("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n").expect("valid yaml");
        let dups = duplicate_keys(&root);
        let names: Vec<_> = dups.iter().map(|(k, _)| k.text.as_str()).collect();
        assert_eq!(names, ["c", "a"]);
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let root = parse("a: y\nb: no\n").expect("valid yaml");
        assert_eq!(
            root.get("a").map(|n| &n.kind),
            Some(&NodeKind::Str("y".into()))
        );
    }

    #[test]
    fn tab_indentation_is_a_syntax_error_with_its_line() {
        let error = parse("a:\n\tb: 1\n").expect_err("tabs are not indentation");
        assert_eq!(error.line, 2);
        assert!(!error.message.contains("at line"), "{}", error.message);
    }
}
