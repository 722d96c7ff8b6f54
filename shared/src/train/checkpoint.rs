//! Checkpoints: the model's `VarStore`, the optimiser's moments and the trainer's state (step,
//! data position, RNG seed, anything else as JSON), saved atomically and verified on load.
//!
//! Layout under a run's checkpoint folder:
//! ```text
//! ckpt/step-00000100/{model.safetensors, optim.safetensors, state.json}
//! ckpt/latest          "step-00000100"
//! ```
//! A step folder is written under a temporary name and renamed into place, then `latest` is
//! replaced atomically, so a crash leaves the previous checkpoint intact. `state.json` records the
//! SHA-256 of both tensor files; a truncated or altered file is a clear error on load, never a
//! silent resume from garbage. Older step folders beyond `keep` are removed.

use super::optim::AdamW;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tch::{nn::VarStore, Tensor};

/// What a trainer needs to continue exactly where it stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimiser steps taken.
    pub step: u64,
    /// Examples consumed so far (the position in the seeded data order).
    pub examples_seen: u64,
    /// The run's seed (data order and libtorch RNG are re-derived from it and the position).
    pub seed: u64,
    /// Trainer-specific extras (e.g. the config hash, best eval metric).
    #[serde(default)]
    pub extra: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    state: TrainState,
    model_sha256: String,
    optim_sha256: String,
}

/// SHA-256 of a file, streamed in 1 MiB reads (optimiser state at 8B parameters is ~96 GB: it is
/// never read into memory whole).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(|e| Error::io(path, e))?);
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path, e))?;
    Ok(format!("{:x}", h.finalize()))
}

fn torch_err(path: &Path, e: tch::TchError) -> Error {
    Error::invalid(path.display().to_string(), format!("{e}"))
}

/// Save a checkpoint for `state.step`; keep the newest `keep` step folders.
pub fn save(dir: &Path, vs: &VarStore, opt: &AdamW, state: &TrainState, keep: usize) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = format!("step-{:08}", state.step);
    let final_dir = dir.join(&name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let model = tmp.join("model.safetensors");
    vs.save(&model).map_err(|e| torch_err(&model, e))?;
    let optim = tmp.join("optim.safetensors");
    let named = opt.state_tensors();
    let refs: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    Tensor::write_safetensors(&refs, &optim).map_err(|e| torch_err(&optim, e))?;
    let manifest = Manifest { state: state.clone(), model_sha256: sha256_file(&model)?, optim_sha256: sha256_file(&optim)? };
    crate::io::write_json(&tmp.join("state.json"), &manifest)?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    crate::io::write_atomic(&dir.join("latest"), name.as_bytes())?;
    prune(dir, keep.max(1))?;
    Ok(final_dir)
}

fn prune(dir: &Path, keep: usize) -> Result<()> {
    let mut steps: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("step-")))
        .collect();
    steps.sort();
    while steps.len() > keep {
        let old = steps.remove(0);
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(())
}

/// The newest checkpoint folder, if `dir/latest` exists.
pub fn latest(dir: &Path) -> Result<Option<PathBuf>> {
    let pointer = dir.join("latest");
    if !pointer.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&pointer).map_err(|e| Error::io(&pointer, e))?;
    let step_dir = dir.join(name.trim());
    if !step_dir.is_dir() {
        return Err(Error::invalid(
            pointer.display().to_string(),
            format!("points to {name:?}, which is missing: delete {} to start over", dir.display()),
        ));
    }
    Ok(Some(step_dir))
}

/// Load a checkpoint folder into `vs` and `opt`; returns the saved [`TrainState`].
pub fn load(step_dir: &Path, vs: &mut VarStore, opt: &mut AdamW) -> Result<TrainState> {
    let corrupt = |what: &str| {
        Error::invalid(
            step_dir.display().to_string(),
            format!("corrupt checkpoint: {what}; delete this folder (and `latest`) to resume from an older one or start over"),
        )
    };
    let manifest: Manifest = crate::io::read_json(&step_dir.join("state.json")).map_err(|e| corrupt(&format!("state.json unreadable ({e})")))?;
    let model = step_dir.join("model.safetensors");
    let optim = step_dir.join("optim.safetensors");
    for (path, want) in [(&model, &manifest.model_sha256), (&optim, &manifest.optim_sha256)] {
        let got = sha256_file(path).map_err(|e| corrupt(&format!("{e}")))?;
        if &got != want {
            return Err(corrupt(&format!("{} does not match its recorded SHA-256", path.display())));
        }
    }
    vs.load(&model).map_err(|e| corrupt(&format!("model weights do not fit this model ({e})")))?;
    let named = Tensor::read_safetensors(&optim).map_err(|e| torch_err(&optim, e))?;
    opt.load_state_tensors(named, manifest.state.step, &optim.display().to_string())?;
    Ok(manifest.state)
}

#[cfg(test)]
mod tests {
    use super::super::optim::AdamWConfig;
    use super::*;
    use tch::{nn, Device, Kind};

    fn model() -> (VarStore, Tensor) {
        let vs = VarStore::new(Device::Cpu);
        let w = vs.root().var("w", &[3], nn::Init::Const(0.5));
        (vs, w)
    }

    fn train(w: &Tensor, opt: &mut AdamW, steps: usize) {
        for _ in 0..steps {
            opt.zero_grad();
            (w * Tensor::from_slice(&[1.0f32, -2.0, 3.0])).square().sum(Kind::Float).backward();
            opt.step(0.05).unwrap();
        }
    }

    #[test]
    fn resume_continues_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let (vs, w) = model();
        let mut opt = AdamW::new(&vs, AdamWConfig::default());
        train(&w, &mut opt, 3);
        let st = TrainState { step: 3, examples_seen: 12, seed: 7, extra: serde_json::json!({"k": 1}) };
        save(dir.path(), &vs, &opt, &st, 2).unwrap();
        train(&w, &mut opt, 2);
        let straight = w.copy();

        let (mut vs2, w2) = model();
        let mut opt2 = AdamW::new(&vs2, AdamWConfig::default());
        let got = load(&latest(dir.path()).unwrap().unwrap(), &mut vs2, &mut opt2).unwrap();
        assert_eq!(got, st);
        train(&w2, &mut opt2, 2);
        assert!(w2.allclose(&straight, 0.0, 0.0, false), "{w2:?} vs {straight:?}");
    }

    #[test]
    fn keeps_only_the_newest_and_detects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let (vs, _w) = model();
        let opt = AdamW::new(&vs, AdamWConfig::default());
        for step in [1, 2, 3] {
            save(dir.path(), &vs, &opt, &TrainState { step, examples_seen: 0, seed: 0, extra: Default::default() }, 2).unwrap();
        }
        assert!(!dir.path().join("step-00000001").exists());
        let last = latest(dir.path()).unwrap().unwrap();
        assert!(last.ends_with("step-00000003"));
        // Truncate the model file: loading must fail clearly.
        let f = last.join("model.safetensors");
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
        let (mut vs2, _) = model();
        let mut opt2 = AdamW::new(&vs2, AdamWConfig::default());
        let err = load(&last, &mut vs2, &mut opt2).unwrap_err().to_string();
        assert!(err.contains("corrupt checkpoint") && err.contains("SHA-256"), "{err}");
        std::fs::write(last.join("state.json"), b"{not json").unwrap();
        let err = load(&last, &mut vs2, &mut opt2).unwrap_err().to_string();
        assert!(err.contains("corrupt checkpoint") && err.contains("state.json"), "{err}");
    }

    #[test]
    fn streamed_hash_equals_the_whole_file_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("blob");
        // Larger than one read buffer, not a multiple of it.
        let bytes: Vec<u8> = (0..(3 << 20) + 12_345).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(sha256_file(&p).unwrap(), format!("{:x}", Sha256::digest(&bytes)));
        let e = sha256_file(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }

    #[test]
    fn checkpoint_of_another_model_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let (vs, _w) = model();
        let opt = AdamW::new(&vs, AdamWConfig::default());
        let p = save(dir.path(), &vs, &opt, &TrainState { step: 1, examples_seen: 0, seed: 0, extra: Default::default() }, 1).unwrap();
        let mut other = VarStore::new(Device::Cpu);
        let _ = other.root().var("u", &[2], nn::Init::Const(0.0));
        let mut opt2 = AdamW::new(&other, AdamWConfig::default());
        let err = load(&p, &mut other, &mut opt2).unwrap_err().to_string();
        assert!(err.contains("do not fit"), "{err}");
    }
}
