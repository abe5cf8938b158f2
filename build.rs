//! Validates every `providers/*.yaml` with the same code as `unitask validate` (the modules are
//! included below), so an invalid definition fails `cargo build` with the same file:line:col
//! diagnostics, and generates a typed module for each valid one (`$OUT_DIR/providers.rs`, which
//! also makes them the built-in definitions). Dropping a file into `providers/` is all it takes.

// Only part of each included module is used here.
#![allow(dead_code, unused_imports)]

#[path = "src/codegen/mod.rs"]
mod codegen;
#[path = "src/model.rs"]
mod model;
#[path = "src/runtime/mod.rs"]
mod runtime;
#[path = "src/spec/mod.rs"]
mod spec;
#[path = "src/syntax/mod.rs"]
mod syntax;
#[path = "src/task.rs"]
mod task;
#[path = "src/validate/mod.rs"]
mod validate;

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("providers");
    println!("cargo::rerun-if-changed={}", dir.display());
    for module in [
        "src/spec",
        "src/syntax",
        "src/validate",
        "src/runtime",
        "src/model.rs",
        "src/task.rs",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(module).display());
    }
    let files = match validate::definition_files(&dir) {
        Ok(files) => files,
        Err(error) => fail(&format!("error: {error}\n")),
    };
    let mut problems = String::new();
    let mut generated = Vec::new();
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let bytes = std::fs::read(path)
            .unwrap_or_else(|e| fail(&format!("error: cannot read {}: {e}\n", path.display())));
        let shown = format!(
            "providers/{}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
        );
        match validate::check_bytes(&shown, Some(stem), &bytes) {
            Ok(provider) => {
                generated.push((provider, String::from_utf8_lossy(&bytes).into_owned()))
            }
            Err(report) => problems.push_str(&report.render_human(false)),
        }
    }
    // Follow-ups name other definitions: checked once every file is read.
    let all: Vec<&model::Provider> = generated.iter().map(|(p, _)| p).collect();
    for (provider, text) in &generated {
        let found = validate::link_problems(provider, &all);
        if !found.is_empty() {
            let report = validate::FileReport {
                path: format!("providers/{}.yaml", provider.id),
                source: text.clone(),
                diagnostics: found,
            };
            problems.push_str(&report.render_human(false));
        }
    }
    if !problems.is_empty() {
        fail(&format!(
            "{problems}error: invalid provider definitions; `cargo run -- validate` shows the same\n"
        ));
    }
    let pairs: Vec<(&model::Provider, &str)> =
        generated.iter().map(|(p, t)| (p, t.as_str())).collect();
    let code = codegen::generate(&pairs).unwrap_or_else(|e| fail(&format!("error: {e}\n")));
    let out_dir = std::env::var("OUT_DIR").unwrap_or_default();
    write_if_changed(&Path::new(&out_dir).join("providers.rs"), &code);
}

/// Writes only when the content changed, so nothing downstream rebuilds for nothing.
fn write_if_changed(target: &Path, content: &str) {
    if std::fs::read_to_string(target).ok().as_deref() != Some(content)
        && let Err(error) = std::fs::write(target, content)
    {
        fail(&format!(
            "error: cannot write {}: {error}\n",
            target.display()
        ));
    }
}

fn fail(message: &str) -> ! {
    eprint!("{message}");
    std::process::exit(1)
}
