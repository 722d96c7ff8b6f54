//! DRIFT (Wang et al. 2025, arXiv 2510.02341): real dissatisfaction replies as fixed negatives,
//! fresh on-policy positives, plain DPO (+ RPO) with the previous iterate as reference.
//!
//! Read in this order:
//! - [`loss`]: the DPO + α·NLL objective, σ(−s), Lemma 1's bound (spec test vectors as unit tests);
//! - [`prompt`]: the paper-scale guided-generation prompt (`gen-drift.py`'s plain-text transcript);
//! - [`pipeline`]: the miniature, from the deployment log to the iterates (the shared on-policy loop);
//! - [`metrics`] and [`tables`]: win rate with ties, diversity, the claims;
//! - [`paper`]: the paper-scale path (Hugging Face checkpoint, DSAT JSONL) through the same loop.

pub mod config;
pub mod loss;
pub mod metrics;

pub mod pipeline;
pub mod prompt;
pub mod tables;
pub mod paper;
