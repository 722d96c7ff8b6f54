//! CPO (Xu et al. 2024, Eq. 3 + the NLL regulariser of Eq. 6): DPO without the reference model, plus
//! behaviour cloning on the chosen response:
//! `ℓ = −(1−ε) log σ(β(log π_w − log π_l)) − ε log σ(−β(log π_w − log π_l)) + λ·NLL_w`.
//! The NLL term defaults to TRL's `CPOTrainer` form (`nll = "batch_token_mean"`: cross-entropy averaged
//! over every chosen token of the batch; `cpo_alpha` = λ); `nll = "sum"` is the SimPO table's notation.
//! Implicit rewards: `β log π` (summed), as TRL logs them.

use super::{check_nonneg, check_positive, smoothed_logistic, NllNorm, PairLogps, PairLoss, PairObjective};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cpo {
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// λ: weight of the NLL term (TRL `cpo_alpha`, default 1).
    #[serde(default = "one")]
    pub lambda: f64,
    #[serde(default = "default_nll")]
    pub nll: NllNorm,
    #[serde(default)]
    pub label_smoothing: f64,
}

fn default_beta() -> f64 {
    0.1
}
fn one() -> f64 {
    1.0
}
fn default_nll() -> NllNorm {
    NllNorm::BatchTokenMean
}

impl Cpo {
    pub fn new(beta: f64, lambda: f64) -> Self {
        Cpo { beta, lambda, nll: NllNorm::BatchTokenMean, label_smoothing: 0.0 }
    }
    pub fn validate(&self) -> Result<()> {
        check_positive("cpo", "beta", self.beta)?;
        check_nonneg("cpo", "lambda", self.lambda)?;
        if !(0.0..0.5).contains(&self.label_smoothing) {
            return Err(Error::invalid("objective cpo: `label_smoothing`", format!("must be in [0, 0.5), got {}", self.label_smoothing)));
        }
        Ok(())
    }
}

impl PairObjective for Cpo {
    fn name(&self) -> &str {
        "cpo"
    }
    fn needs_reference(&self) -> bool {
        false
    }
    fn loss(&self, x: &PairLogps) -> Result<PairLoss> {
        x.validate("cpo", false)?;
        let u = (&x.chosen - &x.rejected) * self.beta;
        let pref = smoothed_logistic(&u, self.label_smoothing); // CPO Eq. 3
        let loss = if self.lambda == 0.0 { pref } else { pref + self.nll.per_pair(x) * self.lambda };
        Ok(PairLoss {
            loss,
            chosen_reward: (&x.chosen * self.beta).detach(),
            rejected_reward: (&x.rejected * self.beta).detach(),
        })
    }
}
