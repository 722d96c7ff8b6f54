//! Configs: TOML files, deserialised with serde (a wrong key is an error naming it), validated
//! on load, printed at the start of a run and saved beside its results.
//!
//! `configs/paper/<setting>.toml` hold the paper's six settings (spec, "Hyperparameters").

use crate::loss::SimpoConfig;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One paper-scale setting: start model, preference data, SimPO's β and γ/β, the trainer's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    pub setting: String,
    /// Hugging Face model id, or a local folder with `config.json`, safetensors and `tokenizer.json`.
    pub model: String,
    /// `llama3`, `chatml`, `mistral`, `zephyr` or `gemma`.
    pub chat_template: String,
    /// Hugging Face dataset id, or a local folder laid out like the dataset repository.
    pub dataset: String,
    /// Parquet files of the training split, relative to the dataset repository.
    pub train_files: Vec<String>,
    /// The paper's AlpacaEval 2 LC win rate for SimPO in this setting (for the summary).
    pub paper_lc: f64,
    /// `bf16` on CUDA (the paper's precision) or `f32`.
    pub dtype: String,
    /// GPUs of the paper's run (the effective batch is per_device_batch × grad_accum × gpus).
    pub gpus: u64,
    pub simpo: SimpoConfig,
    pub train: TrainSettings,
    pub eval: EvalSettings,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    pub learning_rate: f64,
    pub epochs: usize,
    pub per_device_batch: usize,
    pub grad_accum: usize,
    pub warmup_ratio: f64,
    /// TRL truncation: keep the last `max_prompt_length` prompt tokens, then cut responses to
    /// `max_length − max_prompt_length` if the pair is still too long.
    pub max_length: usize,
    pub max_prompt_length: usize,
    pub seed: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSettings {
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
}

impl PaperConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let cfg: PaperConfig = shared::io::read_toml(path)?;
        cfg.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        self.simpo.validate().map_err(anyhow::Error::msg).context("[simpo]")?;
        let t = &self.train;
        if !(t.learning_rate > 0.0 && t.learning_rate < 1e-2) {
            bail!("[train] learning_rate {} is outside (0, 1e-2)", t.learning_rate);
        }
        if t.max_prompt_length >= t.max_length {
            bail!("[train] max_prompt_length ({}) must be below max_length ({})", t.max_prompt_length, t.max_length);
        }
        if t.per_device_batch == 0 || t.grad_accum == 0 || t.epochs == 0 || self.gpus == 0 {
            bail!("[train] per_device_batch, grad_accum, epochs and gpus must be ≥ 1");
        }
        if !(0.0..1.0).contains(&t.warmup_ratio) {
            bail!("[train] warmup_ratio {} must be in [0, 1)", t.warmup_ratio);
        }
        if !matches!(self.dtype.as_str(), "bf16" | "f32") {
            bail!("dtype {:?} must be \"bf16\" or \"f32\"", self.dtype);
        }
        if !matches!(self.chat_template.as_str(), "llama3" | "chatml" | "mistral" | "zephyr" | "gemma") {
            bail!("chat_template {:?} is not one of llama3, chatml, mistral, zephyr, gemma", self.chat_template);
        }
        Ok(())
    }

    /// The effective (global) batch size of the paper's run.
    pub fn global_batch(&self) -> usize {
        self.train.per_device_batch * self.train.grad_accum * self.gpus as usize
    }
}

/// The folder of this crate's configs.
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// All paper-scale settings, by file stem.
pub fn paper_settings() -> Result<Vec<(String, PaperConfig)>> {
    let mut out = vec![];
    let dir = config_dir().join("paper");
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "toml") {
            out.push((p.file_stem().unwrap().to_string_lossy().to_string(), PaperConfig::load(&p)?));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_paper_setting_loads_with_the_papers_numbers() {
        let all = paper_settings().unwrap();
        assert_eq!(all.len(), 6);
        let get = |k: &str| &all.iter().find(|(n, _)| n == k).unwrap().1;
        let l3 = get("llama3-instruct");
        assert_eq!((l3.simpo.beta, l3.simpo.gamma_beta_ratio, l3.train.learning_rate), (2.5, 0.55, 1e-6));
        assert_eq!(l3.global_batch(), 128);
        assert_eq!(get("mistral-base").train.max_length, 1024);
        assert_eq!(get("llama3-instruct-v0.2").simpo.beta, 10.0);
    }

    #[test]
    fn a_wrong_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let src = std::fs::read_to_string(config_dir().join("paper/llama3-base.toml")).unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, src.replace("gamma_beta_ratio", "gamma")).unwrap();
        let err = format!("{:#}", PaperConfig::load(&p).unwrap_err());
        assert!(err.contains("bad.toml") && err.contains("gamma"), "{err}");
        std::fs::write(&p, src.replace("max_prompt_length = 1800", "max_prompt_length = 4000")).unwrap();
        let err = format!("{:#}", PaperConfig::load(&p).unwrap_err());
        assert!(err.contains("max_prompt_length"), "{err}");
    }
}
