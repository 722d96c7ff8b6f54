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

/// Accumulation invariance: micro-batches of 2 and of 1 give the update of one batch of 4. An
/// objective with its own estimates ([`Objective::state`]) starts every run from the same state
/// and must also end every run in the same state.
pub fn accumulation<O: Objective + ?Sized>(objective: &O, data: &[Example]) -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::Other(e.to_string()))?;
    let refs = reference_models(&objective.needs().references);
    let initial = objective.state();
    let big = two_steps(objective, data, 4, &refs, dir.path())?;
    let after_big = objective.state();
    let moved = max_diff(&big, &model(0).0);
    if moved < 1e-5 {
        return Err(Error::invalid(format!("objective {}", objective.label()), format!("two steps moved the weights by only {moved}")));
    }
    for micro in [2, 1] {
        objective.restore(&initial)?;
        let d = max_diff(&big, &two_steps(objective, data, micro, &refs, dir.path())?);
        if d >= 1e-5 {
            return Err(Error::invalid(format!("objective {}", objective.label()), format!("micro-batches of {micro} change the update by {d} (> 1e-5): the loss must be normalised over the whole batch")));
        }
        let state = objective.state();
        if !json_close(&state, &after_big, 1e-6) {
            return Err(Error::invalid(format!("objective {}", objective.label()), format!("micro-batches of {micro} end in the state {state}, one batch in {after_big}: estimates must be updated once per optimiser batch")));
        }
    }
    objective.restore(&initial)
}

/// Two JSON values equal up to `tol` in every number.
fn json_close(a: &serde_json::Value, b: &serde_json::Value, tol: f64) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => (x.as_f64().unwrap_or(f64::NAN) - y.as_f64().unwrap_or(f64::NAN)).abs() <= tol,
        (V::Array(x), V::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y, tol)),
        (V::Object(x), V::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w, tol))),
        _ => a == b,
    }
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

    /// DPO plus an estimate kept across batches (an EMA of the batch's mean margin), the shape of
    /// LCPO's reliability η: the engine must update it once per optimiser batch, whatever the
    /// micro-batches, and carry it across a resume.
    struct EmaDpo(std::sync::Mutex<f64>);
    impl Objective for EmaDpo {
        fn label(&self) -> String {
            "ema-dpo".into()
        }
        fn needs(&self) -> crate::train::Needs {
            crate::objectives::dpo::Dpo::new(0.1).needs()
        }
        fn metric_names(&self) -> Vec<String> {
            vec!["margin".into()]
        }
        fn compute(&self, x: &crate::train::Scored) -> Result<crate::train::Loss> {
            let ema = *self.0.lock().unwrap();
            let out = crate::objectives::dpo::Dpo::new(0.1).compute(x)?;
            // The estimate enters the loss, so a wrong update would change the weights too.
            Ok(crate::train::Loss { per_example: out.per_example * (1.0 + ema), metrics: vec![out.metrics[2].shallow_clone()] })
        }
        fn observes(&self) -> bool {
            true
        }
        fn observe(&self, b: &crate::train::objective::Observed) -> Result<()> {
            let m = b.metric(&self.metric_names(), "margin", "ema-dpo")?;
            let mut e = self.0.lock().unwrap();
            *e = 0.5 * *e + 0.5 * m.iter().sum::<f64>() / m.len() as f64;
            Ok(())
        }
        fn state(&self) -> serde_json::Value {
            serde_json::json!({ "ema": *self.0.lock().unwrap() })
        }
        fn restore(&self, s: &serde_json::Value) -> Result<()> {
            *self.0.lock().unwrap() = s["ema"].as_f64().unwrap_or(0.0);
            Ok(())
        }
    }

    #[test]
    fn an_objective_with_its_own_estimates_is_updated_once_per_batch_and_resumed() {
        let data = examples(2, &[], false);
        let obj = EmaDpo(std::sync::Mutex::new(0.0));
        objective(&obj, &data).unwrap();
        assert_eq!(obj.state()["ema"], 0.0, "the checks leave the state as they found it");
        // Three steps straight, against two steps, then a fresh objective resuming to three.
        let refs = reference_models(&obj.needs().references);
        let models: BTreeMap<String, Frozen> = refs.iter().map(|(r, vs, m)| (r.clone(), Frozen { model: m, vs })).collect();
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("refs");
        let run = |o: &EmaDpo, out: &str, max: u64| {
            let (mut vs, m) = model(0);
            let mut cfg = TrainConfig::new(4, 2, Schedule::cosine(5e-3, 0.0));
            cfg.steps = Some(3);
            cfg.max_steps = Some(max);
            policy::train(&m, &mut vs, o, &data, &Refs { models: models.clone(), tokenizer_id: "checks", cache_dir: &cache }, &cfg, 0, &dir.path().join(out)).unwrap();
            vs
        };
        let straight = EmaDpo(std::sync::Mutex::new(0.0));
        let a = run(&straight, "straight", 3);
        run(&EmaDpo(std::sync::Mutex::new(0.0)), "split", 2);
        let resumed = EmaDpo(std::sync::Mutex::new(0.0));
        let b = run(&resumed, "split", 3);
        let (ea, eb) = (straight.state()["ema"].as_f64().unwrap(), resumed.state()["ema"].as_f64().unwrap());
        assert!(ea != 0.0 && (ea - eb).abs() < 1e-12, "{ea} vs {eb}");
        assert!(max_diff(&a, &b) < 1e-6);
    }
}
