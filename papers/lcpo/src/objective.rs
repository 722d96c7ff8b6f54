//! The RE objective (paper Eq. 5) on the engine's policy step, with the annotators'
//! reliabilities η as the objective's own state.
//!
//! In every micro-batch, with the *current* θ and η (Algorithm 1, step 1):
//!
//! ```text
//! u   = L(y_l ≻ y_w) − L(y_w ≻ y_l)                      induced logit, Eq. 2 (link::Base::logit)
//! p*  = σ(u)
//! w   = p* η_k / (p* η_k + (1 − p*)(1 − η_k))            posterior, Eq. 4, detached
//! L   = −[w log σ(u) + (1 − w) log σ(−u)]                Eq. 5
//! ```
//!
//! and once per optimiser batch, after its last micro-batch ([`Objective::observe`], step 3):
//! `η_k ← (1 − a)·η_k + a·mean_{i ∈ B, k_i = k} w_i` (Eq. 7). η is saved in every checkpoint.
//! The annotator of a pair is its side value `annotator` (0-based) when `annotators > 1`.

use crate::link::{ema, posterior_t, Base, PairInputs};
use serde::{Deserialize, Serialize};
use shared::train::{Loss, Needs, Objective, Observed, Scored};
use shared::{Error, Result};
use std::sync::Mutex;
use tch::{Kind, Tensor};

/// RE-PO's settings: the base loss, the prior reliability η₀, the EMA momentum a, the number of
/// annotators K (1 = one virtual annotator, the paper's main setting).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReConfig {
    pub base: Base,
    #[serde(default = "eta0")]
    pub eta0: f64,
    #[serde(default = "momentum")]
    pub momentum: f64,
    #[serde(default = "one")]
    pub annotators: usize,
}

fn eta0() -> f64 {
    0.9
}
fn momentum() -> f64 {
    0.1
}
fn one() -> usize {
    1
}

impl ReConfig {
    pub fn validate(&self) -> Result<()> {
        self.base.validate()?;
        if !(0.5..1.0).contains(&self.eta0) {
            return Err(Error::invalid("objective re: `eta0`", format!("must lie in [0.5, 1), got {} (the paper uses 0.9)", self.eta0)));
        }
        if !(self.momentum > 0.0 && self.momentum <= 1.0) {
            return Err(Error::invalid("objective re: `momentum`", format!("must lie in (0, 1], got {}", self.momentum)));
        }
        if self.annotators == 0 {
            return Err(Error::invalid("objective re: `annotators`", "must be ≥ 1"));
        }
        Ok(())
    }
}

/// The RE objective; η (one per annotator) lives behind a mutex and changes only in `observe`.
#[derive(Debug)]
pub struct RePo {
    pub cfg: ReConfig,
    eta: Mutex<Vec<f64>>,
    /// When set, the posterior of a batch is computed once and then held (see [`RePo::hold_posterior`]).
    held: Mutex<Option<std::collections::BTreeMap<Vec<usize>, Tensor>>>,
}

/// Per-pair metrics: the posterior w, the model's probability p* of the observed order, the η the
/// pair was weighted with, and whether p* > ½.
pub const METRICS: [&str; 4] = ["w", "p_star", "eta", "accuracy"];

impl RePo {
    pub fn new(cfg: ReConfig) -> Result<Self> {
        cfg.validate()?;
        let eta = Mutex::new(vec![cfg.eta0; cfg.annotators]);
        Ok(RePo { cfg, eta, held: Mutex::new(None) })
    }

    /// Hold each batch's posterior w at its first value, as the M-step of EM does (w is computed
    /// from θ_old). Needed to check Eq. 5's gradient by finite differences: w is detached, so the
    /// autograd gradient is that of the loss with w fixed, while a perturbed θ would move w too.
    pub fn hold_posterior(&self, on: bool) {
        *self.held.lock().expect("held lock") = on.then(Default::default);
    }

    /// The current reliabilities η_k.
    pub fn eta(&self) -> Vec<f64> {
        self.eta.lock().expect("η lock").clone()
    }
}

impl Objective for RePo {
    fn label(&self) -> String {
        format!("re-{}", self.cfg.base.name())
    }

    fn needs(&self) -> Needs {
        Needs {
            responses: 2,
            references: if self.cfg.base.needs_reference() { vec!["reference".into()] } else { vec![] },
            side: if self.cfg.annotators > 1 { vec!["annotator".into()] } else { vec![] },
            ..Default::default()
        }
    }

    fn metric_names(&self) -> Vec<String> {
        METRICS.iter().map(|s| s.to_string()).collect()
    }

    fn compute(&self, x: &Scored) -> Result<Loss> {
        let who = self.label();
        let kind = x.logps.kind();
        let (lw, ll) = (x.logps.select(1, 0), x.logps.select(1, 1));
        let (nw, nl) = (x.lens.select(1, 0).to_kind(kind), x.lens.select(1, 1).to_kind(kind));
        let refs = if self.cfg.base.needs_reference() {
            let r = &x.reference("reference", &who)?.seq;
            Some((r.select(1, 0).to_kind(kind), r.select(1, 1).to_kind(kind)))
        } else {
            None
        };
        let inputs = PairInputs { logp_w: &lw, logp_l: &ll, ref_w: refs.as_ref().map(|r| &r.0), ref_l: refs.as_ref().map(|r| &r.1), len_w: &nw, len_l: &nl };
        let u = self.cfg.base.logit(&inputs)?; // Eq. 2
        let b = u.size()[0];
        let eta_k: Vec<f64> = {
            let eta = self.eta.lock().expect("η lock");
            if self.cfg.annotators > 1 {
                let ids = Vec::<f64>::try_from(x.side("annotator", &who)?.to_kind(Kind::Double).to_device(tch::Device::Cpu))?;
                ids.iter()
                    .map(|&k| eta.get(k as usize).copied().filter(|_| k >= 0.0 && k.fract() == 0.0).ok_or_else(|| Error::invalid(format!("objective {who}"), format!("annotator id {k} is not one of 0..{}", eta.len()))))
                    .collect::<Result<_>>()?
            } else {
                vec![eta[0]; b as usize]
            }
        };
        let eta_t = Tensor::from_slice(&eta_k).to_kind(kind).to_device(u.device());
        let p_star = u.sigmoid();
        let mut w = posterior_t(&p_star, &eta_t); // Eq. 4, detached
        if let Some(held) = self.held.lock().expect("held lock").as_mut() {
            w = held.entry(x.batch.indices.clone()).or_insert_with(|| w.shallow_clone()).shallow_clone();
        }
        let keep: Tensor = &w * u.log_sigmoid();
        let flip: Tensor = (1.0 - &w) * (-&u).log_sigmoid();
        let loss = -(keep + flip); // Eq. 5
        let accuracy = u.gt(0.0).to_kind(kind);
        Ok(Loss { per_example: loss, metrics: vec![w, p_star.detach(), eta_t, accuracy] })
    }

    fn observes(&self) -> bool {
        true
    }

    fn observe(&self, batch: &Observed) -> Result<()> {
        let who = self.label();
        let w = batch.metric(&self.metric_names(), "w", &who)?;
        let mut eta = self.eta.lock().expect("η lock");
        for (k, e) in eta.iter_mut().enumerate() {
            let mine: Vec<f64> = batch
                .indices
                .iter()
                .zip(w)
                .filter(|(&i, _)| self.cfg.annotators == 1 || batch.examples[i].side.get("annotator").copied() == Some(k as f64))
                .map(|(_, &w)| w)
                .collect();
            *e = ema(*e, &mine, self.cfg.momentum); // Eq. 7
        }
        Ok(())
    }

    fn state(&self) -> serde_json::Value {
        serde_json::json!({ "eta": self.eta() })
    }

    fn restore(&self, state: &serde_json::Value) -> Result<()> {
        let v: Vec<f64> = serde_json::from_value(state["eta"].clone()).map_err(|e| Error::invalid(format!("objective {} checkpoint state", self.label()), format!("`eta`: {e}")))?;
        if v.len() != self.cfg.annotators {
            return Err(Error::invalid(format!("objective {} checkpoint state", self.label()), format!("{} reliabilities for {} annotators", v.len(), self.cfg.annotators)));
        }
        *self.eta.lock().expect("η lock") = v;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::train::checks;

    fn re(base: Base, annotators: usize) -> RePo {
        RePo::new(ReConfig { base, eta0: 0.9, momentum: 0.1, annotators }).unwrap()
    }

    #[test]
    fn spec_test_vector_1_through_the_objective() {
        let x = Scored::new(Tensor::from_slice(&[-10f32, -12.0]).view([1, 2]), Tensor::from_slice(&[1f32, 1.0]).view([1, 2])).with_ref("reference", Tensor::zeros([1, 2], (Kind::Float, tch::Device::Cpu)), None);
        let out = re(Base::Dpo { beta: 0.1 }, 1).compute(&x).unwrap();
        assert!((out.per_example.double_value(&[0]) - 0.614816).abs() < 1e-5);
        assert!((out.metrics[0].double_value(&[0]) - 0.916615).abs() < 1e-5);
    }

    /// `checks::objective` with the posterior held for the gradient check (see `hold_posterior`).
    fn check(obj: &RePo, data: &[shared::train::Example]) {
        checks::accumulation(obj, data).unwrap();
        obj.hold_posterior(true);
        checks::gradients(obj, data).unwrap();
        obj.hold_posterior(false);
        // Without holding, the directional difference also moves w: the check must see it.
        assert!(checks::gradients(obj, data).is_err(), "{}: a moving posterior should break the finite difference", obj.label());
    }

    #[test]
    fn every_base_passes_the_engines_objective_checks() {
        let one = checks::examples(2, &[], false);
        for base in [Base::Dpo { beta: 0.5 }, Base::Ipo { beta: 0.5 }, Base::Simpo { beta: 2.0, gamma: 0.5 }, Base::Cpo { beta: 0.1 }] {
            check(&re(base, 1), &one);
        }
        // Two annotators: each pair's η is its annotator's, and only their own pairs move it.
        let two: Vec<_> = checks::examples(2, &[], false).into_iter().enumerate().map(|(i, e)| e.with("annotator", (i % 2) as f64)).collect();
        let obj = re(Base::Dpo { beta: 0.5 }, 2);
        check(&obj, &two);
        assert_eq!(obj.eta(), vec![0.9, 0.9], "the checks restore the state they found");
    }

    #[test]
    fn eta_follows_eq_7_per_annotator_and_restores() {
        let obj = re(Base::Dpo { beta: 0.1 }, 2);
        let ex: Vec<_> = (0..4).map(|i| shared::train::Example::pair(vec![1], vec![2], vec![3]).with("annotator", if i == 3 { 1.0 } else { 0.0 })).collect();
        let b = Observed { examples: &ex, indices: &[0, 1, 2], metrics: vec![vec![0.95, 0.2, 0.8], vec![0.0; 3], vec![0.0; 3], vec![0.0; 3]] };
        obj.observe(&b).unwrap();
        let eta = obj.eta();
        assert!((eta[0] - (0.81 + 0.1 * 1.95 / 3.0)).abs() < 1e-12 && eta[1] == 0.9, "{eta:?}");
        let s = obj.state();
        let fresh = re(Base::Dpo { beta: 0.1 }, 2);
        fresh.restore(&s).unwrap();
        assert_eq!(fresh.eta(), eta);
        assert!(re(Base::Dpo { beta: 0.1 }, 3).restore(&s).unwrap_err().to_string().contains("3 annotators"));
        assert!(RePo::new(ReConfig { base: Base::Dpo { beta: 0.1 }, eta0: 0.3, momentum: 0.1, annotators: 1 }).unwrap_err().to_string().contains("eta0"));
    }
}
