//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`); a wrong key is an error.

use crate::catalogue::{pair_key, Skill};
use crate::teacher::Teacher;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::train::TrainConfig;
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    /// libtorch CPU threads (results depend on it; recorded with them).
    pub threads: i32,
    /// Prompts per generation call.
    pub gen_batch: usize,
    /// Seed of the "pretrained" tiny LM (the world's cached SFT base); absent = the run's seed.
    #[serde(default)]
    pub pretrained_seed: Option<u64>,
    pub data: Data,
    /// SFT of every condition (epochs, batch, schedule); `seed` is replaced by the run's.
    pub train: TrainConfig,
    pub eval: Eval,
}

/// The SFT data of every condition.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// Examples per condition (the paper's N; every condition has the same size).
    pub n: usize,
    /// Further sizes of the `mix-k2` data-size curve (nested prefixes of the N examples).
    pub sizes: Vec<usize>,
    /// Share of outputs replaced by shirker answers (the paper: 0.2).
    pub shirker_rate: f64,
    /// The skills of the `narrow` condition (the Alpaca-like analogue).
    pub narrow: Vec<Skill>,
    /// Share of the 66 skill pairs never seen in training (the evaluation's unseen slice).
    pub held_out_pairs: f64,
    /// Held-out `mix-k2` instructions for epoch selection.
    pub validation: usize,
}

/// The fixed evaluation set and decoding.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eval {
    pub k2: usize,
    /// Share of the k = 2 prompts whose pair is held out of every training set.
    pub unseen_fraction: f64,
    pub k1: usize,
    pub k3: usize,
    pub temperature: f64,
    pub top_p: f64,
    /// Also decode greedily (reported beside the sampled answers).
    pub greedy: bool,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        let d = &self.data;
        if d.n == 0 || d.validation == 0 {
            bail!("data.n and data.validation must be ≥ 1");
        }
        if let Some(s) = d.sizes.iter().find(|&&s| s == 0 || s >= d.n) {
            bail!("data.sizes holds {s}: every size must lie in 1..{} (data.n itself is the mix-k2 condition)", d.n);
        }
        if !(0.0..1.0).contains(&d.shirker_rate) {
            bail!("data.shirker_rate must lie in [0, 1), got {}", d.shirker_rate);
        }
        if !(0.0..0.9).contains(&d.held_out_pairs) {
            bail!("data.held_out_pairs must lie in [0, 0.9), got {}", d.held_out_pairs);
        }
        let t = Teacher::new(d.held_out_pairs);
        let usable = d.narrow.iter().enumerate().flat_map(|(i, &a)| d.narrow[i + 1..].iter().map(move |&b| pair_key(a, b))).filter(|p| p.0 != p.1 && !t.held_out.contains(p)).count();
        if usable == 0 {
            bail!("data.narrow {:?} has no skill pair outside the held-out pairs: name at least two skills, or other ones", d.narrow);
        }
        self.train.validate()?;
        if self.train.steps.is_some() {
            bail!("train.steps is not supported: the paper trains whole epochs and selects one; set train.epochs");
        }
        let e = &self.eval;
        if e.k2 + e.k1 + e.k3 == 0 {
            bail!("eval.k2 + eval.k1 + eval.k3 must be ≥ 1");
        }
        if !(0.0..=1.0).contains(&e.unseen_fraction) || (e.unseen_fraction > 0.0 && d.held_out_pairs == 0.0) {
            bail!("eval.unseen_fraction must lie in [0, 1], and needs data.held_out_pairs > 0");
        }
        if !(e.temperature > 0.0) || !(e.top_p > 0.0 && e.top_p <= 1.0) {
            bail!("eval.temperature must be > 0 and eval.top_p in (0, 1]");
        }
        if self.gen_batch == 0 {
            bail!("gen_batch must be ≥ 1");
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
            let cfg = MiniConfig::load(&config_dir().join(format!("{name}.toml"))).unwrap();
            assert!((cfg.data.shirker_rate - 0.2).abs() < 1e-12, "{name}: the paper's 20%");
        }
        let mini = MiniConfig::load(&config_dir().join("mini.toml")).unwrap();
        assert_eq!((mini.data.n, mini.eval.k2, mini.eval.k1, mini.eval.k3, mini.data.validation), (1000, 200, 50, 50, 100), "the spec's miniature sizes");
    }

    #[test]
    fn a_wrong_key_is_a_clear_error() {
        shared::io::assert_typo_named(&config_dir().join("smoke.toml"), "shirker_rate", "shirk_rate", MiniConfig::load);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
        cfg.data.sizes = vec![cfg.data.n];
        assert!(format!("{:#}", cfg.validate().unwrap_err()).contains("data.sizes"));
        let mut cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
        cfg.data.narrow = vec![Skill::Sort];
        assert!(format!("{:#}", cfg.validate().unwrap_err()).contains("data.narrow"));
    }
}
