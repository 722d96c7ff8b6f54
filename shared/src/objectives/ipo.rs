//! IPO (Azar et al. 2023, Eq. 17): squared regression of the log-ratio margin onto `1/(2τ)`.
//!
//! `ℓ = (Δ − 1/(2τ))²` with `Δ = h_w/n_w − h_l/n_l` by default: TRL's `DPOTrainer(loss_type="ipo")`
//! divides each sequence's log-ratio by its own completion token count (TRL's comment: confirmed with
//! the IPO authors). `length_normalize = false` gives the paper's summed form `Δ = h_w − h_l` (the
//! SimPO objectives table, and some iterative-IPO code, e.g. the SPPO spec's baselines).
//! τ is TRL's `beta`. Implicit rewards: `τ h` (TRL logs `beta * logratios`, summed).

use super::{check_positive, PairLogps, PairLoss, PairObjective};
use crate::error::Result;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ipo {
    /// τ: the regularisation strength; the target margin is 1/(2τ).
    #[serde(default = "default_tau")]
    pub tau: f64,
    /// Divide each log-ratio by its token count (TRL, default) or not (paper's summed form).
    #[serde(default = "yes")]
    pub length_normalize: bool,
}

fn default_tau() -> f64 {
    0.1
}
fn yes() -> bool {
    true
}

impl Ipo {
    pub fn new(tau: f64) -> Self {
        Ipo { tau, length_normalize: true }
    }
    pub fn validate(&self) -> Result<()> {
        check_positive("ipo", "tau", self.tau)
    }
}

impl PairObjective for Ipo {
    fn name(&self) -> &str {
        "ipo"
    }
    fn needs_reference(&self) -> bool {
        true
    }
    fn loss(&self, x: &PairLogps) -> Result<PairLoss> {
        x.validate("ipo", true)?;
        let (hw, hl) = x.log_ratios("ipo")?;
        let delta = if self.length_normalize { &hw / &x.chosen_len - &hl / &x.rejected_len } else { &hw - &hl };
        let loss = (delta - 1.0 / (2.0 * self.tau)).square(); // IPO Eq. 17
        Ok(PairLoss { loss, chosen_reward: (hw * self.tau).detach(), rejected_reward: (hl * self.tau).detach() })
    }
}
