//! Pairwise preference training: batches of (prompt, chosen, rejected) under any
//! [`PairObjective`], run by the engine's policy step ([`super::policy`]).
//!
//! - Truncation is TRL's (and the SimPO repo's), [`super::example::truncate`].
//! - Chosen and rejected rows (and KTO's mismatched rows) go through the policy in one forward.
//! - Reference log-probs are computed once, before training, and cached on disk
//!   ([`super::reference`]); the reference model need not be held while training.
//! - Accumulation equals the large batch; a resumed run replays exactly the same batches.

use super::config::TrainConfig;
use super::engine::{self, Summary};
use super::example::{self, Example};
use super::objective::Objective;
use super::policy::{self, PolicyStep, Refs};
use super::reference::{References, RefLogps};
use crate::error::{Error, Result};
use crate::model::Llama;
use crate::objectives::PairObjective;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::VarStore;

/// One preference pair, as token ids (the prompt already rendered with its chat template).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub prompt: Vec<i64>,
    pub chosen: Vec<i64>,
    pub rejected: Vec<i64>,
}

impl Pair {
    /// The pair as a training example (responses `[chosen, rejected]`).
    pub fn example(&self) -> Example {
        Example::pair(self.prompt.clone(), self.chosen.clone(), self.rejected.clone())
    }
}

/// Pairwise training uses the one training config.
pub type PairwiseConfig = TrainConfig;

/// TRL-style truncation of pair `index` ([`example::truncate`]); errors on empty prompt/response.
pub fn truncate(pair: &Pair, index: usize, max_length: usize, max_prompt_length: usize) -> Result<Pair> {
    check(pair, index)?;
    let e = example::truncate(&pair.example(), index, max_length, max_prompt_length)?;
    let mut r = e.responses.into_iter();
    Ok(Pair { prompt: e.prompt, chosen: r.next().unwrap_or_default(), rejected: r.next().unwrap_or_default() })
}

/// An empty prompt or response is an error naming the pair.
fn check(pair: &Pair, index: usize) -> Result<()> {
    let what = || format!("preference pair {index}");
    if pair.prompt.is_empty() {
        return Err(Error::invalid(what(), "empty prompt: the first response token has no context (add a BOS token)"));
    }
    for (name, r) in [("chosen", &pair.chosen), ("rejected", &pair.rejected)] {
        if r.is_empty() {
            return Err(Error::invalid(what(), format!("empty {name} response: nothing to score; drop this pair")));
        }
    }
    Ok(())
}

/// Every pair truncated as [`train`] truncates it under `cfg`.
pub fn truncate_all(pairs: &[Pair], cfg: &TrainConfig) -> Result<Vec<Pair>> {
    pairs
        .iter()
        .enumerate()
        .map(|(i, p)| match (cfg.max_length, cfg.max_prompt_length) {
            (Some(ml), Some(mpl)) => truncate(p, i, ml, mpl),
            _ => check(p, i).map(|_| p.clone()),
        })
        .collect()
}

/// The pairs as the examples [`train`] trains on (truncated; KTO's mismatched sample appended).
pub fn examples<O: Objective + ?Sized>(pairs: &[Pair], objective: &O, cfg: &TrainConfig) -> Result<Vec<Example>> {
    let truncated = truncate_all(pairs, cfg)?;
    policy::prepare(&truncated.iter().map(Pair::example).collect::<Vec<_>>(), objective, cfg)
}

/// The reference log-probs [`train`] needs for `objective` on `pairs`: `None` when the objective
/// has no reference, else `reference`'s log-probs of the pairs as training will see them (cached
/// in `cache_dir`). Compute them once and reuse them for several runs on the same pairs.
#[allow(clippy::too_many_arguments)]
pub fn reference_for(
    objective: &dyn PairObjective,
    reference: &Llama,
    ref_vs: &VarStore,
    pairs: &[Pair],
    cfg: &TrainConfig,
    tokenizer_id: &str,
    cache_dir: &Path,
) -> Result<Option<RefLogps>> {
    if !objective.needs_reference() {
        return Ok(None);
    }
    let prepared = examples(pairs, objective, cfg)?;
    let refs = Refs::single(reference, ref_vs, tokenizer_id, cache_dir).logps(objective, &prepared, cfg.micro_batch, 0)?;
    Ok(refs.into_values().next())
}

/// What a finished (or stopped) pairwise run reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TrainSummary {
    pub steps: u64,
    pub final_loss: f64,
    pub final_accuracy: f64,
    pub resumed_from: Option<u64>,
}

impl From<&Summary> for TrainSummary {
    fn from(s: &Summary) -> Self {
        TrainSummary { steps: s.steps, final_loss: s.final_loss, final_accuracy: s.metric("accuracy"), resumed_from: s.resumed_from }
    }
}

/// Train `model` (its weights in `vs`) on `pairs` with `objective`; `reference` holds the cached
/// reference log-probs ([`reference_for`]) when the objective needs them. Writes
/// `out_dir/metrics.csv` and `out_dir/ckpt/`; resumes from a checkpoint there.
pub fn train(
    model: &Llama,
    vs: &mut VarStore,
    objective: &dyn PairObjective,
    pairs: &[Pair],
    reference: Option<&RefLogps>,
    cfg: &TrainConfig,
    out_dir: &Path,
) -> Result<TrainSummary> {
    cfg.validate()?;
    if pairs.is_empty() {
        return Err(Error::invalid("pairwise trainer", "no preference pairs to train on"));
    }
    let prepared = examples(pairs, objective, cfg)?;
    let mut refs = References::new();
    if objective.needs_reference() {
        let r = reference.ok_or_else(|| Error::invalid(format!("objective {}", objective.name()), "needs reference log-probs: call reference_for first"))?;
        refs.insert("reference".into(), r.clone());
    }
    let mut step = PolicyStep::new(model, objective, prepared, refs, 0)?.with_gradient_checkpointing(cfg.gradient_checkpointing)?;
    Ok(TrainSummary::from(&engine::run(vs, &mut step, cfg, out_dir)?))
}

#[cfg(test)]
#[path = "pairwise_tests.rs"]
mod tests;
