//! Loading cost: validating definitions, and loading them into an `Engine`, against parsing the
//! same YAML alone.
//!
//! The corpus is synthetic: N definitions derived from the four seed providers (each copy gets its
//! own id), so growth with N is visible. `parse` is the floor (serde-saphyr into a generic value);
//! `validate` is everything `unitask validate` does, examples included; `engine` is
//! `Engine::load_str` of each into one engine (validation, then the compiled plan kept by id).
//! Run with `cargo bench --bench load`: it ends with the ratios to the parse and the time per
//! definition at each N (flat = linear growth). Target: ≤ 2× the bare parse.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 4] = [1, 10, 100, 1000];

const SEEDS: [&str; 4] = [
    include_str!("../providers/church-tech.yaml"),
    include_str!("../providers/hubspot.yaml"),
    include_str!("../providers/shoplazza.yaml"),
    include_str!("../providers/tencent-smh.yaml"),
];

/// `n` definitions, cycling through the seeds, each with a distinct id.
fn corpus(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let seed = SEEDS[i % SEEDS.len()];
            let old_id = seed
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .expect("seed has an id");
            let id = format!("{old_id}-{i}");
            (
                id.clone(),
                seed.replacen(&format!("id: {old_id}\n"), &format!("id: {id}\n"), 1),
            )
        })
        .collect()
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    for n in SIZES {
        let definitions = corpus(n);
        let bytes: usize = definitions.iter().map(|(_, s)| s.len()).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_with_input(BenchmarkId::new("parse", n), &definitions, |b, defs| {
            b.iter(|| {
                for (_, source) in defs {
                    let value: serde_json::Value =
                        serde_saphyr::from_str(black_box(source)).expect("valid yaml");
                    black_box(value);
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("validate", n), &definitions, |b, defs| {
            b.iter(|| {
                for (id, source) in defs {
                    let provider = unitask::validate::check_source(id, Some(id), black_box(source))
                        .expect("valid definition");
                    black_box(provider);
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("engine", n), &definitions, |b, defs| {
            b.iter(|| {
                let mut engine = unitask::Engine::empty();
                for (id, source) in defs {
                    engine
                        .load_str(id, black_box(source))
                        .expect("valid definition");
                }
                black_box(engine)
            })
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .configure_from_args();
    load(&mut criterion);
    criterion.final_summary();
    println!(
        "\n{:>5} {:>12} {:>12} {:>12} {:>10} {:>10} {:>14} {:>14}",
        "N", "parse", "validate", "engine", "val/parse", "eng/parse", "validate/def", "engine/def"
    );
    for n in SIZES {
        let size = n.to_string();
        let time = |what: &str| support::mean_ns(&["load", what, &size]);
        let (Some(parse), Some(validate), Some(engine)) =
            (time("parse"), time("validate"), time("engine"))
        else {
            println!("{n:>5} (not measured in this run)");
            continue;
        };
        println!(
            "{n:>5} {:>10.2}ms {:>10.2}ms {:>10.2}ms {:>9.2}× {:>9.2}× {:>12.0}µs {:>12.0}µs",
            parse / 1e6,
            validate / 1e6,
            engine / 1e6,
            validate / parse,
            engine / parse,
            validate / n as f64 / 1e3,
            engine / n as f64 / 1e3
        );
    }
}
