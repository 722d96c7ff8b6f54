//! SimPO: Simple Preference Optimization with a Reference-Free Reward (Meng, Xia & Chen, NeurIPS 2024).
//!
//! Read in this order: [`loss`] (Eq. 4 and 6, as the authors' trainer computes them).

pub mod config;
pub mod loss;
pub mod objective;
pub mod plan;
