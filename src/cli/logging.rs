//! Logs to stderr via `tracing` (`RUST_LOG`, default `warn`), with every form of every secret
//! replaced by `***` before a byte is written, whatever crate logged it.

use std::io::{self, Write};
use std::sync::Arc;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use unitask::http::redact::Redactor;

/// Starts logging; every line goes through `redactor` before it is written.
pub fn init(redactor: Redactor) {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting(Arc::new(redactor)))
        .with_ansi(false)
        .try_init();
}

#[derive(Clone)]
struct Redacting(Arc<Redactor>);

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            redactor: Arc::clone(&self.0),
            buffer: Vec::new(),
        }
    }
}

/// Buffers one event and writes it, redacted, when dropped.
struct RedactingWriter {
    redactor: Arc<Redactor>,
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
        let text = self.redactor.redact(&String::from_utf8_lossy(&self.buffer));
        self.buffer.clear();
        io::stderr().lock().write_all(text.as_bytes())
    }
}

impl Drop for RedactingWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
