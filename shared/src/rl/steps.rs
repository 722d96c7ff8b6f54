//! The two [`Step`]s of the rollout trainer, run by the engine's [`crate::train::engine::Trainer`]
//! on a batch of processed [`Rollout`]s:
//!
//! - [`PolicyUpdate`]: the clipped surrogate on the policy (PPO and GRPO alike), plus the k3 KL
//!   loss to the reference when the KL is a loss term (GRPO);
//! - [`ValueUpdate`]: the clipped value loss on the critic (PPO).
//!
//! Both normalise by the whole optimiser batch ([`BatchTotals`]), so micro-batching never changes
//! an update.

use super::math::{self, Aggregation, KlEstimator};
use super::rollout::{padded, token_scores, token_values, Rollout};
use crate::error::Result;
use crate::model::reward::RewardModel;
use crate::model::Llama;
use crate::train::engine::{MicroOut, Step};
use crate::train::objective::BatchTotals;
use tch::{Kind, Tensor};

fn totals(data: &[Rollout], idx: &[usize], micro: usize) -> BatchTotals {
    let tokens = idx.iter().map(|&i| data[i].response.len()).sum::<usize>() as f64;
    BatchTotals { examples: idx.len(), tokens: vec![tokens], micro_batches: idx.len().div_ceil(micro.max(1)), indices: idx.to_vec() }
}

fn denominator(agg: Aggregation, b: &BatchTotals) -> f64 {
    match agg {
        Aggregation::TokenMean => b.tokens[0].max(1.0),
        Aggregation::SequenceMean => b.examples.max(1) as f64,
    }
}

fn n_tokens(data: &[Rollout], idx: &[usize]) -> usize {
    idx.iter().map(|&i| data[i].prompt_ids.len() + data[i].response.len()).sum()
}

fn mean_per_row(x: &Tensor, mask: &Tensor) -> Tensor {
    math::per_row(x, mask, Aggregation::SequenceMean)
}

fn sum_of(t: &Tensor) -> f64 {
    t.detach().to_kind(Kind::Double).sum(Kind::Double).double_value(&[])
}

/// The policy's update on a batch of rollouts.
pub struct PolicyUpdate<'a> {
    pub model: &'a Llama,
    pub data: Vec<Rollout>,
    pub pad: i64,
    pub clip: f64,
    pub aggregation: Aggregation,
    /// `Some(β)`: add `β·k3(ℓ, ℓ_ref)` to each token's loss.
    pub kl_loss: Option<f64>,
}

impl Step for PolicyUpdate<'_> {
    fn label(&self) -> String {
        "policy".into()
    }
    fn len(&self) -> usize {
        self.data.len()
    }
    fn metric_names(&self) -> Vec<String> {
        ["clipfrac", "approx_kl", "ratio", "kl_loss"].map(String::from).to_vec()
    }
    fn batch_totals(&self, idx: &[usize], micro: usize) -> BatchTotals {
        totals(&self.data, idx, micro)
    }
    fn tokens(&self, idx: &[usize]) -> usize {
        n_tokens(&self.data, idx)
    }
    fn data_key(&self) -> String {
        crate::train::example::data_key(self.data.iter().flat_map(|r| [&r.prompt_ids, &r.response]))
    }
    fn micro_batch(&mut self, idx: &[usize], batch: &BatchTotals) -> Result<MicroOut> {
        let rows: Vec<&Rollout> = idx.iter().map(|&i| &self.data[i]).collect();
        let dev = self.model.device();
        let s = token_scores(self.model, &rows, self.pad, false)?;
        let old = padded(&rows.iter().map(|r| r.logps.as_slice()).collect::<Vec<_>>(), dev);
        let adv = padded(&rows.iter().map(|r| r.advantages.as_slice()).collect::<Vec<_>>(), dev);
        let (mut per_token, clipped) = math::policy_loss(&s.logps, &old, &adv, self.clip); // PPO Eq. 7
        let mut kl_rows = Tensor::zeros([rows.len() as i64], (Kind::Float, dev));
        if let Some(beta) = self.kl_loss {
            let rf = padded(&rows.iter().map(|r| r.ref_logps.as_slice()).collect::<Vec<_>>(), dev);
            let k3 = math::kl(&s.logps, &rf, KlEstimator::K3) * &s.mask; // GRPO's KL loss (DeepSeekMath Eq. 4)
            per_token += &k3 * beta;
            kl_rows = mean_per_row(&k3, &s.mask);
        }
        let loss = math::per_row(&per_token, &s.mask, self.aggregation).sum(Kind::Float) / denominator(self.aggregation, batch);
        let d = (&s.logps - &old) * &s.mask;
        let metric_sums = vec![
            sum_of(&mean_per_row(&clipped, &s.mask)),
            sum_of(&mean_per_row(&(d.square() * 0.5), &s.mask)),
            sum_of(&mean_per_row(&d.detach().exp(), &s.mask)),
            sum_of(&kl_rows),
        ];
        Ok(MicroOut { loss, metric_sums })
    }
}

/// The critic's update on a batch of rollouts.
pub struct ValueUpdate<'a> {
    pub critic: &'a RewardModel,
    pub data: Vec<Rollout>,
    pub pad: i64,
    pub clip: Option<f64>,
    pub coef: f64,
    pub aggregation: Aggregation,
}

impl Step for ValueUpdate<'_> {
    fn label(&self) -> String {
        "critic".into()
    }
    fn len(&self) -> usize {
        self.data.len()
    }
    fn metric_names(&self) -> Vec<String> {
        ["value_clipfrac", "value_error"].map(String::from).to_vec()
    }
    fn batch_totals(&self, idx: &[usize], micro: usize) -> BatchTotals {
        totals(&self.data, idx, micro)
    }
    fn tokens(&self, idx: &[usize]) -> usize {
        n_tokens(&self.data, idx)
    }
    fn data_key(&self) -> String {
        crate::train::example::data_key(self.data.iter().flat_map(|r| [&r.prompt_ids, &r.response]))
    }
    fn micro_batch(&mut self, idx: &[usize], batch: &BatchTotals) -> Result<MicroOut> {
        let rows: Vec<&Rollout> = idx.iter().map(|&i| &self.data[i]).collect();
        let dev = self.critic.backbone().device();
        let (v, mask) = token_values(self.critic, &rows, self.pad)?;
        let v_old = padded(&rows.iter().map(|r| r.values.as_slice()).collect::<Vec<_>>(), dev);
        let g = padded(&rows.iter().map(|r| r.returns.as_slice()).collect::<Vec<_>>(), dev);
        let (per_token, clipped) = math::value_loss(&v, &v_old, &g, self.clip); // PAR spec step 8
        let loss = math::per_row(&per_token, &mask, self.aggregation).sum(Kind::Float) * self.coef / denominator(self.aggregation, batch);
        let metric_sums = vec![sum_of(&mean_per_row(&clipped, &mask)), sum_of(&mean_per_row(&(&v - &g).square(), &mask))];
        Ok(MicroOut { loss, metric_sums })
    }
}
