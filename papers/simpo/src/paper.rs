//! SimPO at paper scale through the same code path as the miniature: a Hugging Face checkpoint
//! (hub id or local folder), the UltraFeedback-format preference parquet, the shared pairwise
//! trainer with the [`Simpo`] objective (or DPO with cached reference log-probs), and the trained
//! weights written back in Hugging Face layout.
//!
//! Token ids follow the authors' `run_simpo.py` + TRL (spec, "What is counted in |y|"):
//! an empty system turn is inserted first when the template mentions a system role
//! (alignment-handbook's `maybe_insert_system_message`; Zephyr renders it as `<|system|>\n</s>\n`);
//! prompt = chat template over every message but the last, no generation prompt, BOS prepended if
//! missing; response = the template applied to the single assistant message, so the assistant
//! header and end-of-turn count in |y|; EOS appended if the response does not end with it. TRL's
//! truncation happens inside the trainer. [`dry_run`] plans the six settings without loading anything.
//!
//! Each method trains with its own setting's hyperparameters: SimPO's β, γ/β and learning rate,
//! DPO's β and learning rate (`[dpo]`), the schedule and the data order of `[train]`. Optionally
//! the run trains LoRA adapters instead of every weight (`PaperRunOptions::lora`), saved in PEFT's
//! layout beside the merged model.

use crate::config::PaperConfig;
use crate::objective::Simpo;
use crate::plan::{self, ModelShape};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::data::preference::PreferencePair;
use shared::hub::{self, Source};
use shared::model::{generate, lora, GenerateConfig, Llama, LlamaConfig, LoraConfig};
use shared::objectives::{dpo::Dpo, PairObjective};
use shared::tokenize::chat::{ChatTemplate, Message, ResponseSpan};
use shared::tokenize::Tokenizer;
use shared::train::optim::AdamWConfig;
use shared::train::pairwise::{self, Pair, PairwiseConfig};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use tch::{nn::VarStore, Device, Kind};

/// Which objective a paper-scale run trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Simpo,
    /// DPO with the setting's `[dpo]` β and learning rate and the start model as frozen reference.
    Dpo,
}

impl Method {
    /// The peak learning rate of this method in setting `cfg`.
    pub fn learning_rate(&self, cfg: &PaperConfig) -> f64 {
        match self {
            Method::Simpo => cfg.train.learning_rate,
            Method::Dpo => cfg.dpo.learning_rate,
        }
    }
}

/// Knobs of a run that are not part of the paper's setting.
#[derive(Clone, Debug)]
pub struct PaperRunOptions {
    pub method: Method,
    /// Train on the first `max_pairs` pairs only (None = all).
    pub max_pairs: Option<usize>,
    /// Stop after this many optimiser steps (None = one full epoch per the config).
    pub max_steps: Option<u64>,
    /// Pairs per optimiser step (None = the paper's global batch, 128).
    pub batch_size: Option<usize>,
    /// Pairs per forward pass (None = the paper's per-device batch, 2).
    pub micro_batch: Option<usize>,
    /// Generate AlpacaEval-format outputs for the first `n` instructions of `instructions` (None = skip).
    pub generate: Option<usize>,
    /// JSON array of `{instruction, dataset?}` (the 805 AlpacaEval instructions by default).
    pub instructions: Option<PathBuf>,
    /// Rows per generation batch.
    pub generate_batch: usize,
    /// Checkpoint every this many steps (0 = only at the end).
    pub checkpoint_every: u64,
    /// Train LoRA adapters on a frozen base instead of every weight.
    pub lora: Option<LoraConfig>,
    /// Recompute each decoder layer in the backward pass (gradient checkpointing).
    pub gradient_checkpointing: bool,
}

impl Default for PaperRunOptions {
    fn default() -> Self {
        Self { method: Method::Simpo, max_pairs: None, max_steps: None, batch_size: None, micro_batch: None, generate: None, instructions: None, generate_batch: 8, checkpoint_every: 0, lora: None, gradient_checkpointing: false }
    }
}

/// What a run did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaperSummary {
    pub setting: String,
    pub method: Method,
    pub model: String,
    pub dataset: String,
    pub pairs: usize,
    pub steps: u64,
    pub first_loss: f64,
    pub final_loss: f64,
    pub first_margin: f64,
    pub final_margin: f64,
    pub final_accuracy: f64,
    /// Mean |y| (tokens carrying loss, before truncation) of chosen and rejected responses.
    pub mean_chosen_tokens: f64,
    pub mean_rejected_tokens: f64,
    /// Where the Hugging Face-format weights went (merged with the adapters under LoRA).
    pub model_dir: PathBuf,
    /// The PEFT-format adapter folder, when the run trained LoRA adapters.
    pub adapter_dir: Option<PathBuf>,
    pub model_outputs: Option<PathBuf>,
}

/// A start model ready for training: weights, tokenizer with the setting's chat template.
pub struct Loaded {
    pub vs: VarStore,
    pub model: Llama,
    pub config: LlamaConfig,
    pub tokenizer: Tokenizer,
    pub source: Source,
}

/// Load `cfg.model` (hub id or folder): config, tokenizer (checked against the embedding), weights
/// in bf16 on CUDA when the config says so (f32 otherwise), and the chat template by name.
pub fn load_model(cfg: &PaperConfig, device: Device) -> Result<Loaded> {
    let source = hub::resolve(&cfg.model)?;
    let config = LlamaConfig::from_file(source.file("config.json")?)?;
    let mut tokenizer = Tokenizer::from_source(&source)?;
    tokenizer.check_fits(config.vocab_size)?;
    let bos = tokenizer.bos_token.clone().unwrap_or_default();
    let eos = tokenizer.eos_token.clone().unwrap_or_default();
    tokenizer.chat = Some(ChatTemplate::from_name(&cfg.chat_template, &bos, &eos)?);
    let mut vs = VarStore::new(device);
    if device.is_cuda() && cfg.dtype == "bf16" {
        vs.set_kind(Kind::BFloat16);
    }
    let model = Llama::new(&vs.root(), &config)?;
    let files = source.weight_files()?;
    shared::model::weights::load_into(&vs, &files, &[]).with_context(|| format!("loading the weights of {}", source.describe()))?;
    Ok(Loaded { vs, model, config, tokenizer, source })
}

/// The preference pairs of `cfg.train_files` (hub dataset or local folder), in file order.
pub fn load_dataset(cfg: &PaperConfig, max_pairs: Option<usize>) -> Result<Vec<PreferencePair>> {
    Ok(shared::data::preference::load_dataset(&cfg.dataset, &cfg.train_files, max_pairs)?)
}

/// (prompt ids, response ids) of one answer, as the authors' pipeline tokenises it (module doc):
/// the empty system turn where the template mentions one, the prompt/response boundary of
/// `ResponseSpan::WithHeader` (for `mistral-simpo` that is `" {answer} </s>"`), one BOS before the
/// prompt, one EOS at the end of the response.
pub fn encode_answer(tok: &Tokenizer, context: &[Message], answer: &str) -> Result<(Vec<i64>, Vec<i64>)> {
    let template = tok.chat.as_ref().context("the tokenizer has no chat template")?;
    let mut context = context.to_vec();
    template.maybe_insert_system_message(&mut context);
    let (mut prompt, mut response) = tok.encode_pair(&context, answer, ResponseSpan::WithHeader)?;
    tok.ensure_bos(&mut prompt);
    tok.ensure_eos(&mut response);
    Ok((prompt, response))
}

/// Token ids of every pair; a pair whose two answers disagree on the prompt ids is an error.
pub fn encode_pairs(tok: &Tokenizer, raw: &[PreferencePair]) -> Result<Vec<Pair>> {
    raw.iter()
        .enumerate()
        .map(|(i, p)| {
            let (prompt, chosen) = encode_answer(tok, &p.context, &p.chosen).with_context(|| format!("pair {i} ({}): chosen", p.prompt_id))?;
            let (prompt2, rejected) = encode_answer(tok, &p.context, &p.rejected).with_context(|| format!("pair {i} ({}): rejected", p.prompt_id))?;
            if prompt != prompt2 {
                bail!("pair {i} ({}): the prompt tokenises differently before the two answers", p.prompt_id);
            }
            Ok(Pair { prompt, chosen, rejected })
        })
        .collect()
}

/// The trainer settings of a paper config for the run's method (with the run's overrides).
pub fn pairwise_config(cfg: &PaperConfig, opts: &PaperRunOptions) -> PairwiseConfig {
    let batch_size = opts.batch_size.unwrap_or_else(|| cfg.global_batch());
    let micro = opts.micro_batch.unwrap_or(cfg.train.per_device_batch).min(batch_size);
    PairwiseConfig {
        epochs: cfg.train.epochs,
        shuffle: cfg.train.shuffle,
        // adamw_torch, weight decay 0, gradient clipping at HF's default 1.0.
        optim: AdamWConfig::default(),
        seed: cfg.train.seed,
        checkpoint_every: opts.checkpoint_every,
        keep_checkpoints: 1,
        max_steps: opts.max_steps,
        gradient_checkpointing: opts.gradient_checkpointing,
        ..PairwiseConfig::new(batch_size, micro, cfg.schedule(opts.method.learning_rate(cfg))).truncating(cfg.train.max_length, cfg.train.max_prompt_length)
    }
}

/// Train one paper-scale setting and write the Hugging Face-format model into `out_dir/model`.
pub fn run(cfg: &PaperConfig, device: Device, out_dir: &Path, opts: &PaperRunOptions) -> Result<PaperSummary> {
    cfg.validate()?;
    shared::device::seed_torch(cfg.train.seed);
    let mut loaded = load_model(cfg, device)?;
    let raw = load_dataset(cfg, opts.max_pairs)?;
    let pairs = encode_pairs(&loaded.tokenizer, &raw)?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    shared::io::write_json(&out_dir.join("paper_config.json"), cfg)?;
    let pcfg = pairwise_config(cfg, opts);

    let objective: Box<dyn PairObjective> = match opts.method {
        Method::Simpo => Box::new(Simpo(cfg.simpo.clone())),
        Method::Dpo => Box::new(Dpo::new(cfg.dpo.beta)),
    };
    // DPO's reference is the start model: its log-probs are computed once, before any update.
    let tok_id = format!("{}|{}", loaded.source.describe(), cfg.chat_template);
    let reference = pairwise::reference_for(objective.as_ref(), &loaded.model, &loaded.vs, &pairs, &pcfg, &tok_id, &out_dir.join("ref-cache"))?;
    let train_dir = out_dir.join("train");
    // LoRA: the base is frozen and the optimiser trains the adapters' store (in the base's dtype,
    // so bf16 adapters get fp32 master weights and fp32 gradient sums like any bf16 variable).
    let mut adapters = match &opts.lora {
        Some(lc) => {
            let mut lvs = VarStore::new(device);
            if let Some(kind) = shared::model::llama::float_kind(&loaded.vs) {
                lvs.set_kind(kind);
            }
            lora::attach(&mut loaded.model, &lvs, lc)?;
            loaded.vs.freeze();
            Some((lvs, lc.clone()))
        }
        None => None,
    };
    let trained_vs = match adapters.as_mut() {
        Some((lvs, _)) => lvs,
        None => &mut loaded.vs,
    };
    let summary = pairwise::train(&loaded.model, trained_vs, objective.as_ref(), &pairs, reference.as_ref(), &pcfg, &train_dir)?;
    let (first, last) = first_and_last_metrics(&train_dir.join("metrics.csv"))?;

    let adapter_dir = match &adapters {
        Some((lvs, lc)) => {
            let dir = out_dir.join("adapter");
            lora::save_adapter(&dir, lvs, lc, &cfg.model)?;
            lora::merge(&mut loaded.model);
            Some(dir)
        }
        None => None,
    };
    let model_dir = out_dir.join("model");
    save_hf(&loaded, &model_dir)?;
    let model_outputs = match opts.generate {
        Some(n) => {
            let path = opts.instructions.clone().map(Ok).unwrap_or_else(default_instructions)?;
            Some(write_model_outputs(&loaded, cfg, &path, n, opts.generate_batch, &format!("{}-{:?}", cfg.setting, opts.method), out_dir)?)
        }
        None => None,
    };
    let mean = |f: &dyn Fn(&Pair) -> usize| pairs.iter().map(|p| f(p) as f64).sum::<f64>() / pairs.len() as f64;
    let out = PaperSummary {
        setting: cfg.setting.clone(),
        method: opts.method,
        model: cfg.model.clone(),
        dataset: cfg.dataset.clone(),
        pairs: pairs.len(),
        steps: summary.steps,
        first_loss: first.0,
        final_loss: last.0,
        first_margin: first.1,
        final_margin: last.1,
        final_accuracy: summary.final_accuracy,
        mean_chosen_tokens: mean(&|p| p.chosen.len()),
        mean_rejected_tokens: mean(&|p| p.rejected.len()),
        model_dir,
        adapter_dir,
        model_outputs,
    };
    shared::io::write_json(&out_dir.join("summary.json"), &out)?;
    Ok(out)
}

/// (loss, margin) of the first and last logged steps of a trainer's `metrics.csv`.
fn first_and_last_metrics(path: &Path) -> Result<((f64, f64), (f64, f64))> {
    let mut rd = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let h = rd.headers()?.clone();
    let col = |name: &str| h.iter().position(|c| c == name).with_context(|| format!("{}: no column {name}", path.display()));
    let (li, mi) = (col("loss")?, col("margin")?);
    let rows: Vec<(f64, f64)> = rd
        .records()
        .map(|r| {
            let r = r?;
            let num = |i: usize| r.get(i).unwrap_or("").parse::<f64>().with_context(|| format!("{}: bad number", path.display()));
            Ok((num(li)?, num(mi)?))
        })
        .collect::<Result<_>>()?;
    match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => Ok((*a, *b)),
        _ => bail!("{}: no steps were logged", path.display()),
    }
}

/// Files copied beside the weights so the folder loads with `from_pretrained`.
const SIDE_FILES: [&str; 6] = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"];

/// The trained weights as `model.safetensors` (HF names) + config and tokenizer files.
pub fn save_hf(loaded: &Loaded, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    shared::model::weights::save(&loaded.vs, &dir.join("model.safetensors"))?;
    for name in SIDE_FILES {
        if let Some(src) = loaded.source.optional_file(name)? {
            let bytes = std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
            shared::io::write_atomic(&dir.join(name), &bytes)?;
        }
    }
    Ok(())
}

/// The 805 AlpacaEval instructions in the fetched data (`example/outputs.json` upstream).
pub fn default_instructions() -> Result<PathBuf> {
    let root = shared::io::data_root().context("no data folder: set REPRO_DATA or run `cargo xtask fetch`")?;
    let p = root.join("cheating/data/outputs_official.json");
    shared::io::resolve_maybe_gz(&p).with_context(|| format!("{} (or .gz) is missing: run `cargo xtask fetch`", p.display()))
}

/// The generation prompt of one AlpacaEval instruction in the training format: the same empty
/// system turn as training (Zephyr: `<|system|>\n</s>`, as the SimPO AlpacaEval template has it,
/// issue #82), the generation prompt, exactly one BOS. (The AlpacaEval templates do not strip the
/// instruction; the Llama-3, Gemma and `mistral-simpo` renderings do, as in training.)
pub fn eval_prompt(tok: &Tokenizer, instruction: &str) -> Result<Vec<i64>> {
    let template = tok.chat.as_ref().context("the tokenizer has no chat template")?;
    let mut msgs = vec![Message::user(instruction)];
    template.maybe_insert_system_message(&mut msgs);
    let mut ids = tok.encode_chat(&msgs, true)?;
    tok.ensure_bos(&mut ids);
    Ok(ids)
}

#[derive(Deserialize)]
struct Instruction {
    instruction: String,
    #[serde(default)]
    dataset: Option<String>,
}

#[derive(Serialize)]
struct ModelOutput<'a> {
    instruction: &'a str,
    output: String,
    generator: &'a str,
    dataset: Option<&'a str>,
}

/// Generate with the setting's `[eval]` decoding and write `out_dir/model_outputs.json` in the
/// AlpacaEval format (`alpaca_eval --model_outputs` reads it).
pub fn write_model_outputs(loaded: &Loaded, cfg: &PaperConfig, instructions: &Path, n: usize, batch: usize, generator: &str, out_dir: &Path) -> Result<PathBuf> {
    let all: Vec<Instruction> = shared::io::read_json(instructions)?;
    let take = &all[..n.min(all.len())];
    let tok = &loaded.tokenizer;
    let gcfg = GenerateConfig {
        max_new_tokens: cfg.eval.max_new_tokens,
        temperature: cfg.eval.temperature,
        top_p: cfg.eval.top_p,
        stop_tokens: tok.stop_tokens(),
        seed: cfg.train.seed,
    };
    let mut outputs = vec![];
    tch::no_grad(|| -> Result<()> {
        for chunk in take.chunks(batch.max(1)) {
            let prompts = chunk.iter().map(|i| eval_prompt(tok, &i.instruction)).collect::<Result<Vec<_>>>()?;
            for (inst, ids) in chunk.iter().zip(generate(&loaded.model, &prompts, tok.pad_id(), &gcfg)?) {
                let text = tok.decode(&ids, true)?.trim().to_string();
                outputs.push(ModelOutput { instruction: &inst.instruction, output: text, generator, dataset: inst.dataset.as_deref() });
            }
        }
        Ok(())
    })?;
    let path = out_dir.join("model_outputs.json");
    shared::io::write_json(&path, &outputs)?;
    Ok(path)
}

/// Assumptions of the dry-run estimates, printed with the table.
pub struct PlanAssumptions {
    pub pairs: u64,
    pub mean_tokens: f64,
    pub mfu: f64,
    pub peak_tflops: f64,
}

impl Default for PlanAssumptions {
    fn default() -> Self {
        // ~60k UltraFeedback prompts; ~500 tokens per prompt+response sequence; 40% MFU of an
        // H100 SXM's 989 dense bf16 TFLOP/s.
        Self { pairs: 60_000, mean_tokens: 500.0, mfu: 0.4, peak_tflops: 989.0 }
    }
}

/// The model's shape: the paper's start models are known; a local folder's `config.json` is read.
fn shape_of(model: &str) -> Option<ModelShape> {
    let local = Path::new(model).join("config.json");
    if local.exists() {
        return LlamaConfig::from_file(&local).ok().map(|c| ModelShape::from_config(&c));
    }
    ModelShape::known(model)
}

/// The plan of every setting: one row each, every assumption stated.
pub fn dry_run(settings: &[(String, PaperConfig)]) -> Result<String> {
    dry_run_with(settings, &PlanAssumptions::default())
}

/// GPU capacities the plan checks against, in GiB: 80 GB (H100) and 141 GB (H200).
pub const H100_GIB: f64 = 80e9 / (1u64 << 30) as f64;
pub const H200_GIB: f64 = 141e9 / (1u64 << 30) as f64;
/// The LoRA rank the plan assumes (PEFT's usual 16, every projection, alpha 32).
pub const PLAN_LORA_RANK: u64 = 16;
/// A mode "fits" when its estimate leaves this share of the card free (the estimate's error bar).
pub const PLAN_HEADROOM: f64 = 0.05;

/// One setting's single-GPU plan: for each mode, GiB at the paper's micro-batch and at one pair.
pub struct SingleGpuPlan {
    pub modes: Vec<(plan::Mode, plan::Memory, plan::Memory)>,
}

impl SingleGpuPlan {
    pub fn of(shape: &ModelShape, c: &PaperConfig) -> Self {
        let seq = c.train.max_length as u64;
        let rows = 2 * c.train.per_device_batch as u64; // chosen + rejected in one forward
        let r = PLAN_LORA_RANK;
        let modes = [plan::Mode::Full, plan::Mode::FullCheckpointed, plan::Mode::Lora(r), plan::Mode::LoraCheckpointed(r)]
            .into_iter()
            .map(|m| (m, plan::single_gpu(shape, m, rows, seq), plan::single_gpu(shape, m, 2, seq)))
            .collect();
        SingleGpuPlan { modes }
    }

    /// The modes that fit `cap` GiB with [`PLAN_HEADROOM`] to spare, with the micro-batch (pairs)
    /// they fit at.
    pub fn fitting(&self, cap: f64, per_device: usize) -> Vec<(plan::Mode, usize)> {
        let cap = cap * (1.0 - PLAN_HEADROOM);
        self.modes
            .iter()
            .filter_map(|(m, paper, one)| {
                if paper.total() <= cap {
                    Some((*m, per_device))
                } else if one.total() <= cap {
                    Some((*m, 1))
                } else {
                    None
                }
            })
            .collect()
    }
}

pub fn dry_run_with(settings: &[(String, PaperConfig)], a: &PlanAssumptions) -> Result<String> {
    let mut s = String::new();
    writeln!(s, "SimPO at paper scale: plan (nothing is loaded or trained)")?;
    writeln!(s)?;
    writeln!(s, "Settings (SimPO: the authors' training_configs; DPO: their README's best DPO hyperparameters):")?;
    writeln!(s)?;
    writeln!(s, "| setting | start model | dataset | template | SimPO β | γ/β | SimPO lr | DPO β | DPO lr | schedule | warm-up | shuffle | batch | max len / prompt | params |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    for (name, c) in settings {
        let params = shape_of(&c.model).map(|sh| format!("{:.2} B", sh.params() as f64 / 1e9)).unwrap_or_else(|| "? (give a local folder with config.json)".into());
        writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {:.0e} | {} | {:.0e} | {:?} | {} | {} | {} = {} × {} × {} | {} / {} | {params} |",
            c.model,
            c.dataset,
            c.chat_template,
            c.simpo.beta,
            c.simpo.gamma_beta_ratio,
            c.train.learning_rate,
            c.dpo.beta,
            c.dpo.learning_rate,
            c.train.lr_scheduler_type,
            c.train.warmup_ratio,
            c.train.shuffle,
            c.global_batch(),
            c.train.per_device_batch,
            c.train.grad_accum,
            c.gpus,
            c.train.max_length,
            c.train.max_prompt_length,
        )?;
    }
    writeln!(s)?;
    writeln!(s, "The paper's recipe (DeepSpeed ZeRO-3 over its GPUs; `cargo xtask export simpo --setting <name>` writes it for TRL + accelerate):")?;
    writeln!(s)?;
    writeln!(s, "| setting | GPUs | GiB/GPU SimPO | GiB/GPU DPO (+ bf16 reference) | h SimPO | h DPO |")?;
    writeln!(s, "|---|---|---|---|---|---|")?;
    for (name, c) in settings {
        let Some(shape) = shape_of(&c.model) else {
            writeln!(s, "| {name} | {} | ? | ? | ? | ? |", c.gpus)?;
            continue;
        };
        let rows = 2 * c.train.per_device_batch as u64;
        let act = plan::activation_gib(&shape, rows, c.train.max_length as u64);
        let simpo = plan::estimate(&shape, a.pairs, a.mean_tokens, c.gpus, false, a.mfu, a.peak_tflops);
        let dpo = plan::estimate(&shape, a.pairs, a.mean_tokens, c.gpus, true, a.mfu, a.peak_tflops);
        writeln!(s, "| {name} | {} × H100 | {:.1} | {:.1} | {:.1} | {:.1} |", c.gpus, simpo.gpu_mem_gib_per_gpu + act, dpo.gpu_mem_gib_per_gpu + act, simpo.hours, dpo.hours)?;
    }
    writeln!(s)?;
    writeln!(s, "This project's trainer on ONE GPU, GiB per training mode at the paper's micro-batch / at 1 pair (SimPO and DPO alike: DPO's reference log-probs are cached, no second model):")?;
    writeln!(s)?;
    let r = PLAN_LORA_RANK;
    writeln!(s, "| setting | full | full + GC | LoRA r={r} | LoRA r={r} + GC | fits one 80 GB GPU ({H100_GIB:.1} GiB) with | fits one 141 GB H200 with |")?;
    writeln!(s, "|---|---|---|---|---|---|---|")?;
    for (name, c) in settings {
        let Some(shape) = shape_of(&c.model) else {
            writeln!(s, "| {name} | ? | ? | ? | ? | shape unknown | shape unknown |")?;
            continue;
        };
        let p = SingleGpuPlan::of(&shape, c);
        let cells: Vec<String> = p.modes.iter().map(|(_, paper, one)| format!("{:.0} / {:.0}", paper.total(), one.total())).collect();
        let list = |fits: &[(plan::Mode, usize)]| {
            if fits.is_empty() {
                "none".to_string()
            } else {
                fits.iter().map(|(m, mb)| format!("{} ({mb} pair{})", m.name(), if *mb == 1 { "" } else { "s" })).collect::<Vec<_>>().join(", ")
            }
        };
        let h100 = p.fitting(H100_GIB, c.train.per_device_batch);
        writeln!(s, "| {name} | {} | {} | {} | {} | {} | {} |", cells[0], cells[1], cells[2], cells[3], list(&h100), list(&p.fitting(H200_GIB, c.train.per_device_batch)))?;
    }
    writeln!(s)?;
    writeln!(s, "Assumptions (estimates are arithmetic, not measurements):")?;
    writeln!(s, "- one epoch of {} pairs, {} tokens per sequence on average (prompt + response; chosen and rejected both run);", a.pairs, a.mean_tokens)?;
    writeln!(s, "- training FLOPs = 6·N·tokens for the policy, + 2·N·tokens for DPO's reference forward pass (the paper's recipe runs the reference online); gradient checkpointing's recomputation (+2·N·tokens, hours ×4/3) and padding are not included;")?;
    writeln!(s, "- {:.0}% model-FLOP utilisation of an H100 SXM's {:.0} dense bf16 TFLOP/s per GPU;", a.mfu * 100.0, a.peak_tflops)?;
    writeln!(s, "- the paper's recipe: 16 bytes/parameter (bf16 weights + grads, fp32 master weights + two Adam moments) sharded by ZeRO-3, + 2 bytes/parameter for DPO's bf16 reference copy, + activations with gradient checkpointing for one micro-batch;")?;
    writeln!(s, "- this project, one GPU: full fine-tuning keeps {} bytes/parameter (bf16 weight and .grad, the fp32 gradient sum of AdamW::accumulate, fp32 master weight, two fp32 moments); LoRA keeps the frozen bf16 base (2 bytes/parameter) and {} bytes per adapter parameter (r = {r}, alpha = {}, all seven projections);", plan::OURS_BF16_BYTES_PER_PARAM, plan::OURS_BF16_BYTES_PER_PARAM, 2 * r)?;
    writeln!(s, "- activations per token and layer as counted in plan::layer_bytes_per_token (memory-efficient SDPA; Gemma-2's soft-capped attention materialises its scores), for every row of the micro-batch at max_length tokens (the worst case a batch can hit); without checkpointing every layer's, with checkpointing the layer inputs plus one layer's;")?;
    writeln!(s, "- logits: f32 at every response position (counted as all max_length positions, the worst case) kept for the backward pass; with checkpointing one chunk of 2^28 values; + {} GiB for the CUDA context and allocator slack;", plan::OVERHEAD_GIB)?;
    writeln!(s, "- GPU capacity: 80 GB = {H100_GIB:.1} GiB (H100), 141 GB = {H200_GIB:.1} GiB (H200); a mode fits when it leaves {:.0}% of the card free. The prepared GPU check (scripts/gpu_check.sh) measures the peak of a 0.5B model's step against this arithmetic.", PLAN_HEADROOM * 100.0)?;
    writeln!(s)?;
    writeln!(s, "Precision: bf16 keeps 8 significant bits, so an AdamW step of ≈ lr = 1e-6 is below half an ulp of any bf16 weight with |w| > 2.6e-4 and would round away; the shared optimiser therefore updates fp32 master copies of bf16 weights, and sums the 16 micro-batch gradients of a step in fp32 (`shared::train::optim`, tested).")?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_plans_all_six_settings_and_states_assumptions() {
        let settings = crate::config::paper_settings().unwrap();
        let s = dry_run(&settings).unwrap();
        eprintln!("{s}");
        for (name, _) in &settings {
            assert!(s.contains(&format!("| {name} |")), "{name} missing:\n{s}");
        }
        assert!(s.contains("8.03 B") && s.contains("7.24 B"), "{s}");
        assert!(s.contains("MFU") || s.contains("model-FLOP utilisation"));
        // Every setting fits one 80 GB GPU in at least one mode, and full fine-tuning of 7–9B never does.
        for (name, c) in &settings {
            let shape = shape_of(&c.model).unwrap();
            let p = SingleGpuPlan::of(&shape, c);
            let fits = p.fitting(H100_GIB, c.train.per_device_batch);
            assert!(!fits.is_empty(), "{name}: no mode fits one 80 GB GPU");
            assert!(fits.iter().all(|(m, _)| !matches!(m, plan::Mode::Full | plan::Mode::FullCheckpointed)), "{name}: {fits:?}");
        }
        // Gemma-2 fits only with gradient checkpointing (`--gradient-checkpointing`); Llama-3 with LoRA alone.
        let row = |n: &str| s.lines().rfind(|l| l.starts_with(&format!("| {n} |"))).unwrap().to_string();
        // The column "fits one 80 GB GPU with" (the sixth after the setting's name).
        let h100 = |n: &str| row(n).split('|').nth(6).unwrap().trim().to_string();
        assert!(!h100("gemma2-9b-it").contains("LoRA r=16 (") && h100("gemma2-9b-it").contains("LoRA r=16 + GC ("), "{}", row("gemma2-9b-it"));
        assert!(h100("llama3-instruct").starts_with("LoRA r=16 (1 pair)"), "{}", row("llama3-instruct"));
    }
}
