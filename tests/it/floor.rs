//! The benchmark floor is honest: each hand-written reader builds exactly the `UploadTask` the
//! runtime builds, for every successful example of its provider. The seed providers have one
//! each; a provider added later may have one (the benchmark measures it when it does).

#[path = "../../benches/floor/mod.rs"]
mod readers;

use unitask::Engine;
use unitask::model::Expectation;
use unitask::runtime::{self, normalize::Response};

const SEEDS: [&str; 4] = ["church-tech", "hubspot", "shoplazza", "tencent-smh"];

#[test]
fn hand_written_readers_build_the_same_tasks_as_the_runtime() {
    let engine = Engine::builtin().expect("built-ins");
    let mut failures = Vec::new();
    let mut checked = 0;
    for loaded in engine.iter() {
        let provider = &loaded.provider;
        let Some(read) = readers::reader(&provider.id) else {
            if SEEDS.contains(&provider.id.as_str()) {
                failures.push(format!("no hand-written reader for {}", provider.id));
            }
            continue;
        };
        for example in &provider.examples {
            let response = &example.response;
            if !matches!(example.expect, Expectation::Task(_)) {
                continue;
            }
            let task_id = provider.example_task_id(example);
            let expected = runtime::normalize(
                provider,
                task_id,
                Response {
                    status: response.status,
                    headers: &response.headers,
                    body: &response.body,
                },
            )
            .expect("a task");
            let actual = std::panic::catch_unwind(|| read(task_id, &response.body));
            checked += 1;
            match actual {
                Ok(actual) if actual == expected => {}
                Ok(actual) => failures.push(format!(
                    "{} {}:\n  hand-written {actual:?}\n  runtime      {expected:?}",
                    provider.id, example.name
                )),
                Err(_) => failures.push(format!(
                    "{} {}: the reader panicked",
                    provider.id, example.name
                )),
            }
        }
    }
    assert!(checked >= 17, "only {checked} examples checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
