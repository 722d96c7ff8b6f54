//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`): how pairs are built,
//! how every method is trained and selected, how models are decoded for evaluation.

use crate::methods::Method;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::train::pairwise::PairwiseConfig;
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    /// libtorch CPU threads (results depend on it; recorded with them).
    pub threads: i32,
    /// Prompts whose pairs train every method.
    pub train_prompts: usize,
    /// Held-out prompts on which each method's learning rate is chosen (never the evaluation set).
    pub val_prompts: usize,
    /// Evaluation prompts of the fixed mini AlpacaEval: absent = the world's standard 300; fewer
    /// = its first ones; more = the same fixed stream of held-out prompts continued (the first 300
    /// unchanged). Small families repeat prompts; a repeat counts as another response to the
    /// same prompt, not as a new prompt.
    #[serde(default)]
    pub eval_prompts: Option<usize>,
    /// Responses sampled per evaluation prompt for every model (each sample its own decoding
    /// stream); the claims' intervals resample prompts with all their samples.
    #[serde(default = "one")]
    pub eval_samples: usize,
    /// Which setups to run: "base" (off-policy demonstration pairs) and/or "instruct" (on-policy).
    pub setups: Vec<String>,
    pub offpolicy: OffPolicy,
    pub onpolicy: OnPolicy,
    pub decode: Decode,
    /// The pairwise trainer; each method's `lrs` override `train.schedule.lr`.
    pub train: PairwiseConfig,
    pub methods: Vec<Method>,
}

/// "Base" setup: UltraFeedback-like pairs from a fixed pool of demonstrations.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffPolicy {
    /// Candidate responses per prompt (correct / partly wrong / wrong, random style and verbosity).
    pub candidates: usize,
}

/// "Instruct" setup: samples of the SFT model scored by a judge.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnPolicy {
    pub samples: usize,
    pub temperature: f64,
    pub top_p: f64,
    /// What ranks the samples: "reward_model" (a Bradley–Terry reward model trained on the
    /// world judge's sampled verdicts between the samples: the PairRM / ArmoRM stand-in),
    /// "judge" (the length-biased judge's expected verdict against the fixed baseline answer)
    /// or "oracle" (true quality).
    pub scorer: String,
    pub prompts_per_batch: usize,
    /// The reward model's data and training (needed when `scorer = "reward_model"`).
    #[serde(default)]
    pub reward_model: Option<shared::world::reward::JudgeRmConfig>,
}

/// Decoding for validation and for the mini AlpacaEval (the same seed for every model).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decode {
    pub temperature: f64,
    pub batch: usize,
}

fn one() -> usize {
    1
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        for m in &self.methods {
            m.validate()?;
        }
        for s in &self.setups {
            if s != "base" && s != "instruct" {
                bail!("setups: {s:?} is not \"base\" or \"instruct\"");
            }
        }
        match (self.onpolicy.scorer.as_str(), &self.onpolicy.reward_model) {
            ("reward_model", Some(rm)) => rm.validate()?,
            ("reward_model", None) => bail!("onpolicy.scorer = \"reward_model\" needs an [onpolicy.reward_model] table"),
            ("judge" | "oracle", _) => {}
            (other, _) => bail!("onpolicy.scorer {other:?} must be \"reward_model\", \"judge\" or \"oracle\""),
        }
        if self.onpolicy.samples < 2 || self.offpolicy.candidates < 2 {
            bail!("pairs need at least 2 samples / candidates per prompt");
        }
        if self.train_prompts == 0 || self.val_prompts == 0 {
            bail!("train_prompts and val_prompts must be ≥ 1");
        }
        if self.eval_prompts == Some(0) || self.eval_samples == 0 {
            bail!("eval_prompts and eval_samples must be ≥ 1");
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
            let p = crate::config::config_dir().join(format!("{name}.toml"));
            let cfg = MiniConfig::load(&p).unwrap();
            assert!(cfg.methods.iter().any(|m| m.name == "SimPO"));
            assert!(cfg.methods.iter().any(|m| m.name == "DPO"));
        }
    }
}
