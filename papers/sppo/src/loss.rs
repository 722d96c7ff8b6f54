//! The SPPO square losses (spec "Loss variants in `sppo/trainer.py`") and the objective each
//! method of the miniature trains. `D = log pi_theta(y|x) - log pi_t(y|x)`, summed over response
//! tokens (no length normalisation); `pi_t` is the frozen previous iterate.
//!
//! - `sppo` (soft, all scripts): `L = 1/2 [(D_w - eta(Phat_w - 1/2))^2 + (D_l - eta(Phat_l - 1/2))^2]`
//! - `sppo_single` (eq. 4.12 with one probability): `L = 1/2 [(D_w - eta(P_wl - 1/2))^2 + (D_l + eta(P_wl - 1/2))^2]`
//! - baselines: DPO `-log sigmoid(beta(D_w - D_l))` and IPO `((D_w - D_l) - 1/(2 tau))^2` on summed
//!   log-probs (the SPPO trainer's form), from `shared::objectives`.

use crate::winrate::PhatMode;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::objectives::{dpo::Dpo, ipo::Ipo, PairLogps, PairObjective};
use tch::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SppoVariant {
    /// `sppo`: each response regressed onto its own K-sample win rate.
    Soft,
    /// `sppo_single`: both responses regressed onto the pair probability `P_wl`.
    Single,
}

/// The SPPO objective: `eta` (= 1/beta in the code), the variant, and how `Phat` is estimated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sppo {
    pub eta: f64,
    #[serde(default = "soft")]
    pub variant: SppoVariant,
    #[serde(default = "score_sigmoid")]
    pub phat: PhatMode,
}

fn soft() -> SppoVariant {
    SppoVariant::Soft
}
fn score_sigmoid() -> PhatMode {
    PhatMode::ScoreSigmoid
}

impl Sppo {
    pub fn new(eta: f64, variant: SppoVariant) -> Self {
        Sppo { eta, variant, phat: PhatMode::ScoreSigmoid }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            bail!("sppo: `eta` must be a positive number, got {}", self.eta);
        }
        Ok(())
    }

    /// The regression targets `(t_w, t_l)` of one pair.
    pub fn targets(&self, phat_w: f64, phat_l: f64, p_wl: f64) -> (f64, f64) {
        match self.variant {
            SppoVariant::Soft => (self.eta * (phat_w - 0.5), self.eta * (phat_l - 0.5)), // spec: loss `sppo`
            SppoVariant::Single => (self.eta * (p_wl - 0.5), -self.eta * (p_wl - 0.5)), // eq. 4.12, `sppo_single`
        }
    }

    /// Per-pair losses `1/2 [(D_w - t_w)^2 + (D_l - t_l)^2]` (the code's mean of the two terms).
    pub fn loss(&self, d_w: &Tensor, d_l: &Tensor, t_w: &Tensor, t_l: &Tensor) -> Tensor {
        ((d_w - t_w).square() + (d_l - t_l).square()) * 0.5 // eq. 4.12 / trainer.py `sppo`
    }
}

/// What one method of the miniature trains (`[[methods]] objective = { type = ... }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Objective {
    Sppo(Sppo),
    Dpo { beta: f64 },
    Ipo { tau: f64 },
}

impl Objective {
    pub fn validate(&self) -> Result<()> {
        match self {
            Objective::Sppo(s) => s.validate(),
            Objective::Dpo { beta } => Ok(Dpo::new(*beta).validate()?),
            Objective::Ipo { tau } => Ok(Ipo::new(*tau).validate()?),
        }
    }

    /// How `Phat` (and thereby the logged targets) is estimated; baselines only use the pair.
    pub fn phat_mode(&self) -> PhatMode {
        match self {
            Objective::Sppo(s) => s.phat,
            _ => PhatMode::ScoreSigmoid,
        }
    }

    /// Per-pair losses of a batch: log-probs of the policy (`lp_*`) and of `pi_t` (`ref_*`),
    /// response lengths, and the per-pair SPPO targets.
    #[allow(clippy::too_many_arguments)]
    pub fn per_pair(&self, lp_w: &Tensor, lp_l: &Tensor, ref_w: &Tensor, ref_l: &Tensor, len_w: &Tensor, len_l: &Tensor, t_w: &Tensor, t_l: &Tensor) -> Result<Tensor> {
        let logps = || PairLogps::new(lp_w.shallow_clone(), lp_l.shallow_clone(), len_w.shallow_clone(), len_l.shallow_clone()).with_reference(ref_w.shallow_clone(), ref_l.shallow_clone());
        Ok(match self {
            Objective::Sppo(s) => s.loss(&(lp_w - ref_w), &(lp_l - ref_l), t_w, t_l),
            Objective::Dpo { beta } => Dpo::new(*beta).loss(&logps())?.loss, // DPO Eq. 7
            Objective::Ipo { tau } => Ipo { tau: *tau, length_normalize: false }.loss(&logps())?.loss, // IPO Eq. 17, summed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    // Spec test vector 1's pair: Phat_w, Phat_l, P_wl (from the unrounded formulas).
    fn vector1() -> (f64, f64, f64) {
        let p = crate::winrate::phat_from_scores(&[1.2, -0.3, 0.5, 2.0, -1.1]);
        (p[3], p[4], crate::winrate::sigmoid(3.1))
    }

    fn t(v: f64) -> Tensor {
        Tensor::from_slice(&[v]).to_kind(Kind::Double)
    }

    fn loss_at(obj: &Objective, eta_targets: Option<&Sppo>, dw: f64, dl: f64) -> (f64, Tensor, Tensor) {
        let (pw, pl, pwl) = vector1();
        let (tw, tl) = eta_targets.map_or((0.0, 0.0), |s| s.targets(pw, pl, pwl));
        let d_w = t(dw).set_requires_grad(true);
        let d_l = t(dl).set_requires_grad(true);
        let zero = t(0.0);
        let one = t(1.0);
        let l = obj.per_pair(&d_w, &d_l, &zero, &zero, &one, &one, &t(tw), &t(tl)).unwrap();
        l.sum(Kind::Double).backward();
        (l.double_value(&[0]), d_w.grad(), d_l.grad())
    }

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    /// Test vector 2: `sppo` at eta 1, 10, 1000, and its gradients at eta 10.
    #[test]
    fn vector_2_sppo_soft() {
        for (eta, want) in [(1.0, 0.162731), (10.0, 4.48371), (1000.0, 75879.7)] {
            let s = Sppo::new(eta, SppoVariant::Soft);
            let (l, gw, gl) = loss_at(&Objective::Sppo(s.clone()), Some(&s), 0.8, -0.5);
            assert!(rel(l, want) < 5e-6, "eta {eta}: {l} vs {want}"); // the spec rounds to 6 significant digits
            if eta == 10.0 {
                assert!((gw.double_value(&[0]) + 1.94664).abs() < 1e-5, "{gw}");
                assert!((gl.double_value(&[0]) - 2.27553).abs() < 1e-5, "{gl}");
            }
        }
    }

    /// Test vector 3: `sppo_single` at eta 1, 10, 1000.
    #[test]
    fn vector_3_sppo_single() {
        for (eta, want) in [(1.0, 0.0597904), (10.0, 15.3805), (1000.0, 208157.0)] {
            let s = Sppo::new(eta, SppoVariant::Single);
            let (l, _, _) = loss_at(&Objective::Sppo(s.clone()), Some(&s), 0.8, -0.5);
            assert!(rel(l, want) < 5e-6, "eta {eta}: {l} vs {want}");
        }
    }

    /// Test vector 4: the same pair under DPO (beta 0.1) and IPO (tau 0.1, summed log-probs).
    #[test]
    fn vector_4_baselines() {
        let (l, _, _) = loss_at(&Objective::Dpo { beta: 0.1 }, None, 0.8, -0.5);
        assert!(rel(l, 0.630258) < 2e-6, "{l}");
        let (l, _, _) = loss_at(&Objective::Ipo { tau: 0.1 }, None, 0.8, -0.5);
        assert!(rel(l, 13.69) < 1e-6, "{l}");
    }

    /// Sec. 4.5: with a hard label SPPO pushes the winner up and the loser down individually.
    #[test]
    fn hard_labels_raise_the_winner_and_lower_the_loser() {
        let s = Sppo::new(10.0, SppoVariant::Single);
        let (tw, tl) = s.targets(0.0, 0.0, 1.0);
        assert_eq!((tw, tl), (5.0, -5.0));
        // DPO only sees the margin D_w - D_l; SPPO pins each log-ratio: a winner already at +5 nats
        // with the loser at +5 too still gets pushed (the loser down), where DPO's margin is 0 either way.
        let (_, gw, gl) = loss_at(&Objective::Sppo(s.clone()), None, 5.0, 5.0);
        assert_eq!((gw.double_value(&[0]), gl.double_value(&[0])), (5.0, 5.0));
    }

    #[test]
    fn bad_hyperparameters_are_errors() {
        assert!(Objective::Sppo(Sppo::new(0.0, SppoVariant::Soft)).validate().is_err());
        assert!(Objective::Dpo { beta: -1.0 }.validate().is_err());
        let e = toml::from_str::<Objective>("type = \"sppo\"\neta = 10\nbogus = 1").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
