//! `unitask generate <file.yaml>`: prints the Rust module `build.rs` would generate for a
//! definition, for inspection.

use std::path::PathBuf;

use unitask::validate;

use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The definition files (one module each).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> u8 {
    let mut loaded = Vec::new();
    for file in &args.files {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(error) => {
                eprintln!("error: cannot read {}: {error}", file.display());
                return EXIT_USAGE;
            }
        };
        let stem = file.file_stem().and_then(|s| s.to_str());
        match validate::check_bytes(&file.display().to_string(), stem, &bytes) {
            Ok(provider) => loaded.push((provider, String::from_utf8_lossy(&bytes).into_owned())),
            Err(report) => {
                eprint!("{}", report.render_human(false));
                return EXIT_INVALID;
            }
        }
    }
    let pairs: Vec<_> = loaded.iter().map(|(p, t)| (p, t.as_str())).collect();
    match unitask::codegen::generate(&pairs) {
        Ok(code) => {
            print!("{code}");
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_INVALID
        }
    }
}
