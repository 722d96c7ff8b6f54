//! The decoder-only transformer of the Llama, Qwen2 and Mistral families, in one file:
//! RMSNorm, rotary position embeddings (with Llama-3 scaling), grouped-query attention,
//! a SwiGLU MLP, and tied or untied output embeddings.
//!
//! Gemma-2 is the same skeleton with five differences, each marked `Gemma-2:` below: RMSNorm
//! scales by `1 + w`; the embedding is multiplied by `sqrt(hidden_size)`; each block has four
//! norms (around attention and around the MLP, "sandwich" norms) and a GeGLU (tanh-GELU) MLP;
//! attention scores are scaled by `query_pre_attn_scalar^-1/2` and soft-capped (`c·tanh(s/c)`),
//! with a sliding window on alternate layers; the final logits are soft-capped.
//!
//! Variable names follow the Hugging Face checkpoints exactly (`model.layers.0.self_attn.q_proj.weight`,
//! ...), so a safetensors file loads into the `VarStore` by name.
//!
//! Padding: `attention_mask` (1 = real token, 0 = pad) hides pad keys, and positions are counted
//! over real tokens only (`cumsum(mask) - 1`), so a left- or right-padded sequence gets the same
//! logits at its real tokens as the same sequence unpadded. (Transformers' plain `forward` uses
//! `0..T` positions; its `generate` uses the cumsum rule, as here.)

use super::config::LlamaConfig;
use crate::error::{Error, Result};
use tch::nn::{self, Init, Module};
use tch::{Device, Kind, Tensor};

/// Root-mean-square layer norm: `w * x / sqrt(mean(x^2) + eps)`, computed in f32.
#[derive(Debug)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
    /// Gemma-2: the scale is `1 + w` (weights stored as offsets from one, initialised to zero),
    /// applied in f32 before casting back.
    one_plus: bool,
}

impl RmsNorm {
    pub fn new(p: nn::Path, size: usize, eps: f64) -> Self {
        Self { weight: p.var("weight", &[size as i64], Init::Const(1.0)), eps, one_plus: false }
    }

    fn gemma(p: nn::Path, size: usize, eps: f64) -> Self {
        Self { weight: p.var("weight", &[size as i64], Init::Const(0.0)), eps, one_plus: true }
    }

    fn for_config(p: nn::Path, cfg: &LlamaConfig) -> Self {
        if cfg.is_gemma2() {
            Self::gemma(p, cfg.hidden_size, cfg.rms_norm_eps)
        } else {
            Self::new(p, cfg.hidden_size, cfg.rms_norm_eps)
        }
    }
}

impl Module for RmsNorm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let kind = x.kind();
        let xf = x.to_kind(Kind::Float);
        let var = xf.pow_tensor_scalar(2).mean_dim(-1, true, Kind::Float);
        let normed = xf * (var + self.eps).rsqrt();
        if self.one_plus {
            (normed * (self.weight.to_kind(Kind::Float) + 1.0)).to_kind(kind)
        } else {
            &self.weight * normed.to_kind(kind)
        }
    }
}

/// A linear layer (HF `nn.Linear`: `y = x Wᵀ + b`) with an optional LoRA adapter
/// (`y += scaling · (x Aᵀ) Bᵀ`, PEFT's `lora.Linear`; see [`super::lora`]).
#[derive(Debug)]
pub struct Linear {
    pub base: nn::Linear,
    pub lora: Option<LoraAdapter>,
}

/// One LoRA adapter: `A` `[r, in]`, `B` `[out, r]` (PEFT's `lora_A.weight`, `lora_B.weight`) and
/// `scaling = lora_alpha / r` (or `/ sqrt(r)` with rsLoRA). The adapter runs in its own dtype
/// (f32 beside a bf16 base, as PEFT keeps it) and its output is cast to the base output's dtype.
#[derive(Debug)]
pub struct LoraAdapter {
    pub a: Tensor,
    pub b: Tensor,
    pub scaling: f64,
}

impl Linear {
    pub fn in_features(&self) -> i64 {
        self.base.ws.size()[1]
    }
    pub fn out_features(&self) -> i64 {
        self.base.ws.size()[0]
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        let y = self.base.forward(x);
        match &self.lora {
            None => y,
            Some(l) => {
                let z = x.to_kind(l.a.kind()).linear::<Tensor>(&l.a, None).linear::<Tensor>(&l.b, None) * l.scaling;
                let kind = y.kind();
                y + z.to_kind(kind)
            }
        }
    }
}

/// Initialisation as in transformers (`initializer_range` 0.02), so models trained from scratch
/// start where the Python ones do.
fn linear(p: nn::Path, i: usize, o: usize, bias: bool) -> Linear {
    let cfg = nn::LinearConfig {
        ws_init: Init::Randn { mean: 0.0, stdev: 0.02 },
        bs_init: Some(Init::Const(0.0)),
        bias,
    };
    Linear { base: nn::linear(p, i as i64, o as i64, cfg), lora: None }
}

#[derive(Debug)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    n_heads: i64,
    n_kv_heads: i64,
    head_dim: i64,
    /// Gemma-2: the score scale (else `head_dim^-1/2`) and the score soft-cap.
    scale: Option<f64>,
    softcap: Option<f64>,
}

/// `rotate_half` of the HF implementation: `[x1, x2] -> [-x2, x1]` on the last dim.
fn rotate_half(x: &Tensor) -> Tensor {
    let half = x.size().last().copied().unwrap_or(0) / 2;
    let x1 = x.narrow(-1, 0, half);
    let x2 = x.narrow(-1, half, half);
    Tensor::cat(&[x2.neg(), x1], -1)
}

impl Attention {
    fn new(p: nn::Path, cfg: &LlamaConfig) -> Self {
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (nh, nkv) = (cfg.num_attention_heads, cfg.num_kv_heads());
        let (qkv_bias, o_bias) = cfg.attention_biases();
        let softcap = cfg.attn_logit_softcapping.filter(|_| cfg.is_gemma2());
        Self {
            q_proj: linear(&p / "q_proj", h, nh * hd, qkv_bias),
            k_proj: linear(&p / "k_proj", h, nkv * hd, qkv_bias),
            v_proj: linear(&p / "v_proj", h, nkv * hd, qkv_bias),
            o_proj: linear(&p / "o_proj", nh * hd, h, o_bias),
            n_heads: nh as i64,
            n_kv_heads: nkv as i64,
            head_dim: hd as i64,
            scale: cfg.attention_scale(),
            softcap,
        }
    }

    /// `x` [B,t,H]; `cos`/`sin` [B,1,t,D]; `allowed` [B,1,t,S] bool; `past` the cached (k, v).
    fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        allowed: &Tensor,
        past: &mut Option<(Tensor, Tensor)>,
    ) -> Tensor {
        let (b, t, _) = x.size3().expect("hidden states are [B,T,H]");
        let heads = |y: Tensor, n: i64| y.view([b, t, n, self.head_dim]).transpose(1, 2);
        let q = heads(self.q_proj.forward(x), self.n_heads);
        let k = heads(self.k_proj.forward(x), self.n_kv_heads);
        let v = heads(self.v_proj.forward(x), self.n_kv_heads);
        let q = &q * cos + rotate_half(&q) * sin;
        let k = &k * cos + rotate_half(&k) * sin;
        let (k, v) = match past.take() {
            Some((pk, pv)) => (Tensor::cat(&[pk, k], 2), Tensor::cat(&[pv, v], 2)),
            None => (k, v),
        };
        *past = Some((k.shallow_clone(), v.shallow_clone()));
        // Grouped-query attention: each key/value head serves n_heads / n_kv_heads query heads.
        let rep = self.n_heads / self.n_kv_heads;
        let (k, v) = if rep > 1 {
            (k.repeat_interleave_self_int(rep, 1, None), v.repeat_interleave_self_int(rep, 1, None))
        } else {
            (k, v)
        };
        let y = match self.softcap {
            None => Tensor::scaled_dot_product_attention(&q, &k, &v, Some(allowed), 0.0, false, self.scale, false),
            // Gemma-2: scores soft-capped before masking, softmax in f32 (as transformers' eager path).
            Some(cap) => {
                let scale = self.scale.unwrap_or(1.0 / (self.head_dim as f64).sqrt());
                let scores = (q.matmul(&k.transpose(2, 3)) * scale / cap).tanh() * cap;
                let scores = scores.masked_fill(&allowed.logical_not(), f64::NEG_INFINITY);
                scores.softmax(-1, Kind::Float).to_kind(q.kind()).matmul(&v)
            }
        };
        self.o_proj.forward(&y.transpose(1, 2).reshape([b, t, self.n_heads * self.head_dim]))
    }
}

/// SwiGLU: `down(silu(gate(x)) * up(x))`.
#[derive(Debug)]
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
    /// Gemma-2: GeGLU with the tanh approximation of GELU instead of SiLU.
    gelu_tanh: bool,
}

impl Mlp {
    fn new(p: nn::Path, cfg: &LlamaConfig) -> Self {
        let (h, i, b) = (cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        Self {
            gate_proj: linear(&p / "gate_proj", h, i, b),
            up_proj: linear(&p / "up_proj", h, i, b),
            down_proj: linear(&p / "down_proj", i, h, b),
            gelu_tanh: cfg.is_gemma2(),
        }
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        let gate = self.gate_proj.forward(x);
        let act = if self.gelu_tanh { gate.gelu("tanh") } else { gate.silu() };
        self.down_proj.forward(&(act * self.up_proj.forward(x)))
    }
}

/// One decoder layer. Llama: `x += attn(input_ln(x)); x += mlp(post_attention_ln(x))`.
/// Gemma-2 (HF names): `x += post_attention_ln(attn(input_ln(x))); x += post_feedforward_ln(mlp(pre_feedforward_ln(x)))`.
#[derive(Debug)]
struct Block {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
    /// Gemma-2 only.
    pre_feedforward_layernorm: Option<RmsNorm>,
    post_feedforward_layernorm: Option<RmsNorm>,
    /// The attention window of this layer, if any.
    window: Option<usize>,
}

/// Per-layer keys and values of the tokens seen so far, plus their attention mask.
#[derive(Debug)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    mask: Option<Tensor>,
}

impl KvCache {
    pub fn new(num_layers: usize) -> Self {
        Self { layers: (0..num_layers).map(|_| None).collect(), mask: None }
    }
    /// Number of cached positions.
    pub fn len(&self) -> i64 {
        self.mask.as_ref().map(|m| m.size()[1]).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The decoder-only language model (`LlamaForCausalLM` and its Qwen2 / Mistral siblings).
#[derive(Debug)]
pub struct Llama {
    cfg: LlamaConfig,
    embed_tokens: nn::Embedding,
    layers: Vec<Block>,
    norm: RmsNorm,
    /// `None` when the output embedding is tied to `embed_tokens`.
    lm_head: Option<Linear>,
    inv_freq: Tensor,
    device: Device,
}

impl Llama {
    /// Build the model under the root path `p` (variables `model.*` and `lm_head.*`).
    pub fn new(p: &nn::Path, cfg: &LlamaConfig) -> Result<Self> {
        Self::build(p, cfg, true)
    }

    /// The transformer without its output head (no `lm_head.*`), for heads of other kinds
    /// (the reward model). Its [`Llama::logits`] are not meaningful.
    pub fn backbone(p: &nn::Path, cfg: &LlamaConfig) -> Result<Self> {
        Self::build(p, cfg, false)
    }

    fn build(p: &nn::Path, cfg: &LlamaConfig, with_head: bool) -> Result<Self> {
        cfg.validate()?;
        let m = p / "model";
        let emb_cfg = nn::EmbeddingConfig { ws_init: Init::Randn { mean: 0.0, stdev: 0.02 }, ..Default::default() };
        let embed_tokens = nn::embedding(&m / "embed_tokens", cfg.vocab_size as i64, cfg.hidden_size as i64, emb_cfg);
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let l = &m / "layers" / i;
                let gemma = cfg.is_gemma2();
                Block {
                    input_layernorm: RmsNorm::for_config(&l / "input_layernorm", cfg),
                    self_attn: Attention::new(&l / "self_attn", cfg),
                    post_attention_layernorm: RmsNorm::for_config(&l / "post_attention_layernorm", cfg),
                    mlp: Mlp::new(&l / "mlp", cfg),
                    pre_feedforward_layernorm: gemma.then(|| RmsNorm::for_config(&l / "pre_feedforward_layernorm", cfg)),
                    post_feedforward_layernorm: gemma.then(|| RmsNorm::for_config(&l / "post_feedforward_layernorm", cfg)),
                    window: cfg.layer_window(i),
                }
            })
            .collect();
        let norm = RmsNorm::for_config(&m / "norm", cfg);
        let lm_head = (with_head && !cfg.tie_word_embeddings).then(|| linear(p / "lm_head", cfg.hidden_size, cfg.vocab_size, false));
        let inv: Vec<f32> = cfg.rope_inv_freq().iter().map(|&f| f as f32).collect();
        let inv_freq = Tensor::from_slice(&inv).to_device(p.device());
        Ok(Self { cfg: cfg.clone(), embed_tokens, layers, norm, lm_head, inv_freq, device: p.device() })
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// A copy of this model, whose variables live in `vs`, in a new store on the same device and
    /// in the same dtype (a bf16 model's copy stays bf16): a fresh policy to train from a starting
    /// point, or a frozen reference. LoRA adapters are not copied (merge them first).
    pub fn copy_with(&self, vs: &nn::VarStore) -> Result<(nn::VarStore, Llama)> {
        let mut new_vs = nn::VarStore::new(vs.device());
        if let Some(kind) = float_kind(vs) {
            new_vs.set_kind(kind);
        }
        let model = Llama::new(&new_vs.root(), &self.cfg)?;
        new_vs.copy(vs).map_err(|e| Error::Other(format!("copying the model's weights: {e}")))?;
        Ok((new_vs, model))
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// Logits `[B,T,V]` for `input_ids` `[B,T]` (i64) under `attention_mask` `[B,T]` (1 real, 0 pad).
    /// An id outside `0..vocab_size` is an error naming it (libtorch would abort the process).
    pub fn forward(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        Ok(self.logits(&self.hidden_states(input_ids, attention_mask)?))
    }

    /// Final-norm hidden states `[B,T,H]`.
    pub fn hidden_states(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
        self.run(input_ids, attention_mask, None)
    }

    /// Logits for new tokens given a cache of earlier ones; the cache is extended in place.
    pub fn forward_cached(&self, input_ids: &Tensor, attention_mask: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        Ok(self.logits(&self.run(input_ids, attention_mask, Some(cache))?))
    }

    /// The output projection (tied or untied) applied to hidden states.
    pub fn logits(&self, hidden: &Tensor) -> Tensor {
        let z = match &self.lm_head {
            Some(head) => head.forward(hidden),
            None => hidden.linear::<Tensor>(&self.embed_tokens.ws, None),
        };
        match self.cfg.final_logit_softcapping.filter(|_| self.cfg.is_gemma2()) {
            // Gemma-2: logits soft-capped, c·tanh(z/c).
            Some(cap) => (z / cap).tanh() * cap,
            None => z,
        }
    }

    /// Check token ids lie inside the vocabulary (an id outside it would abort inside libtorch):
    /// one min/max reduction and one copy to the host.
    pub fn check_ids(&self, input_ids: &Tensor) -> Result<()> {
        if input_ids.numel() == 0 {
            return Ok(());
        }
        let ends = Tensor::stack(&[input_ids.min(), input_ids.max()], 0).to_kind(Kind::Int64).to_device(Device::Cpu);
        let (lo, hi) = (ends.int64_value(&[0]), ends.int64_value(&[1]));
        let vocab = self.cfg.vocab_size as i64;
        if let Some(bad) = [lo, hi].into_iter().find(|&id| id < 0 || id >= vocab) {
            return Err(Error::invalid(
                "token ids",
                format!(
                    "contain id {bad}, outside the model's vocabulary (vocab_size = {vocab}, ids 0..={}); is the tokenizer the model's own?",
                    vocab - 1
                ),
            ));
        }
        Ok(())
    }

    fn run(&self, input_ids: &Tensor, attention_mask: &Tensor, mut cache: Option<&mut KvCache>) -> Result<Tensor> {
        match (input_ids.size2(), attention_mask.size2()) {
            (Ok(ids), Ok(mask)) if ids == mask => {}
            _ => {
                return Err(Error::invalid(
                    "model input",
                    format!("input_ids {:?} and attention_mask {:?} must both be [B,T]", input_ids.size(), attention_mask.size()),
                ))
            }
        };
        self.check_ids(input_ids)?;
        let new_mask = attention_mask.to_device(self.device).ne(0).to_kind(Kind::Int64);
        let full_mask = match cache.as_ref().and_then(|c| c.mask.as_ref()) {
            Some(m) => Tensor::cat(&[m, &new_mask], 1),
            None => new_mask,
        };
        let mut x = self.embed(input_ids);
        let ctx = self.context(&full_mask, input_ids.size()[1], x.kind());
        for i in 0..self.layers.len() {
            let mut scratch = None;
            let past_kv = match cache.as_deref_mut() {
                Some(c) => &mut c.layers[i],
                None => &mut scratch,
            };
            x = self.block(i, &x, &ctx, past_kv);
        }
        if let Some(c) = cache {
            c.mask = Some(full_mask);
        }
        Ok(self.final_norm(&x))
    }

    /// Number of decoder layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// The token embeddings `[B,T,H]` of `input_ids` (Gemma-2: times `sqrt(hidden_size)`).
    pub(crate) fn embed(&self, input_ids: &Tensor) -> Tensor {
        let x = self.embed_tokens.forward(&input_ids.to_device(self.device));
        if self.cfg.is_gemma2() {
            // Gemma-2: embeddings times sqrt(hidden_size), the scalar rounded to the weights' dtype.
            let scale = Tensor::from((self.cfg.hidden_size as f64).sqrt()).to_kind(x.kind()).to_device(self.device);
            return x * scale;
        }
        x
    }

    /// What every layer of one forward pass shares: rotary cos/sin of the `t` new positions and one
    /// attention mask per distinct window, from the (cached + new) padding mask `full_mask` `[B,S]`.
    pub(crate) fn context(&self, full_mask: &Tensor, t: i64, kind: Kind) -> LayerContext {
        let dev = self.device;
        let b = full_mask.size()[0];
        let s = full_mask.size()[1];
        let past = s - t;
        // Positions count real tokens only, so padding never shifts them.
        let pos = (full_mask.cumsum(1, Kind::Int64) - 1).clamp_min(0).narrow(1, past, t);
        let freqs = pos.to_kind(Kind::Float).unsqueeze(-1) * self.inv_freq.view([1, 1, -1]);
        let emb = Tensor::cat(&[&freqs, &freqs], -1).unsqueeze(1); // [B,1,t,D]
        let (cos, sin) = (emb.cos().to_kind(kind), emb.sin().to_kind(kind));
        // allowed[b, 0, i, j]: query i (absolute past+i) may attend to key j.
        let qi = Tensor::arange_start(past, s, (Kind::Int64, dev)).view([t, 1]);
        let kj = Tensor::arange(s, (Kind::Int64, dev)).view([1, s]);
        let key_real = full_mask.ne(0).view([b, 1, 1, s]);
        // allowed under an optional window; a query always sees itself, so a pad query never has
        // an empty (NaN) softmax row.
        let mask_for = |window: Option<usize>| {
            let mut causal = kj.le_tensor(&qi);
            if let Some(w) = window {
                causal = causal.logical_and(&(&qi - &kj).lt(w as i64));
            }
            causal.unsqueeze(0).unsqueeze(0).logical_and(&key_real).logical_or(&kj.eq_tensor(&qi))
        };
        // One mask per distinct window (Gemma-2 alternates two; the others use one).
        let mut masks: Vec<(Option<usize>, Tensor)> = vec![];
        for layer in &self.layers {
            if !masks.iter().any(|(w, _)| *w == layer.window) {
                masks.push((layer.window, mask_for(layer.window)));
            }
        }
        LayerContext { cos, sin, masks }
    }

    /// Decoder layer `i` on hidden states `x` `[B,t,H]`; `past_kv` is its KV cache (or scratch).
    pub(crate) fn block(&self, i: usize, x: &Tensor, ctx: &LayerContext, past_kv: &mut Option<(Tensor, Tensor)>) -> Tensor {
        let layer = &self.layers[i];
        let allowed = &ctx.masks.iter().find(|(w, _)| *w == layer.window).expect("a mask per window").1;
        let h = layer.self_attn.forward(&layer.input_layernorm.forward(x), &ctx.cos, &ctx.sin, allowed, past_kv);
        match (&layer.pre_feedforward_layernorm, &layer.post_feedforward_layernorm) {
            (Some(pre), Some(post)) => {
                let x = x + layer.post_attention_layernorm.forward(&h);
                &x + post.forward(&layer.mlp.forward(&pre.forward(&x)))
            }
            _ => {
                let x = x + h;
                &x + layer.mlp.forward(&layer.post_attention_layernorm.forward(&x))
            }
        }
    }

    /// The final RMSNorm.
    pub(crate) fn final_norm(&self, x: &Tensor) -> Tensor {
        self.norm.forward(x)
    }

    /// Every linear layer with its Hugging Face module name (`model.layers.0.self_attn.q_proj`,
    /// ..., `lm_head` when untied), for adapters.
    pub fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut out = vec![];
        for (i, l) in self.layers.iter_mut().enumerate() {
            let a = &mut l.self_attn;
            let m = &mut l.mlp;
            for (name, lin) in [("self_attn.q_proj", &mut a.q_proj), ("self_attn.k_proj", &mut a.k_proj), ("self_attn.v_proj", &mut a.v_proj), ("self_attn.o_proj", &mut a.o_proj), ("mlp.gate_proj", &mut m.gate_proj), ("mlp.up_proj", &mut m.up_proj), ("mlp.down_proj", &mut m.down_proj)] {
                out.push((format!("model.layers.{i}.{name}"), lin));
            }
        }
        if let Some(h) = self.lm_head.as_mut() {
            out.push(("lm_head".to_string(), h));
        }
        out
    }
}

/// Per-forward constants shared by every layer (see [`Llama::context`]).
pub(crate) struct LayerContext {
    cos: Tensor,
    sin: Tensor,
    masks: Vec<(Option<usize>, Tensor)>,
}

/// The dtype of a store's floating-point variables (the first by name), if it has any.
pub fn float_kind(vs: &nn::VarStore) -> Option<Kind> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.is_floating_point()).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.first().map(|(_, t)| t.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny(model_type: &str, tie: bool) -> (nn::VarStore, Llama) {
        let cfg: LlamaConfig = serde_json::from_value(serde_json::json!({
            "model_type": model_type, "vocab_size": 50, "hidden_size": 32, "intermediate_size": 48,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "rms_norm_eps": 1e-6, "max_position_embeddings": 64, "tie_word_embeddings": tie
        }))
        .unwrap();
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = Llama::new(&vs.root(), &cfg).unwrap();
        (vs, m)
    }

    #[test]
    fn variable_names_match_hf() {
        let (vs, _) = tiny("qwen2", false);
        let vars = vs.variables();
        for name in [
            "model.embed_tokens.weight",
            "model.layers.1.self_attn.q_proj.weight",
            "model.layers.1.self_attn.q_proj.bias",
            "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.mlp.gate_proj.weight",
            "model.layers.0.input_layernorm.weight",
            "model.layers.0.post_attention_layernorm.weight",
            "model.norm.weight",
            "lm_head.weight",
        ] {
            assert!(vars.contains_key(name), "missing {name}");
        }
        assert!(!vars.contains_key("model.layers.0.self_attn.o_proj.bias"));
        assert_eq!(vars["model.layers.0.self_attn.k_proj.weight"].size(), vec![16, 32]);
        let (vs, _) = tiny("llama", true);
        assert!(!vs.variables().contains_key("lm_head.weight"));
    }

    #[test]
    fn padding_does_not_change_logits() {
        for ty in ["llama", "qwen2", "mistral"] {
            let (_vs, m) = tiny(ty, ty == "qwen2");
            let seq = [3i64, 7, 11, 2, 9];
            let alone = m.forward(&Tensor::from_slice(&seq).view([1, 5]), &Tensor::ones([1, 5], (Kind::Int64, Device::Cpu))).unwrap();
            // Right padding (row 0) and left padding (row 1).
            let ids = Tensor::from_slice(&[3i64, 7, 11, 2, 9, 0, 0, 0, 0, 3, 7, 11, 2, 9]).view([2, 7]);
            let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1]).view([2, 7]);
            let padded = m.forward(&ids, &mask).unwrap();
            let right = padded.get(0).narrow(0, 0, 5);
            let left = padded.get(1).narrow(0, 2, 5);
            let a = alone.get(0);
            assert!((&right - &a).abs().max().double_value(&[]) < 1e-5, "{ty} right padding");
            assert!((&left - &a).abs().max().double_value(&[]) < 1e-5, "{ty} left padding");
            assert_eq!(padded.isnan().any().int64_value(&[]), 0);
        }
    }

    #[test]
    fn causal_future_tokens_do_not_leak() {
        let (_vs, m) = tiny("llama", false);
        let one = Tensor::ones([1, 4], (Kind::Int64, Device::Cpu));
        let a = m.forward(&Tensor::from_slice(&[1i64, 2, 3, 4]).view([1, 4]), &one).unwrap();
        let b = m.forward(&Tensor::from_slice(&[1i64, 2, 3, 40]).view([1, 4]), &one).unwrap();
        let d = (a.narrow(1, 0, 3) - b.narrow(1, 0, 3)).abs().max().double_value(&[]);
        assert!(d < 1e-6);
        let d_last = (a.narrow(1, 3, 1) - b.narrow(1, 3, 1)).abs().max().double_value(&[]);
        assert!(d_last > 1e-6);
    }

    #[test]
    fn cached_forward_matches_full_forward() {
        let (_vs, m) = tiny("mistral", false);
        let ids = Tensor::from_slice(&[0i64, 5, 6, 7, 8, 9, 1, 2, 3, 4]).view([2, 5]);
        let mask = Tensor::from_slice(&[0i64, 1, 1, 1, 1, 1, 1, 1, 1, 1]).view([2, 5]);
        let full = m.forward(&ids, &mask).unwrap();
        let mut cache = KvCache::new(2);
        let first = m.forward_cached(&ids.narrow(1, 0, 3), &mask.narrow(1, 0, 3), &mut cache).unwrap();
        let rest = m.forward_cached(&ids.narrow(1, 3, 2), &mask.narrow(1, 3, 2), &mut cache).unwrap();
        assert_eq!(cache.len(), 5);
        let inc = Tensor::cat(&[first, rest], 1);
        // Row 0's pad query is meaningless; compare real positions.
        let d = (full.narrow(1, 1, 4) - inc.narrow(1, 1, 4)).abs().max().double_value(&[]);
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn a_copy_keeps_the_dtype_and_the_numbers() {
        let (mut vs, m) = tiny("llama", false);
        vs.bfloat16();
        let (copy_vs, copy) = m.copy_with(&vs).unwrap();
        for (name, t) in copy_vs.variables() {
            assert_eq!(t.kind(), Kind::BFloat16, "{name}");
            assert!(t.equal(&vs.variables()[&name]), "{name}");
        }
        let ids = Tensor::from_slice(&[1i64, 2, 3]).view([1, 3]);
        assert!(m.forward(&ids, &ids.ones_like()).unwrap().equal(&copy.forward(&ids, &ids.ones_like()).unwrap()));
        assert_eq!(float_kind(&copy_vs), Some(Kind::BFloat16));
    }

    #[test]
    fn out_of_vocab_ids_are_an_error() {
        let (_vs, m) = tiny("llama", false);
        let ones = Tensor::ones([1, 3], (Kind::Int64, Device::Cpu));
        for (bad, ids) in [(50, [1i64, 50, 2]), (-1, [1i64, -1, 2]), (1000, [1000i64, 0, 49])] {
            let ids = Tensor::from_slice(&ids).view([1, 3]);
            for e in [m.forward(&ids, &ones).unwrap_err(), m.forward_cached(&ids, &ones, &mut KvCache::new(2)).unwrap_err()] {
                let e = e.to_string();
                assert!(e.contains(&format!("id {bad}")) && e.contains("vocab_size = 50"), "{e}");
            }
        }
        // Every id in range, the largest included, is accepted.
        assert_eq!(m.forward(&Tensor::from_slice(&[0i64, 49, 3]).view([1, 3]), &ones).unwrap().size(), [1, 3, 50]);
        let e = m.forward(&Tensor::from_slice(&[1i64, 2]), &Tensor::from_slice(&[1i64, 1])).unwrap_err().to_string();
        assert!(e.contains("[B,T]"), "{e}");
    }
}
