//! The miniature's TOML config (`configs/{smoke,mini}.toml`), deserialised with serde (a wrong key
//! is an error naming it) and validated on load. Numbers the paper does not state (SimPO's
//! settings, the router, the gap metric) are the spec's assumptions and are marked so in the tables.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
pub use shared::world::policy::{Decode, Sampling};
use shared::objectives::dpo::Dpo;
use shared::train::TrainConfig;
use shared::world::demos::DemoConfig;
use simpo::loss::SimpoConfig;
use std::path::{Path, PathBuf};

/// The seven-model zoo of graded strength (spec "Miniature reproduction" 1).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZooConfig {
    /// M0 and M1: the SFT base's own recipe (same seed, data and schedule) stopped after these
    /// fractions of its steps.
    pub sft_fractions: [f64; 2],
    /// Prompts of the zoo's own split (disjoint from the annotation split) whose oracle-labelled
    /// on-policy pairs train M3, M4 and M6.
    pub pair_prompts: usize,
    pub sampling: Sampling,
    /// M3 (and M6 on flipped labels): DPO from the base.
    pub dpo: Dpo,
    /// M4: SimPO from the base.
    pub simpo: SimpoConfig,
    pub simpo_lr: f64,
    /// M3, M4, M6's trainer.
    pub train: TrainConfig,
    /// M5: the base fine-tuned further on a wrong-heavy demonstration mix.
    pub wrong_heavy: WrongHeavy,
    /// Strength = mean oracle score of answers sampled at this temperature on the mini AlpacaEval.
    pub strength_temperature: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrongHeavy {
    pub demos: usize,
    pub mix: DemoConfig,
    pub train: TrainConfig,
}

/// Items per section of the mini RewardBench (the world has no refusal family: no Safety).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    pub chat: usize,
    pub chat_hard: usize,
    pub reasoning: usize,
}

/// Annotation of the base's samples and the downstream SimPO runs (spec 5).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotateConfig {
    pub prompts: usize,
    /// N samples per prompt from the base.
    pub sampling: Sampling,
    /// Which label sources get a SimPO run, in table order.
    pub labels: Vec<LabelSource>,
    pub simpo: SimpoConfig,
    pub train: TrainConfig,
}

/// Who ranks the N samples of a prompt (chosen = first best, rejected = first worst, unless
/// the source says otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelSource {
    /// r_DR(M3 over M2), summed, best vs worst (the initial commit's rule).
    Cdr,
    /// r_DR(M3 over M2), best vs a random other sample (HEAD's rule).
    CdrRandomOther,
    /// r_DR(M2 over M0): the "SFT-vs-base" pair.
    CdrSftOverBase,
    /// The world's oracle (the ArmoRM role: an upper bound).
    Oracle,
    /// The length-biased pairwise judge, as a Borda score over the group.
    Judge,
    /// Uniformly random scores (sanity).
    Random,
}

impl LabelSource {
    /// The id used in records and claims (as written in the config).
    pub fn id(self) -> &'static str {
        match self {
            LabelSource::Cdr => "cdr",
            LabelSource::CdrRandomOther => "cdr-random-other",
            LabelSource::CdrSftOverBase => "cdr-sft-over-base",
            LabelSource::Oracle => "oracle",
            LabelSource::Judge => "judge",
            LabelSource::Random => "random",
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            LabelSource::Cdr => "SimPO on CDR",
            LabelSource::CdrRandomOther => "SimPO on CDR (best vs random other)",
            LabelSource::CdrSftOverBase => "SimPO on CDR (M2 over M0)",
            LabelSource::Oracle => "SimPO on oracle",
            LabelSource::Judge => "SimPO on judge",
            LabelSource::Random => "SimPO on random",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniConfig {
    pub threads: i32,
    /// Evaluation prompts used from the fixed mini AlpacaEval (all of them when absent).
    #[serde(default)]
    pub eval_prompts: Option<usize>,
    pub zoo: ZooConfig,
    pub bench: BenchConfig,
    pub annotate: AnnotateConfig,
    /// How the downstream models answer the mini AlpacaEval.
    pub decode: Decode,
}

impl MiniConfig {
    pub fn load(path: &Path) -> Result<Self> {
        shared::io::load_config(path, Self::validate)
    }

    pub fn validate(&self) -> Result<()> {
        let z = &self.zoo;
        if !(z.sft_fractions[0] > 0.0 && z.sft_fractions[0] < z.sft_fractions[1] && z.sft_fractions[1] < 1.0) {
            bail!("zoo.sft_fractions: need 0 < first < second < 1, got {:?}", z.sft_fractions);
        }
        for (name, t) in [("zoo.train", &z.train), ("zoo.wrong_heavy.train", &z.wrong_heavy.train), ("annotate.train", &self.annotate.train)] {
            t.validate().with_context(|| name.to_string())?;
        }
        if z.wrong_heavy.train.steps.is_none() {
            bail!("zoo.wrong_heavy.train: set `steps` (the fine-tune streams over its demonstrations)");
        }
        z.wrong_heavy.mix.validate()?;
        z.dpo.validate()?;
        for (name, s) in [("zoo.simpo", &z.simpo), ("annotate.simpo", &self.annotate.simpo)] {
            s.validate().map_err(anyhow::Error::msg).with_context(|| name.to_string())?;
        }
        if !(z.simpo_lr > 0.0 && z.simpo_lr.is_finite()) {
            bail!("zoo.simpo_lr must be positive, got {}", z.simpo_lr);
        }
        if !(z.strength_temperature > 0.0) {
            bail!("zoo.strength_temperature must be > 0 (strength is measured on sampled answers)");
        }
        if z.sampling.samples < 2 || self.annotate.sampling.samples < 2 {
            bail!("zoo.sampling.samples and annotate.sampling.samples must be ≥ 2");
        }
        if z.pair_prompts == 0 || z.wrong_heavy.demos == 0 || self.annotate.prompts == 0 {
            bail!("zoo.pair_prompts, zoo.wrong_heavy.demos and annotate.prompts must be ≥ 1");
        }
        let b = &self.bench;
        if b.chat == 0 || b.chat_hard == 0 || b.reasoning == 0 {
            bail!("bench: every section needs ≥ 1 item, got chat {} chat_hard {} reasoning {}", b.chat, b.chat_hard, b.reasoning);
        }
        let l = &self.annotate.labels;
        if !l.contains(&LabelSource::Cdr) || (1..l.len()).any(|i| l[..i].contains(&l[i])) {
            bail!("annotate.labels: must include \"cdr\" and name each source once, got {l:?}");
        }
        if self.eval_prompts == Some(0) {
            bail!("eval_prompts must be ≥ 1 when set");
        }
        Ok(())
    }
}

/// The folder of this crate's configs.
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_configs_load_and_bad_values_are_named() {
        for name in ["mini", "smoke"] {
            let cfg = MiniConfig::load(&config_dir().join(format!("{name}.toml"))).unwrap();
            assert!(cfg.annotate.labels.contains(&LabelSource::Oracle) && cfg.annotate.labels.contains(&LabelSource::Random));
        }
        let dir = tempfile::tempdir().unwrap();
        let src = std::fs::read_to_string(config_dir().join("smoke.toml")).unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, src.replacen("pair_prompts", "pair_prompt", 1)).unwrap();
        let err = format!("{:#}", MiniConfig::load(&p).unwrap_err());
        assert!(err.contains("pair_prompt") && err.contains("bad.toml"), "{err}");
        std::fs::write(&p, src.replacen("sft_fractions = [0.1, 0.4]", "sft_fractions = [0.4, 0.1]", 1)).unwrap();
        assert!(format!("{:#}", MiniConfig::load(&p).unwrap_err()).contains("sft_fractions"));
        std::fs::write(&p, src.replacen("labels = [", "labels = [\"oracle\", ", 1)).unwrap();
        assert!(format!("{:#}", MiniConfig::load(&p).unwrap_err()).contains("annotate.labels"));
    }
}
