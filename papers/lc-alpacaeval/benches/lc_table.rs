//! The whole LC table: with the committed difficulty (compared with upstream's Python code by
//! `cargo xtask bench`) and with the difficulty re-estimated by the joint GLM.
use criterion::{criterion_group, criterion_main, Criterion};
use lc_alpacaeval::{pipeline::Options, run};

fn bench(c: &mut Criterion) {
    let Some(data) = shared::io::data_root() else { return };
    let root = data.join("alpaca_eval");
    let mut g = c.benchmark_group("lc-alpacaeval");
    g.sample_size(10);
    // Same ingredients as the Python reference (benches/lc_table.py): the committed difficulty.
    let d = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../results/lc-alpacaeval/instruction_difficulty.csv");
    g.bench_function("lc_table_given_difficulty", |b| b.iter(|| run(&root, &Options { difficulty_file: Some(d.clone()) }).unwrap()));
    g.bench_function("full_lc_table", |b| b.iter(|| run(&root, &Options::default()).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
