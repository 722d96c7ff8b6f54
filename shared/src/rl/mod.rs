//! Online RL on the training engine: PPO and GRPO, the project's rollout trainer.
//!
//! ```text
//! RlConfig   one vocabulary for both algorithms (TOML, validated)                   config.rs
//! Rollout    a sampled response and its per-token log-probs, values, advantages      rollout.rs
//! Reward     proxy RM, rule verifier, oracle, weighted sums of them                  reward.rs
//! math       masked whitening, KL estimators, GAE, clipped losses, group norm        math.rs
//! Buffer     PAR's 4-batch replay buffer (train on the evicted batch)                 buffer.rs
//! Steps      PolicyUpdate, ValueUpdate: engine Steps run by engine::Trainer           steps.rs
//! run        sample → reward → score → advantages → buffer → updates → log/eval/ckpt  run.rs
//! ```
//!
//! A paper brings its prompts, a [`Reward`] (and a [`run::Monitor`] for its measurements) and
//! calls [`run::run`]; it never builds an optimiser. The policy and the critic each get an
//! [`crate::train::engine::Trainer`] (the engine's optimiser, schedule, clipping, accumulation,
//! metric log and checkpoints), kept across rollouts.
//!
//! What is implemented as which paper or library does it, and where they differ, is written next
//! to each function in [`math`]; `tests.rs` checks the arithmetic against TRL's own code.

pub mod buffer;
pub mod config;
pub mod hf;
pub mod math;
pub mod reward;
pub mod rollout;
pub mod run;
pub mod steps;
#[cfg(test)]
mod tests;

pub use config::{Algorithm, KlConfig, KlPlace, RlConfig};
pub use reward::{FnReward, LearnedRm, Reward, Sample, Scored, Sum};
pub use rollout::Rollout;
pub use run::{Evaluation, Models, Monitor, NoMonitor, RlSummary};
