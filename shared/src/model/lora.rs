//! LoRA adapters (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") in PEFT's
//! vocabulary and on-disk layout, so Hugging Face tools load what this project trains.
//!
//! A targeted linear layer `y = x Wᵀ` becomes `y = x Wᵀ + s · (x Aᵀ) Bᵀ` with `A` `[r, in]`,
//! `B` `[out, r]` and `s = lora_alpha / r` (`lora_alpha / √r` with rsLoRA). `A` starts as PEFT's
//! `kaiming_uniform_(a=√5)`, i.e. uniform in `±1/√in`, and `B` at zero, so a fresh adapter leaves
//! the model unchanged. The base weights stay frozen (`VarStore::freeze`); the adapters live in
//! their own f32 store, which is what the optimiser trains (16 bytes per adapter parameter).
//!
//! On disk (`PeftModel.save_pretrained` / `from_pretrained`):
//! - `adapter_config.json`: `peft_type = "LORA"`, `r`, `lora_alpha`, `target_modules`, ...;
//! - `adapter_model.safetensors`: `base_model.model.<module>.lora_A.weight` and `.lora_B.weight`
//!   for every targeted module (`<module>` = the HF name, e.g. `model.layers.0.self_attn.q_proj`).
//!
//! Supported: `target_modules` as a list of module names (matched as PEFT does: the full name, or
//! its last dotted components) or `"all-linear"` (every linear layer but the output head);
//! `bias = "none"`. Anything else PEFT can express (DoRA, rank/alpha patterns, regex targets,
//! `modules_to_save`, `fan_in_fan_out`) is a clear error, never a silently different model.

use super::llama::{Llama, LoraAdapter};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::nn::{Init, VarStore};
use tch::{Kind, Tensor};

/// The adapter settings (PEFT's `LoraConfig` fields this implementation supports).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank `r`.
    pub r: usize,
    /// `lora_alpha`; the scaling is `lora_alpha / r`.
    pub lora_alpha: f64,
    /// Module names (`q_proj`, `mlp.down_proj`, ...) or `["all-linear"]`.
    pub target_modules: Vec<String>,
    /// rsLoRA: scale by `lora_alpha / √r`.
    #[serde(default)]
    pub use_rslora: bool,
}

impl LoraConfig {
    /// PEFT's usual set for Llama-family models: every attention and MLP projection.
    pub fn all_projections(r: usize, lora_alpha: f64) -> Self {
        let t = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
        LoraConfig { r, lora_alpha, target_modules: t.iter().map(|s| s.to_string()).collect(), use_rslora: false }
    }

    pub fn validate(&self) -> Result<()> {
        if self.r == 0 {
            return Err(Error::invalid("lora: `r`", "the rank must be ≥ 1"));
        }
        if !(self.lora_alpha > 0.0 && self.lora_alpha.is_finite()) {
            return Err(Error::invalid("lora: `lora_alpha`", format!("must be positive, got {}", self.lora_alpha)));
        }
        if self.target_modules.is_empty() {
            return Err(Error::invalid("lora: `target_modules`", "names no module (e.g. [\"q_proj\", \"v_proj\"] or [\"all-linear\"])"));
        }
        Ok(())
    }

    pub fn scaling(&self) -> f64 {
        if self.use_rslora {
            self.lora_alpha / (self.r as f64).sqrt()
        } else {
            self.lora_alpha / self.r as f64
        }
    }

    /// Whether the linear layer called `module` (HF name) gets an adapter (PEFT's matching rule).
    pub fn targets(&self, module: &str) -> bool {
        self.target_modules.iter().any(|t| {
            if t == "all-linear" {
                module != "lm_head"
            } else {
                module == t || module.ends_with(&format!(".{t}"))
            }
        })
    }

    /// Parameters the adapters add to `model`.
    pub fn parameters(&self, model: &mut Llama) -> u64 {
        model.linears_mut().iter().filter(|(n, _)| self.targets(n)).map(|(_, l)| (self.r as i64 * (l.in_features() + l.out_features())) as u64).sum()
    }
}

/// Add fresh adapters (A uniform in ±1/√in, B = 0) to every targeted layer of `model`; their
/// variables are created in `lora_vs` under the module's HF name. Returns the number of layers.
pub fn attach(model: &mut Llama, lora_vs: &VarStore, cfg: &LoraConfig) -> Result<usize> {
    cfg.validate()?;
    let mut n = 0;
    let root = lora_vs.root();
    for (name, lin) in model.linears_mut() {
        if !cfg.targets(&name) {
            continue;
        }
        if lin.lora.is_some() {
            return Err(Error::invalid(format!("lora: module {name}"), "already has an adapter"));
        }
        let mut p = root.clone();
        for c in name.split('.') {
            p = p.sub(c);
        }
        let (i, o) = (lin.in_features(), lin.out_features());
        let bound = 1.0 / (i as f64).sqrt();
        let a = p.sub("lora_A").var("weight", &[cfg.r as i64, i], Init::Uniform { lo: -bound, up: bound });
        let b = p.sub("lora_B").var("weight", &[o, cfg.r as i64], Init::Const(0.0));
        lin.lora = Some(LoraAdapter { a, b, scaling: cfg.scaling() });
        n += 1;
    }
    if n == 0 {
        return Err(Error::invalid("lora: `target_modules`", format!("{:?} matches no linear layer of this model", cfg.target_modules)));
    }
    Ok(n)
}

/// The key PEFT writes for adapter variable `name` (`model.layers.0....lora_A.weight`).
fn peft_key(name: &str) -> String {
    format!("base_model.model.{name}")
}

/// Write `dir/adapter_config.json` and `dir/adapter_model.safetensors` as PEFT does, so
/// `PeftModel.from_pretrained(base, dir)` loads the adapter. `base_model` names the base model.
pub fn save_adapter(dir: &Path, lora_vs: &VarStore, cfg: &LoraConfig, base_model: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let config = serde_json::json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": cfg.r,
        "lora_alpha": cfg.lora_alpha,
        "lora_dropout": 0.0,
        "target_modules": cfg.target_modules,
        "use_rslora": cfg.use_rslora,
        "bias": "none",
        "fan_in_fan_out": false,
        "use_dora": false,
        "init_lora_weights": true,
        "inference_mode": true,
        "modules_to_save": null,
    });
    crate::io::write_json(&dir.join("adapter_config.json"), &config)?;
    let mut named: Vec<(String, Tensor)> = lora_vs.variables().into_iter().map(|(n, t)| (peft_key(&n), t.detach().to_device(tch::Device::Cpu).contiguous())).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let tmp = dir.join(format!(".adapter_model.{}.tmp", std::process::id()));
    Tensor::write_safetensors(&named, &tmp).map_err(|e| Error::invalid(tmp.display().to_string(), e.to_string()))?;
    let path = dir.join("adapter_model.safetensors");
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// Read a PEFT `adapter_config.json`, refusing settings this implementation does not reproduce.
pub fn read_adapter_config(path: &Path) -> Result<LoraConfig> {
    let v: serde_json::Value = crate::io::read_json(path)?;
    let bad = |field: &str, msg: String| Error::invalid(format!("{}: `{field}`", path.display()), msg);
    let s = |k: &str| v.get(k).and_then(|x| x.as_str());
    if s("peft_type") != Some("LORA") {
        return Err(bad("peft_type", format!("is {:?}; only LORA adapters are supported", v.get("peft_type"))));
    }
    let off = |k: &str| match v.get(k) {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => true,
        Some(serde_json::Value::Object(o)) => o.is_empty(),
        Some(serde_json::Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    for k in ["use_dora", "fan_in_fan_out", "modules_to_save", "rank_pattern", "alpha_pattern", "layers_to_transform", "layer_replication", "trainable_token_indices", "lora_bias", "target_parameters"] {
        if !off(k) {
            return Err(bad(k, format!("is {}; this implementation supports plain LoRA only", v[k])));
        }
    }
    if s("bias").is_some_and(|b| b != "none") {
        return Err(bad("bias", "only \"none\" is supported".into()));
    }
    let r = v.get("r").and_then(|x| x.as_u64()).ok_or_else(|| bad("r", "missing or not a positive integer".into()))? as usize;
    let lora_alpha = v.get("lora_alpha").and_then(|x| x.as_f64()).ok_or_else(|| bad("lora_alpha", "missing or not a number".into()))?;
    let target_modules = match v.get("target_modules") {
        Some(serde_json::Value::String(t)) if t == "all-linear" => vec![t.clone()],
        Some(serde_json::Value::String(t)) => return Err(bad("target_modules", format!("{t:?} is a regular expression; list the module names instead"))),
        Some(serde_json::Value::Array(a)) => a.iter().map(|x| x.as_str().map(String::from).ok_or_else(|| bad("target_modules", "must list strings".into()))).collect::<Result<_>>()?,
        _ => return Err(bad("target_modules", "missing".into())),
    };
    let use_rslora = v.get("use_rslora").and_then(|x| x.as_bool()).unwrap_or(false);
    let cfg = LoraConfig { r, lora_alpha, target_modules, use_rslora };
    cfg.validate()?;
    Ok(cfg)
}

/// Load a PEFT adapter folder into `model`: adapters are attached (variables in `lora_vs`) and
/// filled from `adapter_model.safetensors`; a missing, extra or misshaped tensor is an error.
pub fn load_adapter(dir: &Path, model: &mut Llama, lora_vs: &VarStore) -> Result<LoraConfig> {
    let cfg = read_adapter_config(&dir.join("adapter_config.json"))?;
    attach(model, lora_vs, &cfg)?;
    let path = dir.join("adapter_model.safetensors");
    if !path.exists() {
        return Err(Error::invalid(path.display().to_string(), "is missing (PEFT writes adapter_model.safetensors; a .bin adapter must be converted)"));
    }
    let named = Tensor::read_safetensors(&path).map_err(|e| Error::invalid(path.display().to_string(), format!("is not a readable safetensors file ({e})")))?;
    let mut vars = lora_vs.variables();
    for (key, t) in named {
        // PEFT writes `base_model.model.<module>.lora_A.weight` (older versions kept `.default`).
        let name = key.strip_prefix("base_model.model.").unwrap_or(&key).replace(".lora_A.default.", ".lora_A.").replace(".lora_B.default.", ".lora_B.");
        let Some(var) = vars.get_mut(&name) else {
            return Err(Error::invalid(format!("{}: tensor {key}", path.display()), "is not an adapter of a module adapter_config.json targets in this model"));
        };
        if t.size() != var.size() {
            return Err(Error::invalid(format!("{}: tensor {key}", path.display()), format!("has shape {:?}, the model needs {:?} (a different r or base model?)", t.size(), var.size())));
        }
        tch::no_grad(|| var.copy_(&t.to_kind(var.kind()).to_device(var.device())));
        vars.remove(&name);
    }
    if !vars.is_empty() {
        let mut missing: Vec<String> = vars.into_keys().collect();
        missing.sort();
        return Err(Error::invalid(path.display().to_string(), format!("lacks {} adapter tensor(s) (e.g. {})", missing.len(), peft_key(&missing[0]))));
    }
    Ok(cfg)
}

/// Fold every adapter into its base weight (`W ← W + s·B·A`, in W's dtype) and remove it, as
/// PEFT's `merge_and_unload`: the model then saves as a plain Hugging Face checkpoint.
pub fn merge(model: &mut Llama) -> usize {
    let mut n = 0;
    tch::no_grad(|| {
        for (_, lin) in model.linears_mut() {
            if let Some(l) = lin.lora.take() {
                let delta = l.b.to_kind(Kind::Float).matmul(&l.a.to_kind(Kind::Float)) * l.scaling;
                let mut w = lin.base.ws.shallow_clone();
                let merged = w.to_kind(Kind::Float) + delta;
                w.copy_(&merged);
                n += 1;
            }
        }
    });
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn targets_follow_peft_matching() {
        let c = LoraConfig::all_projections(4, 8.0);
        assert!(c.targets("model.layers.3.self_attn.q_proj") && c.targets("model.layers.0.mlp.down_proj"));
        assert!(!c.targets("lm_head"));
        let all = LoraConfig { target_modules: vec!["all-linear".into()], ..c.clone() };
        assert!(all.targets("model.layers.0.mlp.up_proj") && !all.targets("lm_head"));
        let dotted = LoraConfig { target_modules: vec!["self_attn.o_proj".into()], ..c.clone() };
        assert!(dotted.targets("model.layers.1.self_attn.o_proj") && !dotted.targets("model.layers.1.mlp.up_proj"));
        assert_eq!(c.scaling(), 2.0);
        assert_eq!(LoraConfig { use_rslora: true, ..c }.scaling(), 4.0);
    }

    #[test]
    fn a_fresh_adapter_changes_nothing_and_merging_equals_the_adapter() {
        let cfg = crate::model::tiny::config("llama", 30, 16, 32, 2, 2);
        let (mut vs, mut m) = crate::model::tiny::model(&cfg, 3);
        let ids = Tensor::from_slice(&[1i64, 5, 9, 2, 7]).view([1, 5]);
        let mask = ids.ones_like();
        let before = m.forward(&ids, &mask).unwrap();
        let lvs = VarStore::new(Device::Cpu);
        let lc = LoraConfig::all_projections(2, 4.0);
        assert_eq!(attach(&mut m, &lvs, &lc).unwrap(), 14);
        assert_eq!(lc.parameters(&mut m), lvs.variables().values().map(|t| t.numel() as u64).sum::<u64>());
        assert!(m.forward(&ids, &mask).unwrap().allclose(&before, 0.0, 0.0, false), "B = 0: a fresh adapter is a no-op");
        // Train-like change of B, then merge: the same logits without the adapter.
        tch::no_grad(|| {
            for (n, mut t) in lvs.variables() {
                if n.contains("lora_B") {
                    t.copy_(&(t.randn_like() * 0.3));
                }
            }
        });
        let adapted = m.forward(&ids, &mask).unwrap();
        assert!((&adapted - &before).abs().max().double_value(&[]) > 1e-3);
        vs.freeze();
        assert_eq!(merge(&mut m), 14);
        let merged = m.forward(&ids, &mask).unwrap();
        assert!((&merged - &adapted).abs().max().double_value(&[]) < 1e-5);
    }

    #[test]
    fn unsupported_peft_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("adapter_config.json");
        let base = serde_json::json!({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"], "bias": "none"});
        std::fs::write(&p, base.to_string()).unwrap();
        assert_eq!(read_adapter_config(&p).unwrap().r, 4);
        for (k, v) in [("use_dora", serde_json::json!(true)), ("bias", serde_json::json!("all")), ("target_modules", serde_json::json!(".*proj")), ("peft_type", serde_json::json!("IA3")), ("rank_pattern", serde_json::json!({"q_proj": 8}))] {
            let mut c = base.clone();
            c[k] = v;
            std::fs::write(&p, c.to_string()).unwrap();
            let e = read_adapter_config(&p).unwrap_err().to_string();
            assert!(e.contains(k) && e.contains("adapter_config.json"), "{k}: {e}");
        }
    }
}
