//! AdamW (or RMSprop, [`Algorithm`]) over a `VarStore`'s trainable variables, global-norm
//! gradient clipping and gradient accumulation.
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
//! The sum is kept in fp32 for low-precision variables: the training loop calls
//! [`AdamW::accumulate`] after each micro-batch's backward pass, which adds the bf16 `.grad` into an
//! fp32 buffer and zeroes it, so 64 micro-batches (the paper's 2 × 16 × 4) are not summed in bf16's
//! 8-bit mantissa. [`AdamW::step`] moves whatever is left in `.grad` the same way first, so a loop
//! that never calls `accumulate` still steps correctly (its sum was then taken in bf16 by autograd).
//!
//! Gradient norm: one reduction on the gradients' device (a norm per tensor, then the norm of
//! those), read back once; nothing is copied to the host.
//!
//! Weight decay skips biases and normalisation weights, decided by name as Hugging Face's
//! `Trainer.get_decay_parameter_names` decides it (`bias`, `layernorm`, `rmsnorm`, a path component
//! `norm` or ending in `_norm`; case-insensitive); `decay_norms_and_biases = true` decays everything.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Kind, Tensor};

/// The update rule. `rmsprop` is PyTorch's `torch.optim.RMSprop` without momentum, uncentred
/// (SPPO's trainer): `v ← α v + (1 − α) g²`, `w ← w − lr · g / (√v + eps)`, with weight decay as
/// an L2 term added to the gradient (`g ← g + wd · w`), as torch does; `beta1` and `beta2` are
/// unused and `alpha` is the smoothing constant. Its one state tensor is checkpointed as `v`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    #[default]
    Adamw,
    Rmsprop,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamWConfig {
    /// `adamw` (default) or `rmsprop`.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// RMSprop's smoothing constant (torch default 0.99).
    #[serde(default = "alpha")]
    pub alpha: f64,
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
    /// Apply weight decay to biases and norm weights too (Hugging Face's Trainer does not; default false).
    #[serde(default)]
    pub decay_norms_and_biases: bool,
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
fn alpha() -> f64 {
    0.99
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { algorithm: Algorithm::Adamw, alpha: alpha(), beta1: b1(), beta2: b2(), eps: eps(), weight_decay: 0.0, max_grad_norm: clip(), decay_norms_and_biases: false }
    }
}

/// Whether Hugging Face's Trainer would exempt a parameter from weight decay: its lower-cased name
/// contains `bias`, `layernorm` or `rmsnorm`, or has a dotted component `norm` or one ending in
/// `_norm` (the patterns of `Trainer.get_decay_parameter_names`, transformers 5.x).
pub fn hf_skips_weight_decay(name: &str) -> bool {
    let n = name.to_lowercase();
    n.contains("bias") || n.contains("layernorm") || n.contains("rmsnorm") || n.split('.').any(|c| c == "norm" || c.ends_with("_norm"))
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
    /// fp32 gradient sums of the low-precision variables (allocated by the first [`AdamW::accumulate`]).
    acc: Vec<Option<Tensor>>,
    /// Whether weight decay applies to each variable.
    decay: Vec<bool>,
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
        let master: Vec<Option<Tensor>> = params.iter().map(|(_, p)| needs_master(p).then(|| p.detach().to_kind(Kind::Float))).collect();
        let acc = params.iter().map(|_| None).collect();
        let decay = params.iter().map(|(n, _)| cfg.decay_norms_and_biases || !hf_skips_weight_decay(n)).collect();
        AdamW { cfg, params, m, v, master, acc, decay, step: 0 }
    }

    /// Names of the variables weight decay applies to.
    pub fn decayed(&self) -> Vec<&str> {
        self.params.iter().zip(&self.decay).filter(|(_, d)| **d).map(|((n, _), _)| n.as_str()).collect()
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
        for a in self.acc.iter_mut().flatten() {
            let _ = a.zero_();
        }
    }

    /// Called by the training loop after each micro-batch's backward pass: the `.grad` of every
    /// low-precision (bf16/f16) variable is added to its fp32 sum and zeroed. f32 variables keep
    /// accumulating in their own `.grad` (nothing to do).
    pub fn accumulate(&mut self) {
        tch::no_grad(|| {
            for ((_, p), acc) in self.params.iter().zip(&mut self.acc) {
                if !needs_master(p) {
                    continue;
                }
                let mut g = p.grad();
                if !g.defined() {
                    continue;
                }
                match acc {
                    Some(a) => {
                        let _ = a.g_add_(&g);
                    }
                    None => *acc = Some(g.to_kind(Kind::Float)),
                }
                let _ = g.zero_();
            }
        });
    }

    /// The gradient of every variable as the step uses it: the fp32 sum for low-precision variables
    /// (after moving what is left in `.grad`), else `.grad`; `None` where no gradient reached it.
    fn gradients(&mut self) -> Vec<Option<Tensor>> {
        self.accumulate();
        self.params
            .iter()
            .zip(&self.acc)
            .map(|((_, p), acc)| match acc {
                Some(a) => Some(a.shallow_clone()),
                None => Some(p.grad()).filter(|g| g.defined() && !needs_master(p)),
            })
            .collect()
    }

    /// The global L2 norm of all gradients; clip them to `max_norm` when larger.
    /// A non-finite norm is an error (a NaN/inf loss or gradient), never a silent NaN step.
    pub fn clip_grad_norm(&mut self, max_norm: Option<f64>) -> Result<f64> {
        let grads = self.gradients();
        clip_global_norm(&grads, max_norm, self.step)
    }

    /// One AdamW update with learning rate `lr`; returns the (pre-clipping) gradient norm.
    pub fn step(&mut self, lr: f64) -> Result<f64> {
        let grads = self.gradients();
        let norm = clip_global_norm(&grads, self.cfg.max_grad_norm, self.step)?;
        self.step += 1;
        let c = &self.cfg;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        tch::no_grad(|| {
            for (i, (((_, p), m), v)) in self.params.iter_mut().zip(&mut self.m).zip(&mut self.v).enumerate() {
                let Some(g) = &grads[i] else { continue };
                let g = g.to_kind(Kind::Float);
                let master = &self.master[i];
                // The weights being updated: the fp32 master when there is one, else the variable.
                let mut w = match master {
                    Some(mw) => mw.shallow_clone(),
                    None => p.shallow_clone(),
                };
                if c.algorithm == Algorithm::Rmsprop {
                    // torch.optim.RMSprop: L2 decay into the gradient, then v and the step.
                    let g = if c.weight_decay != 0.0 && self.decay[i] { &g + w.to_kind(Kind::Float) * c.weight_decay } else { g };
                    let _ = v.g_mul_scalar_(c.alpha).g_add_(&(g.square() * (1.0 - c.alpha)));
                    let update = (&g / (v.sqrt() + c.eps)) * lr;
                    let _ = w.g_sub_(&update.to_kind(w.kind()));
                    if master.is_some() {
                        p.copy_(&w);
                    }
                    continue;
                }
                if c.weight_decay != 0.0 && self.decay[i] {
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

/// The global L2 norm of `grads` (one reduction on their device: a norm per tensor in f64, then
/// the norm of those, read back once); scales them in place to `max_norm` when larger.
fn clip_global_norm(grads: &[Option<Tensor>], max_norm: Option<f64>, step: u64) -> Result<f64> {
    let grads: Vec<&Tensor> = grads.iter().flatten().collect();
    if grads.is_empty() {
        return Ok(0.0);
    }
    let norms: Vec<Tensor> = grads.iter().map(|g| g.norm_scalaropt_dtype(2, Kind::Double)).collect();
    let norm = Tensor::stack(&norms, 0).norm().double_value(&[]);
    if !norm.is_finite() {
        return Err(Error::invalid(
            "optimiser",
            format!("gradient norm is {norm} at step {step}: the loss or a gradient is NaN/inf (lower the lr, check the inputs)"),
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

    /// RMSprop against torch.optim.RMSprop's update written out by hand (alpha 0.99, eps 1e-8,
    /// L2 weight decay), over three steps with different gradients; its state survives a
    /// checkpoint round trip.
    #[test]
    fn rmsprop_is_torchs_update() {
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = vs.root().var_copy("p", &Tensor::from_slice(&[1.0f64, -2.0]));
        let p = vs.variables()["p"].shallow_clone();
        let cfg = AdamWConfig { algorithm: Algorithm::Rmsprop, weight_decay: 0.1, max_grad_norm: None, ..Default::default() };
        let mut opt = AdamW::new(&vs, cfg);
        let (mut w, mut v) = ([1.0f64, -2.0], [0.0f64, 0.0]);
        let lr = 0.01;
        for (step, c) in [[3.0, -1.0], [0.5, 2.0], [-4.0, 0.25]].iter().enumerate() {
            opt.zero_grad();
            (&p * Tensor::from_slice(c)).sum(Kind::Double).backward();
            opt.step(lr).unwrap();
            for j in 0..2 {
                let g = c[j] + 0.1 * w[j];
                v[j] = 0.99 * v[j] + 0.01 * g * g;
                w[j] -= lr * g / (v[j].sqrt() + 1e-8);
            }
            for (j, want) in w.iter().enumerate() {
                assert!((p.double_value(&[j as i64]) - want).abs() < 1e-6, "step {step}, weight {j}: {} vs {want}", p.double_value(&[j as i64]));
            }
        }
        let saved = opt.state_tensors();
        let mut again = AdamW::new(&vs, cfg_rms());
        again.load_state_tensors(saved, opt.step, "test").unwrap();
        let vv = again.state_tensors().into_iter().find(|(n, _)| n == "v.p").unwrap().1;
        assert!((vv.double_value(&[0]) - v[0]).abs() < 1e-5);
        let parsed: AdamWConfig = toml::from_str("algorithm = \"rmsprop\"\nalpha = 0.9").unwrap();
        assert_eq!((parsed.algorithm, parsed.alpha), (Algorithm::Rmsprop, 0.9));
        assert!(toml::from_str::<AdamWConfig>("algorithm = \"sgd\"").is_err());
    }

    fn cfg_rms() -> AdamWConfig {
        AdamWConfig { algorithm: Algorithm::Rmsprop, ..Default::default() }
    }

    /// The gradient the optimiser would step with, flattened, in f64.
    fn effective_grad(opt: &mut AdamW) -> Tensor {
        let g: Vec<Tensor> = opt.gradients().into_iter().flatten().map(|g| g.to_kind(Kind::Double).flatten(0, -1)).collect();
        Tensor::cat(&g, 0)
    }

    fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).norm().double_value(&[]) / b.norm().double_value(&[])
    }

    #[test]
    fn bf16_sums_of_64_micro_batches_are_kept_in_fp32() {
        // 64 micro-batches (the paper's 2 × 16 accumulation × 4 GPUs), each adding c_i / 64 to the
        // gradient of a bf16 variable. The fp32 large-batch gradient is Σ c_i / 64. Summed in fp32 the
        // only error is each micro-gradient's own bf16 rounding; summed in bf16 (autograd adding into
        // `.grad`) every addition rounds the running sum to 8 bits as well.
        let n = 64;
        let c: Vec<Tensor> = (0..n).map(|i| Tensor::from_slice(&(0..256).map(|j| 0.5 + ((i * 37 + j * 11) % 97) as f32 / 97.0).collect::<Vec<f32>>())).collect();
        let want = Tensor::stack(&c, 0).to_kind(Kind::Double).sum_dim_intlist(0, false, Kind::Double) / n as f64;
        let run = |call_accumulate: bool| {
            let mut vs = nn::VarStore::new(Device::Cpu);
            let _ = vs.root().var("p", &[256], nn::Init::Const(0.0));
            vs.bfloat16();
            let p = vs.variables()["p"].shallow_clone();
            let mut opt = AdamW::new(&vs, AdamWConfig::default());
            opt.zero_grad();
            for ci in &c {
                micro_batch_loss(&(p.to_kind(Kind::Float) * ci), n).backward();
                if call_accumulate {
                    opt.accumulate();
                }
            }
            rel_err(&effective_grad(&mut opt), &want)
        };
        let (fp32_sum, bf16_sum) = (run(true), run(false));
        eprintln!("relative error against the fp32 large batch: fp32 sums {fp32_sum:.2e}, bf16 sums {bf16_sum:.2e}");
        // bf16 keeps 8 significant bits: one rounding is a relative error of at most 2^-9.
        assert!(fp32_sum < 2f64.powi(-9), "fp32 accumulation: relative error {fp32_sum}");
        assert!(bf16_sum > 4.0 * fp32_sum, "bf16 running sums should be visibly worse: {bf16_sum} vs {fp32_sum}");
    }

    #[test]
    fn bf16_accumulation_over_micro_batches_matches_the_fp32_large_batch() {
        // A tiny Llama: the large-batch gradient in f32, and the same weights in bf16 back-propagated
        // over 16 micro-batches of one sequence with `accumulate` after each.
        use crate::model::{score::sequence_logps, TokenBatch};
        let cfg = crate::model::tiny::config("llama", 40, 32, 64, 2, 4);
        let (vs32, m32) = crate::model::tiny::model(&cfg, 5);
        let seqs: Vec<(Vec<i64>, Vec<i64>)> = (0..16i64).map(|i| (vec![1, 2 + i % 5, 3], (0..(3 + i % 4)).map(|k| 5 + (i * 7 + k * 3) % 30).collect())).collect();
        let loss_of = |m: &crate::model::Llama, s: &[(Vec<i64>, Vec<i64>)]| micro_batch_loss(&sequence_logps(m, &TokenBatch::from_pairs(s, 0, Device::Cpu)).unwrap().sum.neg(), seqs.len());
        let mut opt32 = AdamW::new(&vs32, AdamWConfig::default());
        opt32.zero_grad();
        loss_of(&m32, &seqs).backward();
        let want = effective_grad(&mut opt32);

        let (mut vs16, m16) = crate::model::tiny::model(&cfg, 5);
        vs16.bfloat16();
        let mut opt16 = AdamW::new(&vs16, AdamWConfig::default());
        opt16.zero_grad();
        for s in seqs.chunks(1) {
            loss_of(&m16, s).backward();
            opt16.accumulate();
        }
        let got = effective_grad(&mut opt16);
        // The bf16 forward and backward themselves carry ~2^-8 relative noise per operation; the
        // accumulated gradient must stay within that tolerance of the f32 large batch.
        let err = rel_err(&got, &want);
        eprintln!("accumulated bf16 gradient vs f32 large batch: relative error {err:.2e}");
        assert!(err < 2e-2, "relative error of the accumulated bf16 gradient: {err}");
        // The step reads the fp32 sums, and the variables stay bf16.
        opt16.step(1e-3).unwrap();
        assert!(opt16.params.iter().all(|(_, p)| p.kind() == Kind::BFloat16));
    }

    #[test]
    fn weight_decay_skips_biases_and_norms_by_name_as_hf_does() {
        for name in ["model.norm.weight", "model.layers.0.input_layernorm.weight", "model.layers.3.post_feedforward_layernorm.weight", "model.layers.0.self_attn.q_proj.bias", "encoder.final_norm.weight", "x.RMSNorm.weight"] {
            assert!(hf_skips_weight_decay(name), "{name}");
        }
        for name in ["model.embed_tokens.weight", "lm_head.weight", "model.layers.0.mlp.gate_proj.weight", "model.normal.weight", "score.weight"] {
            assert!(!hf_skips_weight_decay(name), "{name}");
        }
        // A zero gradient with weight decay 0.5: only the decayed variable shrinks.
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().sub("lin").var("weight", &[1], nn::Init::Const(1.0));
        let n = vs.root().sub("norm").var("weight", &[1], nn::Init::Const(1.0));
        let mut opt = AdamW::new(&vs, AdamWConfig { weight_decay: 0.5, max_grad_norm: None, ..Default::default() });
        assert_eq!(opt.decayed(), vec!["lin.weight"]);
        opt.zero_grad();
        ((&w + &n) * 0.0).sum(Kind::Float).backward();
        opt.step(0.1).unwrap();
        assert!((w.double_value(&[0]) - 0.95).abs() < 1e-6 && (n.double_value(&[0]) - 1.0).abs() < 1e-9);
        let all = AdamW::new(&vs, AdamWConfig { weight_decay: 0.5, decay_norms_and_biases: true, ..Default::default() });
        assert_eq!(all.decayed().len(), 2);
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
