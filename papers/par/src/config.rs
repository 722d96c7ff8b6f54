//! The miniature's config (TOML, unknown keys rejected, validated on load): the hackable proxy,
//! the prompts, the stored references, the evaluation, the PPO run every method shares, and the
//! methods (each a [`Shaping`]).

use crate::shaping::Shaping;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::rl::RlConfig;
use shared::world::proxy::ProxyConfig;
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub shaping: Shaping,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthPenalty {
    /// Tokens (`gen_valid_len`, 300 at paper scale).
    pub threshold: usize,
    /// Per token over the threshold (`len_penalty`, 0.01).
    pub coef: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    /// libtorch CPU threads.
    pub threads: i32,
    /// Training prompts (PPO passes over them `rl.epochs` times).
    pub prompts: usize,
    /// Reference responses sampled once per prompt from the SFT model (the largest M of any method).
    pub references: usize,
    /// Held-out prompts of the evaluation.
    pub eval_prompts: usize,
    pub length_penalty: LengthPenalty,
    pub proxy: ProxyConfig,
    pub rl: RlConfig,
    pub methods: Vec<Method>,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        if self.prompts == 0 || self.eval_prompts == 0 || self.references == 0 {
            bail!("prompts, eval_prompts and references must be ≥ 1");
        }
        if self.methods.is_empty() {
            bail!("no methods");
        }
        for m in &self.methods {
            if let Shaping::Par { m: k, .. } = m.shaping {
                if k == 0 || k > self.references {
                    bail!("method {}: PAR reads M = {k} references but {} are sampled per prompt", m.name, self.references);
                }
            }
            if m.name.is_empty() || self.methods.iter().filter(|o| o.name == m.name).count() > 1 {
                bail!("method names must be non-empty and unique ({:?})", m.name);
            }
        }
        if self.rl.algorithm != shared::rl::Algorithm::Ppo {
            bail!("PAR's runs are PPO (rl.algorithm = \"ppo\")");
        }
        self.proxy.validate()?;
        self.rl.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configs_load_and_bad_keys_are_named() {
        for f in ["smoke.toml", "mini.toml"] {
            MiniConfig::load(&config_dir().join(f)).unwrap();
        }
        let text = std::fs::read_to_string(config_dir().join("smoke.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text.replace("eval_prompts", "eval_prompt")).unwrap();
        let e = format!("{:#}", MiniConfig::load(&p).unwrap_err());
        assert!(e.contains("eval_prompt"), "{e}");
        std::fs::write(&p, text.replace("type = \"par\", m = 1", "type = \"par\", m = 99")).unwrap();
        let e = format!("{:#}", MiniConfig::load(&p).unwrap_err());
        assert!(e.contains("M = 99"), "{e}");
    }
}
