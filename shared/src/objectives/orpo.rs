//! ORPO (Hong et al. 2024, Eq. 6–7): supervised fine-tuning plus an odds-ratio penalty, no reference model.
//!
//! With the per-token mean log-prob `p̄ = log π_θ(y|x)/|y|` and `odds(y) = e^p̄ / (1 − e^p̄)`:
//! `ℓ = NLL_w − λ log σ(log odds(y_w) − log odds(y_l))`, computed stably as
//! `log odds = p̄ − log(1 − e^p̄)` (TRL `ORPOTrainer.odds_ratio_loss`, λ = TRL's `beta`).
//!
//! NLL term: by default TRL's token mean over the batch's chosen *response* tokens
//! (`nll = "batch_token_mean"`); `sequence_mean` is the spec's `−p̄_w`. Deviation: TRL ≥ mid-2024 averages
//! the NLL over prompt *and* response tokens of the chosen sequence; that needs the prompt's log-probs,
//! which [`PairLogps`] does not carry.
//!
//! A sequence whose mean log-prob rounds to 0 (probability 1) has infinite odds; `p̄` is clamped to
//! at most −1e-6 (documented truncation) so the loss and its gradient stay finite.
//! Implicit rewards: `λ p̄` (what TRL logs).

use super::{check_nonneg, NllNorm, PairLogps, PairLoss, PairObjective};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Orpo {
    /// λ: weight of the odds-ratio term (TRL `beta`, default 0.1).
    #[serde(default = "default_lambda")]
    pub lambda: f64,
    #[serde(default = "default_nll")]
    pub nll: NllNorm,
}

fn default_lambda() -> f64 {
    0.1
}
fn default_nll() -> NllNorm {
    NllNorm::BatchTokenMean
}

/// `log(1 − e^x)` for x < 0, branching at −ln 2 to avoid cancellation.
pub fn log1mexp(x: &Tensor) -> Tensor {
    let small = (-x.exp()).log1p();
    let near_zero = (-x.expm1()).log();
    small.where_self(&x.lt(-std::f64::consts::LN_2), &near_zero)
}

impl Orpo {
    pub fn new(lambda: f64) -> Self {
        Orpo { lambda, nll: NllNorm::BatchTokenMean }
    }
    pub fn validate(&self) -> Result<()> {
        check_nonneg("orpo", "lambda", self.lambda)
    }
}

impl PairObjective for Orpo {
    fn name(&self) -> &str {
        "orpo"
    }
    fn needs_reference(&self) -> bool {
        false
    }
    fn loss(&self, x: &PairLogps) -> Result<PairLoss> {
        x.validate("orpo", false)?;
        let pw = (&x.chosen / &x.chosen_len).clamp_max(-1e-6);
        let pl = (&x.rejected / &x.rejected_len).clamp_max(-1e-6);
        let log_odds = (&pw - &pl) - (log1mexp(&pw) - log1mexp(&pl)); // ORPO Eq. 7
        let loss = self.nll.per_pair(x) - log_odds.log_sigmoid() * self.lambda; // Eq. 6
        Ok(PairLoss { loss, chosen_reward: (pw * self.lambda).detach(), rejected_reward: (pl * self.lambda).detach() })
    }
}
