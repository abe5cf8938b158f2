//! `validate`: definition text → checked [`crate::model::Provider`], or every problem at once.
//!
//! The stages run in order and each adds what it finds, so one run reports everything it can:
//! YAML syntax (fatal for the file), duplicate keys, the typed read (unknown keys are collected,
//! not fatal), the semantic rules in `lower`, and, when the definition is otherwise sound, every
//! example run through the real runtime (`examples`). `build.rs`, `unitask validate` and the
//! `Engine` all call [`check_source`], so they report the same diagnostics.

pub mod codes;
pub mod diagnostic;
mod examples;
mod lower;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

pub use codes::Code;
pub use diagnostic::{Diagnostic, FileReport, Position, position};

use crate::model::Provider;
use crate::spec::{Definition, Span, de, node};

/// Checks one definition. `name` is how the file is shown; `stem` is the file name without
/// `.yaml`, which the `id` must equal (pass `None` for sources that are not files).
pub fn check_source(name: &str, stem: Option<&str>, source: &str) -> Result<Provider, FileReport> {
    // YAML also breaks lines at a lone CR; make it a LF (same length, so spans hold) so that
    // positions and snippets agree with the parser.
    let normalized;
    let source = if source.contains('\r') {
        normalized = lone_cr_to_lf(source);
        normalized.as_str()
    } else {
        source
    };
    let mut diagnostics = Vec::new();
    let provider = check_into(stem, source, &mut diagnostics);
    match provider {
        Some(provider) if diagnostics.is_empty() => Ok(provider),
        _ => {
            diagnostics.sort_by_key(|d| (d.span.start, d.code));
            Err(FileReport {
                path: name.to_owned(),
                source: source.to_owned(),
                diagnostics,
            })
        }
    }
}

/// Checks one definition file's bytes: a file that is not UTF-8 is a diagnostic (UT005) at the
/// line and column of its first invalid byte, like any other problem of the file.
pub fn check_bytes(name: &str, stem: Option<&str>, bytes: &[u8]) -> Result<Provider, FileReport> {
    match std::str::from_utf8(bytes) {
        Ok(source) => check_source(name, stem, source),
        Err(error) => {
            let at = error.valid_up_to();
            let bad = &bytes[at..at + error.error_len().unwrap_or(bytes.len() - at)];
            let shown: Vec<String> = bad.iter().map(|b| format!("0x{b:02x}")).collect();
            // The snippet shows the text with each invalid sequence as U+FFFD; the valid prefix
            // is unchanged, so the offset holds.
            let source = String::from_utf8_lossy(bytes).into_owned();
            let diagnostic = Diagnostic::new(
                Code::NotUtf8,
                Span::new(at, at + 1),
                format!("the file is not UTF-8: byte {} here", shown.join(" ")),
            )
            .label("not UTF-8")
            .help("definitions are UTF-8 text: re-save the file as UTF-8");
            Err(FileReport {
                path: name.to_owned(),
                source,
                diagnostics: vec![diagnostic],
            })
        }
    }
}

fn check_into(stem: Option<&str>, source: &str, out: &mut Vec<Diagnostic>) -> Option<Provider> {
    let root = match node::parse(source) {
        Ok(root) => root,
        Err(error) => {
            let mut offset = offset_of(source, error.line, error.column);
            // The parser reports a tab just after it, or where the scalar before it began: the
            // caret belongs under the tab itself.
            if error.message.contains("tab") {
                if source[..offset].ends_with('\t') {
                    offset -= 1;
                } else if let Some(tab) = source[offset..].find('\t')
                    && source[offset..offset + tab].matches('\n').count() <= 1
                {
                    offset += tab;
                }
            }
            let help = match (error.help, flow_brace_help(source, offset, &error.message)) {
                (_, Some(help)) => help,
                (Some(help), None) => help.to_owned(),
                (None, None) => "YAML indents with spaces, never tabs; quote values that contain `: ` or start with `{`, `[`, `*`, `&`".to_owned(),
            };
            out.push(
                Diagnostic::new(Code::YamlSyntax, Span::new(offset, offset), error.message)
                    .label("the YAML parser stopped here")
                    .help(help),
            );
            return None;
        }
    };
    for (repeated, first) in node::duplicate_keys(&root) {
        out.push(
            Diagnostic::new(
                Code::DuplicateKey,
                repeated.span,
                format!("duplicate key `{}`", repeated.text),
            )
            .label("repeated here")
            .related(first.span, "first defined here")
            .help("remove one of them; YAML keeps only one value per key"),
        );
    }
    for key in node::tab_indented_keys(&root, source) {
        out.push(
            Diagnostic::new(
                Code::YamlSyntax,
                Span::new(key.span.start, key.span.start + 1),
                "this line is indented with a tab",
            )
            .label("a tab")
            .help("YAML indents with spaces only; replace the tab with spaces"),
        );
    }
    if out.iter().any(|d| d.code == Code::YamlSyntax) {
        return None;
    }
    let definition = read_definition(root, source, out)?;
    // Examples run whenever a model could be built, so their mismatches join the other problems.
    let provider = lower::lower(&definition, stem, source, out)?;
    examples::run(&provider, &definition, out);
    Some(provider)
}

/// The typed read. A value of the wrong type fails serde's derive for the whole file, so on an
/// error the offending entry is pruned from the tree and the read runs again (a bounded number of
/// times): every type error in the file is reported, not just the first. A "missing key" caused by
/// our own pruning is not reported. Any type error means no definition: the semantic rules only
/// run on a structurally sound file.
fn read_definition(
    mut root: node::Node,
    source: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<Definition> {
    const MAX_PASSES: usize = 64;
    let mut unknown_seen = std::collections::HashSet::new();
    let mut pruned: Vec<(Span, String)> = Vec::new();
    let mut failed = false;
    for _ in 0..MAX_PASSES {
        let unknown = RefCell::new(Vec::new());
        let result: Result<Definition, de::DeError> = de::from_node(&root, source, &unknown);
        for key in unknown.into_inner() {
            if unknown_seen.insert(key.span) {
                out.push(
                    Diagnostic::new(
                        Code::UnknownKey,
                        key.span,
                        format!("unknown key `{}`", key.key),
                    )
                    .label("not part of the format")
                    .help(de::did_you_mean(&key.key, key.expected)),
                );
            }
        }
        let error = match result {
            Ok(definition) => return (!failed).then_some(definition),
            Err(error) => error,
        };
        let span = error.span.unwrap_or_default();
        // A missing key we pruned, or an enum mapping we emptied, is our doing.
        let ours = pruned.iter().any(|(map, key)| {
            *map == span
                && (error.message == format!("missing required key `{key}`")
                    || error
                        .message
                        .starts_with("expected a mapping with exactly one key, found 0"))
        });
        if !ours {
            failed = true;
            let help = error.help.unwrap_or_else(|| {
                "`unitask schema` lists every key and the type it takes".to_owned()
            });
            out.push(Diagnostic::new(Code::InvalidValue, span, error.message).help(help));
        }
        match node::prune(&mut root, span) {
            Some(removed) => pruned.push(removed),
            None => return None,
        }
    }
    None
}

/// A `{` inside a flow mapping (`{ path: /x/{id} }`) opens another mapping: the help line shows
/// the value quoted.
fn flow_brace_help(source: &str, offset: usize, message: &str) -> Option<String> {
    if !message.contains("flow") || !source[offset..].starts_with('{') {
        return None;
    }
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let key_end = source[line_start..offset].rfind(": ")? + line_start;
    let key_start = source[line_start..key_end]
        .rfind(['{', ',', ' '])
        .map_or(line_start, |i| line_start + i + 1);
    let key = &source[key_start..key_end];
    let value_start = key_end + 2;
    // The value runs to the first `,` or `}` outside the braces it opens.
    let mut depth = 0usize;
    let mut end = value_start;
    for (i, c) in source[value_start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            '}' | ',' | '\n' => break,
            _ => {}
        }
        end = value_start + i + c.len_utf8();
    }
    let value = source[value_start..end].trim();
    if key.is_empty() || value.is_empty() {
        return None;
    }
    Some(format!(
        "inside `{{ … }}`, a `{{` opens another mapping: quote the value, `{key}: '{}'`",
        value.replace('\'', "''")
    ))
}

fn lone_cr_to_lf(source: &str) -> String {
    let bytes = source.as_bytes();
    source
        .char_indices()
        .map(|(i, c)| {
            if c == '\r' && bytes.get(i + 1) != Some(&b'\n') {
                '\n'
            } else {
                c
            }
        })
        .collect()
}

/// The byte offset of a 1-based line and column.
fn offset_of(source: &str, line: usize, column: usize) -> usize {
    let line_start = source
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let rest = &source[line_start.min(source.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

/// One file's outcome.
#[derive(Debug)]
pub struct Checked {
    pub path: PathBuf,
    pub result: Result<Provider, FileReport>,
    /// The file's text, for reporting problems found across files.
    pub source: String,
}

/// Reads and checks every definition under `paths` (files, or folders whose `*.yaml` files are
/// read, sorted). I/O errors are returned as such: they are usage errors, not invalid definitions.
pub fn check_paths(paths: &[PathBuf]) -> Result<Vec<Checked>, std::io::Error> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(definition_files(path)?);
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
            })?;
            let stem = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
            let result = check_bytes(&path.display().to_string(), stem.as_deref(), &bytes);
            let source = String::from_utf8_lossy(&bytes).into_owned();
            Ok(Checked {
                path,
                result,
                source,
            })
        })
        .collect()
}

/// UT129 across definitions: every follow-up (`response.next`) names a definition among
/// `checked` or `known`, gives only inputs it has (not its task id), and every input it
/// requires. A file with such a problem becomes invalid, with the others it already had.
pub fn check_links(checked: &mut [Checked], known: &[&Provider]) {
    let mut problems: Vec<(usize, Vec<Diagnostic>)> = Vec::new();
    {
        let valid: Vec<&Provider> = checked
            .iter()
            .filter_map(|c| c.result.as_ref().ok())
            .chain(known.iter().copied())
            .collect();
        for (index, c) in checked.iter().enumerate() {
            if let Ok(provider) = &c.result {
                let found = link_problems(provider, &valid);
                if !found.is_empty() {
                    problems.push((index, found));
                }
            }
        }
    }
    for (index, diagnostics) in problems {
        let c = &mut checked[index];
        c.result = Err(FileReport {
            path: c.path.display().to_string(),
            source: c.source.clone(),
            diagnostics,
        });
    }
}

/// What is wrong with `provider`'s follow-up among `all` definitions.
pub fn link_problems(provider: &Provider, all: &[&Provider]) -> Vec<Diagnostic> {
    let Some(next) = &provider.response.next else {
        return Vec::new();
    };
    let span = next.provider_span;
    let Some(target) = all.iter().find(|p| p.id == next.provider) else {
        let mut ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        return vec![
            Diagnostic::new(
                Code::InvalidNext,
                span,
                format!("no definition `{}` to hand the follow-up to", next.provider),
            )
            .help(de::did_you_mean(&next.provider, &ids)),
        ];
    };
    let mut found = Vec::new();
    for (name, _) in &next.inputs {
        if *name == target.task_id_input().name {
            found.push(
                Diagnostic::new(
                    Code::InvalidNext,
                    span,
                    format!(
                        "`{name}` is the task id of `{}`: give it as `task_id`",
                        target.id
                    ),
                )
                .help("move it to `next.task_id`"),
            );
        } else if target.input(name).is_none() {
            let names: Vec<&str> = target.inputs.iter().map(|i| i.name.as_str()).collect();
            found.push(
                Diagnostic::new(
                    Code::InvalidNext,
                    span,
                    format!("`{}` has no input `{name}`", target.id),
                )
                .help(de::did_you_mean(name, &names)),
            );
        }
    }
    for input in &target.inputs {
        let given = next.inputs.iter().any(|(n, _)| *n == input.name);
        if input.name != target.task_id_input().name
            && input.required
            && input.default.is_none()
            && !given
        {
            found.push(
                Diagnostic::new(
                    Code::InvalidNext,
                    span,
                    format!("`{}` requires the input `{}`, which `next.inputs` does not give", target.id, input.name),
                )
                .help(format!("add `{}: ...` under `next.inputs` (a field of this answer, or `{{input: ...}}`)", input.name)),
            );
        }
    }
    found
}

/// The `*.yaml` / `*.yml` files directly in `dir`, sorted by name.
pub fn definition_files(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read {}: {e}", dir.display())))?
    {
        let path = entry?.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The JSON Schema, re-exported for the CLI and the freshness test.
#[cfg(feature = "schema")]
pub fn json_schema() -> String {
    crate::spec::json_schema()
}
