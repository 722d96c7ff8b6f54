//! DRIFT's loss: TRL's sigmoid DPO with the RPO negative log-likelihood term (`rpo_alpha`), as the
//! released configs train it (spec "Loss"):
//!
//! ```text
//! s = β·[(log π_θ(y⁺|x) − log π_ref(y⁺|x)) − (log π_θ(y⁻|x) − log π_ref(y⁻|x))]
//! L = mean_batch[−log σ(s)] + α · NLL_chosen,   NLL_chosen = Σ chosen-token NLL / #chosen tokens (whole batch)
//! ```
//!
//! β = 0.1, α = 0.001, π_ref = π_t (the previous iterate). The NLL term is a token mean over every
//! chosen token of the optimiser batch (TRL's cross-entropy), not a mean of per-example means; under
//! gradient accumulation it still runs over the whole batch ([`NllNorm::BatchTokenMean`]).
//! The TRL version question (0.9.x computed `α·DPO + NLL`) is settled as the spec does: DPO + α·NLL.

use serde::{Deserialize, Serialize};
use shared::objectives::{NllNorm, PairLogps, PairLoss, PairObjective};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpoRpo {
    /// β (configs: 0.1).
    pub beta: f64,
    /// α, TRL's `rpo_alpha` (configs: 0.001); 0 = plain DPO.
    pub rpo_alpha: f64,
}

impl Default for DpoRpo {
    fn default() -> Self {
        DpoRpo { beta: 0.1, rpo_alpha: 0.001 }
    }
}

impl DpoRpo {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.beta > 0.0 && self.beta.is_finite(), "objective dpo_rpo: beta must be > 0, got {}", self.beta);
        anyhow::ensure!(self.rpo_alpha >= 0.0 && self.rpo_alpha.is_finite(), "objective dpo_rpo: rpo_alpha must be ≥ 0, got {}", self.rpo_alpha);
        Ok(())
    }
}

impl PairObjective for DpoRpo {
    fn name(&self) -> &str {
        "dpo+rpo"
    }
    fn needs_reference(&self) -> bool {
        true
    }
    fn loss(&self, x: &PairLogps) -> shared::Result<PairLoss> {
        x.validate("dpo+rpo", true)?;
        let (hw, hl) = x.log_ratios("dpo+rpo")?;
        let s = (&hw - &hl) * self.beta;
        let mut loss = -s.log_sigmoid(); // DPO Eq. 7 (TRL sigmoid loss)
        if self.rpo_alpha > 0.0 {
            loss = loss + NllNorm::BatchTokenMean.per_pair(x) * self.rpo_alpha; // RPO: + α·NLL (TRL rpo_alpha)
        }
        Ok(PairLoss { loss, chosen_reward: (hw * self.beta).detach(), rejected_reward: (hl * self.beta).detach() })
    }
}

/// `σ(−s)`: the weight of an example's DPO gradient, `∇ℓ = −β·σ(−s)·d_θ` (paper Sec. 3).
pub fn dpo_weight(s: f64) -> f64 {
    1.0 / (1.0 + s.exp())
}

/// `s` from summed log-probs (policy chosen, policy rejected, reference chosen, reference rejected).
pub fn margin(beta: f64, pw: f64, pl: f64, rw: f64, rl: f64) -> f64 {
    beta * ((pw - rw) - (pl - rl))
}

/// Lemma 1's lower bound on the expected gradient norm: `β·τ·p₀·Δ_cond`.
pub fn lemma1_bound(beta: f64, tau: f64, p0: f64, delta_cond: f64) -> f64 {
    beta * tau * p0 * delta_cond
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::train::checks;
    use tch::Tensor;

    /// Spec test vectors: (logπθ(y⁺), logπθ(y⁻), logπref(y⁺), logπref(y⁻), s, DPO loss, σ(−s)).
    const ROWS: [[f64; 7]; 5] = [
        [-12.0, -15.0, -13.0, -14.0, 0.2, 0.598139, 0.450166],
        [-40.0, -35.0, -42.0, -30.0, 0.7, 0.403186, 0.331812],
        [-20.0, -20.0, -20.0, -20.0, 0.0, 0.693147, 0.500000],
        [-55.0, -80.0, -60.0, -62.0, 2.3, 0.0955455, 0.0911230],
        [-30.0, -25.0, -28.0, -26.0, -0.3, 0.854355, 0.574443],
    ];

    fn batch(rows: &[[f64; 7]], lens: &[f64]) -> PairLogps {
        let col = |j: usize| Tensor::from_slice(&rows.iter().map(|r| r[j]).collect::<Vec<f64>>());
        let l = Tensor::from_slice(lens);
        PairLogps::new(col(0), col(1), l.shallow_clone(), l).with_reference(col(2), col(3))
    }

    #[test]
    fn spec_rows_margin_loss_and_weight() {
        let dpo = DpoRpo { beta: 0.1, rpo_alpha: 0.0 };
        for (i, r) in ROWS.iter().enumerate() {
            let s = margin(0.1, r[0], r[1], r[2], r[3]);
            assert!((s - r[4]).abs() < 1e-9, "row {}: s {s}", i + 1);
            let loss = dpo.loss(&batch(&[*r], &[10.0])).unwrap().loss.double_value(&[0]);
            assert!((loss - r[5]).abs() < 5e-7, "row {}: loss {loss}", i + 1);
            assert!((dpo_weight(s) - r[6]).abs() < 5e-7, "row {}: σ(−s) {}", i + 1, dpo_weight(s));
        }
    }

    #[test]
    fn rpo_term_single_example() {
        // Row 1 with a 10-token y⁺: NLL = 12/10 = 1.2; 0.598139 + 0.001·1.2 = 0.599339.
        let l = DpoRpo::default().loss(&batch(&ROWS[..1], &[10.0])).unwrap().loss.double_value(&[0]);
        assert!((l - 0.599339).abs() < 5e-7, "{l}");
    }

    #[test]
    fn rpo_term_is_a_token_mean_over_the_batch() {
        // Rows 1 and 5, y⁺ lengths 10 and 20: mean DPO 0.726247, NLL (12 + 30)/(10 + 20) = 1.4 → 0.727647.
        let out = DpoRpo::default().loss(&batch(&[ROWS[0], ROWS[4]], &[10.0, 20.0])).unwrap();
        let total = out.loss.mean(tch::Kind::Double).double_value(&[]);
        assert!((total - 0.727647).abs() < 5e-7, "{total}");
        // A mean of per-example NLLs (1.2 and 1.5) would give 0.727597: the wrong number.
        assert!((total - (0.726247 + 0.001 * 1.35)).abs() > 1e-5);
    }

    #[test]
    fn lemma1_bound_vector() {
        assert!((lemma1_bound(0.1, 0.3, 0.5, 2.0) - 0.03).abs() < 1e-12);
    }

    #[test]
    fn passes_the_engine_checks() {
        checks::objective(&DpoRpo::default(), &checks::examples(2, &[], false)).unwrap();
        // With a larger α the NLL term matters, and its batch normalisation must still accumulate.
        checks::objective(&DpoRpo { beta: 0.1, rpo_alpha: 0.5 }, &checks::examples(2, &[], false)).unwrap();
    }

    #[test]
    fn bad_hyperparameters_are_named() {
        assert!(DpoRpo { beta: 0.0, rpo_alpha: 0.0 }.validate().unwrap_err().to_string().contains("beta"));
        assert!(DpoRpo { beta: 0.1, rpo_alpha: -1.0 }.validate().unwrap_err().to_string().contains("rpo_alpha"));
    }
}
