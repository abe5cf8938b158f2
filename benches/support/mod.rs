//! Reading back what criterion measured in this run, so each benchmark can print its ratios.

use std::path::{Path, PathBuf};

/// Where criterion writes its estimates.
pub fn criterion_dir() -> PathBuf {
    std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion"))
}

/// Criterion's point estimate of the mean of a benchmark, in nanoseconds, by the parts of its id
/// (group, function, and parameter if any); `None` when it was not measured.
pub fn mean_ns(id: &[&str]) -> Option<f64> {
    let dir = id
        .iter()
        .fold(criterion_dir(), |dir, part| dir.join(safe(part)));
    let text = std::fs::read_to_string(dir.join("new/estimates.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["mean"]["point_estimate"].as_f64()
}

/// Criterion's file-name form of an id.
fn safe(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '?' | '"' | '/' | '\\' | '*' | '<' | '>' | ':' | '|' | '^' => '_',
            c => c,
        })
        .collect()
}
