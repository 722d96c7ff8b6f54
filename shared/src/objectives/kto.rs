//! KTO (Ethayarajh et al. 2024, Eq. 7–8) applied to pairs: the chosen response is "desirable", the
//! rejected one "undesirable", each judged against a reference point `z_ref = β·KL`:
//! `ℓ = λ_w (1 − σ(β(h_w − KL))) + λ_l (1 − σ(β(KL − h_l)))` (the minimisable "λ − value" form; the
//! SimPO spec warns against the sign that rewards not pushing y_l down).
//!
//! The KL estimate (never back-propagated, clamped at ≥ 0) is a named option:
//! - `mismatched` (default, TRL `KTOTrainer`): mean of `log π_θ(y'|x) − log π_ref(y'|x)` over a sample
//!   of mismatched pairs (x, y′) that the trainer supplies in [`PairLogps::kl_policy`]/`kl_ref`.
//! - `in_batch` (the old TRL `DPOTrainer(loss_type="kto_pair")`): the chosen term uses the batch mean
//!   of `h_l`, the rejected term the batch mean of `h_w`. (Old TRL did not detach these; we do, as the
//!   KTO paper prescribes.)
//! - `zero`: KL = 0.
//!
//! Both estimates are statistics of the batch: under gradient accumulation the trainer computes
//! them over the whole optimiser batch ([`PairObjective::needs_whole_batch`]), so the update does
//! not depend on the micro-batch size (TRL computes them per micro-batch).
//!
//! Scale: the per-pair loss is the *sum* of the two terms (the table's form). TRL concatenates the
//! chosen and rejected terms and takes one mean over 2B elements, i.e. half of our batch loss.
//! Implicit rewards: `β h`.

use super::{check_nonneg, check_positive, PairLogps, PairLoss, PairObjective};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimate {
    Mismatched,
    InBatch,
    Zero,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kto {
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// λ_w: weight of desirable (chosen) examples.
    #[serde(default = "one")]
    pub desirable_weight: f64,
    /// λ_l: weight of undesirable (rejected) examples.
    #[serde(default = "one")]
    pub undesirable_weight: f64,
    #[serde(default = "default_kl")]
    pub kl: KlEstimate,
}

fn default_beta() -> f64 {
    0.1
}
fn one() -> f64 {
    1.0
}
fn default_kl() -> KlEstimate {
    KlEstimate::Mismatched
}

impl Kto {
    pub fn new(beta: f64) -> Self {
        Kto { beta, desirable_weight: 1.0, undesirable_weight: 1.0, kl: KlEstimate::Mismatched }
    }
    pub fn validate(&self) -> Result<()> {
        check_positive("kto", "beta", self.beta)?;
        check_nonneg("kto", "desirable_weight", self.desirable_weight)?;
        check_nonneg("kto", "undesirable_weight", self.undesirable_weight)
    }

    /// The detached KL estimates `(for the chosen term, for the rejected term)`, each a scalar.
    fn kl_terms(&self, x: &PairLogps, hw: &Tensor, hl: &Tensor) -> Result<(Tensor, Tensor)> {
        let scalar = |t: Tensor| t.clamp_min(0.0).detach();
        match self.kl {
            KlEstimate::Zero => {
                let z = hw.zeros_like().sum(hw.kind());
                Ok((z.shallow_clone(), z))
            }
            KlEstimate::InBatch => match &x.batch_log_ratios {
                // Under accumulation: the means over the whole optimiser batch.
                Some((bw, bl)) => Ok((scalar(bl.mean(hl.kind())), scalar(bw.mean(hw.kind())))),
                None => Ok((scalar(hl.mean(hl.kind())), scalar(hw.mean(hw.kind())))),
            },
            KlEstimate::Mismatched => {
                let (Some(p), Some(r)) = (&x.kl_policy, &x.kl_ref) else {
                    return Err(Error::invalid(
                        "kto: log-probs `kl_policy`/`kl_ref`",
                        "missing: kl = \"mismatched\" needs log-probs of mismatched (prompt, response) pairs; supply them or set kl = \"in_batch\"",
                    ));
                };
                if p.size() != r.size() || p.dim() != 1 || p.size()[0] == 0 {
                    return Err(Error::invalid("kto: KL sample", format!("kl_policy {:?} and kl_ref {:?} must be equal, non-empty [M]", p.size(), r.size())));
                }
                let d = (p - r).to_kind(Kind::Double);
                if d.isfinite().logical_not().any().int64_value(&[]) != 0 {
                    return Err(Error::invalid("kto: KL sample", "non-finite log-probs in kl_policy/kl_ref"));
                }
                let kl = scalar(d.mean(Kind::Double).to_kind(hw.kind()));
                Ok((kl.shallow_clone(), kl))
            }
        }
    }
}

impl PairObjective for Kto {
    fn name(&self) -> &str {
        "kto"
    }
    fn needs_reference(&self) -> bool {
        true
    }
    fn needs_kl_sample(&self) -> bool {
        self.kl == KlEstimate::Mismatched
    }
    fn needs_whole_batch(&self) -> bool {
        self.kl != KlEstimate::Zero
    }
    fn loss(&self, x: &PairLogps) -> Result<PairLoss> {
        x.validate("kto", true)?;
        let (hw, hl) = x.log_ratios("kto")?;
        let (kl_w, kl_l) = self.kl_terms(x, &hw, &hl)?;
        let chosen = -((&hw - &kl_w) * self.beta).sigmoid() + 1.0; // 1 − σ(β(h_w − KL)), KTO Eq. 8
        let rejected = -((&kl_l - &hl) * self.beta).sigmoid() + 1.0; // 1 − σ(β(KL − h_l))
        let loss = chosen * self.desirable_weight + rejected * self.undesirable_weight;
        Ok(PairLoss { loss, chosen_reward: (hw * self.beta).detach(), rejected_reward: (hl * self.beta).detach() })
    }
}
