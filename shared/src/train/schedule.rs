//! Learning-rate schedules: linear warm-up, then cosine decay (or linear, or constant), exactly as
//! Hugging Face's `get_cosine_schedule_with_warmup` & co.: `warmup_steps = ceil(warmup_ratio · total)`,
//! the lr of optimiser step `s` (0-based) is `lr · s / warmup` during warm-up (so the first step has
//! lr 0 when there is a warm-up), then `lr · ½(1 + cos(π · progress))` with
//! `progress = (s − warmup) / (total − warmup)`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    Cosine,
    Linear,
    Constant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Peak learning rate.
    pub lr: f64,
    /// Fraction of the optimiser steps spent warming up (0.1 in most specs).
    #[serde(default)]
    pub warmup_ratio: f64,
    #[serde(default = "default_decay")]
    pub decay: Decay,
}

fn default_decay() -> Decay {
    Decay::Cosine
}

impl Schedule {
    pub fn cosine(lr: f64, warmup_ratio: f64) -> Self {
        Schedule { lr, warmup_ratio, decay: Decay::Cosine }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.lr >= 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid("schedule: `lr`", format!("must be ≥ 0, got {}", self.lr)));
        }
        if !(0.0..=1.0).contains(&self.warmup_ratio) {
            return Err(Error::invalid("schedule: `warmup_ratio`", format!("must be in [0, 1], got {}", self.warmup_ratio)));
        }
        Ok(())
    }

    /// Warm-up steps for a run of `total` optimiser steps.
    pub fn warmup_steps(&self, total: u64) -> u64 {
        (self.warmup_ratio * total as f64).ceil() as u64
    }

    /// The learning rate of optimiser step `step` (0-based) in a run of `total` steps.
    pub fn lr_at(&self, step: u64, total: u64) -> f64 {
        let warmup = self.warmup_steps(total);
        if step < warmup {
            return self.lr * step as f64 / warmup.max(1) as f64;
        }
        let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
        let factor = match self.decay {
            Decay::Cosine => (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0),
            Decay::Linear => (1.0 - progress).max(0.0),
            Decay::Constant => 1.0,
        };
        self.lr * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_like_hugging_face() {
        let s = Schedule::cosine(1e-3, 0.1);
        // total 20 → ceil(2.0) = 2 warm-up steps.
        assert_eq!(s.warmup_steps(20), 2);
        assert_eq!(s.lr_at(0, 20), 0.0);
        assert!((s.lr_at(1, 20) - 5e-4).abs() < 1e-15);
        assert!((s.lr_at(2, 20) - 1e-3).abs() < 1e-15);
        // Halfway through the decay: progress 0.5 → lr/2.
        assert!((s.lr_at(11, 20) - 5e-4).abs() < 1e-15);
        assert!(s.lr_at(19, 20) > 0.0 && s.lr_at(19, 20) < 1e-5);
        assert!(s.lr_at(20, 20).abs() < 1e-18);
        // ceil: 0.1 · 15 = 1.5 → 2.
        assert_eq!(s.warmup_steps(15), 2);
    }

    #[test]
    fn linear_and_constant() {
        let l = Schedule { lr: 1.0, warmup_ratio: 0.0, decay: Decay::Linear };
        assert_eq!(l.lr_at(0, 4), 1.0);
        assert_eq!(l.lr_at(2, 4), 0.5);
        let c = Schedule { lr: 2.0, warmup_ratio: 0.0, decay: Decay::Constant };
        assert_eq!(c.lr_at(3, 4), 2.0);
        assert!(Schedule { lr: 1.0, warmup_ratio: 1.5, decay: Decay::Constant }.validate().is_err());
    }
}
