//! The rollout trainer's config: one vocabulary for PPO and GRPO, TOML with unknown keys
//! rejected, validated on load. The optimiser side of each model is the engine's
//! [`TrainConfig`] (`batch_size` = samples per optimiser step, `micro_batch`, `schedule`, `optim`).
//!
//! ```toml
//! [rl]
//! algorithm = "ppo"            # or "grpo"
//! prompts_per_rollout = 64
//! samples_per_prompt = 1       # GRPO's group size n
//! epochs = 2                   # passes over the prompt set
//! max_new_tokens = 56
//! temperature = 0.9
//! top_p = 0.9
//! kl = { coef = 0.005, estimator = "k1", place = "reward" }
//! replay_buffer = 4
//! policy = { batch_size = 64, micro_batch = 32, schedule = { lr = 1e-4, warmup_ratio = 0.1, decay = "constant" } }
//! critic = { batch_size = 64, micro_batch = 32, schedule = { lr = 1e-4, decay = "constant" } }
//! ```

use super::math::{Aggregation, KlEstimator, Returns, Whiten};
use crate::error::{Error, Result};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// A critic, per-token rewards, GAE (Schulman et al. 2017; PAR's implementation).
    Ppo,
    /// No critic: group-normalised sequence rewards broadcast to every token (Shao et al. 2024).
    Grpo,
}

/// Where the KL to the frozen reference enters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlPlace {
    /// `−c·KL_t` added to each token's reward (PPO, PAR).
    Reward,
    /// `+c·KL_t` added to the per-token policy loss (GRPO `--use_kl_loss`).
    Loss,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KlConfig {
    pub coef: f64,
    pub estimator: KlEstimator,
    pub place: KlPlace,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlConfig {
    pub algorithm: Algorithm,
    pub prompts_per_rollout: usize,
    /// Samples per prompt (GRPO's group size; 1 for PPO).
    #[serde(default = "one")]
    pub samples_per_prompt: usize,
    /// Passes over the prompt set (PAR's "two epochs", AutoRule's "episodes").
    #[serde(default = "one")]
    pub epochs: usize,
    pub max_new_tokens: usize,
    pub temperature: f64,
    #[serde(default = "unit")]
    pub top_p: f64,
    /// Prompts per generation call. Call `c` of a rollout samples with the rollout's seed + `c`,
    /// so changing this changes which samples are drawn (not their distribution).
    #[serde(default = "sixty_four")]
    pub prompts_per_generate: usize,
    pub kl: KlConfig,
    /// PPO clip range ε.
    #[serde(default = "clip")]
    pub clip: f64,
    /// PPO value clip (None: unclipped value loss).
    #[serde(default)]
    pub value_clip: Option<f64>,
    #[serde(default = "unit")]
    pub gamma: f64,
    #[serde(default = "lambda")]
    pub lambda: f64,
    #[serde(default = "mc")]
    pub returns: Returns,
    #[serde(default = "population")]
    pub whiten: Whiten,
    /// GRPO: ε in `(r − mean)/(std + ε)`, and whether std is Bessel-corrected.
    #[serde(default = "group_eps")]
    pub group_eps: f64,
    #[serde(default = "yes")]
    pub group_unbiased: bool,
    /// Clip each total reward into `[−b, b]` before advantages (OpenRLHF's default 10).
    #[serde(default)]
    pub reward_clip: Option<f64>,
    /// PAR's replay buffer of rollout batches (0 or 1: train on each batch at once).
    #[serde(default)]
    pub replay_buffer: usize,
    /// Passes over each trained batch (PPO epochs per rollout).
    #[serde(default = "one")]
    pub updates_per_rollout: usize,
    #[serde(default = "token_mean")]
    pub aggregation: Aggregation,
    /// The critic's loss is multiplied by this (TRL: `½·vf_coef`).
    #[serde(default = "unit")]
    pub value_coef: f64,
    /// Evaluate every this many rollouts (0: only before and after training).
    #[serde(default)]
    pub eval_every: usize,
    /// Checkpoint every this many rollouts (0: only at the end).
    #[serde(default)]
    pub checkpoint_every: usize,
    /// Stop after this many rollouts (the schedule still spans the whole run; a later call resumes).
    #[serde(default)]
    pub max_rollouts: Option<usize>,
    pub seed: u64,
    pub policy: TrainConfig,
    #[serde(default)]
    pub critic: Option<TrainConfig>,
}

fn one() -> usize {
    1
}
fn unit() -> f64 {
    1.0
}
fn sixty_four() -> usize {
    64
}
fn clip() -> f64 {
    0.2
}
fn lambda() -> f64 {
    0.95
}
fn mc() -> Returns {
    Returns::MonteCarlo
}
fn population() -> Whiten {
    Whiten::Population
}
fn group_eps() -> f64 {
    1e-9
}
fn yes() -> bool {
    true
}
fn token_mean() -> Aggregation {
    Aggregation::TokenMean
}

impl RlConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, m: String| Err(Error::invalid(format!("rl config: `{f}`"), m));
        if self.prompts_per_rollout == 0 || self.samples_per_prompt == 0 || self.epochs == 0 || self.max_new_tokens == 0 {
            return bad("prompts_per_rollout", "prompts_per_rollout, samples_per_prompt, epochs and max_new_tokens must be ≥ 1".into());
        }
        if self.algorithm == Algorithm::Grpo && self.samples_per_prompt < 2 {
            return bad("samples_per_prompt", format!("GRPO needs groups of ≥ 2 samples, got {}", self.samples_per_prompt));
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !(positive(self.temperature) && positive(self.top_p) && self.top_p <= 1.0) {
            return bad("temperature", "rollouts are sampled: temperature > 0 and 0 < top_p ≤ 1".into());
        }
        if !positive(self.clip) || self.value_clip.is_some_and(|c| !positive(c)) {
            return bad("clip", "clip ranges must be > 0".into());
        }
        if !(0.0..=1.0).contains(&self.gamma) || !(0.0..=1.0).contains(&self.lambda) {
            return bad("gamma", "gamma and lambda must lie in [0, 1]".into());
        }
        if !(self.kl.coef.is_finite() && self.kl.coef >= 0.0) {
            return bad("kl.coef", format!("must be ≥ 0, got {}", self.kl.coef));
        }
        if self.updates_per_rollout == 0 {
            return bad("updates_per_rollout", "must be ≥ 1".into());
        }
        let per_rollout = self.prompts_per_rollout * self.samples_per_prompt;
        self.policy.validate()?;
        if per_rollout % self.policy.batch_size != 0 {
            return bad("policy.batch_size", format!("{per_rollout} samples per rollout do not split into optimiser batches of {}", self.policy.batch_size));
        }
        match (self.algorithm, &self.critic) {
            (Algorithm::Ppo, None) => return bad("critic", "PPO needs a `critic` training config".into()),
            (Algorithm::Ppo, Some(c)) => {
                c.validate()?;
                if per_rollout % c.batch_size != 0 {
                    return bad("critic.batch_size", format!("{per_rollout} samples per rollout do not split into optimiser batches of {}", c.batch_size));
                }
            }
            (Algorithm::Grpo, Some(_)) => return bad("critic", "GRPO has no critic; remove `critic`".into()),
            (Algorithm::Grpo, None) => {}
        }
        Ok(())
    }

    /// Rollouts of a whole run over `n` prompts.
    pub fn total_rollouts(&self, n: usize) -> usize {
        (n * self.epochs).div_ceil(self.prompts_per_rollout)
    }

    /// Where this call stops.
    pub fn stop_rollout(&self, n: usize) -> usize {
        self.max_rollouts.map_or(self.total_rollouts(n), |m| m.min(self.total_rollouts(n)))
    }

    /// Rollouts that lead to an update (with a buffer of `c ≥ 2` batches the first `c` only fill it).
    pub fn trained_rollouts(&self, n: usize) -> usize {
        let filling = if self.replay_buffer > 1 { self.replay_buffer } else { 0 };
        self.total_rollouts(n).saturating_sub(filling)
    }

    /// Optimiser steps of a model with optimiser batches of `batch_size` over the whole run.
    pub fn optimiser_steps(&self, n: usize, batch_size: usize) -> u64 {
        let per = self.prompts_per_rollout * self.samples_per_prompt / batch_size.max(1);
        (self.trained_rollouts(n) * self.updates_per_rollout * per) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PPO: &str = r#"
algorithm = "ppo"
prompts_per_rollout = 8
max_new_tokens = 16
temperature = 0.9
kl = { coef = 0.005, estimator = "k1", place = "reward" }
replay_buffer = 4
seed = 0
policy = { batch_size = 8, micro_batch = 4, schedule = { lr = 1e-3 } }
critic = { batch_size = 4, micro_batch = 4, schedule = { lr = 1e-3 } }
"#;

    #[test]
    fn parses_validates_and_counts_steps() {
        let c: RlConfig = toml::from_str(PPO).unwrap();
        c.validate().unwrap();
        assert_eq!((c.returns, c.whiten, c.lambda, c.clip), (Returns::MonteCarlo, Whiten::Population, 0.95, 0.2));
        // 20 prompts, 1 epoch: 3 rollouts, all of which only fill a 4-batch buffer.
        assert_eq!((c.total_rollouts(20), c.trained_rollouts(20)), (3, 0));
        assert_eq!((c.total_rollouts(64), c.trained_rollouts(64), c.optimiser_steps(64, 8), c.optimiser_steps(64, 4)), (8, 4, 4, 8));
        let e = toml::from_str::<RlConfig>(&PPO.replace("replay_buffer", "replay_bufer")).unwrap_err().to_string();
        assert!(e.contains("replay_bufer"), "{e}");
        let mut g = c.clone();
        g.algorithm = Algorithm::Grpo;
        assert!(g.validate().unwrap_err().to_string().contains("samples_per_prompt"));
        g.samples_per_prompt = 2;
        assert!(g.validate().unwrap_err().to_string().contains("critic"));
        g.critic = None;
        g.validate().unwrap();
        g.policy.batch_size = 5;
        assert!(g.validate().unwrap_err().to_string().contains("policy.batch_size"));
        let mut p = c.clone();
        p.critic = None;
        assert!(p.validate().unwrap_err().to_string().contains("critic"));
    }
}
