//! DNO's objectives on the shared engine. `L_i = log π(y_i|x) − log π_t(y_i|x)`, summed over
//! response tokens; `π_t` is the frozen previous iterate (the engine's `"reference"` role with
//! `Reference::Previous`).
//!
//! - **DNO-Prct** (eq. 13, what the paper ran): `−log σ(η (L_+ − L_−))` on hard-labelled
//!   large-margin pairs: the shared DPO objective with `β = η`, against `π_t`.
//! - **Algorithm 1** (the theory): the two-sided binary cross-entropy
//!   `−[σ(Δr) log σ(η (L_1 − L_2)) + σ(−Δr) log σ(η (L_2 − L_1))]`, `Δr = r_t(y_1) − r_t(y_2)`,
//!   with the soft target `σ(Δr)` carried by each pair as side data ([`TARGET`]).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::objectives::dpo::Dpo;
use shared::train::{Loss, Needs, Scored};

/// The side value a pair carries for the BCE objective: `σ(r_t(y_1) − r_t(y_2))`.
pub const TARGET: &str = "target";

/// Algorithm 1's regression of the internal reward's differences onto win-rate differences.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bce {
    pub eta: f64,
}

impl shared::train::Objective for Bce {
    fn label(&self) -> String {
        "dno-bce".into()
    }
    fn needs(&self) -> Needs {
        Needs { responses: 2, references: vec!["reference".into()], side: vec![TARGET.into()], ..Default::default() }
    }
    fn metric_names(&self) -> Vec<String> {
        vec!["margin".into()]
    }
    fn compute(&self, x: &Scored) -> shared::Result<Loss> {
        let r = &x.reference("reference", "dno-bce")?.seq;
        let l1 = Scored::col(&x.logps, 0) - Scored::col(r, 0); // L_i = log π − log π_t
        let l2 = Scored::col(&x.logps, 1) - Scored::col(r, 1);
        let z = (&l1 - &l2) * self.eta;
        let target = x.side(TARGET, "dno-bce")?;
        // Algorithm 1, step 3: −[σ(Δr) log σ(z) + σ(−Δr) log σ(−z)].
        let not_target: tch::Tensor = -target + 1.0;
        let loss = -(target * z.log_sigmoid() + not_target * (-&z).log_sigmoid());
        Ok(Loss { per_example: loss, metrics: vec![z.detach()] })
    }
}

/// What a method trains (`objective = { type = ... }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Objective {
    /// DNO-Prct's contrastive update, eq. 13 (TRL's DPO with β = η).
    Dpo { eta: f64 },
    /// Algorithm 1's two-sided BCE onto `σ(Δr)` (needs the win-rate annotation).
    Bce { eta: f64 },
}

impl Objective {
    pub fn eta(&self) -> f64 {
        match self {
            Objective::Dpo { eta } | Objective::Bce { eta } => *eta,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let eta = self.eta();
        if !(eta > 0.0 && eta.is_finite()) {
            bail!("objective: `eta` must be a positive number, got {eta}");
        }
        Ok(())
    }

    pub fn build(&self) -> Box<dyn shared::train::Objective> {
        match self {
            Objective::Dpo { eta } => Box::new(Dpo::new(*eta)), // eq. 13: DPO against π_t
            Objective::Bce { eta } => Box::new(Bce { eta: *eta }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v).to_kind(Kind::Double)
    }

    /// The objective on one pair with log-ratios `(L_1, L_2)` (reference at 0, |y| = 1).
    fn loss_at(obj: &Objective, target: f64, l1: f64, l2: f64) -> f64 {
        let x = Scored::new(t(&[l1, l2]).view([1, 2]), t(&[1.0, 1.0]).view([1, 2])).with_ref("reference", t(&[0.0, 0.0]).view([1, 2]), None).with_side(TARGET, t(&[target]));
        obj.build().compute(&x).unwrap().per_example.double_value(&[0])
    }

    /// Test vector 1: the DNO-Prct/DPO loss with D+ = 2, D− = −1.
    #[test]
    fn vector_1_dpo_against_the_previous_iterate() {
        assert!((loss_at(&Objective::Dpo { eta: 0.1 }, 0.0, 2.0, -1.0) - 0.554355).abs() < 1e-6);
        assert!((loss_at(&Objective::Dpo { eta: 0.05 }, 0.0, 2.0, -1.0) - 0.620957).abs() < 1e-6);
    }

    /// Test vector 2: Algorithm 1's BCE with L1 = 2, L2 = −1, η = 0.1.
    #[test]
    fn vector_2_algorithm_1_bce() {
        let bce = Objective::Bce { eta: 0.1 };
        let target = crate::pairs::soft_target(0.8, 0.3);
        assert!((loss_at(&bce, target, 2.0, -1.0) - 0.667617).abs() < 1e-6);
        let target = crate::pairs::soft_target(1.0, 0.0);
        assert!((target - 0.731059).abs() < 1e-6);
        assert!((loss_at(&bce, target, 2.0, -1.0) - 0.635038).abs() < 1e-6);
    }

    #[test]
    fn the_objectives_pass_the_shared_checks() {
        let data = shared::train::checks::examples(2, &[TARGET], false);
        shared::train::checks::objective(&Bce { eta: 0.1 }, &data).unwrap();
        shared::train::checks::objective(Objective::Dpo { eta: 0.1 }.build().as_ref(), &shared::train::checks::examples(2, &[], false)).unwrap();
    }

    #[test]
    fn bad_hyperparameters_are_errors() {
        assert!(Objective::Dpo { eta: 0.0 }.validate().is_err());
        let e = toml::from_str::<Objective>("type = \"dpo\"\neta = 0.1\nbeta = 1").unwrap_err();
        assert!(e.to_string().contains("beta"), "{e}");
    }
}
