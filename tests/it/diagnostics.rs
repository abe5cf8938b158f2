use std::collections::BTreeSet;

use unitask::validate::{self, Code};

use crate::at;

/// Each fixture is `<code>-<name>.yaml`: it must fail with that code (first) and render stably.
#[test]
fn every_fixture_reports_its_code_and_renders_stably() {
    let dir = at("tests/fixtures/invalid");
    let files = validate::definition_files(&dir).expect("fixtures folder");
    assert!(!files.is_empty());
    let mut covered = BTreeSet::new();
    for file in files {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_owned();
        let code_text = stem.split('-').next().expect("code prefix").to_uppercase();
        let code = Code::find(&code_text).unwrap_or_else(|| panic!("{stem}: no code {code_text}"));
        assert_eq!(
            stem,
            format!("{}-{}", code.as_str().to_lowercase(), code.name()),
            "fixture names are <code>-<name>"
        );
        let source = std::fs::read_to_string(&file).expect("read fixture");
        let shown = format!("tests/fixtures/invalid/{stem}.yaml");
        let report = validate::check_source(&shown, Some(&stem), &source)
            .expect_err("a fixture must be invalid");
        assert!(
            report.diagnostics.iter().any(|d| d.code == code),
            "{stem}: expected {code:?}, got {:?}",
            report
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect::<Vec<_>>()
        );
        covered.insert(code);
        insta::assert_snapshot!(stem.clone(), report.render_human(false));
    }
    let missing: Vec<_> = Code::ALL.iter().filter(|c| !covered.contains(c)).collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
}

/// Definitions that use every construct of the format, each proven by its own examples.
#[test]
fn valid_fixtures_cover_the_format_and_pass() {
    let dir = at("tests/fixtures/valid");
    let checked = validate::check_paths(&[dir]).expect("fixtures folder");
    assert!(checked.len() >= 2);
    for c in checked {
        if let Err(report) = c.result {
            panic!("{}", report.render_human(false));
        }
    }
}

/// An unknown key is reported (not fatal, not a type error) in every kind of mapping: plain
/// structs, enum variants, list items, and field mappings written in flow style.
#[test]
fn unknown_keys_are_found_in_every_kind_of_mapping() {
    let source =
        std::fs::read_to_string(at("tests/fixtures/valid/tagged-jobs.yaml")).expect("fixture");
    let lines: Vec<&str> = source.lines().collect();
    let anchors = [
        "  basic:",
        "  envelope:",
        "  progress:",
        "    - each: $.state.Failed.reasons[*]",
        "failures:",
        "  - name: running",
        "  job:",
        "  - name: lifecycle",
    ];
    let mut text = source.clone();
    // Insert bottom-up so earlier line numbers stay put.
    let mut at_lines: Vec<(usize, usize)> = anchors
        .iter()
        .map(|anchor| {
            let index = lines
                .iter()
                .position(|l| l == anchor)
                .unwrap_or_else(|| panic!("{anchor}"));
            let next = lines[index + 1];
            (index, next.len() - next.trim_start().len())
        })
        .collect();
    at_lines.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
    for (index, indent) in at_lines {
        let mut all: Vec<String> = text.lines().map(str::to_owned).collect();
        all.insert(index + 1, format!("{}bogus_key: 1", " ".repeat(indent)));
        text = all.join("\n") + "\n";
    }
    text = text.replacen("format: epoch_seconds }", "fromat: epoch_seconds }", 1);
    let expected_lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("bogus_key:") || l.contains("fromat:"))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(expected_lines.len(), anchors.len() + 1);
    let report = validate::check_source("tagged-jobs.yaml", Some("tagged-jobs"), &text)
        .expect_err("unknown keys");
    let unknown: Vec<usize> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::UnknownKey)
        .map(|d| validate::position(&report.source, d.span.start).line)
        .collect();
    for line in expected_lines {
        assert!(
            unknown.contains(&line),
            "no UT002 at line {line}:\n{}",
            report.render_human(false)
        );
    }
    // Nothing aborted the read: no key was taken for a type error.
    assert!(
        report
            .diagnostics
            .iter()
            .all(|d| d.code != Code::InvalidValue),
        "{}",
        report.render_human(false)
    );
}

/// Every value of the wrong type in a file is reported in one run, each at its node, with no
/// knock-on errors from the recovery.
#[test]
fn every_type_error_is_reported_at_once() {
    let path = at("tests/fixtures/multi/type-errors.yaml");
    let source = std::fs::read_to_string(&path).expect("fixture");
    let report = validate::check_source("type-errors.yaml", Some("type-errors"), &source)
        .expect_err("invalid");
    let found: Vec<(usize, &str)> = report
        .diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d.code, Code::InvalidValue);
            (
                validate::position(&source, d.span.start).line,
                &source[d.span.start..d.span.end],
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (8, "maybe"),
            (11, "PUT"),
            (18, "strin"),
            (23, "pages"),
            (27, "fast"),
            (31, "two hundred")
        ],
        "{}",
        report.render_human(false)
    );
}
