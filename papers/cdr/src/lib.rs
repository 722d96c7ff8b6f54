//! CDR: Customizable Density Ratios of strong-over-weak LLMs for preference annotation (Xu, Xu,
//! Sudalairaj, Wang, Srivastava; arXiv 2411.02481, later "Dr. SoW").
//!
//! Read in this order: [`ratio`] (the reward `log π_s(y|x) − log π_w(y|x)`, its mean-normalised
//! variant, the Bradley–Terry probability, the best-vs-worst pair rule), [`rewardbench`]
//! (RewardBench's subsets, section weights and overall score), then [`paper`] (scoring a
//! RewardBench-format preference set with two Hugging Face checkpoints: the same text for both,
//! rendered with the strong model's template, summed over each model's own response tokens).
//!
//! Not built yet: the miniature (the model zoo of graded strength, the strong-over-weak study,
//! the domain customisation and the SimPO run on CDR labels).

pub mod paper;
pub mod ratio;
pub mod rewardbench;
