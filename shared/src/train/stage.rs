//! A paper-scale SFT stage: the fine-tune that makes a recipe's start model from a pretrained
//! base (EVOLVE's `L_SFT` on both formats, Temporal Self-Rewarding's `M_0 = SFT(M_b, IFT ∪ EFT)`).
//! The examples are the paper's; the training is the shared SFT trainer ([`super::sft`]); the
//! result is a servable model folder (`config.json`, the base's tokenizer files,
//! `model.safetensors`) that the next stage loads like any checkpoint.
//!
//! Resumable: a finished stage (`done.json` in its folder) is not loaded or trained again; an
//! interrupted one trains on from the engine's checkpoint in `<dir>/train/`. `done.json` is
//! written last, so a folder without it is never taken for a finished model.

use super::engine::Summary;
use super::example::{truncate_all, Example};
use super::sft::{self, SftConfig, SftExample};
use crate::error::{Error, Result};
use crate::model::Pretrained;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The tokenizer files a servable folder carries over from its base, when the base has them.
const TOKENIZER_FILES: [&str; 4] = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"];

/// What `done.json` records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageDone {
    /// The base the stage started from (`Source::describe`).
    pub base: String,
    pub examples: usize,
    pub steps: u64,
    pub mean_loss: f64,
    pub final_loss: f64,
    pub seconds: f64,
}

/// Whether `dir` holds a finished stage.
pub fn is_done(dir: &Path) -> bool {
    dir.join("done.json").is_file()
}

/// Make the stage's model in `dir` unless it is there already. `prepare` loads the base and
/// builds the examples with its tokenizer; it is called only when the stage still has to train,
/// so a finished stage costs no base download or data pass.
pub fn ensure(dir: &Path, cfg: &SftConfig, prepare: impl FnOnce() -> Result<(Pretrained, Vec<SftExample>)>) -> Result<StageDone> {
    let done = dir.join("done.json");
    if is_done(dir) {
        let d: StageDone = crate::io::read_json(&done)?;
        eprintln!("==> SFT stage: finished earlier ({}, {} steps from {})", dir.display(), d.steps, d.base);
        return Ok(d);
    }
    let (mut pre, data) = prepare()?;
    if data.is_empty() {
        return Err(Error::invalid(format!("SFT stage {}", dir.display()), "has no examples"));
    }
    // TRL's truncation under the config's (max_length, max_prompt_length), as every trainer here.
    let examples: Vec<Example> = data.iter().map(|d| Example::new(d.prompt.clone(), vec![d.response.clone()])).collect();
    let data: Vec<SftExample> = truncate_all(&examples, cfg.train.max_length, cfg.train.max_prompt_length)
        .map_err(|e| Error::invalid(format!("SFT stage {}", dir.display()), e.to_string()))?
        .into_iter()
        .map(|e| SftExample { prompt: e.prompt, response: e.responses.into_iter().next().unwrap_or_default() })
        .collect();
    eprintln!("==> SFT stage: {} examples from {} into {}", data.len(), pre.source.describe(), dir.display());
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let s: Summary = sft::train(&pre.model, &mut pre.vs, &data, pre.tokenizer.pad_id(), cfg, &dir.join("train"))?;
    crate::io::write_json(&dir.join("config.json"), pre.model.config())?;
    for name in TOKENIZER_FILES {
        if let Some(f) = pre.source.optional_file(name)? {
            let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
            crate::io::write_atomic(&dir.join(name), &bytes)?;
        }
    }
    crate::model::weights::save(&pre.vs, &dir.join("model.safetensors"))?;
    let d = StageDone { base: pre.source.describe(), examples: data.len(), steps: s.steps, mean_loss: s.mean_loss, final_loss: s.final_loss, seconds: s.seconds };
    crate::io::write_json(&done, &d)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::schedule::Schedule;
    use crate::train::sft::LossNorm;
    use crate::train::TrainConfig;

    #[test]
    fn a_stage_writes_a_loadable_model_once() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("base");
        crate::api::sampler::world_test_checkpoint(&base, 16, 1, 2, 64, 0).unwrap();
        let mut train = TrainConfig::new(2, 2, Schedule::cosine(1e-2, 0.0));
        train.steps = Some(3);
        let cfg = SftConfig { train, loss_norm: LossNorm::TokenMean };
        let out = tmp.path().join("stage");
        let data = vec![SftExample { prompt: vec![5, 6, 7], response: vec![8, 9] }, SftExample { prompt: vec![5, 7], response: vec![9, 8, 10] }];
        let d = ensure(&out, &cfg, || Ok((Pretrained::load(base.to_str().unwrap(), tch::Device::Cpu)?, data.clone()))).unwrap();
        assert_eq!((d.examples, d.steps), (2, 3));
        // The folder loads as a checkpoint, with the base's tokenizer, and its weights moved.
        let after = Pretrained::load(out.to_str().unwrap(), tch::Device::Cpu).unwrap();
        let before = Pretrained::load(base.to_str().unwrap(), tch::Device::Cpu).unwrap();
        assert_eq!(after.tokenizer.vocab_size(), before.tokenizer.vocab_size());
        let moved = before.vs.variables().iter().any(|(k, t)| (t - &after.vs.variables()[k]).abs().max().double_value(&[]) > 0.0);
        assert!(moved, "the stage trained");
        // A second call finds it finished and never calls `prepare`.
        let again = ensure(&out, &cfg, || panic!("a finished stage must not load its base")).unwrap();
        assert_eq!(again, d);
    }

    #[test]
    fn a_stage_without_examples_is_refused_and_leaves_no_model() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("base");
        crate::api::sampler::world_test_checkpoint(&base, 16, 1, 2, 64, 0).unwrap();
        let cfg = SftConfig { train: TrainConfig::new(2, 2, Schedule::cosine(1e-2, 0.0)), loss_norm: LossNorm::TokenMean };
        let out = tmp.path().join("stage");
        let e = ensure(&out, &cfg, || Ok((Pretrained::load(base.to_str().unwrap(), tch::Device::Cpu)?, vec![]))).unwrap_err().to_string();
        assert!(e.contains("no examples"), "{e}");
        assert!(!is_done(&out));
    }
}
