//! One DPO training step (policy forward+backward over chosen and rejected in one batch, cached
//! reference log-probs, AdamW update) on a tiny Llama; `dpo_step.py` times the same step in PyTorch eager.

use criterion::{criterion_group, criterion_main, Criterion};
use shared::model::{sequence_logps, tiny, TokenBatch};
use shared::objectives::{dpo::Dpo, PairLogps, PairObjective};
use shared::train::optim::{AdamW, AdamWConfig};
use tch::{Device, Tensor};

const B: usize = 8; // pairs
const P: usize = 32; // prompt tokens
const R: usize = 32; // response tokens

fn bench(c: &mut Criterion) {
    shared::device::set_threads(1);
    let (vs, model) = tiny::model(&tiny::config("llama", 512, 64, 128, 2, 4), 0);
    let seqs: Vec<(Vec<i64>, Vec<i64>)> = (0..2 * B as i64)
        .map(|i| ((0..P as i64).map(|k| (i * 7 + k) % 512).collect(), (0..R as i64).map(|k| (i * 13 + k * 3) % 512).collect()))
        .collect();
    let batch = TokenBatch::from_pairs(&seqs, 0, Device::Cpu);
    let ref_w = Tensor::full([B as i64], -180.0, (tch::Kind::Float, Device::Cpu));
    let ref_l = Tensor::full([B as i64], -181.0, (tch::Kind::Float, Device::Cpu));
    let len = Tensor::full([B as i64], R as f64, (tch::Kind::Float, Device::Cpu));
    let dpo = Dpo::new(0.1);
    let mut opt = AdamW::new(&vs, AdamWConfig::default());
    c.bench_function("dpo_step/tiny_llama_b8_t64", |bench| {
        bench.iter(|| {
            opt.zero_grad();
            let lp = sequence_logps(&model, &batch).expect("token ids fit the model").sum;
            let x = PairLogps::new(lp.narrow(0, 0, B as i64), lp.narrow(0, B as i64, B as i64), len.shallow_clone(), len.shallow_clone())
                .with_reference(ref_w.shallow_clone(), ref_l.shallow_clone());
            dpo.loss(&x).unwrap().mean().backward();
            opt.step(1e-4).unwrap();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
