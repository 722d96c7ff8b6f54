//! The miniature (spec "Miniature reproduction (proposal)", harness `nash-mini`): for each seed,
//! the shared harness ([`shared::nash`]: the world's cached SFT base `π_0`, three disjoint prompt
//! splits, the evaluation) runs every method of the config on the shared on-policy loop: INPO's
//! recipe ([`crate::recipe`]: K = 8 samples, one tournament or reward-model pair per prompt) and
//! objective ([`crate::loss`]: the square loss against `π_ref^(τ/η) π_t^(1−τ/η)`, reading the
//! engine's `"initial"` and `"previous"` references), the iterative-DPO baseline on the same
//! pairs, and SPPO with its own recipe and loss (the sppo crate) on the same samples. Iteration 1
//! samples `π_0` once and labels with one stream, so every method sees identical samples there
//! and methods with the same rule train on identical pairs.

use crate::config::MiniConfig;
use crate::loss::Objective;
use crate::recipe::{InpoRecipe, Pairs};
use anyhow::Result;
use shared::cli::Scale;
use shared::nash::{self, Harness, Method, Outcome, Recipe};
use std::path::{Path, PathBuf};

/// Where one seed's iterates live (keyed by the config and seed).
pub fn run_dir(runs_root: &Path, cfg: &MiniConfig, scale: Scale, seed: u64) -> PathBuf {
    nash::run::run_dir(runs_root, &toml::to_string(cfg).unwrap_or_default(), scale, seed)
}

/// The methods of the config, for the harness.
pub fn methods(cfg: &MiniConfig) -> Vec<Method<'static>> {
    cfg.methods.iter().map(|m| method(cfg.samples, m, cfg.harness.train_at(m.lr))).collect()
}

/// One method of a config (K samples per prompt, trained by `train`), for the harness; the
/// paper-scale path builds its method with the same function.
pub fn method(samples: usize, m: &crate::config::Method, train: shared::train::TrainConfig) -> Method<'static> {
    let recipe: Box<dyn Recipe> = match (&m.objective, m.pairs) {
        (Objective::Sppo(s), _) => Box::new(sppo::recipe::SppoRecipe { samples, objective: sppo::loss::Objective::Sppo(s.clone()) }),
        (_, pairs) => Box::new(InpoRecipe { samples, pairs }),
    };
    debug_assert!(m.pairs != Pairs::Sppo || matches!(m.objective, Objective::Sppo(_)));
    Method { name: m.name.clone(), train, objective: m.objective.build(), recipe }
}

/// One seed of the whole miniature.
pub fn run(cfg: &MiniConfig, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<Outcome> {
    let h = Harness::new(&cfg.harness, scale, seed, device)?;
    Ok(nash::run::run(&h, methods(cfg), &run_dir(runs_root, cfg, scale, seed))?)
}
