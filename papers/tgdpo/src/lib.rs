//! TGDPO (Zhu et al., ICML 2025): DPO whose every token has its own weight, taken from the token
//! reward of an already trained DPO model.
//!
//! Read in this order:
//! 1. [`loss`]: the objective (spec "Loss", the authors' `dpo_loss`), with the spec's test vectors;
//! 2. [`rewards`]: the token rewards `Δ_t = log π_dpo − log π_ref`, carried as token weights;
//! 3. [`config`]: the miniature's TOML config;
//! 4. [`pipeline`]: SFT base → on-policy pairs ranked by the oracle → π_dpo → DPO / TGDPO / SimPO
//!    trained with equal budgets, evaluated after every epoch (best and converged);
//! 5. [`tables`]: the paper's numbers beside the miniature's, claims decided over seeds.

pub mod config;
pub mod loss;
pub mod pipeline;
pub mod rewards;
pub mod tables;
