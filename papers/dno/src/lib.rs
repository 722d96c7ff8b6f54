//! DNO: Direct Nash Optimization (Rosset et al., 2024), in miniature on the shared nash harness.
//!
//! Read in this order: [`pairs`] (DNO-Prct's data rules as pure functions: the large-margin pairs
//! with student-beats-teacher pairs, the Restrictive/SPIN/iterative-DPO variants, Algorithm 2's
//! win-rate annotation), [`loss`] (the contrastive update against the previous iterate, eq. 13,
//! and Algorithm 1's two-sided BCE, as objectives of the shared engine), [`recipe`] (the rules on
//! the harness's groups: rubric scores of 5 students + the teacher's gold answer, replay of
//! earlier pairs), then [`pipeline`] (every method from `π_0` on the shared on-policy loop,
//! over seeds) and [`tables`] (Tables 1, 2 and the Table 4 trend in miniature, the claims).

pub mod config;
pub mod loss;
pub mod pairs;
pub mod pipeline;
pub mod recipe;
pub mod tables;
