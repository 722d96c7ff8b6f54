//! The pairwise preference trainer: batches of (prompt, chosen, rejected), any [`PairObjective`].
//!
//! - Truncation is TRL's (and the SimPO repo's): when `prompt + longer response > max_length`, keep
//!   the *last* `max_prompt_length` prompt tokens; if still too long, cut both responses to
//!   `max_length − max_prompt_length` tokens (they then lose their EOS). Empty responses and empty
//!   prompts are errors naming the pair.
//! - Chosen and rejected rows (and KTO's mismatched rows) go through the policy in one forward.
//! - Reference log-probs are computed once, before training, and cached on disk under a key that
//!   hashes the reference weights, the truncated token ids (data and tokenizer) and the lengths;
//!   the reference model can be dropped before training starts ([`reference_logps`]).
//! - A step of `batch_size` pairs is split into micro-batches of `micro_batch` pairs; each
//!   back-propagates `Σ ℓ_i / batch` so the update equals the large-batch update ([`super::optim`]).
//! - Data order is a seeded shuffle per epoch, so a resumed run replays exactly the same batches.
//! - Checkpoints ([`super::checkpoint`]), a CSV metric log ([`super::metrics`]) and a progress bar.

use super::checkpoint::{self, TrainState};
use super::metrics::MetricLog;
use super::optim::{micro_batch_loss, AdamW, AdamWConfig};
use super::schedule::Schedule;
use crate::error::{Error, Result};
use crate::model::{sequence_logps, Llama, TokenBatch};
use crate::objectives::{PairLogps, PairObjective};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use tch::{nn::VarStore, Kind, Tensor};

/// One preference pair, as token ids (the prompt already rendered with its chat template).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub prompt: Vec<i64>,
    pub chosen: Vec<i64>,
    pub rejected: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairwiseConfig {
    /// Pairs per optimiser step.
    pub batch_size: usize,
    /// Pairs per forward pass (gradient accumulation = batch_size / micro_batch).
    pub micro_batch: usize,
    #[serde(default = "one")]
    pub epochs: usize,
    pub max_length: usize,
    pub max_prompt_length: usize,
    pub schedule: Schedule,
    #[serde(default)]
    pub optim: AdamWConfig,
    #[serde(default)]
    pub seed: u64,
    /// Save a checkpoint every this many steps (0 = only at the end).
    #[serde(default)]
    pub checkpoint_every: u64,
    #[serde(default = "two")]
    pub keep_checkpoints: usize,
    /// Stop after this many optimiser steps (tests and benches; `None` = the full run).
    #[serde(default)]
    pub max_steps: Option<u64>,
}

fn one() -> usize {
    1
}
fn two() -> usize {
    2
}

impl PairwiseConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, m: String| Err(Error::invalid(format!("pairwise trainer: `{f}`"), m));
        if self.batch_size == 0 || self.micro_batch == 0 || self.micro_batch > self.batch_size {
            return bad("micro_batch", format!("need 1 ≤ micro_batch ≤ batch_size, got {} and {}", self.micro_batch, self.batch_size));
        }
        if self.max_prompt_length == 0 || self.max_prompt_length >= self.max_length {
            return bad("max_prompt_length", format!("need 1 ≤ max_prompt_length < max_length, got {} and {}", self.max_prompt_length, self.max_length));
        }
        if self.epochs == 0 {
            return bad("epochs", "must be ≥ 1".into());
        }
        self.schedule.validate()
    }
}

/// TRL-style truncation of pair `index` (see the module doc); errors on empty prompt/response.
pub fn truncate(pair: &Pair, index: usize, max_length: usize, max_prompt_length: usize) -> Result<Pair> {
    let what = || format!("preference pair {index}");
    if pair.prompt.is_empty() {
        return Err(Error::invalid(what(), "empty prompt: the first response token has no context (add a BOS token)"));
    }
    for (name, r) in [("chosen", &pair.chosen), ("rejected", &pair.rejected)] {
        if r.is_empty() {
            return Err(Error::invalid(what(), format!("empty {name} response: nothing to score; drop this pair")));
        }
    }
    let mut p = pair.clone();
    let longer = p.chosen.len().max(p.rejected.len());
    if p.prompt.len() + longer > max_length {
        let cut = p.prompt.len().saturating_sub(max_prompt_length);
        p.prompt.drain(..cut); // keep the last max_prompt_length prompt tokens
    }
    if p.prompt.len() + longer > max_length {
        let keep = max_length - max_prompt_length;
        p.chosen.truncate(keep);
        p.rejected.truncate(keep);
    }
    Ok(p)
}

/// KTO's mismatched pair for pair `i`: its prompt with the next pair's chosen response.
fn mismatched(pairs: &[Pair], i: usize) -> (Vec<i64>, Vec<i64>) {
    (pairs[i].prompt.clone(), pairs[(i + 1) % pairs.len()].chosen.clone())
}

/// Every pair truncated as [`train`] truncates it under `cfg`.
pub fn truncate_all(pairs: &[Pair], cfg: &PairwiseConfig) -> Result<Vec<Pair>> {
    pairs.iter().enumerate().map(|(i, p)| truncate(p, i, cfg.max_length, cfg.max_prompt_length)).collect()
}

/// The reference log-probs [`train`] needs for `objective` on `pairs`: `None` when the objective
/// has no reference, else [`reference_logps`] of `reference` on the pairs truncated as `train`
/// will truncate them (cached in `cache_dir`).
pub fn reference_for(
    objective: &dyn PairObjective,
    reference: &Llama,
    ref_vs: &VarStore,
    pairs: &[Pair],
    cfg: &PairwiseConfig,
    tokenizer_id: &str,
    cache_dir: &Path,
) -> Result<Option<RefLogps>> {
    if !objective.needs_reference() {
        return Ok(None);
    }
    let truncated = truncate_all(pairs, cfg)?;
    reference_logps(reference, ref_vs, &truncated, cfg.micro_batch, objective.needs_kl_sample(), tokenizer_id, cache_dir).map(Some)
}

/// Cached reference log-probs, one per pair (summed over response tokens).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefLogps {
    pub key: String,
    pub chosen: Vec<f64>,
    pub rejected: Vec<f64>,
    /// Log-probs of the mismatched pairs (only when the objective needs a KL sample).
    pub mismatched: Option<Vec<f64>>,
}

fn hash_model(vs: &VarStore, h: &mut Sha256) {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in vars {
        h.update(name.as_bytes());
        let flat = t.to_kind(Kind::Float).to_device(tch::Device::Cpu).flatten(0, -1).contiguous();
        let v = Vec::<f32>::try_from(&flat).unwrap_or_default();
        for x in v {
            h.update(x.to_le_bytes());
        }
    }
}

/// The cache key: reference weights + truncated token ids (data and tokenizer) + settings.
pub fn cache_key(ref_vs: &VarStore, pairs: &[Pair], tokenizer_id: &str, with_mismatched: bool) -> String {
    let mut h = Sha256::new();
    hash_model(ref_vs, &mut h);
    h.update(tokenizer_id.as_bytes());
    h.update([with_mismatched as u8]);
    for p in pairs {
        for seq in [&p.prompt, &p.chosen, &p.rejected] {
            h.update((seq.len() as u64).to_le_bytes());
            for id in seq.iter() {
                h.update(id.to_le_bytes());
            }
        }
    }
    format!("{:x}", h.finalize())
}

/// Reference log-probs of every pair, read from `cache_dir/ref-<key>.json` or computed (in
/// micro-batches, without gradients) and written there. `pairs` must already be truncated.
pub fn reference_logps(
    reference: &Llama,
    ref_vs: &VarStore,
    pairs: &[Pair],
    micro_batch: usize,
    with_mismatched: bool,
    tokenizer_id: &str,
    cache_dir: &Path,
) -> Result<RefLogps> {
    let key = cache_key(ref_vs, pairs, tokenizer_id, with_mismatched);
    let path = cache_dir.join(format!("ref-{}.json", &key[..24]));
    if path.exists() {
        let cached: RefLogps = crate::io::read_json(&path)?;
        if cached.key == key && cached.chosen.len() == pairs.len() {
            return Ok(cached);
        }
    }
    let pb = crate::progress::bar(pairs.len() as u64, "reference", "pairs");
    let (mut chosen, mut rejected, mut mism) = (Vec::new(), Vec::new(), Vec::new());
    tch::no_grad(|| -> Result<()> {
        for start in (0..pairs.len()).step_by(micro_batch.max(1)) {
            let idx: Vec<usize> = (start..(start + micro_batch).min(pairs.len())).collect();
            let lp = forward_rows(reference, pairs, &idx, with_mismatched)?;
            let v = Vec::<f64>::try_from(lp.to_kind(Kind::Double))?;
            let n = idx.len();
            chosen.extend_from_slice(&v[..n]);
            rejected.extend_from_slice(&v[n..2 * n]);
            if with_mismatched {
                mism.extend_from_slice(&v[2 * n..]);
            }
            pb.inc(n as u64);
        }
        Ok(())
    })?;
    pb.finish_and_clear();
    let out = RefLogps { key, chosen, rejected, mismatched: with_mismatched.then_some(mism) };
    if let Some(i) = out.chosen.iter().chain(&out.rejected).position(|v| !v.is_finite()) {
        return Err(Error::invalid("reference model", format!("non-finite log-prob for row {i}: check the reference weights")));
    }
    crate::io::write_json(&path, &out)?;
    Ok(out)
}

/// Summed response log-probs of rows [chosen.., rejected.., (mismatched..)] in one forward.
fn forward_rows(model: &Llama, pairs: &[Pair], idx: &[usize], with_mismatched: bool) -> Result<Tensor> {
    let mut seqs: Vec<(Vec<i64>, Vec<i64>)> = idx.iter().map(|&i| (pairs[i].prompt.clone(), pairs[i].chosen.clone())).collect();
    seqs.extend(idx.iter().map(|&i| (pairs[i].prompt.clone(), pairs[i].rejected.clone())));
    if with_mismatched {
        seqs.extend(idx.iter().map(|&i| mismatched(pairs, i)));
    }
    let batch = TokenBatch::from_pairs(&seqs, 0, model.device());
    Ok(sequence_logps(model, &batch)?.sum)
}

fn lens(pairs: &[Pair], idx: &[usize], chosen: bool) -> Tensor {
    let v: Vec<f32> = idx.iter().map(|&i| if chosen { pairs[i].chosen.len() } else { pairs[i].rejected.len() } as f32).collect();
    Tensor::from_slice(&v)
}

fn pick(v: &[f64], idx: &[usize]) -> Tensor {
    Tensor::from_slice(&idx.iter().map(|&i| v[i] as f32).collect::<Vec<f32>>())
}

/// What a finished (or stopped) run reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TrainSummary {
    pub steps: u64,
    pub final_loss: f64,
    pub final_accuracy: f64,
    pub resumed_from: Option<u64>,
}

/// The seeded order of pair indices for `epoch`.
fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    order.shuffle(&mut rng);
    order
}

const COLUMNS: [&str; 9] = ["epoch", "lr", "loss", "chosen_reward", "rejected_reward", "margin", "accuracy", "grad_norm", "examples"];

/// Train `model` (its weights in `vs`) on `pairs` with `objective`; `reference` holds the cached
/// reference log-probs when the objective needs them. Writes `out_dir/metrics.csv` and
/// `out_dir/ckpt/`; resumes from `out_dir/ckpt/latest` when present.
pub fn train(
    model: &Llama,
    vs: &mut VarStore,
    objective: &dyn PairObjective,
    pairs: &[Pair],
    reference: Option<&RefLogps>,
    cfg: &PairwiseConfig,
    out_dir: &Path,
) -> Result<TrainSummary> {
    cfg.validate()?;
    if pairs.is_empty() {
        return Err(Error::invalid("pairwise trainer", "no preference pairs to train on"));
    }
    let pairs = truncate_all(pairs, cfg)?;
    let needs_ref = objective.needs_reference();
    let needs_kl = objective.needs_kl_sample();
    if needs_ref {
        let r = reference.ok_or_else(|| Error::invalid(format!("objective {}", objective.name()), "needs reference log-probs: call reference_logps first"))?;
        if r.chosen.len() != pairs.len() || (needs_kl && r.mismatched.is_none()) {
            return Err(Error::invalid("reference log-probs", "computed for other pairs (or without the KTO mismatched sample): recompute them"));
        }
    }
    let steps_per_epoch = pairs.len().div_ceil(cfg.batch_size) as u64;
    let total = steps_per_epoch * cfg.epochs as u64;
    let stop = cfg.max_steps.map_or(total, |m| m.min(total));

    let mut opt = AdamW::new(vs, cfg.optim.clone());
    let ckpt_dir = out_dir.join("ckpt");
    let mut state = TrainState { step: 0, examples_seen: 0, seed: cfg.seed, extra: serde_json::json!({"objective": objective.name()}) };
    let mut resumed_from = None;
    if let Some(dir) = checkpoint::latest(&ckpt_dir)? {
        state = checkpoint::load(&dir, vs, &mut opt)?;
        resumed_from = Some(state.step);
    }
    let metrics_path = out_dir.join("metrics.csv");
    let mut log = match resumed_from {
        Some(s) => MetricLog::resume(&metrics_path, &COLUMNS, s)?,
        None => MetricLog::create(&metrics_path, &COLUMNS)?,
    };
    let pb = crate::progress::bar(stop, objective.name(), "steps");
    pb.set_position(state.step);
    let mut summary = TrainSummary { resumed_from, ..Default::default() };
    // A resumed run reports the last logged step's loss and accuracy until it logs its own.
    let last = |k: &str| state.extra.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    if resumed_from.is_some() {
        (summary.final_loss, summary.final_accuracy) = (last("loss"), last("accuracy"));
    }
    while state.step < stop {
        let epoch = state.step / steps_per_epoch;
        let order = epoch_order(pairs.len(), cfg.seed, epoch);
        let at = ((state.step % steps_per_epoch) as usize) * cfg.batch_size;
        let batch: Vec<usize> = order[at..(at + cfg.batch_size).min(order.len())].to_vec();
        opt.zero_grad();
        let (mut loss, mut cr, mut rr, mut acc) = (0.0, 0.0, 0.0, 0.0);
        for micro in batch.chunks(cfg.micro_batch) {
            let n = micro.len() as i64;
            let lp = forward_rows(model, &pairs, micro, needs_kl)?;
            let mut x = PairLogps::new(lp.narrow(0, 0, n), lp.narrow(0, n, n), lens(&pairs, micro, true), lens(&pairs, micro, false));
            if let Some(r) = reference.filter(|_| needs_ref) {
                x = x.with_reference(pick(&r.chosen, micro), pick(&r.rejected, micro));
                if needs_kl {
                    x = x.with_kl_sample(lp.narrow(0, 2 * n, n).detach(), pick(r.mismatched.as_deref().unwrap_or(&[]), micro));
                }
            }
            let out = objective.loss(&x)?;
            micro_batch_loss(&out.loss, batch.len()).backward();
            let m = out.metrics();
            let w = micro.len() as f64 / batch.len() as f64;
            loss += m.loss * w;
            cr += m.chosen_reward * w;
            rr += m.rejected_reward * w;
            acc += m.accuracy * w;
        }
        let lr = cfg.schedule.lr_at(state.step, total);
        let grad_norm = opt.step(lr)?;
        state.step += 1;
        state.examples_seen += batch.len() as u64;
        log.log(
            state.step,
            &[("epoch", epoch as f64), ("lr", lr), ("loss", loss), ("chosen_reward", cr), ("rejected_reward", rr), ("margin", cr - rr), ("accuracy", acc), ("grad_norm", grad_norm), ("examples", state.examples_seen as f64)],
        )?;
        pb.set_prefix(format!("loss {loss:.4} acc {acc:.2}"));
        pb.inc(1);
        summary.final_loss = loss;
        summary.final_accuracy = acc;
        if (cfg.checkpoint_every > 0 && state.step % cfg.checkpoint_every == 0) || state.step == stop {
            state.extra["loss"] = serde_json::json!(loss);
            state.extra["accuracy"] = serde_json::json!(acc);
            checkpoint::save(&ckpt_dir, vs, &opt, &state, cfg.keep_checkpoints)?;
        }
    }
    pb.finish_and_clear();
    summary.steps = state.step;
    Ok(summary)
}

#[cfg(test)]
#[path = "pairwise_tests.rs"]
mod tests;
