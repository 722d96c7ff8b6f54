//! The miniature's config (`configs/mini.toml`, `configs/smoke.toml`); a wrong key is an error.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use shared::train::TrainConfig;
use shared::world::forms::{Form, FormsConfig};
use std::path::{Path, PathBuf};

use crate::loss::EvolveObjective;

pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    pub threads: i32,
    /// The EVOLVE SFT stage (Eq. 4): the world's base fine-tuned on the `refine` form (each pair
    /// gives the direct and the refine target), replayed with plain demonstrations.
    pub forms: FormsConfig,
    /// Rounds T (spec: 3); one disjoint prompt chunk of `prompts_per_chunk` per round.
    pub iterations: usize,
    pub prompts_per_chunk: usize,
    /// Generations per prompt: N = chain length for EVOLVE, K = samples for iterative DPO (spec: 4).
    pub samples: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub prompts_per_batch: usize,
    /// The miniature reward model: oracle + N(0, rm_noise²) (spec: 0.1).
    pub rm_noise: f64,
    /// The objective of every method (λ, surrogate, β); iterative DPO uses its direct term only.
    pub objective: EvolveObjective,
    pub train: TrainConfig,
    pub eval: EvalConfig,
    pub methods: Vec<Method>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out prompts (spec: 256), greedy decoding.
    pub prompts: usize,
    /// k of refine@k (spec: up to 3).
    pub refine_steps: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// K direct samples, best vs worst by the RM, standard DPO.
    IterDpo,
    /// A chain of N self-refinements, a pair from it, `L_EVOLVE`.
    Evolve,
}

/// How a pair is picked from a chain (spec, Inference step 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Argmax / argmin of the RM over the chain (first index on ties); drop if max = min.
    Rm,
    /// `y_w = y_N`, `y_l = y_1`; drop if identical after whitespace normalisation.
    Rule,
}

/// The negative of the refine term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefineNegative {
    /// "Rewrite y_l into y_w" against "copy y_l", both given (x, y_l, z).
    SelfCopy,
    /// No refine term (only the direct term remains).
    None,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub kind: Kind,
    #[serde(default = "rm")]
    pub selection: Selection,
    #[serde(default = "self_copy")]
    pub refine_negative: RefineNegative,
    #[serde(default = "yes")]
    pub direct_term: bool,
}

fn rm() -> Selection {
    Selection::Rm
}
fn self_copy() -> RefineNegative {
    RefineNegative::SelfCopy
}
fn yes() -> bool {
    true
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        self.forms.validate()?;
        if !self.forms.forms.contains(&Form::Refine) {
            bail!("forms.forms must contain \"refine\": EVOLVE's SFT stage teaches the refine format");
        }
        if self.iterations == 0 || self.prompts_per_chunk == 0 || self.samples < 2 || self.eval.prompts == 0 || self.eval.refine_steps == 0 {
            bail!("iterations, prompts_per_chunk, eval.prompts and eval.refine_steps must be ≥ 1 and samples ≥ 2");
        }
        if !(self.temperature > 0.0) || !(self.top_p > 0.0 && self.top_p <= 1.0) || !(self.rm_noise >= 0.0) {
            bail!("temperature must be > 0, top_p in (0, 1], rm_noise ≥ 0");
        }
        self.objective.validate()?;
        self.train.validate()?;
        for k in [Kind::IterDpo, Kind::Evolve] {
            if !self.methods.iter().any(|m| m.kind == k) {
                bail!("the comparison needs an iter_dpo and an evolve method; {k:?} is missing");
            }
        }
        for m in &self.methods {
            if m.kind == Kind::Evolve && !m.direct_term && m.refine_negative == RefineNegative::None {
                bail!("method {}: with direct_term = false and refine_negative = none nothing is trained", m.name);
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

    /// The first method of a kind (EVOLVE: the first with RM selection and the self-copy negative).
    pub fn main_method(&self, kind: Kind) -> &Method {
        self.methods
            .iter()
            .find(|m| m.kind == kind && (kind == Kind::IterDpo || (m.selection == Selection::Rm && m.refine_negative == RefineNegative::SelfCopy && m.direct_term)))
            .or_else(|| self.methods.iter().find(|m| m.kind == kind))
            .expect("validated")
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
        shared::io::assert_typo_named(&config_dir().join("smoke.toml"), "rm_noise", "rm_nois", MiniConfig::load);
    }
}
