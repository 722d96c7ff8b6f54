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
use std::path::{Path, PathBuf};
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
    /// After the engine back-propagated the micro-batch's loss, before its gradients are
    /// accumulated (gradient checkpointing's recompute pass).
    fn after_backward(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether this step recomputes activations in the backward pass; a config asking for
    /// gradient checkpointing from a step that does not is an error, never silently ignored.
    fn gradient_checkpointing(&self) -> bool {
        false
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
pub fn run_key(cfg: &TrainConfig, data_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let c = TrainConfig { max_steps: None, log_every: 1, checkpoint_every: 0, keep_checkpoints: 1, ..cfg.clone() };
    format!("{:x}", Sha256::digest(format!("{}|{data_key}", serde_json::to_string(&c).unwrap_or_default()).as_bytes()))
}

const ENGINE_COLUMNS: [&str; 6] = ["epoch", "lr", "loss", "grad_norm", "examples", "tokens_per_s"];

/// One optimiser step's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOut {
    /// The batch loss (the sum of the micro-batches' shares).
    pub loss: f64,
    /// The gradient norm before clipping.
    pub grad_norm: f64,
    pub lr: f64,
    /// The step's metrics, batch means, in the order of [`Step::metric_names`].
    pub metrics: Vec<(String, f64)>,
}

/// One model's optimiser with its schedule, step counter, metric log and checkpoints, kept
/// across calls. [`run`] drives one over a fixed dataset; a rollout trainer (`crate::rl`) keeps
/// one per model (policy, critic) and calls [`Trainer::step`] on each new batch of rollouts, so
/// the optimiser's moments and the schedule carry over from rollout to rollout.
pub struct Trainer {
    pub cfg: TrainConfig,
    opt: AdamW,
    state: TrainState,
    /// Optimiser steps of the whole run (the schedule's horizon).
    total: u64,
    key: String,
    ckpt_dir: PathBuf,
    log: MetricLog,
    names: Vec<String>,
    pub summary: Summary,
    /// The `extra` of the checkpoint this trainer resumed from (what the caller saved with it).
    pub resumed: Option<serde_json::Value>,
    window: (u64, Instant),
    started: Instant,
}

impl Trainer {
    /// A trainer for the variables of `vs` whose steps report the metrics `names` (and the log
    /// has the `extra_columns` after them). `key` identifies the run: a checkpoint in
    /// `out_dir/ckpt/` written under another key (other config, other data) is an error, one
    /// under this key is resumed: the newest, or the one of optimiser step `at` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn open(vs: &mut VarStore, names: Vec<String>, extra_columns: &[String], cfg: &TrainConfig, total: u64, key: String, out_dir: &Path, at: Option<u64>) -> Result<Self> {
        cfg.validate()?;
        let mut opt = AdamW::new(vs, cfg.optim.clone());
        let ckpt_dir = out_dir.join("ckpt");
        let mut state = TrainState { step: 0, examples_seen: 0, seed: cfg.seed, extra: serde_json::json!({}) };
        let mut summary = Summary::default();
        let mut resumed = None;
        let found = match at {
            Some(s) => checkpoint::at(&ckpt_dir, s)?,
            None => checkpoint::latest(&ckpt_dir)?,
        };
        if let Some(dir) = found {
            state = checkpoint::load(&dir, vs, &mut opt)?;
            if state.seed != cfg.seed {
                return Err(Error::invalid(dir.display().to_string(), format!("checkpoint has seed {} but this run has seed {}; delete {} to start over", state.seed, cfg.seed, out_dir.display())));
            }
            if state.extra["run_key"].as_str() != Some(key.as_str()) {
                return Err(Error::invalid(dir.display().to_string(), format!("checkpoint was written for another config or other data; delete {} to start over", out_dir.display())));
            }
            if let Ok(s) = serde_json::from_value::<Summary>(state.extra["summary"].clone()) {
                summary = s;
            }
            summary.resumed_from = Some(state.step);
            resumed = Some(state.extra.clone());
        } else if at.is_some_and(|s| s > 0) {
            return Err(Error::invalid(ckpt_dir.display().to_string(), format!("no checkpoint of step {} to resume from; delete {} to start over", at.unwrap_or(0), out_dir.display())));
        }
        let columns: Vec<&str> = ENGINE_COLUMNS.iter().copied().chain(names.iter().map(String::as_str)).chain(extra_columns.iter().map(String::as_str)).collect();
        let metrics_path = out_dir.join("metrics.csv");
        let log = match summary.resumed_from {
            Some(s) => MetricLog::resume(&metrics_path, &columns, s)?,
            None => MetricLog::create(&metrics_path, &columns)?,
        };
        summary.tokens = 0;
        Ok(Trainer { cfg: cfg.clone(), opt, state, total, key, ckpt_dir, log, names, summary, resumed, window: (0, Instant::now()), started: Instant::now() })
    }

    /// Optimiser steps taken so far (across resumes).
    pub fn steps(&self) -> u64 {
        self.state.step
    }

    /// Examples trained on so far (across resumes).
    pub fn examples_seen(&self) -> u64 {
        self.state.examples_seen
    }

    /// One optimiser step on the examples `idx` of `step`: micro-batches of `cfg.micro_batch`
    /// accumulated, the gradient clipped, AdamW at the scheduled learning rate.
    pub fn step(&mut self, step: &mut dyn Step, idx: &[usize]) -> Result<StepOut> {
        let totals = step.batch_totals(idx, self.cfg.micro_batch);
        self.opt.zero_grad();
        let (mut loss, mut sums) = (0.0, vec![0.0; self.names.len()]);
        for micro in idx.chunks(self.cfg.micro_batch) {
            let out = step.micro_batch(micro, &totals)?;
            out.loss.backward();
            step.after_backward()?;
            self.opt.accumulate();
            loss += out.loss.double_value(&[]);
            for (s, v) in sums.iter_mut().zip(&out.metric_sums) {
                *s += v;
            }
            let t = step.tokens(micro) as u64;
            self.summary.tokens += t;
            self.window.0 += t;
        }
        if !loss.is_finite() {
            return Err(Error::invalid(format!("trainer {}", step.label()), format!("loss is {loss} at step {}: lower the lr or check the data", self.state.step)));
        }
        step.end_batch(idx)?;
        let lr = self.cfg.schedule.lr_at(self.state.step, self.total);
        let grad_norm = self.opt.step(lr)?;
        self.state.step += 1;
        self.state.examples_seen += idx.len() as u64;
        let metrics: Vec<(String, f64)> = self.names.iter().cloned().zip(sums.iter().map(|s| s / idx.len() as f64)).collect();
        let s = &mut self.summary;
        s.steps = self.state.step;
        s.final_loss = loss;
        s.mean_loss = (s.mean_loss * s.examples as f64 + loss * idx.len() as f64) / (s.examples + idx.len() as u64) as f64;
        s.examples += idx.len() as u64;
        s.final_metrics = metrics.clone();
        Ok(StepOut { loss, grad_norm, lr, metrics })
    }

    /// Append the metric row of the step just taken: the engine's columns, the step's metrics,
    /// then `extra` (the log's extra columns, in order).
    pub fn log_row(&mut self, epoch: f64, out: &StepOut, extra: &[(&str, f64)]) -> Result<()> {
        let tps = self.window.0 as f64 / self.window.1.elapsed().as_secs_f64().max(1e-9);
        self.window = (0, Instant::now());
        let mut row: Vec<(&str, f64)> = vec![("epoch", epoch), ("lr", out.lr), ("loss", out.loss), ("grad_norm", out.grad_norm), ("examples", self.state.examples_seen as f64), ("tokens_per_s", tps)];
        row.extend(out.metrics.iter().map(|(k, v)| (k.as_str(), *v)));
        row.extend(extra.iter().copied());
        self.log.log(self.state.step, &row)
    }

    /// Checkpoint the weights, the optimiser and `extra` (the caller's state, returned as
    /// [`Trainer::resumed`] on resume; the run key and the summary are added to it).
    pub fn save(&mut self, vs: &VarStore, extra: serde_json::Value) -> Result<PathBuf> {
        self.summary.seconds = self.started.elapsed().as_secs_f64();
        let mut extra = match extra {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        extra.insert("run_key".into(), self.key.clone().into());
        extra.insert("summary".into(), serde_json::to_value(&self.summary).unwrap_or_default());
        self.state.extra = serde_json::Value::Object(extra);
        checkpoint::save(&self.ckpt_dir, vs, &self.opt, &self.state, self.cfg.keep_checkpoints)
    }

    /// The summary; `seconds` is the time since this trainer was opened.
    pub fn finish(mut self) -> Summary {
        self.summary.seconds = self.started.elapsed().as_secs_f64();
        self.summary
    }
}

/// Train the variables of `vs` with `step` under `cfg`. Checkpoints go to `out_dir/ckpt/` and
/// the metric log to `out_dir/metrics.csv`; a checkpoint already there is resumed.
pub fn run(vs: &mut VarStore, step: &mut dyn Step, cfg: &TrainConfig, out_dir: &Path) -> Result<Summary> {
    cfg.validate()?;
    let n = step.len();
    if n == 0 {
        return Err(Error::invalid(format!("trainer {}", step.label()), "no training examples"));
    }
    if cfg.gradient_checkpointing != step.gradient_checkpointing() {
        let what = if cfg.gradient_checkpointing { "asks for gradient checkpointing, which this step does not do (only the policy step of sequence-level objectives does)" } else { "does not ask for gradient checkpointing, but the step recomputes" };
        return Err(Error::invalid(format!("trainer {}", step.label()), format!("the config {what}")));
    }
    let total = cfg.total_steps(n);
    let stop = cfg.stop_step(n);
    let key = run_key(cfg, &step.data_key());
    let evals = step.eval_names();
    let mut trainer = Trainer::open(vs, step.metric_names(), &evals, cfg, total, key, out_dir, None)?;
    let mut started_epoch: Option<u64> = None;
    if let Some(extra) = trainer.resumed.clone() {
        step.restore(&extra["step_state"])?;
        started_epoch = extra["started_epoch"].as_u64();
    }
    let pb = crate::progress::bar(stop, &step.label(), "steps");
    pb.set_position(trainer.steps());
    let mut order_cache = (u64::MAX, vec![]);
    while trainer.steps() < stop {
        let (epoch, idx) = batch_at(cfg, n, trainer.steps(), &mut order_cache);
        if !matches!(started_epoch, Some(e) if epoch <= e) {
            step.epoch_start(epoch)?;
            started_epoch = Some(epoch);
        }
        let out = trainer.step(step, &idx)?;
        let now = trainer.steps();
        let mut eval_row = vec![f64::NAN; evals.len()];
        if !evals.is_empty() && ends_epoch(cfg, n, now) {
            eval_row = step.evaluate()?;
            trainer.summary.evals.push(evals.iter().cloned().zip(eval_row.iter().copied()).collect());
        }
        pb.set_prefix(format!("loss {:.4}", out.loss));
        pb.inc(1);
        let eval_due = eval_row.iter().any(|v| !v.is_nan());
        if now % cfg.log_every == 0 || now == stop || eval_due {
            let extra: Vec<(&str, f64)> = evals.iter().map(String::as_str).zip(eval_row.iter().copied()).collect();
            trainer.log_row(epoch as f64, &out, &extra)?;
        }
        if (cfg.checkpoint_every > 0 && now % cfg.checkpoint_every == 0) || now == stop {
            let extra = serde_json::json!({ "label": step.label(), "started_epoch": started_epoch, "step_state": step.state() });
            trainer.save(vs, extra)?;
        }
    }
    pb.finish_and_clear();
    Ok(trainer.finish())
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

    /// A scalar `w` pulled toward per-example targets: loss share `Σ (w − t_i)² / batch`.
    struct Pull {
        w: Tensor,
        targets: Vec<f64>,
    }

    impl Step for Pull {
        fn label(&self) -> String {
            "pull".into()
        }
        fn len(&self) -> usize {
            self.targets.len()
        }
        fn metric_names(&self) -> Vec<String> {
            vec!["target".into()]
        }
        fn batch_totals(&self, idx: &[usize], micro: usize) -> BatchTotals {
            BatchTotals { examples: idx.len(), tokens: vec![idx.len() as f64], micro_batches: idx.len().div_ceil(micro), indices: idx.to_vec() }
        }
        fn tokens(&self, idx: &[usize]) -> usize {
            idx.len()
        }
        fn data_key(&self) -> String {
            format!("{:?}", self.targets)
        }
        fn micro_batch(&mut self, idx: &[usize], batch: &BatchTotals) -> Result<MicroOut> {
            let t = Tensor::from_slice(&idx.iter().map(|&i| self.targets[i] as f32).collect::<Vec<_>>());
            let loss = (&self.w - t).square().sum(tch::Kind::Float) / batch.examples as f64;
            Ok(MicroOut { loss, metric_sums: vec![idx.iter().map(|&i| self.targets[i]).sum()] })
        }
    }

    /// `Trainer` across calls: steps on any index sets continue one optimiser (moments and
    /// schedule); a checkpoint reopened at a given step, or under another key, behaves as stated.
    #[test]
    fn trainer_carries_the_optimiser_across_calls_and_reopens_at_a_step() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TrainConfig { keep_checkpoints: 3, ..TrainConfig::new(2, 1, Schedule::cosine(0.1, 0.0)) };
        let run = |vs: &mut VarStore, w: &Tensor, at: Option<u64>, n: u64| -> (f64, u64) {
            let mut step = Pull { w: w.shallow_clone(), targets: vec![1.0, 3.0, 5.0, 7.0] };
            let mut tr = Trainer::open(vs, step.metric_names(), &[], &cfg, 6, "k".into(), dir.path(), at).unwrap();
            for i in 0..n {
                let idx = if i % 2 == 0 { vec![0, 1] } else { vec![2, 3] };
                let out = tr.step(&mut step, &idx).unwrap();
                assert_eq!(out.metrics[0].0, "target");
                tr.log_row(0.0, &out, &[]).unwrap();
                tr.save(vs, serde_json::json!({ "mark": tr.steps() })).unwrap();
            }
            (w.double_value(&[0]), tr.steps())
        };
        let fresh = || {
            let vs = VarStore::new(tch::Device::Cpu);
            let w = vs.root().zeros("w", &[1]);
            (vs, w)
        };
        // Uninterrupted: 4 steps in one trainer.
        let (mut vs, w) = fresh();
        let whole = {
            let d = tempfile::tempdir().unwrap();
            let mut step = Pull { w: w.shallow_clone(), targets: vec![1.0, 3.0, 5.0, 7.0] };
            let mut tr = Trainer::open(&mut vs, step.metric_names(), &[], &cfg, 6, "k".into(), d.path(), None).unwrap();
            for i in 0..4 {
                tr.step(&mut step, if i % 2 == 0 { &[0, 1] } else { &[2, 3] }).unwrap();
            }
            w.double_value(&[0])
        };
        // Two calls of 2 steps, reopened from the newest checkpoint: the same weight.
        let (mut vs, w) = fresh();
        run(&mut vs, &w, None, 2);
        let (mut vs, w) = fresh();
        let (got, steps) = run(&mut vs, &w, None, 2);
        assert_eq!(steps, 4);
        assert!((got - whole).abs() < 1e-7, "{got} vs {whole}");
        // Reopened at step 3 (kept): resumes there, with the caller's state.
        let (mut vs, _w) = fresh();
        let tr = Trainer::open(&mut vs, vec!["target".into()], &[], &cfg, 6, "k".into(), dir.path(), Some(3)).unwrap();
        assert_eq!((tr.steps(), tr.resumed.as_ref().unwrap()["mark"].as_u64()), (3, Some(3)));
        // A pruned step, or another key, is refused with a message naming what to do.
        let (mut vs, _w) = fresh();
        let e = Trainer::open(&mut vs, vec![], &[], &cfg, 6, "k".into(), dir.path(), Some(1)).err().unwrap().to_string();
        assert!(e.contains("no checkpoint of step 1"), "{e}");
        let e = Trainer::open(&mut vs, vec![], &[], &cfg, 6, "other".into(), dir.path(), None).err().unwrap().to_string();
        assert!(e.contains("another config"), "{e}");
    }
}
