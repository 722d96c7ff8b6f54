//! The miniature (spec "Miniature reproduction (proposal)", harness `nash-mini`): for each seed,
//! the shared harness ([`shared::nash`]: the world's cached SFT base `π_0`, the teacher, three
//! disjoint prompt splits, the evaluation) runs every method of the config: DNO's recipe
//! ([`crate::recipe`]: rubric annotation of 5 students + gold, the variant's pair rule, replay)
//! and its objective ([`crate::loss`]: DPO against `π_t`) on the shared on-policy loop. Iteration
//! 1 samples `π_0` once and annotates with one label stream, so every variant's iteration-1
//! candidates and scores are identical; later iterations are on-policy for each method.

use crate::config::MiniConfig;
use crate::recipe::DnoRecipe;
use anyhow::Result;
use shared::cli::Scale;
use shared::nash::{self, Harness, Method, Outcome};
use std::path::{Path, PathBuf};

/// Where one seed's iterates live (keyed by the config and seed).
pub fn run_dir(runs_root: &Path, cfg: &MiniConfig, scale: Scale, seed: u64) -> PathBuf {
    nash::run::run_dir(runs_root, &toml::to_string(cfg).unwrap_or_default(), scale, seed)
}

/// The methods of the config, for the harness.
pub fn methods(cfg: &MiniConfig) -> Vec<Method<'static>> {
    cfg.methods.iter().map(|m| method(cfg.samples, m, cfg.harness.train_at(m.lr))).collect()
}

/// One method of a config (K student samples per prompt, trained by `train`), for the harness;
/// the paper-scale path builds its method with the same function.
pub fn method(samples: usize, m: &crate::config::Method, train: shared::train::TrainConfig) -> Method<'static> {
    Method { name: m.name.clone(), train, objective: m.objective.build(), recipe: Box::new(DnoRecipe::new(samples, m.recipe.clone())) }
}

/// One seed of the whole miniature.
pub fn run(cfg: &MiniConfig, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<Outcome> {
    let h = Harness::new(&cfg.harness, scale, seed, device)?;
    Ok(nash::run::run(&h, methods(cfg), &run_dir(runs_root, cfg, scale, seed))?)
}
