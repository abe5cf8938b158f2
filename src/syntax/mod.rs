//! The mini-languages inside definition strings: URL templates and JSONPath (each with a small
//! parser with precise error positions, byte offsets into the string, a `Display` that writes it
//! back, and table tests), values generated from input patterns, and facts about URLs.

pub mod jsonpath;
pub mod sample;
pub mod template;
pub mod url;
