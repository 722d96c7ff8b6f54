//! The Nash family at paper scale, through the same loop as the miniature: a Hugging Face
//! checkpoint as `π_0`, one prompt file per iteration, K samples per prompt from `π_t`, a
//! preference behind the [`Oracle`] trait, the paper's [`super::Recipe`] and objective on the
//! shared on-policy loop ([`crate::train::iterate`]) with the previous iterate as reference.
//!
//! **Where the preference comes from.** The papers use PairRM (SPPO), GPT-4-Turbo with a
//! six-point rubric (DNO) and RLHFlow's pairwise preference model or a Bradley–Terry reward
//! model (INPO). This stack runs reward models of the supported families
//! (`LlamaForSequenceClassification` and its Qwen2 / Mistral cousins), so a paper-scale run takes
//! its scores through one named interface, [`PreferenceSource::RewardModel`]: `P(y ≻ y') =
//! σ(r(x, y) − r(x, y'))`, the reward channel is `r` itself, and the rubric channel (DNO) is `r`
//! bucketed by the config's `rubric_edges` into 1..=6. `stands_for` records what the paper used,
//! and the summary repeats it, so no run passes a stand-in off as the paper's judge.
//!
//! **Teacher.** DNO adds a gold response per prompt (GPT-4-Turbo's in the paper); here it is the
//! prompt file's `chosen` answer (UltraFeedback's best-rated completion).

use super::group::{Group, Labelled, Oracle, Recipe};
use super::run::Method;
use crate::data::preference::{load_pairs, PreferencePair};
use crate::error::{Error, Result};
use crate::hub;
use crate::model::generate::GenerateConfig;
use crate::model::pretrained::{Pretrained, PretrainedReward};
use crate::model::{Llama, TokenBatch};
use crate::tokenize::chat::Message;
use crate::tokenize::Tokenizer;
use crate::train::iterate::{self, Annotation, Annotator, IterateConfig, IterationRecord, Reference, Trained};
use crate::train::onpolicy::{sample_groups, with_stop};
use crate::train::hf_args::HfTrainArgs;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Device, Kind};

/// A paper-scale run of one Nash method; `M` is the paper crate's method table (name, lr,
/// objective and recipe settings, as its miniature config writes them).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig<M> {
    pub setting: String,
    /// `π_0`: a hub id (`owner/name[@revision]`) or a local folder.
    pub model: String,
    /// The chat template of `π_0` (`ChatTemplate::from_name`: llama3, chatml, mistral, zephyr, ...).
    pub chat_template: String,
    /// One preference file (parquet or JSONL with `prompt` / `chosen` / `rejected`) per
    /// iteration, disjoint prompts; relative paths are taken from the config's folder.
    pub prompts: Vec<String>,
    /// Use at most this many prompts of each file (all when absent).
    #[serde(default)]
    pub max_prompts: Option<usize>,
    pub iterations: usize,
    /// K: samples per prompt from `π_t`.
    pub samples: usize,
    pub generation: Generation,
    pub preference: PreferenceSource,
    pub train: HfTrainArgs,
    /// `"bf16"` (on CUDA) or `"f32"`.
    pub dtype: String,
    pub seed: u64,
    pub method: M,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
    /// Prompts per generation call (each call samples K × this many rows).
    pub prompts_per_batch: usize,
}

/// Where the preference comes from (see the module doc).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PreferenceSource {
    /// A scalar reward model checkpoint (hub id or folder): `z(y, y') = r(y) − r(y')`.
    RewardModel {
        model: String,
        /// Its chat template (the reward model reads the conversation as it was trained on it).
        chat_template: String,
        /// Token limit of one scored conversation (longer ones keep their start).
        max_length: usize,
        /// Five increasing thresholds on `r`: rubric score = 1 + the number of thresholds `r`
        /// reaches (DNO's 1..=6 channel). Required only by recipes that read the rubric.
        #[serde(default)]
        rubric_edges: Option<Vec<f64>>,
        /// What the paper used in this place, for the record (e.g. "llm-blender/PairRM").
        stands_for: String,
    },
}

impl<M: serde::de::DeserializeOwned> PaperConfig<M> {
    /// Read and check a config; relative paths (model, prompts, reward model) are taken from its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let mut cfg: Self = crate::io::read_toml(path)?;
        let PreferenceSource::RewardModel { model: rm, .. } = &mut cfg.preference;
        let mut paths: Vec<&mut String> = vec![&mut cfg.model, rm];
        paths.extend(cfg.prompts.iter_mut());
        crate::io::rebase_relative(path, &mut paths);
        cfg.validate().map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
        Ok(cfg)
    }
}

impl<M> PaperConfig<M> {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid("paper config", m));
        self.train.validate()?;
        if self.iterations == 0 || self.samples < 2 {
            return bad("need iterations ≥ 1 and samples ≥ 2".into());
        }
        if self.prompts.len() < self.iterations {
            return bad(format!("{} prompt files for {} iterations (one file of fresh prompts per iteration)", self.prompts.len(), self.iterations));
        }
        let g = &self.generation;
        if !(g.temperature > 0.0 && g.top_p > 0.0 && g.top_p <= 1.0) || g.max_new_tokens == 0 || g.prompts_per_batch == 0 {
            return bad("generation: temperature > 0, top_p in (0, 1], max_new_tokens and prompts_per_batch ≥ 1".into());
        }
        if !matches!(self.dtype.as_str(), "bf16" | "f32") {
            return bad(format!("dtype must be \"bf16\" or \"f32\", got {:?}", self.dtype));
        }
        let PreferenceSource::RewardModel { rubric_edges, max_length, .. } = &self.preference;
        if let Some(e) = rubric_edges {
            if e.len() != 5 || e.windows(2).any(|w| w[0] >= w[1]) || e.iter().any(|x| !x.is_finite()) {
                return bad(format!("preference.rubric_edges must be 5 increasing finite numbers (six rubric levels), got {e:?}"));
            }
        }
        if *max_length == 0 {
            return bad("preference.max_length must be ≥ 1".into());
        }
        Ok(())
    }

    fn kind(&self, device: Device) -> Kind {
        if device.is_cuda() && self.dtype == "bf16" {
            Kind::BFloat16
        } else {
            Kind::Float
        }
    }
}

/// Scores of one iteration's groups by the reward model, as the oracle channels.
pub struct ScoredOracle {
    /// `rewards[g][i]`: reward of response i of group g (by the group's prompt index).
    pub rewards: Vec<Vec<f64>>,
    pub rubric_edges: Option<Vec<f64>>,
}

impl ScoredOracle {
    fn r(&self, g: &Group, i: usize) -> Result<f64> {
        self.rewards.get(g.prompt).and_then(|v| v.get(i)).copied().ok_or_else(|| Error::invalid("reward-model oracle", format!("no score for response {i} of prompt {}", g.prompt)))
    }
}

/// `1 + #{edges ≤ r}`: a score in 1..=6.
pub fn rubric_of(r: f64, edges: &[f64]) -> u8 {
    1 + edges.iter().filter(|e| r >= **e).count() as u8
}

impl Oracle for ScoredOracle {
    fn logit(&self, g: &Group, i: usize, j: usize) -> Result<f64> {
        Ok(self.r(g, i)? - self.r(g, j)?)
    }
    fn reward(&self, g: &Group, i: usize) -> Result<f64> {
        self.r(g, i)
    }
    fn rubric(&self, g: &Group, i: usize) -> Result<u8> {
        let edges = self.rubric_edges.as_ref().ok_or_else(|| Error::invalid("paper config [preference]", "this recipe reads the six-point rubric (DNO): set rubric_edges (five thresholds on the reward model's score)"))?;
        Ok(rubric_of(self.r(g, i)?, edges))
    }
}

/// The reward model with its tokenizer and template.
pub struct RewardScorer {
    pub rm: PretrainedReward,
    pub tok: Tokenizer,
    pub max_length: usize,
    pub batch: usize,
}

impl RewardScorer {
    /// Load a `[preference]` reward model: the checkpoint in `kind`, its tokenizer with its own
    /// chat template. A causal-LM checkpoint without a score head gets a head seeded from `seed`
    /// and a warning (its preferences are then random: fine for a test, wrong for a run).
    pub fn load(source: &PreferenceSource, batch: usize, device: Device, kind: Kind, seed: u64) -> Result<Self> {
        let PreferenceSource::RewardModel { model: spec, chat_template, max_length, .. } = source;
        let rm = PretrainedReward::load_from(&hub::resolve(spec)?, device, kind)?;
        if !rm.report.left_initialised.is_empty() {
            if rm.report.left_initialised.iter().any(|n| n == "score.weight") {
                rm.model.reseed_head(seed ^ 0x5c0e_11ead);
            }
            eprintln!("warning: {spec} has no trained score head ({:?} left initialised): its preferences are random; use a reward-model checkpoint", rm.report.left_initialised);
        }
        let tok = rm.tokenizer.clone().with_chat_template(chat_template)?;
        Ok(Self { rm, tok, max_length: *max_length, batch: batch.max(1) })
    }

    /// Rewards of `(prompt, response)` conversations, rendered with the reward model's template.
    pub fn score(&self, items: &[(&str, &str)]) -> Result<Vec<f64>> {
        let pad = self.tok.pad_id();
        let dev = self.rm.model.backbone().device();
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(self.batch.max(1)) {
            let mut ids = vec![];
            for (x, y) in chunk {
                let mut s = self.tok.encode_chat(&[Message::user(*x), Message::assistant(*y)], false)?;
                self.tok.ensure_bos(&mut s);
                s.truncate(self.max_length);
                ids.push((s, vec![]));
            }
            let b = TokenBatch::from_pairs(&ids, pad, dev);
            let r = tch::no_grad(|| self.rm.model.forward(&b.input_ids, &b.attention_mask))?;
            out.extend(Vec::<f64>::try_from(r.to_kind(Kind::Double))?);
        }
        Ok(out)
    }
}

/// One iteration's prompts: the conversation, its generation prompt ids, the teacher's answer.
struct PromptRow {
    text: String,
    ids: Vec<i64>,
    teacher: String,
}

fn prompt_text(p: &PreferencePair) -> Result<String> {
    p.context.iter().rev().find(|m| m.role == "user").map(|m| m.content.clone()).ok_or_else(|| Error::invalid(format!("prompt {}", p.prompt_id), "no user message"))
}

/// The paper-scale annotator: sample, score, hand the groups to the recipe.
pub struct PaperAnnotator<'a> {
    splits: Vec<Vec<PromptRow>>,
    tok: &'a Tokenizer,
    scorer: &'a RewardScorer,
    rubric_edges: Option<Vec<f64>>,
    recipe: &'a mut dyn Recipe,
    generation: Generation,
    seed: u64,
    dir: PathBuf,
}

impl Annotator for PaperAnnotator<'_> {
    fn annotate(&mut self, t: usize, policy: &Llama) -> Result<Annotation> {
        let rows = self.splits.get(t).ok_or_else(|| Error::invalid("paper run", format!("no prompts for iteration {}", t + 1)))?;
        let k = self.recipe.samples();
        let g = &self.generation;
        let gen = GenerateConfig { max_new_tokens: g.max_new_tokens, temperature: g.temperature, top_p: g.top_p, stop_tokens: self.tok.stop_tokens(), seed: self.seed.wrapping_add(1_000_003 * (t as u64 + 1)) };
        let ids: Vec<Vec<i64>> = rows.iter().map(|r| r.ids.clone()).collect();
        let samples = sample_groups(policy, &ids, self.tok.pad_id(), k, g.prompts_per_batch, &gen)?;
        let wants_teacher = self.recipe.wants_teacher();
        let mut groups = Vec::with_capacity(rows.len());
        for (i, (row, ys)) in rows.iter().zip(samples).enumerate() {
            let mut responses: Vec<Vec<i64>> = ys.iter().map(|y| with_stop(y, &gen)).collect();
            let mut texts = ys.iter().map(|y| self.tok.decode(y, true)).collect::<Result<Vec<_>>>()?;
            let mut teacher = None;
            if wants_teacher {
                let mut y = self.tok.encode(&row.teacher, false)?;
                y.extend(self.tok.eos_id());
                teacher = Some(responses.len());
                responses.push(y);
                texts.push(row.teacher.clone());
            }
            groups.push(Group { prompt: i, prompt_ids: row.ids.clone(), responses, texts, teacher });
        }
        let items: Vec<(&str, &str)> = groups.iter().flat_map(|gr| gr.texts.iter().map(|y| (rows[gr.prompt].text.as_str(), y.as_str()))).collect();
        let flat = self.scorer.score(&items)?;
        let mut it = flat.into_iter();
        let rewards: Vec<Vec<f64>> = groups.iter().map(|gr| it.by_ref().take(gr.texts.len()).collect()).collect();
        let mean_reward = rewards.iter().flatten().sum::<f64>() / rewards.iter().map(Vec::len).sum::<usize>().max(1) as f64;
        let mut sorted: Vec<f64> = rewards.iter().flatten().copied().collect();
        sorted.sort_by(f64::total_cmp);
        // The deciles of the reward, to calibrate rubric_edges against.
        let deciles: Vec<f64> = (1..10).map(|d| sorted[(d * sorted.len() / 10).min(sorted.len() - 1)]).collect();
        let oracle = ScoredOracle { rewards, rubric_edges: self.rubric_edges.clone() };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed ^ (0x9a9e_u64 << 16) ^ t as u64);
        let Labelled { examples, sources, stats, .. } = self.recipe.examples(t, &groups, &oracle, &mut rng)?;
        eprintln!("    iteration {}: {} prompts × {k} samples, mean reward {mean_reward:.3} (deciles {:.3?}), {} training examples", t + 1, rows.len(), deciles, examples.len());
        let stats = serde_json::json!({ "recipe": stats, "sources": sources, "groups": groups.len(), "mean_reward": mean_reward, "reward_deciles": deciles });
        Ok(Annotation { examples, stats })
    }

    /// After training: the recipe keeps the annotation as trained (also when a run resumed
    /// mid-iteration from its saved annotation, which `annotate` did not make in this process).
    fn evaluate(&mut self, t: usize, _policy: &Llama, _trained: &Trained) -> Result<serde_json::Value> {
        self.restore(t)?;
        Ok(serde_json::Value::Null)
    }

    fn loaded(&mut self, t: usize, _policy: &Llama, _record: &IterationRecord) -> Result<()> {
        self.restore(t)
    }
}

impl PaperAnnotator<'_> {
    /// Hand iteration `t`'s saved annotation (examples and their sources) back to the recipe.
    fn restore(&mut self, t: usize) -> Result<()> {
        let path = self.dir.join(format!("iter-{}/annotation.json", t + 1));
        let a: Annotation = crate::io::read_json(&path)?;
        let sources: Vec<Option<usize>> = serde_json::from_value(a.stats["sources"].clone()).map_err(|e| Error::invalid(path.display().to_string(), format!("sources: {e}")))?;
        self.recipe.restore(t, &a.examples, &sources);
        Ok(())
    }
}

/// What a paper-scale run did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaperSummary {
    pub setting: String,
    pub method: String,
    /// The preference this run used, and what it stands for.
    pub preference: String,
    pub iterations: Vec<serde_json::Value>,
    /// The last iterate's weights.
    pub weights: PathBuf,
}

/// Run `method` for the config's iterations; iterates go to `out_dir/iter-<t>/` (a rerun
/// resumes after the last finished one), the last one to `out_dir/model.safetensors`.
pub fn run<M: Serialize>(cfg: &PaperConfig<M>, mut method: Method, device: Device, out_dir: &Path) -> Result<PaperSummary> {
    cfg.validate()?;
    // The prompt files first: a missing one should not wait for two checkpoints to download.
    let prompt_rows = cfg.prompts.iter().take(cfg.iterations).enumerate()
        .map(|(t, f)| load_pairs(Path::new(f)).map_err(|e| Error::invalid(format!("the prompt file of iteration {}", t + 1), format!("{e} (the config's comments say which dataset to save there)"))))
        .collect::<Result<Vec<_>>>()?;
    crate::device::seed_torch(cfg.seed);
    let kind = cfg.kind(device);
    let policy = Pretrained::load_from(&hub::resolve(&cfg.model)?, device, kind)?;
    let tok = policy.tokenizer.clone().with_chat_template(&cfg.chat_template)?;
    let PreferenceSource::RewardModel { model: rm_spec, rubric_edges, stands_for, .. } = &cfg.preference;
    let scorer = RewardScorer::load(&cfg.preference, cfg.generation.prompts_per_batch.max(1) * cfg.samples, device, kind, cfg.seed)?;
    let mut splits = vec![];
    for (file, pairs) in cfg.prompts.iter().zip(prompt_rows) {
        let n = cfg.max_prompts.unwrap_or(pairs.len()).min(pairs.len());
        let mut rows = Vec::with_capacity(n);
        for p in &pairs[..n] {
            let text = prompt_text(p)?;
            let mut ids = tok.encode_chat(&[Message::user(text.clone())], true)?;
            tok.ensure_bos(&mut ids);
            rows.push(PromptRow { text, ids, teacher: p.chosen.clone() });
        }
        if rows.is_empty() {
            return Err(Error::invalid(file.clone(), "no prompts"));
        }
        splits.push(rows);
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    crate::io::write_json(&out_dir.join("paper_config.json"), cfg)?;
    method.train.seed = cfg.seed;
    let icfg = IterateConfig { iterations: cfg.iterations, reference: Reference::Previous, train: method.train.clone(), seed_per_iteration: true };
    let tok_id = format!("{}|{}", policy.source.describe(), cfg.chat_template);
    let Pretrained { mut vs, model, .. } = policy;
    let records = {
        let mut ann = PaperAnnotator { splits, tok: &tok, scorer: &scorer, rubric_edges: rubric_edges.clone(), recipe: method.recipe.as_mut(), generation: cfg.generation.clone(), seed: cfg.seed, dir: out_dir.to_path_buf() };
        iterate::run(&model, &mut vs, &mut ann, method.objective.as_ref(), &icfg, tok.pad_id(), &tok_id, out_dir)?
    };
    let weights = out_dir.join("model.safetensors");
    crate::model::weights::save(&vs, &weights)?;
    let iterations = records.iter().map(|r| serde_json::json!({ "iteration": r.iteration, "examples": r.examples, "steps": r.train.steps, "mean_loss": r.train.mean_loss, "mean_reward": r.stats["mean_reward"], "recipe": r.stats["recipe"] })).collect();
    let s = PaperSummary { setting: cfg.setting.clone(), method: method.name.clone(), preference: format!("reward model {rm_spec} (standing for {stands_for})"), iterations, weights };
    crate::io::write_json(&out_dir.join("summary.json"), &s)?;
    Ok(s)
}

/// `--scale paper` of a Nash paper's binary: load `config` (its `configs/paper.toml` by default),
/// print the plan on `--dry-run`, otherwise run it with the method `build` makes; iterates go
/// to `runs/<slug>/paper/`, the summary to `results/<slug>/paper/summary.json` (or `--out`).
pub fn reproduce<M: serde::de::DeserializeOwned + Serialize>(args: &crate::cli::RunArgs, config: &Path, slug: &str, build: impl FnOnce(&PaperConfig<M>) -> anyhow::Result<Method<'static>>) -> anyhow::Result<()> {
    use anyhow::Context;
    let cfg = PaperConfig::<M>::load(config).with_context(|| format!("loading {}", config.display()))?;
    let PreferenceSource::RewardModel { model: rm, stands_for, .. } = &cfg.preference;
    let batch = cfg.train.per_device_batch * cfg.train.grad_accum * cfg.train.gpus;
    println!(
        "== {slug}, paper scale: {}
pi_0 {}; {} iterations over {} prompt files, K = {}; preference: reward model {rm} (standing for {stands_for}); global batch {batch}, {} epoch(s) per iteration, {} ({})",
        cfg.setting, cfg.model, cfg.iterations, cfg.prompts.len(), cfg.samples, cfg.train.epochs, cfg.train.optimizer, cfg.train.lr_scheduler_type
    );
    if args.dry_run {
        return Ok(());
    }
    let device = crate::device::resolve(&args.device)?;
    let root = crate::driver::repo_root();
    let runs = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| root.join("runs")).join(slug).join("paper");
    let s = run(&cfg, build(&cfg)?, device, &runs)?;
    let out = args.results_dir(&root, slug)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    crate::io::write_json(&out.join("summary.json"), &s)?;
    println!("done: last iterate {}; summary {}", s.weights.display(), out.join("summary.json").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rubric_buckets_the_reward_into_six_levels() {
        let e = [-1.0, 0.0, 1.0, 2.0, 3.0];
        assert_eq!([-5.0, -1.0, 0.5, 2.0, 9.0].map(|r| rubric_of(r, &e)), [1, 2, 3, 5, 6]);
    }
}
