//! The two losses of EVOLVE (spec "Method") and the objective the shared engine trains with.
//!
//! Stage 1, paper Eq. 4: `L_SFT = −E[log π(y_w|x) + log π(y_w|x, y_l, z)]` ([`sft_summed`];
//! the implementation default is the token mean over all target tokens, [`sft_token_mean`]; in the
//! miniature this stage is the world form `refine`, trained by the shared SFT trainer, which takes
//! the token mean).
//!
//! Stage 2, the spec's reconstructed surrogate [R] (summed log-probs, no length normalisation):
//! ```text
//! Δ_dir = [log πθ(y_w|x)       − log πref(y_w|x)]       − [log πθ(y_l|x)       − log πref(y_l|x)]
//! Δ_ref = [log πθ(y_w|x,y_l,z) − log πref(y_w|x,y_l,z)] − [log πθ(y_l|x,y_l,z) − log πref(y_l|x,y_l,z)]
//! L_EVOLVE = −log σ(β·Δ_dir) − λ·log σ(β·Δ_ref)
//! ```
//! [`evolve_loss`] is the formula on numbers. The engine sees one pair as two examples: the direct
//! pair `(x, y_w, y_l)` and the refine pair `((x, y_l, z), y_w, y_l)` (the negative is `y_l`
//! itself, "do not just copy", pitfall 2), the latter carrying the side value `refine = 1`.
//! [`EvolveObjective`] gives each its term (`λ` on the refine one); the engine averages per-example
//! losses over the batch, so a batch of N pairs back-propagates `Σ L_EVOLVE / 2N` (a constant
//! factor ½ against the formula's mean, which AdamW's update is invariant to up to ε).

use serde::{Deserialize, Serialize};
use shared::train::objective::{Loss, Needs, Objective, Scored};
use tch::Kind;
#[cfg(test)]
use tch::Tensor;

/// The surrogate of both terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Surrogate {
    /// `−log σ(β Δ)` (default).
    Sigmoid,
    /// `(Δ − (P − ½)/β)²`, regressing Δ toward the optimum of the KL-regularised objective; with
    /// the chosen response preferred for sure (P = 1) the target is `1/(2β)`, IPO's.
    Ipo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvolveObjective {
    #[serde(default = "beta")]
    pub beta: f64,
    /// λ, the weight of the refine term (spec default 1).
    #[serde(default = "one")]
    pub lambda: f64,
    #[serde(default = "sigmoid")]
    pub surrogate: Surrogate,
}

fn beta() -> f64 {
    0.1
}
fn one() -> f64 {
    1.0
}
fn sigmoid() -> Surrogate {
    Surrogate::Sigmoid
}

impl Default for EvolveObjective {
    fn default() -> Self {
        EvolveObjective { beta: 0.1, lambda: 1.0, surrogate: Surrogate::Sigmoid }
    }
}

impl EvolveObjective {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.beta > 0.0 && self.beta.is_finite()) || !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            anyhow::bail!("objective: beta must be > 0 and lambda ≥ 0 (got {} and {})", self.beta, self.lambda);
        }
        Ok(())
    }

    /// One term on a log-ratio difference Δ.
    pub fn term(&self, delta: f64) -> f64 {
        match self.surrogate {
            Surrogate::Sigmoid => -log_sigmoid(self.beta * delta),
            Surrogate::Ipo => (delta - 0.5 / self.beta).powi(2),
        }
    }
}

fn log_sigmoid(u: f64) -> f64 {
    -((-u).exp().ln_1p())
}

/// Summed log-probs of one pair under the policy and the reference: `[y_w, y_l]` each.
#[derive(Clone, Copy, Debug)]
pub struct PairLogps {
    pub policy: [f64; 2],
    pub reference: [f64; 2],
}

impl PairLogps {
    /// Δ = (log πθ(y_w) − log πref(y_w)) − (log πθ(y_l) − log πref(y_l)).
    pub fn delta(&self) -> f64 {
        (self.policy[0] - self.reference[0]) - (self.policy[1] - self.reference[1])
    }
}

/// `L_EVOLVE` of one example: the direct term (when on) plus λ times the refine term (when the
/// refine negative is the self-copy; `None` drops the term).
pub fn evolve_loss(obj: &EvolveObjective, direct: Option<&PairLogps>, refine: Option<&PairLogps>) -> f64 {
    direct.map_or(0.0, |d| obj.term(d.delta())) + refine.map_or(0.0, |r| obj.lambda * obj.term(r.delta()))
}

/// Eq. 4 summed: `−[log π(y_w|x) + log π(y_w|x, y_l, z)]`.
pub fn sft_summed(logp_direct: f64, logp_refine: f64) -> f64 {
    -(logp_direct + logp_refine)
}

/// Eq. 4 as trained: the token mean over both targets.
pub fn sft_token_mean(logp_direct: f64, logp_refine: f64, tokens_direct: usize, tokens_refine: usize) -> f64 {
    sft_summed(logp_direct, logp_refine) / (tokens_direct + tokens_refine) as f64
}

/// The optimum of the KL-regularised objective over a finite candidate set:
/// `π*(y) ∝ π_ref(y)·exp(P(y ≻ y_1)/β)`.
pub fn optimal_policy(pi_ref: &[f64], pref: &[f64], beta: f64) -> Vec<f64> {
    let w: Vec<f64> = pi_ref.iter().zip(pref).map(|(r, p)| r * (p / beta).exp()).collect();
    let z: f64 = w.iter().sum();
    w.iter().map(|x| x / z).collect()
}

/// The objective the engine trains: per example the direct term, or λ × the refine term for an
/// example with side value `refine = 1`. Metrics: the implicit margin β·Δ and its sign.
impl Objective for EvolveObjective {
    fn label(&self) -> String {
        "evolve".into()
    }
    fn needs(&self) -> Needs {
        Needs { responses: 2, references: vec!["reference".into()], side: vec![REFINE.into()], ..Default::default() }
    }
    fn metric_names(&self) -> Vec<String> {
        vec!["margin".into(), "accuracy".into(), "refine".into()]
    }
    fn compute(&self, x: &Scored) -> shared::Result<Loss> {
        let r = &x.refs.get("reference").ok_or_else(|| shared::Error::invalid("objective evolve", "needs the reference log-probs"))?.seq;
        let h = |k: i64| Scored::col(&x.logps, k) - Scored::col(r, k);
        let delta = h(0) - h(1);
        let is_refine = x.side(REFINE, "evolve")?.to_kind(Kind::Float);
        let weight = (&is_refine * (self.lambda - 1.0)) + 1.0;
        let term = match self.surrogate {
            Surrogate::Sigmoid => -(&delta * self.beta).log_sigmoid(),
            Surrogate::Ipo => (&delta - 0.5 / self.beta).square(),
        };
        let margin = (&delta * self.beta).detach();
        let accuracy = margin.gt(0.0).to_kind(Kind::Float);
        Ok(Loss { per_example: term * weight, metrics: vec![margin, accuracy, is_refine.detach()] })
    }
}

/// The side value marking a refine-term example.
pub const REFINE: &str = "refine";

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() < tol, "{a} vs {b}");
    }

    fn vector() -> (PairLogps, PairLogps) {
        (PairLogps { policy: [-50.0, -60.0], reference: [-52.0, -58.0] }, PairLogps { policy: [-45.0, -20.0], reference: [-50.0, -15.0] })
    }

    #[test]
    fn spec_vector_l_evolve() {
        let obj = EvolveObjective::default();
        let (d, r) = vector();
        assert_eq!(d.delta(), 4.0);
        assert_eq!(r.delta(), 10.0);
        close(obj.term(d.delta()), 0.513015, 1e-6);
        close(obj.term(r.delta()), 0.313262, 1e-6);
        close(evolve_loss(&obj, Some(&d), Some(&r)), 0.826277, 1e-6);
        // refine_negative = none: only the direct term remains.
        close(evolve_loss(&obj, Some(&d), None), 0.513015, 1e-6);
    }

    #[test]
    fn the_engine_objective_gives_the_same_terms() {
        let obj = EvolveObjective::default();
        let (d, r) = vector();
        let scored = Scored::new(Tensor::from_slice(&[d.policy[0], d.policy[1], r.policy[0], r.policy[1]]).view([2, 2]), Tensor::from_slice(&[1.0f64, 1.0, 1.0, 1.0]).view([2, 2]))
            .with_ref("reference", Tensor::from_slice(&[d.reference[0], d.reference[1], r.reference[0], r.reference[1]]).view([2, 2]), None)
            .with_side(REFINE, Tensor::from_slice(&[0.0f64, 1.0]));
        let out = obj.compute(&scored).unwrap();
        let v: Vec<f64> = Vec::try_from(out.per_example.to_kind(Kind::Double)).unwrap();
        close(v[0], 0.513015, 1e-6);
        close(v[1], 0.313262, 1e-6);
        close(v[0] + v[1], 0.826277, 1e-6);
        // λ = 2 weights only the refine example.
        let obj2 = EvolveObjective { lambda: 2.0, ..EvolveObjective::default() };
        let v: Vec<f64> = Vec::try_from(obj2.compute(&scored).unwrap().per_example.to_kind(Kind::Double)).unwrap();
        close(v[0], 0.513015, 1e-6);
        close(v[1], 2.0 * 0.313262, 1e-6);
        assert_eq!(obj.needs().side, vec![REFINE.to_string()]);
    }

    #[test]
    fn ipo_surrogate_regresses_to_half_over_beta() {
        let obj = EvolveObjective { surrogate: Surrogate::Ipo, ..EvolveObjective::default() };
        close(obj.term(5.0), 0.0, 1e-12);
        close(obj.term(10.0), 25.0, 1e-12);
    }

    #[test]
    fn spec_vector_l_sft() {
        close(sft_summed(-20.0, -8.0), 28.0, 1e-9);
        close(sft_token_mean(-20.0, -8.0, 10, 10), 1.4, 1e-9);
    }

    #[test]
    fn spec_vector_optimal_policy_identity() {
        // Candidates y_w and y_l given (x, y_l, z): P(y_w ≻ y_l) = 0.8, P(y_l ≻ y_l) = 0.5.
        let beta = 0.1;
        let p = optimal_policy(&[0.3, 0.7], &[0.8, 0.5], beta);
        close(p[0], 0.895921, 1e-6);
        close(p[1], 0.104079, 1e-6);
        close(beta * ((p[0] / 0.3).ln() - (p[1] / 0.7).ln()), 0.3, 1e-9);
    }
}
