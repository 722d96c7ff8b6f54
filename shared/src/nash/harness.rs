//! The nash-mini harness (sppo/dno/inpo specs, "Shared harness `nash-mini`"): the world's cached
//! SFT base `π_0`, `iterations` disjoint prompt splits (one per iteration, like the 3-way
//! UltraFeedback split), the nash-mini preference, per-iteration sampling, the teacher's answers,
//! and the evaluation prompts. Everything is a function of the run's seed:
//!
//! | stream | seed |
//! |---|---|
//! | the splits | `rng(seed, "nash-splits")` |
//! | sampling split t (K per prompt, T = 1) | `seed ^ 0x5bb0_0000 ^ t·1_000_003`, call c adds c |
//! | the teacher's answers on split t | `rng(seed, "nash-teacher-<t>")` |
//! | evaluation samples of every model | `seed ^ 0xe7a1` (the same for every model: paired) |
//! | the mini AlpacaEval | `seed ^ 0xa1fa` (samples), `rng(seed, "nash-judge-order")` |
//!
//! Iteration 1 of every method samples `π_0` with the same seed, so methods with the same K train
//! on identical samples there ([`Harness::groups`] caches them); later iterations are on-policy.

use super::group::Group;
use super::preference::{NashPreference, Teacher, WorldOracle};
use crate::cli::Scale;
use crate::error::{Error, Result};
use crate::model::generate::GenerateConfig;
use crate::model::Llama;
use crate::train::onpolicy::{sample_groups, with_stop};
use crate::train::TrainConfig;
use crate::world::alpaca::MiniAlpacaEval;
use crate::world::base::{self, Base};
use crate::world::policy::MAX_RESPONSE_TOKENS;
use crate::world::{rng, Prompt, World};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

/// The harness's part of a nash paper's config (`[harness]`); a wrong key is an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// libtorch CPU threads (results depend on it; recorded with them).
    pub threads: i32,
    /// Iterations, one disjoint prompt split each.
    pub iterations: usize,
    pub prompts_per_split: usize,
    /// Sampling of the training data (spec: T = 1, top-p 1, the world's maximum length).
    pub temperature: f64,
    pub top_p: f64,
    /// Prompts per generation call.
    pub prompts_per_batch: usize,
    pub eval: EvalConfig,
    /// One iteration's training (spec: 1 epoch, AdamW lr 1e-4, batch 16, 10% warm-up then
    /// constant); a method's `lr` replaces `schedule.lr`.
    pub train: TrainConfig,
    /// The teacher whose answers a recipe may ask for (DNO's gold responses).
    #[serde(default)]
    pub teacher: Teacher,
}

/// The evaluation after each iteration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out prompts for `WR_base` / `WR_prev` / q / length / KL-hat: the mini AlpacaEval's
    /// fixed prompts first, then more from the same held-out stream when this exceeds them.
    pub prompts: usize,
    /// Sample pairs per prompt (spec: 4).
    pub samples: usize,
    /// Decoding temperature of the standard mini AlpacaEval of the final iterates.
    pub alpaca_temperature: f64,
}

impl Config {
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, m: String| Err(Error::invalid(format!("harness.{f}"), m));
        if self.iterations == 0 || self.prompts_per_split == 0 {
            return bad("iterations", "iterations and prompts_per_split must be ≥ 1".into());
        }
        if self.eval.samples == 0 || self.eval.prompts == 0 {
            return bad("eval", "eval.samples and eval.prompts must be ≥ 1".into());
        }
        if !(self.temperature > 0.0 && self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("temperature", format!("need temperature > 0 and top_p in (0, 1], got {} and {}", self.temperature, self.top_p));
        }
        if !(self.eval.alpaca_temperature >= 0.0) || self.prompts_per_batch == 0 || self.threads < 1 {
            return bad("eval.alpaca_temperature", "need alpaca_temperature ≥ 0, prompts_per_batch ≥ 1 and threads ≥ 1".into());
        }
        self.train.validate()?;
        if self.train.max_length.is_none() {
            return bad("train.max_length", "set max_length and max_prompt_length (the specs truncate as TRL does)".into());
        }
        self.teacher.validate()
    }

    /// A method's training config: the shared one at the method's learning rate.
    pub fn train_at(&self, lr: f64) -> TrainConfig {
        let mut t = self.train.clone();
        t.schedule.lr = lr;
        t
    }
}

/// Evaluation samples of one model: per prompt, `eval.samples` responses.
#[derive(Clone, Debug)]
pub struct EvalSamples {
    pub texts: Vec<Vec<String>>,
    /// Token ids with the stop token put back (as scored for KL-hat).
    pub ids: Vec<Vec<Vec<i64>>>,
}

/// Everything one seed's run of a nash paper shares between its methods.
pub struct Harness {
    pub cfg: Config,
    pub scale: Scale,
    pub seed: u64,
    pub world: World,
    pub preference: NashPreference,
    pub base: Base,
    pub splits: Vec<Vec<Prompt>>,
    pub split_ids: Vec<Vec<Vec<i64>>>,
    pub eval_prompts: Vec<Prompt>,
    pub eval_ids: Vec<Vec<i64>>,
    /// The world's standard mini AlpacaEval (its own fixed 300 prompts and baseline).
    pub bench: MiniAlpacaEval,
    /// `π_0`'s evaluation samples (the `WR_base` opponent).
    pub base_samples: EvalSamples,
    /// `π_0`'s samples of split 0, by K: every method's identical first-iteration data.
    first: RefCell<BTreeMap<usize, Vec<Vec<Vec<i64>>>>>,
    /// The teacher's answers per split (made when first asked for).
    teacher: RefCell<BTreeMap<usize, Vec<String>>>,
}

/// `n_splits` disjoint splits of `n` distinct training prompts each (by prompt text).
pub fn disjoint_splits(world: &World, n_splits: usize, n: usize, seed: u64) -> Result<Vec<Vec<Prompt>>> {
    let mut r = rng(seed, "nash-splits");
    let mut seen = HashSet::new();
    let mut all = vec![];
    let mut tries = 0usize;
    while all.len() < n_splits * n {
        tries += 1;
        if tries > 100 * n_splits * n {
            return Err(Error::invalid("nash harness", format!("the world has fewer than {} distinct training prompts", n_splits * n)));
        }
        let x = world.train_prompts(1, &mut r).remove(0);
        if seen.insert(x.text()) {
            all.push(x);
        }
    }
    Ok(all.chunks(n).map(|c| c.to_vec()).collect())
}

impl Harness {
    /// The world, its cached SFT base for `(scale, seed)`, the splits and `π_0`'s evaluation samples.
    pub fn new(cfg: &Config, scale: Scale, seed: u64, device: tch::Device) -> Result<Self> {
        cfg.validate()?;
        let (world, base) = base::world_and_base(scale, seed, device)?;
        let mut bench = MiniAlpacaEval::new(&world);
        let n_bench = cfg.eval.prompts.min(bench.prompts.len());
        bench.prompts.truncate(n_bench);
        bench.baseline.truncate(n_bench);
        let splits = disjoint_splits(&world, cfg.iterations, cfg.prompts_per_split, seed)?;
        let enc = |ps: &[Prompt]| ps.iter().map(|x| base.tok.encode_prompt(&x.text())).collect::<Result<Vec<_>>>();
        let split_ids = splits.iter().map(|s| enc(s)).collect::<Result<Vec<_>>>()?;
        let eval_prompts = world.held_out_prompts(cfg.eval.prompts);
        let eval_ids = enc(&eval_prompts)?;
        let preference = NashPreference::new(&world);
        let mut h = Harness {
            cfg: cfg.clone(),
            scale,
            seed,
            world,
            preference,
            base,
            splits,
            split_ids,
            eval_prompts,
            eval_ids,
            bench,
            base_samples: EvalSamples { texts: vec![], ids: vec![] },
            first: RefCell::new(BTreeMap::new()),
            teacher: RefCell::new(BTreeMap::new()),
        };
        h.base_samples = h.eval_samples(&h.base.model)?;
        Ok(h)
    }

    pub fn pad(&self) -> i64 {
        self.base.tok.pad
    }

    fn gen(&self, temperature: f64, top_p: f64, seed: u64) -> GenerateConfig {
        GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature, top_p, stop_tokens: vec![self.base.tok.eos], seed }
    }

    /// How split `t` is sampled.
    pub fn split_gen(&self, t: usize) -> GenerateConfig {
        self.gen(self.cfg.temperature, self.cfg.top_p, self.seed ^ 0x5bb0_0000 ^ (t as u64 * 1_000_003))
    }

    /// How every model's evaluation samples are drawn (one seed for all: paired comparisons).
    pub fn eval_gen(&self) -> GenerateConfig {
        self.gen(1.0, 1.0, self.seed ^ 0xe7a1)
    }

    /// `k` samples per prompt of split `t` from `model` (stop tokens stripped).
    pub fn sample_split(&self, model: &Llama, t: usize, k: usize) -> Result<Vec<Vec<Vec<i64>>>> {
        let ids = self.split_ids.get(t).ok_or_else(|| Error::invalid("nash harness", format!("no split for iteration {}", t + 1)))?;
        sample_groups(model, ids, self.pad(), k, self.cfg.prompts_per_batch, &self.split_gen(t))
    }

    /// The teacher's answers to split `t`.
    pub fn teacher_answers(&self, t: usize) -> Vec<String> {
        self.teacher
            .borrow_mut()
            .entry(t)
            .or_insert_with(|| {
                let mut r = rng(self.seed, &format!("nash-teacher-{t}"));
                self.splits[t].iter().map(|x| self.cfg.teacher.answer(&self.world, x, &mut r)).collect()
            })
            .clone()
    }

    /// Iteration `t`'s groups from `policy`: `k` samples per prompt of split `t` (iteration 0:
    /// `π_0`'s shared samples, whatever `policy` is passed), the teacher's answer appended when
    /// asked for.
    pub fn groups(&self, t: usize, policy: &Llama, k: usize, with_teacher: bool) -> Result<Vec<Group>> {
        let raw = if t == 0 {
            let cached = self.first.borrow().get(&k).cloned();
            match cached {
                Some(r) => r,
                None => {
                    let r = self.sample_split(&self.base.model, 0, k)?;
                    self.first.borrow_mut().insert(k, r.clone());
                    r
                }
            }
        } else {
            self.sample_split(policy, t, k)?
        };
        let sampling = self.split_gen(t);
        let teacher = if with_teacher { Some(self.teacher_answers(t)) } else { None };
        let tok = &self.base.tok;
        let mut out = Vec::with_capacity(raw.len());
        for (i, ys) in raw.iter().enumerate() {
            let mut g = Group {
                prompt: i,
                prompt_ids: self.split_ids[t][i].clone(),
                responses: ys.iter().map(|y| with_stop(y, &sampling)).collect(),
                texts: ys.iter().map(|y| tok.decode_response(y)).collect(),
                teacher: None,
            };
            if let Some(answers) = &teacher {
                g.teacher = Some(g.texts.len());
                g.responses.push(tok.encode_response(&answers[i])?);
                g.texts.push(answers[i].clone());
            }
            out.push(g);
        }
        Ok(out)
    }

    /// The oracle of iteration `t`'s groups.
    pub fn oracle(&self, t: usize) -> WorldOracle<'_> {
        WorldOracle { world: &self.world, preference: &self.preference, prompts: &self.splits[t] }
    }

    /// `eval.samples` samples per evaluation prompt from `model`.
    pub fn eval_samples(&self, model: &Llama) -> Result<EvalSamples> {
        let g = self.eval_gen();
        let raw = sample_groups(model, &self.eval_ids, self.pad(), self.cfg.eval.samples, self.cfg.prompts_per_batch, &g)?;
        let texts = raw.iter().map(|ys| ys.iter().map(|y| self.base.tok.decode_response(y)).collect()).collect();
        let ids = raw.iter().map(|ys| ys.iter().map(|y| with_stop(y, &g)).collect()).collect();
        Ok(EvalSamples { texts, ids })
    }
}
