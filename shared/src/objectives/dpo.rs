//! DPO (Rafailov et al. 2023, Eq. 7) and its label-noise variants.
//!
//! With `h = log π_θ(y|x) − log π_ref(y|x)` and `u = β (h_w − h_l)`:
//! - `sigmoid` (default): `ℓ = −(1−ε) log σ(u) − ε log σ(−u)`. With ε = 0 this is DPO Eq. 7; ε > 0 is
//!   the conservative DPO (cDPO) of Mitchell (2023), as TRL ≤ 0.x and the SimPO repo compute it.
//!   TRL 1.x ignores `label_smoothing` for `sigmoid`; set ε = 0 for that form.
//! - `robust` (Chowdhury et al. 2024, rDPO Eq. 8, TRL `robust`): `ℓ = [−(1−ε) log σ(u) + ε log σ(−u)] / (1 − 2ε)`,
//!   an unbiased loss under preference flips with rate ε < 1/2.
//! - `hinge` (TRL `hinge`, the SLiC form on log-ratios): `ℓ = max(0, 1 − u)`.
//!
//! Implicit rewards: `r = β h` (both variants).

use super::{check_positive, smoothed_logistic, PairLogps, PairLoss, PairObjective};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DpoLoss {
    Sigmoid,
    Robust,
    Hinge,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dpo {
    /// β: strength of the implicit KL anchor (TRL default 0.1; SimPO's DPO baselines 0.01).
    #[serde(default = "default_beta")]
    pub beta: f64,
    #[serde(default = "default_loss")]
    pub loss_type: DpoLoss,
    /// ε: label smoothing (cDPO) for `sigmoid`, assumed flip rate for `robust`; must be in [0, 0.5).
    #[serde(default)]
    pub label_smoothing: f64,
}

fn default_beta() -> f64 {
    0.1
}
fn default_loss() -> DpoLoss {
    DpoLoss::Sigmoid
}

impl Dpo {
    pub fn new(beta: f64) -> Self {
        Dpo { beta, loss_type: DpoLoss::Sigmoid, label_smoothing: 0.0 }
    }

    pub fn validate(&self) -> Result<()> {
        check_positive("dpo", "beta", self.beta)?;
        if !(0.0..0.5).contains(&self.label_smoothing) {
            return Err(Error::invalid("objective dpo: `label_smoothing`", format!("must be in [0, 0.5), got {}", self.label_smoothing)));
        }
        Ok(())
    }
}

impl PairObjective for Dpo {
    fn name(&self) -> &str {
        "dpo"
    }
    fn needs_reference(&self) -> bool {
        true
    }
    fn loss(&self, x: &PairLogps) -> Result<PairLoss> {
        x.validate("dpo", true)?;
        let (hw, hl) = x.log_ratios("dpo")?;
        let u = (&hw - &hl) * self.beta;
        let eps = self.label_smoothing;
        let loss = match self.loss_type {
            DpoLoss::Sigmoid => smoothed_logistic(&u, eps), // DPO Eq. 7 / cDPO
            DpoLoss::Robust => (-(u.log_sigmoid() * (1.0 - eps)) + (-&u).log_sigmoid() * eps) / (1.0 - 2.0 * eps), // rDPO Eq. 8
            DpoLoss::Hinge => (-&u + 1.0).relu(),
        };
        Ok(PairLoss { loss, chosen_reward: (hw * self.beta).detach(), rejected_reward: (hl * self.beta).detach() })
    }
}
