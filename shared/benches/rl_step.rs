//! One PPO step and one GRPO step of `shared::rl` on a tiny Llama, through the engine's
//! `Trainer` as the rollout trainer runs them: 8 processed rollouts (32 prompt + 32 response
//! tokens), the clipped surrogate on the policy (+ the k3 KL loss for GRPO), the clipped value
//! loss on a critic of the same shape (PPO), AdamW with gradient clipping. `rl_step.py` times the
//! same steps in PyTorch eager.

use criterion::{criterion_group, criterion_main, Criterion};
use shared::model::reward::RewardModel;
use shared::model::tiny;
use shared::rl::math::Aggregation;
use shared::rl::steps::{PolicyUpdate, ValueUpdate};
use shared::rl::Rollout;
use shared::train::engine::Trainer;
use shared::train::schedule::{Decay, Schedule};
use shared::train::TrainConfig;
use tch::nn::VarStore;
use tch::Device;

const B: usize = 8;
const P: usize = 32;
const R: usize = 32;

fn rollouts() -> Vec<Rollout> {
    (0..B as i64)
        .map(|i| Rollout {
            prompt: i as usize,
            prompt_ids: (0..P as i64).map(|k| (i * 7 + k) % 512).collect(),
            response: (0..R as i64).map(|k| (i * 13 + k * 3) % 512).collect(),
            reward: 0.0,
            logps: (0..R).map(|k| -6.0 - 0.01 * k as f32).collect(),
            ref_logps: (0..R).map(|k| -6.1 - 0.01 * k as f32).collect(),
            values: (0..R).map(|k| 0.01 * k as f32).collect(),
            advantages: (0..R).map(|k| if (k + i as usize) % 2 == 0 { 0.5 } else { -0.5 }).collect(),
            returns: vec![0.3; R],
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    shared::device::set_threads(1);
    let cfg = tiny::config("llama", 512, 64, 128, 2, 4);
    let (mut vs, model) = tiny::model(&cfg, 0);
    let mut cvs = VarStore::new(Device::Cpu);
    let critic = RewardModel::new(&cvs.root(), &cfg).unwrap();
    tiny::init_seeded(&cvs, 1, 0.2);
    let tc = TrainConfig { optim: shared::train::optim::AdamWConfig { max_grad_norm: Some(1.0), ..Default::default() }, ..TrainConfig::new(B, B, Schedule { lr: 1e-4, warmup_ratio: 0.0, decay: Decay::Constant }) };
    let dir = tempfile::tempdir().unwrap();
    let idx: Vec<usize> = (0..B).collect();
    let mut pt = Trainer::open(&mut vs, vec!["clipfrac".into(), "approx_kl".into(), "ratio".into(), "kl_loss".into()], &[], &tc, u64::MAX / 2, "bench".into(), &dir.path().join("p"), None).unwrap();
    let mut ct = Trainer::open(&mut cvs, vec!["value_clipfrac".into(), "value_error".into()], &[], &tc, u64::MAX / 2, "bench".into(), &dir.path().join("c"), None).unwrap();
    let mut ppo = PolicyUpdate { model: &model, data: rollouts(), pad: 0, clip: 0.2, aggregation: Aggregation::TokenMean, kl_loss: None };
    let mut value = ValueUpdate { critic: &critic, data: rollouts(), pad: 0, clip: Some(0.2), coef: 0.05, aggregation: Aggregation::TokenMean };
    c.bench_function("rl_step/ppo_tiny_llama_b8_t64", |bench| {
        bench.iter(|| {
            pt.step(&mut ppo, &idx).unwrap();
            ct.step(&mut value, &idx).unwrap();
        })
    });
    let mut grpo = PolicyUpdate { model: &model, data: rollouts(), pad: 0, clip: 0.2, aggregation: Aggregation::SequenceMean, kl_loss: Some(1e-3) };
    c.bench_function("rl_step/grpo_tiny_llama_b8_t64", |bench| bench.iter(|| pt.step(&mut grpo, &idx).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
