//! `--dry-run` at paper scale: what would run, and how much GPU memory and time it needs.
//!
//! Estimates are arithmetic, not measurements: parameters from the model's shape, training
//! FLOPs ≈ 6 · N · tokens for the policy (forward + backward) plus 2 · N · tokens for a frozen
//! reference forward (DPO-family methods only), at an assumed model-FLOP utilisation; memory for
//! mixed-precision AdamW ≈ 16 bytes per parameter (bf16 weights and gradients, fp32 master
//! weights and two moments), sharded across GPUs as ZeRO-3 does, plus a bf16 reference copy.

/// The shape facts that determine parameter count (from `config.json`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelShape {
    pub vocab: u64,
    pub hidden: u64,
    pub intermediate: u64,
    pub layers: u64,
    pub heads: u64,
    pub kv_heads: u64,
    /// Per-head width; `hidden / heads` unless the config says otherwise (Gemma-2: 256).
    pub head_dim: u64,
    pub tied_embeddings: bool,
}

impl ModelShape {
    /// Shapes of the paper's start models, for planning without downloading their configs.
    pub fn known(model_id: &str) -> Option<ModelShape> {
        let id = model_id.to_lowercase();
        let llama3_8b = ModelShape { vocab: 128_256, hidden: 4096, intermediate: 14_336, layers: 32, heads: 32, kv_heads: 8, head_dim: 128, tied_embeddings: false };
        let mistral_7b = ModelShape { vocab: 32_000, hidden: 4096, intermediate: 14_336, layers: 32, heads: 32, kv_heads: 8, head_dim: 128, tied_embeddings: false };
        let gemma2_9b = ModelShape { vocab: 256_000, hidden: 3584, intermediate: 14_336, layers: 42, heads: 16, kv_heads: 8, head_dim: 256, tied_embeddings: true };
        if id.contains("llama-3") {
            Some(llama3_8b)
        } else if id.contains("mistral") || id.contains("zephyr-7b") {
            Some(mistral_7b)
        } else if id.contains("gemma-2-9b") {
            Some(gemma2_9b)
        } else {
            None
        }
    }

    /// The shape of a `config.json` (a local model folder, or a cached hub config).
    pub fn from_config(c: &shared::model::LlamaConfig) -> ModelShape {
        ModelShape {
            vocab: c.vocab_size as u64,
            hidden: c.hidden_size as u64,
            intermediate: c.intermediate_size as u64,
            layers: c.num_hidden_layers as u64,
            heads: c.num_attention_heads as u64,
            kv_heads: c.num_kv_heads() as u64,
            head_dim: c.head_dim() as u64,
            tied_embeddings: c.tie_word_embeddings,
        }
    }

    /// Parameter count of a Llama-family decoder (no biases).
    pub fn params(&self) -> u64 {
        let q = self.heads * self.head_dim;
        let kv = self.kv_heads * self.head_dim;
        let attn = 2 * self.hidden * q + 2 * self.hidden * kv;
        let mlp = 3 * self.hidden * self.intermediate;
        let norms = 2 * self.hidden;
        let embed = self.vocab * self.hidden * if self.tied_embeddings { 1 } else { 2 };
        self.layers * (attn + mlp + norms) + embed + self.hidden
    }
}

#[derive(Clone, Debug)]
pub struct Estimate {
    pub params: u64,
    pub gpu_mem_gib_per_gpu: f64,
    pub hours: f64,
    pub tokens: f64,
}

/// Estimate one epoch over `pairs` preference pairs of `mean_tokens` tokens per sequence.
pub fn estimate(shape: &ModelShape, pairs: u64, mean_tokens: f64, gpus: u64, reference_model: bool, mfu: f64, peak_tflops: f64) -> Estimate {
    let n = shape.params() as f64;
    let tokens = pairs as f64 * 2.0 * mean_tokens; // chosen + rejected
    let flops = 6.0 * n * tokens + if reference_model { 2.0 * n * tokens } else { 0.0 };
    let seconds = flops / (gpus as f64 * peak_tflops * 1e12 * mfu);
    let state = 16.0 * n / gpus as f64 + if reference_model { 2.0 * n / gpus as f64 } else { 0.0 };
    Estimate { params: shape.params(), gpu_mem_gib_per_gpu: state / (1u64 << 30) as f64, hours: seconds / 3600.0, tokens }
}

/// Activation memory (GiB, per GPU) of one forward/backward with gradient checkpointing: the
/// checkpointed layer inputs (bf16) of every layer, one layer's recomputed working set (bf16:
/// q, k, v, o, attention output and the MLP's gate/up/act), and the fp32 logits plus their
/// log-softmax for `rows` sequences of `seq` tokens (flash attention: no T² scores kept).
pub fn activation_gib(shape: &ModelShape, rows: u64, seq: u64) -> f64 {
    let tokens = (rows * seq) as f64;
    let checkpoints = tokens * shape.hidden as f64 * 2.0 * shape.layers as f64;
    let layer = tokens * (6.0 * shape.hidden as f64 + 3.0 * shape.intermediate as f64) * 2.0;
    let logits = tokens * shape.vocab as f64 * 4.0 * 2.0;
    (checkpoints + layer + logits) / (1u64 << 30) as f64
}

/// Bytes per parameter of training state: the paper's mixed precision (bf16 weights and
/// gradients, fp32 master weights, fp32 Adam moments: 2 + 2 + 4 + 8 = 16); this project's
/// trainer on bf16 weights keeps the same state (fp32 master copies in `shared::train::optim`).
pub const PAPER_BYTES_PER_PARAM: f64 = 16.0;
pub const OURS_BF16_BYTES_PER_PARAM: f64 = 16.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_published_sizes() {
        // Meta-Llama-3-8B has 8.03 B parameters, Mistral-7B 7.24 B, Gemma-2-9B 9.24 B.
        let b = |id: &str| ModelShape::known(id).unwrap().params() as f64 / 1e9;
        assert!((b("meta-llama/Meta-Llama-3-8B-Instruct") - 8.03).abs() < 0.01);
        assert!((b("mistralai/Mistral-7B-Instruct-v0.2") - 7.24).abs() < 0.01);
        assert!((b("google/gemma-2-9b-it") - 9.24).abs() < 0.05, "{}", b("google/gemma-2-9b-it"));
    }

    #[test]
    fn the_reference_model_costs_a_third_more_compute() {
        let s = ModelShape::known("meta-llama/Meta-Llama-3-8B").unwrap();
        let simpo = estimate(&s, 60_000, 500.0, 4, false, 0.4, 989.0);
        let dpo = estimate(&s, 60_000, 500.0, 4, true, 0.4, 989.0);
        assert!((dpo.hours / simpo.hours - 8.0 / 6.0).abs() < 1e-9);
        assert!(dpo.gpu_mem_gib_per_gpu > simpo.gpu_mem_gib_per_gpu);
    }
}
