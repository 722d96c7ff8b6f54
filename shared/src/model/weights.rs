//! Weights on disk: safetensors checkpoints (one file, or shards listed by
//! `model.safetensors.index.json`) loaded into a `VarStore` by name, and saved back atomically.
//!
//! Every tensor is converted to the dtype and device of the variable it fills. A tensor the model
//! lacks, a variable the files lack, a shape that differs, or a file that does not parse is an
//! error naming the file and tensor.

use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tch::{nn::VarStore, Kind, Tensor};

/// Tensors present in some checkpoints that carry nothing this implementation needs.
fn ignorable(name: &str, vs_has_lm_head: bool) -> bool {
    name.ends_with("rotary_emb.inv_freq") || (name == "lm_head.weight" && !vs_has_lm_head)
}

fn kind_of(d: Dtype) -> Option<Kind> {
    Some(match d {
        Dtype::F32 => Kind::Float,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::F64 => Kind::Double,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::I16 => Kind::Int16,
        Dtype::I8 => Kind::Int8,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        _ => return None,
    })
}

fn dtype_of(k: Kind) -> Option<Dtype> {
    Some(match k {
        Kind::Float => Dtype::F32,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Double => Dtype::F64,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Int16 => Dtype::I16,
        Kind::Int8 => Dtype::I8,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        _ => return None,
    })
}

/// The weight files of a model folder: `model.safetensors`, or the shards named by
/// `model.safetensors.index.json`.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        return shards_of_index(&index);
    }
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    Err(Error::invalid(
        dir.display().to_string(),
        "has neither model.safetensors nor model.safetensors.index.json; put the checkpoint's safetensors weights there (PyTorch .bin files are not read: convert with `model.save_pretrained(dir, safe_serialization=True)`)",
    ))
}

/// The distinct shard files named in an index's `weight_map`, each checked to exist.
pub fn shards_of_index(index: &Path) -> Result<Vec<PathBuf>> {
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: BTreeMap<String, String>,
    }
    let idx: Index = crate::io::read_json(index)?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let names: BTreeSet<&String> = idx.weight_map.values().collect();
    if names.is_empty() {
        return Err(Error::invalid(index.display().to_string(), "weight_map is empty"));
    }
    names
        .into_iter()
        .map(|n| {
            let p = dir.join(n);
            if p.exists() {
                Ok(p)
            } else {
                Err(Error::invalid(
                    index.display().to_string(),
                    format!("names shard {n:?}, which is not in {}; download every shard", dir.display()),
                ))
            }
        })
        .collect()
}

/// What a load did besides filling variables.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LoadReport {
    pub loaded: usize,
    /// Variables left at their initial values because the caller allowed it (e.g. a fresh reward head).
    pub left_initialised: Vec<String>,
    /// Checkpoint tensors skipped as harmless (rotary buffers, a tied output head).
    pub ignored: Vec<String>,
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::invalid(
        path.display().to_string(),
        format!("is not a readable safetensors file ({e}); it may be truncated or corrupt: download it again"),
    )
}

/// Fill every variable of `vs` from `files`. Variables named in `allow_missing` may be absent
/// from the files (they keep their initial values); every other mismatch is an error.
pub fn load_into(vs: &VarStore, files: &[PathBuf], allow_missing: &[&str]) -> Result<LoadReport> {
    let mut vars = vs.variables();
    let has_lm_head = vars.contains_key("lm_head.weight");
    let mut report = LoadReport::default();
    let mut extra = vec![];
    for path in files {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(path, e))?;
        let mut names = st.names();
        names.sort();
        for name in names {
            let Some(var) = vars.get_mut(name.as_str()) else {
                if ignorable(name, has_lm_head) {
                    report.ignored.push(name.clone());
                } else {
                    extra.push(name.clone());
                }
                continue;
            };
            let view = st.tensor(name).map_err(|e| corrupt(path, e))?;
            let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            if shape != var.size() {
                return Err(Error::invalid(
                    format!("{}: tensor {name}", path.display()),
                    format!("has shape {shape:?} but config.json implies {:?}; do config.json and the weights belong together?", var.size()),
                ));
            }
            let kind = kind_of(view.dtype()).ok_or_else(|| {
                Error::invalid(format!("{}: tensor {name}", path.display()), format!("has unsupported dtype {:?}", view.dtype()))
            })?;
            let t = Tensor::f_from_data_size(view.data(), &shape, kind)?
                .f_to_kind(var.kind())?
                .f_to_device(var.device())?;
            tch::no_grad(|| var.f_copy_(&t))?;
            report.loaded += 1;
        }
        vars.retain(|n, _| !st.names().contains(&n));
    }
    if !extra.is_empty() {
        return Err(Error::invalid(
            files.first().map(|p| p.display().to_string()).unwrap_or_default(),
            format!(
                "the checkpoint has {} tensor(s) the model does not ({}); is model_type in config.json right?",
                extra.len(),
                preview(&extra)
            ),
        ));
    }
    let mut missing: Vec<String> = vec![];
    for name in vars.into_keys() {
        if allow_missing.contains(&name.as_str()) {
            report.left_initialised.push(name);
        } else {
            missing.push(name);
        }
    }
    missing.sort();
    if !missing.is_empty() {
        return Err(Error::invalid(
            files.first().map(|p| p.display().to_string()).unwrap_or_default(),
            format!("the checkpoint lacks {} tensor(s) the model needs ({})", missing.len(), preview(&missing)),
        ));
    }
    report.left_initialised.sort();
    Ok(report)
}

fn preview(names: &[String]) -> String {
    let head: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    if names.len() > 5 {
        format!("{}, ...", head.join(", "))
    } else {
        head.join(", ")
    }
}

/// Write every variable of `vs` to one safetensors file, atomically.
pub fn save(vs: &VarStore, path: &Path) -> Result<()> {
    let vars = vs.variables();
    let mut bufs: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![];
    for (name, t) in vars {
        let t = t.to_device(tch::Device::Cpu).contiguous();
        let dtype = dtype_of(t.kind())
            .ok_or_else(|| Error::invalid(format!("variable {name}"), format!("dtype {:?} cannot be saved", t.kind())))?;
        let numel = t.numel();
        let mut buf = vec![0u8; numel * t.kind().elt_size_in_bytes()];
        t.f_copy_data_u8(&mut buf, numel)?;
        let shape = t.size().iter().map(|&d| d as usize).collect();
        bufs.push((name, dtype, shape, buf));
    }
    let views = bufs
        .iter()
        .map(|(n, d, s, b)| Ok((n.as_str(), safetensors::tensor::TensorView::new(*d, s.clone(), b).map_err(|e| Error::Other(e.to_string()))?)))
        .collect::<Result<Vec<_>>>()?;
    // `format: pt` metadata: transformers 4.x refuses safetensors files without it.
    let meta = Some(std::collections::HashMap::from([("format".to_string(), "pt".to_string())]));
    let bytes = safetensors::serialize(views, &meta).map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    crate::io::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Llama, LlamaConfig};
    use tch::Device;

    fn cfg() -> LlamaConfig {
        serde_json::from_value(serde_json::json!({
            "model_type": "llama", "vocab_size": 20, "hidden_size": 8, "intermediate_size": 16,
            "num_hidden_layers": 1, "num_attention_heads": 2, "rms_norm_eps": 1e-6, "max_position_embeddings": 16
        }))
        .unwrap()
    }

    fn model(seed: i64) -> (VarStore, Llama) {
        tch::manual_seed(seed);
        let vs = VarStore::new(Device::Cpu);
        let m = Llama::new(&vs.root(), &cfg()).unwrap();
        (vs, m)
    }

    #[test]
    fn save_then_load_round_trips_and_converts_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let (vs, _) = model(1);
        save(&vs, &path).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(meta.metadata().as_ref().and_then(|m| m.get("format")).map(String::as_str), Some("pt"));
        let (mut vs2, _) = model(2);
        let r = load_into(&vs2, &weight_files(dir.path()).unwrap(), &[]).unwrap();
        assert_eq!(r.loaded, vs.variables().len());
        for (n, t) in vs.variables() {
            assert!(t.equal(&vs2.variables()[&n]), "{n}");
        }
        vs2.bfloat16();
        load_into(&vs2, &[path], &[]).unwrap();
        assert_eq!(vs2.variables()["model.norm.weight"].kind(), Kind::BFloat16);
    }

    #[test]
    fn truncated_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let (vs, _) = model(1);
        save(&vs, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let e = load_into(&vs, &[path], &[]).unwrap_err().to_string();
        assert!(e.contains("model.safetensors") && e.contains("truncated or corrupt"), "{e}");
    }

    #[test]
    fn missing_extra_and_misshaped_tensors_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let (vs, _) = model(1);
        // Missing: a file with everything but one tensor.
        let full = vs.variables();
        let keep: Vec<(String, Tensor)> = full.iter().filter(|(n, _)| *n != "model.norm.weight").map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
        Tensor::write_safetensors(&keep, &path).unwrap();
        let e = load_into(&vs, &[path.clone()], &[]).unwrap_err().to_string();
        assert!(e.contains("lacks 1 tensor") && e.contains("model.norm.weight"), "{e}");
        let r = load_into(&vs, &[path.clone()], &["model.norm.weight"]).unwrap();
        assert_eq!(r.left_initialised, vec!["model.norm.weight".to_string()]);
        // Extra.
        let mut more: Vec<(String, Tensor)> = full.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
        more.push(("score.weight".into(), Tensor::zeros([1, 8], (Kind::Float, Device::Cpu))));
        more.push(("model.layers.0.self_attn.rotary_emb.inv_freq".into(), Tensor::zeros([2], (Kind::Float, Device::Cpu))));
        Tensor::write_safetensors(&more, &path).unwrap();
        let e = load_into(&vs, &[path.clone()], &[]).unwrap_err().to_string();
        assert!(e.contains("score.weight") && !e.contains("inv_freq"), "{e}");
        // Misshaped.
        let mut bad: Vec<(String, Tensor)> = full.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
        for (n, t) in bad.iter_mut() {
            if n == "model.norm.weight" {
                *t = Tensor::ones([9], (Kind::Float, Device::Cpu));
            }
        }
        Tensor::write_safetensors(&bad, &path).unwrap();
        let e = load_into(&vs, &[path], &[]).unwrap_err().to_string();
        assert!(e.contains("model.norm.weight") && e.contains("[9]") && e.contains("[8]"), "{e}");
    }

    #[test]
    fn shard_index_names_missing_shards() {
        let dir = tempfile::tempdir().unwrap();
        let idx = dir.path().join("model.safetensors.index.json");
        std::fs::write(&idx, r#"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#).unwrap();
        std::fs::write(dir.path().join("model-00001-of-00002.safetensors"), b"").unwrap();
        let e = weight_files(dir.path()).unwrap_err().to_string();
        assert!(e.contains("model-00002-of-00002.safetensors"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        assert!(weight_files(empty.path()).unwrap_err().to_string().contains("model.safetensors"));
    }
}
