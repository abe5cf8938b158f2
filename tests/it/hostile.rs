//! Hostile definitions: each is refused with a diagnostic that points into the file, quickly and
//! without a panic, whatever the file holds.

use std::process::Command;

use unitask::validate::{FileReport, check_source};

fn refused(name: &str, text: &str) -> FileReport {
    match check_source(name, None, text) {
        Ok(provider) => panic!("{name} was accepted as {}", provider.id),
        Err(report) => report,
    }
}

fn codes(report: &FileReport) -> Vec<&'static str> {
    report.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

/// Ten aliases of ten aliases, eleven deep: 10¹¹ nodes if expanded. The YAML parser's budget stops
/// it, reported as a syntax problem at the alias that breached it.
#[test]
fn an_alias_bomb_is_stopped_by_the_budget() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("id: bomb\n");
    let report = refused("bomb.yaml", &text);
    assert_eq!(codes(&report), ["UT001"], "{}", report.render_human(false));
    assert!(
        report
            .render_human(false)
            .contains("too deeply nested or too large")
    );
}

/// 100,000 nested flow sequences, and 3,000 nested block mappings.
#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let flow = format!(
        "id: deep\nx: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(codes(&refused("deep.yaml", &flow)), ["UT001"]);
    let mut block = String::from("id: deep\nx:\n");
    for depth in 1..3000 {
        block.push_str(&"  ".repeat(depth));
        block.push_str("k:\n");
    }
    assert_eq!(codes(&refused("deep-block.yaml", &block)), ["UT001"]);
}

/// A 10 MB scalar in an otherwise incomplete definition: every problem is reported, and the
/// rendering quotes a bounded excerpt, not the scalar.
#[test]
fn a_ten_megabyte_definition_is_read_and_reported() {
    let text = format!("id: huge\nname: \"{}\"\n", "a".repeat(10_000_000));
    let report = refused("huge.yaml", &text);
    assert!(codes(&report).contains(&"UT004"), "{:?}", codes(&report));
    let rendered = report.render_human(false);
    assert!(
        rendered.len() < 100_000,
        "{} bytes rendered",
        rendered.len()
    );
}

/// Bytes that are not UTF-8: `validate` says so and exits 2 (it cannot show a line of them).
#[test]
fn invalid_utf8_is_an_input_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, b"id: bad\nname: \xff\xfe\n").expect("written");
    let output = Command::new(env!("CARGO_BIN_EXE_unitask"))
        .arg("validate")
        .arg(&path)
        .output()
        .expect("validate runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("valid UTF-8"), "{stderr}");
}
