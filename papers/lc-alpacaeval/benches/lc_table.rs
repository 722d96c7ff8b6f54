//! The whole LC table (difficulty by the joint GLM, then every model's GLM) and one model's GLM.
use criterion::{criterion_group, criterion_main, Criterion};
use lc_alpacaeval::{pipeline::Options, run};

fn bench(c: &mut Criterion) {
    let Some(data) = shared::io::data_root() else { return };
    let root = data.join("alpaca_eval");
    let mut g = c.benchmark_group("lc-alpacaeval");
    g.sample_size(10);
    g.bench_function("full_lc_table", |b| b.iter(|| run(&root, &Options::default()).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
