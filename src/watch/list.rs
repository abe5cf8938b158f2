//! Task lists for `watch --from`: one task per line, `provider,task_id[,name=value…]`; blank
//! lines and lines starting with `#` are skipped, as are a leading byte-order mark and empty
//! fields. Values cannot contain commas.

use std::collections::HashSet;
use std::fmt;

use crate::http::request::Inputs;
use crate::watch::Target;

/// A line that is not a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError {
    /// 1-based.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The tasks of a list, each once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedList {
    /// The tasks, in the order of their first line.
    pub targets: Vec<Target>,
    /// Lines that repeat an earlier task (same provider, id and inputs); watched once.
    pub duplicates: Vec<usize>,
}

/// Reads a task list; every bad line is reported.
pub fn parse_list(text: &str) -> Result<ParsedList, Vec<ListError>> {
    let mut parsed = ParsedList::default();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (at, line) in text.lines().enumerate() {
        let number = at + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(',').map(str::trim);
        let provider = fields.next().unwrap_or_default();
        let task_id = fields.next().unwrap_or_default();
        if provider.is_empty() || task_id.is_empty() {
            errors.push(ListError {
                line: number,
                message: format!("expected `provider,task_id[,name=value…]`, got {line:?}"),
            });
            continue;
        }
        let mut inputs = Inputs::new();
        let mut bad = false;
        // A trailing comma (or an empty field) adds nothing.
        for field in fields.filter(|f| !f.is_empty()) {
            match field.split_once('=') {
                Some((name, value)) if !name.trim().is_empty() => {
                    inputs.set(name.trim(), value.trim());
                }
                _ => {
                    errors.push(ListError {
                        line: number,
                        message: format!("expected `name=value`, got {field:?}"),
                    });
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        let mut key: Vec<(String, String)> = inputs
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        key.sort();
        if !seen.insert((provider.to_owned(), task_id.to_owned(), key)) {
            parsed.duplicates.push(number);
            continue;
        }
        parsed.targets.push(Target {
            provider: provider.to_owned(),
            task_id: task_id.to_owned(),
            inputs,
        });
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_tasks_once_and_report_every_bad_line() {
        let text = "# tasks\nhubspot,a\n\n tencent-smh , b , library_id=lib \nhubspot,a\nhubspot\nx,y,novalue\n";
        let errors = parse_list(text).err().unwrap_or_default();
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![6, 7]
        );
        let parsed = parse_list("\u{feff}hubspot,a,\r\ntencent-smh,b,library_id=lib\nhubspot,a\n")
            .unwrap_or_default();
        assert_eq!(parsed.targets.len(), 2);
        assert_eq!(parsed.duplicates, vec![3]);
        assert_eq!(parsed.targets[1].inputs.get("library_id"), Some("lib"));
    }
}
