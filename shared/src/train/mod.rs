//! Trainers: SFT, pairwise preference, reward model and the on-policy loop, with checkpoints, resume, progress and metric logs.

pub mod onpolicy;
pub mod pairs;
