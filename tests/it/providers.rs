use unitask::validate::{self, Code, FileReport, position};

use crate::at;

const PROVIDERS: [&str; 4] = ["church-tech", "hubspot", "shoplazza", "tencent-smh"];

fn read(id: &str) -> String {
    std::fs::read_to_string(at(&format!("providers/{id}.yaml"))).expect("provider file")
}

fn check(id: &str, source: &str) -> Result<unitask::model::Provider, FileReport> {
    validate::check_source(&format!("providers/{id}.yaml"), Some(id), source)
}

#[test]
fn seed_providers_validate_and_run_their_examples() {
    for id in PROVIDERS {
        let provider = check(id, &read(id)).unwrap_or_else(|r| panic!("{}", r.render_human(false)));
        assert_eq!(provider.id, id);
        assert!(
            provider.examples.len() >= 4,
            "{id} has examples for its states and errors"
        );
        assert!(!provider.scenarios.is_empty(), "{id} has a lifecycle");
        let first = read(id).lines().next().map(str::to_owned);
        assert_eq!(
            first.as_deref(),
            Some("# yaml-language-server: $schema=provider.schema.json"),
            "{id} starts with the modeline"
        );
    }
}

#[test]
fn committed_schema_is_fresh() {
    let committed =
        std::fs::read_to_string(at("providers/provider.schema.json")).expect("schema file");
    assert!(
        committed == validate::json_schema(),
        "providers/provider.schema.json is stale: run `cargo run -- schema > providers/provider.schema.json`"
    );
}

/// Where a corruption should be reported: code, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    code: Code,
    line: usize,
    column: usize,
}

/// The 1-based number of the first line matching `pred`, and the line.
fn find_line(source: &str, pred: impl Fn(&str) -> bool) -> (usize, String) {
    source
        .lines()
        .enumerate()
        .find(|(_, l)| pred(l))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .expect("line to corrupt")
}

fn replace_line(source: &str, number: usize, new: &str) -> String {
    let mut lines: Vec<String> = source.lines().map(str::to_owned).collect();
    lines[number - 1] = new.to_owned();
    lines.join("\n") + "\n"
}

fn insert_after(source: &str, number: usize, new: &str) -> String {
    let mut lines: Vec<String> = source.lines().map(str::to_owned).collect();
    lines.insert(number, new.to_owned());
    lines.join("\n") + "\n"
}

fn column_of(line: &str, needle: &str) -> usize {
    line[..line.find(needle).expect("needle on line")]
        .chars()
        .count()
        + 1
}

/// The corruptions the issue names, each with where it must be reported.
fn corruptions(source: &str) -> Vec<(&'static str, String, Expected)> {
    let mut out = Vec::new();

    let (n, _) = find_line(source, |l| l == "request:");
    out.push((
        "unknown key",
        insert_after(source, n, "  colour: red"),
        Expected {
            code: Code::UnknownKey,
            line: n + 1,
            column: 3,
        },
    ));

    let (n, line) = find_line(source, |l| {
        l.trim_start().starts_with("string: $.")
            || l.trim_start().starts_with("integer: $.")
            || l.trim_start().starts_with("boolean: $.")
    });
    out.push((
        "broken JSONPath",
        replace_line(source, n, &format!("{line}[?")),
        Expected {
            code: Code::InvalidJsonPath,
            line: n,
            column: line.chars().count() + 3,
        },
    ));

    let (n, line) = find_line(source, |l| l.starts_with("  path: /"));
    out.push((
        "undeclared placeholder",
        replace_line(source, n, &format!("{line}/{{nope}}")),
        Expected {
            code: Code::UndeclaredPlaceholder,
            line: n,
            column: line.chars().count() + 2,
        },
    ));

    let (map_line, _) = find_line(source, |l| l == "    map:");
    let removed = source
        .lines()
        .nth(map_line)
        .expect("first map entry")
        .to_owned();
    let value = removed
        .trim()
        .split(':')
        .next()
        .expect("key")
        .trim_matches('"')
        .to_owned();
    let (doc_line, doc) = find_line(source, |l| l.trim_start().starts_with("documented:"));
    let without = {
        let mut lines: Vec<&str> = source.lines().collect();
        lines.remove(map_line);
        lines.join("\n") + "\n"
    };
    let quoted = if doc.contains(&format!("\"{value}\"")) {
        format!("\"{value}\"")
    } else {
        value.clone()
    };
    out.push((
        "unmapped documented status",
        without,
        Expected {
            code: Code::UnmappedValue,
            line: doc_line,
            column: column_of(&doc, &quoted),
        },
    ));

    let (n, line) = find_line(source, |l| l.trim_start().starts_with("native_status: "));
    let value_at = column_of(&line, "native_status: ") + "native_status: ".len();
    out.push((
        "wrong expected value",
        replace_line(
            source,
            n,
            &format!(
                "{}WRONG",
                &line[..line.find("native_status: ").expect("key") + "native_status: ".len()]
            ),
        ),
        Expected {
            code: Code::ExampleMismatch,
            line: n,
            column: value_at,
        },
    ));

    let (n, _) = find_line(source, |l| l.starts_with("name: "));
    out.push((
        "duplicate key",
        insert_after(source, n, "name: again"),
        Expected {
            code: Code::DuplicateKey,
            line: n + 1,
            column: 1,
        },
    ));

    let (n, line) = find_line(source, |l| l.starts_with("  path: /"));
    out.push((
        "tab-broken line",
        replace_line(source, n, &format!("\t{}", line.trim_start())),
        Expected {
            code: Code::YamlSyntax,
            line: n,
            column: 1,
        },
    ));
    out
}

fn located(report: &FileReport) -> Vec<Expected> {
    report
        .diagnostics
        .iter()
        .map(|d| {
            let p = position(&report.source, d.span.start);
            Expected {
                code: d.code,
                line: p.line,
                column: p.column,
            }
        })
        .collect()
}

#[test]
fn each_corruption_is_reported_at_its_line_and_column() {
    for id in PROVIDERS {
        let source = read(id);
        for (what, corrupted, expected) in corruptions(&source) {
            let report = check(id, &corrupted).expect_err(what);
            let found = located(&report);
            let hit = found.iter().any(|f| {
                f.code == expected.code
                    && f.line == expected.line
                    // The YAML parser reports a tab at the first column or just after it.
                    && (f.column == expected.column || (expected.code == Code::YamlSyntax && f.column <= 2))
            });
            assert!(
                hit,
                "{id}, {what}: expected {expected:?}, found {found:?}\n{}",
                report.render_human(false)
            );
        }
    }
}

#[test]
fn several_problems_in_one_file_are_all_reported_in_one_run() {
    for id in PROVIDERS {
        let source = read(id);
        let all = corruptions(&source);
        // Apply, bottom-up, every corruption that leaves the file parseable, except the broken
        // status path (which keeps examples from running): each must still be found.
        let mut picked: Vec<&(&str, String, Expected)> = all
            .iter()
            .filter(|(what, _, _)| {
                !matches!(
                    *what,
                    "tab-broken line" | "broken JSONPath" | "unmapped documented status"
                )
            })
            .collect();
        picked.sort_by_key(|(_, _, e)| std::cmp::Reverse(e.line));
        let mut text = source.clone();
        let mut expected = Vec::new();
        for (what, _, e) in &picked {
            // Re-derive each corruption on the current text so line numbers stay right.
            let (_, corrupted, now) = corruptions(&text)
                .into_iter()
                .find(|(w, _, _)| w == what)
                .expect("same corruption");
            text = corrupted;
            expected.push((what, now.code));
            let _ = e;
        }
        let report = check(id, &text).expect_err("corrupted");
        let codes: Vec<Code> = report.diagnostics.iter().map(|d| d.code).collect();
        for (what, code) in expected {
            assert!(
                codes.contains(&code),
                "{id}: {what} ({code:?}) not reported in {codes:?}"
            );
        }
    }
}
