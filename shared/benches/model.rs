//! The model's own costs on a tiny Llama (vocab 512, hidden 64, 2 layers, one thread):
//! forward+backward of response log-probs, and greedy generation with and without the KV cache
//! (criterion reports tokens/s through `Throughput`). `model.py` times the same in PyTorch eager
//! with transformers' `LlamaForCausalLM`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shared::model::{generate, generate_uncached, sequence_logps, tiny, GenerateConfig, Llama, TokenBatch};
use tch::{nn, Device, Kind};

const B: usize = 8; // sequences in the scoring batch
const T: usize = 64; // tokens per scored sequence (32 prompt + 32 response)
const GB: usize = 4; // prompts in the generation batch
const GP: usize = 16; // prompt tokens
const GN: usize = 32; // new tokens

fn tiny() -> (nn::VarStore, Llama) {
    let mut cfg = tiny::config("llama", 512, 64, 128, 2, 4);
    cfg.max_position_embeddings = 128;
    tiny::model(&cfg, 0)
}

fn bench(c: &mut Criterion) {
    shared::device::set_threads(1);
    let (vs, model) = tiny();
    let half = T as i64 / 2;
    let seqs: Vec<(Vec<i64>, Vec<i64>)> = (0..B as i64)
        .map(|i| ((0..half).map(|k| (i * 7 + k) % 512).collect(), (0..half).map(|k| (i * 13 + k * 3) % 512).collect()))
        .collect();
    let batch = TokenBatch::from_pairs(&seqs, 0, Device::Cpu);
    let mut g = c.benchmark_group("model");
    g.sample_size(20);
    g.throughput(Throughput::Elements((B * T) as u64));
    g.bench_function("forward_backward/b8_t64", |bench| {
        bench.iter(|| {
            vs.trainable_variables().iter_mut().for_each(|t| t.zero_grad());
            sequence_logps(&model, &batch).expect("token ids fit the model").mean().sum(Kind::Float).backward();
        })
    });
    let prompts: Vec<Vec<i64>> = (0..GB as i64).map(|i| (0..GP as i64).map(|k| (i * 5 + k * 11) % 512).collect()).collect();
    // No stop tokens: every row produces exactly GN tokens.
    let cfg = GenerateConfig { max_new_tokens: GN, temperature: 0.0, top_p: 1.0, stop_tokens: vec![], seed: 0 };
    g.throughput(Throughput::Elements((GB * GN) as u64));
    g.bench_function("generate_kv_cache/b4_p16_n32", |bench| bench.iter(|| generate(&model, &prompts, 0, &cfg).unwrap()));
    g.bench_function("generate_no_cache/b4_p16_n32", |bench| bench.iter(|| generate_uncached(&model, &prompts, 0, &cfg).unwrap()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
