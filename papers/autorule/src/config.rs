//! The miniature's config (TOML, unknown keys rejected, validated on load).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::rl::RlConfig;
use shared::world::proxy::ProxyConfig;
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// What a method adds to the standardised proxy RM score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extra {
    /// RM only (the GRPO baseline).
    None,
    /// `+ 10·(frac − 0.75)` with the mined rules (AutoRule).
    Rules,
    /// `− max(0, 0.5·L/threshold − 0.5)` (the length-penalty baseline).
    LengthPenalty,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub extra: Extra,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    pub threads: i32,
    /// Training prompts (GRPO passes over them `rl.epochs` times: the paper's episodes).
    pub prompts: usize,
    pub eval_prompts: usize,
    /// Preference pairs the rules are mined from (the proxy's kind of data).
    pub mine_pairs: usize,
    /// Held-out oracle-labelled pairs (two SFT samples) for the rules' agreement.
    pub agreement_pairs: usize,
    /// Merge threshold τ.
    pub tau: f64,
    /// Length-penalty threshold in tokens (300 in the paper).
    pub length_threshold: usize,
    /// SFT samples used for the RM's stored mean and standard deviation.
    pub normalise_samples: usize,
    pub proxy: ProxyConfig,
    pub rl: RlConfig,
    pub methods: Vec<Method>,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        if self.prompts == 0 || self.eval_prompts == 0 || self.mine_pairs == 0 || self.agreement_pairs == 0 || self.normalise_samples < 2 || self.length_threshold == 0 {
            bail!("prompts, eval_prompts, mine_pairs, agreement_pairs, length_threshold must be ≥ 1 and normalise_samples ≥ 2");
        }
        if !(0.0..=1.0).contains(&self.tau) {
            bail!("tau = {} must lie in [0, 1]", self.tau);
        }
        if self.rl.algorithm != shared::rl::Algorithm::Grpo {
            bail!("AutoRule's runs are GRPO (rl.algorithm = \"grpo\")");
        }
        if self.rl.epochs != 2 {
            bail!("the hacking analysis needs two episodes (rl.epochs = 2), got {}", self.rl.epochs);
        }
        let per_episode = self.prompts / self.rl.prompts_per_rollout;
        if self.prompts % self.rl.prompts_per_rollout != 0 || self.rl.eval_every == 0 || per_episode % self.rl.eval_every != 0 {
            bail!("prompts ({}) must split into rollouts of {} and eval_every ({}) must divide the {} rollouts of an episode, so that the end of episode 1 is evaluated", self.prompts, self.rl.prompts_per_rollout, self.rl.eval_every, per_episode);
        }
        if self.methods.is_empty() || self.methods.iter().any(|m| self.methods.iter().filter(|o| o.name == m.name).count() > 1) {
            bail!("methods must be non-empty with unique names");
        }
        self.proxy.validate()?;
        self.rl.validate()?;
        Ok(())
    }

    /// Rollouts per episode.
    pub fn episode_rollouts(&self) -> usize {
        self.prompts / self.rl.prompts_per_rollout
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
        std::fs::write(&p, text.replace("mine_pairs", "mine_pair")).unwrap();
        assert!(format!("{:#}", MiniConfig::load(&p).unwrap_err()).contains("mine_pair"));
        std::fs::write(&p, text.replace("epochs = 2", "epochs = 1")).unwrap();
        assert!(format!("{:#}", MiniConfig::load(&p).unwrap_err()).contains("two episodes"));
    }
}
