//! The miniature's TOML config (`configs/{smoke,mini}.toml`), deserialised with serde (a wrong key
//! is an error naming it) and validated on load.

use crate::objective::ReConfig;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
pub use shared::world::policy::{Decode, Sampling};
use shared::objectives::dpo::Dpo;
use shared::train::{Objective, TrainConfig};
use simpo::loss::SimpoConfig;
use simpo::objective::Simpo;
use std::path::{Path, PathBuf};

/// A compared method's objective: `{ type = "dpo", beta }`, `{ type = "simpo", beta,
/// gamma_beta_ratio }` or `{ type = "re", base = { type = "dpo", beta }, eta0, momentum }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MethodObjective {
    Dpo(Dpo),
    Simpo(SimpoConfig),
    Re(ReConfig),
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
            MethodObjective::Re(c) => Box::new(crate::objective::RePo::new(c.clone())?),
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub objective: MethodObjective,
    /// Overrides `train.schedule.lr`.
    #[serde(default)]
    pub lr: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    pub threads: i32,
    pub train_prompts: usize,
    /// Evaluation prompts used from the fixed mini AlpacaEval (all of them when absent).
    #[serde(default)]
    pub eval_prompts: Option<usize>,
    /// Fractions of labels flipped uniformly at random (the world knows which).
    pub noise: Vec<f64>,
    pub sampling: Sampling,
    pub decode: Decode,
    /// The trainer every method shares (equal budgets).
    pub train: TrainConfig,
    pub methods: Vec<Method>,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        if self.train.steps.is_some() || self.train.max_steps.is_some() {
            bail!("train: the miniature trains whole epochs (set `epochs`, not `steps` or `max_steps`)");
        }
        for m in &self.methods {
            m.objective.build().with_context(|| format!("method {}", m.name))?;
            if m.lr.is_some_and(|l| !(l > 0.0 && l.is_finite())) {
                bail!("method {}: lr must be positive", m.name);
            }
            if let MethodObjective::Re(r) = &m.objective {
                if r.annotators != 1 {
                    bail!("method {}: the miniature has one annotator (annotators = 1)", m.name);
                }
            }
        }
        let mut names: Vec<&str> = self.methods.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) || names.contains(&"SFT") || names.iter().any(|n| n.contains('/')) {
            bail!("methods: names must be unique, not \"SFT\", and without '/'");
        }
        if self.noise.is_empty() || self.noise.iter().any(|e| !(0.0..0.5).contains(e)) {
            bail!("noise: flip rates must lie in [0, 0.5), got {:?}", self.noise);
        }
        if self.sampling.samples < 2 || self.train_prompts == 0 {
            bail!("need ≥ 2 samples per prompt and ≥ 1 train prompt");
        }
        Ok(())
    }
}

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
            assert!(cfg.methods.iter().any(|m| matches!(&m.objective, MethodObjective::Re(r) if r.eta0 == 0.9 && r.momentum == 0.1)));
        }
        let dir = tempfile::tempdir().unwrap();
        let src = std::fs::read_to_string(config_dir().join("smoke.toml")).unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, src.replacen("eta0 = 0.9", "eta_0 = 0.9", 1)).unwrap();
        let err = format!("{:#}", MiniConfig::load(&p).unwrap_err());
        assert!(err.contains("eta_0") && err.contains("bad.toml"), "{err}");
        std::fs::write(&p, src.replacen("eta0 = 0.9", "eta0 = 0.4", 1)).unwrap();
        assert!(format!("{:#}", MiniConfig::load(&p).unwrap_err()).contains("eta0"));
    }
}
