//! The training engine: one loop for every trainer of the project, and the pieces papers plug in.
//!
//! ```text
//! Example    one prompt, 1..K responses, named side data, optional per-token weights   example.rs
//! Objective  declares what it reads (Needs) and turns a Scored micro-batch into          objective.rs
//!            per-example losses and metrics: a pure tensor function, equation cited
//! Step       one micro-batch -> (loss share, metrics): PolicyStep ("score with the policy,  policy.rs
//!            look up references, call the objective"), SftStep, RewardStep, PPO/GRPO    sft.rs, reward_model.rs, rl/steps.rs
//! Trainer    one model's optimiser, schedule, step counter, metric log, checkpoints,    engine.rs
//!            kept across calls: one optimiser step on any index set of a Step
//! run        drives a Trainer over a dataset: order, epochs, evaluation, checkpoints    engine.rs
//!            with exact resume, progress bar (the rollout loop of crate::rl drives two)
//! References frozen models by role ("reference", "initial", "previous"), their          reference.rs
//!            log-probs computed once per dataset and cached on disk
//! Annotator  on-policy data: sample from π_t, score, pair or weight                      iterate.rs
//!            (π_t sampled in process, or through an OpenAI-compatible server)          served.rs
//! iterate    the N-iteration loop: annotate -> references -> run -> save iterate, resumable
//! ```
//!
//! A new paper adds an objective (implement [`Objective`], or [`crate::objectives::PairObjective`]
//! for a loss on pairs) and/or an [`iterate::Annotator`], and calls [`policy::train`] or
//! [`iterate::run`]. No paper builds an optimiser or writes a step loop; if one seems to need a
//! change to the loop, the loop is missing a concept: add it here.
//!
//! Machinery: [`config`] (the one [`TrainConfig`] vocabulary), [`schedule`] (warm-up + cosine /
//! linear / constant), [`optim`] (AdamW with checkpointable state, clipping, accumulation),
//! [`checkpoint`] (atomic, verified), [`metrics`] (CSV log that survives resume), [`onpolicy`] and
//! [`pairs`] (sampling groups and pair rules), [`checks`] (the invariants every objective must
//! pass, callable from any crate's tests).

pub mod checkpoint;
pub mod checks;
pub mod config;
pub mod engine;
pub mod example;
pub mod hf_args;
pub mod iterate;
pub mod metrics;
pub mod objective;
pub mod onpolicy;
pub mod optim;
pub mod pairs;
pub mod pairwise;
pub mod policy;
pub mod reference;
pub mod reward_model;
pub mod schedule;
pub mod scoring;
pub mod served;
pub mod sft;
pub mod stage;

pub use config::TrainConfig;
pub use engine::{MicroOut, Step, Summary};
pub use example::Example;
pub use objective::{BatchTotals, Loss, Needs, Objective, Observed, Scored};
pub use policy::{PolicyStep, Refs};
