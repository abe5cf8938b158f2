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
