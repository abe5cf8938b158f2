//! The mini-languages inside definition strings: URL templates, JSONPath and arithmetic
//! expressions (each with a small parser with precise error positions, byte offsets into the
//! string, a `Display` that writes it back, and table tests), values generated from input
//! patterns, sizes, and facts about URLs.

pub mod expr;
pub mod jsonpath;
pub mod sample;
pub mod size;
pub mod template;
pub mod url;
