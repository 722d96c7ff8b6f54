//! The one annotator of every nash method on the shared on-policy loop
//! ([`crate::train::iterate`]): sample the current policy on iteration t's split (with the
//! teacher's answer when the recipe asks), hand the groups and the oracle to the paper's
//! [`Recipe`], and after training evaluate `π_{t+1}`:
//!
//! - per evaluation prompt and sample k: `WR_base = P(y_t,k ≻ y_0,k)` (expected probability under
//!   the nash-mini preference, no label noise), `WR_prev = P(y_t,k ≻ y_{t-1},k)`, oracle `q`,
//!   length, and `log π_t(y_t,k) − log π_0(y_t,k)` (its mean is `KLhat(π_t || π_0)`);
//! - per training pair: `D_w`, `D_l` = `log π_{t+1} − log π_t` of winner and loser (Sec. 4.5 of
//!   the SPPO paper: which likelihoods the update moved).
//!
//! All of it is kept per prompt and sample in the iteration's record, so every claim is
//! bootstrapped over prompts and seeds ([`super::tables`]).

use super::group::Recipe;
use super::harness::{EvalSamples, Harness};
use crate::error::{Error, Result};
use crate::model::{sequence_logps, Llama, TokenBatch};
use crate::train::iterate::{Annotation, Annotator, IterationRecord, Trained};
use crate::train::scoring::score_all;
use crate::train::Example;
use crate::world::alpaca::mean_and_se;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tch::Kind;

/// Per evaluation sample (prompt-major: prompt i's k-th sample at `i · samples + k`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SampleValues {
    pub wr_base: Vec<f64>,
    pub wr_prev: Vec<f64>,
    pub q: Vec<f64>,
    pub len: Vec<f64>,
    pub kl: Vec<f64>,
}

/// Per training pair: the log-ratios after training, and the prompt each pair came from
/// (`None`: replayed from an earlier iteration).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairValues {
    pub d_w: Vec<f64>,
    pub d_l: Vec<f64>,
    pub source: Vec<Option<usize>>,
}

/// One iteration's training, summarised.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainStats {
    pub steps: u64,
    pub mean_loss: f64,
    pub mean_d_w: f64,
    pub mean_d_l: f64,
    /// Share of pairs with `D_w > 0` and with `D_l < 0`.
    pub frac_w_up: f64,
    pub frac_l_down: f64,
}

/// What is measured after an iteration (stored in its record).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub wr_base: f64,
    pub wr_base_se: f64,
    pub wr_prev: f64,
    pub q: f64,
    pub len: f64,
    pub kl: f64,
    pub train: TrainStats,
    pub samples: SampleValues,
    pub pairs: PairValues,
}

/// What an iteration's annotation keeps besides its examples.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AnnotationStats {
    /// The recipe's own statistics.
    pub recipe: serde_json::Value,
    /// Per example: the prompt it came from (`None`: replayed).
    pub sources: Vec<Option<usize>>,
    /// The recipe's per-prompt values (NaN where undefined, stored as JSON null).
    #[serde(deserialize_with = "null_as_nan")]
    pub per_prompt: Vec<(usize, Vec<(String, f64)>)>,
    pub groups: usize,
}

/// Per-prompt values read back with JSON's null (how serde_json writes NaN) as NaN.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<(usize, Vec<(String, f64)>)>, D::Error> {
    /// One value, read with the crate's one rule for null (`io::nan_if_null`).
    #[derive(Deserialize)]
    struct Value(#[serde(deserialize_with = "crate::io::nan_if_null")] f64);
    let raw: Vec<(usize, Vec<(String, Value)>)> = Deserialize::deserialize(d)?;
    Ok(raw.into_iter().map(|(i, v)| (i, v.into_iter().map(|(k, x)| (k, x.0)).collect())).collect())
}

/// Mean of a slice (NaN when empty).
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Summed log-probs of every evaluation sample under `model`.
pub fn sample_logps(h: &Harness, model: &Llama, s: &EvalSamples) -> Result<Vec<f64>> {
    let seqs: Vec<(Vec<i64>, Vec<i64>)> = h.eval_ids.iter().zip(&s.ids).flat_map(|(p, ys)| ys.iter().map(move |y| (p.clone(), y.clone()))).collect();
    let mut out = Vec::with_capacity(seqs.len());
    tch::no_grad(|| -> Result<()> {
        for chunk in seqs.chunks(128) {
            let lp = sequence_logps(model, &TokenBatch::from_pairs(chunk, h.pad(), model.device()))?.sum;
            out.extend(Vec::<f64>::try_from(lp.to_kind(Kind::Double))?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Per sample: `P(a_k ≻ b_k)` under the nash-mini preference.
pub fn preference_of(h: &Harness, a: &EvalSamples, b: &EvalSamples) -> Vec<f64> {
    let mut out = vec![];
    for (i, x) in h.eval_prompts.iter().enumerate() {
        for (ya, yb) in a.texts[i].iter().zip(&b.texts[i]) {
            out.push(h.preference.prob(&h.world.oracle.grade(x, ya), &h.world.oracle.grade(x, yb)));
        }
    }
    out
}

/// Per sample: oracle quality and length.
pub fn quality_of(h: &Harness, s: &EvalSamples) -> (Vec<f64>, Vec<f64>) {
    let grades: Vec<_> = h.eval_prompts.iter().zip(&s.texts).flat_map(|(x, ys)| ys.iter().map(|y| h.world.oracle.grade(x, y))).collect();
    (grades.iter().map(|g| g.score).collect(), grades.iter().map(|g| g.length as f64).collect())
}

/// Evaluate `policy` (= π_t) against `π_0` and the previous iterate's samples.
pub fn evaluate_policy(h: &Harness, policy: &Llama, prev: Option<&EvalSamples>) -> Result<(Evaluation, EvalSamples)> {
    let s = h.eval_samples(policy)?;
    let wr_base = preference_of(h, &s, &h.base_samples);
    let wr_prev = preference_of(h, &s, prev.unwrap_or(&h.base_samples));
    let (q, len) = quality_of(h, &s);
    let (a, b) = (sample_logps(h, policy, &s)?, sample_logps(h, &h.base.model, &s)?);
    let kl: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
    // The s.e. of WR_base over prompts (a prompt's samples averaged first).
    let k = h.cfg.eval.samples;
    let per_prompt: Vec<f64> = wr_base.chunks(k).map(mean).collect();
    let (m, se) = mean_and_se(&per_prompt);
    let e = Evaluation { wr_base: m, wr_base_se: se, wr_prev: mean(&wr_prev), q: mean(&q), len: mean(&len), kl: mean(&kl), samples: SampleValues { wr_base, wr_prev, q, len, kl }, ..Default::default() };
    Ok((e, s))
}

/// The annotator of one method: the harness, the method's name and recipe.
pub struct NashAnnotator<'a> {
    pub h: &'a Harness,
    pub method: String,
    pub recipe: &'a mut dyn Recipe,
    /// The method's run folder (where `iter-<t>/annotation.json` lives).
    pub dir: PathBuf,
    prev: Option<EvalSamples>,
}

impl<'a> NashAnnotator<'a> {
    pub fn new(h: &'a Harness, method: &str, recipe: &'a mut dyn Recipe, dir: PathBuf) -> Self {
        NashAnnotator { h, method: method.to_string(), recipe, dir, prev: None }
    }
}

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

impl Annotator for NashAnnotator<'_> {
    fn annotate(&mut self, t: usize, policy: &Llama) -> Result<Annotation> {
        let h = self.h;
        let groups = h.groups(t, policy, self.recipe.samples(), self.recipe.wants_teacher())?;
        let oracle = h.oracle(t);
        // One label stream per seed and iteration, shared by every method: on iteration 1's
        // identical samples, methods with the same rule build identical pairs.
        let mut r = crate::world::rng(h.seed, &format!("nash-labels-{t}"));
        let l = self.recipe.examples(t, &groups, &oracle, &mut r)?;
        if l.sources.len() != l.examples.len() {
            return Err(Error::invalid(format!("recipe of {}", self.method), format!("{} sources for {} examples", l.sources.len(), l.examples.len())));
        }
        let stats = AnnotationStats { recipe: l.stats, sources: l.sources, per_prompt: l.per_prompt, groups: groups.len() };
        Ok(Annotation { examples: l.examples, stats: serde_json::to_value(stats).map_err(other)? })
    }

    fn evaluate(&mut self, t: usize, policy: &Llama, trained: &Trained) -> Result<serde_json::Value> {
        let h = self.h;
        // D = log π_{t+1} − log π_t on the iteration's own (truncated) pairs; π_t is "previous"
        // (or "reference", which is π_t in every nash method).
        let refs = trained.references;
        let before = refs.get("previous").or_else(|| refs.get("reference")).ok_or_else(|| Error::invalid("nash evaluation", "the objective read neither the previous iterate nor a reference"))?;
        let (after, _) = score_all(policy, trained.examples, 2, h.cfg.train.micro_batch, false, h.pad(), "D_w, D_l")?;
        let d_w: Vec<f64> = after.iter().zip(&before.seq).map(|(a, b)| a[0] - b[0]).collect();
        let d_l: Vec<f64> = after.iter().zip(&before.seq).map(|(a, b)| a[1] - b[1]).collect();
        let n = d_w.len().max(1) as f64;
        let train = TrainStats {
            steps: trained.summary.steps,
            mean_loss: trained.summary.mean_loss,
            mean_d_w: mean(&d_w),
            mean_d_l: mean(&d_l),
            frac_w_up: d_w.iter().filter(|d| **d > 0.0).count() as f64 / n,
            frac_l_down: d_l.iter().filter(|d| **d < 0.0).count() as f64 / n,
        };
        // The annotation as trained (also when a run resumed mid-iteration from its saved file):
        // the pairs' sources, and the recipe's history for later iterations.
        let path = self.dir.join(format!("iter-{}/annotation.json", t + 1));
        let a: Annotation = crate::io::read_json(&path)?;
        let stats: AnnotationStats = serde_json::from_value(a.stats).map_err(|e| Error::invalid(path.display().to_string(), format!("annotation statistics: {e}")))?;
        self.recipe.restore(t, &a.examples, &stats.sources);
        let (mut e, s) = evaluate_policy(h, policy, self.prev.as_ref())?;
        e.train = train;
        e.pairs = PairValues { d_w, d_l, source: stats.sources };
        eprintln!(
            "    {:<24} iter {}: {} pairs, WR_base {:.3}, WR_prev {:.3}, q {:.3}, len {:.1}, KL {:.2}; D_w {:+.2}, D_l {:+.2}",
            self.method, t + 1, trained.examples.len(), e.wr_base, e.wr_prev, e.q, e.len, e.kl, e.train.mean_d_w, e.train.mean_d_l
        );
        self.prev = Some(s);
        serde_json::to_value(e).map_err(other)
    }

    fn loaded(&mut self, t: usize, policy: &Llama, _record: &IterationRecord) -> Result<()> {
        eprintln!("    {:<24} iter {}: loaded from an earlier run", self.method, t + 1);
        let path = self.dir.join(format!("iter-{}/annotation.json", t + 1));
        let a: Annotation = crate::io::read_json(&path)?;
        let stats: AnnotationStats = serde_json::from_value(a.stats).map_err(|e| Error::invalid(path.display().to_string(), format!("annotation statistics: {e}")))?;
        self.recipe.restore(t, &a.examples, &stats.sources);
        self.prev = Some(self.h.eval_samples(policy)?);
        Ok(())
    }
}

/// The examples of an annotation that came from prompt groups (not replayed).
pub fn own(examples: &[Example], sources: &[Option<usize>]) -> Vec<Example> {
    examples.iter().zip(sources).filter(|(_, s)| s.is_some()).map(|(e, _)| e.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recipe value that is undefined at a prompt (NaN, written by serde_json as null) reads
    /// back as NaN: the annotation a run saved is the one it resumes from.
    #[test]
    fn undefined_per_prompt_values_survive_the_annotation_file() {
        let stats = AnnotationStats { recipe: serde_json::json!({}), sources: vec![Some(0)], per_prompt: vec![(0, vec![("ts".into(), 1.0), ("teacher_score".into(), f64::NAN)])], groups: 1 };
        let text = serde_json::to_string(&stats).unwrap();
        assert!(text.contains("null"), "{text}");
        let back: AnnotationStats = serde_json::from_str(&text).unwrap();
        assert_eq!(back.per_prompt[0].1[0], ("ts".to_string(), 1.0));
        assert!(back.per_prompt[0].1[1].1.is_nan());
    }
}
