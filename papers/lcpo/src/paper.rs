//! RE-PO at paper scale through the same objective and trainer as the miniature: a Hugging Face
//! checkpoint (hub id or folder), the UltraFeedback-format preference parquet the SimPO authors
//! released (tokenised exactly as SimPO's paper path does, `simpo::paper::encode_pairs`), the
//! engine's policy trainer (`shared::train::policy`) with [`crate::objective::RePo`] (or a plain
//! base loss for the comparison row), the frozen starting model as DPO's reference, and the
//! trained weights and the final reliability η written out.
//!
//! The paper does not state the base loss's β, γ, learning rate or batch (spec, "Hyperparameters");
//! the configs take them from the SimPO repository's released training configs for the same model
//! and data, as the spec suggests, and say so.

use crate::config::MethodObjective;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::hub;
use shared::model::pretrained::Pretrained;
use shared::tokenize::chat::ChatTemplate;
use shared::train::hf_args::HfTrainArgs;
use shared::train::policy::{self, Refs};
use shared::train::Example;
use std::path::{Path, PathBuf};
use tch::{Device, Kind};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    pub setting: String,
    /// The starting model: a hub id or a local folder.
    pub model: String,
    /// `ChatTemplate::from_name` (SimPO's `mistral-simpo` for Mistral, as `run_simpo.py` swaps it in).
    pub chat_template: String,
    /// A hub dataset id or a local folder, and its files.
    pub dataset: String,
    pub train_files: Vec<String>,
    #[serde(default)]
    pub max_pairs: Option<usize>,
    pub method: Method,
    pub train: HfTrainArgs,
    /// `"bf16"` (on CUDA) or `"f32"`.
    pub dtype: String,
    pub seed: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub name: String,
    pub lr: f64,
    pub objective: MethodObjective,
}

impl PaperConfig {
    /// Load and validate; relative paths (model, dataset) are taken from the config's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let mut c: PaperConfig = shared::io::read_toml(path)?;
        shared::io::rebase_relative(path, &mut [&mut c.model, &mut c.dataset]);
        c.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        self.train.validate()?;
        self.method.objective.build().with_context(|| format!("method {:?}", self.method.name))?;
        if !(self.method.lr > 0.0 && self.method.lr.is_finite()) {
            bail!("method {:?}: lr must be > 0, got {}", self.method.name, self.method.lr);
        }
        if self.train_files.is_empty() {
            bail!("train_files is empty");
        }
        if !matches!(self.dtype.as_str(), "bf16" | "f32") {
            bail!("dtype must be \"bf16\" or \"f32\", got {:?}", self.dtype);
        }
        Ok(())
    }
}

/// What a paper-scale run did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaperSummary {
    pub setting: String,
    pub method: String,
    pub pairs: usize,
    pub steps: u64,
    pub final_loss: f64,
    /// The estimated reliability η per annotator at the end (RE methods; empty otherwise).
    pub eta: Vec<f64>,
    pub weights: PathBuf,
}

/// Train the config's method into `out` (resumable from the engine's checkpoints).
pub fn run(cfg: &PaperConfig, device: Device, out: &Path) -> Result<PaperSummary> {
    cfg.validate()?;
    shared::device::seed_torch(cfg.seed);
    let kind = if device.is_cuda() && cfg.dtype == "bf16" { Kind::BFloat16 } else { Kind::Float };
    let start = Pretrained::load_from(&hub::resolve(&cfg.model)?, device, kind).with_context(|| format!("loading {}", cfg.model))?;
    let mut tok = start.tokenizer.clone();
    tok.check_fits(start.model.config().vocab_size)?;
    tok.chat = Some(ChatTemplate::from_name(&cfg.chat_template, tok.bos_token.as_deref().unwrap_or(""), tok.eos_token.as_deref().unwrap_or(""))?);
    let raw = shared::data::preference::load_dataset(&cfg.dataset, &cfg.train_files, cfg.max_pairs)?;
    let examples: Vec<Example> = simpo::paper::encode_pairs(&tok, &raw)?.into_iter().map(|p| Example::pair(p.prompt, p.chosen, p.rejected)).collect();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    shared::io::write_json(&out.join("paper_config.json"), cfg)?;
    // The policy is a trainable copy; the loaded model stays frozen as the reference.
    let (mut vs, policy) = start.model.copy_with(&start.vs)?;
    let tok_id = format!("{}|{}", start.source.describe(), cfg.chat_template);
    let ref_dir = out.join("reference");
    let refs = Refs::single(&start.model, &start.vs, &tok_id, &ref_dir);
    let objective = cfg.method.objective.build()?;
    let train = cfg.train.at(cfg.method.lr, cfg.seed);
    let s = policy::train(&policy, &mut vs, objective.as_ref(), &examples, &refs, &train, tok.pad_id(), &out.join("train"))?;
    let eta = objective.state()["eta"].as_array().map(|v| v.iter().filter_map(|x| x.as_f64()).collect()).unwrap_or_default();
    let weights = out.join("model.safetensors");
    shared::model::weights::save(&vs, &weights)?;
    let summary = PaperSummary { setting: cfg.setting.clone(), method: cfg.method.name.clone(), pairs: examples.len(), steps: s.steps, final_loss: s.final_loss, eta, weights };
    shared::io::write_json(&out.join("summary.json"), &summary)?;
    Ok(summary)
}
