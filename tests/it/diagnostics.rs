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
        let source = std::fs::read(&file).expect("read fixture");
        let shown = format!("tests/fixtures/invalid/{stem}.yaml");
        let report = validate::check_bytes(&shown, Some(&stem), &source)
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
            (11, "DELETE"),
            (18, "strin"),
            (23, "pages"),
            (27, "fast"),
            (31, "two hundred")
        ],
        "{}",
        report.render_human(false)
    );
}

/// A minimal valid definition, with `extra` lines spliced in where each test needs them.
fn minimal(middle: &str, tail: &str) -> String {
    format!(
        "id: probe\nname: Probe\nbase_url: https://api.example.com\ninputs:\n  task_id: {{ in: path, role: task_id }}\n{middle}request:\n  path: /tasks/{{task_id}}\nauth: none\nresponse:\n  state:\n    native: {{ string: $.status }}\n    documented: [DONE]\n    map: {{ DONE: succeeded }}\n{tail}"
    )
}

fn report(source: &str) -> validate::FileReport {
    validate::check_source("probe.yaml", Some("probe"), source).expect_err("invalid")
}

/// A `{` in the middle of a flow mapping's value gets a help line that shows the value quoted.
#[test]
fn a_brace_inside_a_flow_mapping_gets_a_quoting_help() {
    let source = minimal("", "").replace(
        "request:\n  path: /tasks/{task_id}\n",
        "request: { path: /tasks/{task_id}, flags: [x] }\n",
    );
    let report = report(&source);
    let help = report.diagnostics[0].help.clone().unwrap_or_default();
    assert_eq!(report.diagnostics[0].code, Code::YamlSyntax);
    assert!(help.contains("`path: '/tasks/{task_id}'`"), "{help}");
}

/// A user name or password in the base URL is refused; the diagnostic's own words never repeat
/// it (the source line shown under it is the author's own).
#[test]
fn a_base_url_with_a_password_is_refused_without_repeating_it() {
    for base in [
        "https://someone:hunter2@api.example.com",
        "https://someone@api.example.com",
    ] {
        let source = minimal("", "").replace("https://api.example.com", base);
        let report = report(&source);
        let diagnostic = &report.diagnostics[0];
        assert_eq!(diagnostic.code, Code::InsecureBaseUrl, "{base}");
        assert!(diagnostic.message.contains("user name or password"));
        let words = format!(
            "{} {:?} {:?} {:?}",
            diagnostic.message, diagnostic.label, diagnostic.help, diagnostic.notes
        );
        assert!(
            !words.contains("hunter2") && !words.contains("someone"),
            "{words}"
        );
    }
}

/// Two schemes under `auth:` are told what `auth:` takes, not the condition syntax.
#[test]
fn two_auth_schemes_get_an_auth_help() {
    let source = minimal("", "").replace(
        "auth: none\n",
        "auth:\n  bearer: { env: A_TOKEN }\n  query: { param: key, env: A_KEY }\n",
    );
    let report = report(&source);
    let help = report.diagnostics[0].help.clone().unwrap_or_default();
    assert!(help.starts_with("`auth:` takes one scheme"), "{help}");
    assert!(
        help.contains("`bearer`") && !help.contains("equals"),
        "{help}"
    );
}

/// A value that does not convert in an example is reported at the mapping that read it, with the
/// example named in a note.
#[test]
fn a_conversion_failure_points_at_its_mapping() {
    let source = minimal(
        "",
        "  fields:\n    created_at: { path: $.created, format: epoch_seconds }\nexamples:\n  - name: done\n    response: { body: { status: DONE, created: yesterday } }\n    expect: { state: succeeded, native_status: DONE }\n",
    );
    let report = report(&source);
    let diagnostic = &report.diagnostics[0];
    assert_eq!(diagnostic.code, Code::ExampleMismatch);
    let at = validate::position(&report.source, diagnostic.span.start);
    let line = report.source.lines().nth(at.line - 1).unwrap_or_default();
    assert!(line.contains("created_at:"), "{line}");
    assert!(
        diagnostic.message.contains("epoch seconds"),
        "{}",
        diagnostic.message
    );
    assert!(
        diagnostic
            .notes
            .iter()
            .any(|n| n.contains("example `done`")),
        "{:?}",
        diagnostic.notes
    );
}

/// `aggregate: count` counts values of any type (nulls are no value), with or without a `type`.
#[test]
fn count_counts_values_of_any_type() {
    let source = minimal(
        "",
        "  extra:\n    items: { path: \"$.items[*]\", aggregate: count }\n    named: { path: \"$.items[*].name\", aggregate: count, type: integer }\nexamples:\n  - name: done\n    response: { body: { status: DONE, items: [{ name: a }, { name: b }, text, [1], 3, true, null] } }\n    expect: { state: succeeded, native_status: DONE, extra: { items: 6, named: 2 } }\n",
    );
    if let Err(report) = validate::check_source("probe.yaml", Some("probe"), &source) {
        panic!("{}", report.render_human(false));
    }
}

/// The task id is required wherever it goes; saying otherwise is an error.
#[test]
fn the_task_id_is_always_required() {
    let query = minimal("", "")
        .replace(
            "  task_id: { in: path, role: task_id }\n",
            "  task_id: { in: query, role: task_id }\n",
        )
        .replace("  path: /tasks/{task_id}\n", "  path: /tasks\n");
    let provider = validate::check_source("probe.yaml", Some("probe"), &query).expect("valid");
    assert!(provider.task_id_input().required);
    let optional = query.replace("role: task_id }", "role: task_id, required: false }");
    let report = report(&optional);
    assert!(
        report.diagnostics[0].message.contains("cannot be optional"),
        "{:?}",
        report.diagnostics
    );
}

/// Values are held to what the request builder sends: a header value carries no control
/// character (in an example too), and a default must pass the rules of its kind, not only its pattern.
#[test]
fn examples_and_defaults_pass_the_request_builders_rules() {
    let header = minimal(
        "  lang: { in: header, wire_name: X-Lang }\n",
        "examples:\n  - name: done\n    inputs: { lang: \"a\\x07b\" }\n    response: { body: { status: DONE } }\n    expect: { state: succeeded, native_status: DONE }\n",
    );
    let found = report(&header);
    assert_eq!(
        found.diagnostics[0].code,
        Code::InvalidExample,
        "{:?}",
        found.diagnostics
    );
    assert!(
        found.diagnostics[0].message.contains("control character"),
        "{:?}",
        found.diagnostics
    );
    let dots = minimal("", "")
        .replace(
            "  task_id: { in: path, role: task_id }\n",
            "  task_id: { in: path, role: task_id }\n  version: { in: path, default: \"..\" }\n",
        )
        .replace(
            "  path: /tasks/{task_id}\n",
            "  path: /{version}/tasks/{task_id}\n",
        );
    let found = report(&dots);
    assert!(
        found
            .diagnostics
            .iter()
            .any(|d| d.code == Code::InvalidDefault
                && d.message.contains("change the request's path")),
        "{:?}",
        found.diagnostics
    );
}

/// Labels name documented values, one line each; an example's omitted `native_label` is the
/// label of its native status.
#[test]
fn labels_name_documented_values_on_one_line() {
    let labelled = |labels: &str, expect: &str| {
        minimal(
            "",
            &format!(
                "    labels: {labels}\nexamples:\n  - name: done\n    response: {{ body: {{ status: DONE }} }}\n    expect: {{ state: succeeded, native_status: DONE{expect} }}\n"
            ),
        )
    };
    let ok = validate::check_source(
        "probe.yaml",
        Some("probe"),
        &labelled("{ DONE: Finished }", ""),
    )
    .expect("an omitted native_label is the label");
    assert_eq!(ok.response.state.labels["DONE"], "Finished");
    validate::check_source(
        "probe.yaml",
        Some("probe"),
        &labelled("{ DONE: Finished }", ", native_label: Finished"),
    )
    .expect("the label as expected");

    let wrong = report(&labelled("{ DONE: Finished }", ", native_label: Done"));
    assert_eq!(wrong.diagnostics[0].code, Code::ExampleMismatch);
    let undocumented = report(&labelled("{ DONE: Finished, ERROR: Broken }", ""));
    assert_eq!(undocumented.diagnostics[0].code, Code::UndocumentedValue);
    assert!(undocumented.diagnostics[0].message.contains("`ERROR`"));
    let blank = report(&labelled("{ DONE: \" \" }", ""));
    assert_eq!(blank.diagnostics[0].code, Code::InvalidName);
}

/// A follow-up names another definition: checked when definitions are loaded together (a file
/// alone cannot tell), at the line that names it.
#[test]
fn follow_ups_are_checked_against_the_definitions_they_name() {
    let monitor = |next: &str| {
        format!(
            "id: copy-monitor\nname: Copy\nbase_url: https://api.example.com\ninputs:\n  task_id: {{ in: path, role: task_id }}\n  drive: {{ in: next, required: true }}\nrequest:\n  path: /copies/{{task_id}}\nauth: none\nresponse:\n  state:\n    native: {{ string: $.status }}\n    documented: [DONE]\n    map: {{ DONE: succeeded }}\n  next:\n{next}\n"
        )
    };
    let item = "id: copy-item\nname: Item\nbase_url: https://api.example.com\ninputs:\n  item_id: { in: path, role: task_id }\n  drive_id: { in: path }\nrequest:\n  path: /drives/{drive_id}/items/{item_id}\nauth: none\nresponse:\n  state:\n    native: { string: $.kind }\n    documented: [file]\n    map: { file: succeeded }\n";
    let cases = [
        (
            "    provider: copy-itme\n    task_id: $.item\n    inputs: { drive_id: { input: drive } }",
            "no definition `copy-itme`",
        ),
        (
            "    provider: copy-item\n    task_id: { input: drive }",
            "requires the input `drive_id`",
        ),
        (
            "    provider: copy-item\n    task_id: $.item\n    inputs: { drive_id: { input: drive }, shelf: { input: drive } }",
            "has no input `shelf`",
        ),
        (
            "    provider: copy-item\n    task_id: $.item\n    inputs: { drive_id: { input: drive }, item_id: $.item }",
            "is the task id of `copy-item`",
        ),
    ];
    for (next, message) in cases {
        let mut engine = unitask::Engine::empty();
        engine
            .load_str("copy-item.yaml", item)
            .expect("the item loads");
        let error = engine
            .load_str("copy-monitor.yaml", &monitor(next))
            .expect_err(message);
        let unitask::interp::LoadError::Invalid(reports) = error else {
            panic!("not a diagnostic");
        };
        let diagnostic = &reports[0].diagnostics[0];
        assert_eq!(diagnostic.code, Code::InvalidNext, "{message}");
        assert!(
            diagnostic.message.contains(message),
            "{}",
            diagnostic.message
        );
        assert_eq!(
            validate::position(&reports[0].source, diagnostic.span.start).line,
            16,
            "at `provider:`"
        );
    }
    let mut engine = unitask::Engine::empty();
    engine
        .load_str("copy-item.yaml", item)
        .expect("the item loads");
    engine
        .load_str(
            "copy-monitor.yaml",
            &monitor("    provider: copy-item\n    task_id: $.item\n    inputs: { drive_id: { input: drive } }"),
        )
        .expect("a sound follow-up loads");
}
