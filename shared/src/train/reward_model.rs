//! The reward-model trainer: Bradley–Terry on judged pairs (Ouyang et al. 2022, Eq. 1),
//! `ℓ = −log σ(r(x, y_w) − r(x, y_l))`, with `r` a linear head on the transformer's last hidden
//! state at the final (non-padding) token of `prompt + response`, as HF's
//! `AutoModelForSequenceClassification` (TRL `RewardTrainer`) scores it. Held-out pair accuracy
//! (`r_w > r_l`) is reported after every epoch and written to the metric log.

use super::metrics::MetricLog;
use super::optim::{micro_batch_loss, AdamW, AdamWConfig};
use super::pairwise::{truncate, Pair};
use super::schedule::Schedule;
use crate::error::{Error, Result};
use crate::model::TokenBatch;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{nn, Kind, Tensor};

/// The reward model being trained: [`crate::model::reward::RewardModel`] (HF names, reward at
/// the last real token), with the batching this trainer needs.
pub struct RewardModel {
    pub model: crate::model::reward::RewardModel,
}

impl RewardModel {
    /// The transformer (`model.*`) and the head (`score.weight`) under `p`.
    pub fn new(p: &nn::Path, cfg: &crate::model::LlamaConfig) -> Result<Self> {
        Ok(RewardModel { model: crate::model::reward::RewardModel::new(p, cfg)? })
    }

    /// Rewards `[B]` of right-padded `(prompt, response)` rows.
    pub fn score(&self, seqs: &[(Vec<i64>, Vec<i64>)]) -> Result<Tensor> {
        let batch = TokenBatch::from_pairs(seqs, 0, self.model.backbone().device());
        self.model.forward(&batch.input_ids, &batch.attention_mask)
    }

    /// `(r_w, r_l)` of pairs, chosen and rejected rows in one forward.
    pub fn score_pairs(&self, pairs: &[Pair]) -> Result<(Tensor, Tensor)> {
        let mut seqs: Vec<_> = pairs.iter().map(|p| (p.prompt.clone(), p.chosen.clone())).collect();
        seqs.extend(pairs.iter().map(|p| (p.prompt.clone(), p.rejected.clone())));
        let r = self.score(&seqs)?;
        let n = pairs.len() as i64;
        Ok((r.narrow(0, 0, n), r.narrow(0, n, n)))
    }

    /// Fraction of pairs with `r_w > r_l`, in micro-batches without gradients.
    pub fn accuracy(&self, pairs: &[Pair], micro: usize) -> Result<f64> {
        if pairs.is_empty() {
            return Ok(f64::NAN);
        }
        let correct: f64 = tch::no_grad(|| {
            pairs.chunks(micro.max(1)).map(|c| {
                let (w, l) = self.score_pairs(c)?;
                Ok(w.gt_tensor(&l).to_kind(Kind::Double).sum(Kind::Double).double_value(&[]))
            }).sum::<Result<f64>>()
        })?;
        Ok(correct / pairs.len() as f64)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardConfig {
    pub batch_size: usize,
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
}

fn one() -> usize {
    1
}

/// Per-epoch held-out accuracy of a finished run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RewardSummary {
    pub steps: u64,
    pub heldout_accuracy: Vec<f64>,
}

/// Train `rm` (weights in `vs`) on `train_pairs`; report accuracy on `heldout` after each epoch.
pub fn train(rm: &RewardModel, vs: &nn::VarStore, train_pairs: &[Pair], heldout: &[Pair], cfg: &RewardConfig, out_dir: &Path) -> Result<RewardSummary> {
    if cfg.batch_size == 0 || cfg.micro_batch == 0 || cfg.micro_batch > cfg.batch_size {
        return Err(Error::invalid("reward trainer: `micro_batch`", format!("need 1 ≤ micro_batch ≤ batch_size, got {} and {}", cfg.micro_batch, cfg.batch_size)));
    }
    cfg.schedule.validate()?;
    if train_pairs.is_empty() {
        return Err(Error::invalid("reward trainer", "no training pairs"));
    }
    let prep = |ps: &[Pair]| -> Result<Vec<Pair>> { ps.iter().enumerate().map(|(i, p)| truncate(p, i, cfg.max_length, cfg.max_prompt_length)).collect() };
    let (train_pairs, heldout) = (prep(train_pairs)?, prep(heldout)?);
    let steps_per_epoch = train_pairs.len().div_ceil(cfg.batch_size) as u64;
    let total = steps_per_epoch * cfg.epochs as u64;
    let mut opt = AdamW::new(vs, cfg.optim.clone());
    let mut log = MetricLog::create(&out_dir.join("reward_metrics.csv"), &["epoch", "lr", "loss", "accuracy", "grad_norm", "heldout_accuracy"])?;
    let pb = crate::progress::bar(total, "reward model", "steps");
    let mut summary = RewardSummary::default();
    let mut step = 0u64;
    for epoch in 0..cfg.epochs as u64 {
        let mut order: Vec<usize> = (0..train_pairs.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        for batch in order.chunks(cfg.batch_size) {
            opt.zero_grad();
            let (mut loss, mut acc) = (0.0, 0.0);
            for micro in batch.chunks(cfg.micro_batch) {
                let ps: Vec<Pair> = micro.iter().map(|&i| train_pairs[i].clone()).collect();
                let (w, l) = rm.score_pairs(&ps)?;
                let per_pair = -(&w - &l).log_sigmoid(); // Bradley–Terry
                let v = per_pair.detach().to_kind(Kind::Double);
                if v.isfinite().logical_not().any().int64_value(&[]) != 0 {
                    return Err(Error::invalid("reward trainer", format!("non-finite reward at step {step}: lower the lr")));
                }
                micro_batch_loss(&per_pair, batch.len()).backward();
                loss += v.sum(Kind::Double).double_value(&[]) / batch.len() as f64;
                acc += w.gt_tensor(&l).to_kind(Kind::Double).sum(Kind::Double).double_value(&[]) / batch.len() as f64;
            }
            let lr = cfg.schedule.lr_at(step, total);
            let gn = opt.step(lr)?;
            step += 1;
            let held = if step % steps_per_epoch == 0 { rm.accuracy(&heldout, cfg.micro_batch)? } else { f64::NAN };
            log.log(step, &[("epoch", epoch as f64), ("lr", lr), ("loss", loss), ("accuracy", acc), ("grad_norm", gn), ("heldout_accuracy", held)])?;
            pb.inc(1);
        }
        summary.heldout_accuracy.push(rm.accuracy(&heldout, cfg.micro_batch)?);
    }
    pb.finish_and_clear();
    summary.steps = step;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn learns_a_separable_preference_and_reports_heldout_accuracy() {
        let cfg = crate::model::tiny::config("llama", 30, 16, 32, 1, 2);
        let vs = nn::VarStore::new(Device::Cpu);
        let rm = RewardModel::new(&vs.root(), &cfg).unwrap();
        crate::model::tiny::init_seeded(&vs, 0, 0.2);
        // The judged rule: responses ending in token 7 beat responses ending in token 8.
        let mk = |i: i64| Pair { prompt: vec![1, 2 + i % 5], chosen: vec![10 + i % 9, 7], rejected: vec![10 + (i + 3) % 9, 8] };
        let train_pairs: Vec<Pair> = (0..24).map(mk).collect();
        let heldout: Vec<Pair> = (100..112).map(mk).collect();
        let before = rm.accuracy(&heldout, 4).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rc = RewardConfig { batch_size: 8, micro_batch: 4, epochs: 6, max_length: 16, max_prompt_length: 8, schedule: Schedule::cosine(2e-2, 0.1), optim: AdamWConfig::default(), seed: 1 };
        let s = train(&rm, &vs, &train_pairs, &heldout, &rc, dir.path()).unwrap();
        assert_eq!(s.steps, 18);
        assert_eq!(s.heldout_accuracy.len(), 6);
        assert!(*s.heldout_accuracy.last().unwrap() == 1.0, "before {before}, after {:?}", s.heldout_accuracy);
        let csv = std::fs::read_to_string(dir.path().join("reward_metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 19);
    }
}
