//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`): the shared nash-mini
//! harness (`[harness]`, with the teacher), K, and the methods; a wrong key is an error.

use crate::loss::Objective;
use crate::recipe::{Annotate, RecipeConfig};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::nash::{self, family::MethodSpec};
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// The config: K (spec: 5 students, plus the teacher's answer), the shared harness (`[harness]`), the methods.
pub type MiniConfig = nash::family::MiniConfig<Method>;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub lr: f64,
    pub objective: Objective,
    pub recipe: RecipeConfig,
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
        self.recipe.validate()?;
        if matches!(self.objective, Objective::Bce { .. }) && self.recipe.annotate != Annotate::Winrate {
            bail!("the Algorithm-1 BCE objective regresses onto win rates; set recipe.annotate = \"winrate\"");
        }
        Ok(())
    }
    fn build(&self, samples: usize, train: shared::train::TrainConfig) -> nash::Method<'static> {
        crate::pipeline::method(samples, self, train)
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
        let e = format!("{:#}", cfg.validate().unwrap_err());
        assert!(e.contains("method \"DNO\"") && e.contains("winrate"), "{e}");
    }
}
