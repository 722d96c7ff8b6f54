//! The miniature run of one seed, in order:
//!
//! 1. the world and its cached SFT base (π_sft = π_ref);
//! 2. the hackable proxy RM (`shared::world::proxy`: filler phrases come with the preferred side
//!    of its training pairs; the oracle charges for them);
//! 3. the training prompts, and `references` responses per prompt sampled **once** from π_sft
//!    (temperature 0.9, top-p 0.9), scored by the proxy with the length penalty;
//! 4. the fixed evaluation: held-out prompts and π_sft's sampled answers;
//! 5. per method: PPO from π_sft (critic from the proxy RM, replay buffer, GAE, KL in the reward:
//!    `shared::rl`), the reward shaped by the method; evaluated before training and every
//!    `rl.eval_every` rollouts (oracle win rate vs π_sft, proxy reward, length, per prompt).
//!
//! Everything is written under `runs/par/<scale>/seed-<s>/` and a rerun resumes.

use crate::config::MiniConfig;
use crate::reward::ShapedReward;
use crate::shaping::{length_penalised, RunningStats, Shaping};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use shared::cli::Scale;
use shared::model::generate::GenerateConfig;
use shared::rl::{LearnedRm, Models};
use shared::world::rlhf::{copy_policy, critic_from, EvalPoint, EvalSet, WinMonitor};
use std::path::{Path, PathBuf};

/// One method's run: its evaluation points in order (the first before training).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodRun {
    pub name: String,
    pub shaping: Shaping,
    /// (rollouts done, prompts seen, evaluation).
    pub evals: Vec<(usize, usize, EvalPoint)>,
    /// Smallest and largest shaped reward the run trained on.
    pub reward_range: Option<(f64, f64)>,
    /// Rollout log (`rollouts.csv`) path.
    pub log: PathBuf,
}

pub struct Outcome {
    pub seed: u64,
    pub runs: Vec<MethodRun>,
    pub proxy_oracle_agreement: f64,
    pub proxy_filler_gain: f64,
    pub sft_win_rate: f64,
    pub base_trained: bool,
    pub seconds: f64,
}

pub fn run_dir(root: &Path, scale: Scale, seed: u64) -> PathBuf {
    root.join(scale.name()).join(format!("seed-{seed}"))
}

pub fn run(cfg: &MiniConfig, scale: Scale, seed: u64, device: tch::Device, root: &Path) -> Result<Outcome> {
    let started = std::time::Instant::now();
    let dir = run_dir(root, scale, seed);
    let (world, base) = shared::world::base::world_and_base(scale, seed, device)?;
    let tok = &base.tok;
    eprintln!("==> proxy reward model (filler-biased pairs)");
    let proxy = shared::world::proxy::train(&world, (&base.model, &base.vs), tok, &cfg.proxy, seed, &dir.join("proxy"))?;
    eprintln!("    held-out oracle agreement {:.1}%, proxy gain per filler phrase {:+.3}", proxy.heldout_oracle_agreement, proxy.filler_gain);

    let prompts = world.train_prompts(cfg.prompts, &mut shared::world::rng(seed, "par-prompts"));
    let ids: Vec<Vec<i64>> = prompts.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<_>>()?;
    // 3. Reference responses, once, from π_sft; scored by the proxy with the length penalty.
    let rm = LearnedRm { rm: &proxy.rm.model, pad: tok.pad, micro: 64, normalise: None, name: "proxy".into() };
    let gen = GenerateConfig { max_new_tokens: cfg.rl.max_new_tokens, temperature: 0.9, top_p: 0.9, stop_tokens: vec![tok.eos], seed: seed ^ 0x2ef5 };
    let groups = shared::train::onpolicy::sample_groups(&base.model, &ids, tok.pad, cfg.references, 64, &gen)?;
    let mut refs = Vec::with_capacity(prompts.len());
    for (i, g) in groups.iter().enumerate() {
        let ys: Vec<Vec<i64>> = g.iter().map(|y| shared::train::onpolicy::with_stop(y, &gen)).collect();
        let samples: Vec<shared::rl::Sample> = ys.iter().map(|y| shared::rl::Sample { prompt: i, prompt_ids: &ids[i], response: y }).collect();
        let raw = rm.raw(&samples)?;
        refs.push(raw.iter().zip(&ys).map(|(r, y)| length_penalised(*r, crate::reward::response_len(y, tok.eos), cfg.length_penalty.threshold, cfg.length_penalty.coef)).collect::<Vec<f64>>());
    }
    // 4. The fixed evaluation.
    let eval_gen = GenerateConfig { seed: seed ^ 0xe7a1, ..gen.clone() };
    let eval = EvalSet::new(&world, &base.model, tok, cfg.eval_prompts, eval_gen)?;

    let mut runs = vec![];
    for m in &cfg.methods {
        eprintln!("==> PPO with {} shaping", m.name);
        let (mut pvs, policy) = copy_policy(&base.model, &base.vs)?;
        let (mut cvs, critic) = critic_from(&proxy.rm, &proxy.vs)?;
        let models = Models { policy: &policy, policy_vs: &mut pvs, reference: &base.model, critic: Some((&critic, &mut cvs)), pad: tok.pad, stop_tokens: vec![tok.eos] };
        let mut reward = ShapedReward {
            rm: LearnedRm { rm: &proxy.rm.model, pad: tok.pad, micro: 64, normalise: None, name: "proxy".into() },
            shaping: m.shaping.clone(),
            length: cfg.length_penalty.clone(),
            refs: &refs,
            stats: RunningStats::default(),
            world: &world,
            prompts: &prompts,
            tok,
        };
        let mut monitor = WinMonitor { world: &world, tok, eval: &eval, proxy: &proxy.rm };
        let rcfg = shared::rl::RlConfig { seed, ..cfg.rl.clone() };
        let out = dir.join(shared::driver::slug(&m.name));
        let s = shared::rl::run::run(models, &ids, &mut reward, &mut monitor, &rcfg, &out).with_context(|| format!("PPO run of {}", m.name))?;
        let evals = s.evaluations.iter().map(|e| Ok((e.rollout, e.prompts_seen, EvalPoint::from_value(&e.value)?))).collect::<shared::Result<Vec<_>>>()?;
        if let Some((_, _, last)) = evals.last() {
            eprintln!("    oracle win rate vs SFT {:.3} → {:.3}, proxy {:.3} → {:.3}", evals[0].2.win_rate, last.win_rate, evals[0].2.proxy, last.proxy);
        }
        runs.push(MethodRun { name: m.name.clone(), shaping: m.shaping.clone(), evals, reward_range: s.reward_range, log: out.join("rollouts.csv") });
    }
    Ok(Outcome {
        seed,
        runs,
        proxy_oracle_agreement: proxy.heldout_oracle_agreement,
        proxy_filler_gain: proxy.filler_gain,
        sft_win_rate: 0.5,
        base_trained: base.trained,
        seconds: started.elapsed().as_secs_f64(),
    })
}


