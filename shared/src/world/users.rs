//! Simulated users: after seeing a response they may say they are dissatisfied (DSAT, with a
//! templated feedback message built from the oracle's error kind) or satisfied (SAT). DSAT on bad
//! answers is abundant, SAT is scarce, as in real logs.

use super::oracle::{ErrorKind, Oracle};
use super::task::Prompt;
use crate::error::{Error, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserConfig {
    /// Below this oracle score a user may complain.
    pub tau_dsat: f64,
    /// Probability of complaining when below `tau_dsat`.
    pub p_dsat: f64,
    /// At or above this oracle score a user may say thanks.
    pub tau_sat: f64,
    /// Probability of saying thanks when at or above `tau_sat`.
    pub p_sat: f64,
}

impl Default for UserConfig {
    fn default() -> Self {
        UserConfig { tau_dsat: 0.5, p_dsat: 0.9, tau_sat: 0.9, p_sat: 0.4 }
    }
}

impl UserConfig {
    pub fn validate(&self) -> Result<()> {
        for (n, v) in [("tau_dsat", self.tau_dsat), ("p_dsat", self.p_dsat), ("tau_sat", self.tau_sat), ("p_sat", self.p_sat)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::invalid(format!("users.{n}"), format!("{v} must lie in [0, 1]")));
            }
        }
        if self.tau_dsat > self.tau_sat {
            return Err(Error::invalid("users.tau_dsat", "must not exceed users.tau_sat"));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reaction {
    /// The user complains; `feedback` is e.g. `<fb> not-sorted`.
    Dsat { feedback: String, error: ErrorKind },
    Sat,
    Silent,
}

#[derive(Clone, Debug)]
pub struct SimUser {
    pub cfg: UserConfig,
    pub oracle: Oracle,
}

impl SimUser {
    pub fn new(cfg: UserConfig, oracle: Oracle) -> Self {
        SimUser { cfg, oracle }
    }

    pub fn react<R: Rng>(&self, x: &Prompt, y: &str, rng: &mut R) -> Reaction {
        let g = self.oracle.grade(x, y);
        // One draw per reaction, so the RNG stream does not depend on the branch taken.
        let u: f64 = rng.gen();
        if g.score < self.cfg.tau_dsat {
            if u < self.cfg.p_dsat {
                let error = if g.error == ErrorKind::Ok { ErrorKind::BadFormat } else { g.error };
                return Reaction::Dsat { feedback: format!("<fb> {}", error.name()), error };
            }
        } else if g.score >= self.cfg.tau_sat && u < self.cfg.p_sat {
            return Reaction::Sat;
        }
        Reaction::Silent
    }
}
