//! The mini-languages inside definition strings: URL templates and JSONPath (and facts about
//! URLs). Each has a small
//! parser with precise error positions (byte offsets into the string), a `Display` that writes it
//! back, and table tests.

pub mod jsonpath;
pub mod template;
pub mod url;
