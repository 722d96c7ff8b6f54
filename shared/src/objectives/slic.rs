//! SLiC-HF (Zhao et al. 2023, Eq. 3 with the SFT regulariser): a rank-calibration hinge on the policy's
//! summed log-probs plus a cross-entropy term on the chosen response, no reference model:
//! `ℓ = max(0, δ − log π_θ(y_w|x) + log π_θ(y_l|x)) − λ log π_θ(y_w|x)` (SimPO objectives table).
//! The NLL term is summed by default (`nll = "sum"`), as the table writes it.
//! Implicit rewards: the summed log-probs.

use super::{check_nonneg, NllNorm, PairLogps, PairLoss, PairObjective};
use crate::error::Result;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slic {
    /// δ: the calibration margin.
    #[serde(default = "default_delta")]
    pub delta: f64,
    /// λ: weight of the NLL regulariser on y_w.
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    #[serde(default = "default_nll")]
    pub nll: NllNorm,
}

fn default_delta() -> f64 {
    1.0
}
fn default_lambda() -> f64 {
    0.1
}
fn default_nll() -> NllNorm {
    NllNorm::Sum
}

impl Slic {
    pub fn new(delta: f64, lambda: f64) -> Self {
        Slic { delta, lambda, nll: NllNorm::Sum }
    }
    pub fn validate(&self) -> Result<()> {
        check_nonneg("slic", "delta", self.delta)?;
        check_nonneg("slic", "lambda", self.lambda)
    }
}

impl PairObjective for Slic {
    fn name(&self) -> &str {
        "slic"
    }
    fn needs_reference(&self) -> bool {
        false
    }
    fn loss(&self, x: &PairLogps) -> Result<PairLoss> {
        x.validate("slic", false)?;
        let rank = (-&x.chosen + &x.rejected + self.delta).relu(); // max(0, δ − log π_w + log π_l)
        let loss = rank + self.nll.per_pair(x) * self.lambda;
        Ok(PairLoss { loss, chosen_reward: x.chosen.detach(), rejected_reward: x.rejected.detach() })
    }
}
