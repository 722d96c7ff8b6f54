//! R-DPO (Park et al. 2024, Eq. 9): DPO with a length regulariser inside the sigmoid,
//! `ℓ = −log σ(β h_w − β h_l + α|y_w| − α|y_l|)` (SimPO objectives table and test vector).
//! Implicit rewards: `β h`, as DPO.

use super::{check_nonneg, check_positive, PairLogps, PairLoss, PairObjective};
use crate::error::Result;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rdpo {
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// α: the per-token length penalty.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
}

fn default_beta() -> f64 {
    0.1
}
fn default_alpha() -> f64 {
    0.05
}

impl Rdpo {
    pub fn new(beta: f64, alpha: f64) -> Self {
        Rdpo { beta, alpha }
    }
    pub fn validate(&self) -> Result<()> {
        check_positive("rdpo", "beta", self.beta)?;
        check_nonneg("rdpo", "alpha", self.alpha)
    }
}

impl PairObjective for Rdpo {
    fn name(&self) -> &str {
        "rdpo"
    }
    fn needs_reference(&self) -> bool {
        true
    }
    fn loss(&self, x: &PairLogps) -> Result<PairLoss> {
        x.validate("rdpo", true)?;
        let (hw, hl) = x.log_ratios("rdpo")?;
        let u = (&hw - &hl) * self.beta + (&x.chosen_len - &x.rejected_len) * self.alpha;
        let loss = -u.log_sigmoid(); // R-DPO Eq. 9
        Ok(PairLoss { loss, chosen_reward: (hw * self.beta).detach(), rejected_reward: (hl * self.beta).detach() })
    }
}
