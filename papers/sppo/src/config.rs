//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`): the shared nash-mini
//! harness (`[harness]`), K, and the methods; a wrong key is an error.

use crate::loss::Objective;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use shared::nash::{self, family::MethodSpec};
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// The config: K (spec: 5), the shared harness (`[harness]`), the methods.
pub type MiniConfig = nash::family::MiniConfig<Method>;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub lr: f64,
    pub objective: Objective,
}

impl MethodSpec for Method {
    fn name(&self) -> &str {
        &self.name
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn check(&self) -> Result<()> {
        self.objective.validate()
    }
    fn build(&self, samples: usize, train: shared::train::TrainConfig) -> nash::Method<'static> {
        crate::pipeline::method(samples, self, train)
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
        shared::io::assert_typo_named(&config_dir().join("smoke.toml"), "prompts_per_split", "prompts_per_splitt", MiniConfig::load);
    }
}
