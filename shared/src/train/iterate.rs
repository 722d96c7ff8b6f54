//! The N-iteration on-policy loop, in plain sight: for t = 1..N,
//!
//! 1. sample K responses per prompt from the current policy π_t;
//! 2. score them with a pluggable scorer (oracle, judge, reward model, the policy itself);
//! 3. turn each group into pairs with a [`PairRule`] (best vs worst, all pairs above a margin, ...);
//! 4. train π_{t+1} from π_t on those pairs with any [`PairObjective`], the reference being the
//!    previous iterate π_t or the initial model π_0 ([`Reference`]).
//!
//! Each finished iteration leaves `iter-<t>/model.safetensors` and `iter-<t>/done.json`; a rerun
//! in the same folder loads the last finished iterate and continues (inside an iteration the
//! pairwise trainer resumes from its own checkpoint, and sampling is seeded, so the pairs are the
//! same). SPPO, DNO, INPO, self-rewarding and the SimPO instruct recipe are this loop with
//! another objective, scorer or pair rule.

use super::onpolicy::{build_pairs, sample_groups, score_groups, with_stop};
use super::pairs::PairRule;
use super::pairwise::{self, Pair, PairwiseConfig, TrainSummary};
use crate::error::{Error, Result};
use crate::model::generate::GenerateConfig;
use crate::model::Llama;
use crate::objectives::PairObjective;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::VarStore;

/// Which model the objective's log-ratios are taken against in iteration t.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// π_t, the policy that produced the samples (SPPO, DNO, self-rewarding).
    Previous,
    /// π_0, the model the loop started from.
    Initial,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IterateConfig {
    pub iterations: usize,
    /// K: samples per prompt.
    pub samples: usize,
    pub prompts_per_batch: usize,
    pub gen: GenerateConfig,
    pub rule: PairRule,
    pub reference: Reference,
    pub train: PairwiseConfig,
}

/// What one iteration did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IterationReport {
    pub iteration: usize,
    pub pairs: usize,
    pub mean_chosen_score: f64,
    pub mean_rejected_score: f64,
    pub train: TrainSummary,
    pub seconds: f64,
    /// Loaded from a finished `iter-<t>/` instead of run now.
    #[serde(default)]
    pub resumed: bool,
}

/// Run the loop on `policy` (weights in `vs`, updated in place). `prompts[t]` are the prompt ids
/// of iteration t (the same list each time, or fresh prompts per iteration); `score(t, prompt
/// index, texts)` scores one prompt's K decoded samples. `tokenizer_id` keys the reference cache.
#[allow(clippy::too_many_arguments)]
pub fn run(
    policy: &Llama,
    vs: &mut VarStore,
    objective: &dyn PairObjective,
    prompts: &[Vec<Vec<i64>>],
    pad_id: i64,
    decode: impl Fn(&[i64]) -> String,
    mut score: impl FnMut(usize, usize, &[String]) -> Result<Vec<f64>>,
    cfg: &IterateConfig,
    tokenizer_id: &str,
    out_dir: &Path,
) -> Result<Vec<IterationReport>> {
    cfg.train.validate()?;
    if cfg.iterations == 0 || cfg.samples < 2 {
        return Err(Error::invalid("on-policy loop", format!("need ≥ 1 iteration and ≥ 2 samples per prompt, got {} and {}", cfg.iterations, cfg.samples)));
    }
    if prompts.len() < cfg.iterations {
        return Err(Error::invalid("on-policy loop", format!("{} iterations but prompts for only {}", cfg.iterations, prompts.len())));
    }
    // π_0, kept only when it is the reference.
    let initial = match cfg.reference {
        Reference::Initial if objective.needs_reference() => Some(policy.copy_with(vs)?),
        _ => None,
    };
    let mut reports = vec![];
    for t in 0..cfg.iterations {
        let dir = out_dir.join(format!("iter-{}", t + 1));
        let done = dir.join("done.json");
        let weights = dir.join("model.safetensors");
        if done.exists() {
            let mut r: IterationReport = crate::io::read_json(&done)?;
            crate::model::weights::load_into(vs, &[weights], &[])?;
            r.resumed = true;
            reports.push(r);
            continue;
        }
        let started = std::time::Instant::now();
        let gen = GenerateConfig { seed: cfg.gen.seed.wrapping_add(1_000_003 * t as u64), ..cfg.gen.clone() };
        let samples = sample_groups(policy, &prompts[t], pad_id, cfg.samples, cfg.prompts_per_batch, &gen)?;
        let groups = score_groups(samples, &decode, |i, texts| score(t, i, texts))?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.train.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let scored = build_pairs(&groups, &cfg.rule, &mut rng);
        if scored.is_empty() {
            return Err(Error::invalid(format!("on-policy iteration {}", t + 1), "no pairs: every group's samples scored alike; raise K or the temperature"));
        }
        let n = scored.len() as f64;
        let (mc, mr) = (scored.iter().map(|p| p.chosen_score).sum::<f64>() / n, scored.iter().map(|p| p.rejected_score).sum::<f64>() / n);
        // Train on what the policy emitted, stop token included.
        let pairs: Vec<Pair> = scored.iter().map(|p| Pair { prompt: prompts[t][p.prompt].clone(), chosen: with_stop(&p.chosen, &gen), rejected: with_stop(&p.rejected, &gen) }).collect();
        let (ref_model, ref_vs) = match &initial {
            Some((ivs, m)) => (m, ivs),
            None => (policy, &*vs),
        };
        let reference = pairwise::reference_for(objective, ref_model, ref_vs, &pairs, &cfg.train, tokenizer_id, &dir.join("reference"))?;
        let summary = pairwise::train(policy, vs, objective, &pairs, reference.as_ref(), &cfg.train, &dir.join("train"))?;
        crate::model::weights::save(vs, &weights)?;
        let report = IterationReport { iteration: t + 1, pairs: pairs.len(), mean_chosen_score: mc, mean_rejected_score: mr, train: summary, seconds: started.elapsed().as_secs_f64(), resumed: false };
        crate::io::write_json(&done, &report)?;
        // The trainer's resume checkpoint is not needed once the iterate is saved.
        let _ = std::fs::remove_dir_all(dir.join("train/ckpt"));
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tiny;
    use crate::objectives::dpo::Dpo;
    use crate::train::schedule::Schedule;

    fn cfg(reference: Reference) -> IterateConfig {
        IterateConfig {
            iterations: 2,
            samples: 4,
            prompts_per_batch: 4,
            gen: GenerateConfig { max_new_tokens: 4, temperature: 1.0, top_p: 1.0, stop_tokens: vec![], seed: 7 },
            rule: PairRule::BestVsWorst,
            reference,
            train: PairwiseConfig {
                batch_size: 4,
                micro_batch: 2,
                epochs: 1,
                max_length: 16,
                max_prompt_length: 8,
                schedule: Schedule::cosine(1e-2, 0.0),
                optim: Default::default(),
                seed: 1,
                checkpoint_every: 0,
                keep_checkpoints: 1,
                max_steps: None,
            },
        }
    }

    fn prompts() -> Vec<Vec<Vec<i64>>> {
        vec![(1..9).map(|i| vec![1, i]).collect(), (1..9).map(|i| vec![2, i]).collect()]
    }

    /// The scorer likes token 5: the share of 5s in the samples should rise.
    fn run_in(dir: &Path, reference: Reference) -> (VarStore, Vec<IterationReport>) {
        let c = tiny::config("llama", 12, 16, 32, 1, 2);
        let (mut vs, m) = tiny::model(&c, 3);
        let reps = run(&m, &mut vs, &Dpo::new(0.1), &prompts(), 0, |ids| ids.iter().map(|i| format!("{i} ")).collect(), |_, _, ys| Ok(ys.iter().map(|y| y.matches("5 ").count() as f64).collect()), &cfg(reference), "test", dir).unwrap();
        (vs, reps)
    }

    #[test]
    fn iterates_then_resumes_from_the_saved_iterates() {
        let d = tempfile::tempdir().unwrap();
        let (vs, reps) = run_in(d.path(), Reference::Previous);
        assert_eq!(reps.len(), 2);
        assert!(reps.iter().all(|r| r.pairs > 0 && r.mean_chosen_score > r.mean_rejected_score && !r.resumed));
        assert!(d.path().join("iter-2/done.json").exists() && !d.path().join("iter-2/train/ckpt").exists());
        // The scorer's preference is learned: iteration 2's samples are better than iteration 1's.
        assert!(reps[1].mean_chosen_score + reps[1].mean_rejected_score > reps[0].mean_chosen_score + reps[0].mean_rejected_score, "{reps:?}");
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
        let e = run(&m, &mut vs, &Dpo::new(0.1), &prompts(), 0, |ids| format!("{ids:?}"), |_, _, ys| Ok(vec![1.0; ys.len()]), &cfg(Reference::Previous), "test", d.path()).unwrap_err();
        assert!(e.to_string().contains("no pairs"), "{e}");
    }
}
