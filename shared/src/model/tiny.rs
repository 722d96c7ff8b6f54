//! Tiny models for tests and benchmarks: a Llama-family config from a handful of sizes, and
//! weights drawn from a seeded Rust RNG.
//!
//! Why not `tch::manual_seed`: cargo runs tests as threads of one process, and libtorch's global
//! generator is shared by all of them, so another test drawing from it between the seed and the
//! initialisation changes the weights (a flake that looks like a numerical bug).

use super::{Llama, LlamaConfig};
use rand::{Rng, SeedableRng};
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// A complete config: `model_type`, vocabulary, hidden size, MLP size, layers, heads (kv heads =
/// heads), RoPE defaults, `max_position_embeddings` 64, untied embeddings. For `gemma2`: GeGLU,
/// tied embeddings, soft-caps 2 (scores) and 3 (logits) so both are active, a 3-token window on
/// the even layers, `query_pre_attn_scalar` 12.
pub fn config(model_type: &str, vocab: usize, hidden: usize, intermediate: usize, layers: usize, heads: usize) -> LlamaConfig {
    let mut v = serde_json::json!({
        "model_type": model_type, "vocab_size": vocab, "hidden_size": hidden,
        "intermediate_size": intermediate, "num_hidden_layers": layers, "num_attention_heads": heads,
        "rms_norm_eps": 1e-6, "max_position_embeddings": 64
    });
    if model_type == "gemma2" {
        let extra = serde_json::json!({
            "head_dim": hidden / heads, "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 12,
            "attn_logit_softcapping": 2.0, "final_logit_softcapping": 3.0, "sliding_window": 3, "tie_word_embeddings": true
        });
        for (k, x) in extra.as_object().expect("an object") {
            v[k] = x.clone();
        }
    }
    LlamaConfig::from_json_str(&v.to_string(), std::path::Path::new("<tiny config>")).expect("a complete tiny config")
}

/// Overwrite every matrix of `vs` with uniform(-scale, scale) draws from a ChaCha RNG seeded by
/// `seed`, in variable-name order (vectors, i.e. norms and biases, keep their initial values).
pub fn init_seeded(vs: &VarStore, seed: u64, scale: f32) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (_, mut v) in vars.into_iter().filter(|(_, v)| v.dim() == 2) {
            let vals: Vec<f32> = (0..v.numel()).map(|_| rng.gen_range(-scale..scale)).collect();
            v.copy_(&Tensor::from_slice(&vals).view(v.size().as_slice()));
        }
    });
}

/// A CPU model for `cfg` with seeded weights ([`init_seeded`], scale 0.2).
pub fn model(cfg: &LlamaConfig, seed: u64) -> (VarStore, Llama) {
    let vs = VarStore::new(Device::Cpu);
    let m = Llama::new(&vs.root(), cfg).expect("a valid tiny config");
    init_seeded(&vs, seed, 0.2);
    (vs, m)
}
