//! The probability a pairwise loss induces (paper Eq. 2, the Gibbs construction), the posterior
//! that a label is right (Eq. 4) and the reliability's EMA (Eq. 7).
//!
//! `p*(y_w ≻ y_l) = σ(L(y_l ≻ y_w) − L(y_w ≻ y_l))`: each order is scored by `exp(−L)`. The
//! difference is the *induced logit* `u`; [`Base::logit`] computes it in closed form:
//!
//! ```text
//! DPO    L = −log σ(β(h_w − h_l))                        u = β (h_w − h_l)
//! IPO    L = (h_w − h_l − 1/(2β))²                       u = 2 (h_w − h_l) / β
//! CPO    L = −log σ(β(ℓ_w − ℓ_l)) − ℓ_w                  u = (1 + β)(ℓ_w − ℓ_l)
//! SimPO  L = −log σ(m − γ), m = β(ℓ_w/|y_w| − ℓ_l/|y_l|) u = −log σ(−m − γ) + log σ(m − γ)
//! ```
//!
//! with `h = log π_θ − log π_ref` and `ℓ = log π_θ`, both summed over the response.

use serde::{Deserialize, Serialize};
use shared::{Error, Result};
use tch::Tensor;

/// The pairwise loss a RE objective is built on, with its own hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Base {
    Dpo { beta: f64 },
    Ipo { beta: f64 },
    Simpo { beta: f64, gamma: f64 },
    Cpo { beta: f64 },
}

/// What a base loss reads of one pair: summed policy log-probs, reference log-probs (DPO, IPO) and
/// response lengths (SimPO), each `[B]` for the chosen (`w`) and rejected (`l`) answer.
pub struct PairInputs<'a> {
    pub logp_w: &'a Tensor,
    pub logp_l: &'a Tensor,
    pub ref_w: Option<&'a Tensor>,
    pub ref_l: Option<&'a Tensor>,
    pub len_w: &'a Tensor,
    pub len_l: &'a Tensor,
}

impl Base {
    pub fn name(&self) -> &'static str {
        match self {
            Base::Dpo { .. } => "dpo",
            Base::Ipo { .. } => "ipo",
            Base::Simpo { .. } => "simpo",
            Base::Cpo { .. } => "cpo",
        }
    }

    pub fn validate(&self) -> Result<()> {
        let beta = match self {
            Base::Dpo { beta } | Base::Ipo { beta } | Base::Cpo { beta } | Base::Simpo { beta, .. } => *beta,
        };
        if !(beta > 0.0 && beta.is_finite()) {
            return Err(Error::invalid(format!("base loss {}: `beta`", self.name()), format!("must be a positive number, got {beta}")));
        }
        if let Base::Simpo { gamma, .. } = self {
            if !gamma.is_finite() {
                return Err(Error::invalid("base loss simpo: `gamma`", "must be a finite number"));
            }
        }
        Ok(())
    }

    /// Whether the loss reads the reference's log-probs.
    pub fn needs_reference(&self) -> bool {
        matches!(self, Base::Dpo { .. } | Base::Ipo { .. })
    }

    /// `L(a ≻ b)` for the order given (`swap = false`: chosen first), `[B]`.
    pub fn loss(&self, x: &PairInputs, swap: bool) -> Result<Tensor> {
        let (a, b) = if swap { (x.logp_l, x.logp_w) } else { (x.logp_w, x.logp_l) };
        Ok(match self {
            Base::Dpo { beta } => {
                let (ra, rb) = refs(x, swap)?;
                -((a - ra - b + rb) * *beta).log_sigmoid()
            }
            Base::Ipo { beta } => {
                let (ra, rb) = refs(x, swap)?;
                (a - ra - b + rb - 1.0 / (2.0 * beta)).square()
            }
            Base::Cpo { beta } => -((a - b) * *beta).log_sigmoid() - a,
            Base::Simpo { beta, gamma } => {
                let (la, lb) = if swap { (x.len_l, x.len_w) } else { (x.len_w, x.len_l) };
                -(((a / la) - (b / lb)) * *beta - *gamma).log_sigmoid()
            }
        })
    }

    /// The induced logit `u = L(y_l ≻ y_w) − L(y_w ≻ y_l)` in closed form, `[B]` (Eq. 2).
    pub fn logit(&self, x: &PairInputs) -> Result<Tensor> {
        Ok(match self {
            Base::Dpo { beta } => {
                let (rw, rl) = refs(x, false)?;
                (x.logp_w - rw - x.logp_l + rl) * *beta
            }
            Base::Ipo { beta } => {
                let (rw, rl) = refs(x, false)?;
                (x.logp_w - rw - x.logp_l + rl) * (2.0 / beta)
            }
            Base::Cpo { beta } => (x.logp_w - x.logp_l) * (1.0 + beta),
            Base::Simpo { beta, gamma } => {
                let m = ((x.logp_w / x.len_w) - (x.logp_l / x.len_l)) * *beta;
                -(-&m - *gamma).log_sigmoid() + (m - *gamma).log_sigmoid()
            }
        })
    }
}

fn refs<'a>(x: &PairInputs<'a>, swap: bool) -> Result<(&'a Tensor, &'a Tensor)> {
    match (x.ref_w, x.ref_l) {
        (Some(w), Some(l)) => Ok(if swap { (l, w) } else { (w, l) }),
        _ => Err(Error::invalid("RE objective", "the base loss needs the reference's log-probs")),
    }
}

/// Eq. 4: the posterior that the observed label is right, `w = p*η / (p*η + (1 − p*)(1 − η))`.
pub fn posterior(p_star: f64, eta: f64) -> f64 {
    p_star * eta / (p_star * eta + (1.0 - p_star) * (1.0 - eta))
}

/// Eq. 4 on tensors (`p*` and `η` of the same shape); no gradient flows through `w`.
pub fn posterior_t(p_star: &Tensor, eta: &Tensor) -> Tensor {
    let (p, e) = (p_star.detach(), eta.detach());
    let num = &p * &e;
    &num / (&num + (1.0 - &p) * (1.0 - &e))
}

/// Eq. 7: `η ← (1 − a)·η + a·mean(w)` over the annotator's examples in the batch (unchanged
/// when the batch has none of them).
pub fn ema(eta: f64, batch_w: &[f64], a: f64) -> f64 {
    if batch_w.is_empty() {
        return eta;
    }
    (1.0 - a) * eta + a * batch_w.iter().sum::<f64>() / batch_w.len() as f64
}

/// Eq. 5 for one pair with a given logit: `−[w log σ(u) + (1 − w) log σ(−u)]`.
pub fn re_loss(u: f64, w: f64) -> f64 {
    let ls = |z: f64| -(1.0 + (-z).exp()).ln();
    -(w * ls(u) + (1.0 - w) * ls(-u))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn t(v: f64) -> Tensor {
        Tensor::from_slice(&[v]).to_kind(Kind::Double)
    }

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol * b.abs().max(1e-3), "{a} vs {b}");
    }

    /// (L(w≻l), L(l≻w), p*, w, L_RE) of one pair under `base` with η = 0.9.
    fn case(base: Base, lw: f64, ll: f64, rw: Option<f64>, rl: Option<f64>, nw: f64, nl: f64) -> [f64; 5] {
        let (a, b, ra, rb, la, lb) = (t(lw), t(ll), rw.map(t), rl.map(t), t(nw), t(nl));
        let x = PairInputs { logp_w: &a, logp_l: &b, ref_w: ra.as_ref(), ref_l: rb.as_ref(), len_w: &la, len_l: &lb };
        let (fw, bw) = (base.loss(&x, false).unwrap().double_value(&[0]), base.loss(&x, true).unwrap().double_value(&[0]));
        let u = base.logit(&x).unwrap().double_value(&[0]);
        // The closed-form logit is the Gibbs construction's difference of the two losses.
        close(u, bw - fw, 1e-9);
        let p = 1.0 / (1.0 + (-u).exp());
        let w = posterior(p, 0.9);
        [fw, bw, p, w, re_loss(u, w)]
    }

    #[test]
    fn spec_test_vector_1_dpo() {
        let [l, _, p, w, re] = case(Base::Dpo { beta: 0.1 }, -10.0, -12.0, Some(0.0), Some(0.0), 1.0, 1.0);
        for (a, b) in [(l, 0.598139), (p, 0.549834), (w, 0.916615), (re, 0.614816)] {
            close(a, b, 1e-5);
        }
        // For DPO only, L_RE = w·L(w≻l) + (1 − w)·L(l≻w).
        let [fw, bw, ..] = case(Base::Dpo { beta: 0.1 }, -10.0, -12.0, Some(0.0), Some(0.0), 1.0, 1.0);
        close(re, w * fw + (1.0 - w) * bw, 1e-9);
    }

    #[test]
    fn spec_test_vector_2_ipo() {
        let [fw, bw, p, w, re] = case(Base::Ipo { beta: 0.1 }, 0.5, 0.2, Some(0.0), Some(0.0), 1.0, 1.0);
        for (a, b) in [(fw, 22.09), (bw, 28.09), (p, 0.997527), (w, 0.999725), (re, 0.00412773)] {
            close(a, b, 1e-5);
        }
    }

    #[test]
    fn spec_test_vector_3_simpo() {
        let [fw, bw, p, w, re] = case(Base::Simpo { beta: 2.0, gamma: 1.0 }, -20.0, -30.0, None, None, 10.0, 12.0);
        for (a, b) in [(fw, 0.693147), (bw, 2.12693), (p, 0.807490), (w, 0.974194), (re, 0.250825)] {
            close(a, b, 1e-5);
        }
    }

    #[test]
    fn spec_test_vector_4_cpo() {
        let [fw, bw, p, w, re] = case(Base::Cpo { beta: 0.1 }, -20.0, -22.0, None, None, 1.0, 1.0);
        for (a, b) in [(fw, 20.5981), (bw, 22.7981), (p, 0.900250), (w, 0.987838), (re, 0.131839)] {
            close(a, b, 1e-5);
        }
    }

    #[test]
    fn spec_test_vectors_5_and_6_posterior_and_ema() {
        close(posterior(0.5, 0.9), 0.9, 1e-9);
        close(posterior(0.1, 0.9), 0.5, 1e-9);
        close(posterior(0.9, 0.9), 0.987805, 1e-6);
        close(ema(0.9, &[0.95, 0.2, 0.8, 0.99], 0.1), 0.8835, 1e-9);
        assert_eq!(ema(0.7, &[], 0.1), 0.7, "an annotator absent from the batch keeps its η");
        let w = posterior_t(&Tensor::from_slice(&[0.5f64, 0.1, 0.9]), &Tensor::from_slice(&[0.9f64; 3]));
        close(w.double_value(&[2]), 0.987805, 1e-6);
    }

    #[test]
    fn bad_hyperparameters_are_named() {
        assert!(Base::Dpo { beta: 0.0 }.validate().unwrap_err().to_string().contains("beta"));
        assert!(Base::Simpo { beta: 2.0, gamma: f64::NAN }.validate().unwrap_err().to_string().contains("gamma"));
        let x: std::result::Result<Base, _> = toml::from_str("type = \"dpo\"\nbeta = 0.1\nbata = 1");
        assert!(x.is_err());
    }
}
