//! `cargo xtask export simpo --setting <name>`: a self-contained recipe that trains the setting
//! with TRL + accelerate + DeepSpeed, for runs that outgrow one GPU (the paper trained 7–9B models
//! with full fine-tuning on 4 GPUs under ZeRO-3; libtorch's Rust bindings have no distributed
//! training, so the project drives an existing engine instead of building one).
//!
//! The bundle (one folder):
//! - `data/train.jsonl`: the setting's pairs as token ids, rendered and truncated by the same code
//!   the Rust trainer trains on (`paper::encode_pairs`, `pairwise::truncate_all`: the authors'
//!   prompt/response boundary, one BOS, one EOS), with the decoded texts beside them for reading;
//! - `recipe-simpo.json`, `recipe-dpo.json`: the trainer settings of each method (β, γ/β, learning
//!   rate, schedule, global batch, per-device batch, seed, data order, precision);
//! - `train.py`: the TRL script (`CPOTrainer` with `loss_type="simpo"` and `cpo_alpha = 0` for
//!   SimPO; `DPOTrainer` with precomputed reference log-probs for DPO), fed the ids unchanged;
//! - `accelerate/deepspeed_zero3.yaml` (the paper's 4-GPU ZeRO-3 bf16 set-up), `launch.sh`,
//!   `requirements.txt` (pinned), `README.md`.
//!
//! The global batch is kept whatever the number of processes: `train.py` sets the accumulation to
//! `global_batch / (per_device × processes)`. `tests/export.rs` runs an exported bundle with TRL
//! on CPU in two processes and compares its per-step losses with the Rust trainer's.

use crate::config::{LrScheduler, PaperConfig};
use crate::paper::{self, Method, PaperRunOptions};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shared::tokenize::Tokenizer;
use shared::train::pairwise::{self, Pair};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The TRL script of every bundle.
pub const TRAIN_PY: &str = include_str!("../export/train.py");

/// Versions the recipe was checked with (the parity tests run them; the runner installs them).
pub const REQUIREMENTS: &str = "# Checked with these versions (cargo xtask test runs the parity tests with them on CPU).
torch==2.11.0
transformers==5.24.0
trl==1.16.0
accelerate==1.16.0
datasets==5.2.0
peft==0.21.2
# GPU runs with the DeepSpeed config (not needed for a single process or the CPU check):
deepspeed==0.19.8
";

/// What `train.py` reads: one method's trainer settings (Hugging Face / TRL names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub method: Method,
    /// Hub id, or a folder (relative to the bundle or absolute).
    pub model: String,
    /// `float32`, `bfloat16`, or `None` (the checkpoint's stored dtype loaded as fp32 weights
    /// under bf16 mixed precision, as the authors' `torch_dtype: null` does).
    pub torch_dtype: Option<String>,
    pub attn_implementation: String,
    /// Relative to the bundle.
    pub data: String,
    pub output_dir: String,
    pub beta: f64,
    /// SimPO only: γ/β (TRL receives γ = β · γ/β as `simpo_gamma`).
    pub gamma_beta_ratio: Option<f64>,
    pub label_smoothing: f64,
    pub learning_rate: f64,
    /// HF `lr_scheduler_type`.
    pub lr_scheduler_type: String,
    pub warmup_ratio: f64,
    pub num_train_epochs: usize,
    /// Stop after this many optimiser steps; the schedule still spans the whole run.
    pub stop_after_steps: Option<u64>,
    pub max_pairs: Option<usize>,
    /// Pairs per optimiser step over all processes (the paper's 128).
    pub global_batch: usize,
    pub per_device_train_batch_size: usize,
    pub weight_decay: f64,
    pub max_grad_norm: f64,
    pub seed: u64,
    pub shuffle: bool,
    pub bf16: bool,
    pub gradient_checkpointing: bool,
    pub save_model: bool,
}

impl Recipe {
    /// The recipe of `method` in setting `cfg` (and the run overrides of `opts`: batch sizes, steps).
    pub fn new(cfg: &PaperConfig, method: Method, opts: &PaperRunOptions) -> Recipe {
        let p = paper::pairwise_config(cfg, &PaperRunOptions { method, ..opts.clone() });
        let bf16 = cfg.dtype == "bf16";
        let (beta, gamma_beta_ratio, label_smoothing) = match method {
            Method::Simpo => (cfg.simpo.beta, Some(cfg.simpo.gamma_beta_ratio), cfg.simpo.label_smoothing),
            Method::Dpo => (cfg.dpo.beta, None, 0.0),
        };
        Recipe {
            method,
            model: cfg.model.clone(),
            torch_dtype: if bf16 { None } else { Some("float32".into()) },
            // The authors used flash_attention_2 (a separate package) and eager attention for Gemma-2.
            attn_implementation: if cfg.chat_template == "gemma" { "eager".into() } else { "sdpa".into() },
            data: "data/train.jsonl".into(),
            output_dir: format!("out-{}", method_name(method)),
            beta,
            gamma_beta_ratio,
            label_smoothing,
            learning_rate: p.schedule.lr,
            lr_scheduler_type: match cfg.train.lr_scheduler_type {
                LrScheduler::Cosine => "cosine",
                LrScheduler::Linear => "linear",
                LrScheduler::Constant => "constant",
                LrScheduler::ConstantWithWarmup => "constant_with_warmup",
            }
            .into(),
            warmup_ratio: p.schedule.warmup_ratio,
            num_train_epochs: p.epochs,
            stop_after_steps: p.max_steps,
            max_pairs: opts.max_pairs,
            global_batch: p.batch_size,
            per_device_train_batch_size: p.micro_batch,
            weight_decay: p.optim.weight_decay,
            max_grad_norm: p.optim.max_grad_norm.unwrap_or(0.0),
            seed: p.seed,
            shuffle: cfg.train.shuffle,
            bf16,
            gradient_checkpointing: bf16,
            save_model: true,
        }
    }
}

pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Simpo => "simpo",
        Method::Dpo => "dpo",
    }
}

/// One line of `data/train.jsonl`.
#[derive(Serialize)]
struct Row<'a> {
    prompt_ids: &'a [i64],
    chosen_ids: &'a [i64],
    rejected_ids: &'a [i64],
    prompt: String,
    chosen: String,
    rejected: String,
}

/// Write `pairs` (already truncated) to `path` as JSON lines, atomically.
pub fn write_pairs(path: &Path, tok: &Tokenizer, pairs: &[Pair]) -> Result<()> {
    let mut buf = Vec::new();
    for p in pairs {
        let row = Row {
            prompt_ids: &p.prompt,
            chosen_ids: &p.chosen,
            rejected_ids: &p.rejected,
            prompt: tok.decode(&p.prompt, false)?,
            chosen: tok.decode(&p.chosen, false)?,
            rejected: tok.decode(&p.rejected, false)?,
        };
        serde_json::to_writer(&mut buf, &row)?;
        buf.write_all(b"\n")?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    shared::io::write_atomic(path, &buf)?;
    Ok(())
}

/// The accelerate config of the paper's run: DeepSpeed ZeRO-3, bf16, `gpus` processes on one node.
pub fn deepspeed_zero3_yaml(gpus: u64) -> String {
    format!(
        "# The paper's set-up: {gpus} GPUs, DeepSpeed ZeRO-3 (parameters, gradients and optimiser states
# sharded; no offload), bf16 mixed precision. `accelerate launch --config_file` this file.
compute_environment: LOCAL_MACHINE
distributed_type: DEEPSPEED
deepspeed_config:
  zero_stage: 3
  zero3_init_flag: true
  zero3_save_16bit_model: true
  offload_optimizer_device: none
  offload_param_device: none
mixed_precision: bf16
num_machines: 1
machine_rank: 0
num_processes: {gpus}
rdzv_backend: static
same_network: true
use_cpu: false
"
    )
}

/// Write every file of a bundle into `dir`.
pub fn write_bundle(dir: &Path, cfg: &PaperConfig, recipes: &[Recipe], tok: &Tokenizer, pairs: &[Pair]) -> Result<()> {
    std::fs::create_dir_all(dir.join("accelerate")).with_context(|| format!("creating {}", dir.display()))?;
    write_pairs(&dir.join("data/train.jsonl"), tok, pairs)?;
    for r in recipes {
        shared::io::write_json(&dir.join(format!("recipe-{}.json", method_name(r.method))), r)?;
    }
    shared::io::write_atomic(&dir.join("train.py"), TRAIN_PY.as_bytes())?;
    shared::io::write_atomic(&dir.join("requirements.txt"), REQUIREMENTS.as_bytes())?;
    shared::io::write_atomic(&dir.join("accelerate/deepspeed_zero3.yaml"), deepspeed_zero3_yaml(cfg.gpus).as_bytes())?;
    let launch = format!(
        "#!/usr/bin/env bash
# Train one method of this bundle: ./launch.sh simpo|dpo [gpu|cpu2|one]
#   gpu  (default) the paper's set-up: {gpus} processes, DeepSpeed ZeRO-3, bf16
#   cpu2 two CPU processes (torchrun, gloo): the check `cargo xtask test` runs on tiny models
#   one  a single process (CPU or one GPU)
set -euo pipefail
cd \"$(dirname \"$0\")\"
method=${{1:?usage: ./launch.sh simpo|dpo [gpu|cpu2|one]}}
case \"${{2:-gpu}}\" in
  gpu)  exec accelerate launch --config_file accelerate/deepspeed_zero3.yaml train.py \"recipe-$method.json\" ;;
  cpu2) exec torchrun --standalone --nproc_per_node 2 train.py \"recipe-$method.json\" ;;
  one)  exec python train.py \"recipe-$method.json\" ;;
  *)    echo \"unknown mode $2\" >&2; exit 2 ;;
esac
",
        gpus = cfg.gpus
    );
    let launch_path = dir.join("launch.sh");
    shared::io::write_atomic(&launch_path, launch.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&launch_path, std::fs::Permissions::from_mode(0o755)).with_context(|| format!("making {} executable", launch_path.display()))?;
    }
    shared::io::write_atomic(&dir.join("README.md"), readme(cfg, recipes, pairs.len())?.as_bytes())?;
    Ok(())
}

fn readme(cfg: &PaperConfig, recipes: &[Recipe], n: usize) -> Result<String> {
    let mut s = String::new();
    writeln!(s, "# {}: SimPO paper-scale recipe for TRL + accelerate + DeepSpeed", cfg.setting)?;
    writeln!(s)?;
    writeln!(s, "Exported by `cargo xtask export simpo` from `papers/simpo/configs/paper/` of preference-papers.")?;
    writeln!(s, "Start model `{}`, data `{}` ({n} pairs), chat template `{}`.", cfg.model, cfg.dataset, cfg.chat_template)?;
    writeln!(s)?;
    writeln!(s, "```sh")?;
    writeln!(s, "pip install -r requirements.txt")?;
    writeln!(s, "./launch.sh simpo        # {} GPUs, DeepSpeed ZeRO-3, bf16 (accelerate/deepspeed_zero3.yaml)", cfg.gpus)?;
    writeln!(s, "./launch.sh dpo")?;
    writeln!(s, "```")?;
    writeln!(s)?;
    writeln!(s, "| method | trainer | β | γ/β | lr | schedule | warm-up | global batch | per device | epochs | seed |")?;
    writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for r in recipes {
        let trainer = match r.method {
            Method::Simpo => "TRL CPOTrainer, loss_type=simpo, cpo_alpha=0, simpo_gamma=β·γ/β",
            Method::Dpo => "TRL DPOTrainer, loss_type=sigmoid, precomputed reference",
        };
        writeln!(
            s,
            "| {} | {trainer} | {} | {} | {:e} | {} | {} | {} | {} | {} | {} |",
            method_name(r.method),
            r.beta,
            r.gamma_beta_ratio.map(|g| g.to_string()).unwrap_or_else(|| "–".into()),
            r.learning_rate,
            r.lr_scheduler_type,
            r.warmup_ratio,
            r.global_batch,
            r.per_device_train_batch_size,
            r.num_train_epochs,
            r.seed
        )?;
    }
    writeln!(s)?;
    writeln!(s, "- `data/train.jsonl` holds token ids exactly as the Rust trainer trains on them: the SimPO authors' prompt/response boundary (the assistant header and end-of-turn token belong to the response, so they count in SimPO's |y|; stock TRL on conversational data would put the header in the prompt), one BOS before the prompt, one EOS after each response, TRL-0.x truncation to max_length {} / max_prompt_length {} already applied. `train.py` hands them to TRL unchanged.", cfg.train.max_length, cfg.train.max_prompt_length)?;
    writeln!(s, "- The global batch is kept whatever the number of processes: gradient accumulation = global batch / (per-device batch × processes).")?;
    writeln!(s, "- Data order: with `shuffle = true` TRL draws its own seeded permutation (HF's RandomSampler), not the Rust trainer's; per-step losses then agree only where a step covers the same pairs. `shuffle = false` visits `data/train.jsonl` in order.")?;
    writeln!(s, "- Each run writes `out-<method>/metrics.jsonl` (loss, gradient norm, learning rate per step) and the trained model to `out-<method>/`.")?;
    writeln!(s, "- Precision: the paper's recipe loads fp32 weights and trains under bf16 mixed precision with ZeRO-3 (the authors' `torch_dtype: null`, `bf16: true`), with gradient checkpointing.")?;
    Ok(s)
}

/// What `export` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct ExportSummary {
    pub dir: PathBuf,
    pub pairs: usize,
    pub recipes: Vec<PathBuf>,
}

/// The tokenizer of `cfg.model` with the setting's chat template (no weights are loaded).
pub fn load_tokenizer(cfg: &PaperConfig) -> Result<Tokenizer> {
    let source = shared::hub::resolve(&cfg.model)?;
    let mut tok = Tokenizer::from_source(&source)?;
    let bos = tok.bos_token.clone().unwrap_or_default();
    let eos = tok.eos_token.clone().unwrap_or_default();
    tok.chat = Some(shared::tokenize::chat::ChatTemplate::from_name(&cfg.chat_template, &bos, &eos)?);
    Ok(tok)
}

/// Export setting `cfg` (both methods) into `dir`: the pairs as the Rust trainer renders and
/// truncates them, the recipes, the TRL script and the launch files.
pub fn export(cfg: &PaperConfig, dir: &Path, opts: &PaperRunOptions) -> Result<ExportSummary> {
    cfg.validate()?;
    if dir.join("data/train.jsonl").exists() && !dir.join("recipe-simpo.json").exists() {
        bail!("{} holds a data/train.jsonl that is not from an export; choose an empty folder", dir.display());
    }
    let tok = load_tokenizer(cfg)?;
    let raw = paper::load_dataset(cfg, opts.max_pairs)?;
    let pairs = paper::encode_pairs(&tok, &raw)?;
    let pcfg = paper::pairwise_config(cfg, opts);
    let pairs = pairwise::truncate_all(&pairs, &pcfg)?;
    let recipes: Vec<Recipe> = [Method::Simpo, Method::Dpo].into_iter().map(|m| Recipe::new(cfg, m, opts)).collect();
    write_bundle(dir, cfg, &recipes, &tok, &pairs)?;
    Ok(ExportSummary { dir: dir.to_path_buf(), pairs: pairs.len(), recipes: recipes.iter().map(|r| dir.join(format!("recipe-{}.json", method_name(r.method)))).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_carry_each_methods_own_hyperparameters() {
        let cfg = PaperConfig::load(&crate::config::config_dir().join("paper/llama3-instruct.toml")).unwrap();
        let s = Recipe::new(&cfg, Method::Simpo, &PaperRunOptions::default());
        let d = Recipe::new(&cfg, Method::Dpo, &PaperRunOptions::default());
        assert_eq!((s.beta, s.gamma_beta_ratio, s.learning_rate), (2.5, Some(0.55), 1e-6));
        assert_eq!((d.beta, d.gamma_beta_ratio, d.learning_rate), (0.01, None, 7e-7));
        for r in [&s, &d] {
            assert_eq!((r.global_batch, r.per_device_train_batch_size, r.lr_scheduler_type.as_str(), r.warmup_ratio), (128, 2, "cosine", 0.1));
            assert!(r.bf16 && r.gradient_checkpointing && r.torch_dtype.is_none() && r.shuffle);
        }
        let yaml = deepspeed_zero3_yaml(cfg.gpus);
        assert!(yaml.contains("zero_stage: 3") && yaml.contains("num_processes: 4") && yaml.contains("mixed_precision: bf16"));
        let g = PaperConfig::load(&crate::config::config_dir().join("paper/gemma2-9b-it.toml")).unwrap();
        assert_eq!(Recipe::new(&g, Method::Simpo, &PaperRunOptions::default()).attn_implementation, "eager");
    }
}
