//! One bf16 SimPO or DPO training step of the shared engine (`shared::train::pairwise`, the same
//! step every paper trains with) at the paper's sequence lengths on a model with random weights
//! (no download), timed, with the process's GPU memory beside the `--dry-run` estimate.
//! `scripts/gpu_check.sh` runs it for both methods and every mode, one process each (the CUDA
//! caching allocator never gives memory back, so one process per measurement).
//!
//! ```text
//! gpu_step --method simpo|dpo --mode full|gc|lora|lora-gc [--steps 3] [--shape qwen2-0.5b|tiny] [--device cuda|cpu]
//! ```
//!
//! The batch is the paper's micro-batch: 2 pairs = 4 rows of 2048 tokens, 1800 prompt + 248
//! response tokens each (`max_length` / `max_prompt_length` of the 2048-token settings). Prints one
//! Markdown row: step seconds (mean of the timed steps after one warm-up step), tokens/s, model
//! TFLOP/s and MFU against the card's dense bf16 peak (from its name; FLOPs = 6·N·tokens for full
//! fine-tuning, 4·N·tokens for LoRA, which computes no weight gradients of the base; the
//! recomputation of gradient checkpointing and attention's T² terms are not counted, as MFU is
//! defined), the process's GPU memory from `nvidia-smi` (the allocator's peak reservation plus
//! the CUDA context), and the plan's estimate (`simpo::plan::single_gpu_with`).

use anyhow::{bail, Context, Result};
use clap::Parser;
use shared::model::{lora, Llama, LlamaConfig, LoraConfig};
use shared::objectives::{dpo::Dpo, PairObjective};
use shared::train::pairwise::{self, Pair};
use shared::train::schedule::{Decay, Schedule};
use shared::train::TrainConfig;
use simpo::loss::SimpoConfig;
use simpo::objective::Simpo;
use simpo::plan::{self, ModelShape};
use tch::{nn::VarStore, Device, Kind, Tensor};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "simpo")]
    method: String,
    /// full, gc (full + gradient checkpointing), lora (r = 16), lora-gc.
    #[arg(long, default_value = "full")]
    mode: String,
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// qwen2-0.5b (Qwen2-0.5B's shape) or tiny (a quick check of this binary on a CPU).
    #[arg(long, default_value = "qwen2-0.5b")]
    shape: String,
    #[arg(long, default_value = "cuda")]
    device: String,
    /// Pairs per micro-batch (the paper's per-device batch).
    #[arg(long, default_value_t = 2)]
    pairs: i64,
    #[arg(long, default_value_t = 2048)]
    seq: i64,
    #[arg(long, default_value_t = 1800)]
    prompt: i64,
}

fn config(shape: &str) -> Result<LlamaConfig> {
    let json = match shape {
        // Qwen/Qwen2-0.5B's config.json (the numbers; weights are random here).
        "qwen2-0.5b" => serde_json::json!({
            "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
            "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
            "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "max_position_embeddings": 32768, "tie_word_embeddings": true
        }),
        "tiny" => serde_json::json!({
            "model_type": "qwen2", "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "rms_norm_eps": 1e-6, "max_position_embeddings": 4096, "tie_word_embeddings": true
        }),
        other => bail!("--shape {other:?}: qwen2-0.5b or tiny"),
    };
    Ok(LlamaConfig::from_json_str(&json.to_string(), std::path::Path::new("<gpu_step shape>"))?)
}

/// Dense bf16 peak TFLOP/s of a card, from its `nvidia-smi` name (no sparsity).
fn bf16_peak(name: &str) -> Option<f64> {
    let n = name.to_uppercase();
    if n.contains("H200") || (n.contains("H100") && (n.contains("SXM") || n.contains("HBM3"))) {
        Some(989.4)
    } else if n.contains("H100") && n.contains("NVL") {
        Some(835.0)
    } else if n.contains("H100") {
        Some(756.0) // PCIe
    } else if n.contains("A100") {
        Some(312.0)
    } else {
        None
    }
}

fn nvidia_smi(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("nvidia-smi").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// GiB this process holds on the GPU, per `nvidia-smi`.
fn process_gib() -> Option<f64> {
    let pid = std::process::id().to_string();
    let text = nvidia_smi(&["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"])?;
    text.lines().filter_map(|l| l.split_once(',')).find(|(p, _)| p.trim() == pid).and_then(|(_, m)| m.trim().parse::<f64>().ok()).map(|mib| mib / 1024.0)
}

fn main() -> Result<()> {
    let a = Args::parse();
    let cuda = a.device == "cuda";
    if cuda && !(shared::device::load_cuda_backend() && tch::Cuda::is_available()) {
        bail!("CUDA is not visible to tch: run target/release/cuda_check first");
    }
    let device = shared::device::resolve(&a.device)?;
    let kind = if cuda { Kind::BFloat16 } else { Kind::Float };
    let cfg = config(&a.shape)?;
    let (checkpointed, lora_rank) = match a.mode.as_str() {
        "full" => (false, None),
        "gc" => (true, None),
        "lora" => (false, Some(16)),
        "lora-gc" => (true, Some(16)),
        other => bail!("--mode {other:?}: full, gc, lora or lora-gc"),
    };
    tch::manual_seed(0);
    let mut vs = VarStore::new(device);
    vs.set_kind(kind);
    let mut model = Llama::new(&vs.root(), &cfg)?;
    let mut lvs = VarStore::new(device);
    lvs.set_kind(kind);
    if let Some(r) = lora_rank {
        lora::attach(&mut model, &lvs, &LoraConfig::all_projections(r, 2.0 * r as f64))?;
        vs.freeze();
    }

    // 2 pairs of random tokens: pair r is row r's prompt with responses rows r and pairs + r.
    let (rows, resp) = (2 * a.pairs, a.seq - a.prompt);
    let ids = Tensor::randint(cfg.vocab_size as i64, [rows, a.seq], (Kind::Int64, Device::Cpu));
    let row = |r: i64| Vec::<i64>::try_from(ids.get(r)).context("random ids");
    let mut pairs = vec![];
    for r in 0..a.pairs {
        let (c, l) = (row(r)?, row(a.pairs + r)?);
        pairs.push(Pair { prompt: c[..a.prompt as usize].to_vec(), chosen: c[a.prompt as usize..].to_vec(), rejected: l[a.prompt as usize..].to_vec() });
    }
    let objective: Box<dyn PairObjective> = match a.method.as_str() {
        "simpo" => Box::new(Simpo(SimpoConfig::new(2.0, 0.5))),
        "dpo" => Box::new(Dpo::new(0.01)),
        other => bail!("--method {other:?}: simpo or dpo"),
    };
    // The engine's own step (shared::train::pairwise -> engine): one warm-up step, then `steps`
    // timed ones, one optimiser batch of `pairs` pairs each, logged every step.
    let mut tc = TrainConfig::new(a.pairs as usize, a.pairs as usize, Schedule { lr: 1e-6, warmup_ratio: 0.0, decay: Decay::Constant });
    tc.steps = Some(1 + a.steps as u64);
    tc.keep_checkpoints = 1;
    tc.gradient_checkpointing = checkpointed;
    let work = std::env::temp_dir().join(format!("gpu_step-{}", std::process::id()));
    // DPO: the start model's log-probs, computed once without gradients (cached, as in training).
    let reference = pairwise::reference_for(objective.as_ref(), &model, &vs, &pairs, &tc, "gpu_step", &work.join("ref"))?;
    let trained = if lora_rank.is_some() { &mut lvs } else { &mut vs };
    let summary = pairwise::train(&model, trained, objective.as_ref(), &pairs, reference.as_ref(), &tc, &work.join("train")).context("training steps")?;
    let last = summary.final_loss;
    // Seconds per step from the engine's tokens/s of each timed step (the first row is the warm-up).
    let mut rd = csv::Reader::from_path(work.join("train/metrics.csv"))?;
    let col = rd.headers()?.iter().position(|h| h == "tokens_per_s").context("metrics.csv has no tokens_per_s")?;
    let rates: Vec<f64> = rd.records().skip(1).map(|r| Ok(r?[col].parse::<f64>()?)).collect::<Result<_>>()?;
    let tokens = (rows * a.seq) as f64;
    let secs = rates.iter().map(|tps| tokens / tps).sum::<f64>() / rates.len().max(1) as f64;
    std::fs::remove_dir_all(&work).ok();
    let n = cfg_params(&cfg);
    let flops = if lora_rank.is_some() { 4.0 } else { 6.0 } * n * tokens;
    let tflops = flops / secs / 1e12;
    let name = if cuda { nvidia_smi(&["--query-gpu=name", "--format=csv,noheader"]).unwrap_or_default().lines().next().unwrap_or("").trim().to_string() } else { "cpu".into() };
    let mfu = bf16_peak(&name).map(|p| format!("{:.1}%", 100.0 * tflops / p)).unwrap_or_else(|| "n/a (unknown peak)".into());
    let shape = ModelShape::from_config(&cfg);
    let pmode = match (checkpointed, lora_rank) {
        (false, None) => plan::Mode::Full,
        (true, None) => plan::Mode::FullCheckpointed,
        (false, Some(r)) => plan::Mode::Lora(r as u64),
        (true, Some(r)) => plan::Mode::LoraCheckpointed(r as u64),
    };
    let est = plan::single_gpu_with(&shape, pmode, rows as u64, a.seq as u64, resp as u64);
    let measured = process_gib().map(|g| format!("{g:.1}")).unwrap_or_else(|| "n/a".into());
    println!(
        "| {} | {} | {name} | {:.3} | {:.0} | {:.1} | {mfu} | {measured} | {:.1} (state {:.1} + activations {:.1} + logits {:.1} + {:.0}) | {last:.4} |",
        a.method,
        pmode.name(),
        secs,
        tokens / secs,
        tflops,
        est.total(),
        est.state,
        est.activations,
        est.logits,
        est.overhead
    );
    Ok(())
}

fn cfg_params(cfg: &LlamaConfig) -> f64 {
    ModelShape::from_config(cfg).params() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qwen2_shape_has_qwen2_0_5b_parameter_count() {
        // Qwen2-0.5B: 494 M parameters (ModelShape counts no biases: q/k/v add 0.1 M).
        let n = cfg_params(&config("qwen2-0.5b").unwrap()) / 1e6;
        assert!((n - 494.0).abs() < 1.0, "{n}");
        assert_eq!(bf16_peak("NVIDIA H100 80GB HBM3"), Some(989.4));
        assert_eq!(bf16_peak("NVIDIA H200"), Some(989.4));
        assert_eq!(bf16_peak("NVIDIA H100 PCIe"), Some(756.0));
        assert_eq!(bf16_peak("Tesla T4"), None);
    }
}
