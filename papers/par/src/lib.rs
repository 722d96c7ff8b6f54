//! PAR: Preference As Reward (Fu et al. 2025, arXiv 2502.18770), in the miniature world.
//!
//! PPO against a learned proxy reward is hacked: the proxy keeps rising while true quality falls.
//! PAR shapes the RL reward as the sigmoid of the proxy score minus the scores of reference
//! responses sampled once from the SFT model, `(1/M) Σ_m σ(r̃ − r̃_ref^m)`: bounded, fast at
//! first, then saturating, and centred.
//!
//! Read in this order:
//! 1. [`shaping`]: PAR and every baseline shaping as pure functions (spec test vectors 1–8).
//! 2. [`reward`]: a method's RL reward: proxy RM → length penalty → shaping (running stats).
//! 3. [`pipeline`]: base, hackable proxy, references, evaluation, one PPO run per method
//!    (`shared::rl`, the project's PPO: spec test vector 9 is tested there).
//! 4. [`tables`]: the win-rate table, the robustness curves, the claims.

pub mod config;
pub mod paper;
pub mod pipeline;
pub mod reward;
pub mod shaping;
pub mod tables;
