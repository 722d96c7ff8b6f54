//! A learned reward model for the miniature world: the stand-in for PairRM / ArmoRM in the
//! on-policy recipes. Pairs of a policy's own samples are labelled by one sampled verdict of the
//! world's pairwise judge (length bias, position bias and label noise included), a Bradley–Terry
//! reward head on a copy of the SFT base is trained on them ([`crate::train::reward_model`]), and
//! the trained model then scores every sample. Held-out prompts measure how often it agrees with
//! the judge's labels and with the oracle's true ordering.

use super::tokenizer::WorldTokenizer;
use super::{Prompt, World};
use crate::error::{Error, Result};
use crate::model::Llama;
use crate::train::pairwise::Pair;
use crate::train::reward_model::{self, RewardConfig, RewardModel, RewardSummary};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::VarStore;
use tch::Kind;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeRmConfig {
    /// Judged pairs drawn per prompt (distinct sample pairs, without repetition).
    pub pairs_per_prompt: usize,
    /// Fraction of prompts held out to measure agreement.
    pub heldout_fraction: f64,
    pub train: RewardConfig,
}

impl JudgeRmConfig {
    pub fn validate(&self) -> Result<()> {
        if self.pairs_per_prompt == 0 {
            return Err(Error::invalid("reward_model.pairs_per_prompt", "must be ≥ 1"));
        }
        if !(0.0..1.0).contains(&self.heldout_fraction) {
            return Err(Error::invalid("reward_model.heldout_fraction", "must lie in [0, 1)"));
        }
        Ok(())
    }
}

/// A trained reward model and how well it learned.
pub struct JudgeRm {
    pub vs: VarStore,
    pub rm: RewardModel,
    pub summary: RewardSummary,
    pub train_pairs: usize,
    /// Held-out pairs where the reward model agrees with the judge's sampled label (%).
    pub heldout_judge_agreement: f64,
    /// Held-out pairs with different oracle scores where the reward model ranks like the oracle (%).
    pub heldout_oracle_agreement: f64,
}

/// Judge-labelled pairs of one prompt's samples: (chosen index, rejected index).
fn judged_pairs<R: Rng>(world: &World, x: &Prompt, ys: &[String], n: usize, rng: &mut R) -> Vec<(usize, usize)> {
    let mut all: Vec<(usize, usize)> = (0..ys.len()).flat_map(|i| (i + 1..ys.len()).map(move |j| (i, j))).filter(|&(i, j)| ys[i] != ys[j]).collect();
    all.shuffle(rng);
    all.truncate(n);
    all.into_iter()
        .map(|(i, j)| {
            // A random presentation order, then one sampled verdict.
            let (a, b) = if rng.gen::<bool>() { (i, j) } else { (j, i) };
            if world.judge.sample(x, &ys[a], &ys[b], rng) { (a, b) } else { (b, a) }
        })
        .collect()
}

/// Train the reward model on judged pairs of `samples[k]` (the samples of `prompts[k]`),
/// starting from the weights of `base` (its head is new). Metrics go to `out_dir`.
pub fn train_on_judge<R: Rng>(
    world: &World,
    base: (&Llama, &VarStore),
    tok: &WorldTokenizer,
    prompts: &[Prompt],
    samples: &[Vec<String>],
    cfg: &JudgeRmConfig,
    rng: &mut R,
    out_dir: &Path,
) -> Result<JudgeRm> {
    cfg.validate()?;
    if prompts.len() != samples.len() {
        return Err(Error::invalid("reward model data", format!("{} prompts but {} sample groups", prompts.len(), samples.len())));
    }
    let n_held = ((prompts.len() as f64) * cfg.heldout_fraction).round() as usize;
    let (mut train, mut held, mut held_oracle) = (vec![], vec![], vec![]);
    for (k, (x, ys)) in prompts.iter().zip(samples).enumerate() {
        let p = tok.encode_prompt(&x.text())?;
        for (c, r) in judged_pairs(world, x, ys, cfg.pairs_per_prompt, rng) {
            let pair = Pair { prompt: p.clone(), chosen: tok.encode_response(&ys[c])?, rejected: tok.encode_response(&ys[r])? };
            if k < n_held {
                let (sc, sr) = (world.oracle.score(x, &ys[c]), world.oracle.score(x, &ys[r]));
                if sc != sr {
                    // Oriented so that "chosen" is the oracle's better answer.
                    held_oracle.push(if sc > sr { pair.clone() } else { Pair { chosen: pair.rejected.clone(), rejected: pair.chosen.clone(), prompt: pair.prompt.clone() } });
                }
                held.push(pair);
            } else {
                train.push(pair);
            }
        }
    }
    let (backbone, base_vs) = base;
    let mut vs = VarStore::new(backbone.device());
    let rm = RewardModel::new(&vs.root(), backbone.config())?;
    // Its fresh head from this run's stream, not from libtorch's global generator (whose state
    // depends on whether earlier runs of the process were trained or loaded from their cache).
    rm.model.reseed_head(rand::Rng::gen::<u64>(rng));
    copy_shared_weights(&mut vs, base_vs)?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let summary = reward_model::train(&rm, &mut vs, &train, &held, &cfg.train, out_dir)?;
    let micro = cfg.train.micro_batch;
    Ok(JudgeRm {
        heldout_judge_agreement: 100.0 * rm.accuracy(&held, micro)?,
        heldout_oracle_agreement: 100.0 * rm.accuracy(&held_oracle, micro)?,
        vs,
        rm,
        summary,
        train_pairs: train.len(),
    })
}

/// Copy every variable of `src` whose name exists in `dst` (the transformer); the rest of `dst`
/// (the new head) keeps its initialisation.
pub(crate) fn copy_shared_weights(dst: &mut VarStore, src: &VarStore) -> Result<()> {
    let from = src.variables();
    let mut copied = 0;
    tch::no_grad(|| {
        for (name, mut v) in dst.variables() {
            if let Some(s) = from.get(&name) {
                v.copy_(s);
                copied += 1;
            }
        }
    });
    if copied == 0 {
        return Err(Error::invalid("reward model", "the base shares no variable names with the reward model"));
    }
    Ok(())
}

impl JudgeRm {
    /// Rewards of `ys` as answers to `x`.
    pub fn score(&self, tok: &WorldTokenizer, x: &Prompt, ys: &[String]) -> Result<Vec<f64>> {
        let p = tok.encode_prompt(&x.text())?;
        let seqs: Vec<(Vec<i64>, Vec<i64>)> = ys.iter().map(|y| Ok((p.clone(), tok.encode_response(y)?))).collect::<Result<_>>()?;
        let r = tch::no_grad(|| self.rm.score(&seqs))?.to_kind(Kind::Double);
        let out: Vec<f64> = Vec::<f64>::try_from(&r).map_err(|e| Error::Other(format!("reading rewards: {e}")))?;
        if let Some(i) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid("reward model", format!("non-finite reward for sample {i} of prompt {:?}", x.text())));
        }
        Ok(out)
    }
}
