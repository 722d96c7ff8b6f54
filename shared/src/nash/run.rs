//! One seed of a nash paper's miniature, top to bottom: for each method, from a copy of `π_0`,
//! `iterations` rounds of the shared on-policy loop ([`crate::train::iterate::run`]) with the
//! harness's annotator and the method's recipe and objective, each round against the frozen
//! `π_t` (the `"reference"` role is the previous iterate; `"initial"` is `π_0`); then the world's
//! mini AlpacaEval of the final iterate.
//!
//! Each finished iteration is saved by the loop (`<dir>/<method>/iter-<t>/`); a rerun loads
//! them and continues after the last one (mid-iteration, from the engine's checkpoint).

use super::annotator::{evaluate_policy, AnnotationStats, Evaluation, NashAnnotator};
use super::group::Recipe;
use super::harness::Harness;
use crate::error::{Error, Result};
use crate::model::Llama;
use crate::train::iterate::{self, IterateConfig, IterationRecord, Reference};
use crate::train::{Objective, TrainConfig};
use crate::world::alpaca::EvalRow;
use crate::world::policy::{decoding, sample_texts};
use std::path::Path;
use std::time::Instant;

/// One method of a run: its name, training config (the harness's at the method's lr), objective
/// and recipe.
pub struct Method<'a> {
    pub name: String,
    pub train: TrainConfig,
    pub objective: Box<dyn Objective + 'a>,
    pub recipe: Box<dyn Recipe + 'a>,
}

/// One finished iteration of one method.
#[derive(Clone, Debug)]
pub struct Iteration {
    /// 1-based.
    pub t: usize,
    pub record: IterationRecord,
    pub stats: AnnotationStats,
    pub eval: Evaluation,
}

impl Iteration {
    /// The recipe's own statistics, typed.
    pub fn recipe_stats<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.stats.recipe.clone()).map_err(|e| Error::invalid(format!("iteration {} record", self.t), format!("recipe statistics: {e}")))
    }
}

/// Everything a method did in one seed.
#[derive(Clone, Debug)]
pub struct MethodOutcome {
    pub name: String,
    pub iterations: Vec<Iteration>,
    /// The mini AlpacaEval of the final iterate.
    pub alpaca: EvalRow,
}

/// One seed's run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seed: u64,
    /// `π_0` evaluated like an iterate (`WR_base` = 1/2 by definition).
    pub base: Evaluation,
    pub base_alpaca: EvalRow,
    pub methods: Vec<MethodOutcome>,
    /// Evaluation samples per prompt (`eval.samples`).
    pub samples_per_prompt: usize,
    pub base_trained: bool,
    pub seconds: f64,
}

impl Outcome {
    pub fn method(&self, name: &str) -> Option<&MethodOutcome> {
        self.methods.iter().find(|m| m.name == name)
    }
}

pub use crate::driver::{run_dir, slug};

/// The mini AlpacaEval row of `model`.
pub fn alpaca_row(h: &Harness, model: &Llama, name: &str) -> Result<EvalRow> {
    let g = decoding(h.cfg.eval.alpaca_temperature, h.seed ^ 0xa1fa, &h.base.tok);
    let ys = sample_texts(model, &h.base.tok, &h.bench.prompts, &g, h.cfg.prompts_per_batch)?;
    h.bench.evaluate(&h.world, name, &ys, &mut crate::world::rng(h.seed, "nash-judge-order"))
}

/// Run one method from `π_0` under `dir/<slug>/`.
pub fn run_method(h: &Harness, mut m: Method, dir: &Path) -> Result<MethodOutcome> {
    let (mut vs, model) = h.base.model.copy_with(&h.base.vs)?;
    let mdir = dir.join(slug(&m.name));
    let mut train = m.train.clone();
    train.seed = h.seed;
    let icfg = IterateConfig { iterations: h.cfg.iterations, reference: Reference::Previous, train, seed_per_iteration: true };
    let records = {
        let mut ann = NashAnnotator::new(h, &m.name, m.recipe.as_mut(), mdir.clone());
        iterate::run(&model, &mut vs, &mut ann, m.objective.as_ref(), &icfg, h.pad(), "world-char-v1", &mdir)?
    };
    let mut iterations = vec![];
    for r in records {
        let bad = |what: &str, e: serde_json::Error| Error::invalid(format!("{} iteration {} record", m.name, r.iteration), format!("{what}: {e}"));
        let stats: AnnotationStats = serde_json::from_value(r.stats.clone()).map_err(|e| bad("annotation statistics", e))?;
        let eval: Evaluation = serde_json::from_value(r.evaluation.clone()).map_err(|e| bad("evaluation", e))?;
        iterations.push(Iteration { t: r.iteration, record: r, stats, eval });
    }
    let alpaca = alpaca_row(h, &model, &format!("{} Iter{}", m.name, h.cfg.iterations))?;
    Ok(MethodOutcome { name: m.name, iterations, alpaca })
}

/// Run every method of one seed; `dir` is the seed's run folder.
pub fn run(h: &Harness, methods: Vec<Method>, dir: &Path) -> Result<Outcome> {
    let started = Instant::now();
    // π_0 against itself: WR_base = σ(0) = 1/2 and KL-hat = 0, sample by sample.
    let base = evaluate_policy(h, &h.base.model, None)?.0;
    let base_alpaca = alpaca_row(h, &h.base.model, "SFT (pi_0)")?;
    eprintln!("==> seed {}: pi_0 q {:.3}, length {:.1}", h.seed, base.q, base.len);
    let mut out = vec![];
    for m in methods {
        out.push(run_method(h, m, dir)?);
    }
    Ok(Outcome { seed: h.seed, base, base_alpaca, methods: out, samples_per_prompt: h.cfg.eval.samples, base_trained: h.base.trained, seconds: started.elapsed().as_secs_f64() })
}
