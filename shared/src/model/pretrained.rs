//! Loading a model folder or hub id in one call: config, tokenizer (checked against the
//! embedding), and weights into a fresh `VarStore`. f32 on CPU, bf16 on CUDA unless told otherwise.

use super::config::LlamaConfig;
use super::llama::Llama;
use super::reward::RewardModel;
use super::weights::{load_into, LoadReport};
use crate::error::Result;
use crate::hub::{self, Source};
use crate::tokenize::Tokenizer;
use tch::{nn::VarStore, Device, Kind};

/// The default dtype for a device: f32 on CPU, bf16 on CUDA.
pub fn default_kind(device: Device) -> Kind {
    if device.is_cuda() {
        Kind::BFloat16
    } else {
        Kind::Float
    }
}

/// Config and tokenizer of a source, checked against each other.
pub fn load_config_and_tokenizer(src: &Source) -> Result<(LlamaConfig, Tokenizer)> {
    let cfg = LlamaConfig::from_file(src.file("config.json")?)?;
    let tok = Tokenizer::from_source(src)?;
    tok.check_fits(cfg.vocab_size)?;
    Ok((cfg, tok))
}

fn fresh_store(device: Device, kind: Kind) -> VarStore {
    let mut vs = VarStore::new(device);
    if kind != Kind::Float {
        vs.set_kind(kind);
    }
    vs
}

/// The shared steps of every loader: config + tokenizer, a fresh store, the model built by
/// `build`, weights loaded by name (`allow_missing` may stay at their initialisation).
fn load_parts<M>(src: &Source, device: Device, kind: Kind, build: impl FnOnce(&tch::nn::Path, &LlamaConfig) -> Result<M>, allow_missing: &[&str]) -> Result<(VarStore, M, Tokenizer, LoadReport)> {
    let (cfg, tokenizer) = load_config_and_tokenizer(src)?;
    let files = src.weight_files()?;
    let vs = fresh_store(device, kind);
    let model = build(&vs.root(), &cfg)?;
    let report = load_into(&vs, &files, allow_missing)?;
    Ok((vs, model, tokenizer, report))
}

/// A causal language model with its tokenizer.
#[derive(Debug)]
pub struct Pretrained {
    pub vs: VarStore,
    pub model: Llama,
    pub tokenizer: Tokenizer,
    pub source: Source,
    pub report: LoadReport,
}

impl Pretrained {
    /// Load `spec` (a folder or `owner/name[@revision]`) onto `device` in its default dtype.
    pub fn load(spec: &str, device: Device) -> Result<Self> {
        Self::load_from(&hub::resolve(spec)?, device, default_kind(device))
    }

    pub fn load_from(src: &Source, device: Device, kind: Kind) -> Result<Self> {
        let (vs, model, tokenizer, report) = load_parts(src, device, kind, Llama::new, &[])?;
        Ok(Self { vs, model, tokenizer, source: src.clone(), report })
    }

    /// What a paper-scale config names: `spec` (folder or hub id) in the config's `dtype`
    /// ([`kind_of`]), its tokenizer given the named chat template.
    pub fn load_chat(spec: &str, chat_template: &str, dtype: &str, device: Device) -> Result<Self> {
        let mut p = Self::load_from(&hub::resolve(spec)?, device, kind_of(dtype, device)?)?;
        p.tokenizer = p.tokenizer.with_chat_template(chat_template)?;
        Ok(p)
    }
}

/// A config's `dtype` on a device: `"bf16"` is bfloat16 on CUDA and f32 on CPU (libtorch's CPU
/// kernels for bf16 are slow and the tests compare against f32), `"f32"` is f32 everywhere.
pub fn kind_of(dtype: &str, device: Device) -> Result<Kind> {
    match dtype {
        "bf16" if device.is_cuda() => Ok(Kind::BFloat16),
        "bf16" | "f32" => Ok(Kind::Float),
        other => Err(crate::error::Error::invalid(format!("dtype {other:?}"), "is not one of \"bf16\", \"f32\"")),
    }
}

/// A scalar reward model with its tokenizer. From a causal-LM checkpoint the score head starts
/// fresh (reported in `report.left_initialised`); from a reward checkpoint it is loaded.
#[derive(Debug)]
pub struct PretrainedReward {
    pub vs: VarStore,
    pub model: RewardModel,
    pub tokenizer: Tokenizer,
    pub source: Source,
    pub report: LoadReport,
}

impl PretrainedReward {
    pub fn load(spec: &str, device: Device) -> Result<Self> {
        Self::load_from(&hub::resolve(spec)?, device, default_kind(device))
    }

    pub fn load_from(src: &Source, device: Device, kind: Kind) -> Result<Self> {
        let (vs, model, tokenizer, report) = load_parts(src, device, kind, RewardModel::new, &["score.weight"])?;
        Ok(Self { vs, model, tokenizer, source: src.clone(), report })
    }
}
