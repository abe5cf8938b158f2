//! Normalization cost counted in instructions, per seed body: the hand-written floor, the
//! generated client and the interpreter, each run under callgrind with collection switched on
//! only inside [`measure`], so start-up (loading every definition) is not counted.
//!
//! `cargo bench --bench instructions` (needs `valgrind`). The counts do not move with the load of
//! a shared machine, which time does; they are not time either (cache misses and branch
//! mispredictions cost no extra instructions), so `benches/normalize.rs` stays the measure of
//! record and this one says where the instructions go and whether a change added any.

mod floor;

use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use unitask::Engine;
use unitask::model::{Expectation, Provider};
use unitask::runtime::{self, normalize::Response};

const READERS: [&str; 3] = ["hand-written", "generated", "interpreted"];
/// Calls per measured run; the count printed is per call.
const ROUNDS: u64 = 200;

/// One seed body: its provider (as generated and as loaded) and the example's index.
struct Case<'e> {
    interpreted: &'e Provider,
    generated: &'static Provider,
    example: usize,
}

fn cases(engine: &Engine) -> Vec<Case<'_>> {
    let mut cases = Vec::new();
    for loaded in engine.iter() {
        let interpreted = &loaded.provider;
        if floor::reader(&interpreted.id).is_none() {
            continue;
        }
        let generated = unitask::providers::definition(&interpreted.id)
            .expect("a generated module")
            .expect("compiles");
        for (example, case) in interpreted.examples.iter().enumerate() {
            if matches!(case.expect, Expectation::Task(_)) {
                cases.push(Case {
                    interpreted,
                    generated,
                    example,
                });
            }
        }
    }
    cases
}

/// The measured loop: callgrind counts only what runs inside this function.
#[inline(never)]
fn measure(case: &Case<'_>, reader: &str) {
    let example = &case.interpreted.examples[case.example];
    let task_id = case.interpreted.example_task_id(example);
    let body = &example.response.body;
    let response = Response {
        status: example.response.status,
        headers: &example.response.headers,
        body,
    };
    for _ in 0..ROUNDS {
        match reader {
            "hand-written" => {
                let read = floor::reader(&case.interpreted.id).expect("a seed");
                black_box(read(task_id, black_box(body)));
            }
            "generated" => {
                black_box(runtime::normalize(
                    case.generated,
                    task_id,
                    black_box(response),
                ))
                .expect("a task");
            }
            _ => {
                black_box(runtime::normalize(
                    case.interpreted,
                    task_id,
                    black_box(response),
                ))
                .expect("a task");
            }
        }
    }
}

fn main() {
    let engine = Engine::builtin().expect("built-ins");
    let cases = cases(&engine);
    let args: Vec<String> = std::env::args().collect();
    // Run by ourselves under callgrind: `--measure CASE READER`.
    if let Some(at) = args.iter().position(|a| a == "--measure") {
        let case: usize = args[at + 1].parse().expect("a case number");
        measure(&cases[case], &args[at + 2]);
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind is not installed (apt-get install valgrind); nothing measured");
        std::process::exit(1);
    }
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/instructions");
    std::fs::create_dir_all(&out_dir).expect("target/instructions");
    println!(
        "{:<44} {:>13} {:>11} {:>11} {:>11} {:>13}",
        "instructions per call",
        "hand-written",
        "generated",
        "interp.",
        "gen./floor",
        "interp./gen."
    );
    let (mut worst_generated, mut worst_interpreted) = (0.0f64, 0.0f64);
    for (i, case) in cases.iter().enumerate() {
        let counts: Vec<f64> = READERS
            .iter()
            .map(|reader| count(&out_dir, i, reader) as f64 / ROUNDS as f64)
            .collect();
        let (floor, generated, interpreted) = (counts[0], counts[1], counts[2]);
        worst_generated = worst_generated.max(generated / floor);
        worst_interpreted = worst_interpreted.max(interpreted / generated);
        let name = format!(
            "{}/{}",
            case.interpreted.id, case.interpreted.examples[case.example].name
        );
        println!(
            "{name:<44} {floor:>13.0} {generated:>11.0} {interpreted:>11.0} {:>10.2}× {:>12.2}×",
            generated / floor,
            interpreted / generated
        );
    }
    println!(
        "worst: generated {worst_generated:.2}× the floor, interpreter {worst_interpreted:.2}× generated (in instructions)"
    );
}

/// Instructions callgrind counted inside [`measure`] for one case and reader.
fn count(out_dir: &Path, case: usize, reader: &str) -> u64 {
    let out_file = out_dir.join(format!("callgrind.{case}.{reader}"));
    let exe = std::env::current_exe().expect("this benchmark");
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--quiet")
        .arg("--toggle-collect=*instructions::measure*")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(exe)
        .args(["--measure", &case.to_string(), reader])
        .status()
        .expect("valgrind runs");
    assert!(
        status.success(),
        "case {case} {reader} failed under callgrind"
    );
    let text = std::fs::read_to_string(&out_file).expect("callgrind's output");
    text.lines()
        .find_map(|line| line.strip_prefix("summary: "))
        .or_else(|| text.lines().find_map(|line| line.strip_prefix("totals: ")))
        .and_then(|n| n.trim().parse().ok())
        .expect("a summary line")
}
