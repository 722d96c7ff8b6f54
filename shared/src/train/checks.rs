//! The checks every objective must pass, as functions any crate's tests can call (TRL runs each of
//! its loss types through training the same way): a paper's objective joins them with one line,
//!
//! ```ignore
//! shared::train::checks::objective(&MyObjective { .. }, &shared::train::checks::examples(2, &["target_w"], false)).unwrap();
//! ```
//!
//! - **accumulation invariance**: a batch of 4 computed as 2 micro-batches of 2 (and as 4 of 1)
//!   gives the same update as one batch of 4, to 1e-5, over two optimiser steps;
//! - **gradients**: the autograd gradient through a tiny model agrees with a central difference
//!   of the loss along the gradient's direction;
//! - the loss is finite and the weights move.
//!
//! The policy is a tiny Llama with seeded weights; every reference role the objective names is
//! another tiny model (so log-ratios are not zero).

use super::config::TrainConfig;
use super::engine;
use super::example::Example;
use super::objective::Objective;
use super::optim::AdamWConfig;
use super::policy::{self, PolicyStep, Refs};
use super::reference::Frozen;
use super::schedule::Schedule;
use crate::error::{Error, Result};
use crate::model::{tiny, Llama};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use tch::{nn::VarStore, Kind, Tensor};

const VOCAB: usize = 40;

fn model(seed: u64) -> (VarStore, Llama) {
    tiny::model(&tiny::config("llama", VOCAB, 16, 32, 1, 2), seed)
}

/// Eight examples of `k` responses of unequal lengths, with the named side values drawn in
/// (0, 1) and, when asked, per-token weights in (0.5, 1.5).
pub fn examples(k: usize, side: &[&str], token_weights: bool) -> Vec<Example> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    (0..8)
        .map(|i| {
            let responses: Vec<Vec<i64>> = (0..k).map(|j| (0..2 + (i + j) % 4).map(|_| rng.gen_range(3..VOCAB as i64)).collect()).collect();
            let mut e = Example::new((0..1 + i % 3).map(|_| rng.gen_range(1..VOCAB as i64)).collect(), responses);
            for name in side {
                e.side.insert(name.to_string(), rng.gen_range(0.05..0.95));
            }
            if token_weights {
                e.token_weights = Some(e.responses.iter().map(|r| r.iter().map(|_| rng.gen_range(0.5f32..1.5)).collect()).collect());
            }
            e
        })
        .collect()
}

fn max_diff(a: &VarStore, b: &VarStore) -> f64 {
    let (va, vb) = (a.variables(), b.variables());
    va.iter().map(|(k, t)| (t - &vb[k]).abs().max().double_value(&[])).fold(0.0, f64::max)
}

/// Frozen reference models for every role the objective names (seeds 100, 101, ...).
fn reference_models(roles: &[String]) -> Vec<(String, VarStore, Llama)> {
    roles.iter().enumerate().map(|(i, r)| {
        let (vs, m) = model(100 + i as u64);
        (r.clone(), vs, m)
    }).collect()
}

/// Train two steps of a batch of 4 with micro-batches of `micro`; the final weights.
fn two_steps<O: Objective + ?Sized>(objective: &O, data: &[Example], micro: usize, refs: &[(String, VarStore, Llama)], dir: &std::path::Path) -> Result<VarStore> {
    let (mut vs, m) = model(0);
    let mut cfg = TrainConfig::new(4, micro, Schedule::cosine(5e-3, 0.0));
    cfg.max_steps = Some(2);
    cfg.optim = AdamWConfig { max_grad_norm: Some(0.5), ..Default::default() };
    let models: BTreeMap<String, Frozen> = refs.iter().map(|(r, vs, m)| (r.clone(), Frozen { model: m, vs })).collect();
    let cache = dir.join("refs");
    policy::train(&m, &mut vs, objective, data, &Refs { models, tokenizer_id: "checks", cache_dir: &cache }, &cfg, 0, &dir.join(format!("run-{micro}")))?;
    Ok(vs)
}

/// Accumulation invariance: micro-batches of 2 and of 1 give the update of one batch of 4.
pub fn accumulation<O: Objective + ?Sized>(objective: &O, data: &[Example]) -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
    let refs = reference_models(&objective.needs().references);
    let big = two_steps(objective, data, 4, &refs, dir.path())?;
    let moved = max_diff(&big, &model(0).0);
    if moved < 1e-5 {
        return Err(Error::invalid(format!("objective {}", objective.label()), format!("two steps moved the weights by only {moved}")));
    }
    for micro in [2, 1] {
        let d = max_diff(&big, &two_steps(objective, data, micro, &refs, dir.path())?);
        if d >= 1e-5 {
            return Err(Error::invalid(format!("objective {}", objective.label()), format!("micro-batches of {micro} change the update by {d} (> 1e-5): the loss must be normalised over the whole batch")));
        }
    }
    Ok(())
}

/// The autograd gradient of the batch loss against a central difference along its direction,
/// `(L(θ+hu) − L(θ−hu))/2h ≈ |g|` with `u = g/|g|` (the model scores in f32, so a directional
/// difference is the precise check; per-weight differences drown in rounding).
pub fn gradients<O: Objective + ?Sized>(objective: &O, data: &[Example]) -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
    let who = || format!("objective {}", objective.label());
    let refs = reference_models(&objective.needs().references);
    let models: BTreeMap<String, Frozen> = refs.iter().map(|(r, vs, m)| (r.clone(), Frozen { model: m, vs })).collect();
    let (vs, m) = model(0);
    let cfg = TrainConfig::new(data.len(), data.len(), Schedule::cosine(1e-3, 0.0));
    let prepared = policy::prepare(data, objective, &cfg)?;
    let cache = dir.path().join("refs");
    let references = Refs { models, tokenizer_id: "checks", cache_dir: &cache }.logps(objective, &prepared, data.len(), 0)?;
    let mut step = PolicyStep::new(&m, objective, prepared, references, 0)?;
    let idx: Vec<usize> = (0..data.len()).collect();
    let totals = engine::Step::batch_totals(&step, &idx, idx.len());
    let vars: Vec<Tensor> = vs.variables().into_values().collect();
    for v in &vars {
        if v.grad().defined() {
            let _ = v.grad().zero_();
        }
    }
    let out = engine::Step::micro_batch(&mut step, &idx, &totals)?;
    let loss0 = out.loss.double_value(&[]);
    if !loss0.is_finite() {
        return Err(Error::invalid(who(), format!("loss is {loss0}")));
    }
    out.loss.backward();
    let grads: Vec<Tensor> = vars.iter().map(|v| v.grad().copy()).collect();
    let norm = grads.iter().map(|g| g.to_kind(Kind::Double).square().sum(Kind::Double).double_value(&[])).sum::<f64>().sqrt();
    if norm < 1e-5 {
        return Err(Error::invalid(who(), format!("gradient norm {norm}: the loss does not depend on the policy")));
    }
    let h = 1e-2;
    let mut at = |d: f64| -> Result<f64> {
        tch::no_grad(|| {
            for (v, g) in vars.iter().zip(&grads) {
                let _ = v.shallow_clone().g_add_(&(g * (d / norm)));
            }
        });
        tch::no_grad(|| Ok(engine::Step::micro_batch(&mut step, &idx, &totals)?.loss.double_value(&[])))
    };
    let up = at(h)?;
    let down = at(-2.0 * h)?;
    at(h)?;
    let fd = (up - down) / (2.0 * h);
    if (fd - norm).abs() > 2e-2 * norm {
        return Err(Error::invalid(who(), format!("|autograd gradient| {norm} vs directional difference {fd}")));
    }
    Ok(())
}

/// Every check above.
pub fn objective<O: Objective + ?Sized>(objective: &O, data: &[Example]) -> Result<()> {
    accumulation(objective, data)?;
    gradients(objective, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_objective_passes_every_check() {
        for obj in crate::objectives::builtin() {
            let data = examples(2, &[], false);
            objective(obj.as_ref(), &data).unwrap_or_else(|e| panic!("{}: {e}", obj.name()));
        }
    }

    #[test]
    fn a_loss_that_averages_per_micro_batch_fails_the_accumulation_check() {
        use crate::train::objective::{Loss, Needs, Scored};
        /// A deliberately wrong NLL term: mean over the micro-batch's tokens (the old behaviour).
        struct MicroTokenMean;
        impl Objective for MicroTokenMean {
            fn label(&self) -> String {
                "micro-token-mean".into()
            }
            fn needs(&self) -> Needs {
                Needs { responses: 1, ..Default::default() }
            }
            fn metric_names(&self) -> Vec<String> {
                vec![]
            }
            fn compute(&self, x: &Scored) -> Result<Loss> {
                let (s, l) = (Scored::col(&x.logps, 0), Scored::col(&x.lens, 0));
                let b = s.size()[0] as f64;
                Ok(Loss { per_example: -(&s * b) / l.sum(Kind::Float) * x.batch.examples as f64 / b, metrics: vec![] })
            }
        }
        let err = accumulation(&MicroTokenMean, &examples(1, &[], false)).unwrap_err().to_string();
        assert!(err.contains("micro-batches of"), "{err}");
    }
}
