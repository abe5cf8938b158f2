//! Normalization cost, per built-in provider and per successful example body: a hand-written serde
//! reader that builds the same `UploadTask` (the floor, `benches/floor/`, for the seed providers),
//! the generated client's plan, and the interpreter's, on the same bytes, in one run.
//!
//! `cargo bench --bench normalize` prints criterion's measurements, then a table of ratios read
//! from criterion's estimates of this run. Targets: generated ≤ 1.2× the floor, interpreter ≤ 1.5×
//! generated.

mod floor;
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use unitask::Engine;
use unitask::model::{Expectation, Provider};
use unitask::runtime::{self, normalize::Response};

const READERS: [&str; 3] = ["hand-written", "generated", "interpreted"];

/// Every (provider, example) benchmarked, in order.
fn cases(engine: &Engine) -> Vec<(&Provider, &'static Provider, usize)> {
    let mut cases = Vec::new();
    for loaded in engine.iter() {
        let interpreted: &Provider = &loaded.provider;
        let generated: &'static Provider = unitask::providers::definition(&interpreted.id)
            .expect("a generated module")
            .expect("compiles");
        for (i, example) in interpreted.examples.iter().enumerate() {
            if matches!(example.expect, Expectation::Task(_)) {
                cases.push((interpreted, generated, i));
            }
        }
    }
    cases
}

fn main() {
    let engine = Engine::builtin().expect("built-ins");
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args();
    let cases = cases(&engine);
    let mut names = Vec::new();
    for &(interpreted, generated, i) in &cases {
        let example = &interpreted.examples[i];
        let task_id = interpreted.example_task_id(example);
        let body = example.response.body.clone();
        let response = Response {
            status: example.response.status,
            headers: &example.response.headers,
            body: &body,
        };
        let hand_written = floor::reader(&interpreted.id);
        // The floor must do the same work: it builds the very task the runtime builds.
        if let Some(hand_written) = hand_written {
            assert_eq!(
                hand_written(task_id, &body),
                runtime::normalize(generated, task_id, response).expect("a task"),
                "{} {}",
                interpreted.id,
                example.name
            );
        }
        let group_name = format!("normalize/{}/{}", interpreted.id, example.name);
        let mut group = criterion.benchmark_group(&group_name);
        if let Some(hand_written) = hand_written {
            group.bench_function(READERS[0], |b| {
                b.iter(|| black_box(hand_written(task_id, black_box(&body))))
            });
        }
        group.bench_function(READERS[1], |b| {
            b.iter(|| black_box(runtime::normalize(generated, task_id, black_box(response))))
        });
        group.bench_function(READERS[2], |b| {
            b.iter(|| {
                black_box(runtime::normalize(
                    interpreted,
                    task_id,
                    black_box(response),
                ))
            })
        });
        group.finish();
        names.push(group_name);
    }
    criterion.final_summary();
    print_ratios(&names);
}

/// The ratio table, from the point estimates criterion wrote for this run.
fn print_ratios(groups: &[String]) {
    println!(
        "\n{:<44} {:>12} {:>10} {:>10} {:>14} {:>13}",
        "body", "hand-written", "generated", "interp.", "gen./floor", "interp./gen."
    );
    let (mut worst_generated, mut worst_interpreted) = (0.0f64, 0.0f64);
    for group in groups {
        let floor = support::mean_ns(&[group, READERS[0]]);
        let times: Option<Vec<f64>> = READERS[1..]
            .iter()
            .map(|reader| support::mean_ns(&[group, reader]))
            .collect();
        let Some(times) = times else {
            println!("{group:<44} (no estimates: filtered out or not measured)");
            continue;
        };
        let (generated, interpreted) = (times[0], times[1]);
        worst_interpreted = worst_interpreted.max(interpreted / generated);
        // Only the seed providers have a hand-written floor.
        let (shown_floor, ratio) = match floor {
            Some(floor) => {
                worst_generated = worst_generated.max(generated / floor);
                (
                    format!("{:.2}µs", floor / 1000.0),
                    format!("{:.2}×", generated / floor),
                )
            }
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:<44} {:>12} {:>8.2}µs {:>8.2}µs {:>14} {:>12.2}×",
            group.trim_start_matches("normalize/"),
            shown_floor,
            generated / 1000.0,
            interpreted / 1000.0,
            ratio,
            interpreted / generated
        );
    }
    println!(
        "worst: generated {worst_generated:.2}× the floor (target ≤ 1.2×), interpreter {worst_interpreted:.2}× generated (target ≤ 1.5×)"
    );
}
