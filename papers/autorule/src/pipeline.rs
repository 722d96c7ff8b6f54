//! The miniature run of one seed, in order:
//!
//! 1. the world and its cached SFT base;
//! 2. the hackable proxy RM (`shared::world::proxy`), standardised with a mean and standard
//!    deviation stored from SFT samples (OpenRLHF's `--normalize_reward`);
//! 3. rules mined from `mine_pairs` preference pairs (justify → extract → merge, [`crate::rules`]),
//!    and their agreement with held-out oracle preferences between two SFT samples;
//! 4. the fixed evaluation (held-out prompts, the SFT model's sampled answers);
//! 5. per method: GRPO from π_sft for two episodes (`shared::rl`: n samples per prompt,
//!    group-normalised advantages, PPO clip, k3 KL loss), reward = RM (+ rules | − length penalty);
//!    evaluated every `rl.eval_every` rollouts (the end of episode 1 among them).

use crate::config::{Extra, MiniConfig};
use crate::rules::{self, CheckedPair, Rule, Tally};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use shared::cli::Scale;
use shared::model::generate::GenerateConfig;
use shared::rl::{LearnedRm, Models, Reward, Sample, Scored};
use shared::world::rlhf::{copy_policy, EvalPoint, EvalSet, WinMonitor};
use shared::world::tokenizer::WorldTokenizer;
use shared::world::{Prompt, World};
use std::path::{Path, PathBuf};

/// A method's reward: `(r − μ)/σ` of the proxy, plus the rule reward or minus the length penalty.
pub struct RuleReward<'a> {
    pub rm: LearnedRm<'a>,
    pub extra: Extra,
    pub rules: &'a [Rule],
    pub length_threshold: usize,
    pub world: &'a World,
    pub prompts: &'a [Prompt],
    pub gold_len: &'a [usize],
    pub tok: &'a WorldTokenizer,
}

impl Reward for RuleReward<'_> {
    fn parts(&self) -> Vec<String> {
        ["proxy", "rule_frac", "oracle"].map(String::from).to_vec()
    }

    fn score(&mut self, samples: &[Sample]) -> shared::Result<Vec<Scored>> {
        let (mu, sd) = self.rm.normalise.unwrap_or((0.0, 1.0));
        let raw = self.rm.raw(samples)?;
        Ok(samples
            .iter()
            .zip(raw)
            .map(|(s, r)| {
                let x = &self.prompts[s.prompt];
                let y = self.tok.decode_response(s.response);
                let frac = rules::fraction(self.rules, &rules::verify(x, &y, self.gold_len[s.prompt]));
                let len = s.response.iter().filter(|&&t| t != self.tok.eos).count();
                let total = (r - mu) / sd
                    + match self.extra {
                        Extra::None => 0.0,
                        Extra::Rules => rules::rule_reward(frac),
                        Extra::LengthPenalty => -rules::length_penalty(len, self.length_threshold),
                    };
                Scored { reward: total, parts: vec![r, frac, self.world.oracle.score(x, &y)] }
            })
            .collect())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodRun {
    pub name: String,
    pub extra: Extra,
    /// (rollouts done, prompts seen, evaluation).
    pub evals: Vec<(usize, usize, EvalPoint)>,
}

pub struct Outcome {
    pub seed: u64,
    pub rules: Vec<Rule>,
    pub tallies: Vec<Tally>,
    /// Per held-out pair: 1 when the rules rank the oracle's preferred side higher, ½ on a tie.
    pub agreement: Vec<f64>,
    pub rm_normalise: (f64, f64),
    pub proxy_filler_gain: f64,
    pub runs: Vec<MethodRun>,
    /// Rollouts per episode.
    pub episode: usize,
    pub sft_lengths: Vec<f64>,
    pub seconds: f64,
}

pub fn run_dir(root: &Path, scale: Scale, seed: u64) -> PathBuf {
    root.join(scale.name()).join(format!("seed-{seed}"))
}

fn checked(world: &World, x: &Prompt, y: &str) -> Vec<bool> {
    rules::verify(x, y, world.gold(x).chars().count())
}

pub fn run(cfg: &MiniConfig, scale: Scale, seed: u64, device: tch::Device, root: &Path) -> Result<Outcome> {
    let started = std::time::Instant::now();
    let dir = run_dir(root, scale, seed);
    let (world, base) = shared::world::base::world_and_base(scale, seed, device)?;
    let tok = &base.tok;
    eprintln!("==> proxy reward model (filler-biased pairs)");
    let proxy = shared::world::proxy::train(&world, (&base.model, &base.vs), tok, &cfg.proxy, seed, &dir.join("proxy"))?;
    let prompts = world.train_prompts(cfg.prompts, &mut shared::world::rng(seed, "autorule-prompts"));
    let ids: Vec<Vec<i64>> = prompts.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<_>>()?;
    let gold_len: Vec<usize> = prompts.iter().map(|x| world.gold(x).chars().count()).collect();
    let gen = GenerateConfig { max_new_tokens: cfg.rl.max_new_tokens, temperature: 1.0, top_p: 1.0, stop_tokens: vec![tok.eos], seed: seed ^ 0x41 };

    // 2. The RM's stored statistics, from SFT samples of other prompts.
    let norm_prompts = world.train_prompts(cfg.normalise_samples, &mut shared::world::rng(seed, "autorule-normalise"));
    let ys = shared::world::policy::sample_texts(&base.model, tok, &norm_prompts, &gen, 64)?;
    let mut scores = vec![];
    for (xs, yc) in norm_prompts.chunks(64).zip(ys.chunks(64)) {
        let seqs: Vec<(Vec<i64>, Vec<i64>)> = xs.iter().zip(yc).map(|(x, y)| Ok((tok.encode_prompt(&x.text())?, tok.encode_response(y)?))).collect::<shared::Result<_>>()?;
        let r = tch::no_grad(|| proxy.rm.score(&seqs))?;
        scores.extend(Vec::<f64>::try_from(r.to_kind(tch::Kind::Double).to_device(tch::Device::Cpu))?);
    }
    let mu = scores.iter().sum::<f64>() / scores.len() as f64;
    let sd = (scores.iter().map(|s| (s - mu).powi(2)).sum::<f64>() / (scores.len() - 1) as f64).sqrt().max(1e-6);

    // 3. Mine the rules from preference pairs; measure their agreement with the oracle.
    eprintln!("==> mining rules from {} pairs", cfg.mine_pairs);
    let mut rng = shared::world::rng(seed, "autorule-mine");
    let mine_prompts = world.train_prompts(cfg.mine_pairs, &mut rng);
    let (mut pairs, mut responses) = (vec![], vec![]);
    for x in &mine_prompts {
        if let Some((c, r)) = shared::world::proxy::pair_texts(&world, x, &cfg.proxy, &mut rng) {
            let p = CheckedPair { chosen: checked(&world, x, &c), rejected: checked(&world, x, &r) };
            responses.extend([p.chosen.clone(), p.rejected.clone()]);
            pairs.push(p);
        }
    }
    let (mined, tallies) = rules::merge(&pairs, &responses, cfg.tau);
    eprintln!("    rules: {:?}", mined.iter().map(|r| r.name()).collect::<Vec<_>>());
    let agree_prompts = world.train_prompts(cfg.agreement_pairs, &mut shared::world::rng(seed, "autorule-agreement"));
    let a = shared::world::policy::sample_texts(&base.model, tok, &agree_prompts, &GenerateConfig { seed: seed ^ 0xa1, ..gen.clone() }, 64)?;
    let b = shared::world::policy::sample_texts(&base.model, tok, &agree_prompts, &GenerateConfig { seed: seed ^ 0xb2, ..gen.clone() }, 64)?;
    let mut agreement = vec![];
    for ((x, ya), yb) in agree_prompts.iter().zip(&a).zip(&b) {
        let (oa, ob) = (world.oracle.score(x, ya), world.oracle.score(x, yb));
        if oa == ob {
            continue;
        }
        let (fa, fb) = (rules::fraction(&mined, &checked(&world, x, ya)), rules::fraction(&mined, &checked(&world, x, yb)));
        agreement.push(if fa == fb { 0.5 } else if (fa > fb) == (oa > ob) { 1.0 } else { 0.0 });
    }

    // 4–5. Evaluation and the GRPO runs.
    let eval = EvalSet::new(&world, &base.model, tok, cfg.eval_prompts, GenerateConfig { seed: seed ^ 0xe7a1, ..gen.clone() })?;
    let mut runs = vec![];
    for m in &cfg.methods {
        eprintln!("==> GRPO, {}", m.name);
        let (mut pvs, policy) = copy_policy(&base.model, &base.vs)?;
        let models = Models { policy: &policy, policy_vs: &mut pvs, reference: &base.model, critic: None, pad: tok.pad, stop_tokens: vec![tok.eos] };
        let mut reward = RuleReward {
            rm: LearnedRm { rm: &proxy.rm.model, pad: tok.pad, micro: 64, normalise: Some((mu, sd)), name: "proxy".into() },
            extra: m.extra,
            rules: &mined,
            length_threshold: cfg.length_threshold,
            world: &world,
            prompts: &prompts,
            gold_len: &gold_len,
            tok,
        };
        let mut monitor = WinMonitor { world: &world, tok, eval: &eval, proxy: &proxy.rm };
        let rcfg = shared::rl::RlConfig { seed, ..cfg.rl.clone() };
        let s = shared::rl::run::run(models, &ids, &mut reward, &mut monitor, &rcfg, &dir.join(shared::driver::slug(&m.name))).with_context(|| format!("GRPO run of {}", m.name))?;
        let evals = s.evaluations.iter().map(|e| Ok((e.rollout, e.prompts_seen, EvalPoint::from_value(&e.value)?))).collect::<shared::Result<Vec<_>>>()?;
        if let Some((_, _, last)) = evals.last() {
            eprintln!("    oracle win rate vs SFT {:.3} → {:.3}, proxy {:.3} → {:.3}, length {:.1} → {:.1}", evals[0].2.win_rate, last.win_rate, evals[0].2.proxy, last.proxy, evals[0].2.length, last.length);
        }
        runs.push(MethodRun { name: m.name.clone(), extra: m.extra, evals });
    }
    let sft_lengths = eval.sft.iter().map(|y| y.chars().count() as f64).collect();
    Ok(Outcome { seed, rules: mined, tallies, agreement, rm_normalise: (mu, sd), proxy_filler_gain: proxy.filler_gain, runs, episode: cfg.episode_rollouts(), sft_lengths, seconds: started.elapsed().as_secs_f64() })
}

