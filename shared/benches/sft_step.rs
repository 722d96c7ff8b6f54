//! One SFT step of the miniature world's base model (d=96, 3 layers, 4 heads, SwiGLU 256, tied
//! embeddings, vocab 116) on a [32, 82] batch: forward, masked token-mean NLL, backward, clipping
//! and AdamW, with two threads as the base is trained. `sft_step.py` times the same step with
//! transformers' `LlamaForCausalLM` in PyTorch eager.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shared::model::{tiny, TokenBatch};
use shared::train::optim::{AdamW, AdamWConfig};
use shared::train::sft::masked_nll;
use tch::Device;

const B: usize = 32;
const P: usize = 30; // prompt tokens
const R: usize = 52; // response tokens

fn bench(c: &mut Criterion) {
    shared::device::set_threads(2);
    let mut cfg = tiny::config("llama", 116, 96, 256, 3, 4);
    cfg.tie_word_embeddings = true;
    cfg.max_position_embeddings = 128;
    let (vs, model) = tiny::model(&cfg, 0);
    let mut opt = AdamW::new(&vs, AdamWConfig::default());
    let seqs: Vec<(Vec<i64>, Vec<i64>)> = (0..B as i64)
        .map(|i| ((0..P as i64).map(|k| (i * 7 + k) % 116).collect(), (0..R as i64).map(|k| (i * 13 + k * 3) % 116).collect()))
        .collect();
    let batch = TokenBatch::from_pairs(&seqs, 0, Device::Cpu);
    let mut g = c.benchmark_group("sft");
    g.sample_size(20);
    g.throughput(Throughput::Elements((B * (P + R)) as u64));
    g.bench_function("step/world_mini_b32_t82", |bench| {
        bench.iter(|| {
            opt.zero_grad();
            let (nll, count) = masked_nll(&model, &batch).expect("token ids fit the model");
            (nll / count).backward();
            opt.step(1e-3).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
