//! The Nash family's shared harness, `nash-mini` (the same definition in the sppo, dno and inpo
//! specs): one world, one intransitive preference with its label channels, disjoint prompt
//! splits, per-iteration sampling, one annotator on the shared on-policy loop, one evaluation.
//! A paper crate brings only its [`group::Recipe`] (how a group of samples becomes training
//! examples) and its objective.
//!
//! Read in this order: [`group`] (what a recipe sees: groups of responses and the oracle's
//! channels), [`preference`] (the nash-mini preference, the BT reward, the rubric, the teacher),
//! [`harness`] (splits, sampling, seeds), [`annotator`] (the annotator and the evaluation after
//! each iteration), [`run`] (one seed of a paper's methods), [`tables`] (per-prompt records,
//! the shared tables and claim helpers), [`family`] (what a paper crate writes: its method table
//! and tables; the config, the driver and `--scale paper` follow), [`paper`] (the loop on
//! Hugging Face checkpoints) and [`compare`] (the three papers side by side).

pub mod annotator;
pub mod compare;
pub mod family;
pub mod group;
pub mod harness;
pub mod paper;
pub mod preference;
pub mod run;
pub mod tables;

pub use group::{Group, Labelled, Oracle, Recipe};
pub use harness::{Config, EvalConfig, Harness};
pub use preference::{NashPreference, Teacher, WorldOracle};
pub use run::{Method, MethodOutcome, Outcome};
