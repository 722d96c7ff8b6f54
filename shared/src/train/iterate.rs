//! The N-iteration on-policy loop, in plain sight: for t = 1..N,
//!
//! 1. an [`Annotator`] turns the current policy π_t into training examples: it samples, scores
//!    (the oracle, a judge, a reward model, the policy itself) and pairs or weights the samples;
//! 2. the frozen references the objective names are scored once: `"previous"` = π_t,
//!    `"initial"` = π_0, `"reference"` = whichever [`Reference`] says;
//! 3. the engine trains π_{t+1} from π_t on the examples with the objective
//!    ([`super::policy::PolicyStep`]);
//! 4. the annotator may evaluate π_{t+1}; the iterate and its record are saved.
//!
//! Each finished iteration leaves `iter-<t>/model.safetensors` and `iter-<t>/done.json`; a rerun
//! in the same folder loads the finished iterates and continues after the last one. Inside an
//! iteration the annotation is saved before training (`iter-<t>/annotation.json`) and the engine
//! checkpoints, so a run killed mid-iteration resumes on exactly the same examples and batches.
//!
//! [`GroupAnnotator`] is the classic annotator (K samples per prompt, a scorer, a [`PairRule`]):
//! iterative DPO/IPO and the world's on-policy check run on it; SPPO, DNO, INPO and the
//! self-rewarding papers bring their own annotators (and objectives) to the same loop.

use super::config::TrainConfig;
use super::engine::{self, Summary};
use super::example::Example;
use super::objective::Objective;
use super::onpolicy::{build_pairs, sample_groups, score_groups, with_stop};
use super::pairs::PairRule;
use super::policy::{self, PolicyStep, Refs};
use super::reference::{Frozen, References};
use crate::error::{Error, Result};
use crate::model::generate::GenerateConfig;
use crate::model::Llama;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tch::nn::VarStore;

/// Which model the `"reference"` role is in iteration t.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// π_t, the policy that produced the samples (SPPO, DNO, iterative DPO).
    Previous,
    /// π_0, the model the loop started from.
    Initial,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IterateConfig {
    pub iterations: usize,
    pub reference: Reference,
    /// Each iteration's training (one epoch over its examples, usually).
    pub train: TrainConfig,
    /// Derive iteration t's data-order seed as `train.seed ^ t` (t = 1, 2, ...; SPPO's
    /// trainer) instead of reusing `train.seed` in every iteration.
    #[serde(default)]
    pub seed_per_iteration: bool,
}

/// What an annotator made of one iteration's samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub examples: Vec<Example>,
    /// Anything worth keeping about the data (pair counts, mean scores, ...), stored in the record.
    pub stats: serde_json::Value,
}

/// What an iteration's training saw and did, for [`Annotator::evaluate`].
pub struct Trained<'a> {
    pub summary: &'a Summary,
    /// The examples as trained on (truncated).
    pub examples: &'a [Example],
    /// The references' log-probs of those examples, by role (`"previous"` = π_t's when used).
    pub references: &'a References,
}

/// Sample, score and pair (or weight): one on-policy method's data side.
pub trait Annotator {
    /// Iteration `t`'s (0-based) training examples from the current policy π_t.
    fn annotate(&mut self, t: usize, policy: &Llama) -> Result<Annotation>;
    /// After iteration `t` trained π_{t+1} (now `policy`): evaluate it; stored in the record.
    fn evaluate(&mut self, _t: usize, _policy: &Llama, _trained: &Trained) -> Result<serde_json::Value> {
        Ok(serde_json::Value::Null)
    }
    /// Iteration `t` had finished in an earlier run and its iterate was loaded into `policy`
    /// instead (restore whatever later iterations need from it).
    fn loaded(&mut self, _t: usize, _policy: &Llama, _record: &IterationRecord) -> Result<()> {
        Ok(())
    }
}

/// What one iteration did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IterationRecord {
    /// 1-based.
    pub iteration: usize,
    pub examples: usize,
    pub stats: serde_json::Value,
    pub train: Summary,
    pub evaluation: serde_json::Value,
    pub seconds: f64,
    /// Loaded from a finished `iter-<t>/` instead of run now.
    #[serde(default)]
    pub resumed: bool,
}

/// How records and tables name a method's iterate after iteration (or round) `k`, 0-based:
/// `"<method>@iter<k>"`.
pub fn at(method: &str, k: usize) -> String {
    format!("{method}@iter{k}")
}

/// Run the loop on `policy` (weights in `vs`, updated in place, π_0 on entry). `tokenizer_id`
/// keys the reference caches; `pad` pads batches.
#[allow(clippy::too_many_arguments)]
pub fn run<O: Objective + ?Sized>(
    policy: &Llama,
    vs: &mut VarStore,
    annotator: &mut dyn Annotator,
    objective: &O,
    cfg: &IterateConfig,
    pad: i64,
    tokenizer_id: &str,
    out_dir: &Path,
) -> Result<Vec<IterationRecord>> {
    cfg.train.validate()?;
    if cfg.iterations == 0 {
        return Err(Error::invalid("on-policy loop", "need ≥ 1 iteration"));
    }
    let needs = objective.needs();
    let wants = |role: &str| needs.references.iter().any(|r| r == role);
    // π_0, kept only when a role needs it after the first iteration.
    let initial = if wants("initial") || (wants("reference") && cfg.reference == Reference::Initial) { Some(policy.copy_with(vs)?) } else { None };
    let mut records = vec![];
    for t in 0..cfg.iterations {
        let dir = out_dir.join(format!("iter-{}", t + 1));
        let (done, weights) = (dir.join("done.json"), dir.join("model.safetensors"));
        if done.exists() {
            let mut r: IterationRecord = crate::io::read_json(&done)?;
            crate::model::weights::load_into(vs, &[weights], &[])?;
            r.resumed = true;
            annotator.loaded(t, policy, &r)?;
            records.push(r);
            continue;
        }
        let started = std::time::Instant::now();
        let ann_path = dir.join("annotation.json");
        let annotation: Annotation = if ann_path.exists() {
            crate::io::read_json(&ann_path)?
        } else {
            let a = annotator.annotate(t, policy)?;
            crate::io::write_json(&ann_path, &a)?;
            a
        };
        if annotation.examples.is_empty() {
            return Err(Error::invalid(format!("on-policy iteration {}", t + 1), "the annotator produced no examples (every group's samples scored alike?); raise K or the temperature"));
        }
        let mut train = cfg.train.clone();
        if cfg.seed_per_iteration {
            train.seed ^= t as u64 + 1;
        }
        let prepared = policy::prepare(&annotation.examples, objective, &train)?;
        let references = {
            let current = Frozen { model: policy, vs: &*vs };
            let first = initial.as_ref().map_or(current, |(ivs, m)| Frozen { model: m, vs: ivs });
            let mut models = BTreeMap::new();
            models.insert("previous".to_string(), current);
            models.insert("initial".to_string(), first);
            models.insert("reference".to_string(), if cfg.reference == Reference::Initial { first } else { current });
            let cache = dir.join("reference");
            Refs { models, tokenizer_id, cache_dir: &cache }.logps(objective, &prepared, train.micro_batch, pad)?
        };
        let mut step = PolicyStep::new(policy, objective, prepared, references, pad)?.with_gradient_checkpointing(train.gradient_checkpointing)?;
        let summary = engine::run(vs, &mut step, &train, &dir.join("train"))?;
        crate::model::weights::save(vs, &weights)?;
        let evaluation = annotator.evaluate(t, policy, &Trained { summary: &summary, examples: &step.examples, references: &step.references })?;
        let record = IterationRecord { iteration: t + 1, examples: annotation.examples.len(), stats: annotation.stats, train: summary, evaluation, seconds: started.elapsed().as_secs_f64(), resumed: false };
        crate::io::write_json(&done, &record)?;
        // The trainer's resume checkpoint is not needed once the iterate is saved.
        let _ = std::fs::remove_dir_all(dir.join("train/ckpt"));
        records.push(record);
    }
    Ok(records)
}

/// The classic annotator: K samples per prompt from π_t, a scorer, and a [`PairRule`].
/// `score(t, prompt index, texts)` returns one score per decoded sample.
pub struct GroupAnnotator<D, S> {
    /// `prompts[t]`: the prompt ids of iteration t (the same list each time, or fresh ones).
    pub prompts: Vec<Vec<Vec<i64>>>,
    /// K: samples per prompt.
    pub samples: usize,
    pub prompts_per_batch: usize,
    /// Sampling; iteration t uses seed `gen.seed + 1_000_003·t`.
    pub gen: GenerateConfig,
    pub rule: PairRule,
    pub pad: i64,
    /// Seeds the pair rule's randomness (iteration t: `seed ^ (t+1)·golden`).
    pub seed: u64,
    pub decode: D,
    pub score: S,
}

/// What [`GroupAnnotator`] records per iteration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PairStats {
    pub pairs: usize,
    pub mean_chosen_score: f64,
    pub mean_rejected_score: f64,
}

impl<D, S> GroupAnnotator<D, S>
where
    D: Fn(&[i64]) -> String,
    S: FnMut(usize, usize, &[String]) -> Result<Vec<f64>>,
{
    /// Iteration `t`'s prompts.
    pub fn prompts_for(&self, t: usize) -> Result<&[Vec<i64>]> {
        if self.samples < 2 {
            return Err(Error::invalid("on-policy annotator", format!("need ≥ 2 samples per prompt, got {}", self.samples)));
        }
        self.prompts.get(t).map(|p| p.as_slice()).ok_or_else(|| Error::invalid("on-policy annotator", format!("no prompts for iteration {}", t + 1)))
    }

    /// Iteration `t`'s sampling settings: seed `gen.seed + 1_000_003·t`.
    pub fn gen_for(&self, t: usize) -> GenerateConfig {
        GenerateConfig { seed: self.gen.seed.wrapping_add(1_000_003 * t as u64), ..self.gen.clone() }
    }

    /// Score iteration `t`'s samples (K per prompt, in prompt order, stop token stripped, from
    /// this process or from a server: [`super::served`]), pair each group with the rule, and
    /// build the training examples.
    pub fn pair(&mut self, t: usize, samples: Vec<Vec<Vec<i64>>>) -> Result<Annotation> {
        let gen = self.gen_for(t);
        self.prompts_for(t)?;
        let prompts = &self.prompts[t];
        let score = &mut self.score;
        let groups = score_groups(samples, &self.decode, |i, texts| score(t, i, texts))?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let scored = build_pairs(&groups, &self.rule, &mut rng);
        let n = scored.len().max(1) as f64;
        let stats = PairStats {
            pairs: scored.len(),
            mean_chosen_score: scored.iter().map(|p| p.chosen_score).sum::<f64>() / n,
            mean_rejected_score: scored.iter().map(|p| p.rejected_score).sum::<f64>() / n,
        };
        // Train on what the policy emitted, stop token included.
        let examples = scored.iter().map(|p| Example::pair(prompts[p.prompt].clone(), with_stop(&p.chosen, &gen), with_stop(&p.rejected, &gen))).collect();
        Ok(Annotation { examples, stats: serde_json::to_value(stats).unwrap_or_default() })
    }
}

impl<D, S> Annotator for GroupAnnotator<D, S>
where
    D: Fn(&[i64]) -> String,
    S: FnMut(usize, usize, &[String]) -> Result<Vec<f64>>,
{
    fn annotate(&mut self, t: usize, policy: &Llama) -> Result<Annotation> {
        let gen = self.gen_for(t);
        let samples = sample_groups(policy, self.prompts_for(t)?, self.pad, self.samples, self.prompts_per_batch, &gen)?;
        self.pair(t, samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tiny;
    use crate::objectives::dpo::Dpo;
    use crate::train::schedule::Schedule;

    fn cfg(reference: Reference) -> IterateConfig {
        let train = TrainConfig { seed: 1, ..TrainConfig::new(4, 2, Schedule::cosine(1e-2, 0.0)).truncating(16, 8) };
        IterateConfig { iterations: 2, reference, train, seed_per_iteration: false }
    }

    /// The scorer likes token 5: samples with more 5s are chosen.
    fn annotator(flat: bool) -> impl Annotator {
        GroupAnnotator {
            prompts: vec![(1..9).map(|i| vec![1, i]).collect(), (1..9).map(|i| vec![2, i]).collect()],
            samples: 4,
            prompts_per_batch: 4,
            gen: GenerateConfig { max_new_tokens: 4, temperature: 1.0, top_p: 1.0, stop_tokens: vec![], seed: 7 },
            rule: PairRule::BestVsWorst,
            pad: 0,
            seed: 1,
            decode: |ids: &[i64]| ids.iter().map(|i| format!("{i} ")).collect::<String>(),
            score: move |_, _, ys: &[String]| Ok(ys.iter().map(|y| if flat { 1.0 } else { y.matches("5 ").count() as f64 }).collect()),
        }
    }

    fn run_in(dir: &Path, reference: Reference) -> (VarStore, Vec<IterationRecord>) {
        let c = tiny::config("llama", 12, 16, 32, 1, 2);
        let (mut vs, m) = tiny::model(&c, 3);
        let reps = run(&m, &mut vs, &mut annotator(false), &Dpo::new(0.1), &cfg(reference), 0, "test", dir).unwrap();
        (vs, reps)
    }

    fn chosen_rejected(r: &IterationRecord) -> (f64, f64) {
        let s: PairStats = serde_json::from_value(r.stats.clone()).unwrap();
        (s.mean_chosen_score, s.mean_rejected_score)
    }

    #[test]
    fn iterates_then_resumes_from_the_saved_iterates() {
        let d = tempfile::tempdir().unwrap();
        let (vs, reps) = run_in(d.path(), Reference::Previous);
        assert_eq!(reps.len(), 2);
        assert!(reps.iter().all(|r| r.examples > 0 && chosen_rejected(r).0 > chosen_rejected(r).1 && !r.resumed));
        assert!(d.path().join("iter-2/done.json").exists() && !d.path().join("iter-2/train/ckpt").exists());
        // The scorer's preference is learned: iteration 2's samples are better than iteration 1's.
        let total = |r: &IterationRecord| chosen_rejected(r).0 + chosen_rejected(r).1;
        assert!(total(&reps[1]) > total(&reps[0]), "{reps:?}");
        let (again, reps2) = run_in(d.path(), Reference::Previous);
        assert!(reps2.iter().all(|r| r.resumed));
        let (a, b) = (vs.variables(), again.variables());
        assert!(a.iter().all(|(k, t)| t.equal(&b[k])), "resumed weights differ");
    }

    #[test]
    fn initial_reference_is_another_run() {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (p, _) = run_in(d1.path(), Reference::Previous);
        let (i, _) = run_in(d2.path(), Reference::Initial);
        // Iteration 1 is identical (π_0 = π_1's start); iteration 2's reference differs.
        let (a, b) = (p.variables(), i.variables());
        assert!(a.iter().any(|(k, t)| !t.equal(&b[k])));
    }

    #[test]
    fn groups_that_all_score_alike_are_an_error() {
        let d = tempfile::tempdir().unwrap();
        let c = tiny::config("llama", 12, 16, 32, 1, 2);
        let (mut vs, m) = tiny::model(&c, 3);
        let e = run(&m, &mut vs, &mut annotator(true), &Dpo::new(0.1), &cfg(Reference::Previous), 0, "test", d.path()).unwrap_err();
        assert!(e.to_string().contains("no examples"), "{e}");
    }
}
