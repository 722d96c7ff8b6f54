//! DRIFT at paper scale through the same loop as the miniature: a Hugging Face checkpoint (hub id
//! or folder), the DSAT JSONL of `cacayaya/DRIFT` (`prompt`, `rejected`, `user_preference`), the
//! plain-text guided prompt of `gen-drift.py` ([`crate::prompt`]), and the shared on-policy loop
//! ([`shared::train::iterate`]) with [`DpoRpo`] and the previous iterate as reference.
//!
//! Per iteration: render every record's guided prompt, tokenise it without special tokens and keep
//! its last `max_prompt_tokens` ids (left truncation, pitfall 3), sample one continuation of π_t
//! (T = 0.7, top-p 0.9, 512 new tokens), take `y⁺` after the last `"Assistant: "`; the pair is
//! `(chat template of x, y⁺, y⁻)`; the first `test_pairs` pairs are held out; one epoch of DPO + RPO.
//!
//! **Optimiser.** The released configs use RMSprop (lr 5e-7): `optimizer = "rmsprop"` selects the
//! engine's RMSprop (`shared::train::optim::Algorithm::Rmsprop`, torch.optim.RMSprop's update);
//! `"adamw"` is there for comparison.

use crate::loss::DpoRpo;
use crate::prompt::{extract_positive, guided_prompt, truncate_left, DsatRecord, DEFAULT_INSTRUCTION};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::model::generate::GenerateConfig;
use shared::model::{Llama, Pretrained};
use shared::tokenize::chat::Message;
use shared::tokenize::Tokenizer;
use shared::train::iterate::{self, Annotation, Annotator, IterateConfig, Reference};
use shared::train::onpolicy::sample_groups;
use shared::train::hf_args::HfTrainArgs;
use shared::train::{Example, TrainConfig};
use std::path::{Path, PathBuf};
use tch::Device;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    pub setting: String,
    /// Hub id or local folder of the start model (the seed model π_0 in the paper).
    pub model: String,
    pub chat_template: String,
    /// The DSAT JSONL (a local path; relative paths are taken from the config's folder).
    pub dsat_data: String,
    /// The `System:` line of the guided prompt (default: [`DEFAULT_INSTRUCTION`]).
    #[serde(default)]
    pub instruction: Option<String>,
    pub iterations: usize,
    pub test_pairs: usize,
    pub objective: DpoRpo,
    /// `"rmsprop"` (the released configs) or `"adamw"`, the schedule, batch and lengths.
    pub train: HfTrainArgs,
    pub learning_rate: f64,
    pub generation: Generation,
    /// `"bf16"` (on CUDA) or `"f32"`.
    pub dtype: String,
    pub seed: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
    /// The guided prompt is cut from the left to this many tokens (gen-drift.py: 2048).
    pub max_prompt_tokens: usize,
    pub batch: usize,
}

impl PaperConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let mut cfg: PaperConfig = shared::io::read_toml(path)?;
        shared::io::rebase_relative(path, &mut [&mut cfg.dsat_data, &mut cfg.model]);
        cfg.validate().with_context(|| format!("invalid config {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        self.objective.validate()?;
        self.train.validate()?;
        if self.iterations == 0 || !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            bail!("iterations must be ≥ 1 and learning_rate > 0");
        }
        if self.generation.max_new_tokens == 0 || self.generation.max_prompt_tokens == 0 {
            bail!("need positive generation lengths");
        }
        if !(self.generation.temperature > 0.0 && self.generation.top_p > 0.0 && self.generation.top_p <= 1.0) {
            bail!("generation: temperature > 0 and top_p in (0, 1]");
        }
        Ok(())
    }

    /// The engine's training config of one iteration: Hugging Face's `optim: rmsprop` is
    /// torch.optim.RMSprop at its defaults (alpha 0.99, eps 1e-8, no momentum) with the Trainer's
    /// weight decay 0 and gradient clipping at 1.0 (`shared::train::hf_args`).
    pub fn train_config(&self) -> Result<TrainConfig> {
        Ok(self.train.at(self.learning_rate, self.seed))
    }
}

/// The DSAT records of a JSONL file; a malformed line is an error naming it.
pub fn load_dsat(path: &Path) -> Result<Vec<DsatRecord>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the DSAT data {} (cacayaya/DRIFT data/dsat_data.jsonl is Git LFS: fetch the real file)", path.display()))?;
    let mut out = vec![];
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let r: DsatRecord = serde_json::from_str(line).with_context(|| format!("{} line {}: not a DSAT record", path.display(), i + 1))?;
        r.validate(i + 1)?;
        out.push(r);
    }
    anyhow::ensure!(!out.is_empty(), "{}: no DSAT records", path.display());
    Ok(out)
}

fn chat(ms: &[crate::prompt::Message]) -> Vec<Message> {
    ms.iter().map(|m| Message { role: m.role.clone(), content: m.content.clone() }).collect()
}

/// The paper's data side: guided positives from π_t, the DSAT reply as the fixed negative.
pub struct PaperAnnotator<'a> {
    pub cfg: &'a PaperConfig,
    pub tok: &'a Tokenizer,
    pub records: &'a [DsatRecord],
    /// Every record's guided prompt, tokenised and left-truncated.
    pub guided: Vec<Vec<i64>>,
}

impl Annotator for PaperAnnotator<'_> {
    fn annotate(&mut self, t: usize, policy: &Llama) -> shared::Result<Annotation> {
        let g = &self.cfg.generation;
        let gen = GenerateConfig { max_new_tokens: g.max_new_tokens, temperature: g.temperature, top_p: g.top_p, stop_tokens: self.tok.stop_tokens(), seed: self.cfg.seed.wrapping_add(t as u64 * 1_000_003) };
        let samples = sample_groups(policy, &self.guided, self.tok.pad_id(), 1, g.batch, &gen)?;
        let instruction = self.cfg.instruction.as_deref().unwrap_or(DEFAULT_INSTRUCTION);
        let mut examples = vec![];
        let mut lens = 0usize;
        for (r, ys) in self.records.iter().zip(samples) {
            let completion = self.tok.decode(&ys[0], true)?;
            let positive = extract_positive(&format!("{}{completion}", guided_prompt(r, instruction)));
            let context = chat(&r.prompt);
            let (prompt, chosen) = self.tok.encode_answer(&context, &positive)?;
            let (_, rejected) = self.tok.encode_answer(&context, &r.rejected[0].content)?;
            lens += positive.len();
            examples.push(Example::pair(prompt, chosen, rejected));
        }
        let test = self.cfg.test_pairs.min(examples.len().saturating_sub(1));
        let examples: Vec<Example> = examples.split_off(test);
        Ok(Annotation { stats: serde_json::json!({ "pairs": examples.len(), "test_pairs": test, "mean_positive_chars": lens as f64 / self.records.len().max(1) as f64 }), examples })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaperSummary {
    pub setting: String,
    pub iterations: Vec<serde_json::Value>,
    pub weights: PathBuf,
}

/// Run the DRIFT iterations of a paper-scale config; the last iterate goes to `out_dir/model.safetensors`.
pub fn run(cfg: &PaperConfig, device: Device, out_dir: &Path) -> Result<PaperSummary> {
    cfg.validate()?;
    let train = cfg.train_config()?;
    shared::device::seed_torch(cfg.seed);
    // The data first: a missing DSAT file should not wait for a model download.
    let records = load_dsat(Path::new(&cfg.dsat_data))?;
    let Pretrained { mut vs, model, tokenizer: tok, source, .. } = Pretrained::load_chat(&cfg.model, &cfg.chat_template, &cfg.dtype, device).with_context(|| format!("loading {}", cfg.model))?;
    let instruction = cfg.instruction.as_deref().unwrap_or(DEFAULT_INSTRUCTION);
    let guided = records.iter().map(|r| Ok(truncate_left(&tok.encode(&guided_prompt(r, instruction), false)?, cfg.generation.max_prompt_tokens))).collect::<Result<Vec<_>>>()?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    shared::io::write_json(&out_dir.join("paper_config.json"), cfg)?;
    let icfg = IterateConfig { iterations: cfg.iterations, reference: Reference::Previous, train, seed_per_iteration: true };
    let tok_id = format!("{}|{}", source.describe(), cfg.chat_template);
    let mut ann = PaperAnnotator { cfg, tok: &tok, records: &records, guided };
    let recs = iterate::run(&model, &mut vs, &mut ann, &cfg.objective, &icfg, tok.pad_id(), &tok_id, out_dir)?;
    let weights = out_dir.join("model.safetensors");
    shared::model::weights::save(&vs, &weights)?;
    let iterations = recs.iter().map(|r| serde_json::json!({ "iteration": r.iteration, "stats": r.stats, "steps": r.train.steps, "mean_loss": r.train.mean_loss, "final_margin": r.train.metric("margin") })).collect();
    let s = PaperSummary { setting: cfg.setting.clone(), iterations, weights };
    shared::io::write_json(&out_dir.join("summary.json"), &s)?;
    Ok(s)
}
