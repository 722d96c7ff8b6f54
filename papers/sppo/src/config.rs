//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`); a wrong key is an error.

use crate::loss::Objective;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::train::TrainConfig;
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    /// libtorch CPU threads (results depend on it; recorded with them).
    pub threads: i32,
    /// Iterations, one disjoint prompt split each.
    pub iterations: usize,
    /// Prompts per split.
    pub prompts_per_split: usize,
    /// K: samples per prompt.
    pub samples: usize,
    /// Sampling of the training data (spec: T = 1, top-p 1).
    pub temperature: f64,
    pub top_p: f64,
    /// Prompts per generation call.
    pub prompts_per_batch: usize,
    pub eval: Eval,
    /// One iteration's training (spec: 1 epoch, AdamW, batch 16, 10% warm-up then constant);
    /// each method's `lr` replaces `schedule.lr`.
    pub train: TrainConfig,
    pub methods: Vec<Method>,
}

/// Evaluation after each iteration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eval {
    /// Prompts used from the world's fixed evaluation set.
    pub prompts: usize,
    /// Sample pairs per prompt for `WR_base` / `WR_prev` / KL-hat (spec: 4).
    pub samples: usize,
    /// Decoding temperature of the standard mini AlpacaEval of the final iterates.
    pub alpaca_temperature: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub lr: f64,
    pub objective: Objective,
}

impl MiniConfig {
    /// Method `m`'s training config: the shared one at the method's learning rate.
    pub fn train_for(&self, m: &Method) -> TrainConfig {
        let mut t = self.train.clone();
        t.schedule.lr = m.lr;
        t
    }

    pub fn load(path: &Path) -> Result<Self> {
        let cfg: MiniConfig = shared::io::read_toml(path)?;
        cfg.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        if self.iterations == 0 || self.prompts_per_split == 0 {
            bail!("iterations and prompts_per_split must be ≥ 1");
        }
        if self.samples < 2 || self.eval.samples == 0 || self.eval.prompts == 0 {
            bail!("samples must be ≥ 2, eval.samples and eval.prompts ≥ 1");
        }
        if self.temperature.is_nan() || self.temperature <= 0.0 || self.top_p.is_nan() || self.top_p <= 0.0 || self.top_p > 1.0 {
            bail!("temperature must be > 0 and top_p in (0, 1]");
        }
        self.train.validate()?;
        if self.train.max_length.is_none() {
            bail!("train: set max_length and max_prompt_length (the spec truncates as TRL does)");
        }
        if self.methods.is_empty() {
            bail!("no [[methods]]");
        }
        for m in &self.methods {
            if !(m.lr > 0.0 && m.lr.is_finite()) {
                bail!("method {:?}: lr must be > 0, got {}", m.name, m.lr);
            }
            m.objective.validate().with_context(|| format!("method {:?}", m.name))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_configs_load() {
        for name in ["mini", "smoke"] {
            let cfg = MiniConfig::load(&config_dir().join(format!("{name}.toml"))).unwrap();
            assert!(cfg.methods.iter().any(|m| matches!(m.objective, Objective::Sppo(_))));
        }
    }

    #[test]
    fn a_wrong_key_is_a_clear_error() {
        let text = std::fs::read_to_string(config_dir().join("smoke.toml")).unwrap().replace("prompts_per_split", "prompts_per_splitt");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text).unwrap();
        let e = format!("{:#}", MiniConfig::load(&p).unwrap_err());
        assert!(e.contains("prompts_per_splitt"), "{e}");
    }
}
