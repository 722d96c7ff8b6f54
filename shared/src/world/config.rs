//! The world's configuration: one TOML file (every field optional, unknown fields rejected),
//! validated on load. Every bias of every judge is a value here.

use super::demos::DemoConfig;
use super::judge::{ChecklistConfig, PairwiseConfig};
use super::oracle::OracleConfig;
use super::task::Family;
use super::users::UserConfig;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenConfig {
    /// Family names to draw from (uniformly); default all eight.
    pub families: Vec<String>,
    /// Weights of asking for 0, 1, 2, ... format skills.
    pub skill_counts: Vec<f64>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            families: super::task::FAMILIES.iter().map(|f| f.name().to_string()).collect(),
            skill_counts: vec![0.4, 0.4, 0.2],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Held-out prompts in the mini AlpacaEval.
    pub size: usize,
    /// Probability that the baseline (a seeded partial oracle) gets each part right.
    pub baseline_q: f64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig { size: 300, baseline_q: 0.6 }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldConfig {
    pub gen: GenConfig,
    pub oracle: OracleConfig,
    pub judge: PairwiseConfig,
    pub checklist: ChecklistConfig,
    pub users: UserConfig,
    pub demos: DemoConfig,
    pub eval: EvalConfig,
}

impl WorldConfig {
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let cfg: WorldConfig = toml::from_str(text).map_err(|e| Error::Config { path: path.to_path_buf(), msg: e.to_string() })?;
        cfg.validate().map_err(|e| Error::Config { path: path.to_path_buf(), msg: e.to_string() })?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text, path)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("world config serialises")
    }

    pub fn families(&self) -> Result<Vec<Family>> {
        self.gen
            .families
            .iter()
            .map(|n| Family::from_name(n).ok_or_else(|| Error::invalid("gen.families", format!("unknown family {n:?}; known: reverse, sort, count, add, upper, repeat, list, describe"))))
            .collect()
    }

    pub fn validate(&self) -> Result<()> {
        if self.families()?.is_empty() {
            return Err(Error::invalid("gen.families", "needs at least one family"));
        }
        let w = &self.gen.skill_counts;
        if w.is_empty() || w.len() > 4 || w.iter().any(|x| !(*x >= 0.0)) || w.iter().sum::<f64>() <= 0.0 {
            return Err(Error::invalid("gen.skill_counts", "needs 1 to 4 non-negative weights with a positive sum"));
        }
        if self.eval.size == 0 {
            return Err(Error::invalid("eval.size", "must be > 0"));
        }
        if !(0.0..=1.0).contains(&self.eval.baseline_q) {
            return Err(Error::invalid("eval.baseline_q", "must lie in [0, 1]"));
        }
        self.oracle.validate()?;
        self.judge.validate()?;
        self.checklist.validate()?;
        self.users.validate()?;
        self.demos.validate()
    }
}
