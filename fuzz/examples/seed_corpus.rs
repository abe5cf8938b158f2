//! Writes a starting corpus for every fuzz target from the built-in definitions, so the fuzzers
//! begin from real inputs instead of empty bytes: each definition file (`definition`), each
//! example response in the `normalize` target's encoding, and each example's inputs in the
//! `template` target's encoding.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus` (from the crate root).

use std::path::{Path, PathBuf};

use unitask::Engine;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("corpus");
    let engine = Engine::builtin()?;
    let mut written = 0;
    let mut write = |target: &str, name: String, bytes: &[u8]| -> std::io::Result<()> {
        let dir: PathBuf = corpus.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
        written += 1;
        Ok(())
    };
    let definitions = root.join("../providers");
    let fixtures = root.join("../tests/fixtures");
    for dir in [
        definitions,
        fixtures.join("valid"),
        fixtures.join("invalid"),
    ] {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                write("definition", name.into_owned(), &std::fs::read(&path)?)?;
            }
        }
    }
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        for example in &provider.examples {
            let name = format!("{}-{}", provider.id, example.name);
            // The normalize target reads its status as `100 + u16::from_le_bytes(..) % 500`, then
            // a count of header lines (its `HEADERS`, in order), then the body.
            const HEADERS: [&str; 12] = [
                "Retry-After",
                "RateLimit",
                "Upload-Offset",
                "Upload-Length",
                "Upload-Expires",
                "Upload-Defer-Length",
                "Range",
                "Location",
                "Content-Type",
                "x-ms-error-code",
                "X-Total-Bytes",
                "Last-Modified",
            ];
            let mut encoded = (example.response.status.saturating_sub(100))
                .to_le_bytes()
                .to_vec();
            let header = |name: &str| {
                example
                    .response
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map_or("", |(_, v)| v.as_str())
            };
            let count = HEADERS
                .iter()
                .rposition(|name| !header(name).is_empty())
                .map_or(0, |i| i + 1);
            encoded.push(count as u8);
            for name in &HEADERS[..count] {
                encoded.extend_from_slice(header(name).as_bytes());
                encoded.push(b'\n');
            }
            encoded.extend_from_slice(&example.response.body);
            write("normalize", name.clone(), &encoded)?;
            // The template target reads the task id, then one value per input in order.
            let task_id = provider.example_task_id(example);
            let mut values = vec![task_id.to_owned()];
            for input in &provider.inputs {
                let value = example
                    .inputs
                    .iter()
                    .find(|(n, _)| *n == input.name)
                    .map_or("", |(_, v)| v.as_str());
                values.push(value.to_owned());
            }
            write("template", name, values.join("\0").as_bytes())?;
        }
    }
    println!("wrote {written} seeds under {}", corpus.display());
    Ok(())
}
