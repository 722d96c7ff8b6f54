//! The rollout loop, in plain sight. For rollout r = 0, 1, ...:
//!
//! 1. take the next `prompts_per_rollout` prompts of the seeded order (a permutation per pass)
//!    and sample `samples_per_prompt` responses each from π_θ (KV cache, seed derived from r);
//! 2. score them with the [`Reward`] (clipped to `reward_clip`);
//! 3. without gradients: π_old's and π_ref's per-token log-probs, the policy's entropy, the
//!    critic's values (PPO);
//! 4. advantages: PPO: per-token rewards `−c·KL_t` (+R on the last token), GAE, returns,
//!    whitening over the batch's valid tokens; GRPO: group-normalised R on every token;
//! 5. push the batch into the replay buffer; if it returns a batch, take
//!    `updates_per_rollout` passes over it in optimiser batches: one policy step and (PPO) one
//!    critic step each, through the engine's [`Trainer`]s, whose optimisers and schedules carry
//!    over from rollout to rollout;
//! 6. log a row of `rollouts.csv`; evaluate with the [`Monitor`] when due; checkpoint when due.
//!
//! Checkpoints: the critic's trainer saves first, then the policy's, whose checkpoint carries the
//! loop's state (rollout index, replay buffer, evaluations, the reward's running state, the
//! critic's step). A run started again in the same folder resumes both models at those steps and
//! ends with the same weights and logs as an uninterrupted run.

use super::buffer::ReplayBuffer;
use super::config::{Algorithm, KlPlace, RlConfig};
use super::math::{self, Whiten};
use super::reward::{Reward, Sample};
use super::rollout::{padded, row, token_scores, token_values, Rollout};
use super::steps::{PolicyUpdate, ValueUpdate};
use crate::error::{Error, Result};
use crate::model::generate::GenerateConfig;
use crate::model::reward::RewardModel;
use crate::model::Llama;
use crate::train::engine::{epoch_order, run_key, Summary, Trainer};
use crate::train::metrics::MetricLog;
use crate::train::onpolicy::{sample_groups, with_stop};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// The models of a run: the policy (trained), the frozen reference, the critic (PPO, trained).
pub struct Models<'a> {
    pub policy: &'a Llama,
    pub policy_vs: &'a mut VarStore,
    pub reference: &'a Llama,
    pub critic: Option<(&'a RewardModel, &'a mut VarStore)>,
    pub pad: i64,
    /// Generation stops on these (the first is put back on stopped responses for training).
    pub stop_tokens: Vec<i64>,
}

/// Held-out evaluation during training (the paper's measurements: oracle win rate, ...).
pub trait Monitor {
    /// Called before training (`rollout` 0), after every `eval_every` rollouts and after the last.
    fn evaluate(&mut self, rollout: usize, policy: &Llama) -> Result<serde_json::Value>;
}

/// No evaluation.
pub struct NoMonitor;

impl Monitor for NoMonitor {
    fn evaluate(&mut self, _rollout: usize, _policy: &Llama) -> Result<serde_json::Value> {
        Ok(serde_json::Value::Null)
    }
}

/// One evaluation point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rollouts done before it (0 = before training).
    pub rollout: usize,
    /// Prompts sampled before it.
    pub prompts_seen: usize,
    pub value: serde_json::Value,
}

/// What is carried across a resume (saved in the policy's checkpoint).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct LoopState {
    rollout: usize,
    buffer: ReplayBuffer,
    evaluations: Vec<Evaluation>,
    reward_state: serde_json::Value,
    critic_step: u64,
    /// Every shaped reward the run trained on lay in this range (min, max).
    reward_range: Option<(f64, f64)>,
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RlSummary {
    pub rollouts: usize,
    pub policy: Summary,
    pub critic: Option<Summary>,
    pub evaluations: Vec<Evaluation>,
    /// The smallest and largest total reward of any sample of the run.
    pub reward_range: Option<(f64, f64)>,
    pub resumed_from: Option<usize>,
    pub seconds: f64,
}

/// A run's identity for resuming: the config (without its stopping point) and the prompts.
fn loop_key(cfg: &RlConfig, prompts: &[Vec<i64>], role: &str) -> String {
    let c = RlConfig { max_rollouts: None, eval_every: 0, checkpoint_every: 0, ..cfg.clone() };
    let data = crate::train::example::data_key(prompts.iter());
    let tc = if role == "critic" { cfg.critic.clone().unwrap_or_else(|| cfg.policy.clone()) } else { cfg.policy.clone() };
    run_key(&tc, &format!("{role}|{}|{data}", serde_json::to_string(&c).unwrap_or_default()))
}

/// The prompt indices of rollout `r`: positions `r·P .. (r+1)·P` of the passes' seeded orders.
pub fn rollout_prompts(n: usize, cfg: &RlConfig, r: usize) -> Vec<usize> {
    let p = cfg.prompts_per_rollout;
    (r * p..(r + 1) * p).map(|pos| epoch_order(n, cfg.seed, (pos / n) as u64, true)[pos % n]).collect()
}

fn seeded(seed: u64, r: usize, stream: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (r as u64 + 1).wrapping_mul(1_000_003) ^ stream
}

/// Per-row vectors `[B][len_b]` of a `[B, R]` tensor.
fn rows_of(t: &Tensor, lens: &[usize]) -> Result<Vec<Vec<f32>>> {
    lens.iter().enumerate().map(|(b, &l)| row(t, b, l)).collect()
}

/// π's per-token log-probs (and entropies) of `data`, without gradients, in chunks of `micro`.
/// Per-row vectors of per-token values.
type Rows = Vec<Vec<f32>>;

fn logps_of(model: &Llama, data: &[Rollout], pad: i64, micro: usize, entropy: bool) -> Result<(Rows, Rows)> {
    let (mut lp, mut ent) = (vec![], vec![]);
    for chunk in data.chunks(micro.max(1)) {
        let rows: Vec<&Rollout> = chunk.iter().collect();
        let s = tch::no_grad(|| token_scores(model, &rows, pad, entropy))?;
        let lens: Vec<usize> = chunk.iter().map(|r| r.response.len()).collect();
        lp.extend(rows_of(&s.logps, &lens)?);
        if let Some(e) = &s.entropy {
            ent.extend(rows_of(e, &lens)?);
        }
    }
    Ok((lp, ent))
}

fn values_of(critic: &RewardModel, data: &[Rollout], pad: i64, micro: usize) -> Result<Vec<Vec<f32>>> {
    let mut out = vec![];
    for chunk in data.chunks(micro.max(1)) {
        let rows: Vec<&Rollout> = chunk.iter().collect();
        let (v, _) = tch::no_grad(|| token_values(critic, &rows, pad))?;
        out.extend(rows_of(&v, &chunk.iter().map(|r| r.response.len()).collect::<Vec<_>>())?);
    }
    Ok(out)
}

fn mask_of(data: &[Rollout]) -> Tensor {
    let ones: Vec<Vec<f32>> = data.iter().map(|r| vec![1.0; r.response.len()]).collect();
    padded(&ones.iter().map(Vec::as_slice).collect::<Vec<_>>(), Device::Cpu)
}

fn tensor_of(data: &[Rollout], f: impl Fn(&Rollout) -> &[f32]) -> Tensor {
    padded(&data.iter().map(f).collect::<Vec<_>>(), Device::Cpu)
}

/// Steps 3–4 for one rollout batch: fills `logps`, `ref_logps`, `values`, `advantages`, `returns`.
/// Returns the batch's mean KL (per sample, summed over tokens, k1) and mean entropy per token.
fn process(policy: &Llama, reference: &Llama, critic: Option<&RewardModel>, pad: i64, data: &mut [Rollout], cfg: &RlConfig) -> Result<(f64, f64)> {
    let micro = cfg.policy.micro_batch;
    let (lp, ent) = logps_of(policy, data, pad, micro, true)?;
    let (rl, _) = logps_of(reference, data, pad, micro, false)?;
    for ((r, a), b) in data.iter_mut().zip(lp).zip(rl) {
        (r.logps, r.ref_logps) = (a, b);
    }
    let mask = mask_of(data);
    let logp = tensor_of(data, |r| &r.logps);
    let refl = tensor_of(data, |r| &r.ref_logps);
    let n = data.len() as f64;
    let kl_mean = ((&logp - &refl) * &mask).sum(Kind::Double).double_value(&[]) / n;
    let entropy: f64 = ent.iter().flatten().map(|&e| e as f64).sum::<f64>() / mask.sum(Kind::Double).double_value(&[]).max(1.0);
    let scores = Tensor::from_slice(&data.iter().map(|r| r.reward as f32).collect::<Vec<_>>());
    let lens: Vec<usize> = data.iter().map(|r| r.response.len()).collect();
    let whiten = |a: Tensor| match cfg.whiten {
        Whiten::None => a,
        Whiten::Population => math::masked_whiten(&a, &mask, false, true) * &mask,
        Whiten::Unbiased => math::masked_whiten(&a, &mask, true, true) * &mask,
    };
    match cfg.algorithm {
        Algorithm::Ppo => {
            let critic = critic.ok_or_else(|| Error::invalid("ppo", "PPO needs a critic"))?;
            let values = values_of(critic, data, pad, cfg.critic.as_ref().map_or(micro, |c| c.micro_batch))?;
            for (r, v) in data.iter_mut().zip(values) {
                r.values = v;
            }
            let v = tensor_of(data, |r| &r.values);
            let coef = if cfg.kl.place == KlPlace::Reward { cfg.kl.coef } else { 0.0 };
            let (rho, _) = math::token_rewards(&scores, &logp, &refl, &mask, coef, cfg.kl.estimator)?; // PAR step 4
            let adv = math::gae(&rho, &v, &mask, cfg.gamma, cfg.lambda); // GAE (Schulman et al. 2016, Eq. 16)
            let ret = math::returns(cfg.returns, &rho, &v, &adv, &mask, cfg.gamma);
            let adv = whiten(adv);
            let (adv, ret) = (rows_of(&adv, &lens)?, rows_of(&ret, &lens)?);
            for ((r, a), g) in data.iter_mut().zip(adv).zip(ret) {
                (r.advantages, r.returns) = (a, g);
            }
        }
        Algorithm::Grpo => {
            let rewards: Vec<f64> = data.iter().map(|r| r.reward).collect();
            let a = math::group_advantages(&rewards, cfg.samples_per_prompt, cfg.group_eps, cfg.group_unbiased)?; // DeepSeekMath §4.1.2
            let broadcast: Vec<Vec<f32>> = data.iter().zip(&a).map(|(r, &x)| vec![x as f32; r.response.len()]).collect();
            let adv = whiten(padded(&broadcast.iter().map(Vec::as_slice).collect::<Vec<_>>(), Device::Cpu));
            for (r, a) in data.iter_mut().zip(rows_of(&adv, &lens)?) {
                r.advantages = a;
            }
        }
    }
    Ok((kl_mean, entropy))
}

/// Means of the steps' metrics over a rollout's optimiser steps.
#[derive(Default)]
struct Means {
    sums: std::collections::BTreeMap<String, (f64, usize)>,
}

impl Means {
    fn add(&mut self, name: &str, v: f64) {
        let e = self.sums.entry(name.to_string()).or_insert((0.0, 0));
        e.0 += v;
        e.1 += 1;
    }
    fn get(&self, name: &str) -> f64 {
        self.sums.get(name).map_or(f64::NAN, |(s, n)| s / *n as f64)
    }
}

/// Train `models.policy` with PPO or GRPO on `prompts` under `cfg`, rewarded by `reward` and
/// evaluated by `monitor`. Writes `out_dir/{rollouts.csv, evaluations.json, policy/, critic/}`
/// and resumes from the checkpoints there.
#[allow(clippy::too_many_arguments)]
pub fn run(models: Models, prompts: &[Vec<i64>], reward: &mut dyn Reward, monitor: &mut dyn Monitor, cfg: &RlConfig, out_dir: &Path) -> Result<RlSummary> {
    cfg.validate()?;
    if prompts.is_empty() || prompts.iter().any(|p| p.is_empty()) {
        return Err(Error::invalid("rollout trainer", "no prompts, or an empty prompt (generation needs at least one token)"));
    }
    let Models { policy, policy_vs, reference, mut critic, pad, stop_tokens } = models;
    let started = Instant::now();
    let n = prompts.len();
    let (total, stop) = (cfg.total_rollouts(n), cfg.stop_rollout(n));
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;

    // The two trainers: the policy's checkpoint carries the loop's state and the critic's step.
    let policy_names: Vec<String> = ["clipfrac", "approx_kl", "ratio", "kl_loss"].map(String::from).to_vec();
    let mut ptrain = Trainer::open(policy_vs, policy_names, &[], &cfg.policy, cfg.optimiser_steps(n, cfg.policy.batch_size), loop_key(cfg, prompts, "policy"), &out_dir.join("policy"), None)?;
    let mut state: LoopState = match &ptrain.resumed {
        Some(extra) => serde_json::from_value(extra["rl_state"].clone()).map_err(|e| Error::invalid(out_dir.join("policy/ckpt").display().to_string(), format!("rollout state unreadable ({e}); delete {} to start over", out_dir.display())))?,
        None => LoopState { buffer: ReplayBuffer::new(cfg.replay_buffer), ..Default::default() },
    };
    let resumed_from = ptrain.resumed.as_ref().map(|_| state.rollout);
    let mut ctrain = match (&mut critic, &cfg.critic) {
        (Some((_, cvs)), Some(cc)) => {
            let dir = out_dir.join("critic");
            if resumed_from.is_none() {
                // A critic checkpoint without a policy checkpoint is from an unfinished first save.
                let _ = std::fs::remove_dir_all(dir.join("ckpt"));
            }
            let at = resumed_from.map(|_| state.critic_step);
            // The critic saves before the policy: it keeps ≥ 2 checkpoints so that the step the
            // policy's newest checkpoint recorded is still there if a run stops between the saves.
            let cc = crate::train::TrainConfig { keep_checkpoints: cc.keep_checkpoints.max(2), ..cc.clone() };
            Some(Trainer::open(cvs, ["value_clipfrac", "value_error"].map(String::from).to_vec(), &[], &cc, cfg.optimiser_steps(n, cc.batch_size), loop_key(cfg, prompts, "critic"), &dir, at)?)
        }
        (None, None) => None,
        _ => return Err(Error::invalid("rollout trainer", "PPO needs a critic model and a `critic` config; GRPO neither")),
    };
    if resumed_from.is_some() {
        reward.restore(&state.reward_state)?;
    }

    let parts = reward.parts();
    let mut columns: Vec<String> = ["prompts_seen", "reward"].map(String::from).to_vec();
    columns.extend(parts.iter().cloned());
    columns.extend(["kl", "length", "entropy", "trained", "lr", "policy_grad_norm", "clipfrac", "approx_kl", "kl_loss", "value_grad_norm", "value_clipfrac", "value_error"].map(String::from));
    let col_refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    let log_path = out_dir.join("rollouts.csv");
    let mut log = match resumed_from {
        Some(r) => MetricLog::resume(&log_path, &col_refs, r as u64)?,
        None => MetricLog::create(&log_path, &col_refs)?,
    };
    let save_evals = |evals: &[Evaluation]| crate::io::write_json(&out_dir.join("evaluations.json"), &evals);
    if state.evaluations.is_empty() {
        let value = monitor.evaluate(0, policy)?;
        state.evaluations.push(Evaluation { rollout: 0, prompts_seen: 0, value });
        save_evals(&state.evaluations)?;
    }

    let pb = crate::progress::bar(stop as u64, &format!("{:?}", cfg.algorithm).to_lowercase(), "rollouts");
    pb.set_position(state.rollout as u64);
    let k = cfg.samples_per_prompt;
    while state.rollout < stop {
        let r = state.rollout;
        // 1. Sample.
        let idx = rollout_prompts(n, cfg, r);
        let ids: Vec<Vec<i64>> = idx.iter().map(|&i| prompts[i].clone()).collect();
        let gen = GenerateConfig { max_new_tokens: cfg.max_new_tokens, temperature: cfg.temperature, top_p: cfg.top_p, stop_tokens: stop_tokens.clone(), seed: seeded(cfg.seed, r, 0x5a) };
        let groups = sample_groups(policy, &ids, pad, k, cfg.prompts_per_generate, &gen)?;
        let mut data: Vec<Rollout> = vec![];
        for (g, &i) in groups.iter().zip(&idx) {
            for y in g {
                data.push(Rollout { prompt: i, prompt_ids: prompts[i].clone(), response: with_stop(y, &gen), ..Default::default() });
            }
        }
        if let Some(j) = data.iter().position(|d| d.response.is_empty()) {
            return Err(Error::invalid(format!("rollout {r}"), format!("sample {j} is empty (max_new_tokens 0?)")));
        }
        // 2. Reward.
        let samples: Vec<Sample> = data.iter().map(|d| Sample { prompt: d.prompt, prompt_ids: &d.prompt_ids, response: &d.response }).collect();
        let scored = reward.score(&samples)?;
        if scored.len() != data.len() {
            return Err(Error::invalid("reward", format!("returned {} scores for {} samples", scored.len(), data.len())));
        }
        let mut part_sums = vec![0.0; parts.len()];
        for (d, s) in data.iter_mut().zip(&scored) {
            if !s.reward.is_finite() {
                return Err(Error::invalid("reward", format!("non-finite reward {} at rollout {r}", s.reward)));
            }
            d.reward = math::clip_reward(s.reward, cfg.reward_clip);
            let (lo, hi) = state.reward_range.unwrap_or((d.reward, d.reward));
            state.reward_range = Some((lo.min(d.reward), hi.max(d.reward)));
            for (a, b) in part_sums.iter_mut().zip(&s.parts) {
                *a += b;
            }
        }
        // 3–4. Log-probs, values, advantages.
        let (kl_mean, entropy) = process(policy, reference, critic.as_ref().map(|(c, _)| *c), pad, &mut data, cfg)?;
        let nd = data.len() as f64;
        let mean_reward = data.iter().map(|d| d.reward).sum::<f64>() / nd;
        let length = data.iter().map(|d| d.response.len() as f64).sum::<f64>() / nd;
        // 5. Buffer, then updates.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seeded(cfg.seed, r, 0xb0f));
        let mut m = Means::default();
        let trained = state.buffer.push(data, &mut rng);
        if let Some(batch) = &trained {
            let mut pstep = PolicyUpdate {
                model: policy,
                data: batch.clone(),
                pad,
                clip: cfg.clip,
                aggregation: cfg.aggregation,
                kl_loss: (cfg.kl.place == KlPlace::Loss && cfg.kl.coef > 0.0).then_some(cfg.kl.coef),
            };
            for u in 0..cfg.updates_per_rollout {
                let order = epoch_order(batch.len(), seeded(cfg.seed, r, 0x0d), u as u64, true);
                for mb in order.chunks(cfg.policy.batch_size) {
                    let out = ptrain.step(&mut pstep, mb)?;
                    ptrain.log_row(r as f64, &out, &[])?;
                    m.add("lr", out.lr);
                    m.add("policy_grad_norm", out.grad_norm);
                    for (name, v) in &out.metrics {
                        m.add(name, *v);
                    }
                }
            }
            if let (Some((cm, _)), Some(ct), Some(cc)) = (&critic, &mut ctrain, &cfg.critic) {
                let mut vstep = ValueUpdate { critic: cm, data: batch.clone(), pad, clip: cfg.value_clip, coef: cfg.value_coef, aggregation: cfg.aggregation };
                for u in 0..cfg.updates_per_rollout {
                    let order = epoch_order(batch.len(), seeded(cfg.seed, r, 0x0e), u as u64, true);
                    for mb in order.chunks(cc.batch_size) {
                        let out = ct.step(&mut vstep, mb)?;
                        ct.log_row(r as f64, &out, &[])?;
                        m.add("value_grad_norm", out.grad_norm);
                        for (name, v) in &out.metrics {
                            m.add(name, *v);
                        }
                    }
                }
            }
        }
        // 6. Log, evaluate, checkpoint.
        state.rollout += 1;
        let c = state.rollout;
        let mut row: Vec<(&str, f64)> = vec![("prompts_seen", (c * cfg.prompts_per_rollout) as f64), ("reward", mean_reward)];
        row.extend(parts.iter().map(String::as_str).zip(part_sums.iter().map(|s| s / nd)));
        row.extend([("kl", kl_mean), ("length", length), ("entropy", entropy), ("trained", f64::from(u8::from(trained.is_some())))]);
        for name in ["lr", "policy_grad_norm", "clipfrac", "approx_kl", "kl_loss", "value_grad_norm", "value_clipfrac", "value_error"] {
            row.push((name, m.get(name)));
        }
        log.log(c as u64, &row)?;
        pb.set_prefix(format!("reward {mean_reward:.3}"));
        pb.inc(1);
        if (cfg.eval_every > 0 && c % cfg.eval_every == 0) || c == total {
            let value = monitor.evaluate(c, policy)?;
            state.evaluations.push(Evaluation { rollout: c, prompts_seen: c * cfg.prompts_per_rollout, value });
            save_evals(&state.evaluations)?;
        }
        if (cfg.checkpoint_every > 0 && c % cfg.checkpoint_every == 0) || c == stop {
            if let (Some((_, cvs)), Some(ct)) = (&mut critic, &mut ctrain) {
                ct.save(cvs, serde_json::json!({}))?;
                state.critic_step = ct.steps();
            }
            state.reward_state = reward.state();
            ptrain.save(policy_vs, serde_json::json!({ "rl_state": state }))?;
        }
    }
    pb.finish_and_clear();
    Ok(RlSummary {
        rollouts: state.rollout,
        policy: ptrain.finish(),
        critic: ctrain.map(Trainer::finish),
        evaluations: state.evaluations,
        reward_range: state.reward_range,
        resumed_from,
        seconds: started.elapsed().as_secs_f64(),
    })
}
