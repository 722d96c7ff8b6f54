//! Adaptive Inference-Time Compute: LLMs Can Predict if They Can Do Better, Even Mid-Generation
//! (Manvi, Singh, Ermon; arXiv 2410.02725).
//!
//! Read in this order: [`targets`] (what the self-evaluation predicts: leave-one-out
//! P(another own sample is strictly better)), [`selfeval`] (the appended question, the one-token
//! answer, `p̂ = P(yes) / (P(yes) + P(no))`, and the objective `L_eval + λ L_keep` for the shared
//! engine), [`select`] (best-of-N, adaptive sampling with annealing, pruning, AUROC), then
//! [`pipeline`] (the miniature, one seed), [`tables`] (claims over seeds, curves) and [`paper`]
//! (the paper-scale recipe: the question as a chat turn of a Hugging Face model).

pub mod config;
pub mod paper;
pub mod pipeline;
pub mod select;
pub mod selfeval;
pub mod tables;
pub mod targets;
