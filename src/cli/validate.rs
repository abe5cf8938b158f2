//! `unitask validate [PATH...]`: checks definitions and prints every problem.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use unitask::validate::{self, FileReport};

use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Definition files or folders (their `*.yaml` files); default `providers/`.
    paths: Vec<PathBuf>,
    /// How to print problems.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Annotated source snippets, like rustc.
    Human,
    /// One JSON document: `{"files": N, "valid": N, "diagnostics": [...]}`.
    Json,
    /// GitHub Actions workflow annotations (`::error file=…,line=…,col=…::…`).
    Github,
}

pub fn run(args: Args) -> u8 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("providers")]
    } else {
        args.paths
    };
    let mut checked = match validate::check_paths(&paths) {
        Ok(checked) => checked,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    // A follow-up may name a built-in definition, or one of the files checked.
    let builtins = unitask::Engine::builtin().unwrap_or_default();
    let known: Vec<&unitask::model::Provider> = builtins.iter().map(|l| &*l.provider).collect();
    validate::check_links(&mut checked, &known);
    if checked.is_empty() {
        eprintln!("error: no definitions (*.yaml) found in {}", show(&paths));
        return EXIT_USAGE;
    }
    let reports: Vec<&FileReport> = checked
        .iter()
        .filter_map(|c| c.result.as_ref().err())
        .collect();
    let problems: usize = reports.iter().map(|r| r.diagnostics.len()).sum();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        Format::Human => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut text = String::new();
            for report in &reports {
                text.push_str(&report.render_human(color));
            }
            for c in &checked {
                if let Ok(provider) = &c.result {
                    text.push_str(&format!("ok: {} ({})\n", c.path.display(), provider.id));
                }
            }
            text.push_str(&summary(checked.len(), reports.len(), problems));
            out.write_all(text.as_bytes())
        }
        Format::Json => {
            let diagnostics: Vec<serde_json::Value> =
                reports.iter().flat_map(|r| r.to_json()).collect();
            let document = serde_json::json!({
                "files": checked.len(),
                "valid": checked.len() - reports.len(),
                "diagnostics": diagnostics,
            });
            writeln!(out, "{document:#}")
        }
        Format::Github => {
            let mut text = String::new();
            for report in &reports {
                text.push_str(&report.render_github());
            }
            out.write_all(text.as_bytes())
        }
    };
    if written.is_err() {
        return EXIT_USAGE;
    }
    if reports.is_empty() {
        EXIT_OK
    } else {
        EXIT_INVALID
    }
}

fn summary(files: usize, invalid: usize, problems: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if invalid == 0 {
        format!("{} valid\n", plural(files, "definition"))
    } else {
        format!(
            "{} found in {} of {}\n",
            plural(problems, "problem"),
            plural(invalid, "definition"),
            files
        )
    }
}

fn show(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
