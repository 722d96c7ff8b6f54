//! AutoRule (Wang & Xiong 2025, arXiv 2506.15651), in the miniature world.
//!
//! Rules for a rule-based reward are mined from preference data (justify → extract → merge); a
//! verifier checks each policy output against every rule, and `10·(frac − 0.75)` is added to the
//! learned RM's reward during GRPO. Against the hackable proxy RM it should hack less.
//!
//! Read in this order:
//! 1. [`rules`]: the candidate predicates, the three mining stages, `r_rule`, the length penalty
//!    (spec test vectors 1–3; vectors 3–6's group norm, k3 KL and reward clip are `shared::rl`'s).
//! 2. [`pipeline`]: base, proxy RM and its stored statistics, mining, agreement, one GRPO run per
//!    method over two episodes (`shared::rl`).
//! 3. [`tables`]: the methods table, the mined rules beside the oracle's weights, the hacking
//!    curves, the claims.

pub mod config;
pub mod pipeline;
pub mod rules;
pub mod tables;
