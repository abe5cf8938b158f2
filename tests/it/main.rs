//! The one integration-test binary: each module tests one surface with real files and the real
//! `unitask` binary.

/// The command line: exit codes and output formats.
mod cli;
/// One invalid fixture per diagnostic code; renderings snapshotted colour-free.
mod diagnostics;
/// Definitions at the edges of YAML and of the format.
mod edge_cases;
/// Fault runs at scale: every task ends once, where its track says, within its request budget.
mod faults;
/// The hand-written readers the normalization benchmark measures against.
mod floor;
/// Generated clients: golden copy, typed API, parity with the interpreter.
mod generated;
/// Hostile definitions: alias bombs, deep nesting, huge scalars, invalid UTF-8.
mod hostile;
/// Hostile answers and credentials: huge, deep, cut, mislabelled or dribbled bodies; line breaks.
mod hostile_responses;
/// Property tests of the invariants: requests keep their template, refusals come before I/O,
/// both engines agree, undocumented values are unknown.
mod invariants;
/// Property tests over damaged responses.
mod mutations;
/// The seed providers: valid, schema fresh, and every corruption reported where it is.
mod providers;
/// The sandbox plays every track of every seed provider; `watch` follows each to its end.
mod sandbox;
/// `sandbox`, `watch` and `demo` end to end through the real binary.
mod sandbox_cli;
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

/// Credentials with `secret` in every environment variable the provider's auth reads.
pub fn credentials_with(provider: &unitask::model::Provider, secret: &str) -> unitask::Credentials {
    let mut credentials = unitask::Credentials::new();
    for name in unitask::http::request::auth_env_names(&provider.auth) {
        credentials.set(name, secret);
    }
    credentials
}

/// The task id an example uses (`example-task` when it names none).
pub fn example_task(
    provider: &unitask::model::Provider,
    example: &unitask::model::Example,
) -> String {
    provider.example_task_id(example).to_owned()
}

/// The other inputs of an example, with each required path input it leaves out taken from
/// another example of the same provider; `None` when no example gives one.
pub fn example_inputs(
    provider: &unitask::model::Provider,
    example: &unitask::model::Example,
) -> Option<unitask::Inputs> {
    use unitask::spec::InputLocation;
    let task_input = &provider.task_id_input().name;
    let mut inputs = unitask::Inputs::new();
    for (name, value) in example.inputs.iter().filter(|(name, _)| name != task_input) {
        inputs.set(name.as_str(), value.as_str());
    }
    for input in &provider.inputs {
        let needed =
            input.required && input.location != InputLocation::Host && &input.name != task_input;
        if needed && inputs.get(&input.name).is_none() {
            let value = provider
                .examples
                .iter()
                .flat_map(|e| e.inputs.iter())
                .find(|(name, _)| *name == input.name)
                .map(|(_, value)| value.clone())?;
            inputs.set(input.name.as_str(), value);
        }
    }
    Some(inputs)
}
