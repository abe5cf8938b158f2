//! The `unitask` command line: argument parsing and dispatch to one module per command.
//!
//! Exit codes are part of the contract: 0 success, 1 an invalid definition (or a failed request),
//! 2 a usage, definition or I/O error (nothing was sent).

mod demo;
mod explain;
mod generate;
mod init;
mod live;
mod logging;
mod providers;
mod sandbox;
mod serve;
mod status;
mod validate;
mod watch;
mod watch_store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Normalize "what is the status of my upload / import task?" across providers.
#[derive(Debug, Parser)]
#[command(name = "unitask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check provider definitions: YAML, keys, paths, templates, states, and every example.
    Validate(validate::Args),
    /// Draft a starting definition from one real answer (`--from-response FILE.json`).
    Init(init::Args),
    /// Print the documentation of a diagnostic code (`UT101` or `invalid-jsonpath`).
    Explain(explain::Args),
    /// Fetch one task's status and print it normalized.
    Status(status::Args),
    /// Poll tasks until each ends: live bars on a terminal, else JSON lines; then a summary.
    Watch(watch::Args),
    /// Track tasks durably over HTTP: a store, the journal as Server-Sent Events, webhooks.
    Serve(serve::Args),
    /// Serve every definition on loopback: scenarios, examples and faults, no credentials needed.
    Sandbox(sandbox::Args),
    /// Start the sandbox in-process and watch every provider's lifecycles and faults to their end.
    Demo(demo::Args),
    /// List every provider: source, base URL, auth, inputs and what its statuses mean.
    Providers(providers::Args),
    /// Print the Rust module generated for a definition (what build.rs writes), for inspection.
    Generate(generate::Args),
    /// Print the JSON Schema of the definition format (draft-07).
    Schema,
}

/// Exit code: everything fine.
pub const EXIT_OK: u8 = 0;
/// Exit code: a definition is invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit code: usage or I/O error.
pub const EXIT_USAGE: u8 = 2;

/// A tokio runtime (on every core when `multi_thread`), or the usage exit code once the reason
/// is printed.
fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, u8> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(|error| {
        eprintln!("error: cannot start the async runtime: {error}");
        EXIT_USAGE
    })
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    let code = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Init(args) => init::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Status(args) => status::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Providers(args) => providers::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Schema => {
            print!("{}", unitask::validate::json_schema());
            EXIT_OK
        }
    };
    ExitCode::from(code)
}
