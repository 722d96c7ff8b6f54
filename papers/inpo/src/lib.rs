//! INPO: Iterative Nash Policy Optimization (Zhang et al., ICLR 2025), in miniature on the shared
//! nash harness.
//!
//! Read in this order: [`loss`] (the OMD square loss `(h_t − 1/(2η))²` against the geometric mix
//! of the SFT model and the previous iterate, as an objective of the shared engine reading its
//! `"initial"` and `"previous"` references; Prop. 6 on a tabular game), [`tournament`] (the
//! 11-comparison preference-model pair selection), [`recipe`] (PM and RM pairs on the harness's
//! groups), then [`pipeline`] (INPO, its ablations, iterative DPO and SPPO from the same `π_0`,
//! over seeds) and [`tables`] (Tables 1 and 3 in miniature, the claims).

pub mod config;
pub mod loss;
pub mod pipeline;
pub mod recipe;
pub mod tables;
pub mod tournament;
