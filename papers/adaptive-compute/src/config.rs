//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`); a wrong key is an error.
//! Every [U] item of the spec is a knob here, with the spec's default.

use crate::selfeval::SelfEval;
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
    pub prompts_per_batch: usize,
    /// Rows per self-evaluation forward pass.
    pub estimate_batch: usize,
    pub data: Data,
    pub objective: SelfEval,
    pub train: TrainConfig,
    pub eval: Eval,
}

/// The self-evaluation training data (spec "Training-data construction", miniature sizes).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// Training prompts (fresh world prompts, never the held-out evaluation side).
    pub prompts: usize,
    /// On-policy samples per prompt from the frozen SFT base.
    pub samples: usize,
    pub temperature: f64,
    /// Tie margin ε of the leave-one-out targets (0 for the world's graded oracle).
    pub eps: f64,
    /// Prefix lengths t of the mid-generation examples (the scaled 64 / 128).
    pub prefixes: Vec<usize>,
}

/// Evaluation: the pools of samples and every operating point replayed on them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eval {
    /// Prompts of the world's fixed mini AlpacaEval.
    pub prompts: usize,
    /// Adaptive batch schedule; its sum is N_max.
    pub batches: Vec<usize>,
    /// T_max (annealing: batch k at T_max (1 − 0.5^k)).
    pub t_max: f64,
    /// Thresholds τ of the adaptive-sampling sweep.
    pub taus: Vec<f64>,
    /// Pruning points (tokens) and how many of N_max samples are kept.
    pub prune_at: Vec<usize>,
    pub prune_keep: Vec<usize>,
    /// "At the quality of best-of-N_max": within this many win-rate points of it.
    pub quality_tolerance: f64,
}

impl Eval {
    pub fn n_max(&self) -> usize {
        self.batches.iter().sum()
    }
    /// The best-of-N sizes reported: 1, 2, 4, ... up to N_max.
    pub fn bon_sizes(&self) -> Vec<usize> {
        let mut v = vec![];
        let mut n = 1;
        while n < self.n_max() {
            v.push(n);
            n *= 2;
        }
        v.push(self.n_max());
        v
    }
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        let d = &self.data;
        if d.prompts == 0 || d.samples < 2 {
            bail!("data.prompts must be ≥ 1 and data.samples ≥ 2 (leave-one-out needs another sample)");
        }
        if !(d.temperature > 0.0) || !(d.eps >= 0.0) {
            bail!("data.temperature must be > 0 and data.eps ≥ 0");
        }
        if d.prefixes.iter().any(|&t| t == 0) {
            bail!("data.prefixes must be ≥ 1 token");
        }
        if !(self.objective.lambda >= 0.0 && self.objective.lambda.is_finite()) {
            bail!("objective.lambda must be ≥ 0, got {}", self.objective.lambda);
        }
        self.train.validate()?;
        let e = &self.eval;
        if e.prompts == 0 || e.batches.is_empty() || e.batches.contains(&0) {
            bail!("eval.prompts must be ≥ 1 and eval.batches non-empty with no zero batch");
        }
        if !(e.t_max > 0.0) || e.taus.is_empty() || e.taus.iter().any(|t| !(0.0..=1.0).contains(t)) {
            bail!("eval.t_max must be > 0 and eval.taus non-empty, each in [0, 1]");
        }
        if e.prune_keep.iter().any(|&k| k == 0 || k > e.n_max()) || e.prune_at.iter().any(|&t| t == 0) {
            bail!("eval.prune_keep must lie in 1..={} (N_max) and eval.prune_at ≥ 1", e.n_max());
        }
        if self.prompts_per_batch == 0 || self.estimate_batch == 0 {
            bail!("prompts_per_batch and estimate_batch must be ≥ 1");
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
            assert_eq!(cfg.eval.n_max(), 16, "{name}");
            assert_eq!(cfg.eval.bon_sizes(), vec![1, 2, 4, 8, 16]);
        }
    }

    #[test]
    fn a_wrong_key_is_a_clear_error() {
        shared::io::assert_typo_named(&config_dir().join("smoke.toml"), "prune_keep", "prune_kept", MiniConfig::load);
    }

    #[test]
    fn bad_values_are_refused() {
        let mut cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
        cfg.eval.prune_keep = vec![17];
        assert!(format!("{:#}", cfg.validate().unwrap_err()).contains("prune_keep"));
    }
}
