//! The model config: the fields of a Hugging Face `config.json` that the Llama, Qwen2, Mistral
//! and Gemma-2 families share (plus Gemma-2's own), read with serde and checked before any tensor
//! is made.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `model_type`s this implementation covers.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["llama", "qwen2", "mistral", "gemma2"];

/// `rope_scaling` from `config.json` (`type` was the older spelling of `rope_type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeScaling {
    #[serde(alias = "type")]
    pub rope_type: String,
    #[serde(default = "one")]
    pub factor: f64,
    #[serde(default)]
    pub low_freq_factor: Option<f64>,
    #[serde(default)]
    pub high_freq_factor: Option<f64>,
    #[serde(default)]
    pub original_max_position_embeddings: Option<usize>,
    /// Only in the transformers-5 `rope_parameters` spelling, which carries the base too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
}

fn one() -> f64 {
    1.0
}

/// A token id field that HF writes either as one id or as a list of ids (`eos_token_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    One(i64),
    Many(Vec<i64>),
}

impl TokenIds {
    pub fn to_vec(&self) -> Vec<i64> {
        match self {
            TokenIds::One(i) => vec![*i],
            TokenIds::Many(v) => v.clone(),
        }
    }
}

/// A decoder-only model's shape and conventions, as in the Hugging Face `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Grouped-query attention; absent means one key/value head per query head.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Absent means `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    pub rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    /// transformers >= 5 writes `rope_theta` and `rope_scaling` together under this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_parameters: Option<RopeScaling>,
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Llama: bias on q, k, v and o. Qwen2 always has q/k/v bias (and no o bias) whatever this says.
    #[serde(default)]
    pub attention_bias: bool,
    /// Llama: bias on gate, up and down projections.
    #[serde(default)]
    pub mlp_bias: bool,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Mistral: keys further back than this are not attended to (None = full attention).
    #[serde(default)]
    pub sliding_window: Option<usize>,
    /// Qwen2: the sliding window is only used when this is true.
    #[serde(default)]
    pub use_sliding_window: bool,
    #[serde(default)]
    pub bos_token_id: Option<TokenIds>,
    #[serde(default)]
    pub eos_token_id: Option<TokenIds>,
    #[serde(default)]
    pub pad_token_id: Option<TokenIds>,
    /// Gemma-2: the MLP activation (`gelu_pytorch_tanh`); the other families use `hidden_act`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_activation: Option<String>,
    /// Gemma-2: attention scores are scaled by `query_pre_attn_scalar^-1/2` (not `head_dim^-1/2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_pre_attn_scalar: Option<f64>,
    /// Gemma-2: attention scores become `c·tanh(s/c)` before the softmax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attn_logit_softcapping: Option<f64>,
    /// Gemma-2: logits become `c·tanh(z/c)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_logit_softcapping: Option<f64>,
    /// Gemma-2: `sliding_attention` or `full_attention` per layer (absent: sliding on even layers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_types: Option<Vec<String>>,
}

/// What `Gemma2Config` in transformers assumes for fields a `config.json` leaves out.
const GEMMA2_DEFAULTS: &[(&str, fn() -> serde_json::Value)] = &[
    ("tie_word_embeddings", || serde_json::json!(true)),
    ("head_dim", || serde_json::json!(256)),
    ("hidden_activation", || serde_json::json!("gelu_pytorch_tanh")),
    ("query_pre_attn_scalar", || serde_json::json!(256)),
    ("attn_logit_softcapping", || serde_json::json!(50.0)),
    ("final_logit_softcapping", || serde_json::json!(30.0)),
    ("sliding_window", || serde_json::json!(4096)),
];

fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_act() -> String {
    "silu".into()
}

impl LlamaConfig {
    /// Read and validate a `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_str(&text, path)
    }

    /// Parse and validate config JSON text; `path` is only used in error messages.
    pub fn from_json_str(text: &str, path: &Path) -> Result<Self> {
        let err = |e: serde_json::Error| Error::Config {
            path: path.to_path_buf(),
            msg: format!("{e} (a Hugging Face config.json of a llama, qwen2, mistral or gemma2 model is expected)"),
        };
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(err)?;
        if let Some(obj) = value.as_object_mut().filter(|o| o.get("model_type").and_then(|t| t.as_str()) == Some("gemma2")) {
            for (key, default) in GEMMA2_DEFAULTS {
                obj.entry(key.to_string()).or_insert_with(default);
            }
        }
        let cfg: LlamaConfig = serde_json::from_value(value).map_err(err)?;
        cfg.validate().map_err(|e| match e {
            Error::Config { msg, .. } => Error::Config { path: path.to_path_buf(), msg },
            other => other,
        })?;
        Ok(cfg)
    }

    /// Check the config describes a model this implementation can build.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config { path: PathBuf::from("config.json"), msg });
        if !SUPPORTED_MODEL_TYPES.contains(&self.model_type.as_str()) {
            return bad(format!(
                "model_type {:?} is not supported (supported: {})",
                self.model_type,
                SUPPORTED_MODEL_TYPES.join(", ")
            ));
        }
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if v == 0 {
                return bad(format!("field `{name}` must be positive"));
            }
        }
        if self.head_dim.is_none() && self.hidden_size % self.num_attention_heads != 0 {
            return bad(format!(
                "hidden_size {} is not divisible by num_attention_heads {} (and no head_dim is given)",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.head_dim() % 2 != 0 {
            return bad(format!("head_dim {} must be even for rotary embeddings", self.head_dim()));
        }
        let kv = self.num_kv_heads();
        if kv == 0 || self.num_attention_heads % kv != 0 {
            return bad(format!(
                "num_key_value_heads {kv} must divide num_attention_heads {}",
                self.num_attention_heads
            ));
        }
        if !(self.rms_norm_eps > 0.0) {
            return bad("field `rms_norm_eps` must be positive".into());
        }
        if !(self.theta() > 0.0) {
            return bad("field `rope_theta` must be positive".into());
        }
        match (self.is_gemma2(), self.activation()) {
            (false, "silu") | (true, "gelu_pytorch_tanh" | "gelu_tanh") => {}
            (gemma, act) => {
                let (field, want) = if gemma { ("hidden_activation", "\"gelu_pytorch_tanh\"") } else { ("hidden_act", "\"silu\"") };
                return bad(format!("{field} {act:?} is not supported for {} (only {want})", self.model_type));
            }
        }
        if self.is_gemma2() {
            let ok = |v: Option<f64>| v.map_or(true, |c| c > 0.0);
            if !ok(self.attn_logit_softcapping) || !ok(self.final_logit_softcapping) || !ok(self.query_pre_attn_scalar) {
                return bad("gemma2: query_pre_attn_scalar and the softcapping values must be positive".into());
            }
            if let Some(t) = &self.layer_types {
                if t.len() != self.num_hidden_layers || t.iter().any(|x| x != "sliding_attention" && x != "full_attention") {
                    return bad(format!("gemma2: layer_types needs {} entries, each sliding_attention or full_attention", self.num_hidden_layers));
                }
            }
        }
        if let Some(rs) = self.scaling() {
            match rs.rope_type.as_str() {
                "default" => {}
                "linear" if rs.factor > 0.0 => {}
                "llama3" => {
                    let ok = rs.factor > 0.0
                        && rs.low_freq_factor.is_some()
                        && rs.high_freq_factor.is_some()
                        && rs.original_max_position_embeddings.is_some()
                        && rs.high_freq_factor != rs.low_freq_factor;
                    if !ok {
                        return bad("rope_scaling of type llama3 needs factor, low_freq_factor, high_freq_factor (different) and original_max_position_embeddings".into());
                    }
                }
                other => {
                    return bad(format!(
                        "rope_scaling type {other:?} is not supported (supported: default, linear, llama3)"
                    ))
                }
            }
        }
        Ok(())
    }

    /// The rotary base, from `rope_parameters` when present, else `rope_theta`.
    pub fn theta(&self) -> f64 {
        self.rope_parameters.as_ref().and_then(|r| r.rope_theta).unwrap_or(self.rope_theta)
    }

    /// The rotary scaling, from `rope_scaling` or (transformers 5) `rope_parameters`.
    pub fn scaling(&self) -> Option<&RopeScaling> {
        self.rope_scaling.as_ref().or(self.rope_parameters.as_ref()).filter(|r| r.rope_type != "default")
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    pub fn num_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Whether q, k, v (and o) projections carry a bias: (qkv, o).
    pub fn attention_biases(&self) -> (bool, bool) {
        if self.model_type == "qwen2" {
            (true, false)
        } else {
            (self.attention_bias, self.attention_bias)
        }
    }

    /// The attention window, if this family uses one on every layer (Mistral, Qwen2 when enabled).
    pub fn effective_sliding_window(&self) -> Option<usize> {
        match self.model_type.as_str() {
            "mistral" => self.sliding_window,
            "qwen2" if self.use_sliding_window => self.sliding_window,
            _ => None,
        }
    }

    pub fn is_gemma2(&self) -> bool {
        self.model_type == "gemma2"
    }

    /// The MLP activation's Hugging Face name.
    pub fn activation(&self) -> &str {
        match (&self.hidden_activation, self.is_gemma2()) {
            (Some(a), true) => a,
            _ => &self.hidden_act,
        }
    }

    /// The attention window of layer `i`: Gemma-2 alternates sliding (even layers by default) and
    /// full attention; the other families use one window (or none) everywhere.
    pub fn layer_window(&self, i: usize) -> Option<usize> {
        if !self.is_gemma2() {
            return self.effective_sliding_window();
        }
        let sliding = match &self.layer_types {
            Some(t) => t.get(i).is_some_and(|x| x == "sliding_attention"),
            None => i % 2 == 0,
        };
        if sliding {
            self.sliding_window
        } else {
            None
        }
    }

    /// The attention-score scale when it is not `head_dim^-1/2` (Gemma-2's `query_pre_attn_scalar`).
    pub fn attention_scale(&self) -> Option<f64> {
        self.query_pre_attn_scalar.filter(|_| self.is_gemma2()).map(|s| s.powf(-0.5))
    }

    /// The end-of-sequence ids (possibly several, as in Llama-3 instruct configs).
    pub fn eos_ids(&self) -> Vec<i64> {
        self.eos_token_id.as_ref().map(|t| t.to_vec()).unwrap_or_default()
    }

    pub fn bos_id(&self) -> Option<i64> {
        self.bos_token_id.as_ref().and_then(|t| t.to_vec().first().copied())
    }

    pub fn pad_id(&self) -> Option<i64> {
        self.pad_token_id.as_ref().and_then(|t| t.to_vec().first().copied())
    }

    /// The rotary inverse frequencies (length `head_dim / 2`), with `rope_scaling` applied.
    pub fn rope_inv_freq(&self) -> Vec<f64> {
        let d = self.head_dim();
        let base: Vec<f64> =
            (0..d / 2).map(|i| 1.0 / self.theta().powf((2 * i) as f64 / d as f64)).collect();
        let Some(rs) = self.scaling() else { return base };
        match rs.rope_type.as_str() {
            "linear" => base.iter().map(|f| f / rs.factor).collect(),
            "llama3" => {
                // Llama-3.1 frequency-dependent scaling: long wavelengths are divided by `factor`,
                // short ones kept, the band between interpolated smoothly.
                let (lo, hi) = (rs.low_freq_factor.unwrap_or(1.0), rs.high_freq_factor.unwrap_or(4.0));
                let old = rs.original_max_position_embeddings.unwrap_or(8192) as f64;
                let (lo_wavelen, hi_wavelen) = (old / lo, old / hi);
                base.iter()
                    .map(|&f| {
                        let wavelen = 2.0 * std::f64::consts::PI / f;
                        if wavelen < hi_wavelen {
                            f
                        } else if wavelen > lo_wavelen {
                            f / rs.factor
                        } else {
                            let s = (old / wavelen - lo) / (hi - lo);
                            (1.0 - s) * f / rs.factor + s * f
                        }
                    })
                    .collect()
            }
            _ => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base_json() -> serde_json::Value {
        serde_json::json!({
            "model_type": "llama", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "rms_norm_eps": 1e-6, "max_position_embeddings": 128, "eos_token_id": [1, 2]
        })
    }

    fn parse(v: &serde_json::Value) -> Result<LlamaConfig> {
        LlamaConfig::from_json_str(&v.to_string(), Path::new("x/config.json"))
    }

    #[test]
    fn parses_defaults() {
        let c = parse(&base_json()).unwrap();
        assert_eq!(c.head_dim(), 8);
        assert_eq!(c.num_kv_heads(), 2);
        assert_eq!(c.rope_theta, 10_000.0);
        assert_eq!(c.eos_ids(), vec![1, 2]);
        assert!(!c.tie_word_embeddings);
    }

    #[test]
    fn rejects_unsupported_model_type() {
        let mut v = base_json();
        v["model_type"] = "gpt2".into();
        let e = parse(&v).unwrap_err().to_string();
        assert!(e.contains("x/config.json") && e.contains("gpt2") && e.contains("supported"), "{e}");
    }

    #[test]
    fn rejects_missing_field() {
        let mut v = base_json();
        v.as_object_mut().unwrap().remove("hidden_size");
        let e = parse(&v).unwrap_err().to_string();
        assert!(e.contains("x/config.json") && e.contains("hidden_size"), "{e}");
    }

    #[test]
    fn rejects_bad_gqa() {
        let mut v = base_json();
        v["num_key_value_heads"] = 3.into();
        assert!(parse(&v).unwrap_err().to_string().contains("num_key_value_heads"));
    }

    #[test]
    fn llama3_rope_scaling_matches_reference_values() {
        // Llama-3.1-8B settings; reference: transformers `_compute_llama3_parameters`
        // (high frequencies kept, lowest divided by 8).
        let mut v = base_json();
        v["hidden_size"] = 512.into();
        v["num_attention_heads"] = 4.into();
        v["rope_theta"] = 500000.0.into();
        v["rope_scaling"] = serde_json::json!({"rope_type": "llama3", "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192});
        let c = parse(&v).unwrap();
        let f = c.rope_inv_freq();
        let base = LlamaConfig { rope_scaling: None, ..c.clone() }.rope_inv_freq();
        assert_eq!(f[0], base[0]);
        let last = f.len() - 1;
        assert!((f[last] - base[last] / 8.0).abs() < 1e-15);
        // In between: bounded by the two extremes.
        for (a, b) in f.iter().zip(&base) {
            assert!(*a <= *b && *a >= b / 8.0 - 1e-18);
        }
        // The transformers-5 spelling gives the same frequencies.
        let mut v5 = v.clone();
        let mut rp = v5["rope_scaling"].clone();
        rp["rope_theta"] = 500000.0.into();
        v5["rope_parameters"] = rp;
        let o = v5.as_object_mut().unwrap();
        o.remove("rope_scaling");
        o.remove("rope_theta");
        assert_eq!(parse(&v5).unwrap().rope_inv_freq(), f);
    }
}
