//! `--dry-run` at paper scale: what would run, and how much GPU memory and time it needs.
//!
//! Estimates are arithmetic, not measurements: parameters from the model's shape, training
//! FLOPs ≈ 6 · N · tokens for the policy (forward + backward) plus 2 · N · tokens for a frozen
//! reference forward (DPO-family methods only), at an assumed model-FLOP utilisation; memory for
//! mixed-precision AdamW ≈ 16 bytes per parameter (bf16 weights and gradients, fp32 master
//! weights and two moments), sharded across GPUs as ZeRO-3 does, plus a bf16 reference copy.
//!
//! [`single_gpu`] is the memory of *this project's* trainer on one GPU, per training mode
//! ([`Mode`]: full fine-tuning, with gradient checkpointing, LoRA, LoRA with checkpointing), from
//! what it actually allocates: the training state per parameter, the tensors autograd keeps per
//! token and layer (counted from `shared::model::llama`'s operations), the f32 logits of the
//! response positions, and a fixed allowance for the CUDA context and allocator slack.

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
    /// Gemma-2: soft-capped attention runs eagerly, materialising `[heads, T, T]` scores.
    pub eager_attention: bool,
}

impl ModelShape {
    /// Shapes of the paper's start models, for planning without downloading their configs.
    pub fn known(model_id: &str) -> Option<ModelShape> {
        let id = model_id.to_lowercase();
        let llama3_8b = ModelShape { vocab: 128_256, hidden: 4096, intermediate: 14_336, layers: 32, heads: 32, kv_heads: 8, head_dim: 128, tied_embeddings: false, eager_attention: false };
        let mistral_7b = ModelShape { vocab: 32_000, hidden: 4096, intermediate: 14_336, layers: 32, heads: 32, kv_heads: 8, head_dim: 128, tied_embeddings: false, eager_attention: false };
        let gemma2_9b = ModelShape { vocab: 256_000, hidden: 3584, intermediate: 14_336, layers: 42, heads: 16, kv_heads: 8, head_dim: 256, tied_embeddings: true, eager_attention: true };
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
            eager_attention: c.is_gemma2(),
        }
    }

    /// Parameters of LoRA adapters of rank `r` on every attention and MLP projection.
    pub fn lora_params(&self, r: u64) -> u64 {
        let (h, q, kv, i) = (self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim, self.intermediate);
        // q, k, v, o, gate, up, down: r · (in + out) each.
        self.layers * r * ((h + q) + 2 * (h + kv) + (q + h) + 2 * (h + i) + (i + h))
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
/// gradients, fp32 master weights, fp32 Adam moments: 2 + 2 + 4 + 8 = 16).
pub const PAPER_BYTES_PER_PARAM: f64 = 16.0;
/// This project's trainer on a bf16 variable: bf16 weight and `.grad` (2 + 2), the fp32 gradient
/// sum of `AdamW::accumulate` (4), fp32 master weight (4) and two fp32 moments (8).
pub const OURS_BF16_BYTES_PER_PARAM: f64 = 20.0;
/// A frozen bf16 weight (LoRA's base model): the weight only.
pub const FROZEN_BF16_BYTES_PER_PARAM: f64 = 2.0;
/// CUDA context, cuBLAS workspaces and allocator slack, allowed for on top of the tensors.
pub const OVERHEAD_GIB: f64 = 3.0;

const GIB: f64 = (1u64 << 30) as f64;

/// How the trainer fits a model in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every weight trained, every layer's activations kept for the backward pass.
    Full,
    /// Every weight trained; only layer inputs kept, each layer recomputed in the backward pass
    /// (`shared::model::recompute`).
    FullCheckpointed,
    /// Frozen bf16 base + LoRA adapters of this rank on every projection (`shared::model::lora`).
    Lora(u64),
    /// LoRA with gradient checkpointing.
    LoraCheckpointed(u64),
}

impl Mode {
    pub fn name(&self) -> String {
        match self {
            Mode::Full => "full".into(),
            Mode::FullCheckpointed => "full + GC".into(),
            Mode::Lora(r) => format!("LoRA r={r}"),
            Mode::LoraCheckpointed(r) => format!("LoRA r={r} + GC"),
        }
    }
    pub fn checkpointed(&self) -> bool {
        matches!(self, Mode::FullCheckpointed | Mode::LoraCheckpointed(_))
    }
}

/// GiB of one micro-batch's training step on one GPU, by part.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Memory {
    /// Weights, gradients, fp32 sums, master weights and moments.
    pub state: f64,
    /// What autograd keeps for the backward pass (or, checkpointed: the layer inputs plus one
    /// layer's working set).
    pub activations: f64,
    /// f32 logits of the response positions (checkpointed: one chunk).
    pub logits: f64,
    pub overhead: f64,
}

impl Memory {
    pub fn total(&self) -> f64 {
        self.state + self.activations + self.logits + self.overhead
    }
}

/// Bytes autograd keeps per token for one decoder layer in bf16, counted from the model's
/// operations: each RMSNorm keeps its f32 input (4H) and its bf16 output (2H); attention keeps the
/// rotated queries, keys and values repeated to every query head, its output and the `o_proj`
/// input (5 × 2·heads·head_dim, memory-efficient SDPA, no `T²` scores); the MLP keeps gate, up,
/// their activation and product (4 × 2I). Gemma-2 has four norms and eager soft-capped attention,
/// whose f32 scores, their tanh and softmax and the bf16 probabilities cost `10 · heads · T`
/// bytes per token (`t` = sequence length).
pub fn layer_bytes_per_token(shape: &ModelShape, t: u64) -> f64 {
    let (h, q, i) = (shape.hidden as f64, (shape.heads * shape.head_dim) as f64, shape.intermediate as f64);
    let norms = if shape.eager_attention { 4.0 } else { 2.0 };
    let scores = if shape.eager_attention { 10.0 * shape.heads as f64 * t as f64 } else { 0.0 };
    norms * 6.0 * h + 10.0 * q + 8.0 * i + scores
}

/// Memory of one training step of this project's trainer on one GPU: `rows` sequences
/// (chosen + rejected of the micro-batch) of `seq` tokens, every token counted as a response
/// token for the logits (the worst case a batch can hit).
pub fn single_gpu(shape: &ModelShape, mode: Mode, rows: u64, seq: u64) -> Memory {
    single_gpu_with(shape, mode, rows, seq, seq)
}

/// [`single_gpu`] with `response` of each row's `seq` tokens carrying log-probs (the logits are
/// computed there only).
pub fn single_gpu_with(shape: &ModelShape, mode: Mode, rows: u64, seq: u64, response: u64) -> Memory {
    let n = shape.params() as f64;
    let tokens = (rows * seq) as f64;
    let logit_rows = (rows * response.min(seq)) as f64;
    let state = match mode {
        Mode::Full | Mode::FullCheckpointed => n * OURS_BF16_BYTES_PER_PARAM,
        Mode::Lora(r) | Mode::LoraCheckpointed(r) => n * FROZEN_BF16_BYTES_PER_PARAM + shape.lora_params(r) as f64 * OURS_BF16_BYTES_PER_PARAM,
    };
    let per_layer = layer_bytes_per_token(shape, seq) * tokens;
    let hidden_bf16 = tokens * shape.hidden as f64 * 2.0;
    let vocab = shape.vocab as f64;
    let (activations, logits) = if mode.checkpointed() {
        // Layer inputs, one layer recomputed, its input/output gradients; one logit chunk of at
        // most 2^28 values (f32 logits, their bf16 source and the gradient: 10 bytes per value).
        let chunk = (logit_rows * vocab).min((1u64 << 28) as f64);
        (shape.layers as f64 * hidden_bf16 + per_layer + 2.0 * hidden_bf16, chunk * 10.0)
    } else {
        // Every layer's activations; f32 logits kept for the backward pass, plus one chunk's
        // transient bf16 copy and exponentials.
        let chunk = (logit_rows * vocab).min((1u64 << 28) as f64);
        (shape.layers as f64 * per_layer + hidden_bf16, logit_rows * vocab * 4.0 + chunk * 6.0)
    };
    Memory { state: state / GIB, activations: activations / GIB, logits: logits / GIB, overhead: OVERHEAD_GIB }
}

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
    fn lora_params_of_llama3_8b_at_rank_16() {
        // PEFT reports 41,943,040 trainable parameters for Meta-Llama-3-8B with r = 16 on all seven projections.
        let s = ModelShape::known("meta-llama/Meta-Llama-3-8B").unwrap();
        assert_eq!(s.lora_params(16), 41_943_040);
    }

    #[test]
    fn checkpointing_and_lora_shrink_memory_in_the_expected_order() {
        let s = ModelShape::known("meta-llama/Meta-Llama-3-8B").unwrap();
        let m = |mode| single_gpu(&s, mode, 4, 2048).total();
        let (full, gc, lora, lora_gc) = (m(Mode::Full), m(Mode::FullCheckpointed), m(Mode::Lora(16)), m(Mode::LoraCheckpointed(16)));
        assert!(full > gc && gc > lora_gc && full > lora && lora > lora_gc, "{full} {gc} {lora} {lora_gc}");
        // 20 bytes/parameter of state alone (150 GiB) rules out full fine-tuning of 8B on 80 GB.
        assert!(single_gpu(&s, Mode::FullCheckpointed, 4, 2048).state > 140.0);
        // LoRA + checkpointing: ~15 GiB of bf16 weights plus a few GiB.
        assert!(lora_gc < 30.0, "{lora_gc}");
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
