//! The Hugging Face Trainer arguments of a paper-scale config, as the engine's [`TrainConfig`].
//! Used by the paper paths that train on Hugging Face checkpoints (the Nash family, LCPO).

use crate::error::{Error, Result};
use crate::train::optim::{AdamWConfig, Algorithm};
use crate::train::schedule::{Decay, Schedule};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};

/// The Hugging Face Trainer settings a paper-scale config names (TRL's names): optimiser,
/// schedule, batch as per-device × accumulation × GPUs, epochs, lengths.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HfTrainArgs {
    /// `"rmsprop"` (torch defaults, as HF's `optim=rmsprop`) or `"adamw"`.
    pub optimizer: String,
    /// `"linear"`, `"cosine"` or `"constant"`.
    pub lr_scheduler_type: String,
    pub warmup_ratio: f64,
    pub per_device_batch: usize,
    pub grad_accum: usize,
    pub gpus: usize,
    pub epochs: usize,
    pub max_length: usize,
    pub max_prompt_length: usize,
    #[serde(default)]
    pub gradient_checkpointing: bool,
}

impl HfTrainArgs {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid("paper config [train]", m));
        if !matches!(self.optimizer.as_str(), "rmsprop" | "adamw") {
            return bad(format!("optimizer must be \"rmsprop\" or \"adamw\", got {:?}", self.optimizer));
        }
        if !matches!(self.lr_scheduler_type.as_str(), "linear" | "cosine" | "constant") {
            return bad(format!("lr_scheduler_type must be \"linear\", \"cosine\" or \"constant\", got {:?}", self.lr_scheduler_type));
        }
        if self.per_device_batch == 0 || self.grad_accum == 0 || self.gpus == 0 || self.epochs == 0 {
            return bad("per_device_batch, grad_accum, gpus and epochs must be ≥ 1".into());
        }
        if self.max_prompt_length >= self.max_length {
            return bad(format!("max_prompt_length {} must be below max_length {}", self.max_prompt_length, self.max_length));
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return bad(format!("warmup_ratio {} must lie in [0, 1)", self.warmup_ratio));
        }
        Ok(())
    }

    /// The engine's config of one iteration at learning rate `lr`: global batch = per-device ×
    /// accumulation × GPUs, micro-batch = per-device.
    pub fn at(&self, lr: f64, seed: u64) -> TrainConfig {
        let decay = match self.lr_scheduler_type.as_str() {
            "linear" => Decay::Linear,
            "cosine" => Decay::Cosine,
            _ => Decay::Constant,
        };
        let algorithm = if self.optimizer == "rmsprop" { Algorithm::Rmsprop } else { Algorithm::Adamw };
        let batch = self.per_device_batch * self.grad_accum * self.gpus;
        TrainConfig {
            seed,
            epochs: self.epochs,
            keep_checkpoints: 1,
            gradient_checkpointing: self.gradient_checkpointing,
            optim: AdamWConfig { algorithm, ..AdamWConfig::default() },
            ..TrainConfig::new(batch, self.per_device_batch, Schedule { lr, warmup_ratio: self.warmup_ratio, decay }).truncating(self.max_length, self.max_prompt_length)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_settings_map_to_the_engine() {
        let t = HfTrainArgs { optimizer: "rmsprop".into(), lr_scheduler_type: "linear".into(), warmup_ratio: 0.1, per_device_batch: 8, grad_accum: 1, gpus: 8, epochs: 1, max_length: 1024, max_prompt_length: 512, gradient_checkpointing: true };
        t.validate().unwrap();
        let c = t.at(5e-7, 42);
        assert_eq!((c.batch_size, c.micro_batch, c.epochs, c.seed), (64, 8, 1, 42));
        assert_eq!((c.schedule.lr, c.schedule.decay, c.optim.algorithm), (5e-7, Decay::Linear, Algorithm::Rmsprop));
        let bad = HfTrainArgs { optimizer: "sgd".into(), ..t.clone() };
        assert!(bad.validate().unwrap_err().to_string().contains("optimizer"));
        let bad = HfTrainArgs { max_prompt_length: 2048, ..t };
        assert!(bad.validate().unwrap_err().to_string().contains("max_prompt_length"));
    }
}
