//! The one integration-test binary: each module tests one surface with real files and the real
//! `unitask` binary.

/// The command line: exit codes and output formats.
mod cli;
/// Credentials on loopback: OAuth grants (single flight, renewal, one replacement after a 401),
/// alternatives, and signatures computed afresh for every attempt.
mod credentials;
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
/// `init` and `status --save-example`: drafts from real answers that pass `validate`.
mod init;
/// Property tests of the invariants: requests keep their template, refusals come before I/O,
/// both engines agree, undocumented values are unknown.
mod invariants;
/// Property tests over damaged responses.
mod mutations;
/// A throwaway PostgreSQL cluster per test (Debian's `postgresql`, installed by `.ci/run`).
mod postgres;
/// The seed providers: valid, schema fresh, and every corruption reported where it is.
mod providers;
/// Declared rate limits: kept by the watch, enforced by the sandbox.
mod rate_limits;
/// The library's types read back what they write: tasks, errors, states, kinds; load errors.
mod roundtrip;
/// The sandbox plays every track of every seed provider; `watch` follows each to its end.
mod sandbox;
/// `sandbox`, `watch` and `demo` end to end through the real binary.
mod sandbox_cli;
/// `serve`: tasks over HTTP, signed webhooks, the journal as events, the API's rules.
mod serve;
/// Real requests against a loopback server: requests, retries, redirects, limits, hostile input.
mod status;
/// `unitask status` end to end through the real binary.
mod status_cli;
/// Tracking in a store (SQLite on a file): every task ends once in the journal, and a
/// tracker stopped halfway resumes without polling an ended task or telling a change twice.
mod tracking;
/// The watch as a stream: tasks added and removed while it runs, backpressure, stop.
mod watch_stream;

use std::path::{Path, PathBuf};

/// The built-in definitions on a plan with no rate limit, for tests of plans, answers and
/// tracking that poll as fast as they need to: the limits definitions declare are kept and
/// enforced in `rate_limits` (and `poll_cpu`, `store_scale` play the same plan).
pub fn builtin_unlimited() -> unitask::Engine {
    let mut engine = unitask::Engine::builtin().expect("built-ins");
    for id in limited_builtins() {
        engine.set_rate_limits(&id, Vec::new()).expect("a built-in");
    }
    engine
}

/// `--rate-limit ID=none` for every built-in provider that declares a limit: the same plan,
/// for the binary.
pub fn unlimited_flags() -> Vec<String> {
    limited_builtins()
        .into_iter()
        .flat_map(|id| ["--rate-limit".to_owned(), format!("{id}=none")])
        .collect()
}

fn limited_builtins() -> Vec<String> {
    unitask::Engine::builtin()
        .expect("built-ins")
        .iter()
        .filter(|loaded| !loaded.provider.rate_limits.is_empty())
        .map(|loaded| loaded.id().to_owned())
        .collect()
}

/// The crate root, so tests read `providers/` and `tests/fixtures/` wherever they run from.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path under the crate root.
pub fn at(relative: &str) -> PathBuf {
    root().join(relative)
}

/// The scheme tests authenticate with: of alternatives, the first that needs no token endpoint
/// (a test server answers the API, not a grant), else the first.
pub fn test_scheme(auth: &unitask::model::Auth) -> &unitask::model::Auth {
    match auth {
        unitask::model::Auth::AnyOf(list) => list
            .iter()
            .find(|a| !matches!(a, unitask::model::Auth::OAuth2(_)))
            .unwrap_or(&list[0]),
        one => one,
    }
}

/// Credentials with `secret` in every environment variable of the provider's test scheme.
pub fn credentials_with(provider: &unitask::model::Provider, secret: &str) -> unitask::Credentials {
    let mut credentials = unitask::Credentials::new();
    for name in test_scheme(&provider.auth).env_names() {
        credentials.set(name, secret);
    }
    credentials
}

/// The value a variable holds in tests: `secret`, base64-encoded where the scheme decodes it
/// (an Azure account key).
pub fn credential_value(name: &str, secret: &str) -> String {
    let decoded = unitask::Engine::builtin().is_ok_and(|engine| {
        engine.iter().any(|l| {
            crate::sandbox_keys(&l.provider.auth)
                .iter()
                .any(|key| key == name)
        })
    });
    if decoded {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(secret)
    } else {
        secret.to_owned()
    }
}

/// The variables of `auth` that hold base64 keys.
pub fn sandbox_keys(auth: &unitask::model::Auth) -> Vec<String> {
    unitask::sandbox::auth::schemes(auth)
        .into_iter()
        .filter_map(|scheme| match scheme {
            unitask::model::Auth::Sign(signing) => match &**signing {
                unitask::model::Signing::AzureSharedKey { key_env, .. } => Some(key_env.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// What a sandbox checks by default (its placeholders), for the provider's test scheme.
pub fn sandbox_credentials(provider: &unitask::model::Provider) -> unitask::Credentials {
    let all = unitask::sandbox::auth::placeholder_credentials([provider], Path::new(""));
    let mut credentials = unitask::Credentials::new();
    for name in test_scheme(&provider.auth).env_names() {
        if let Some(value) = all.value(name) {
            credentials.set(name, value);
        }
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

/// A definition's text as JSON (a subset of YAML, so it reads back as the same definition):
/// what tests rewrite structurally. Keys keep their source text (`0: succeeded` stays `"0"`).
pub fn definition_json(text: &str) -> serde_json::Value {
    unitask::spec::node::parse(text)
        .expect("the definition parses")
        .to_json()
}

/// `text` with its task-id input's pattern replaced by `pattern`, and every task id its examples
/// and scenarios use (the default `example-task` included) replaced, wherever it appears in
/// their bodies and expectations, by one the pattern accepts: the same definition for a provider
/// whose ids look like that.
pub fn tightened(text: &str, pattern: &str) -> String {
    use serde_json::Value;
    use unitask::syntax::sample::{Sampler, seed};
    let mut definition = definition_json(text);
    let inputs = definition["inputs"].as_object_mut().expect("inputs");
    let task_input = inputs
        .iter()
        .find(|(_, i)| i["role"] == "task_id")
        .map(|(name, _)| name.clone())
        .expect("a task-id input");
    inputs[&task_input]["pattern"] = pattern.into();
    let anchored = regex_lite::Regex::new(&format!("^(?:{pattern})$")).expect("pattern");
    let sampler = Sampler::new(pattern).expect("pattern");
    let mut taken = std::collections::HashSet::new();
    let mut fresh = |label: &str| -> String {
        (0u64..)
            .map(|n| sampler.sample(seed(&[label, &n.to_string()])))
            .find(|id| anchored.is_match(id) && taken.insert(id.clone()))
            .expect("an id")
    };
    fn replace(value: &mut Value, old: &str, new: &str) {
        match value {
            Value::String(s) if s == old => *s = new.to_owned(),
            Value::Array(items) => items.iter_mut().for_each(|v| replace(v, old, new)),
            Value::Object(map) => map.values_mut().for_each(|v| replace(v, old, new)),
            _ => {}
        }
    }
    fn replace_within(value: &mut Value, old: &str, new: &str) {
        match value {
            Value::String(s) if s.contains(old) => *s = s.replace(old, new),
            Value::Array(items) => items.iter_mut().for_each(|v| replace_within(v, old, new)),
            Value::Object(map) => map.values_mut().for_each(|v| replace_within(v, old, new)),
            _ => {}
        }
    }
    let mut renamed: Vec<(String, String)> = Vec::new();
    let examples = definition
        .get_mut("examples")
        .and_then(|e| e.as_array_mut());
    for example in examples.into_iter().flatten() {
        let old = example["inputs"][&task_input]
            .as_str()
            .unwrap_or(unitask::model::EXAMPLE_TASK_ID)
            .to_owned();
        let new = match renamed.iter().find(|(o, _)| *o == old) {
            Some((_, new)) => new.clone(),
            None => {
                let new = fresh(&old);
                renamed.push((old.clone(), new.clone()));
                new
            }
        };
        if !example["inputs"].is_object() {
            example["inputs"] = serde_json::json!({});
        }
        example["inputs"][&task_input] = new.clone().into();
        for key in ["response", "expect"] {
            replace(&mut example[key], &old, &new);
        }
        if let Some(text) = example["response"]["text"].as_str() {
            example["response"]["text"] = text.replace(&old, &new).into();
            // A text body (XML) holds the id inside other values too (an ARN): so does what
            // the example expects of them.
            replace_within(&mut example["expect"], &old, &new);
        }
    }
    let scenarios = definition
        .get_mut("scenarios")
        .and_then(|s| s.as_array_mut());
    for scenario in scenarios.into_iter().flatten() {
        let old = scenario["task_id"].as_str().unwrap_or_default().to_owned();
        scenario["task_id"] = fresh(&format!("scenario {old}")).into();
    }
    serde_json::to_string_pretty(&definition).expect("json")
}
