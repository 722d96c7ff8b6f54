//! The training loop, written once. Every trainer of the project (SFT, pairwise preference
//! objectives, the reward model, SPPO and the on-policy iterations, PPO/GRPO) is a [`Step`] run by
//! [`run`]; what differs between papers is what a batch holds and what the loss reads, never how a
//! step is taken. In order, each optimiser step:
//!
//! 1. takes the next `batch_size` example indices in the seeded order (a permutation per epoch);
//! 2. splits them into micro-batches of `micro_batch` and, for each, back-propagates the step's
//!    loss, already scaled to its share of the batch mean, so the accumulated gradient equals the
//!    large-batch gradient;
//! 3. lets the step see the finished batch ([`Step::end_batch`]: estimates an objective keeps,
//!    such as LCPO's reliability η, are updated here);
//! 4. clips the global gradient norm and takes one optimiser step at the scheduled learning rate;
//! 5. logs a row to `metrics.csv`, advances the progress bar, and checkpoints when due.
//!
//! A checkpoint holds the weights, the optimiser's moments, the step, the data position and the
//! step's own state ([`Step::state`]), written atomically; a run started again in the same folder
//! resumes from the newest one and ends with the same weights as an uninterrupted run.

use super::checkpoint::{self, TrainState};
use super::config::TrainConfig;
use super::metrics::MetricLog;
use super::objective::BatchTotals;
use super::optim::AdamW;
use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;
use tch::{nn::VarStore, Tensor};

/// One micro-batch's contribution: the loss to back-propagate and its metrics.
pub struct MicroOut {
    /// Scalar loss, already this micro-batch's share of the batch mean (the engine only calls
    /// `backward` on it); its value summed over micro-batches is the batch loss that is logged.
    pub loss: Tensor,
    /// Metric sums over this micro-batch's examples, in the order of [`Step::metric_names`]; the
    /// log shows their batch means.
    pub metric_sums: Vec<f64>,
}

/// What a trainer plugs into the loop.
pub trait Step {
    /// Short name for the progress bar.
    fn label(&self) -> String;
    /// Examples in the dataset.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The step's metric columns, beside the engine's own (`epoch`, `lr`, `loss`, `grad_norm`, ...).
    fn metric_names(&self) -> Vec<String>;
    /// Totals over a whole optimiser batch, before any forward pass (for per-batch normalisations).
    fn batch_totals(&self, idx: &[usize], micro: usize) -> BatchTotals;
    /// Tokens the examples `idx` put through the model (for tokens/s).
    fn tokens(&self, idx: &[usize]) -> usize;
    /// A hash of the training data, stored in checkpoints: a checkpoint written for other data is
    /// never resumed ([`super::example::data_key`] hashes token ids).
    fn data_key(&self) -> String;
    /// Forward one micro-batch: its loss share and metric sums.
    fn micro_batch(&mut self, idx: &[usize], batch: &BatchTotals) -> Result<MicroOut>;
    /// Called once per optimiser batch, after its last micro-batch and before the optimiser step
    /// (a step whose objective estimates something from the batches it sees updates it here).
    fn end_batch(&mut self, _idx: &[usize]) -> Result<()> {
        Ok(())
    }
    /// Called once when an epoch starts (side data re-estimated between epochs, e.g. EM).
    fn epoch_start(&mut self, _epoch: u64) -> Result<()> {
        Ok(())
    }
    /// Names of the values [`Step::evaluate`] returns (logged at the end of each epoch).
    fn eval_names(&self) -> Vec<String> {
        vec![]
    }
    /// Held-out evaluation at the end of each epoch.
    fn evaluate(&mut self) -> Result<Vec<f64>> {
        Ok(vec![])
    }
    /// Whatever the step must carry across a resume (side data it re-estimated, ...).
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// What a finished (or stopped) run reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub steps: u64,
    /// The last step's batch loss.
    pub final_loss: f64,
    /// The mean loss over every example trained on (all steps, across resumes).
    pub mean_loss: f64,
    /// Examples trained on (all steps, across resumes).
    pub examples: u64,
    /// The last step's metric means, by name.
    pub final_metrics: Vec<(String, f64)>,
    /// End-of-epoch evaluations, one list per finished epoch.
    pub evals: Vec<Vec<(String, f64)>>,
    /// The step this run resumed from, if it continued a checkpoint.
    pub resumed_from: Option<u64>,
    pub seconds: f64,
    /// Tokens put through the model by this call.
    pub tokens: u64,
}

impl Summary {
    /// A final metric by name (NaN when absent).
    pub fn metric(&self, name: &str) -> f64 {
        self.final_metrics.iter().find(|(k, _)| k == name).map_or(f64::NAN, |(_, v)| *v)
    }
}

/// The seeded order of the example indices of `epoch` (identity when not shuffling).
pub fn epoch_order(n: usize, seed: u64, epoch: u64, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    }
    order
}

/// The examples of optimiser step `step` and the epoch they belong to: epoch-aligned batches
/// (a last partial batch per epoch) or, with `steps`, full batches streaming across epochs.
fn batch_at(cfg: &TrainConfig, n: usize, step: u64, cache: &mut (u64, Vec<usize>)) -> (u64, Vec<usize>) {
    let mut order_of = |epoch: u64| {
        if cache.0 != epoch || cache.1.len() != n {
            *cache = (epoch, epoch_order(n, cfg.seed, epoch, cfg.shuffle));
        }
        cache.1.clone()
    };
    if cfg.steps.is_none() {
        let per_epoch = n.div_ceil(cfg.batch_size) as u64;
        let epoch = step / per_epoch;
        let at = ((step % per_epoch) as usize) * cfg.batch_size;
        let order = order_of(epoch);
        return (epoch, order[at..(at + cfg.batch_size).min(n)].to_vec());
    }
    let first = step * cfg.batch_size as u64;
    let mut idx = Vec::with_capacity(cfg.batch_size);
    for pos in first..first + cfg.batch_size as u64 {
        let (epoch, at) = (pos / n as u64, (pos % n as u64) as usize);
        idx.push(order_of(epoch)[at]);
    }
    (first / n as u64, idx)
}

/// Whether step `step` (1-based, just taken) ends an epoch.
fn ends_epoch(cfg: &TrainConfig, n: usize, step: u64) -> bool {
    match cfg.steps {
        None => step % n.div_ceil(cfg.batch_size) as u64 == 0,
        Some(_) => (step * cfg.batch_size as u64) / n as u64 > ((step - 1) * cfg.batch_size as u64) / n as u64,
    }
}

/// What identifies a run for resuming: the config without the fields that may change between
/// a stopped call and the call that resumes it (`max_steps`, logging and checkpoint cadence).
fn run_key(cfg: &TrainConfig, data_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let c = TrainConfig { max_steps: None, log_every: 1, checkpoint_every: 0, keep_checkpoints: 1, ..cfg.clone() };
    format!("{:x}", Sha256::digest(format!("{}|{data_key}", serde_json::to_string(&c).unwrap_or_default()).as_bytes()))
}

const ENGINE_COLUMNS: [&str; 6] = ["epoch", "lr", "loss", "grad_norm", "examples", "tokens_per_s"];

/// Train the variables of `vs` with `step` under `cfg`. Checkpoints go to `out_dir/ckpt/` and
/// the metric log to `out_dir/metrics.csv`; a checkpoint already there is resumed.
pub fn run(vs: &mut VarStore, step: &mut dyn Step, cfg: &TrainConfig, out_dir: &Path) -> Result<Summary> {
    cfg.validate()?;
    let n = step.len();
    if n == 0 {
        return Err(Error::invalid(format!("trainer {}", step.label()), "no training examples"));
    }
    let total = cfg.total_steps(n);
    let stop = cfg.stop_step(n);
    let mut opt = AdamW::new(vs, cfg.optim.clone());
    let ckpt_dir = out_dir.join("ckpt");
    let mut state = TrainState { step: 0, examples_seen: 0, seed: cfg.seed, extra: serde_json::json!({}) };
    let mut summary = Summary::default();
    let mut started_epoch: Option<u64> = None;
    let key = run_key(cfg, &step.data_key());
    if let Some(dir) = checkpoint::latest(&ckpt_dir)? {
        state = checkpoint::load(&dir, vs, &mut opt)?;
        if state.seed != cfg.seed {
            return Err(Error::invalid(dir.display().to_string(), format!("checkpoint has seed {} but this run has seed {}; delete {} to start over", state.seed, cfg.seed, out_dir.display())));
        }
        if state.extra["run_key"].as_str() != Some(key.as_str()) {
            return Err(Error::invalid(dir.display().to_string(), format!("checkpoint was written for another config or other data; delete {} to start over", out_dir.display())));
        }
        step.restore(&state.extra["step_state"])?;
        started_epoch = state.extra["started_epoch"].as_u64();
        if let Ok(s) = serde_json::from_value::<Summary>(state.extra["summary"].clone()) {
            summary = s;
        }
        summary.resumed_from = Some(state.step);
    }
    let names = step.metric_names();
    let evals = step.eval_names();
    let columns: Vec<&str> = ENGINE_COLUMNS.iter().copied().chain(names.iter().map(String::as_str)).chain(evals.iter().map(String::as_str)).collect();
    let metrics_path = out_dir.join("metrics.csv");
    let mut log = match summary.resumed_from {
        Some(s) => MetricLog::resume(&metrics_path, &columns, s)?,
        None => MetricLog::create(&metrics_path, &columns)?,
    };
    let pb = crate::progress::bar(stop, &step.label(), "steps");
    pb.set_position(state.step);
    let started = Instant::now();
    let (mut window_tokens, mut window_start) = (0u64, Instant::now());
    let mut order_cache = (u64::MAX, vec![]);
    summary.tokens = 0;
    while state.step < stop {
        let (epoch, idx) = batch_at(cfg, n, state.step, &mut order_cache);
        if started_epoch.map_or(true, |e| epoch > e) {
            step.epoch_start(epoch)?;
            started_epoch = Some(epoch);
        }
        let totals = step.batch_totals(&idx, cfg.micro_batch);
        opt.zero_grad();
        let (mut loss, mut sums) = (0.0, vec![0.0; names.len()]);
        for micro in idx.chunks(cfg.micro_batch) {
            let out = step.micro_batch(micro, &totals)?;
            out.loss.backward();
            opt.accumulate();
            loss += out.loss.double_value(&[]);
            for (s, v) in sums.iter_mut().zip(&out.metric_sums) {
                *s += v;
            }
            let t = step.tokens(micro) as u64;
            summary.tokens += t;
            window_tokens += t;
        }
        if !loss.is_finite() {
            return Err(Error::invalid(format!("trainer {}", step.label()), format!("loss is {loss} at step {}: lower the lr or check the data", state.step)));
        }
        step.end_batch(&idx)?;
        let lr = cfg.schedule.lr_at(state.step, total);
        let grad_norm = opt.step(lr)?;
        state.step += 1;
        state.examples_seen += idx.len() as u64;
        let means: Vec<(String, f64)> = names.iter().cloned().zip(sums.iter().map(|s| s / idx.len() as f64)).collect();
        let mut eval_row = vec![f64::NAN; evals.len()];
        if !evals.is_empty() && ends_epoch(cfg, n, state.step) {
            eval_row = step.evaluate()?;
            summary.evals.push(evals.iter().cloned().zip(eval_row.iter().copied()).collect());
        }
        summary.steps = state.step;
        summary.final_loss = loss;
        summary.mean_loss = (summary.mean_loss * summary.examples as f64 + loss * idx.len() as f64) / (summary.examples + idx.len() as u64) as f64;
        summary.examples += idx.len() as u64;
        summary.final_metrics = means.clone();
        pb.set_prefix(format!("loss {loss:.4}"));
        pb.inc(1);
        let eval_due = eval_row.iter().any(|v| !v.is_nan());
        if state.step % cfg.log_every == 0 || state.step == stop || eval_due {
            let tps = window_tokens as f64 / window_start.elapsed().as_secs_f64().max(1e-9);
            (window_tokens, window_start) = (0, Instant::now());
            let mut row: Vec<(&str, f64)> = vec![("epoch", epoch as f64), ("lr", lr), ("loss", loss), ("grad_norm", grad_norm), ("examples", state.examples_seen as f64), ("tokens_per_s", tps)];
            row.extend(means.iter().map(|(k, v)| (k.as_str(), *v)));
            row.extend(evals.iter().map(String::as_str).zip(eval_row.iter().copied()));
            log.log(state.step, &row)?;
        }
        if (cfg.checkpoint_every > 0 && state.step % cfg.checkpoint_every == 0) || state.step == stop {
            summary.seconds = started.elapsed().as_secs_f64();
            state.extra = serde_json::json!({ "label": step.label(), "run_key": key, "started_epoch": started_epoch, "step_state": step.state(), "summary": summary });
            checkpoint::save(&ckpt_dir, vs, &opt, &state, cfg.keep_checkpoints)?;
        }
    }
    pb.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::schedule::Schedule;

    #[test]
    fn epoch_batches_end_partial_and_streaming_batches_run_on() {
        let mut c = TrainConfig::new(4, 2, Schedule::cosine(1e-3, 0.0));
        let mut cache = (u64::MAX, vec![]);
        let (e, last) = batch_at(&c, 10, 2, &mut cache);
        assert_eq!((e, last.len()), (0, 2)); // 10 = 4 + 4 + 2
        assert_eq!(batch_at(&c, 10, 3, &mut cache).0, 1);
        assert!(ends_epoch(&c, 10, 3) && !ends_epoch(&c, 10, 2));
        c.steps = Some(5);
        let (e, b) = batch_at(&c, 10, 2, &mut cache); // positions 8..12 straddle epochs 0 and 1
        assert_eq!((e, b.len()), (0, 4));
        assert_eq!(&b[..2], &epoch_order(10, 0, 0, true)[8..]);
        assert_eq!(&b[2..], &epoch_order(10, 0, 1, true)[..2]);
        assert!(ends_epoch(&c, 10, 3) && !ends_epoch(&c, 10, 4));
        assert_eq!(epoch_order(5, 9, 3, false), vec![0, 1, 2, 3, 4]);
    }
}
