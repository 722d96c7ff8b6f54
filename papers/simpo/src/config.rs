//! Configs: TOML files, deserialised with serde (a wrong key is an error naming it), validated
//! on load, printed at the start of a run and saved beside its results.
//!
//! `configs/paper/<setting>.toml` hold the paper's six settings (spec, "Hyperparameters"): SimPO's
//! β, γ/β and learning rate from the authors' `training_configs/*.yaml`, DPO's β and learning rate
//! from their README's "best hyperparameters for DPO" table, the schedule and the data order.

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
    /// `llama3`, `chatml`, `mistral-simpo`, `zephyr` or `gemma`. `run_simpo.py` replaces the template
    /// of every model whose path contains "mistral" by its own (`mistral-simpo`); the others keep
    /// the model's (zephyr-7b-sft-full: `zephyr`).
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
    /// DPO in the same setting (the README's best DPO hyperparameters).
    pub dpo: DpoSettings,
    pub train: TrainSettings,
    pub eval: EvalSettings,
}

/// DPO's own β and learning rate; the rest of `[train]` is shared with SimPO.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpoSettings {
    pub beta: f64,
    pub learning_rate: f64,
}

/// Hugging Face's `lr_scheduler_type` values the trainer reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrScheduler {
    /// Linear warm-up, then cosine decay to 0 (`get_cosine_schedule_with_warmup`).
    Cosine,
    /// Linear warm-up, then linear decay to 0.
    Linear,
    /// The peak rate throughout (HF ignores the warm-up ratio here, so `warmup_ratio` must be 0).
    Constant,
    /// Linear warm-up, then the peak rate.
    ConstantWithWarmup,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// SimPO's learning rate (DPO's is `[dpo] learning_rate`).
    pub learning_rate: f64,
    pub lr_scheduler_type: LrScheduler,
    pub epochs: usize,
    pub per_device_batch: usize,
    pub grad_accum: usize,
    pub warmup_ratio: f64,
    /// Visit the pairs in a seeded random order each epoch (HF's `RandomSampler`, the paper's runs),
    /// or in file order (`false`: what parity checks against another trainer need).
    pub shuffle: bool,
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
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        self.simpo.validate().map_err(anyhow::Error::msg).context("[simpo]")?;
        let t = &self.train;
        for (key, lr) in [("[train] learning_rate", t.learning_rate), ("[dpo] learning_rate", self.dpo.learning_rate)] {
            if !(lr > 0.0 && lr < 1e-2) {
                bail!("{key} {lr} is outside (0, 1e-2)");
            }
        }
        if !(self.dpo.beta > 0.0 && self.dpo.beta.is_finite()) {
            bail!("[dpo] beta must be a positive number, got {}", self.dpo.beta);
        }
        if t.lr_scheduler_type == LrScheduler::Constant && t.warmup_ratio != 0.0 {
            bail!("[train] lr_scheduler_type \"constant\" has no warm-up (as in Hugging Face); use \"constant_with_warmup\" or warmup_ratio = 0");
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
        if !matches!(self.chat_template.as_str(), "llama3" | "chatml" | "mistral-simpo" | "zephyr" | "gemma") {
            bail!("chat_template {:?} is not one of llama3, chatml, mistral-simpo, zephyr, gemma", self.chat_template);
        }
        // run_simpo.py: `if "mistral" in model_name_or_path.lower()` → its own Mistral template.
        let mistral_path = self.model.to_lowercase().contains("mistral");
        if mistral_path != (self.chat_template == "mistral-simpo") {
            bail!(
                "chat_template {:?} for model {:?}: the authors' run_simpo.py uses its replacement Mistral template (\"mistral-simpo\") exactly when the model path contains \"mistral\"",
                self.chat_template,
                self.model
            );
        }
        Ok(())
    }

    /// The learning-rate schedule of `method`'s run.
    pub fn schedule(&self, learning_rate: f64) -> shared::train::schedule::Schedule {
        use shared::train::schedule::{Decay, Schedule};
        let t = &self.train;
        let (decay, warmup_ratio) = match t.lr_scheduler_type {
            LrScheduler::Cosine => (Decay::Cosine, t.warmup_ratio),
            LrScheduler::Linear => (Decay::Linear, t.warmup_ratio),
            LrScheduler::Constant => (Decay::Constant, 0.0),
            LrScheduler::ConstantWithWarmup => (Decay::Constant, t.warmup_ratio),
        };
        Schedule { lr: learning_rate, warmup_ratio, decay }
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
        // DPO's best settings from the SimPO README: β = 0.01 everywhere, its own learning rates.
        for (name, lr) in [("mistral-base", 5e-7), ("mistral-instruct", 5e-7), ("llama3-base", 5e-7), ("llama3-instruct", 7e-7), ("llama3-instruct-v0.2", 3e-7), ("gemma2-9b-it", 5e-7)] {
            let c = get(name);
            assert_eq!((c.dpo.beta, c.dpo.learning_rate), (0.01, lr), "{name}");
            // Every run of the paper: cosine, warm-up 0.1, shuffled data (HF Trainer's defaults in the authors' YAML).
            assert_eq!((c.train.lr_scheduler_type, c.train.warmup_ratio, c.train.shuffle), (LrScheduler::Cosine, 0.1, true), "{name}");
        }
        assert_eq!(get("mistral-instruct").chat_template, "mistral-simpo");
        assert_eq!(get("mistral-base").chat_template, "zephyr");
    }

    #[test]
    fn schedules_follow_hugging_face_names() {
        use shared::train::schedule::Decay;
        let mut c = paper_settings().unwrap().remove(0).1;
        let s = c.schedule(1e-6);
        assert_eq!((s.lr, s.warmup_ratio, s.decay), (1e-6, 0.1, Decay::Cosine));
        c.train.lr_scheduler_type = LrScheduler::Constant;
        assert!(c.validate().unwrap_err().to_string().contains("constant_with_warmup"));
        c.train.warmup_ratio = 0.0;
        c.validate().unwrap();
        assert_eq!(c.schedule(1e-6).decay, Decay::Constant);
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
        // The template rule of run_simpo.py is enforced.
        std::fs::write(&p, src.replace("princeton-nlp/Llama-3-Base-8B-SFT", "someone/mistral-8b")).unwrap();
        let err = format!("{:#}", PaperConfig::load(&p).unwrap_err());
        assert!(err.contains("mistral-simpo"), "{err}");
        std::fs::write(&p, src.replace("[dpo]\n", "").replace("beta = 0.01\n", "").replace("learning_rate = 5e-7\n", "")).unwrap();
        let err = format!("{:#}", PaperConfig::load(&p).unwrap_err());
        assert!(err.contains("dpo"), "{err}");
    }
}
