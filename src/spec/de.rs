//! A serde deserializer over the spanned [`Node`] tree.
//!
//! It is what lets one pass over a file report many problems: an unknown key is recorded (with the
//! keys that were expected, for "did you mean") and skipped instead of failing the whole file, a
//! repeated key is skipped (the tree reports it), and every error carries the span of the node it
//! is about. Scalars written without quotes are given back as their source text where a string is
//! expected, so `0: succeeded` and `version: 2022-01` read as the user wrote them.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Error as _, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};

use crate::spec::node::{Key, Node, NodeKind};
use crate::spec::span::{SPANNED_END, SPANNED_NAME, SPANNED_START, SPANNED_VALUE, Span};

/// A deserialization error with the span of the node it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub message: String,
    pub help: Option<String>,
    pub span: Option<Span>,
}

impl DeError {
    fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            help: None,
            span: None,
        }
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let expected = plain_expected(&expected.to_string());
        let found = plain_unexpected(&unexpected);
        DeError {
            message: format!("expected {expected}, found {found}"),
            help: Some(format!(
                "write {expected} here (`unitask schema` lists every key and its type)"
            )),
            span: None,
        }
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let expected = plain_expected(&expected.to_string());
        DeError {
            message: format!(
                "expected {expected}, found {}",
                plain_unexpected(&unexpected)
            ),
            help: Some(format!("write {expected} here")),
            span: None,
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            message: format!("unknown value `{variant}`"),
            help: Some(did_you_mean(variant, expected)),
            span: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            message: format!("missing required key `{field}`"),
            help: Some(format!("add `{field}:` to this mapping")),
            span: None,
        }
    }
}

/// What serde expected, in the words of the format rather than of Rust.
fn plain_expected(expected: &str) -> String {
    match expected {
        "f32" | "f64" => "a number".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number ≥ 0".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_owned(),
        other if other.starts_with("struct ") || other.starts_with("tuple struct ") => {
            "a mapping".to_owned()
        }
        other if other.starts_with("enum ") => "one of the allowed values".to_owned(),
        other => other.to_owned(),
    }
}

/// What was found, in the same words.
fn plain_unexpected(unexpected: &de::Unexpected<'_>) -> String {
    match unexpected {
        de::Unexpected::Unit => "nothing (null)".to_owned(),
        de::Unexpected::Map => "a mapping".to_owned(),
        de::Unexpected::Seq => "a sequence".to_owned(),
        de::Unexpected::Float(f) if f.fract() == 0.0 => format!("the number {f}"),
        other => other.to_string(),
    }
}

/// An unknown key: recorded, skipped, and reported after the pass.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownKey {
    pub span: Span,
    pub key: String,
    pub expected: &'static [&'static str],
}

/// "did you mean `x`?" when a known name is close, else the list of known names.
pub fn did_you_mean(found: &str, known: &[&str]) -> String {
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(found, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, name)) => format!("did you mean `{name}`?"),
        None => {
            let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            format!("expected one of {}", list.join(", "))
        }
    }
}

/// Deserializes `T` from `node`, recording unknown keys into `unknown`.
pub fn from_node<'a, T: de::Deserialize<'a>>(
    node: &'a Node,
    source: &'a str,
    unknown: &RefCell<Vec<UnknownKey>>,
) -> Result<T, DeError> {
    T::deserialize(NodeDeserializer {
        node,
        source,
        unknown,
    })
}

struct NodeDeserializer<'a, 'u> {
    node: &'a Node,
    source: &'a str,
    unknown: &'u RefCell<Vec<UnknownKey>>,
}

impl<'a, 'u> NodeDeserializer<'a, 'u> {
    fn child(&self, node: &'a Node) -> Self {
        NodeDeserializer {
            node,
            source: self.source,
            unknown: self.unknown,
        }
    }

    /// The scalar as the user wrote it, for string targets.
    fn scalar_text(&self) -> Option<String> {
        match &self.node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) => {
                let Span { start, end } = self.node.span;
                let written = self.source.get(start..end).unwrap_or_default();
                if written.is_empty() {
                    Some(match &self.node.kind {
                        NodeKind::Bool(b) => b.to_string(),
                        NodeKind::Int(i) => i.to_string(),
                        NodeKind::Float(f) => f.to_string(),
                        _ => String::new(),
                    })
                } else if written.starts_with('*') {
                    // An alias: its text is the name, not the value.
                    Some(match &self.node.kind {
                        NodeKind::Bool(b) => b.to_string(),
                        NodeKind::Int(i) => i.to_string(),
                        NodeKind::Float(f) => f.to_string(),
                        _ => String::new(),
                    })
                } else {
                    Some(written.trim_matches(|c| c == '"' || c == '\'').to_owned())
                }
            }
            _ => None,
        }
    }

    fn any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Int(i) => visitor.visit_i64(*i),
            NodeKind::Float(f) => visitor.visit_f64(*f),
            NodeKind::Str(s) => visitor.visit_str(s),
            NodeKind::Seq(items) => visitor.visit_seq(Items {
                de: &self,
                items: items.iter(),
            }),
            NodeKind::Map(entries) => visitor.visit_map(Entries::new(&self, entries, None)),
        }
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
            let span = self.node.span;
            self.any(visitor).map_err(|e| e.at(span))
        }
    )*};
}

impl<'a> Deserializer<'a> for NodeDeserializer<'a, '_> {
    type Error = DeError;

    forward_to_any! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_seq deserialize_map
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        match self.scalar_text() {
            Some(text) => visitor.visit_string(text),
            None => self.any(visitor),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = self.node.span;
        match self.node.kind {
            NodeKind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.node.span;
        visitor.visit_newtype_struct(self).map_err(|e| e.at(span))
    }

    fn deserialize_tuple<V: Visitor<'a>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.node.span;
        if name == SPANNED_NAME {
            return visitor.visit_map(SpannedAccess {
                span,
                value: Some(self),
                state: 0,
            });
        }
        match &self.node.kind {
            NodeKind::Map(entries) => visitor.visit_map(Entries::new(&self, entries, Some(fields))),
            // serde would read a struct from a sequence by position; a definition never does.
            NodeKind::Seq(_) => Err(DeError::invalid_type(de::Unexpected::Seq, &"a mapping")),
            _ => self.any(visitor),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let span = self.node.span;
        match &self.node.kind {
            NodeKind::Str(_) | NodeKind::Int(_) | NodeKind::Bool(_) | NodeKind::Float(_) => {
                let text = self.scalar_text().unwrap_or_default();
                visitor.visit_enum(UnitVariant { text, span })
            }
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                visitor.visit_enum(Variant {
                    key,
                    value: self.child(value),
                })
            }
            NodeKind::Map(entries) => Err(DeError {
                message: format!(
                    "expected a mapping with exactly one key, found {} keys",
                    entries.len()
                ),
                help: Some(one_key_help(name, variants)),
                span: None,
            }),
            _ => Err(de::Error::invalid_type(unexpected(self.node), &visitor)),
        }
        .map_err(|e| e.at(span))
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

fn unexpected(node: &Node) -> de::Unexpected<'_> {
    match &node.kind {
        NodeKind::Null => de::Unexpected::Unit,
        NodeKind::Bool(b) => de::Unexpected::Bool(*b),
        NodeKind::Int(i) => de::Unexpected::Signed(*i),
        NodeKind::Float(f) => de::Unexpected::Float(*f),
        NodeKind::Str(s) => de::Unexpected::Str(s),
        NodeKind::Seq(_) => de::Unexpected::Seq,
        NodeKind::Map(_) => de::Unexpected::Map,
    }
}

struct Items<'d, 'a, 'u> {
    de: &'d NodeDeserializer<'a, 'u>,
    items: std::slice::Iter<'a, Node>,
}

impl<'a> SeqAccess<'a> for Items<'_, 'a, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed.deserialize(self.de.child(node)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Mapping entries. For structs, keys outside `fields` are recorded as unknown and skipped;
/// a repeated key is skipped (reported by `node::duplicate_keys`).
struct Entries<'d, 'a, 'u> {
    de: &'d NodeDeserializer<'a, 'u>,
    entries: std::slice::Iter<'a, (Key, Node)>,
    fields: Option<&'static [&'static str]>,
    pending: Option<&'a Node>,
}

impl<'d, 'a, 'u> Entries<'d, 'a, 'u> {
    fn new(
        de: &'d NodeDeserializer<'a, 'u>,
        entries: &'a [(Key, Node)],
        fields: Option<&'static [&'static str]>,
    ) -> Self {
        Entries {
            de,
            entries: entries.iter(),
            fields,
            pending: None,
        }
    }
}

impl<'a> MapAccess<'a> for Entries<'_, 'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for (key, value) in self.entries.by_ref() {
            if key.repeated {
                continue;
            }
            if let Some(fields) = self.fields
                && !fields.contains(&key.text.as_str())
            {
                self.de.unknown.borrow_mut().push(UnknownKey {
                    span: key.span,
                    key: key.text.clone(),
                    expected: fields,
                });
                continue;
            }
            self.pending = Some(value);
            return seed.deserialize(KeyDeserializer { key }).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .pending
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value requested before its key"))?;
        seed.deserialize(self.de.child(node))
    }
}

/// Feeds a [`crate::spec::span::Spanned`] its span, then its value (a node or a key).
struct SpannedAccess<D> {
    span: Span,
    value: Option<D>,
    state: u8,
}

impl<'a, D: Deserializer<'a, Error = DeError>> MapAccess<'a> for SpannedAccess<D> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let key = match self.state {
            0 => SPANNED_START,
            1 => SPANNED_END,
            2 => SPANNED_VALUE,
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        self.state += 1;
        match self.state {
            1 => seed.deserialize(self.span.start.into_deserializer()),
            2 => seed.deserialize(self.span.end.into_deserializer()),
            _ => match self.value.take() {
                Some(value) => seed.deserialize(value),
                None => Err(de::Error::custom("spanned value read twice")),
            },
        }
    }
}

/// A mapping key: always text; a `Spanned` key gets the key's own span.
struct KeyDeserializer<'a> {
    key: &'a Key,
}

impl<'de> Deserializer<'de> for KeyDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor
            .visit_str(&self.key.text)
            .map_err(|e: DeError| e.at(self.key.span))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_NAME {
            let span = self.key.span;
            return visitor.visit_map(SpannedAccess {
                span,
                value: Some(self),
                state: 0,
            });
        }
        let _ = fields;
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor
            .visit_enum(UnitVariant {
                text: self.key.text.clone(),
                span: self.key.span,
            })
            .map_err(|e| e.at(self.key.span))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

/// The help line for an enum mapping with more than one key: what this key takes, in its words.
fn one_key_help(name: &str, variants: &[&str]) -> String {
    let listed = |names: &[&str]| {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        match quoted.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => quoted.join(""),
        }
    };
    match name {
        "Auth" => format!(
            "`auth:` takes one scheme, {}: remove the others",
            listed(variants)
        ),
        "Condition" => {
            "a condition is one test: combine several with `all: [...]` or `any: [...]`".into()
        }
        "NativeSource" => format!(
            "the native status comes from one place, {}: keep one",
            listed(variants)
        ),
        _ => format!("write one of {}", listed(variants)),
    }
}

/// An enum written as a bare string: `state: running`.
struct UnitVariant {
    text: String,
    span: Span,
}

impl<'a> EnumAccess<'a> for UnitVariant {
    type Error = DeError;
    type Variant = UnitOnly;

    fn variant_seed<S: DeserializeSeed<'a>>(
        self,
        seed: S,
    ) -> Result<(S::Value, UnitOnly), DeError> {
        let span = self.span;
        let value = seed
            .deserialize(self.text.into_deserializer())
            .map_err(|e: DeError| e.at(span))?;
        Ok((value, UnitOnly { span }))
    }
}

struct UnitOnly {
    span: Span,
}

impl<'a> VariantAccess<'a> for UnitOnly {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, _seed: T) -> Result<T::Value, DeError> {
        Err(
            DeError::custom("this alternative needs a value: write it as `name: value`")
                .at(self.span),
        )
    }
    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::custom("this alternative needs a list of values").at(self.span))
    }
    fn struct_variant<V: Visitor<'a>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(DeError::custom("this alternative needs a mapping of settings").at(self.span))
    }
}

/// An enum written as a single-key mapping: `equals: {path: $.a, value: 1}`.
struct Variant<'a, 'u> {
    key: &'a Key,
    value: NodeDeserializer<'a, 'u>,
}

impl<'a, 'u> EnumAccess<'a> for Variant<'a, 'u> {
    type Error = DeError;
    type Variant = NodeDeserializer<'a, 'u>;

    fn variant_seed<S: DeserializeSeed<'a>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), DeError> {
        let value = seed.deserialize(KeyDeserializer { key: self.key })?;
        Ok((value, self.value))
    }
}

impl<'a> VariantAccess<'a> for NodeDeserializer<'a, '_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.node.kind {
            NodeKind::Null => Ok(()),
            _ => Err(DeError::custom("this alternative takes no value").at(self.node.span)),
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn struct_variant<V: Visitor<'a>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_struct("", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::node;
    use crate::spec::span::Spanned;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Demo {
        name: Spanned<String>,
        version: String,
        #[serde(default)]
        count: Option<u32>,
        mode: Mode,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Fast,
        Slow { factor: u32 },
    }

    fn read(source: &str) -> (Result<Demo, DeError>, Vec<UnknownKey>) {
        let root = node::parse(source).expect("valid yaml");
        let unknown = RefCell::new(Vec::new());
        let result = from_node(&root, source, &unknown);
        (result, unknown.into_inner())
    }

    #[test]
    fn unknown_keys_are_collected_not_fatal() {
        let (demo, unknown) = read("name: a\nversoin: x\nversion: 2022-01\nmode: fast\nextra: 1\n");
        let demo = demo.expect("deserializes");
        assert_eq!(demo.version, "2022-01");
        assert_eq!(demo.name.span, Span::new(6, 7));
        let keys: Vec<_> = unknown.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["versoin", "extra"]);
        assert_eq!(
            did_you_mean("versoin", unknown[0].expected),
            "did you mean `version`?"
        );
    }

    #[test]
    fn errors_point_at_the_offending_node() {
        let source = "name: a\nversion: b\nmode:\n  slow:\n    factor: many\n";
        let (demo, _) = read(source);
        let error = demo.expect_err("factor is not a number");
        let span = error.span.expect("span");
        assert_eq!(&source[span.start..span.end], "many");
    }

    #[test]
    fn unknown_variants_suggest_the_closest() {
        let (demo, _) = read("name: a\nversion: b\nmode: fsat\n");
        let error = demo.expect_err("unknown variant");
        assert_eq!(error.message, "unknown value `fsat`");
        assert_eq!(error.help.as_deref(), Some("did you mean `fast`?"));
    }
}
