//! TGDPO's loss (paper Sec. 4, Theorems 4.1–4.4; the authors' `dpo_loss`, branch `sigmoid`).
//!
//! With the token log-ratio `h_t(y) = log π_θ(y_t|s_t) − log π_ref(y_t|s_t)` and the token reward
//! of a frozen, already trained DPO model `r̂_t = β (log π_dpo(y_t|s_t) − log π_ref(y_t|s_t))`:
//!
//! ```text
//! f_w,t = 1 + α r̂_t^w          f_l,t = 1 − α r̂_t^l          (f ≡ 1 is DPO)
//! z_w   = Σ_t β f_w,t h_t(y_w)   z_l   = Σ_t β f_l,t h_t(y_l)
//! L     = −log σ(z_w − z_l)
//! ```
//!
//! As in the authors' code: the same β scales the token reward and the log-ratios (so
//! `f = 1 ± α β Δ_t` with `Δ_t = log π_dpo − log π_ref`, the unscaled log-ratio each example
//! carries as its token weights), no length normalisation, no clamp on `f`, and `f` is a constant
//! (no gradient reaches π_dpo or π_ref). The fraction of tokens with `f ≤ 0` (whose push is
//! flipped) is logged.

use serde::{Deserialize, Serialize};
use shared::train::{Loss, Needs, Objective, Scored};
use shared::{Error, Result};
use tch::{Kind, Tensor};

/// TGDPO's hyperparameters (`pref_beta`, `tgdpo_alpha` in the authors' code).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TgdpoConfig {
    /// β: the KL strength of DPO, also the scale of the token reward.
    pub beta: f64,
    /// α: how strongly the token reward modulates each token's weight (0 = DPO).
    pub alpha: f64,
}

impl TgdpoConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.beta > 0.0 && self.beta.is_finite()) {
            return Err(Error::invalid("objective tgdpo: `beta`", format!("must be a positive number, got {}", self.beta)));
        }
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return Err(Error::invalid("objective tgdpo: `alpha`", format!("must be ≥ 0, got {}", self.alpha)));
        }
        Ok(())
    }
}

/// The TGDPO objective for the engine's policy step: token level, the `"reference"` role, and the
/// unscaled token rewards `Δ_t` as each example's token weights ([`crate::rewards::attach`]).
#[derive(Clone, Debug)]
pub struct Tgdpo(pub TgdpoConfig);

/// The metrics TGDPO reports per pair: `z_w`, `z_l`, their margin, whether it is positive, and the
/// fraction of the pair's tokens whose weight `f` is ≤ 0.
pub const METRICS: [&str; 5] = ["chosen_reward", "rejected_reward", "margin", "accuracy", "f_nonpositive"];

impl Objective for Tgdpo {
    fn label(&self) -> String {
        format!("tgdpo(α={})", self.0.alpha)
    }

    fn needs(&self) -> Needs {
        Needs { responses: 2, references: vec!["reference".into()], token_level: true, ..Default::default() }
    }

    fn metric_names(&self) -> Vec<String> {
        METRICS.iter().map(|s| s.to_string()).collect()
    }

    fn compute(&self, x: &Scored) -> Result<Loss> {
        let who = "tgdpo";
        let (lp, mask) = match (&x.token_logps, &x.token_mask) {
            (Some(l), Some(m)) => (l, m),
            _ => return Err(Error::invalid(format!("objective {who}"), "needs per-token log-probs (token_level)")),
        };
        let reference = x.reference("reference", who)?.tokens.as_ref().ok_or_else(|| Error::invalid(format!("objective {who}"), "needs the reference's per-token log-probs"))?;
        let delta = x.token_weights.as_ref().ok_or_else(|| {
            Error::invalid(format!("objective {who}"), "reads the token rewards Δ_t = log π_dpo − log π_ref as the examples' token weights: attach them with tgdpo::rewards::attach")
        })?;
        let (beta, alpha) = (self.0.beta, self.0.alpha);
        // +1 for the chosen response, −1 for the rejected one: f_w = 1 + αβΔ, f_l = 1 − αβΔ.
        let sign = Tensor::from_slice(&[1f32, -1.0]).view([1, 2, 1]).to_device(lp.device()).to_kind(lp.kind());
        let f = (delta.detach().to_kind(lp.kind()) * &sign * (alpha * beta) + 1.0) * mask;
        let h = (lp - reference.to_kind(lp.kind())) * mask;
        let z = (&f * h * beta).sum_dim_intlist(2, false, lp.kind()); // [B, 2]: z_w, z_l
        let (zw, zl) = (z.select(1, 0), z.select(1, 1));
        let margin = &zw - &zl;
        let loss = -margin.log_sigmoid(); // L_TGDPO
        let tokens = mask.sum_dim_intlist(&[1i64, 2][..], false, Kind::Float).clamp_min(1.0);
        let nonpos = (f.le(0.0).to_kind(Kind::Float) * mask.to_kind(Kind::Float)).sum_dim_intlist(&[1i64, 2][..], false, Kind::Float) / tokens;
        let accuracy = margin.gt(0.0).to_kind(Kind::Float);
        Ok(Loss { per_example: loss, metrics: vec![zw.detach(), zl.detach(), margin.detach(), accuracy, nonpos] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's pair: chosen 3 tokens, rejected 2 (padded to 3).
    fn vector(requires_grad: bool) -> (Tensor, Scored) {
        let pad = |v: &[f32]| [v[0], v[1], *v.get(2).unwrap_or(&0.0)];
        let t = |c: &[f32], r: &[f32]| Tensor::from_slice(&[pad(c), pad(r)].concat()).view([1, 2, 3]);
        let theta = t(&[-1.0, -2.0, -0.5], &[-2.0, -1.0]).set_requires_grad(requires_grad);
        let reference = t(&[-1.5, -2.0, -1.0], &[-1.8, -1.2]);
        let dpo = t(&[-0.5, -3.0, -0.2], &[-3.0, -0.8]);
        let mask = t(&[1.0, 1.0, 1.0], &[1.0, 1.0]);
        let delta = (&dpo - &reference) * &mask;
        let seq = (&theta * &mask).sum_dim_intlist(2, false, Kind::Float);
        let x = Scored::new(seq, Tensor::from_slice(&[3f32, 2.0]).view([1, 2]))
            .with_ref("reference", (&reference * &mask).sum_dim_intlist(2, false, Kind::Float), Some(reference))
            .with_tokens(theta.shallow_clone(), mask, Some(delta));
        (theta, x)
    }

    fn loss(beta: f64, alpha: f64) -> f64 {
        let (_, x) = vector(false);
        Tgdpo(TgdpoConfig { beta, alpha }).compute(&x).unwrap().per_example.double_value(&[0])
    }

    #[test]
    fn spec_test_vectors_1_to_4() {
        assert!((loss(0.1, 0.5) - 0.641504).abs() < 1e-6, "{}", loss(0.1, 0.5));
        assert!((loss(0.01, 0.5) - 0.688129).abs() < 1e-6, "{}", loss(0.01, 0.5));
        assert!((loss(0.1, 2.0) - 0.632880).abs() < 1e-6, "{}", loss(0.1, 2.0));
        // α = 0 is DPO with β = 0.1: margin 0.1, loss 0.644397.
        assert!((loss(0.1, 0.0) - 0.644397).abs() < 1e-6);
        let (_, x) = vector(false);
        let out = Tgdpo(TgdpoConfig { beta: 0.1, alpha: 0.5 }).compute(&x).unwrap();
        assert!((out.metrics[0].double_value(&[0]) - 0.1045).abs() < 1e-6 && (out.metrics[1].double_value(&[0]) + 0.0016).abs() < 1e-6);
        assert_eq!(out.metrics[4].double_value(&[0]), 0.0);
        // An uninformative reward model (π_dpo = π_ref) is DPO too.
        let (_, mut x) = vector(false);
        x.token_weights = Some(Tensor::zeros([1, 2, 3], (Kind::Float, tch::Device::Cpu)));
        let l = Tgdpo(TgdpoConfig { beta: 0.1, alpha: 0.5 }).compute(&x).unwrap().per_example.double_value(&[0]);
        assert!((l - 0.644397).abs() < 1e-6);
    }

    #[test]
    fn spec_test_vector_5_gradients() {
        let (theta, x) = vector(true);
        Tgdpo(TgdpoConfig { beta: 0.1, alpha: 0.5 }).compute(&x).unwrap().per_example.sum(Kind::Float).backward();
        let g = Vec::<f32>::try_from(theta.grad().view([-1])).unwrap();
        let want = [-0.0497175, -0.0449825, -0.0492440, 0.0501910, 0.0464030, 0.0];
        for (a, b) in g.iter().zip(want) {
            assert!((*a as f64 - b).abs() < 1e-6, "{g:?}");
        }
    }

    #[test]
    fn negative_weights_are_counted_not_clamped() {
        let (_, x) = vector(false);
        // αβ = 2: f_w = 1 + 2Δ = [3, −1, 2.6], f_l = 1 − 2Δ = [3.4, 0.2]: one token of five.
        let out = Tgdpo(TgdpoConfig { beta: 0.1, alpha: 20.0 }).compute(&x).unwrap();
        assert!((out.metrics[4].double_value(&[0]) - 0.2).abs() < 1e-6);
    }

    #[test]
    fn missing_token_rewards_are_named() {
        let (_, mut x) = vector(false);
        x.token_weights = None;
        let err = Tgdpo(TgdpoConfig { beta: 0.1, alpha: 0.5 }).compute(&x).unwrap_err().to_string();
        assert!(err.contains("rewards::attach"), "{err}");
        assert!(TgdpoConfig { beta: 0.0, alpha: 0.5 }.validate().is_err());
        assert!(TgdpoConfig { beta: 0.1, alpha: -1.0 }.validate().is_err());
    }

    #[test]
    fn passes_the_engines_objective_checks() {
        // Token weights in (0.5, 1.5) stand for Δ_t; α = 2 so they matter.
        let data = shared::train::checks::examples(2, &[], true);
        shared::train::checks::objective(&Tgdpo(TgdpoConfig { beta: 0.1, alpha: 2.0 }), &data).unwrap();
    }
}
