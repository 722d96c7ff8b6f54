//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`): the shared nash-mini
//! harness (`[harness]`, with the teacher), K, and the methods; a wrong key is an error.

use crate::loss::Objective;
use crate::recipe::{Annotate, RecipeConfig};
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
    /// K: student samples per prompt (spec: 5, plus the teacher's gold answer).
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
    pub recipe: RecipeConfig,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let cfg: MiniConfig = shared::io::read_toml(path)?;
        cfg.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        if self.samples < 2 {
            bail!("samples must be ≥ 2 (K student samples per prompt), got {}", self.samples);
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
        let ctx = || format!("method {:?}", self.name);
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("method {:?}: lr must be > 0, got {}", self.name, self.lr);
        }
        self.objective.validate().with_context(ctx)?;
        self.recipe.validate().with_context(ctx)?;
        if matches!(self.objective, Objective::Bce { .. }) && self.recipe.annotate != Annotate::Winrate {
            bail!("method {:?}: the Algorithm-1 BCE objective regresses onto win rates; set recipe.annotate = \"winrate\"", self.name);
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
        let bad = text.replacen("samples = 5", "samples = 5\nbogus = 1", 1);
        let e = toml::from_str::<MiniConfig>(&bad).unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
        let mut cfg: MiniConfig = toml::from_str(&text).unwrap();
        cfg.methods[0].objective = Objective::Bce { eta: 0.1 };
        assert!(cfg.validate().unwrap_err().to_string().contains("winrate"));
    }
}
