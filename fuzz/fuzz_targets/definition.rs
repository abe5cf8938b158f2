//! The definition loader and validator on arbitrary bytes: a diagnostic or a provider, never a
//! panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(report) = unitask::validate::check_source("fuzz.yaml", None, &text) {
        // Rendering points into the text: it must not panic either.
        let _ = report.render_human(false);
    }
});
