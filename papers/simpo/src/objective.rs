//! SimPO plugged into the shared pairwise trainer: the same [`PairObjective`] trait the
//! baselines implement, so SimPO and DPO run through the identical training loop.

use crate::loss::{simpo_loss, SimpoConfig};
use shared::objectives::{NllNorm, PairLogps, PairLoss, PairObjective};

/// SimPO with its config; no reference model (that is the point).
#[derive(Clone, Debug)]
pub struct Simpo(pub SimpoConfig);

impl PairObjective for Simpo {
    fn name(&self) -> &str {
        if self.0.length_normalize {
            "simpo"
        } else {
            "simpo-no-ln"
        }
    }

    fn needs_reference(&self) -> bool {
        false
    }

    fn loss(&self, x: &PairLogps) -> shared::Result<PairLoss> {
        x.validate(self.name(), false)?;
        let out = simpo_loss(&x.chosen, &x.chosen_len, &x.rejected, &x.rejected_len, &self.0);
        // Optional SFT term (sft_weight, 0 in the paper): TRL's token-mean cross-entropy of the chosen responses.
        let loss = if self.0.sft_weight > 0.0 {
            out.loss + NllNorm::BatchTokenMean.per_pair(x) * self.0.sft_weight
        } else {
            out.loss
        };
        Ok(PairLoss { loss, chosen_reward: out.chosen_reward, rejected_reward: out.rejected_reward })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v)
    }

    #[test]
    fn through_the_trait_it_matches_the_spec_and_reports_accuracy_without_gamma() {
        let x = PairLogps::new(t(&[-12.0, -30.0]), t(&[-20.0, -9.0]), t(&[10.0, 20.0]), t(&[8.0, 6.0]));
        let out = Simpo(SimpoConfig::new(2.0, 0.5)).loss(&x).unwrap();
        assert!((out.loss.double_value(&[0]) - 0.183901).abs() < 1e-5);
        // Accuracy compares β p̄ without γ (as the authors' trainer logs it): p̄ −1.2 > −2.5, −1.5 = −1.5.
        assert_eq!(out.metrics().accuracy, 0.5);
    }

    #[test]
    fn empty_responses_and_nan_are_errors_not_nan_losses() {
        let x = PairLogps::new(t(&[-1.0]), t(&[-2.0]), t(&[0.0]), t(&[3.0]));
        let err = Simpo(SimpoConfig::new(2.0, 0.5)).loss(&x).unwrap_err().to_string();
        assert!(err.contains("chosen_len") && err.contains("empty"), "{err}");
        let x = PairLogps::new(t(&[f64::NAN]), t(&[-2.0]), t(&[1.0]), t(&[3.0]));
        assert!(Simpo(SimpoConfig::new(2.0, 0.5)).loss(&x).is_err());
    }
}
