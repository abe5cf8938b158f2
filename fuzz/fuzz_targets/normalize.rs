//! Every built-in definition's normalizer, and every valid fixture's, on arbitrary status codes,
//! headers and bodies (JSON or XML, the headers that definitions read: offsets, ranges, expiries,
//! rate limits, error codes): a task or a typed error, never a panic; the generated module's plan
//! and the interpreter's (the definition loaded from its file) give the same answer at the same
//! clock; an unknown native value never reads as a terminal state it does not map to.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use unitask::Engine;
use unitask::runtime::{self, normalize::Context, normalize::Response};

/// Headers definitions read: each takes one line of the fuzzer's input, the rest is the body.
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

/// The seed definitions read from their files at run time (`Engine::builtin` holds the
/// generated modules' own plans, which would compare them with themselves).
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let providers = concat!(env!("CARGO_MANIFEST_DIR"), "/../providers");
        let mut engine = Engine::empty();
        engine
            .load_paths(&[providers.into()])
            .expect("the seed definitions load");
        engine
    })
}

/// The valid fixtures (every construct of the format, the conversions included), read at run
/// time: no generated module to compare with, the same invariants otherwise.
fn fixtures() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/valid");
        let mut engine = Engine::empty();
        engine
            .load_paths(&[fixtures.into()])
            .expect("the valid fixtures load");
        engine
    })
}

fuzz_target!(|data: &[u8]| {
    let (status, rest) = match data {
        [a, b, rest @ ..] => (100 + u16::from_le_bytes([*a, *b]) % 500, rest),
        _ => (200, data),
    };
    // The first byte says how many lines are headers (each one a value of `HEADERS`, in order,
    // left out when empty); the rest is the body.
    let (count, rest) = match rest {
        [n, rest @ ..] => (usize::from(*n) % (HEADERS.len() + 1), rest),
        [] => (0, rest),
    };
    let mut lines = rest.splitn(count + 1, |b: &u8| *b == b'\n');
    // Servers send `Date`; a `Retry-After` date is read against it, so both reads of one answer
    // give the same wait whenever they run.
    let mut headers = vec![("Date".to_owned(), "Tue, 01 Dec 2026 12:00:00 GMT".to_owned())];
    for name in HEADERS.iter().take(count) {
        let value = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
        if !value.is_empty() {
            headers.push(((*name).to_owned(), value));
        }
    }
    let body = lines.next().unwrap_or_default();
    // One clock for both reads: a rule on `before_now` must not straddle it.
    let context = Context {
        now: Some("2026-12-01T12:00:00Z".parse().expect("a time")),
        inputs: &[],
    };
    for (loaded, built_in) in engine()
        .iter()
        .map(|l| (l, true))
        .chain(fixtures().iter().map(|l| (l, false)))
    {
        let provider = &loaded.provider;
        let response = Response {
            status,
            headers: &headers,
            body,
        };
        let answer = runtime::normalize::normalize_in(provider, "task", response, context);
        if built_in {
            let generated = unitask::providers::definition(&provider.id)
                .expect("every built-in has a generated module")
                .expect("the generated definition compiles");
            assert_eq!(
                answer,
                runtime::normalize::normalize_in(generated, "task", response, context)
            );
        }
        if let Ok(task) = answer {
            let plan = &provider.response.state;
            if task.terminal && !plan.documented.contains(&task.native_status) {
                // Only rules may make an undocumented value terminal, never the fallback.
                assert!(
                    !plan.rules.is_empty(),
                    "{}: {:?}",
                    provider.id,
                    task.native_status
                );
            }
            // A warning names a field of the task, and that field is empty.
            for warning in &task.warnings {
                assert!(!warning.field.is_empty() && !warning.message.is_empty());
            }
        }
    }
});
