//! The mini-languages inside definition strings: URL templates, JSONPath, arithmetic
//! expressions and request-body templates (each with a parser with precise error positions,
//! byte offsets into the string, a way to write it back, and table tests), values generated
//! from input patterns, sizes, and facts about URLs.

pub mod body;
pub mod expr;
pub mod jsonpath;
pub mod sample;
pub mod size;
pub mod template;
pub mod url;
