//! Trainers: SFT, pairwise preference, reward model and the on-policy loop, with checkpoints,
//! resume, progress and metric logs.
//!
//! Machinery every trainer shares: [`schedule`] (warm-up + cosine lr), [`optim`] (AdamW with
//! checkpointable state, global-norm clipping, accumulation), [`checkpoint`] (atomic, verified
//! save/resume), [`metrics`] (CSV metric log that survives resume).

pub mod checkpoint;
pub mod iterate;
pub mod metrics;
pub mod onpolicy;
pub mod optim;
pub mod pairwise;
pub mod reward_model;
pub mod pairs;
pub mod schedule;
pub mod sft;
