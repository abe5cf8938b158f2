//! Sizes written in definitions and on the command line: a number of bytes, or a number with a
//! unit (`16 MiB`, `500 kB`).

/// A size: a number of bytes, or text with a unit (`B`, `kB`/`KB`, `KiB`, `MB`, `MiB`, `GB`,
/// `GiB`), e.g. `16 MiB`.
pub fn parse(value: &serde_json::Value) -> Option<usize> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        serde_json::Value::String(text) => {
            let text = text.trim();
            let split = text
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(text.len());
            let number: f64 = text[..split].parse().ok()?;
            let scale: f64 = match text[split..].trim() {
                "" | "B" => 1.0,
                "kB" | "KB" => 1e3,
                "KiB" => 1024.0,
                "MB" => 1e6,
                "MiB" => 1024.0 * 1024.0,
                "GB" => 1e9,
                "GiB" => 1024.0 * 1024.0 * 1024.0,
                _ => return None,
            };
            let bytes = (number * scale).round();
            (0.0..1e15).contains(&bytes).then_some(bytes as usize)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_with_and_without_units() {
        for (written, bytes) in [
            (json!(8388608), Some(8388608)),
            (json!("16 MiB"), Some(16 << 20)),
            (json!("16MiB"), Some(16 << 20)),
            (json!("500 kB"), Some(500_000)),
            (json!("1.5 KiB"), Some(1536)),
            (json!("2 GB"), Some(2_000_000_000)),
            (json!("12"), Some(12)),
            (json!("12 bytes"), None),
            (json!("-1"), None),
            (json!(-1), None),
            (json!(true), None),
        ] {
            assert_eq!(parse(&written), bytes, "{written}");
        }
    }
}
