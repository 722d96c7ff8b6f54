//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`); a wrong key is an error.

use crate::judge::JudgeConfig;
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::objectives::dpo::Dpo;
use shared::train::TrainConfig;
use shared::world::forms::{Form, FormsConfig};
use std::path::{Path, PathBuf};

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    /// libtorch CPU threads.
    pub threads: i32,
    /// EFT: the base must first learn the judge form `<judge> x <resp> y <score>` → `<Sk>`.
    pub forms: FormsConfig,
    /// The iteration prompts: `chunks` chunks of `prompts_per_chunk` training prompts, chunk i
    /// for iteration i (spec: 5 × 4,000 at paper scale, 5 × 400 in miniature).
    pub chunks: usize,
    pub prompts_per_chunk: usize,
    /// K, samples per model per prompt (spec: 7), at (temperature, top_p).
    pub samples: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub prompts_per_batch: usize,
    pub judge: JudgeConfig,
    /// Pitfall 10: may Phase 2 keep a prompt that Phase 1 dropped (its current-model scores were
    /// flat and M_0's worst was no worse), when the future model's best beats the current best?
    pub phase2_rescues: bool,
    /// The DPO of every run (spec: sigmoid, β = 0.1, summed log-probs).
    pub objective: Dpo,
    /// Each DPO run's training (the future model's and the next iterate's alike).
    pub train: TrainConfig,
    pub eval: EvalConfig,
    pub methods: Vec<Method>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out prompts of the mini AlpacaEval (spec: 256).
    pub prompts: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Best vs worst of K samples of M_i, judged by M_i.
    SelfRewarding,
    /// Anchored rejection (Phase 1) then future-guided chosen (Phase 2).
    Temporal,
    /// Phase 1 only (the Table 2 ablation).
    PastOnly,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub kind: Kind,
    /// Iterations (spec: Self-Rewarding 4, Temporal 2).
    pub iterations: usize,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        self.forms.validate()?;
        if !self.forms.forms.contains(&Form::Judge) {
            bail!("forms.forms must contain \"judge\": the base must learn to judge before it can reward itself");
        }
        if self.prompts_per_chunk == 0 || self.samples < 2 || self.eval.prompts == 0 {
            bail!("prompts_per_chunk and eval.prompts must be ≥ 1 and samples ≥ 2");
        }
        if !(self.temperature > 0.0) || !(self.top_p > 0.0 && self.top_p <= 1.0) {
            bail!("temperature must be > 0 and top_p in (0, 1]");
        }
        if self.judge.judgments == 0 || !(self.judge.temperature > 0.0) || self.judge.max_response_chars == 0 {
            bail!("judge: judgments ≥ 1, temperature > 0, max_response_chars ≥ 1");
        }
        self.objective.validate()?;
        self.train.validate()?;
        for k in [Kind::SelfRewarding, Kind::Temporal, Kind::PastOnly] {
            if !self.methods.iter().any(|m| m.kind == k) {
                bail!("the comparison needs a self_rewarding, a temporal and a past_only method; {k:?} is missing");
            }
        }
        for m in &self.methods {
            if m.iterations == 0 || m.iterations > self.chunks {
                bail!("method {}: iterations must lie in 1..={} (one prompt chunk per iteration)", m.name, self.chunks);
            }
        }
        let mut names: Vec<&str> = self.methods.iter().map(|m| m.name.as_str()).collect();
        names.sort();
        names.dedup();
        if names.len() != self.methods.len() {
            bail!("method names must be distinct");
        }
        Ok(())
    }

    /// The first method of a kind.
    pub fn method(&self, kind: Kind) -> &Method {
        self.methods.iter().find(|m| m.kind == kind).expect("validated")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_configs_load() {
        for name in ["mini", "smoke"] {
            MiniConfig::load(&config_dir().join(format!("{name}.toml"))).unwrap();
        }
    }

    #[test]
    fn a_wrong_key_is_a_clear_error() {
        shared::io::assert_typo_named(&config_dir().join("smoke.toml"), "phase2_rescues", "phase2_rescue", MiniConfig::load);
    }
}
