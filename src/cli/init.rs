//! `unitask init <id> --from-response FILE.json`: a starting definition drafted from one real
//! answer (see `unitask::draft`), to stdout or a new file.

use std::io::Read;
use std::path::PathBuf;

use unitask::draft::{self, DraftError, Sample};
use unitask::spec::Method;

use super::{EXIT_INVALID, EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The provider id: lowercase letters, digits and `-` (the file is `<id>.yaml`).
    id: String,
    /// A real answer of the status call, as JSON (`-` reads standard input).
    #[arg(long, value_name = "FILE.json")]
    from_response: PathBuf,
    /// The URL the answer came from: its id-like segments become inputs. A credential in its
    /// query is never written down.
    #[arg(long, value_name = "URL")]
    url: Option<url::Url>,
    /// The method of the status call.
    #[arg(long, value_enum, default_value_t = MethodArg::Get)]
    method: MethodArg,
    /// Write the definition here instead of standard output (never over an existing file
    /// unless --force).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MethodArg {
    #[value(name = "GET", alias = "get")]
    Get,
    #[value(name = "POST", alias = "post")]
    Post,
}

pub fn run(args: Args) -> u8 {
    let mut bytes = Vec::new();
    let read = if args.from_response.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(&args.from_response).map(|b| bytes = b)
    };
    if let Err(error) = read {
        eprintln!(
            "error: cannot read {}: {error}",
            args.from_response.display()
        );
        return EXIT_USAGE;
    }
    let body: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(error) => {
            eprintln!(
                "error: {} is not JSON: {error}",
                args.from_response.display()
            );
            return EXIT_USAGE;
        }
    };
    let sample = Sample {
        id: &args.id,
        body: &body,
        url: args.url.as_ref(),
        method: match args.method {
            MethodArg::Get => Method::Get,
            MethodArg::Post => Method::Post,
        },
    };
    let text = match draft::draft(&sample) {
        Ok(text) => text,
        Err(error @ DraftError::Invalid(_)) => {
            eprintln!("error: {error}");
            return EXIT_INVALID;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_USAGE;
        }
    };
    let Some(path) = args.output else {
        print!("{text}");
        return EXIT_OK;
    };
    // `validate` finds a provider by its file name: `<id>.yaml`.
    let stem = path.file_stem().and_then(|s| s.to_str());
    if stem != Some(args.id.as_str()) {
        eprintln!(
            "error: the definition of `{}` must be named {}.yaml (the id is its file name)",
            args.id, args.id
        );
        return EXIT_USAGE;
    }
    if path.exists() && !args.force {
        eprintln!(
            "error: {} exists; pass --force to replace it",
            path.display()
        );
        return EXIT_USAGE;
    }
    if let Err(error) = std::fs::write(&path, &text) {
        eprintln!("error: cannot write {}: {error}", path.display());
        return EXIT_USAGE;
    }
    let shown = path.display();
    eprintln!(
        "wrote {shown}: check every `# guess:` line, then\n  unitask validate {shown}\n  unitask sandbox --definitions {shown}"
    );
    EXIT_OK
}
