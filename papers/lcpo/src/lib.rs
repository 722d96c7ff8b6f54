//! LCPO / RE-PO (Cao et al. 2025): every preference label may be wrong; a latent "this label is
//! right" variable is estimated by EM, so that labels the model finds implausible count less.
//!
//! Read in this order:
//! 1. [`link`]: the Gibbs link from a pairwise loss to a preference probability (Eq. 2) for DPO,
//!    IPO, SimPO and CPO, the posterior (Eq. 4) and the EMA of the reliability (Eq. 7);
//! 2. [`objective`]: the RE objective (Eq. 5) on the engine, with the annotators' reliabilities η
//!    as its own state, updated once per optimiser batch through `Objective::observe`;
//! 3. [`em`]: the population EM operator of Thm 4.1 (spec test vector 7);
//! 4. [`config`], [`pipeline`] (clean oracle pairs, flipped copies, every method, posterior
//!    checks) and [`tables`] (claims over seeds).

pub mod em;
pub mod link;
pub mod objective;
pub mod config;
pub mod pipeline;
pub mod tables;
