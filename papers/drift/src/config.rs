//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`); a wrong key is an error.

use crate::loss::DpoRpo;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::train::TrainConfig;
use shared::world::forms::FormsConfig;
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    /// libtorch CPU threads.
    pub threads: i32,
    /// The base must first learn the guided-improvement prompt form (`x <prev> y⁻ <fb> kind <improve>`).
    pub forms: FormsConfig,
    pub log: LogConfig,
    /// Iterations T of each method (spec: 3).
    pub iterations: usize,
    /// Sampling of y⁺ (gen-drift.py: T = 0.7, top-p 0.9).
    pub temperature: f64,
    pub top_p: f64,
    pub prompts_per_batch: usize,
    /// The first pairs written go to a test split, never trained on (spec: the first 100).
    pub test_pairs: usize,
    /// IterDPO's proxy reward model: oracle + N(0, noise²).
    pub rm_noise: f64,
    pub objective: DpoRpo,
    /// Stage 0: DPO on the seed DSAT→SAT pairs (spec: 3 epochs).
    pub seed_epochs: usize,
    /// Each iteration's training (one epoch); also stage 0's, at `seed_epochs`.
    pub train: TrainConfig,
    pub eval: EvalConfig,
    pub methods: Vec<Method>,
}

/// The simulated deployment log (the DSAT generator).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Prompts answered by π_base at T = 1 (spec: ≈ 2,000).
    pub prompts: usize,
    /// Fraction of DSAT items that come with an accepted revision (the 491 DSAT→SAT pairs: ≈ 0.5%).
    pub seed_fraction: f64,
    /// The simulated users (default: the world's, τ_dsat 0.5 / p 0.9, τ_sat 0.9 / p 0.4). Only the
    /// smoke scale changes them, so that its barely trained base still earns some SAT.
    #[serde(default)]
    pub users: Option<shared::world::users::UserConfig>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out prompts (spec: 256), from the world's fixed evaluation set.
    pub prompts: usize,
    /// Samples per open-answer prompt for diversity (spec: 16, at T = 1).
    pub diversity_samples: usize,
    /// Oracle score counted as correct for diversity (spec: 0.9).
    pub correct_at: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// rejected = the logged DSAT reply, chosen = a fresh sample of π_t.
    Drift,
    /// Two samples of π_t (one guided, one unguided) ranked by the proxy RM.
    IterDpo,
    /// chosen = a logged SAT reply (cycled), rejected = an unguided sample of π_t.
    Spin,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub kind: Kind,
    /// DRIFT: sample y⁺ given x ⊕ y⁻ ⊕ f ⊕ <improve> (true) or x alone (the unguided ablation).
    #[serde(default = "yes")]
    pub guided: bool,
}

fn yes() -> bool {
    true
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        self.forms.validate()?;
        if self.iterations == 0 || self.log.prompts == 0 || self.eval.prompts == 0 || self.eval.diversity_samples == 0 {
            bail!("iterations, log.prompts, eval.prompts and eval.diversity_samples must be ≥ 1");
        }
        if !(0.0..=1.0).contains(&self.log.seed_fraction) {
            bail!("log.seed_fraction must lie in [0, 1], got {}", self.log.seed_fraction);
        }
        if let Some(u) = &self.log.users {
            u.validate()?;
        }
        if !(self.temperature > 0.0) || !(self.top_p > 0.0 && self.top_p <= 1.0) {
            bail!("temperature must be > 0 and top_p in (0, 1]");
        }
        if !(self.rm_noise >= 0.0 && self.rm_noise.is_finite()) {
            bail!("rm_noise must be ≥ 0");
        }
        self.objective.validate()?;
        self.train.validate()?;
        if self.methods.is_empty() {
            bail!("no [[methods]]");
        }
        for k in [Kind::Drift, Kind::IterDpo, Kind::Spin] {
            if !self.methods.iter().any(|m| m.kind == k && (k != Kind::Drift || m.guided)) {
                bail!("the comparison needs a guided DRIFT, an IterDPO and a SPIN method; {k:?} is missing");
            }
        }
        let mut names: Vec<&str> = self.methods.iter().map(|m| m.name.as_str()).collect();
        names.sort();
        names.dedup();
        if names.len() != self.methods.len() {
            bail!("method names must be distinct");
        }
        Ok(())
    }

    /// The guided DRIFT method, the unguided one (if any), IterDPO and SPIN, by name.
    pub fn name_of(&self, kind: Kind, guided: bool) -> Option<&str> {
        self.methods.iter().find(|m| m.kind == kind && (kind != Kind::Drift || m.guided == guided)).map(|m| m.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_configs_load() {
        for name in ["mini", "smoke"] {
            MiniConfig::load(&config_dir().join(format!("{name}.toml"))).unwrap();
        }
    }

    #[test]
    fn a_wrong_key_is_a_clear_error() {
        shared::io::assert_typo_named(&config_dir().join("smoke.toml"), "rm_noise", "rm_noize", MiniConfig::load);
    }
}
