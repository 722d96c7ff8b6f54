//! Paper scale (spec "SFT recipe"): full-parameter SFT of a Hugging Face base model on the
//! released Instruct-SkillMix records, 15 epochs, effective batch 128, lr 2e-5, warm-up
//! `int(0.03 · total)` steps then cosine to 0 at the end of *all* epochs, a checkpoint after every
//! epoch, and the epoch chosen by a judge on the 100 held-out instructions. The recipe is a TOML
//! (`configs/paper/*.toml`); [`run`] is the training loop with the judge as a closure,
//! [`HeldoutJudge`] the paper's judge (AlpacaEval's `weighted_alpaca_eval_gpt4_turbo` through
//! the project's OpenAI-compatible client, the held-out records' own outputs as the reference),
//! and [`crate::paper_cli`] what `cargo xtask reproduce instruct-skillmix --scale paper` runs.
//! `tests/paper_path.rs` runs this code on the tiny fixtures, the judge behind a local HTTP server.
//!
//! Token layout (torchtune `instruct_dataset` at the pinned commit), Llama-3: `<|begin_of_text|>`,
//! the user turn (header, `"\n\n"`, the stripped Alpaca prompt, `<|eot_id|>`) masked; the
//! assistant header, `"\n\n"`, the stripped output and `<|eot_id|>` trained. The final masked
//! `<|end_of_text|>` is left out: as the last token it is no target and predicts nothing, so the
//! loss is unchanged. Sentencepiece (Mistral / Llama-2): BOS and the prompt (its trailing newline
//! kept) masked, the output (leading whitespace trimmed) and EOS trained. Longer sequences are cut
//! to `max_seq_len` with the last kept token replaced by EOS.
//!
//! Loss: the per-micro-batch token mean divided by the accumulation steps (`LossNorm::MicroMean`;
//! spec test vector 5), not a token mean over the effective batch.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::api::alpaca_judge::{AlpacaJudge, Comparison};
use shared::model::generate::{generate, GenerateConfig};
use shared::model::Pretrained;
use shared::tokenize::Tokenizer;
use shared::train::schedule::Schedule;
use shared::train::sft::{self, LossNorm, SftConfig, SftExample};
use shared::train::TrainConfig;
use std::path::{Path, PathBuf};

/// The Alpaca "no input" preamble (torchtune `AlpacaInstructTemplate`).
pub const PREAMBLE: &str = "Below is an instruction that describes a task. Write a response that appropriately completes the request.";

/// The training prompt: preamble, blank line, `### Instruction:`, the instruction, blank line,
/// `### Response:` and a newline.
pub fn alpaca_prompt(instruction: &str) -> String {
    format!("{PREAMBLE}\n\n### Instruction:\n{instruction}\n\n### Response:\n")
}

/// The AlpacaEval generation prompt: the same text ending at `### Response:` with no newline
/// (vLLM adds BOS, no chat headers; spec pitfall "train/eval format mismatch").
pub fn eval_prompt(instruction: &str) -> String {
    format!("{PREAMBLE}\n\n### Instruction:\n{instruction}\n\n### Response:")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Llama-3: the Alpaca text inside user / assistant header tokens.
    Llama3,
    /// Mistral / Llama-2: BOS, prompt, output, EOS, no headers.
    Sentencepiece,
}

/// The recipe of one paper-scale run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Base model: hub id or folder.
    pub model: String,
    /// Training records (JSON list of `{instruction, input, output, ...}`): a file.
    pub train_data: String,
    /// Where the file comes from (recorded, for the plan).
    pub train_source: String,
    /// The held-out records of epoch selection (the reference outputs are theirs).
    pub heldout_data: String,
    pub heldout_source: String,
    pub layout: Layout,
    pub gpus: usize,
    pub per_device_batch: usize,
    /// Effective batch (the model card's 128).
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Warm-up steps = int(warmup_ratio · total steps) (torchtune floors).
    pub warmup_ratio: f64,
    pub epochs: usize,
    pub max_seq_len: usize,
    pub seed: u64,
    pub select: Decode,
    pub eval: Eval,
}

/// Decoding of the held-out generations that choose the epoch.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decode {
    pub annotator: String,
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
}

/// The benchmark the chosen epoch is evaluated on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eval {
    pub benchmark: String,
    pub baseline: String,
    pub annotator: String,
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
}

/// One released record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub instruction: String,
    #[serde(default)]
    pub input: String,
    pub output: String,
}

impl Record {
    /// The instruction as the model sees it: the `input` field, when there is one, follows after
    /// a blank line (the released SDA records all have `input = ""`).
    pub fn full_instruction(&self) -> String {
        if self.input.trim().is_empty() {
            self.instruction.clone()
        } else {
            format!("{}\n\n{}", self.instruction, self.input)
        }
    }
}

/// The step arithmetic of the run (spec "Step arithmetic").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steps {
    pub grad_accum: usize,
    pub per_epoch: u64,
    pub total: u64,
    pub warmup: u64,
}

impl Recipe {
    pub fn load(path: &Path) -> Result<Self> {
        let mut r: Recipe = shared::io::read_toml(path)?;
        shared::io::rebase_relative(path, &mut [&mut r.model, &mut r.train_data, &mut r.heldout_data]);
        r.validate().with_context(|| format!("invalid recipe {}", path.display()))?;
        Ok(r)
    }

    pub fn validate(&self) -> Result<()> {
        if self.gpus == 0 || self.per_device_batch == 0 || self.batch_size % (self.gpus * self.per_device_batch) != 0 {
            bail!("batch_size {} must be a positive multiple of gpus × per_device_batch = {} × {}", self.batch_size, self.gpus, self.per_device_batch);
        }
        if !(self.lr > 0.0) || !(0.0..1.0).contains(&self.warmup_ratio) || self.epochs == 0 || self.max_seq_len < 2 {
            bail!("lr must be > 0, warmup_ratio in [0, 1), epochs ≥ 1 and max_seq_len ≥ 2");
        }
        Ok(())
    }

    /// Steps for `n` examples: `grad_accum = batch / (gpus · micro)`, `per_epoch =
    /// ⌊⌊n / (gpus · micro)⌋ / grad_accum⌋`, `total = epochs · per_epoch`,
    /// `warmup = int(warmup_ratio · total)`.
    pub fn steps(&self, n: usize) -> Steps {
        let grad_accum = self.batch_size / (self.gpus * self.per_device_batch);
        let batches_per_rank = n / (self.gpus * self.per_device_batch);
        let per_epoch = (batches_per_rank / grad_accum) as u64;
        let total = per_epoch * self.epochs as u64;
        Steps { grad_accum, per_epoch, total, warmup: (self.warmup_ratio * total as f64) as u64 }
    }

    /// The engine's config for `n` examples: `steps` streams full batches across epochs (the
    /// partial batch of an epoch is dropped, as torchtune's step count does), micro-batches of one
    /// device's micro-batch, the schedule of [`schedule`].
    pub fn train_config(&self, n: usize) -> Result<TrainConfig> {
        let s = self.steps(n);
        if s.per_epoch == 0 {
            bail!("{n} training records make no full batch of {}: use more records or a smaller batch_size", self.batch_size);
        }
        let mut t = TrainConfig::new(self.batch_size, self.per_device_batch, schedule(self.lr, s.warmup, s.total));
        t.steps = Some(s.total);
        t.optim.weight_decay = self.weight_decay;
        t.optim.max_grad_norm = None; // the recipe sets no clip_grad_norm
        t.seed = self.seed;
        Ok(t)
    }

    pub fn plan(&self) -> String {
        let s = self.steps(4000);
        format!(
            "plan:\n  1. full SFT of {} on {} ({}), layout {:?}, max_seq_len {}\n  2. AdamW lr {}, wd {}, effective batch {} = {} GPUs x {} x accumulation {}; for 4,000 records: {} steps/epoch, {} epochs = {} steps, warm-up {} steps, cosine to 0 at step {}\n  3. after every epoch: checkpoint, generate on the held-out {} ({}) at T {} top-p {} <= {} tokens, judge with {} against the held-out set's own outputs; keep the best epoch (the released model: epoch 7 of 15)\n  4. evaluate the chosen epoch on {} (baseline {}, annotator {}), T {} top-p {} <= {} tokens, bare Alpaca prompt ending at \"### Response:\"",
            self.model, self.train_source, self.train_data, self.layout, self.max_seq_len,
            self.lr, self.weight_decay, self.batch_size, self.gpus, self.per_device_batch, s.grad_accum, s.per_epoch, self.epochs, s.total, s.warmup, s.total,
            self.heldout_source, self.heldout_data, self.select.temperature, self.select.top_p, self.select.max_new_tokens, self.select.annotator,
            self.eval.benchmark, self.eval.baseline, self.eval.annotator, self.eval.temperature, self.eval.top_p, self.eval.max_new_tokens
        )
    }
}

/// A warm-up of exactly `warmup` steps out of `total` on the shared schedule, which computes
/// `ceil(ratio · total)`: the ratio `(warmup − ½) / total` ceils back to `warmup`.
pub fn schedule(lr: f64, warmup: u64, total: u64) -> Schedule {
    let ratio = if warmup == 0 || total == 0 { 0.0 } else { (warmup as f64 - 0.5) / total as f64 };
    Schedule::cosine(lr, ratio)
}

/// Where a recipe's records are: an existing file, or `owner/name[@revision]:file`, a file of a
/// Hugging Face *dataset* repository read through the standard cache (downloaded unless
/// `HF_HUB_OFFLINE` is set; [`shared::hub::dataset_file`]). Anything else is an error naming it.
pub fn resolve_data(spec: &str) -> Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if let Some((repo, file)) = spec.split_once(':') {
        let owner_name = repo.split('@').next().unwrap_or("");
        let looks_hub = owner_name.matches('/').count() == 1 && !owner_name.starts_with(['.', '/', '~']) && !file.is_empty();
        if looks_hub {
            return shared::hub::dataset_file(repo, file).with_context(|| format!("the records {spec:?} (a file of the Hugging Face dataset {repo})"));
        }
    }
    bail!("{spec} is not a file (nor `owner/name:file`, a file of a Hugging Face dataset)")
}

/// Read a JSON list of records; an error names the file and the record at fault.
pub fn load_records(path: &Path) -> Result<Vec<Record>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}: point the recipe at the released JSON file", path.display()))?;
    let v: Vec<serde_json::Value> = serde_json::from_str(&text).with_context(|| format!("{} is not a JSON list of records", path.display()))?;
    let mut out = vec![];
    for (i, r) in v.into_iter().enumerate() {
        let r: Record = serde_json::from_value(r).with_context(|| format!("{}: record {i} lacks `instruction` or `output` (strings)", path.display()))?;
        if r.output.trim().is_empty() {
            bail!("{}: record {i} has an empty output (nothing to train on)", path.display());
        }
        out.push(r);
    }
    if out.is_empty() {
        bail!("{} holds no records", path.display());
    }
    Ok(out)
}

fn special(tok: &Tokenizer, name: &str) -> Result<i64> {
    tok.token_id(name).with_context(|| format!("the tokenizer lacks {name}: the llama3 layout needs a Llama-3 tokenizer (or use layout = \"sentencepiece\")"))
}

/// One record as (masked prompt ids, trained response ids) in the recipe's layout, cut to
/// `max_seq_len` (the last kept token becomes EOS).
pub fn encode(tok: &Tokenizer, layout: Layout, r: &Record, max_seq_len: usize) -> Result<SftExample> {
    let prompt = alpaca_prompt(&r.full_instruction());
    let (mut p, mut y) = match layout {
        Layout::Llama3 => {
            let (sh, eh, eot) = (special(tok, "<|start_header_id|>")?, special(tok, "<|end_header_id|>")?, special(tok, "<|eot_id|>")?);
            let bos = special(tok, "<|begin_of_text|>")?;
            let header = |role: &str| -> Result<Vec<i64>> {
                let mut v = vec![sh];
                v.extend(tok.encode(role, false)?);
                v.push(eh);
                v.extend(tok.encode("\n\n", false)?);
                Ok(v)
            };
            let mut p = vec![bos];
            p.extend(header("user")?);
            p.extend(tok.encode(prompt.trim(), false)?);
            p.push(eot);
            let mut y = header("assistant")?;
            y.extend(tok.encode(r.output.trim(), false)?);
            y.push(eot);
            (p, y)
        }
        Layout::Sentencepiece => {
            let mut p = tok.encode(prompt.trim_end_matches(' '), false)?;
            tok.ensure_bos(&mut p);
            let mut y = tok.encode(r.output.trim_start(), false)?;
            y.push(tok.eos_id().context("the tokenizer has no EOS token")?);
            (p, y)
        }
    };
    let eos = tok.token_id("<|end_of_text|>").or(tok.eos_id()).context("the tokenizer has no EOS token")?;
    if p.len() + y.len() > max_seq_len {
        if p.len() >= max_seq_len {
            bail!("the prompt of {:?} is {} tokens, not shorter than max_seq_len {max_seq_len}: nothing of its output would be trained", r.instruction.chars().take(40).collect::<String>(), p.len());
        }
        y.truncate(max_seq_len - p.len());
        *y.last_mut().expect("at least one response token") = eos;
    }
    if p.is_empty() {
        p.push(eos);
    }
    Ok(SftExample { prompt: p, response: y })
}

/// What a run did: the judge's held-out win rate after every epoch and the chosen epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperRun {
    pub steps: u64,
    pub per_epoch: u64,
    pub heldout_win_rate: Vec<f64>,
    /// 1-based; the first epoch with the highest held-out win rate.
    pub best_epoch: usize,
    pub best_weights: PathBuf,
}

/// The first index of the largest value, 1-based (the epoch to keep).
pub fn select_epoch(win_rates: &[f64]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, &v) in win_rates.iter().enumerate() {
        if v.is_finite() && best.map_or(true, |(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i + 1)
}

/// Held-out generations of one epoch, in the AlpacaEval `model_outputs.json` format.
pub fn heldout_outputs(pre: &Pretrained, heldout: &[Record], d: &Decode, seed: u64, generator: &str) -> Result<Vec<serde_json::Value>> {
    let tok = &pre.tokenizer;
    let mut out = vec![];
    for (i, r) in heldout.iter().enumerate() {
        let mut ids = tok.encode(&eval_prompt(&r.full_instruction()), false)?;
        tok.ensure_bos(&mut ids);
        let g = GenerateConfig { max_new_tokens: d.max_new_tokens, temperature: d.temperature, top_p: d.top_p, stop_tokens: tok.stop_tokens(), seed: seed.wrapping_add(i as u64) };
        let y = tch::no_grad(|| generate(&pre.model, &[ids], tok.pad_id(), &g))?;
        let text = tok.decode(&y[0], true)?;
        out.push(serde_json::json!({ "instruction": r.full_instruction(), "output": text.trim(), "generator": generator }));
    }
    Ok(out)
}

/// The paper's epoch judge: AlpacaEval's annotator ([`AlpacaJudge`], upstream's
/// `weighted_alpaca_eval_gpt4_turbo` config and template over any OpenAI-compatible endpoint)
/// comparing an epoch's held-out generations (`output_2`, the model side) with the held-out
/// records' own GPT-4-Turbo outputs (`output_1`, the reference side). Each epoch's annotations
/// are written in upstream's format to `<dir>/epoch-<e>/annotations.json`.
pub struct HeldoutJudge<'a> {
    pub judge: AlpacaJudge<'a>,
    pub dir: PathBuf,
}

/// The `generator_1` of the reference side of the held-out comparisons.
pub const REFERENCE: &str = "heldout_reference";

impl HeldoutJudge<'_> {
    /// The comparisons of one epoch, in held-out order; the outputs must be the held-out
    /// records' generations in the same order (checked by instruction).
    pub fn comparisons(outputs: &[serde_json::Value], refs: &[Record]) -> Result<Vec<Comparison>> {
        if outputs.len() != refs.len() {
            bail!("{} held-out generations for {} held-out records", outputs.len(), refs.len());
        }
        outputs
            .iter()
            .zip(refs)
            .enumerate()
            .map(|(i, (o, r))| {
                let instruction = r.full_instruction();
                if o["instruction"].as_str() != Some(instruction.as_str()) {
                    bail!("held-out generation {i} is for {:?}, not for its record {:?}", o["instruction"], instruction);
                }
                Ok(Comparison {
                    instruction,
                    output_1: r.output.clone(),
                    generator_1: REFERENCE.into(),
                    output_2: o["output"].as_str().context("a held-out generation without an `output` string")?.to_string(),
                    generator_2: o["generator"].as_str().unwrap_or("model").to_string(),
                    dataset: "heldout".into(),
                })
            })
            .collect()
    }

    /// Judge one epoch's generations; write the annotations; return the win rate (%) over the
    /// judged rows (AlpacaEval's soft win rate, `shared::eval::winrate`).
    pub fn win_rate(&self, epoch: usize, outputs: &[serde_json::Value], refs: &[Record]) -> Result<f64> {
        let items = Self::comparisons(outputs, refs)?;
        let ann = self.judge.annotate(&items).with_context(|| format!("judging the held-out generations of epoch {epoch} with {}", self.judge.model))?;
        let path = self.dir.join(format!("epoch-{epoch}")).join("annotations.json");
        shared::io::write_json(&path, &ann)?;
        let prefs: Vec<Option<f64>> = ann.iter().map(|a| a["preference"].as_f64()).collect();
        if prefs.iter().all(Option::is_none) {
            bail!("the judge {} gave no preference for any of the {} held-out generations of epoch {epoch} (neither `m` nor `M` among its top log-probs; {})", self.judge.model, prefs.len(), path.display());
        }
        Ok(shared::eval::winrate::win_rate(&prefs).with_context(|| format!("the preferences in {}", path.display()))?.win_rate)
    }
}

/// Train epoch by epoch, saving each epoch's weights and held-out outputs under `dir/epoch-<e>/`,
/// ask `judge(epoch, outputs, references)` for the held-out win rate (%), and load the best
/// epoch's weights into `pre`. Rerun in the same `dir`, it resumes: epochs already saved are
/// judged again without training, the rest train on from the engine's checkpoint. At paper scale the judge is [`HeldoutJudge::win_rate`].
/// The recipe's `train_data` and `heldout_data` are read through [`resolve_data`].
pub fn run(pre: &mut Pretrained, recipe: &Recipe, dir: &Path, judge: &mut dyn FnMut(usize, &[serde_json::Value], &[Record]) -> Result<f64>) -> Result<PaperRun> {
    let train = load_records(&resolve_data(&recipe.train_data).context("the training records (recipe `train_data`)")?)?;
    let heldout = load_records(&resolve_data(&recipe.heldout_data).context("the held-out records (recipe `heldout_data`)")?)?;
    let data = train.iter().map(|r| encode(&pre.tokenizer, recipe.layout, r, recipe.max_seq_len)).collect::<Result<Vec<_>>>()?;
    let cfg = recipe.train_config(data.len())?;
    let s = recipe.steps(data.len());
    let mut wr = vec![];
    // A rerun in the same folder (after a judge failure, say) takes the leading epochs that have
    // weights and generations as they are and judges them again; the first epoch without them
    // trains on from the engine's checkpoint, which is then at most that epoch's last step.
    let mut earlier = true;
    for e in 1..=recipe.epochs as u64 {
        let ed = dir.join(format!("epoch-{e}"));
        let (weights, outputs) = (ed.join("model.safetensors"), ed.join("heldout_outputs.json"));
        earlier &= weights.is_file() && outputs.is_file();
        let outs: Vec<serde_json::Value> = if earlier {
            eprintln!("    epoch {e}: trained and generated by an earlier run ({})", ed.display());
            shared::io::read_json(&outputs)?
        } else {
            let c = SftConfig { train: TrainConfig { max_steps: Some(e * s.per_epoch), ..cfg.clone() }, loss_norm: LossNorm::MicroMean };
            sft::train(&pre.model, &mut pre.vs, &data, pre.tokenizer.pad_id(), &c, &dir.join("train"))?;
            std::fs::create_dir_all(&ed).with_context(|| format!("creating {}", ed.display()))?;
            shared::model::weights::save(&pre.vs, &weights)?;
            let outs = heldout_outputs(pre, &heldout, &recipe.select, recipe.seed, &format!("epoch-{e}"))?;
            shared::io::write_json(&outputs, &outs)?;
            outs
        };
        let w = judge(e as usize, &outs, &heldout)?;
        eprintln!("    epoch {e}: held-out win rate {w:.2}%");
        wr.push(w);
    }
    let best = select_epoch(&wr).context("no epoch has a finite held-out win rate")?;
    let best_weights = dir.join(format!("epoch-{best}")).join("model.safetensors");
    shared::model::weights::load_into(&pre.vs, &[best_weights.clone()], &[])?;
    Ok(PaperRun { steps: s.total, per_epoch: s.per_epoch, heldout_win_rate: wr, best_epoch: best, best_weights })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe() -> Recipe {
        Recipe::load(&crate::config::config_dir().join("paper").join("llama-3-8b-sda-4k.toml")).unwrap()
    }

    #[test]
    fn the_headline_recipe_has_the_papers_numbers() {
        let r = recipe();
        assert_eq!((r.batch_size, r.epochs, r.max_seq_len, r.gpus, r.per_device_batch), (128, 15, 1024, 4, 4));
        assert_eq!(r.lr, 2e-5);
        assert_eq!(r.layout, Layout::Llama3);
        assert!(r.plan().contains("meta-llama/Meta-Llama-3-8B"));
    }

    #[test]
    fn step_arithmetic_matches_the_spec() {
        let mut r = recipe();
        assert_eq!(r.steps(4000), Steps { grad_accum: 8, per_epoch: 31, total: 465, warmup: 13 });
        r.batch_size = 64;
        assert_eq!(r.steps(4000), Steps { grad_accum: 4, per_epoch: 62, total: 930, warmup: 27 });
        let t = recipe().train_config(4000).unwrap();
        assert_eq!((t.total_steps(4000), t.schedule.warmup_steps(465), t.micro_batch), (465, 13, 4));
    }

    #[test]
    fn prompts_follow_the_alpaca_template() {
        assert_eq!(alpaca_prompt("Hi"), format!("{PREAMBLE}\n\n### Instruction:\nHi\n\n### Response:\n"));
        assert_eq!(eval_prompt("Hi"), alpaca_prompt("Hi").trim_end_matches('\n'));
    }

    #[test]
    fn epoch_selection_keeps_the_first_best() {
        assert_eq!(select_epoch(&[30.0, 41.5, 41.5, 12.0]), Some(2));
        assert_eq!(select_epoch(&[f64::NAN, 5.0]), Some(2));
        assert_eq!(select_epoch(&[]), None);
    }

    #[test]
    fn bad_records_are_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bad.json");
        std::fs::write(&p, r#"[{"instruction": "a", "output": "b"}, {"instruction": "c"}]"#).unwrap();
        let e = format!("{:#}", load_records(&p).unwrap_err());
        assert!(e.contains("record 1") && e.contains("bad.json"), "{e}");
    }
}
