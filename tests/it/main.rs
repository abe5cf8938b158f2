//! The one integration-test binary: each module tests one surface with real files and the real
//! `unitask` binary.

/// The command line: exit codes and output formats.
mod cli;
/// One invalid fixture per diagnostic code; renderings snapshotted colour-free.
mod diagnostics;
/// Definitions at the edges of YAML and of the format.
mod edge_cases;
/// Generated clients: golden copy, typed API, parity with the interpreter.
mod generated;
/// Property tests over damaged responses.
mod mutations;
/// The seed providers: valid, schema fresh, and every corruption reported where it is.
mod providers;
/// Real requests against a loopback server: requests, retries, redirects, limits, hostile input.
mod status;
/// `unitask status` end to end through the real binary.
mod status_cli;

use std::path::{Path, PathBuf};

/// The crate root, so tests read `providers/` and `tests/fixtures/` wherever they run from.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the crate root.
pub fn at(relative: &str) -> PathBuf {
    root().join(relative)
}
