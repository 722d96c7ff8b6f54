//! Configs: TOML files, deserialised with serde (a wrong key is an error naming it) and validated
//! on load. `configs/{smoke,mini}.toml` hold the miniature; `configs/paper/*.toml` the paper's
//! settings ([`crate::paper::PaperConfig`]).

use crate::loss::{Tgdpo, TgdpoConfig};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
pub use shared::world::policy::{Decode, Sampling};
use shared::objectives::dpo::Dpo;
use shared::train::{Objective, TrainConfig};
use simpo::loss::SimpoConfig;
use simpo::objective::Simpo;
use std::path::{Path, PathBuf};

/// A compared method's objective: `{ type = "dpo", beta }`, `{ type = "simpo", beta,
/// gamma_beta_ratio }` or `{ type = "tgdpo", beta, alpha }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MethodObjective {
    Dpo(Dpo),
    Simpo(SimpoConfig),
    Tgdpo(TgdpoConfig),
}

impl MethodObjective {
    pub fn build(&self) -> Result<Box<dyn Objective>> {
        Ok(match self {
            MethodObjective::Dpo(c) => {
                c.validate()?;
                Box::new(c.clone())
            }
            MethodObjective::Simpo(c) => {
                c.validate().map_err(anyhow::Error::msg)?;
                Box::new(Simpo(c.clone()))
            }
            MethodObjective::Tgdpo(c) => {
                c.validate()?;
                Box::new(Tgdpo(c.clone()))
            }
        })
    }
}

/// One compared method: a name, its objective and (optionally) its own learning rate.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub objective: MethodObjective,
    /// Overrides `train.schedule.lr` (SimPO's per-token-mean reward needs another rate).
    #[serde(default)]
    pub lr: Option<f64>,
}

/// The token-level reward model π_dpo: DPO from the SFT model on the same pairs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardModelConfig {
    pub beta: f64,
    pub epochs: usize,
    pub lr: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    /// libtorch CPU threads (results depend on it; recorded with them).
    pub threads: i32,
    pub train_prompts: usize,
    /// Held-out prompts on which each method's best epoch is chosen (never the evaluation set).
    pub val_prompts: usize,
    /// Evaluation prompts used from the fixed mini AlpacaEval (all of them when absent).
    #[serde(default)]
    pub eval_prompts: Option<usize>,
    /// Planted-defect probes for the token-reward sanity check.
    pub probes: usize,
    pub sampling: Sampling,
    pub reward_model: RewardModelConfig,
    pub decode: Decode,
    /// The trainer every method shares (equal budgets): `epochs` is the "train to convergence" length.
    pub train: TrainConfig,
    pub methods: Vec<Method>,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        if self.train.steps.is_some() {
            bail!("train.steps: the miniature trains whole epochs (set `epochs`)");
        }
        if self.train.epochs < 2 {
            bail!("train.epochs must be ≥ 2: the best epoch and the last one are compared");
        }
        for m in &self.methods {
            m.objective.build().with_context(|| format!("method {}", m.name))?;
            if m.lr.is_some_and(|l| !(l > 0.0 && l.is_finite())) {
                bail!("method {}: lr must be positive", m.name);
            }
        }
        if !self.methods.iter().any(|m| m.name == "DPO" && matches!(m.objective, MethodObjective::Dpo(_))) {
            bail!("methods: the comparison needs a DPO method named \"DPO\"");
        }
        if !self.methods.iter().any(|m| matches!(m.objective, MethodObjective::Tgdpo(_))) {
            bail!("methods: no TGDPO method");
        }
        let mut names: Vec<&str> = self.methods.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) || names.contains(&"SFT") {
            bail!("methods: names must be unique and not \"SFT\"");
        }
        if self.sampling.samples < 2 || self.train_prompts == 0 || self.val_prompts == 0 || self.probes == 0 {
            bail!("need ≥ 2 samples per prompt and ≥ 1 train prompt, validation prompt and probe");
        }
        let rm = &self.reward_model;
        if !(rm.beta > 0.0 && rm.lr > 0.0 && rm.epochs >= 1) {
            bail!("reward_model: beta and lr must be positive and epochs ≥ 1");
        }
        Ok(())
    }
}

/// The folder of this crate's configs.
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_configs_load_and_bad_keys_are_named() {
        for name in ["mini", "smoke"] {
            let cfg = MiniConfig::load(&config_dir().join(format!("{name}.toml"))).unwrap();
            assert!(cfg.methods.iter().any(|m| matches!(m.objective, MethodObjective::Tgdpo(ref t) if t.alpha == 0.5)));
        }
        let dir = tempfile::tempdir().unwrap();
        let src = std::fs::read_to_string(config_dir().join("smoke.toml")).unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, src.replacen("alpha = 0.5", "alfa = 0.5", 1)).unwrap();
        let err = format!("{:#}", MiniConfig::load(&p).unwrap_err());
        assert!(err.contains("alfa") && err.contains("bad.toml"), "{err}");
        std::fs::write(&p, src.replace("epochs = 3", "epochs = 1")).unwrap();
        assert!(format!("{:#}", MiniConfig::load(&p).unwrap_err()).contains("epochs"));
    }
}
