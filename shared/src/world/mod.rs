//! The miniature instruction world: tasks with checkable answers, skills, the oracle, judges,
//! simulated users, demonstrations, its tokenizer and the mini AlpacaEval.
//!
//! Everything is a pure function of a seed: [`World::train_prompts`] and [`World::demos`] draw
//! from a `ChaCha8Rng` seeded by the caller; the evaluation set is fixed (its own constant seed)
//! and disjoint from every training prompt (a stable hash of the prompt text decides which side
//! a prompt may fall on).

pub mod alpaca;
pub mod base;
pub mod config;
pub mod demos;
pub mod forms;
pub mod judge;
pub mod lexicon;
pub mod onpolicy;
pub mod oracle;
pub mod pipeline;
pub mod policy;
pub mod proxy;
pub mod response;
pub mod reward;
pub mod rlhf;
pub mod skill;
pub mod task;
pub mod tokenizer;
pub mod users;

pub use config::WorldConfig;
pub use demos::{Demo, DemoKind};
pub use judge::{ChecklistJudge, PairwiseJudge};
pub use oracle::{Grade, Oracle};
pub use skill::Skill;
pub use task::{Family, Prompt};
pub use users::SimUser;

use crate::error::Result;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bump when anything changes what the world generates or how it scores; cache keys include it.
pub const WORLD_VERSION: &str = "world-v2";
/// The seed of the fixed evaluation set (independent of any run's seed).
const EVAL_SEED: u64 = 0x5eed_e7a1;

/// A seeded RNG for one named stream of a run (streams do not share draws).
pub fn rng(seed: u64, stream: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ fnv1a(stream.as_bytes()))
}

/// 64-bit FNV-1a: a hash that never changes across Rust versions.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Held-out prompts are those whose text hashes to 0 mod 10; training never draws them.
pub fn is_held_out(x: &Prompt) -> bool {
    fnv1a(x.text().as_bytes()) % 10 == 0
}

#[derive(Clone, Debug)]
pub struct World {
    pub cfg: WorldConfig,
    pub oracle: Oracle,
    pub judge: PairwiseJudge,
    pub checklist: ChecklistJudge,
    pub users: SimUser,
    families: Vec<Family>,
}

impl World {
    pub fn new(cfg: WorldConfig) -> Result<Self> {
        cfg.validate()?;
        let oracle = Oracle::new(cfg.oracle.clone());
        Ok(World {
            families: cfg.families()?,
            judge: PairwiseJudge::new(cfg.judge.clone(), oracle.clone()),
            checklist: ChecklistJudge::new(cfg.checklist.clone(), oracle.clone()),
            users: SimUser::new(cfg.users.clone(), oracle.clone()),
            oracle,
            cfg,
        })
    }

    /// One prompt: a family, a payload and 0..k format skills the family accepts.
    pub fn sample_prompt<R: Rng>(&self, rng: &mut R) -> Prompt {
        let family = *self.families.choose(rng).expect("validated non-empty");
        let payload = task::sample_payload(family, rng);
        let w = &self.cfg.gen.skill_counts;
        let mut u = rng.gen::<f64>() * w.iter().sum::<f64>();
        let mut k = 0;
        while k + 1 < w.len() && u >= w[k] {
            u -= w[k];
            k += 1;
        }
        let mut x = Prompt { family, payload, skills: vec![] };
        let n_items = x.answer_items().len();
        let mut kinds: Vec<Skill> = skill::ALL_KINDS.iter().copied().filter(|s| family.accepts(*s, n_items)).collect();
        kinds.shuffle(rng);
        for s in kinds.into_iter().take(k) {
            x.skills.push(match s {
                Skill::MaxWords(_) => Skill::MaxWords(n_items as u8 + rng.gen_range(0..=1)),
                s => s,
            });
        }
        x
    }

    /// `n` training prompts (never from the held-out side).
    pub fn train_prompts<R: Rng>(&self, n: usize, rng: &mut R) -> Vec<Prompt> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let x = self.sample_prompt(rng);
            if !is_held_out(&x) {
                out.push(x);
            }
        }
        out
    }

    /// The fixed evaluation prompts of the mini AlpacaEval (held out, seed-independent). Small
    /// families have few distinct prompts, so a prompt may appear more than once.
    pub fn eval_prompts(&self) -> Vec<Prompt> {
        self.held_out_prompts(self.cfg.eval.size)
    }

    /// The first `n` prompts of the fixed held-out stream: [`World::eval_prompts`] for
    /// `n = eval.size`, extended with more held-out prompts (never drawn for training) when an
    /// evaluation needs more than the mini AlpacaEval's set.
    pub fn held_out_prompts(&self, n: usize) -> Vec<Prompt> {
        let mut rng = ChaCha8Rng::seed_from_u64(EVAL_SEED);
        let mut out: Vec<Prompt> = Vec::with_capacity(n);
        while out.len() < n {
            let x = self.sample_prompt(&mut rng);
            if is_held_out(&x) {
                out.push(x);
            }
        }
        out
    }

    /// The fixed baseline's outputs on [`World::eval_prompts`] (a seeded partial oracle).
    pub fn baseline_outputs(&self, prompts: &[Prompt]) -> Vec<String> {
        let mut rng = ChaCha8Rng::seed_from_u64(EVAL_SEED ^ 0xba5e);
        prompts.iter().map(|x| demos::partial_oracle(x, self.cfg.eval.baseline_q, &mut rng)).collect()
    }

    /// `n` demonstrations on fresh training prompts, from the configured mixture.
    pub fn demos<R: Rng>(&self, n: usize, rng: &mut R) -> Vec<Demo> {
        let prompts = self.train_prompts(n, rng);
        prompts.iter().map(|x| demos::demonstrate(x, &self.cfg.demos, rng)).collect()
    }

    /// Best possible response for `x` (content right, skills applied, preferred style, no filler).
    pub fn gold(&self, x: &Prompt) -> String {
        let mut spec = response::ResponseSpec {
            items: x.answer_items(),
            apply: x.skills.clone(),
            preamble: self.cfg.oracle.preferred_style,
            closing: false,
            fillers: vec![],
        };
        demos::fit_word_limit(x, &mut spec);
        spec.render()
    }
}

#[cfg(test)]
mod tests;
