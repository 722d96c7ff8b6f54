//! WildBench (Lin et al. 2024, arXiv 2406.04770): WB-Reward, WB-Score, WB-Elo and their
//! correlation with Chatbot Arena, regenerated from the published judgements.
//!
//! - [`reward`]: five outcomes, the length rule with K, per-reference/group/task-macro rewards.
//! - [`score`]: the 1–10 checklist score, its rescaling and category macro ([`score::ChecklistScorer`]).
//! - [`groups`]: the five task groups and the macro weights.
//! - [`arena`]: the correlation table (paper Table 3) from the paper's Table 2.
//! - [`leaderboard`]: the merged leaderboard and its exact comparison with upstream.
//! - [`elo`]: WB-Elo (virtual votes from scores, anchored online Elo).
//! - [`prompts`], [`judge_parse`]: for users with a judge endpoint; [`judge`]: a new model judged
//!   through an OpenAI-compatible endpoint with upstream's templates (`cargo xtask evaluate wildbench`).
//! - [`data`]: loading upstream files; [`pipeline`]: every table; [`claims`]: the exact checks
//!   for the claims ledger.

pub mod arena;
pub mod claims;
pub mod data;
pub mod elo;
pub mod groups;
pub mod judge;
pub mod judge_parse;
pub mod leaderboard;
pub mod pipeline;
pub mod prompts;
pub mod reward;
pub mod score;
