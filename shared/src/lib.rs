//! The shared crate: everything two or more papers need.
//!
//! - [`model`]: one decoder-only transformer for the Hugging Face Llama, Qwen2 and
//!   Mistral families, its config and weights loading, generation and scoring.
//! - [`tokenize`]: tokenizers and the chat templates of those families.
//! - [`hub`]: Hugging Face hub access (standard cache, offline, local folders).
//! - [`world`]: the miniature instruction world every training paper runs on.
//! - [`objectives`]: the baseline preference losses (DPO, IPO, CPO, KTO, ...).
//! - [`nash`]: the Nash family's self-play harness (SPPO, DNO, INPO) on the miniature world.
//! - [`train`]: the SFT, pairwise, reward-model and on-policy trainers.
//! - [`rl`]: the rollout trainer (PPO, GRPO) on the same engine, rewards and their shaping.
//! - [`api`]: the OpenAI-compatible client, server, judges behind it, and samplers.
//! - [`eval`]: win rates, the length-controlled GLM, correlations, AlpacaEval loaders.
//! - [`report`], [`io`], [`progress`], [`cli`], [`device`]: tables, atomic files, progress
//!   bars, the command line every paper binary shares, and device set-up.
//! - [`stats`]: how claims are decided (per-prompt records, paired differences, the
//!   seed-stratified bootstrap, verdicts, the claims ledger, numbers compared within their
//!   intervals). It is its own pure-Rust crate (`shared/stats/`) so that the runner, which never
//!   links libtorch, reads the same files with the same code; re-exported here.

pub mod api;
pub mod cli;
pub mod data;
pub mod device;
pub mod driver;
pub mod error;
pub mod eval;
pub mod hub;
pub mod io;
pub mod model;
pub mod nash;
pub mod objectives;
pub mod plot;
pub mod progress;
pub mod report;
pub mod rl;
pub mod tokenize;
pub mod train;
pub mod world;

pub use error::{Error, Result};
pub use stats;
