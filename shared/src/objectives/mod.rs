//! Baseline preference objectives as pure tensor functions: log-probs and token counts in,
//! per-pair losses and metrics out. No model, no optimiser: a trainer computes the log-probs,
//! calls [`PairObjective::loss`], averages the per-pair losses and steps.
//!
//! Notation (the SimPO paper's objectives table, `shared/papers/simpo.md`): `log π(y|x)` is the
//! *summed* log-prob of the response tokens, `n = |y|` their count, `h = log π_θ(y|x) − log π_ref(y|x)`
//! the log-ratio, `w`/`l` the chosen/rejected response, `σ` the logistic sigmoid.
//!
//! | objective | file | per-pair loss (default form) |
//! |---|---|---|
//! | DPO (+ cDPO smoothing, robust, hinge) | [`dpo`] | `−log σ(β(h_w − h_l))` |
//! | IPO | [`ipo`] | `(h_w/n_w − h_l/n_l − 1/(2τ))²` (TRL's per-token average) |
//! | SLiC-HF | [`slic`] | `max(0, δ − log π_w + log π_l) − λ log π_w` |
//! | CPO | [`cpo`] | `−log σ(β(log π_w − log π_l)) + λ·NLL_w` |
//! | ORPO | [`orpo`] | `NLL_w − λ log σ(log-odds_w − log-odds_l)` on per-token means |
//! | KTO | [`kto`] | `λ_w(1 − σ(β h_w − z_ref)) + λ_l(1 − σ(z_ref − β h_l))` |
//! | R-DPO | [`rdpo`] | `−log σ(β h_w − β h_l + α n_w − α n_l)` |
//! | RRHF | [`rrhf`] | `max(0, −log π_w/n_w + log π_l/n_l) − λ log π_w` |
//!
//! Where the sources disagree (old vs new TRL, paper vs code) the choice is a named option in the
//! objective's config and the module doc of that objective says which form is the default.
//!
//! Paper crates add their own objectives by implementing [`PairObjective`] (SimPO does, in
//! `papers/simpo`). TOML configs pick a built-in objective through [`ObjectiveConfig`]:
//!
//! ```toml
//! [objective]
//! type = "dpo"
//! beta = 0.1
//! ```
//!
//! Bad input never becomes a silent NaN: [`PairLogps::validate`] rejects mismatched shapes, empty
//! responses (token count < 1) and non-finite log-probs with an error naming the field and pair.

pub mod cpo;
pub mod dpo;
pub mod ipo;
pub mod kto;
pub mod orpo;
pub mod rdpo;
pub mod rrhf;
pub mod slic;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Per-pair log-probs of one batch of preference pairs; every tensor has shape `[B]` unless noted.
#[derive(Debug)]
pub struct PairLogps {
    /// `log π_θ(y_w|x)`: summed log-probs of the chosen response tokens.
    pub chosen: Tensor,
    /// `log π_θ(y_l|x)`.
    pub rejected: Tensor,
    /// `|y_w|`: number of chosen response tokens that carry loss (float).
    pub chosen_len: Tensor,
    /// `|y_l|`.
    pub rejected_len: Tensor,
    /// `log π_ref(y_w|x)` (objectives with a reference model only).
    pub ref_chosen: Option<Tensor>,
    /// `log π_ref(y_l|x)`.
    pub ref_rejected: Option<Tensor>,
    /// KTO's KL sample: `log π_θ(y'|x)` of mismatched pairs (x, y') (shape `[M]`).
    pub kl_policy: Option<Tensor>,
    /// `log π_ref(y'|x)` of the same mismatched pairs (shape `[M]`).
    pub kl_ref: Option<Tensor>,
    /// Totals of the whole optimiser batch when this is one of its micro-batches (set by the
    /// trainer); `None` = this batch is the whole batch.
    pub batch: Option<PairBatch>,
    /// Detached log-ratios `(h_w, h_l)` of every pair of the optimiser batch, when the trainer
    /// split it into micro-batches and the objective uses batch statistics (KTO's `in_batch`).
    pub batch_log_ratios: Option<(Tensor, Tensor)>,
}

/// Totals of the optimiser batch a micro-batch belongs to, for normalisations "over the batch"
/// that must not depend on how it is split ([`NllNorm::BatchTokenMean`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairBatch {
    /// Pairs in the optimiser batch.
    pub pairs: f64,
    /// Chosen-response tokens in the optimiser batch.
    pub chosen_tokens: f64,
}

impl PairLogps {
    /// A batch without reference log-probs (reference-free objectives).
    pub fn new(chosen: Tensor, rejected: Tensor, chosen_len: Tensor, rejected_len: Tensor) -> Self {
        PairLogps { chosen, rejected, chosen_len, rejected_len, ref_chosen: None, ref_rejected: None, kl_policy: None, kl_ref: None, batch: None, batch_log_ratios: None }
    }

    /// Add the frozen reference model's log-probs.
    pub fn with_reference(mut self, ref_chosen: Tensor, ref_rejected: Tensor) -> Self {
        self.ref_chosen = Some(ref_chosen);
        self.ref_rejected = Some(ref_rejected);
        self
    }

    /// Add KTO's mismatched-pair KL sample (policy and reference log-probs of the same sequences).
    pub fn with_kl_sample(mut self, kl_policy: Tensor, kl_ref: Tensor) -> Self {
        self.kl_policy = Some(kl_policy);
        self.kl_ref = Some(kl_ref);
        self
    }

    /// Number of pairs.
    pub fn batch_size(&self) -> i64 {
        self.chosen.size().first().copied().unwrap_or(0)
    }

    /// Check shapes, token counts ≥ 1 and finiteness; `who` names the objective in errors.
    pub fn validate(&self, who: &str, needs_reference: bool) -> Result<()> {
        let b = self.batch_size();
        let what = |field: &str| format!("{who}: log-probs `{field}`");
        let mut fields: Vec<(&str, &Tensor)> = vec![
            ("chosen", &self.chosen),
            ("rejected", &self.rejected),
            ("chosen_len", &self.chosen_len),
            ("rejected_len", &self.rejected_len),
        ];
        if needs_reference {
            for (name, t) in [("ref_chosen", &self.ref_chosen), ("ref_rejected", &self.ref_rejected)] {
                match t {
                    Some(t) => fields.push((name, t)),
                    None => {
                        return Err(Error::invalid(
                            what(name),
                            "missing: this objective needs the reference model's log-probs (compute them, or cache them with the pairwise trainer)",
                        ))
                    }
                }
            }
        }
        for (name, t) in &fields {
            if t.size() != [b] {
                return Err(Error::invalid(what(name), format!("shape {:?}, expected [{b}] (one value per pair)", t.size())));
            }
            if let Some(i) = first_bad(&t.isfinite().logical_not()) {
                return Err(Error::invalid(
                    what(name),
                    format!("pair {i} is {} (non-finite log-prob; check the model's logits and the response mask)", t.double_value(&[i])),
                ));
            }
        }
        for (name, t) in [("chosen_len", &self.chosen_len), ("rejected_len", &self.rejected_len)] {
            if let Some(i) = first_bad(&t.lt(0.5)) {
                return Err(Error::invalid(
                    what(name),
                    format!("pair {i} has {} response tokens: an empty response has no log-prob; drop the pair or truncate the prompt instead", t.double_value(&[i])),
                ));
            }
        }
        Ok(())
    }

    /// `(h_w, h_l)`: the policy/reference log-ratios; an error when the reference is missing.
    pub fn log_ratios(&self, who: &str) -> Result<(Tensor, Tensor)> {
        match (&self.ref_chosen, &self.ref_rejected) {
            (Some(rw), Some(rl)) => Ok((&self.chosen - rw, &self.rejected - rl)),
            _ => Err(Error::invalid(format!("{who}: log-probs"), "missing the reference model's log-probs")),
        }
    }
}

/// The index of the first true element of a boolean `[B]` tensor.
fn first_bad(mask: &Tensor) -> Option<i64> {
    let idx = mask.nonzero();
    (idx.size()[0] > 0).then(|| idx.int64_value(&[0, 0]))
}

/// Per-pair outputs of an objective; every tensor has shape `[B]`. The rewards are the
/// objective's implicit rewards (what TRL logs as `rewards/chosen` and `rewards/rejected`), detached.
#[derive(Debug)]
pub struct PairLoss {
    pub loss: Tensor,
    pub chosen_reward: Tensor,
    pub rejected_reward: Tensor,
}

/// Batch means of a [`PairLoss`], the numbers a trainer logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairMetrics {
    pub loss: f64,
    pub chosen_reward: f64,
    pub rejected_reward: f64,
    /// mean of `r_w − r_l`.
    pub margin: f64,
    /// fraction of pairs with `r_w > r_l` (strict, as TRL).
    pub accuracy: f64,
}

impl PairLoss {
    /// The batch loss: the mean of the per-pair losses.
    pub fn mean(&self) -> Tensor {
        self.loss.mean(Kind::Double).to_kind(self.loss.kind())
    }

    pub fn metrics(&self) -> PairMetrics {
        let mean = |t: &Tensor| t.to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
        let margin = &self.chosen_reward - &self.rejected_reward;
        PairMetrics {
            loss: mean(&self.loss.detach()),
            chosen_reward: mean(&self.chosen_reward),
            rejected_reward: mean(&self.rejected_reward),
            margin: mean(&margin),
            accuracy: mean(&margin.gt(0.0)),
        }
    }
}

/// A preference objective over pairs. Implementations are pure functions of [`PairLogps`].
pub trait PairObjective: Send + Sync {
    /// Short name for logs and tables (`dpo`, `ipo`, ...).
    fn name(&self) -> &str;
    /// Whether [`PairLogps::ref_chosen`] / `ref_rejected` must be present.
    fn needs_reference(&self) -> bool;
    /// Whether the objective needs a KL sample of mismatched pairs (KTO).
    fn needs_kl_sample(&self) -> bool {
        false
    }
    /// Whether the loss uses statistics of the whole batch (KTO's reference point), which the
    /// trainer then computes over the whole optimiser batch under gradient accumulation.
    fn needs_whole_batch(&self) -> bool {
        false
    }
    /// Per-pair losses and implicit rewards. Implementations call [`PairLogps::validate`] first.
    fn loss(&self, x: &PairLogps) -> Result<PairLoss>;
}

/// How a supervised (negative log-likelihood) term on the chosen response is normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NllNorm {
    /// `−log π(y_w|x)`: summed over tokens (the SimPO paper's table notation).
    Sum,
    /// `−log π(y_w|x) / |y_w|` per pair.
    SequenceMean,
    /// TRL's `nn.CrossEntropyLoss` over all chosen tokens of the batch:
    /// `−Σ_i log π(y_w,i) / Σ_i |y_w,i|`, spread over pairs so that the per-pair mean equals it.
    /// Under gradient accumulation both sums run over the whole optimiser batch
    /// ([`PairLogps::batch`]), so the update does not depend on the micro-batch size.
    BatchTokenMean,
}

impl NllNorm {
    /// The per-pair NLL term `[B]` of `x`'s chosen responses whose mean over the batch is the
    /// configured normalisation.
    pub fn per_pair(self, x: &PairLogps) -> Tensor {
        let (sum, len) = (&x.chosen, &x.chosen_len);
        match self {
            NllNorm::Sum => -sum,
            NllNorm::SequenceMean => -(sum / len),
            NllNorm::BatchTokenMean => match x.batch {
                Some(b) => {
                    let tokens = Tensor::from(b.chosen_tokens).to_kind(len.kind()).to_device(len.device());
                    -(sum * b.pairs) / tokens
                }
                None => {
                    let b = sum.size()[0] as f64;
                    -(sum * b) / len.sum(len.kind())
                }
            },
        }
    }
}

/// `−(1−ε) log σ(z) − ε log σ(−z)`: the label-smoothed (conservative, cDPO) logistic loss.
pub(crate) fn smoothed_logistic(z: &Tensor, eps: f64) -> Tensor {
    let clean = -z.log_sigmoid();
    if eps == 0.0 {
        clean
    } else {
        clean * (1.0 - eps) - (-z).log_sigmoid() * eps
    }
}

pub(crate) fn check_positive(who: &str, field: &str, v: f64) -> Result<()> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(format!("objective {who}: `{field}`"), format!("must be a positive number, got {v}")))
    }
}

pub(crate) fn check_nonneg(who: &str, field: &str, v: f64) -> Result<()> {
    if v >= 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(format!("objective {who}: `{field}`"), format!("must be ≥ 0, got {v}")))
    }
}

/// The names of the built-in objectives, as `type = "..."` selects them.
pub const BUILTIN: [&str; 8] = ["dpo", "ipo", "slic", "cpo", "orpo", "kto", "rdpo", "rrhf"];

/// Every built-in objective with its default hyperparameters: the list the shared checks
/// (gradients, accumulation invariance, TRL fixtures) loop over.
pub fn builtin() -> Vec<Box<dyn PairObjective>> {
    BUILTIN
        .iter()
        .map(|name| ObjectiveConfig::from_toml(&format!("type = \"{name}\"\n"), "builtin").and_then(|c| c.build()).expect("every built-in objective has defaults"))
        .collect()
}

/// The built-in objectives with their hyperparameters, as a TOML config selects them
/// (`type = "dpo" | "ipo" | "slic" | "cpo" | "orpo" | "kto" | "rdpo" | "rrhf"`; a wrong key is an error).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ObjectiveConfig {
    Dpo(dpo::Dpo),
    Ipo(ipo::Ipo),
    Slic(slic::Slic),
    Cpo(cpo::Cpo),
    Orpo(orpo::Orpo),
    Kto(kto::Kto),
    Rdpo(rdpo::Rdpo),
    Rrhf(rrhf::Rrhf),
}

impl ObjectiveConfig {
    /// Parse `[objective]`-style TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let cfg: ObjectiveConfig =
            toml::from_str(text).map_err(|e| Error::Config { path: origin.into(), msg: e.to_string() })?;
        cfg.validate().map_err(|e| Error::Config { path: origin.into(), msg: e.to_string() })?;
        Ok(cfg)
    }

    /// Range checks of the hyperparameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            ObjectiveConfig::Dpo(c) => c.validate(),
            ObjectiveConfig::Ipo(c) => c.validate(),
            ObjectiveConfig::Slic(c) => c.validate(),
            ObjectiveConfig::Cpo(c) => c.validate(),
            ObjectiveConfig::Orpo(c) => c.validate(),
            ObjectiveConfig::Kto(c) => c.validate(),
            ObjectiveConfig::Rdpo(c) => c.validate(),
            ObjectiveConfig::Rrhf(c) => c.validate(),
        }
    }

    /// The objective as a trait object (validated).
    pub fn build(&self) -> Result<Box<dyn PairObjective>> {
        self.validate()?;
        Ok(match self.clone() {
            ObjectiveConfig::Dpo(c) => Box::new(c),
            ObjectiveConfig::Ipo(c) => Box::new(c),
            ObjectiveConfig::Slic(c) => Box::new(c),
            ObjectiveConfig::Cpo(c) => Box::new(c),
            ObjectiveConfig::Orpo(c) => Box::new(c),
            ObjectiveConfig::Kto(c) => Box::new(c),
            ObjectiveConfig::Rdpo(c) => Box::new(c),
            ObjectiveConfig::Rrhf(c) => Box::new(c),
        })
    }
}

#[cfg(test)]
mod tests;
