//! The reward-model trainer: Bradley–Terry on judged pairs (Ouyang et al. 2022, Eq. 1),
//! `ℓ = −log σ(r(x, y_w) − r(x, y_l))`, with `r` a linear head on the transformer's last hidden
//! state at the final (non-padding) token of `prompt + response`, as HF's
//! `AutoModelForSequenceClassification` (TRL `RewardTrainer`) scores it. Held-out pair accuracy
//! (`r_w > r_l`) is reported after every epoch and written to the metric log.

use super::config::TrainConfig;
use super::engine::{self, MicroOut, Step, Summary};
use super::objective::BatchTotals;
use super::optim::micro_batch_loss;
use super::pairwise::{truncate_all, Pair};
use crate::error::{Error, Result};
use crate::model::TokenBatch;
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

/// Reward-model training uses the one training config (truncation required).
pub type RewardConfig = TrainConfig;

/// Per-epoch held-out accuracy of a finished run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RewardSummary {
    pub steps: u64,
    pub heldout_accuracy: Vec<f64>,
}

/// The Bradley–Terry step: `ℓ = −log σ(r(x, y_w) − r(x, y_l))` per pair.
pub struct RewardStep<'a> {
    pub rm: &'a RewardModel,
    pub train: Vec<Pair>,
    pub heldout: Vec<Pair>,
    pub micro: usize,
}

impl Step for RewardStep<'_> {
    fn label(&self) -> String {
        "reward model".into()
    }
    fn len(&self) -> usize {
        self.train.len()
    }
    fn metric_names(&self) -> Vec<String> {
        vec!["accuracy".into()]
    }
    fn batch_totals(&self, idx: &[usize], micro: usize) -> BatchTotals {
        BatchTotals { examples: idx.len(), tokens: vec![], micro_batches: idx.len().div_ceil(micro.max(1)), indices: idx.to_vec() }
    }
    fn tokens(&self, idx: &[usize]) -> usize {
        idx.iter().map(|&i| 2 * self.train[i].prompt.len() + self.train[i].chosen.len() + self.train[i].rejected.len()).sum()
    }
    fn data_key(&self) -> String {
        super::example::data_key(self.train.iter().flat_map(|p| [&p.prompt, &p.chosen, &p.rejected]))
    }
    fn micro_batch(&mut self, idx: &[usize], batch: &BatchTotals) -> Result<MicroOut> {
        let ps: Vec<Pair> = idx.iter().map(|&i| self.train[i].clone()).collect();
        let (w, l) = self.rm.score_pairs(&ps)?;
        let per_pair = -(&w - &l).log_sigmoid(); // Bradley–Terry (Ouyang et al. 2022, Eq. 1)
        if per_pair.detach().isfinite().logical_not().any().int64_value(&[]) != 0 {
            return Err(Error::invalid("reward trainer", "non-finite reward: lower the lr"));
        }
        let correct = w.gt_tensor(&l).to_kind(Kind::Double).sum(Kind::Double).double_value(&[]);
        Ok(MicroOut { loss: micro_batch_loss(&per_pair, batch.examples), metric_sums: vec![correct] })
    }
    fn eval_names(&self) -> Vec<String> {
        vec!["heldout_accuracy".into()]
    }
    fn evaluate(&mut self) -> Result<Vec<f64>> {
        Ok(vec![self.rm.accuracy(&self.heldout, self.micro)?])
    }
}

/// Train `rm` (weights in `vs`) on `train_pairs`; report accuracy on `heldout` after each epoch.
/// `metrics.csv` and checkpoints go to `out_dir`, and a rerun resumes from them.
pub fn train(rm: &RewardModel, vs: &mut nn::VarStore, train_pairs: &[Pair], heldout: &[Pair], cfg: &RewardConfig, out_dir: &Path) -> Result<RewardSummary> {
    cfg.validate()?;
    if train_pairs.is_empty() {
        return Err(Error::invalid("reward trainer", "no training pairs"));
    }
    let mut step = RewardStep { rm, train: truncate_all(train_pairs, cfg)?, heldout: truncate_all(heldout, cfg)?, micro: cfg.micro_batch };
    let s: Summary = engine::run(vs, &mut step, cfg, out_dir)?;
    Ok(RewardSummary { steps: s.steps, heldout_accuracy: s.evals.iter().map(|e| e.first().map_or(f64::NAN, |(_, v)| *v)).collect() })
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
        let mut rc = RewardConfig::new(8, 4, crate::train::schedule::Schedule::cosine(2e-2, 0.1)).truncating(16, 8);
        (rc.epochs, rc.seed) = (6, 1);
        let mut vs = vs;
        let s = train(&rm, &mut vs, &train_pairs, &heldout, &rc, dir.path()).unwrap();
        assert_eq!(s.steps, 18);
        assert_eq!(s.heldout_accuracy.len(), 6);
        assert!(*s.heldout_accuracy.last().unwrap() == 1.0, "before {before}, after {:?}", s.heldout_accuracy);
        let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 19);
        // A rerun resumes the finished run: no step taken, the same per-epoch accuracies.
        let again = train(&rm, &mut vs, &train_pairs, &heldout, &rc, dir.path()).unwrap();
        assert_eq!((again.steps, again.heldout_accuracy.clone()), (18, s.heldout_accuracy.clone()));
    }
}
