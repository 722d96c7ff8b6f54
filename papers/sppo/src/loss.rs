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
use shared::objectives::{dpo::Dpo, ipo::Ipo};
use shared::train::{Loss, Needs, Scored};
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

/// The names of the per-pair targets the annotator attaches to each example.
pub const TARGET_W: &str = "target_w";
pub const TARGET_L: &str = "target_l";

/// SPPO on the shared engine: reads the policy's and the frozen `pi_t`'s (`"reference"`) summed
/// log-probs of winner and loser, and the targets `t_w`, `t_l` as side data.
impl shared::train::Objective for Sppo {
    fn label(&self) -> String {
        "sppo".into()
    }
    fn needs(&self) -> Needs {
        Needs { responses: 2, references: vec!["reference".into()], side: vec![TARGET_W.into(), TARGET_L.into()], ..Default::default() }
    }
    fn metric_names(&self) -> Vec<String> {
        vec!["d_w".into(), "d_l".into()]
    }
    fn compute(&self, x: &Scored) -> shared::Result<Loss> {
        let r = &x.reference("reference", "sppo")?.seq;
        let d_w = Scored::col(&x.logps, 0) - Scored::col(r, 0); // D = log pi_theta - log pi_t
        let d_l = Scored::col(&x.logps, 1) - Scored::col(r, 1);
        let loss = self.loss(&d_w, &d_l, x.side(TARGET_W, "sppo")?, x.side(TARGET_L, "sppo")?);
        Ok(Loss { per_example: loss, metrics: vec![d_w.detach(), d_l.detach()] })
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

    /// The objective this method trains, for the shared engine. The baselines are the shared
    /// DPO (Eq. 7) and IPO (Eq. 17 on summed log-probs, the SPPO trainer's form).
    pub fn build(&self) -> Box<dyn shared::train::Objective> {
        match self {
            Objective::Sppo(s) => Box::new(s.clone()),
            Objective::Dpo { beta } => Box::new(Dpo::new(*beta)),
            Objective::Ipo { tau } => Box::new(Ipo { tau: *tau, length_normalize: false }),
        }
    }

    /// The side values `(t_w, t_l)` one pair carries (SPPO only).
    pub fn targets(&self, phat_w: f64, phat_l: f64, p_wl: f64) -> Option<(f64, f64)> {
        match self {
            Objective::Sppo(s) => Some(s.targets(phat_w, phat_l, p_wl)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    // Spec test vector 1's pair: Phat_w, Phat_l, P_wl (from the unrounded formulas).
    fn vector1() -> (f64, f64, f64) {
        let p = crate::winrate::phat_from_scores(&[1.2, -0.3, 0.5, 2.0, -1.1]);
        (p[3], p[4], crate::winrate::sigmoid(3.1))
    }

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v).to_kind(Kind::Double)
    }

    /// The objective of `obj` on one pair with log-ratios `(D_w, D_l)` (reference at 0, |y| = 1)
    /// and targets `(t_w, t_l)`, through the engine's interface: (loss, dL/dD_w, dL/dD_l).
    fn loss_at(obj: &Objective, targets: (f64, f64), dw: f64, dl: f64) -> (f64, f64, f64) {
        let lp = t(&[dw, dl]).view([1, 2]).set_requires_grad(true);
        let x = Scored::new(lp.shallow_clone(), t(&[1.0, 1.0]).view([1, 2])).with_ref("reference", t(&[0.0, 0.0]).view([1, 2]), None).with_side(TARGET_W, t(&[targets.0])).with_side(TARGET_L, t(&[targets.1]));
        let l = obj.build().compute(&x).unwrap().per_example;
        l.sum(Kind::Double).backward();
        let g = lp.grad();
        (l.double_value(&[0]), g.double_value(&[0, 0]), g.double_value(&[0, 1]))
    }

    fn sppo_targets(s: &Sppo) -> (f64, f64) {
        let (pw, pl, pwl) = vector1();
        s.targets(pw, pl, pwl)
    }

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    /// Test vector 2: `sppo` at eta 1, 10, 1000, and its gradients at eta 10.
    #[test]
    fn vector_2_sppo_soft() {
        for (eta, want) in [(1.0, 0.162731), (10.0, 4.48371), (1000.0, 75879.7)] {
            let s = Sppo::new(eta, SppoVariant::Soft);
            let (l, gw, gl) = loss_at(&Objective::Sppo(s.clone()), sppo_targets(&s), 0.8, -0.5);
            assert!(rel(l, want) < 5e-6, "eta {eta}: {l} vs {want}"); // the spec rounds to 6 significant digits
            if eta == 10.0 {
                assert!((gw + 1.94664).abs() < 1e-5, "{gw}");
                assert!((gl - 2.27553).abs() < 1e-5, "{gl}");
            }
        }
    }

    /// Test vector 3: `sppo_single` at eta 1, 10, 1000.
    #[test]
    fn vector_3_sppo_single() {
        for (eta, want) in [(1.0, 0.0597904), (10.0, 15.3805), (1000.0, 208157.0)] {
            let s = Sppo::new(eta, SppoVariant::Single);
            let (l, _, _) = loss_at(&Objective::Sppo(s.clone()), sppo_targets(&s), 0.8, -0.5);
            assert!(rel(l, want) < 5e-6, "eta {eta}: {l} vs {want}");
        }
    }

    /// Test vector 4: the same pair under DPO (beta 0.1) and IPO (tau 0.1, summed log-probs).
    #[test]
    fn vector_4_baselines() {
        let (l, _, _) = loss_at(&Objective::Dpo { beta: 0.1 }, (0.0, 0.0), 0.8, -0.5);
        assert!(rel(l, 0.630258) < 2e-6, "{l}");
        let (l, _, _) = loss_at(&Objective::Ipo { tau: 0.1 }, (0.0, 0.0), 0.8, -0.5);
        assert!(rel(l, 13.69) < 1e-6, "{l}");
    }

    /// Sec. 4.5: with a hard label SPPO pushes the winner up and the loser down individually,
    /// where DPO only sees the margin D_w - D_l.
    #[test]
    fn hard_labels_raise_the_winner_and_lower_the_loser() {
        let s = Sppo::new(10.0, SppoVariant::Single);
        let targets = s.targets(0.0, 0.0, 1.0);
        assert_eq!(targets, (5.0, -5.0));
        let sppo = Objective::Sppo(s);
        // From pi_t itself (D = 0): descent raises the winner (dL/dD_w < 0) and lowers the loser.
        let (_, gw, gl) = loss_at(&sppo, targets, 0.0, 0.0);
        assert_eq!((gw, gl), (-5.0, 5.0));
        // Both log-ratios already up by 5 nats: DPO's margin is 0 and it pushes them apart
        // symmetrically; SPPO leaves the winner at its target and pushes only the loser down.
        let (_, gw, gl) = loss_at(&sppo, targets, 5.0, 5.0);
        assert_eq!((gw, gl), (0.0, 10.0));
        let (_, dw, dl) = loss_at(&Objective::Dpo { beta: 0.1 }, (0.0, 0.0), 5.0, 5.0);
        assert!(dw < 0.0 && dl > 0.0 && (dw + dl).abs() < 1e-12, "{dw} {dl}");
    }

    /// The SPPO objective passes the engine's checks (accumulation invariance, gradients).
    #[test]
    fn passes_the_shared_objective_checks() {
        let data = shared::train::checks::examples(2, &[TARGET_W, TARGET_L], false);
        shared::train::checks::objective(&Sppo::new(10.0, SppoVariant::Soft), &data).unwrap();
    }

    #[test]
    fn bad_hyperparameters_are_errors() {
        assert!(Objective::Sppo(Sppo::new(0.0, SppoVariant::Soft)).validate().is_err());
        assert!(Objective::Dpo { beta: -1.0 }.validate().is_err());
        let e = toml::from_str::<Objective>("type = \"sppo\"\neta = 10\nbogus = 1").unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
