//! INPO's online-mirror-descent square loss (eq. 8 / eq. 12) on the shared engine, and the
//! baselines each method of the miniature trains.
//!
//! `h_t(π, y_w, y_l) = (l_w − l_l) − (τ/η)(r_w − r_l) − (1 − τ/η)(t_w − t_l)`, with `l`, `r`, `t`
//! the summed response log-probs under the policy, the frozen SFT model `π_ref = π_0` (the
//! engine's `"initial"` role) and the frozen previous iterate `π_t` (`"previous"`): the pair
//! log-ratio of `π` against the unnormalised geometric mix `π_ref^(τ/η) π_t^(1 − τ/η)`. The loss
//! is `(h − 1/(2η))²` per pair. At iteration 1 both references are `π_0` and it is IPO with target
//! `1/(2η)`; `τ = 0` ("INPO w/o KL") is IPO against the moving reference `π_t`.
//!
//! [`tabular`] checks Prop. 6 on a 3-response example: the population loss eq. (8) differs from
//! the OMD regression loss eq. (7) by a constant, so both have the OMD step as minimiser.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::objectives::dpo::Dpo;
use shared::train::{Loss, Needs, Scored};

/// The INPO objective: `eta` (inverse OMD step size) and `tau` (KL weight to `π_ref`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inpo {
    pub eta: f64,
    pub tau: f64,
}

impl Inpo {
    pub fn validate(&self) -> Result<()> {
        if !(self.eta > 0.0 && self.eta.is_finite()) {
            bail!("inpo: `eta` must be a positive number, got {}", self.eta);
        }
        if !(self.tau >= 0.0 && self.tau <= self.eta) {
            bail!("inpo: `tau` must lie in [0, eta] (the mix weights tau/eta and 1 - tau/eta), got {} with eta {}", self.tau, self.eta);
        }
        Ok(())
    }
}

impl shared::train::Objective for Inpo {
    fn label(&self) -> String {
        "inpo".into()
    }
    fn needs(&self) -> Needs {
        Needs { responses: 2, references: vec!["initial".into(), "previous".into()], ..Default::default() }
    }
    fn metric_names(&self) -> Vec<String> {
        vec!["h".into()]
    }
    fn compute(&self, x: &Scored) -> shared::Result<Loss> {
        let r = &x.reference("initial", "inpo")?.seq;
        let t = &x.reference("previous", "inpo")?.seq;
        let pair = |s: &tch::Tensor| Scored::col(s, 0) - Scored::col(s, 1);
        let mix = self.tau / self.eta;
        // h_t = log π(y_w)/π(y_l) − (τ/η) log π_ref(y_w)/π_ref(y_l) − (1 − τ/η) log π_t(y_w)/π_t(y_l)
        let h = pair(&x.logps) - pair(r) * mix - pair(t) * (1.0 - mix);
        let loss = (&h - 1.0 / (2.0 * self.eta)).square(); // eq. 8: (h_t − 1/(2η))²
        Ok(Loss { per_example: loss, metrics: vec![h.detach()] })
    }
}

/// What one method of the miniature trains (`objective = { type = ... }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Objective {
    Inpo(Inpo),
    /// Iterative DPO (RLHFlow): reference = the previous iterate.
    Dpo { beta: f64 },
    /// SPPO's `sppo` loss (its own crate's objective), on SPPO's own pairs.
    Sppo(sppo::loss::Sppo),
}

impl Objective {
    pub fn validate(&self) -> Result<()> {
        match self {
            Objective::Inpo(i) => i.validate(),
            Objective::Dpo { beta } => Ok(Dpo::new(*beta).validate()?),
            Objective::Sppo(s) => s.validate(),
        }
    }

    pub fn build(&self) -> Box<dyn shared::train::Objective> {
        match self {
            Objective::Inpo(i) => Box::new(i.clone()),
            Objective::Dpo { beta } => Box::new(Dpo::new(*beta)),
            Objective::Sppo(s) => Box::new(s.clone()),
        }
    }
}

/// Prop. 6 on a tabular game: responses `0..n`, `p[i][j] = P(y_i ≻ y_j)`, policies as vectors.
pub mod tabular {
    /// `P(y ≻ π_t) = Σ_j π_t(j) P(y ≻ y_j)` for every y.
    pub fn win_rates(p: &[Vec<f64>], pi_t: &[f64]) -> Vec<f64> {
        p.iter().map(|row| row.iter().zip(pi_t).map(|(pij, w)| pij * w).sum()).collect()
    }

    /// `h_t(π, y, y')` of the loss section.
    pub fn h(pi: &[f64], pi_ref: &[f64], pi_t: &[f64], eta: f64, tau: f64, y: usize, y2: usize) -> f64 {
        let lr = |q: &[f64]| (q[y] / q[y2]).ln();
        lr(pi) - tau / eta * lr(pi_ref) - (eta - tau) / eta * lr(pi_t)
    }

    /// Eq. (7): `E_{y,y'~π_t}[(h_t(π,y,y') − (P(y ≻ π_t) − P(y' ≻ π_t))/η)²]`.
    pub fn loss7(p: &[Vec<f64>], pi: &[f64], pi_ref: &[f64], pi_t: &[f64], eta: f64, tau: f64) -> f64 {
        let w = win_rates(p, pi_t);
        let n = pi.len();
        let mut s = 0.0;
        for y in 0..n {
            for y2 in 0..n {
                s += pi_t[y] * pi_t[y2] * (h(pi, pi_ref, pi_t, eta, tau, y, y2) - (w[y] - w[y2]) / eta).powi(2);
            }
        }
        s
    }

    /// Eq. (8): `E_{y,y'~π_t, (y_w,y_l)~λ_P(y,y')}[(h_t(π,y_w,y_l) − 1/(2η))²]`, over every ordered
    /// pair, the same-response terms `y = y'` included.
    pub fn loss8(p: &[Vec<f64>], pi: &[f64], pi_ref: &[f64], pi_t: &[f64], eta: f64, tau: f64) -> f64 {
        let n = pi.len();
        let sq = |w: usize, l: usize| (h(pi, pi_ref, pi_t, eta, tau, w, l) - 1.0 / (2.0 * eta)).powi(2);
        let mut s = 0.0;
        for y in 0..n {
            for y2 in 0..n {
                s += pi_t[y] * pi_t[y2] * (p[y][y2] * sq(y, y2) + (1.0 - p[y][y2]) * sq(y2, y));
            }
        }
        s
    }

    /// The OMD step's closed form `π_{t+1}(y) ∝ exp(P(y ≻ π_t)/η) π_ref(y)^(τ/η) π_t(y)^(1 − τ/η)`.
    pub fn omd_step(p: &[Vec<f64>], pi_ref: &[f64], pi_t: &[f64], eta: f64, tau: f64) -> Vec<f64> {
        let w = win_rates(p, pi_t);
        let u: Vec<f64> = (0..pi_t.len()).map(|y| (w[y] / eta).exp() * pi_ref[y].powf(tau / eta) * pi_t[y].powf(1.0 - tau / eta)).collect();
        let z: f64 = u.iter().sum();
        u.iter().map(|x| x / z).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v).to_kind(Kind::Double)
    }

    /// The objective on one pair: policy (lw, ll), reference (rw, rl), previous (tw, tl); (loss, dL/dlw, dL/dll).
    fn loss_at(o: &Inpo, l: [f64; 2], r: [f64; 2], p: [f64; 2]) -> (f64, f64, f64) {
        use shared::train::Objective as _;
        let lp = t(&l).view([1, 2]).set_requires_grad(true);
        let x = Scored::new(lp.shallow_clone(), t(&[1.0, 1.0]).view([1, 2])).with_ref("initial", t(&r).view([1, 2]), None).with_ref("previous", t(&p).view([1, 2]), None);
        let loss = o.compute(&x).unwrap().per_example;
        loss.sum(Kind::Double).backward();
        let g = lp.grad();
        (loss.double_value(&[0]), g.double_value(&[0, 0]), g.double_value(&[0, 1]))
    }

    /// Test vector 1: h = 5 (or 4 without the KL term) and the three losses.
    #[test]
    fn vector_1() {
        let (l, r, p) = ([-40.0, -55.0], [-42.0, -50.0], [-41.0, -52.0]);
        for (eta, tau, want) in [(0.005, 0.005 / 3.0, 9025.0), (0.1, 0.1 / 3.0, 0.0), (0.005, 0.0, 9216.0)] {
            let (loss, _, _) = loss_at(&Inpo { eta, tau }, l, r, p);
            assert!((loss - want).abs() < 1e-6 * want.max(1.0), "eta {eta} tau {tau}: {loss} vs {want}");
        }
    }

    /// Test vector 2: h = −0.25, loss 105.0625 and its gradients ∓20.5.
    #[test]
    fn vector_2_with_gradients() {
        let (loss, gw, gl) = loss_at(&Inpo { eta: 0.05, tau: 0.05 / 3.0 }, [-12.5, -20.25], [-13.0, -19.0], [-12.0, -21.0]);
        assert!((loss - 105.0625).abs() < 1e-9, "{loss}");
        assert!((gw + 20.5).abs() < 1e-9 && (gl - 20.5).abs() < 1e-9, "{gw} {gl}");
    }

    /// Test vector 3: Prop. 6 on the tabular game.
    #[test]
    fn vector_3_population_losses_differ_by_a_constant() {
        use tabular::*;
        let p = vec![vec![0.5, 0.7, 0.2], vec![0.3, 0.5, 0.9], vec![0.8, 0.1, 0.5]];
        let (pi_t, pi_ref) = ([0.5, 0.3, 0.2], [0.2, 0.5, 0.3]);
        let (eta, tau) = (0.5, 0.5 / 3.0);
        for (a, b) in win_rates(&p, &pi_t).iter().zip([0.5, 0.48, 0.53]) {
            assert!((a - b).abs() < 1e-12);
        }
        let close = |a: f64, b: f64| (a - b).abs() < 5e-6;
        let (a7, a8) = (loss7(&p, &[0.4, 0.4, 0.2], &pi_ref, &pi_t, eta, tau), loss8(&p, &[0.4, 0.4, 0.2], &pi_ref, &pi_t, eta, tau));
        let (b7, b8) = (loss7(&p, &[0.1, 0.6, 0.3], &pi_ref, &pi_t, eta, tau), loss8(&p, &[0.1, 0.6, 0.3], &pi_ref, &pi_t, eta, tau));
        assert!(close(a7, 0.0320037) && close(a8, 1.02960) && close(b7, 1.51912) && close(b8, 2.51672), "{a7} {a8} {b7} {b8}");
        assert!(((a8 - a7) - (b8 - b7)).abs() < 1e-9, "the same constant");
        let next = omd_step(&p, &pi_ref, &pi_t, eta, tau);
        for (x, y) in next.iter().zip([0.386472, 0.358504, 0.255023]) {
            assert!((x - y).abs() < 1e-6, "{next:?}");
        }
        assert!(loss7(&p, &next, &pi_ref, &pi_t, eta, tau).abs() < 1e-12);
        assert!((loss8(&p, &next, &pi_ref, &pi_t, eta, tau) - 0.9976).abs() < 1e-4);
    }

    #[test]
    fn passes_the_shared_objective_checks() {
        let data = shared::train::checks::examples(2, &[], false);
        shared::train::checks::objective(&Inpo { eta: 0.1, tau: 0.1 / 3.0 }, &data).unwrap();
    }

    #[test]
    fn bad_hyperparameters_are_errors() {
        assert!(Inpo { eta: 0.1, tau: 0.2 }.validate().is_err());
        assert!(Inpo { eta: 0.0, tau: 0.0 }.validate().is_err());
        let e = toml::from_str::<Objective>("type = \"inpo\"\neta = 0.1\ntau = 0.0\nbeta = 1").unwrap_err();
        assert!(e.to_string().contains("beta"), "{e}");
    }
}
