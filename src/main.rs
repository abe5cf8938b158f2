//! The `unitask` command line; see `unitask --help`.

fn main() -> std::process::ExitCode {
    unitask_cli::main()
}

#[path = "cli/mod.rs"]
mod unitask_cli;
