//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`): the shared nash-mini
//! harness (`[harness]`), K, and the methods; a wrong key is an error.

use crate::loss::Objective;
use crate::recipe::Pairs;
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
    /// K: samples per prompt (spec: 8; the tournament needs a power of two).
    pub samples: usize,
    pub harness: nash::Config,
    pub methods: Vec<Method>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub lr: f64,
    pub objective: Objective,
    /// How the pair is chosen: `pm` (tournament), `rm` (BT reward), `sppo` (SPPO's own rule).
    pub pairs: Pairs,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let cfg: MiniConfig = shared::io::read_toml(path)?;
        cfg.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        if self.samples < 2 || !self.samples.is_power_of_two() {
            bail!("samples must be a power of two ≥ 2 (the PM tournament pairs them off), got {}", self.samples);
        }
        self.harness.validate()?;
        if self.methods.is_empty() {
            bail!("no [[methods]]");
        }
        let mut names = std::collections::HashSet::new();
        for m in &self.methods {
            if !names.insert(nash::run::slug(&m.name)) {
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
        self.objective.validate().with_context(|| format!("method {:?}", self.name))?;
        if matches!(self.objective, Objective::Sppo(_)) != (self.pairs == Pairs::Sppo) {
            bail!("method {:?}: the sppo objective trains on SPPO's own pairs and only on them (pairs = \"sppo\")", self.name);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_configs_load() {
        for f in ["smoke.toml", "mini.toml"] {
            MiniConfig::load(&config_dir().join(f)).unwrap();
        }
    }

    #[test]
    fn a_wrong_key_or_value_is_an_error() {
        let text = std::fs::read_to_string(config_dir().join("smoke.toml")).unwrap();
        let e = toml::from_str::<MiniConfig>(&text.replacen("samples = 8", "samples = 8\nbogus = 1", 1)).unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
        let mut cfg: MiniConfig = toml::from_str(&text).unwrap();
        cfg.samples = 6;
        assert!(cfg.validate().unwrap_err().to_string().contains("power of two"));
        cfg.samples = 8;
        cfg.methods[0].pairs = Pairs::Sppo;
        assert!(cfg.validate().is_err());
    }
}
