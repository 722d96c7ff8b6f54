//! The miniature (spec "Miniature reproduction (proposal)", harness `nash-mini`): for each seed,
//! the shared harness ([`shared::nash`]: the world's cached SFT base `π_0`, the nash-mini
//! general preference `P(y ≻ y') = σ(6(q − q') + 1.5 R(st, st') + 0.5 tanh((|y| − |y'|)/8))`,
//! three disjoint prompt splits, the evaluation) runs every method of the config: SPPO's recipe
//! ([`crate::recipe`]) and its objective ([`crate::loss`]) on the shared on-policy loop, three
//! iterations against the frozen `π_t`. Iteration 1 samples `π_0` once, so every method trains on
//! identical pairs there; later iterations are on-policy for each method.
//!
//! Each seed's iterates live under `<runs>/<scale>-<hash of config and seed>/<method>/iter-<t>/`;
//! a rerun loads the finished iterations and continues after the last one.

use crate::config::MiniConfig;
use crate::recipe::SppoRecipe;
use anyhow::Result;
use shared::cli::Scale;
use shared::nash::{self, Harness, Method, Outcome};
use std::path::{Path, PathBuf};

/// Where one seed's iterates live: `runs_root/<scale>-<hash of config and seed>`, so a changed
/// config never reuses a stale iterate.
pub fn run_dir(runs_root: &Path, cfg: &MiniConfig, scale: Scale, seed: u64) -> PathBuf {
    nash::run::run_dir(runs_root, &toml::to_string(cfg).unwrap_or_default(), scale, seed)
}

/// One method of a config (K samples per prompt, trained by `train`), for the harness; the
/// paper-scale path builds its method with the same function.
pub fn method(samples: usize, m: &crate::config::Method, train: shared::train::TrainConfig) -> Method<'static> {
    Method { name: m.name.clone(), train, objective: m.objective.build(), recipe: Box::new(SppoRecipe { samples, objective: m.objective.clone() }) }
}

/// The methods of the config, for the harness.
pub fn methods(cfg: &MiniConfig) -> Vec<Method<'static>> {
    cfg.methods.iter().map(|m| method(cfg.samples, m, cfg.harness.train_at(m.lr))).collect()
}

/// One seed of the whole miniature.
pub fn run(cfg: &MiniConfig, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<Outcome> {
    let h = Harness::new(&cfg.harness, scale, seed, device)?;
    Ok(nash::run::run(&h, methods(cfg), &run_dir(runs_root, cfg, scale, seed))?)
}
