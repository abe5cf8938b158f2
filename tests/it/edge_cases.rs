//! Definitions written at the edges of YAML and of the format: each must give its diagnostic at
//! the right place, and nothing may panic.

use unitask::validate::{self, Code, position};

const BASE: &str = "id: edge
name: Edge
base_url: https://api.example.com
inputs:
  task_id:
    in: path
    role: task_id
request:
  path: /tasks/{task_id}
auth:
  bearer:
    env: EXAMPLE_TOKEN
response:
  state:
    native:
      string: $.status
    documented: [RUNNING, DONE]
    map:
      RUNNING: running
      DONE: succeeded
";

fn check(source: &str) -> Vec<(Code, usize, String)> {
    match validate::check_source("edge.yaml", Some("edge"), source) {
        Ok(_) => Vec::new(),
        Err(report) => report
            .diagnostics
            .iter()
            .map(|d| {
                let line = position(&report.source, d.span.start).line;
                (
                    d.code,
                    line,
                    report.source[d.span.start..d.span.end].to_owned(),
                )
            })
            .collect(),
    }
}

fn with(old: &str, new: &str) -> String {
    assert!(BASE.contains(old), "{old}");
    BASE.replacen(old, new, 1)
}

#[test]
fn the_base_is_valid() {
    assert_eq!(check(BASE), []);
}

#[test]
fn carets_inside_escaped_folded_and_aliased_strings_never_panic() {
    let cases = [
        with("string: $.status", "string: \"$.\\x41é[\""),
        with("string: $.status", "string: \"$.\\u0061b[\""),
        with("string: $.status", "string: \"$['\\u00e9\\u00e9'].x[?\""),
        with("string: $.status", "string: $.data\n        .x[?"),
        with(
            "string: $.status",
            "string: >-\n        $.data\n        .x[?",
        ),
        with("string: $.status", "string: |-\n        $.d[?"),
        with("string: $.status", "string: &p '$.st[atus'"),
    ];
    for source in cases {
        let found = check(&source);
        assert!(
            found
                .iter()
                .any(|(code, line, _)| *code == Code::InvalidJsonPath && *line >= 15),
            "{source}\n{found:?}"
        );
    }
    let aliased = format!(
        "{}    rules:\n      - when: {{ exists: *p }}\n        state: failed\n",
        with("string: $.status", "string: &p '$.st[atus'")
    );
    let found = check(&aliased);
    assert_eq!(
        found
            .iter()
            .filter(|(c, _, _)| *c == Code::InvalidJsonPath)
            .count(),
        2,
        "{found:?}"
    );
}

#[test]
fn conditions_and_error_bodies_are_reported_where_they_are() {
    let empty_all =
        format!("{BASE}    rules:\n      - when: {{ all: [] }}\n        state: failed\n");
    let found = check(&empty_all);
    assert!(
        found
            .iter()
            .any(|(c, line, _)| *c == Code::InvalidCondition && *line == 22),
        "{found:?}"
    );
    let empty_body = format!("{BASE}failures:\n  bodies:\n    - {{}}\n");
    let found = check(&empty_body);
    assert!(
        found
            .iter()
            .any(|(c, line, _)| *c == Code::InvalidField && *line == 23),
        "{found:?}"
    );
}

#[test]
fn lone_carriage_returns_are_line_breaks() {
    let source = with(
        "documented: [RUNNING, DONE]",
        "documented: [RUNNING, DONE, CANCELED]",
    )
    .replace('\n', "\r");
    let found = check(&source);
    assert_eq!(found, [(Code::UnmappedValue, 17, "CANCELED".to_owned())]);
}

#[test]
fn structure_errors_say_mapping_and_come_all_at_once() {
    let found = check(&with(
        "  bearer:\n    env: EXAMPLE_TOKEN",
        "  bearer: [EXAMPLE_TOKEN]",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, Code::InvalidValue);
    let report =
        validate::check_source("edge.yaml", Some("edge"), "- a\n- b\n").expect_err("a list");
    assert!(
        report.diagnostics[0]
            .message
            .contains("expected a mapping, found a sequence"),
        "{:?}",
        report.diagnostics
    );
    let both = with("    in: path\n", "    required: maybe\n");
    let found = check(&both);
    let codes: Vec<Code> = found.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(codes, [Code::InvalidValue, Code::InvalidValue], "{found:?}");
    assert!(found.iter().any(|(_, _, text)| text == "maybe"));
}

#[test]
fn native_texts_must_be_ones_the_source_can_produce() {
    let boolean = with(
        "      string: $.status\n    documented: [RUNNING, DONE]\n    map:\n      RUNNING: running\n      DONE: succeeded",
        "      boolean: $.confirmed\n    documented: [confirm=true, confirmed=false]\n    map:\n      confirm=true: succeeded\n      confirmed=false: running",
    );
    let found = check(&boolean);
    assert_eq!(
        found
            .iter()
            .filter(|(c, _, t)| *c == Code::InvalidValue && t == "confirm=true")
            .count(),
        1,
        "{found:?}"
    );
    let integer = with(
        "      string: $.status\n    documented: [RUNNING, DONE]\n    map:\n      RUNNING: running\n      DONE: succeeded",
        "      integer: $.status\n    documented: [\"010\", \"1\"]\n    map:\n      \"010\": succeeded\n      1: running",
    );
    let found = check(&integer);
    assert!(
        found
            .iter()
            .any(|(c, _, t)| *c == Code::InvalidValue && t == "\"010\""),
        "{found:?}"
    );
}

#[test]
fn regexes_inside_jsonpath_must_compile() {
    let found = check(&with(
        "string: $.status",
        "string: \"$.items[?match(@.b, '[')].status\"",
    ));
    assert!(
        found
            .iter()
            .any(|(c, line, _)| *c == Code::InvalidPattern && *line == 16),
        "{found:?}"
    );
}

#[test]
fn request_paths_hold_no_query_fragment_or_dot_segments() {
    for path in [
        "/tasks/{task_id}?upload",
        "/tasks/{task_id}#frag",
        "/../admin/{task_id}",
        "/a/./{task_id}",
    ] {
        let found = check(&with(
            "  path: /tasks/{task_id}",
            &format!("  path: {path}"),
        ));
        assert!(
            found
                .iter()
                .any(|(c, line, _)| *c == Code::InvalidTemplate && *line == 9),
            "{path}: {found:?}"
        );
    }
}

#[test]
fn odd_keys_and_documents_get_clear_messages() {
    let found = check(&format!("{BASE}~: 1\n"));
    assert_eq!(found, [(Code::UnknownKey, 21, "~".to_owned())]);
    let report = validate::check_source("edge.yaml", Some("edge"), &format!("{BASE}---\n{BASE}"))
        .expect_err("two docs");
    assert!(
        report.diagnostics[0].message.contains("one YAML document"),
        "{:?}",
        report.diagnostics
    );
    let tabbed = with("    role: task_id\n", "    role: task_id\n\t  doc: x\n");
    let found = check(&tabbed);
    assert_eq!(
        found.first().map(|(c, line, _)| (*c, *line)),
        Some((Code::YamlSyntax, 8)),
        "{found:?}"
    );
    // A quoted key may start with a blank: that is its text, not a tab's doing.
    let blank = format!(
        "{BASE}examples:\n  - name: x\n    response: {{ body: {{ status: DONE, \" a\": 1, \"\\tb\": 2 }} }}\n    expect: {{ state: succeeded, native_status: DONE }}\n"
    );
    let found = check(&blank);
    assert_eq!(found, []);
}

#[test]
fn every_type_error_has_a_help_line() {
    let source = with("    in: path\n", "    in: path\n    required: maybe\n");
    let report = validate::check_source("edge.yaml", Some("edge"), &source).expect_err("invalid");
    assert!(
        report.diagnostics.iter().all(|d| d.help.is_some()),
        "{:?}",
        report.diagnostics
    );
    assert!(
        !report.render_human(false).contains("struct "),
        "no Rust type names"
    );
}

/// Thousands of small corruptions of the seed definitions (deterministic): validation may
/// reject them, but it never panics, and every diagnostic points inside the file.
#[test]
fn corrupted_definitions_never_panic() {
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound.max(1) as u64) as usize
    };
    const JUNK: &[&str] = &[
        "\t", ":", "[", "]", "{", "}", "\"", "'", "&a ", "*a", "- ", "\n", "$", "é", "\r", "~",
        "#", "|", "0x", "?",
    ];
    // `UNITASK_CORRUPTIONS=N` runs N per provider (a longer hunt); 250 in the normal run.
    let per_provider: usize = std::env::var("UNITASK_CORRUPTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(250);
    let mut checked = 0;
    for id in ["church-tech", "hubspot", "shoplazza", "tencent-smh"] {
        let source =
            std::fs::read_to_string(crate::at(&format!("providers/{id}.yaml"))).expect("provider");
        for _ in 0..per_provider {
            let mut text = source.clone();
            for _ in 0..1 + next(3) {
                let mut at = next(text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match next(3) {
                    0 => text.insert_str(at, JUNK[next(JUNK.len())]),
                    1 => {
                        let mut end = (at + 1 + next(8)).min(text.len());
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        text.replace_range(at..end, "");
                    }
                    _ => {
                        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                        let line = text[line_start..line_end].to_owned();
                        text.insert_str(line_end, &line);
                    }
                }
            }
            if let Err(report) = validate::check_source(&format!("{id}.yaml"), Some(id), &text) {
                for d in &report.diagnostics {
                    assert!(
                        d.span.start <= d.span.end && d.span.end <= report.source.len(),
                        "{d:?}"
                    );
                }
                let _ = report.render_human(false);
                let _ = report.render_github();
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * per_provider);
}

#[test]
fn extra_names_must_be_identifiers() {
    for name in ["source-url", "Source", "\"\"", "2x"] {
        let source = format!("{BASE}  extra:\n    {name}: $.x\n");
        let found = check(&source);
        assert!(
            found
                .iter()
                .any(|(c, line, _)| *c == Code::InvalidName && *line == 22),
            "{name}: {found:?}"
        );
    }
    assert_eq!(
        check(&format!("{BASE}  extra:\n    audio_duration_s: $.x\n")),
        []
    );
}
