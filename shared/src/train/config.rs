//! One training config for every trainer: the same field names in every TOML file and every
//! struct (`batch_size`, `micro_batch`, `epochs` or `steps`, `schedule`, `optim`, `seed`, ...).
//! A method's own hyperparameters live in its objective's config, never here.
//!
//! ```toml
//! [train]
//! batch_size = 32          # examples per optimiser step
//! micro_batch = 8          # examples per forward pass: 32 / 8 = 4 accumulated micro-batches
//! epochs = 2               # or `steps = 3000` (batches then run on across epoch boundaries)
//! max_length = 128         # truncation (TRL's rule, see `example::truncate`); omit both for none
//! max_prompt_length = 72
//! schedule = { lr = 3e-4, warmup_ratio = 0.1 }
//! ```

use super::optim::AdamWConfig;
use super::schedule::Schedule;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// Examples per forward pass; `batch_size / micro_batch` micro-batches are accumulated.
    pub micro_batch: usize,
    /// Passes over the data (each epoch ends with a partial batch when `batch_size` does not divide
    /// the data, as a data loader without `drop_last`). Ignored when `steps` is set.
    #[serde(default = "one")]
    pub epochs: usize,
    /// Train exactly this many optimiser steps instead, full batches streaming across epochs.
    #[serde(default)]
    pub steps: Option<u64>,
    /// Truncation of prompt + response (TRL's rule); `None` = no truncation.
    #[serde(default)]
    pub max_length: Option<usize>,
    #[serde(default)]
    pub max_prompt_length: Option<usize>,
    pub schedule: Schedule,
    #[serde(default)]
    pub optim: AdamWConfig,
    /// Seeds the data order (a seeded permutation per epoch).
    #[serde(default)]
    pub seed: u64,
    /// `false` keeps the data in its given order every epoch (TRL parity runs).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Log a metric row every this many steps (and at the last step).
    #[serde(default = "one_u64")]
    pub log_every: u64,
    /// Save a checkpoint every this many steps (0 = only when the run stops).
    #[serde(default)]
    pub checkpoint_every: u64,
    #[serde(default = "two")]
    pub keep_checkpoints: usize,
    /// Stop after this many optimiser steps; the schedule still spans the whole run, so a later
    /// call with a larger value (or none) resumes where this one stopped.
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// Recompute each decoder layer in the backward pass instead of keeping its activations
    /// (`model::recompute`; sequence-level objectives): one layer's activations in memory for
    /// one extra forward pass, same gradients. Left out of the serialised config when off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gradient_checkpointing: bool,
}

fn one() -> usize {
    1
}
fn one_u64() -> u64 {
    1
}
fn two() -> usize {
    2
}
fn yes() -> bool {
    true
}

impl TrainConfig {
    /// A config with the defaults for everything but the batch and the schedule.
    pub fn new(batch_size: usize, micro_batch: usize, schedule: Schedule) -> Self {
        TrainConfig {
            batch_size,
            micro_batch,
            epochs: 1,
            steps: None,
            max_length: None,
            max_prompt_length: None,
            schedule,
            optim: AdamWConfig::default(),
            seed: 0,
            shuffle: true,
            log_every: 1,
            checkpoint_every: 0,
            keep_checkpoints: 2,
            max_steps: None,
            gradient_checkpointing: false,
        }
    }

    /// The same config with truncation to `max_length` / `max_prompt_length`.
    pub fn truncating(mut self, max_length: usize, max_prompt_length: usize) -> Self {
        self.max_length = Some(max_length);
        self.max_prompt_length = Some(max_prompt_length);
        self
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, m: String| Err(Error::invalid(format!("train config: `{f}`"), m));
        if self.batch_size == 0 || self.micro_batch == 0 || self.micro_batch > self.batch_size {
            return bad("micro_batch", format!("need 1 ≤ micro_batch ≤ batch_size, got {} and {}", self.micro_batch, self.batch_size));
        }
        if self.epochs == 0 {
            return bad("epochs", "must be ≥ 1".into());
        }
        if self.steps == Some(0) {
            return bad("steps", "must be ≥ 1 when set".into());
        }
        match (self.max_length, self.max_prompt_length) {
            (None, None) => {}
            (Some(ml), Some(mpl)) if mpl >= 1 && mpl < ml => {}
            (Some(ml), Some(mpl)) => return bad("max_prompt_length", format!("need 1 ≤ max_prompt_length < max_length, got {mpl} and {ml}")),
            _ => return bad("max_length", "set both max_length and max_prompt_length, or neither".into()),
        }
        if self.log_every == 0 {
            return bad("log_every", "must be ≥ 1".into());
        }
        self.schedule.validate()
    }

    /// Optimiser steps of a whole run over `n` examples.
    pub fn total_steps(&self, n: usize) -> u64 {
        self.steps.unwrap_or_else(|| n.div_ceil(self.batch_size) as u64 * self.epochs as u64)
    }

    /// Where this run stops (`max_steps`, if earlier than the end).
    pub fn stop_step(&self, n: usize) -> u64 {
        let total = self.total_steps(n);
        self.max_steps.map_or(total, |m| m.min(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_uses_one_vocabulary_and_rejects_unknown_keys() {
        let c: TrainConfig = toml::from_str("batch_size = 8\nmicro_batch = 4\nepochs = 2\nmax_length = 64\nmax_prompt_length = 32\nschedule = { lr = 1e-3 }").unwrap();
        assert_eq!((c.batch_size, c.micro_batch, c.epochs, c.max_length, c.shuffle, c.log_every), (8, 4, 2, Some(64), true, 1));
        c.validate().unwrap();
        assert_eq!(c.total_steps(17), 6); // ceil(17 / 8) = 3 per epoch
        let err = toml::from_str::<TrainConfig>("batch_size = 8\nmicro_batch_size = 4\nschedule = { lr = 1e-3 }").unwrap_err().to_string();
        assert!(err.contains("micro_batch_size"), "{err}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let mut c = TrainConfig::new(8, 16, Schedule::cosine(1e-3, 0.0));
        assert!(c.validate().unwrap_err().to_string().contains("micro_batch"));
        c.micro_batch = 4;
        c.max_length = Some(10);
        assert!(c.validate().unwrap_err().to_string().contains("max_length"));
        c = c.truncating(10, 10);
        assert!(c.validate().unwrap_err().to_string().contains("max_prompt_length"));
        c = c.truncating(10, 4);
        c.steps = Some(5);
        c.max_steps = Some(3);
        c.validate().unwrap();
        assert_eq!((c.total_steps(1000), c.stop_step(1000)), (5, 3));
    }
}
