//! `unitask explain CODE`: a rule's documentation, from the code's doc comment.

use unitask::validate::Code;

use super::{EXIT_OK, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The code (`UT101`) or its name (`invalid-jsonpath`); `all` lists every code.
    code: String,
}

pub fn run(args: Args) -> u8 {
    if args.code == "all" {
        for code in Code::ALL {
            println!("{} {}", code.as_str(), code.name());
        }
        return EXIT_OK;
    }
    match Code::find(&args.code) {
        Some(code) => {
            println!("# {} {}\n", code.as_str(), code.name());
            print!("{}", code.doc());
            EXIT_OK
        }
        None => {
            eprintln!(
                "error: unknown code `{}` (run `unitask explain all` for the list)",
                args.code
            );
            EXIT_USAGE
        }
    }
}
