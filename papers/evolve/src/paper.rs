//! The paper-scale config (`configs/paper/llama-3.1-8b.toml`): models, data, hyperparameters and
//! the refinement template, every unrecovered value marked as an assumption (spec pitfall 9).
//!
//! [`run`] is the paper-scale path, the miniature's stages at full size:
//! 1. **SFT stage** (`L_SFT`, Eq. 4) unless `start_model` names a finished SFT-both checkpoint:
//!    every preference pair `(x, y_w, y_l)` of `[sft]` (UltraFeedback format) gives the direct
//!    target `x → y_w` and the refine target `(x, y_l, z) → y_w`, the refinement template as one
//!    user turn; trained by the shared SFT trainer into `<out>/sft-both/` ([`shared::train::stage`]);
//! 2. **rounds** through the miniature's annotator ([`crate::pipeline::EvolveAnnotator`] on
//!    [`shared::train::iterate`] with [`EvolveObjective`]): chains under the chat template, a pair
//!    per chain chosen by the rule or by the `[preference]` reward model
//!    ([`shared::nash::paper::RewardScorer`], the same scorer as the Nash papers' paper scale).
//!
//! Tested on the tiny Llama fixture (both stages, rule and RM selection, resume).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::data::load_prompts;
use shared::data::preference::{load_dataset, PreferencePair};
use shared::model::generate::GenerateConfig;
use shared::model::pretrained::kind_of;
use shared::model::{Llama, Pretrained};
use shared::nash::paper::{PreferenceSource, RewardScorer};
use shared::tokenize::chat::Message;
use shared::tokenize::Tokenizer;
use shared::train::hf_args::HfTrainArgs;
use shared::train::iterate::{self, IterateConfig, Reference};
use shared::train::sft::{LossNorm, SftConfig, SftExample};
use shared::train::{stage, TrainConfig};
use std::path::{Path, PathBuf};
use tch::Device;

use crate::config::{Kind, Method, RefineNegative, Selection};
use crate::loss::EvolveObjective;
use crate::pipeline::{ChainEval, EvolveAnnotator, Setting};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    pub setting: String,
    /// `meta-llama/Llama-3.1-8B` (base; confirmed): what the SFT stage starts from.
    pub model: String,
    /// A finished SFT-both checkpoint (hub id or folder) to start the rounds from; when absent,
    /// the SFT stage makes one from `model` in `<out>/sft-both/`.
    #[serde(default)]
    pub start_model: Option<String>,
    pub chat_template: String,
    /// The round prompts, JSONL `{"prompt": ...}`, split into `iterations` chunks.
    pub prompts: String,
    pub max_new_tokens: usize,
    pub sampling_batch: usize,
    pub train: HfTrainArgs,
    pub seed: u64,
    pub dtype: String,
    pub sft: SftStage,
    /// The reward model that scores chains (`selection = "rm"`): none is recovered from the paper,
    /// so none is set by default; `type = "reward_model"` as in the Nash papers' configs.
    #[serde(default)]
    pub preference: Option<PreferenceSource>,
    /// The refinement template z, as the spec gives it (paper wording unknown).
    pub refine_template: String,
    pub iterations: usize,
    pub prompts_per_iteration: usize,
    /// N responses per chain (1 direct + N−1 refinements).
    pub chain_length: usize,
    pub selection: Selection,
    pub refine_negative: RefineNegative,
    pub objective: EvolveObjective,
    pub dpo_lr: f64,
    pub epochs: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub max_length: usize,
    /// Values not recovered from the paper (spec: mark them; the report claims no fidelity on them).
    pub assumptions: Vec<String>,
}

/// EVOLVE's SFT stage: `L_SFT` on preference pairs (`HuggingFaceH4/ultrafeedback_binarized`
/// `train_prefs` [R]), both targets of every pair.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftStage {
    /// Hub dataset id or folder, and its files (parquet or JSONL, UltraFeedback columns).
    pub dataset: String,
    pub files: Vec<String>,
    /// Use the first `max_pairs` pairs only (all when absent).
    #[serde(default)]
    pub max_pairs: Option<usize>,
    pub lr: f64,
    pub train: HfTrainArgs,
}

impl PaperConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let mut c: PaperConfig = shared::io::read_toml(path)?;
        let mut paths: Vec<&mut String> = vec![&mut c.prompts, &mut c.model, &mut c.sft.dataset];
        paths.extend(c.start_model.as_mut());
        if let Some(PreferenceSource::RewardModel { model, .. }) = c.preference.as_mut() {
            paths.push(model);
        }
        shared::io::rebase_relative(path, &mut paths);
        c.sft.train.validate()?;
        c.objective.validate()?;
        c.train.validate()?;
        if c.iterations == 0 || c.chain_length < 2 || c.prompts_per_iteration == 0 {
            bail!("iterations ≥ 1, chain_length ≥ 2, prompts_per_iteration ≥ 1");
        }
        if !c.refine_template.is_empty() && c.refine_template.contains("{previous}") && c.refine_template.contains("{question}") {
            Ok(c)
        } else {
            bail!("refine_template must contain {{question}} and {{previous}}")
        }
    }

    /// The refine prompt: the template with the question and the latest answer filled in.
    pub fn refine_prompt(&self, question: &str, previous: &str) -> String {
        self.refine_template.replace("{question}", question).replace("{previous}", previous)
    }
}

/// The paper scale as the annotator sees it.
pub struct PaperSetting<'a> {
    pub cfg: &'a PaperConfig,
    pub tok: Tokenizer,
    pub questions: Vec<Vec<String>>,
    pub chunk_ids: Vec<Vec<Vec<i64>>>,
    /// The `[preference]` reward model, when the config has one.
    pub scorer: Option<RewardScorer>,
}

impl Setting for PaperSetting<'_> {
    fn prompt_ids(&self, t: usize) -> &[Vec<i64>] {
        &self.chunk_ids[t]
    }
    /// The refinement template with the question and the latest answer, as one user turn.
    fn refine_ids(&self, t: usize, p: usize, prev: &[i64]) -> shared::Result<Vec<i64>> {
        let prev = self.tok.decode(prev, true)?;
        self.tok.encode_chat(&[Message::user(self.cfg.refine_prompt(&self.questions[t][p], &prev))], true)
    }
    fn decode(&self, y: &[i64]) -> shared::Result<String> {
        self.tok.decode(y, true)
    }
    fn pad(&self) -> i64 {
        self.tok.pad_id()
    }
    fn gen(&self, seed: u64) -> GenerateConfig {
        GenerateConfig { max_new_tokens: self.cfg.max_new_tokens, temperature: self.cfg.temperature, top_p: self.cfg.top_p, stop_tokens: self.tok.stop_tokens(), seed }
    }
    fn samples(&self) -> usize {
        self.cfg.chain_length
    }
    fn prompts_per_batch(&self) -> usize {
        self.cfg.sampling_batch
    }
    fn seed(&self) -> u64 {
        self.cfg.seed
    }
    /// The reward model's scores of the chain as answers to the plain question (no oracle here).
    fn score(&self, t: usize, p: usize, texts: &[String], _rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Option<(Vec<f64>, Vec<f64>)>> {
        let Some(scorer) = &self.scorer else { return Ok(None) };
        let q = self.questions[t][p].as_str();
        let rm = scorer.score(&texts.iter().map(|y| (q, y.as_str())).collect::<Vec<_>>())?;
        Ok(Some((rm, vec![f64::NAN; texts.len()])))
    }
    fn evaluate(&self, _policy: &Llama) -> shared::Result<Option<ChainEval>> {
        Ok(None)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaperSummary {
    pub setting: String,
    /// The checkpoint the rounds started from (the SFT stage's folder, or `start_model`).
    pub sft_both: String,
    /// Per round: the data statistics and the training summary.
    pub rounds: Vec<serde_json::Value>,
    pub out_dir: PathBuf,
}

/// `L_SFT`'s two targets of every pair (Eq. 4): `x → y_w` and `(x, y_l, z) → y_w`, the refine
/// prompt being the refinement template as one user turn, as in the rounds.
pub fn sft_examples(cfg: &PaperConfig, tok: &Tokenizer, pairs: &[PreferencePair]) -> shared::Result<Vec<SftExample>> {
    let mut out = Vec::with_capacity(2 * pairs.len());
    for p in pairs {
        let question = p.context.iter().rev().find(|m| m.role == "user").map(|m| m.content.as_str());
        let question = question.ok_or_else(|| shared::Error::invalid(format!("SFT pair {}", p.prompt_id), "has no user message"))?;
        for context in [p.context.clone(), vec![Message::user(cfg.refine_prompt(question, &p.rejected))]] {
            let (prompt, response) = tok.encode_answer(&context, &p.chosen)?;
            out.push(SftExample { prompt, response });
        }
    }
    Ok(out)
}

/// The SFT stage's model: `start_model` when given, else `L_SFT` from `model` into `out_dir/sft-both/`.
fn sft_both(cfg: &PaperConfig, device: Device, out_dir: &Path) -> Result<String> {
    if let Some(m) = &cfg.start_model {
        return Ok(m.clone());
    }
    let dir = out_dir.join("sft-both");
    let sft = SftConfig { train: cfg.sft.train.at(cfg.sft.lr, cfg.seed), loss_norm: LossNorm::TokenMean };
    stage::ensure(&dir, &sft, || {
        let pairs = load_dataset(&cfg.sft.dataset, &cfg.sft.files, cfg.sft.max_pairs)?;
        let base = Pretrained::load_chat(&cfg.model, &cfg.chat_template, &cfg.dtype, device)?;
        let data = sft_examples(cfg, &base.tokenizer, &pairs)?;
        Ok((base, data))
    })
    .context("EVOLVE's SFT stage (L_SFT)")?;
    Ok(dir.display().to_string())
}

/// Run EVOLVE at paper scale: the SFT stage (unless `start_model` is set), then the rounds in
/// `out_dir/evolve/`. Resumable at every stage.
pub fn run(cfg: &PaperConfig, device: Device, out_dir: &Path) -> Result<PaperSummary> {
    // Everything a long run would fail on later is checked before any model loads.
    if cfg.selection == Selection::Rm && cfg.preference.is_none() {
        bail!("selection = \"rm\" needs a reward model to score the chains; this config has none: add a [preference] table (type = \"reward_model\", model, chat_template, max_length, stands_for) or use selection = \"rule\"");
    }
    let prompts = load_prompts(Path::new(&cfg.prompts))?;
    let per = (prompts.len() / cfg.iterations).min(cfg.prompts_per_iteration);
    anyhow::ensure!(per > 0, "{} prompts for {} rounds", prompts.len(), cfg.iterations);
    shared::device::seed_torch(cfg.seed);
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    shared::io::write_json(&out_dir.join("paper_config.json"), cfg)?;
    let start = sft_both(cfg, device, out_dir)?;
    let Pretrained { mut vs, model, tokenizer: tok, source, .. } = Pretrained::load_chat(&start, &cfg.chat_template, &cfg.dtype, device).with_context(|| format!("loading the SFT-both model {start}"))?;
    let scorer = match &cfg.preference {
        Some(p) => Some(RewardScorer::load(p, cfg.sampling_batch * cfg.chain_length, device, kind_of(&cfg.dtype, device)?, cfg.seed)?),
        None => None,
    };
    let questions: Vec<Vec<String>> = prompts.chunks(per).take(cfg.iterations).map(<[String]>::to_vec).collect();
    let chunk_ids = questions.iter().map(|c| c.iter().map(|q| tok.encode_chat(&[Message::user(q.clone())], true)).collect::<shared::Result<Vec<_>>>()).collect::<shared::Result<Vec<_>>>()?;
    let tok_id = format!("{}|{}", source.describe(), cfg.chat_template);
    let ps = PaperSetting { cfg, tok, questions, chunk_ids, scorer };
    let train: TrainConfig = cfg.train.at(cfg.dpo_lr, cfg.seed);
    let dir = out_dir.join("evolve");
    let icfg = IterateConfig { iterations: cfg.iterations, reference: Reference::Previous, train, seed_per_iteration: true };
    let method = Method { name: "EVOLVE".into(), kind: Kind::Evolve, selection: cfg.selection, refine_negative: cfg.refine_negative, direct_term: true };
    let mut ann = EvolveAnnotator { setting: &ps, method };
    let recs = iterate::run(&model, &mut vs, &mut ann, &cfg.objective, &icfg, ps.tok.pad_id(), &tok_id, &dir)?;
    shared::model::weights::save(&vs, &dir.join("model.safetensors"))?;
    let rounds = recs.iter().map(|r| serde_json::json!({ "iteration": r.iteration, "stats": r.stats, "steps": r.train.steps, "mean_loss": r.train.mean_loss })).collect();
    let s = PaperSummary { setting: cfg.setting.clone(), sft_both: start, rounds, out_dir: out_dir.to_path_buf() };
    shared::io::write_json(&out_dir.join("summary.json"), &s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_config_loads_with_the_spec_values() {
        let c = PaperConfig::load(&crate::config::config_dir().join("paper/llama-3.1-8b.toml")).unwrap();
        assert_eq!(c.model, "meta-llama/Llama-3.1-8B");
        assert_eq!((c.iterations, c.chain_length), (3, 4));
        assert_eq!(c.objective.beta, 0.1);
        assert!(c.preference.is_none() && c.start_model.is_none(), "no reward model default at paper scale; the SFT stage runs");
        assert_eq!((c.sft.dataset.as_str(), c.sft.lr), ("HuggingFaceH4/ultrafeedback_binarized", 1e-5));
        let p = c.refine_prompt("What is 2+2?", "5");
        assert!(p.contains("Here is a previous answer to the question; write an improved answer.") && p.contains("What is 2+2?") && p.contains("5"), "{p}");
        assert!(c.assumptions.len() >= 5);
    }
}
