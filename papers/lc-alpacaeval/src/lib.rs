//! Length-Controlled AlpacaEval (Dubois, Galambosi, Liang, Hashimoto 2024), recomputed from the
//! judge annotations shipped with upstream `tatsu-lab/alpaca_eval`.
//!
//! - [`pipeline`]: load every model with annotations, raw metrics, instruction difficulty (joint
//!   GLM or upstream's file), gamed-baseline rows, and the per-model LC GLM.
//! - [`evaluate`]: a new model's outputs judged through an OpenAI-compatible endpoint, scored
//!   against the frozen difficulty (`cargo xtask evaluate alpaca-eval`).
//! - [`tables`]: the three result tables (LC vs published, Arena correlations, gameability).
//! - [`claims`]: the paper's claims checked on the published data, for the claims ledger.

pub mod claims;
pub mod evaluate;
pub mod pipeline;
pub mod tables;

pub use pipeline::{run, Difficulty, ModelResult, Options, Report};
