//! The compared methods: SimPO, its two ablations, and every baseline of the paper's main
//! table, each with the small learning-rate grid searched on the validation split.
//!
//! In a config a method's objective is `{ type = "simpo", beta, gamma_beta_ratio, ... }` or any
//! built-in objective of `shared::objectives` (`type = "dpo" | "ipo" | "cpo" | "kto" | "orpo" |
//! "rdpo" | "rrhf" | "slic"` with its hyperparameters).

use crate::loss::SimpoConfig;
use crate::objective::Simpo;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::objectives::{ObjectiveConfig, PairObjective};

/// A method's objective: SimPO (this paper) or a shared baseline.
#[derive(Clone, Debug, PartialEq)]
pub enum MethodObjective {
    Simpo(SimpoConfig),
    Baseline(ObjectiveConfig),
}

impl MethodObjective {
    pub fn build(&self) -> Result<Box<dyn PairObjective>> {
        Ok(match self {
            MethodObjective::Simpo(c) => {
                c.validate().map_err(anyhow::Error::msg)?;
                Box::new(Simpo(c.clone()))
            }
            MethodObjective::Baseline(c) => c.build()?,
        })
    }
}

impl Serialize for MethodObjective {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut v = match self {
            MethodObjective::Simpo(c) => toml::Value::try_from(c).map_err(S::Error::custom)?,
            MethodObjective::Baseline(c) => return c.serialize(s),
        };
        if let toml::Value::Table(t) = &mut v {
            t.insert("type".into(), toml::Value::String("simpo".into()));
        }
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for MethodObjective {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let mut v = toml::Value::deserialize(d)?;
        let is_simpo = v.get("type").and_then(|t| t.as_str()) == Some("simpo");
        if is_simpo {
            if let toml::Value::Table(t) = &mut v {
                t.remove("type");
            }
            return SimpoConfig::deserialize(v).map(MethodObjective::Simpo).map_err(D::Error::custom);
        }
        ObjectiveConfig::deserialize(v).map(MethodObjective::Baseline).map_err(D::Error::custom)
    }
}

/// One row of the table: a name, an objective, and the learning rates tried.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub objective: MethodObjective,
    /// Learning rates searched on the validation split (the same grid size for every method).
    pub lrs: Vec<f64>,
    /// The learning rate already chosen from `lrs` per setup (`{ base = 3e-4, instruct = 1e-3 }`):
    /// a setup listed here trains at that rate only, no search. The committed mini config takes
    /// them from the tuning run (`configs/tune.toml`, seed 0, `results/simpo/tuning.md`).
    #[serde(default)]
    pub chosen_lr: std::collections::BTreeMap<String, f64>,
    /// Ablation rows (Table 5) are reported in their own table.
    #[serde(default)]
    pub ablation: bool,
}

impl Method {
    pub fn validate(&self) -> Result<()> {
        self.objective.build().with_context(|| format!("method {}", self.name))?;
        if self.lrs.is_empty() || self.lrs.iter().any(|l| !(*l > 0.0 && l.is_finite())) {
            bail!("method {}: `lrs` must list positive learning rates", self.name);
        }
        for (setup, lr) in &self.chosen_lr {
            if !self.lrs.contains(lr) {
                bail!("method {}: chosen_lr.{setup} = {lr:e} is not one of `lrs` {:?} (it must come from the searched grid)", self.name, self.lrs);
            }
        }
        Ok(())
    }

    /// The learning rates trained in `setup`: the chosen one, or the whole grid.
    pub fn lrs_for(&self, setup: &str) -> Vec<f64> {
        self.chosen_lr.get(setup).map_or_else(|| self.lrs.clone(), |lr| vec![*lr])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrap {
        methods: Vec<Method>,
    }

    #[test]
    fn parses_simpo_and_baselines_and_names_bad_keys() {
        let text = r#"
            [[methods]]
            name = "SimPO"
            lrs = [1e-4]
            objective = { type = "simpo", beta = 2.5, gamma_beta_ratio = 0.5 }
            [[methods]]
            name = "DPO"
            lrs = [1e-4, 3e-4]
            objective = { type = "dpo", beta = 0.1 }
        "#;
        let w: Wrap = toml::from_str(text).unwrap();
        assert_eq!(w.methods.len(), 2);
        assert!(matches!(w.methods[0].objective, MethodObjective::Simpo(ref c) if c.beta == 2.5));
        assert_eq!(w.methods[1].objective.build().unwrap().name(), "dpo");
        for m in &w.methods {
            m.validate().unwrap();
        }
        let bad = text.replace("gamma_beta_ratio", "gamma");
        let err = toml::from_str::<Wrap>(&bad).err().unwrap().to_string();
        assert!(err.contains("gamma"), "{err}");
    }

    #[test]
    fn round_trips_through_toml() {
        let m = MethodObjective::Simpo(SimpoConfig::new(2.0, 0.3));
        let text = toml::to_string(&std::collections::BTreeMap::from([("objective", &m)])).unwrap();
        assert!(text.contains("type = \"simpo\""), "{text}");
        let back: std::collections::BTreeMap<String, MethodObjective> = toml::from_str(&text).unwrap();
        assert_eq!(back["objective"], m);
    }
}
