//! Logs to stderr via `tracing` (`RUST_LOG`, default `warn`), with every secret value replaced by
//! `***` before a byte is written, whatever crate logged it.

use std::io::{self, Write};
use std::sync::Arc;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Starts logging; `secrets` are the values to hide (their percent-encoded and base64 forms are
/// hidden too, as they appear in URLs and headers).
pub fn init(secrets: Vec<String>) {
    let mut needles: Vec<String> = Vec::new();
    for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
        let encoded =
            percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        needles.push(encoded);
        needles.push(secret);
    }
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    needles.dedup();
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting(Arc::new(needles)))
        .with_ansi(false)
        .try_init();
}

#[derive(Clone)]
struct Redacting(Arc<Vec<String>>);

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            needles: Arc::clone(&self.0),
            buffer: Vec::new(),
        }
    }
}

/// Buffers one event and writes it, redacted, when dropped.
struct RedactingWriter {
    needles: Arc<Vec<String>>,
    buffer: Vec<u8>,
}

impl Write for RedactingWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&self.buffer).into_owned();
        for needle in self.needles.iter() {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), "***");
            }
        }
        self.buffer.clear();
        io::stderr().lock().write_all(text.as_bytes())
    }
}

impl Drop for RedactingWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
