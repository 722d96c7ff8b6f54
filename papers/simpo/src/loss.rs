//! The SimPO objective, exactly as `scripts/simpo_trainer.py::simpo_loss` computes it.
//!
//! Reward (paper Eq. 4): r(x, y) = β · p̄_θ(y|x), with p̄ the mean response-token log-prob.
//! Loss (paper Eq. 6):  ℓ = −log σ(r(x, y_w) − r(x, y_l) − γ), written in the code as
//! ℓ = −log σ(β z), z = p̄_w − p̄_l − γ/β; with label smoothing ε (the cDPO form):
//! ℓ = −(1−ε) log σ(βz) − ε log σ(−βz); the hinge form is max(0, 1 − βz).
//!
//! The "w/o LN" ablation of Table 5 replaces p̄ by the summed log-prob (same β and γ).

use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossType {
    Sigmoid,
    Hinge,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimpoConfig {
    /// β: the reward scale (2–10 in the paper; per-token averages need a larger β than DPO's).
    pub beta: f64,
    /// γ/β: the target margin divided by β (the repo's `gamma_beta_ratio`, since commit 15c4ff8).
    pub gamma_beta_ratio: f64,
    #[serde(default = "default_loss_type")]
    pub loss_type: LossType,
    /// ε of the label-smoothed (cDPO-style) sigmoid loss; ignored by the hinge loss.
    #[serde(default)]
    pub label_smoothing: f64,
    /// false = the "w/o LN" ablation: rewards use summed instead of averaged log-probs.
    #[serde(default = "yes")]
    pub length_normalize: bool,
    /// Weight of an added SFT term (mean token cross-entropy of the chosen responses); 0 in the paper.
    #[serde(default)]
    pub sft_weight: f64,
}

fn default_loss_type() -> LossType {
    LossType::Sigmoid
}
fn yes() -> bool {
    true
}

impl SimpoConfig {
    pub fn new(beta: f64, gamma_beta_ratio: f64) -> Self {
        SimpoConfig {
            beta,
            gamma_beta_ratio,
            loss_type: LossType::Sigmoid,
            label_smoothing: 0.0,
            length_normalize: true,
            sft_weight: 0.0,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.beta > 0.0 && self.beta.is_finite()) {
            return Err(format!("beta must be a positive number, got {}", self.beta));
        }
        if !self.gamma_beta_ratio.is_finite() || self.gamma_beta_ratio < 0.0 {
            return Err(format!("gamma_beta_ratio must be ≥ 0, got {}", self.gamma_beta_ratio));
        }
        if !(0.0..0.5).contains(&self.label_smoothing) {
            return Err(format!("label_smoothing must be in [0, 0.5), got {}", self.label_smoothing));
        }
        Ok(())
    }
}

/// Per-pair outputs of [`simpo_loss`]; every tensor has shape `[B]`.
pub struct SimpoOutput {
    pub loss: Tensor,
    /// β p̄_θ(y_w|x), detached (logged as `rewards/chosen`).
    pub chosen_reward: Tensor,
    /// β p̄_θ(y_l|x), detached.
    pub rejected_reward: Tensor,
}

/// SimPO from *summed* response log-probs and response token counts.
pub fn simpo_loss(
    chosen_sum: &Tensor,
    chosen_len: &Tensor,
    rejected_sum: &Tensor,
    rejected_len: &Tensor,
    cfg: &SimpoConfig,
) -> SimpoOutput {
    let (w, l) = if cfg.length_normalize {
        (chosen_sum / chosen_len, rejected_sum / rejected_len) // p̄ = (1/|y|) log π(y|x)
    } else {
        (chosen_sum.shallow_clone(), rejected_sum.shallow_clone())
    };
    let z = (&w - &l) - cfg.gamma_beta_ratio; // z = p̄_w − p̄_l − γ/β
    let bz = z * cfg.beta;
    let loss = match cfg.loss_type {
        LossType::Sigmoid => {
            -(bz.log_sigmoid() * (1.0 - cfg.label_smoothing)) - (-&bz).log_sigmoid() * cfg.label_smoothing
        }
        LossType::Hinge => (-bz + 1.0).relu(),
    };
    SimpoOutput {
        loss,
        chosen_reward: (w * cfg.beta).detach(),
        rejected_reward: (l * cfg.beta).detach(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(x: f64) -> Tensor {
        Tensor::from_slice(&[x]).set_requires_grad(true)
    }

    fn run(sw: f64, nw: f64, sl: f64, nl: f64, cfg: &SimpoConfig) -> (f64, SimpoOutput) {
        let out = simpo_loss(&t(sw), &t(nw), &t(sl), &t(nl), cfg);
        (out.loss.double_value(&[0]), out)
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-12)
    }

    /// The spec's table of test vectors (simpo.md, "Test vectors"), sigmoid and hinge columns.
    #[test]
    fn spec_test_vectors() {
        let rows = [
            // sum_w, n_w, sum_l, n_l, beta, gamma/beta, eps, loss, hinge
            (-12.0, 10.0, -20.0, 8.0, 2.0, 0.5, 0.0, 0.183901, 0.0),
            (-12.0, 10.0, -20.0, 8.0, 2.5, 0.55, 0.0, 0.142675, 0.0),
            (-30.0, 20.0, -9.0, 6.0, 10.0, 0.3, 0.0, 3.04859, 4.0),
            (-12.0, 10.0, -20.0, 8.0, 2.0, 0.5, 0.1, 0.343901, 0.0),
            (-5.0, 5.0, -5.0, 5.0, 2.0, 0.0, 0.0, 0.693147, 1.0),
        ];
        for (sw, nw, sl, nl, beta, ratio, eps, want, want_hinge) in rows {
            let mut cfg = SimpoConfig::new(beta, ratio);
            cfg.label_smoothing = eps;
            let (got, _) = run(sw, nw, sl, nl, &cfg);
            assert!(close(got, want, 1e-5), "sigmoid {sw},{nw},{sl},{nl},β={beta}: {got} vs {want}");
            cfg.loss_type = LossType::Hinge;
            let (got, _) = run(sw, nw, sl, nl, &cfg);
            assert!((got - want_hinge).abs() < 1e-9, "hinge: {got} vs {want_hinge}");
        }
    }

    #[test]
    fn rewards_and_gradients_of_row_one() {
        let cfg = SimpoConfig::new(2.0, 0.5);
        let pw = t(-1.2);
        let pl = t(-2.5);
        let one = Tensor::from_slice(&[1.0f64]);
        // Feed averages with |y| = 1 so the gradient is ∂loss/∂p̄.
        let out = simpo_loss(&pw, &one, &pl, &one, &cfg);
        assert!(close(out.chosen_reward.double_value(&[0]), -2.4, 1e-12));
        assert!(close(out.rejected_reward.double_value(&[0]), -5.0, 1e-12));
        out.loss.sum(tch::Kind::Double).backward();
        let gw = pw.grad().double_value(&[0]);
        let gl = pl.grad().double_value(&[0]);
        assert!(close(gw, -0.335963, 1e-5), "{gw}");
        assert!(close(gl, 0.335963, 1e-5), "{gl}");
    }

    #[test]
    fn row_three_gradient() {
        let cfg = SimpoConfig::new(10.0, 0.3);
        let pw = t(-1.5);
        let one = Tensor::from_slice(&[1.0f64]);
        let out = simpo_loss(&pw, &one, &t(-1.5), &one, &cfg);
        out.loss.sum(tch::Kind::Double).backward();
        assert!(close(pw.grad().double_value(&[0]), -9.52574, 1e-5));
    }

    #[test]
    fn without_length_normalisation_the_summed_margin_dominates() {
        // Same pair as row 1, summed log-probs, β = 2, γ = 1 (γ/β = 0.5): loss = 3.05902e-07.
        let mut cfg = SimpoConfig::new(2.0, 0.5);
        cfg.length_normalize = false;
        let (got, _) = run(-12.0, 10.0, -20.0, 8.0, &cfg);
        assert!(close(got, 3.05902e-07, 1e-4), "{got}");
    }

    #[test]
    fn config_rejects_nonsense() {
        assert!(SimpoConfig::new(0.0, 0.5).validate().is_err());
        assert!(SimpoConfig::new(2.0, -1.0).validate().is_err());
        let bad: Result<SimpoConfig, _> = toml::from_str("beta = 2.0\ngamma = 1.0\n");
        let err = bad.unwrap_err().to_string();
        assert!(err.contains("unknown field `gamma`"), "{err}");
    }
}
