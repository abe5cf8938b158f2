//! Loading cost: validating definitions against parsing the same YAML alone.
//!
//! The corpus is synthetic: N definitions derived from the four seed providers (each copy gets its
//! own id), so growth with N is visible. `parse` is the floor (serde-saphyr into a generic value);
//! `validate` is everything `unitask validate` does, examples included. Run with
//! `cargo bench --bench load`; the ratio validate/parse per N is the number that matters.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

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
    for n in [1, 10, 100, 1000] {
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
    }
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
