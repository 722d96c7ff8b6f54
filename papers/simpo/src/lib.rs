//! SimPO: Simple Preference Optimization with a Reference-Free Reward (Meng, Xia & Chen, NeurIPS 2024).
//!
//! Read in this order: [`loss`] (Eq. 4 and 6, as the authors' trainer computes them), [`objective`],
//! then [`paper`] (the paper-scale path: HF checkpoint + UltraFeedback parquet through the shared
//! trainer), [`plan`] (`--dry-run`: memory and time per setting and mode), [`export`] (the same
//! setting as a TRL + accelerate + DeepSpeed recipe) and [`leaderboard`] (the published AlpacaEval
//! artifacts, recomputed offline).

pub mod config;
pub mod export;
pub mod loss;
pub mod methods;
pub mod leaderboard;
pub mod mini;
pub mod objective;
pub mod paper;
pub mod pipeline;
pub mod plan;
pub mod tables;
