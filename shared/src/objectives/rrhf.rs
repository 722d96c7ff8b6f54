//! RRHF (Yuan et al. 2023, Eq. 2–4) for one pair: a ranking hinge on length-normalised log-probs plus
//! the SFT term on the chosen response,
//! `ℓ = max(0, −log π_w/|y_w| + log π_l/|y_l|) − λ log π_θ(y_w|x)` (SimPO objectives table; the NLL term
//! is summed by default, `nll = "sequence_mean"` divides it by |y_w|).
//! Implicit rewards: the length-normalised log-probs `p̄`.

use super::{check_nonneg, NllNorm, PairLogps, PairLoss, PairObjective};
use crate::error::Result;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rrhf {
    /// λ: weight of the SFT term.
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    #[serde(default = "default_nll")]
    pub nll: NllNorm,
}

fn default_lambda() -> f64 {
    0.1
}
fn default_nll() -> NllNorm {
    NllNorm::Sum
}

impl Rrhf {
    pub fn new(lambda: f64) -> Self {
        Rrhf { lambda, nll: NllNorm::Sum }
    }
    pub fn validate(&self) -> Result<()> {
        check_nonneg("rrhf", "lambda", self.lambda)
    }
}

impl PairObjective for Rrhf {
    fn name(&self) -> &str {
        "rrhf"
    }
    fn needs_reference(&self) -> bool {
        false
    }
    fn loss(&self, x: &PairLogps) -> Result<PairLoss> {
        x.validate("rrhf", false)?;
        let pw = &x.chosen / &x.chosen_len;
        let pl = &x.rejected / &x.rejected_len;
        let rank = (&pl - &pw).relu(); // RRHF Eq. 2 for one pair
        let loss = rank + self.nll.per_pair(x) * self.lambda;
        Ok(PairLoss { loss, chosen_reward: pw.detach(), rejected_reward: pl.detach() })
    }
}
