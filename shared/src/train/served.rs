//! On-policy samples from an OpenAI-compatible server instead of in-process generation (vLLM
//! at paper scale, `cargo xtask serve` in miniature): [`Served`] wraps a [`GroupAnnotator`];
//! at the start of iteration t it writes π_t as a servable checkpoint folder, has the
//! [`Sampler`] load it (a [`ManagedServer`](crate::api::sampler::ManagedServer) restarts its
//! server on it), samples K responses per prompt through the API, and scores and pairs them
//! exactly as in-process samples are. Training stays in this process, on the one engine.

use super::iterate::{Annotation, Annotator, GroupAnnotator, IterationRecord, Trained};
use crate::api::sampler::Sampler;
use crate::error::{Error, Result};
use crate::model::{Llama, LlamaConfig};
use std::path::{Path, PathBuf};

/// What a server needs besides the weights, and where the loop keeps π_t's weights.
pub struct Servable {
    /// The policy's architecture, written as `config.json`.
    pub config: LlamaConfig,
    /// `tokenizer.json` (and `tokenizer_config.json`, which carries the chat template).
    pub tokenizer_json: String,
    pub tokenizer_config: Option<String>,
    /// π_0's `model.safetensors`.
    pub initial: PathBuf,
    /// The loop's `out_dir`: π_t (t ≥ 1) is the iterate it saved as `iter-t/model.safetensors`.
    pub run_dir: PathBuf,
}

impl Servable {
    /// The weights of π_t (0-based t: π_0 is the initial model).
    pub fn weights(&self, t: usize) -> PathBuf {
        if t == 0 {
            self.initial.clone()
        } else {
            self.run_dir.join(format!("iter-{t}/model.safetensors"))
        }
    }

    /// Write π_t as `run_dir/iter-{t+1}/policy/` (config, tokenizer, weights) and return the
    /// folder. The weights are hard-linked when the file system allows, else copied; every file
    /// lands atomically, so a server never loads a half-written one.
    pub fn write(&self, t: usize) -> Result<PathBuf> {
        let weights = self.weights(t);
        if !weights.exists() {
            return Err(Error::invalid(format!("servable checkpoint of π_{t}"), format!("{} does not exist (the loop saves each iterate there)", weights.display())));
        }
        let dir = self.run_dir.join(format!("iter-{}/policy", t + 1));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        crate::io::write_json(&dir.join("config.json"), &self.config)?;
        crate::io::write_atomic(&dir.join("tokenizer.json"), self.tokenizer_json.as_bytes())?;
        if let Some(t) = &self.tokenizer_config {
            crate::io::write_atomic(&dir.join("tokenizer_config.json"), t.as_bytes())?;
        }
        link_or_copy(&weights, &dir.join("model.safetensors"))?;
        Ok(dir)
    }
}

fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("safetensors.tmp");
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(from, &tmp).is_err() {
        std::fs::copy(from, &tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, to).map_err(|e| Error::io(to, e))
}

/// A [`GroupAnnotator`] whose samples come from a server serving π_t.
pub struct Served<D, S> {
    pub inner: GroupAnnotator<D, S>,
    pub sampler: Box<dyn Sampler>,
    pub servable: Servable,
}

impl<D, S> Annotator for Served<D, S>
where
    D: Fn(&[i64]) -> String,
    S: FnMut(usize, usize, &[String]) -> Result<Vec<f64>>,
{
    fn annotate(&mut self, t: usize, _policy: &Llama) -> Result<Annotation> {
        let dir = self.servable.write(t)?;
        self.sampler.load(&dir)?;
        let gen = self.inner.gen_for(t);
        let groups = self.sampler.sample(self.inner.prompts_for(t)?, self.inner.samples, &gen)?;
        let samples = groups.into_iter().map(|g| g.into_iter().map(|s| s.tokens).collect()).collect();
        self.inner.pair(t, samples)
    }
    fn evaluate(&mut self, t: usize, policy: &Llama, trained: &Trained) -> Result<serde_json::Value> {
        self.inner.evaluate(t, policy, trained)
    }
    fn loaded(&mut self, t: usize, policy: &Llama, record: &IterationRecord) -> Result<()> {
        self.inner.loaded(t, policy, record)
    }
}
