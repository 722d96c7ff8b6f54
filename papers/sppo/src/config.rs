//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`): the shared nash-mini
//! harness (`[harness]`), K, and the methods; a wrong key is an error.

use crate::loss::Objective;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::nash;
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    /// K: samples per prompt (spec: 5).
    pub samples: usize,
    /// The shared harness: splits, sampling, training, evaluation.
    pub harness: nash::Config,
    pub methods: Vec<Method>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub lr: f64,
    pub objective: Objective,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let cfg: MiniConfig = shared::io::read_toml(path)?;
        cfg.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        if self.samples < 2 {
            bail!("samples must be ≥ 2 (K samples per prompt), got {}", self.samples);
        }
        self.harness.validate()?;
        if self.methods.is_empty() {
            bail!("no [[methods]]");
        }
        let mut names = std::collections::HashSet::new();
        for m in &self.methods {
            if !names.insert(shared::nash::run::slug(&m.name)) {
                bail!("method {:?}: two methods with the same name", m.name);
            }
            m.validate()?;
        }
        Ok(())
    }
}

impl Method {
    /// One method's settings (also the paper-scale config's `[method]`).
    pub fn validate(&self) -> Result<()> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("method {:?}: lr must be > 0, got {}", self.name, self.lr);
        }
        self.objective.validate().with_context(|| format!("method {:?}", self.name))
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
