//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`): the shared nash-mini
//! harness (`[harness]`), K, and the methods; a wrong key is an error.

use crate::loss::Objective;
use crate::recipe::Pairs;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::nash::{self, family::MethodSpec};
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// The config: K (spec: 8; the tournament needs a power of two), the shared harness (`[harness]`), the methods.
pub type MiniConfig = nash::family::MiniConfig<Method>;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub lr: f64,
    pub objective: Objective,
    /// How the pair is chosen: `pm` (tournament), `rm` (BT reward), `sppo` (SPPO's own rule).
    pub pairs: Pairs,
}

impl MethodSpec for Method {
    fn name(&self) -> &str {
        &self.name
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn check(&self) -> Result<()> {
        self.objective.validate()?;
        if matches!(self.objective, Objective::Sppo(_)) != (self.pairs == Pairs::Sppo) {
            bail!("the sppo objective trains on SPPO's own pairs and only on them (pairs = \"sppo\")");
        }
        Ok(())
    }
    fn build(&self, samples: usize, train: shared::train::TrainConfig) -> nash::Method<'static> {
        crate::pipeline::method(samples, self, train)
    }
    fn check_samples(k: usize) -> anyhow::Result<()> {
        if k < 2 || !k.is_power_of_two() {
            anyhow::bail!("samples must be a power of two ≥ 2 (the PM tournament pairs them off), got {k}");
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
