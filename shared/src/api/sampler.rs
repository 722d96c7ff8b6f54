//! Where the on-policy loop gets its samples: the [`Sampler`] interface, with an in-process
//! implementation (the live model, `model::generate`) and two over an OpenAI-compatible server
//! (a server someone runs: [`ServerSampler`]; a server this process starts on each iteration's
//! checkpoint and stops again, e.g. vLLM at paper scale: [`ManagedServer`]).
//!
//! The loop calls `load(checkpoint)` when the policy changes (a folder with `config.json`,
//! `tokenizer.json` and `model.safetensors`: [`save_servable_checkpoint`] writes one), then
//! `sample(prompt ids, k, decoding)`. Samples come back as token ids with the stop token
//! stripped, plus whether they ended on it, so the trainer can put the stop token back
//! (`train::onpolicy::with_stop`). Over HTTP the ids are exact: the request asks for
//! `return_tokens_as_token_ids` (vLLM's extension, also served by `serve`).

use super::client::{Client, ClientConfig};
use super::types::CompletionRequest;
use crate::error::{Error, Result};
use crate::model::generate::{generate, GenerateConfig};
use crate::model::{Llama, LlamaConfig};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// One sampled response.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// New tokens, stop token stripped.
    pub tokens: Vec<i64>,
    /// Ended on a stop token (false: cut at `max_new_tokens`).
    pub finished: bool,
}

pub trait Sampler {
    /// `k` samples for each prompt, grouped per prompt, in prompt order.
    fn sample(&mut self, prompts: &[Vec<i64>], k: usize, gen: &GenerateConfig) -> Result<Vec<Vec<Sample>>>;
    /// The policy changed: sample from this checkpoint from now on.
    fn load(&mut self, checkpoint: &Path) -> Result<()>;
    fn describe(&self) -> String;
}

fn strip(mut s: Vec<i64>, gen: &GenerateConfig) -> Sample {
    let finished = s.last().is_some_and(|t| gen.stop_tokens.contains(t));
    if finished {
        s.pop();
    }
    Sample { tokens: s, finished }
}

/// Sampling from the live model in this process; `prompts_per_batch` prompts (times k) per
/// generate call, call `c` seeded `gen.seed + c` (as `train::onpolicy::sample_groups`).
pub struct InProcess<'m> {
    pub model: &'m Llama,
    pub pad_id: i64,
    pub prompts_per_batch: usize,
}

impl Sampler for InProcess<'_> {
    fn sample(&mut self, prompts: &[Vec<i64>], k: usize, gen: &GenerateConfig) -> Result<Vec<Vec<Sample>>> {
        let mut out = Vec::with_capacity(prompts.len());
        for (c, chunk) in prompts.chunks(self.prompts_per_batch.max(1)).enumerate() {
            let batch: Vec<Vec<i64>> = chunk.iter().flat_map(|p| vec![p.clone(); k]).collect();
            let cfg = GenerateConfig { seed: gen.seed.wrapping_add(c as u64), ..gen.clone() };
            let samples = tch::no_grad(|| generate(self.model, &batch, self.pad_id, &cfg))?;
            let mut it = samples.into_iter().map(|s| strip(s, gen));
            for _ in chunk {
                out.push(it.by_ref().take(k).collect());
            }
        }
        Ok(out)
    }
    /// The in-process sampler always samples from the live model; nothing to load.
    fn load(&mut self, _checkpoint: &Path) -> Result<()> {
        Ok(())
    }
    fn describe(&self) -> String {
        "in-process generation".into()
    }
}

/// Sampling through `/v1/completions` of a running server: one request per prompt with `n = k`
/// and the prompt as token ids; prompt `i` is seeded `gen.seed + i`. The server's own stop
/// tokens apply (vLLM also gets `stop_token_ids`).
pub struct ServerSampler {
    pub client: Client,
    pub model: String,
}

impl ServerSampler {
    /// A client without a cache (the policy changes under the same name).
    pub fn new(base_url: &str, model: &str, max_concurrency: usize) -> Result<Self> {
        let client = Client::new(ClientConfig { base_url: base_url.into(), model: model.into(), max_concurrency, timeout_s: 600.0, ..Default::default() })?;
        Ok(ServerSampler { client, model: model.into() })
    }
}

impl Sampler for ServerSampler {
    fn sample(&mut self, prompts: &[Vec<i64>], k: usize, gen: &GenerateConfig) -> Result<Vec<Vec<Sample>>> {
        gen.validate()?;
        let items: Vec<(usize, &Vec<i64>)> = prompts.iter().enumerate().collect();
        let results = self.client.map_concurrent(&items, "sampling", |(i, p)| {
            let mut extra = serde_json::Map::new();
            extra.insert("stop_token_ids".into(), json!(gen.stop_tokens));
            let req = CompletionRequest {
                model: self.model.clone(),
                prompt: json!(p),
                max_tokens: Some(gen.max_new_tokens),
                temperature: Some(gen.temperature),
                top_p: Some(gen.top_p),
                n: Some(k),
                logprobs: Some(0),
                seed: Some(gen.seed.wrapping_add(*i as u64)),
                return_tokens_as_token_ids: Some(true),
                extra,
                ..Default::default()
            };
            let resp = self.client.completion(&req)?;
            let mut choices = resp.choices;
            choices.sort_by_key(|c| c.index);
            if choices.len() != k {
                return Err(Error::invalid(format!("server sample of prompt {i}"), format!("{} choices for n = {k}", choices.len())));
            }
            choices
                .into_iter()
                .map(|c| {
                    let lp = c.logprobs.ok_or_else(|| Error::invalid("server sample", "no log-probs: the server must support logprobs and return_tokens_as_token_ids (vLLM, `cargo xtask serve`)"))?;
                    let ids: Vec<i64> = lp
                        .tokens
                        .iter()
                        .map(|t| t.strip_prefix("token_id:").and_then(|n| n.parse().ok()))
                        .collect::<Option<_>>()
                        .ok_or_else(|| Error::invalid("server sample", "tokens are not `token_id:<id>`: the server ignored return_tokens_as_token_ids"))?;
                    let mut s = strip(ids, gen);
                    s.finished |= c.finish_reason.as_deref() == Some("stop");
                    Ok(s)
                })
                .collect::<Result<Vec<Sample>>>()
        });
        results.into_iter().collect()
    }
    /// A fixed server: whoever runs it reloads the policy (see [`ManagedServer`] otherwise).
    fn load(&mut self, _checkpoint: &Path) -> Result<()> {
        Ok(())
    }
    fn describe(&self) -> String {
        format!("server {} (model {})", self.client.cfg.base_url, self.model)
    }
}

/// A server started on each checkpoint: `command` is the argv with `{checkpoint}` and `{port}`
/// filled in, e.g. `["vllm", "serve", "{checkpoint}", "--port", "{port}",
/// "--served-model-name", "policy"]` or this project's `serve` binary. `load` stops the old
/// server, starts the new one on a free port of 127.0.0.1 and waits until `/v1/models` answers.
pub struct ManagedServer {
    pub command: Vec<String>,
    pub model: String,
    pub max_concurrency: usize,
    pub startup_timeout: Duration,
    child: Option<Child>,
    inner: Option<ServerSampler>,
    checkpoint: Option<PathBuf>,
}

impl ManagedServer {
    pub fn new(command: Vec<String>, model: &str, max_concurrency: usize, startup_timeout: Duration) -> Self {
        ManagedServer { command, model: model.into(), max_concurrency, startup_timeout, child: None, inner: None, checkpoint: None }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.inner = None;
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Sampler for ManagedServer {
    fn sample(&mut self, prompts: &[Vec<i64>], k: usize, gen: &GenerateConfig) -> Result<Vec<Vec<Sample>>> {
        match self.inner.as_mut() {
            Some(s) => s.sample(prompts, k, gen),
            None => Err(Error::invalid("managed server sampler", "no checkpoint loaded yet: call load(checkpoint) first")),
        }
    }

    fn load(&mut self, checkpoint: &Path) -> Result<()> {
        self.stop();
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| Error::Other(format!("finding a free port: {e}")))?.port();
        let argv: Vec<String> = self.command.iter().map(|a| a.replace("{checkpoint}", &checkpoint.display().to_string()).replace("{port}", &port.to_string())).collect();
        let (prog, args) = argv.split_first().ok_or_else(|| Error::invalid("managed server command", "is empty"))?;
        let child = Command::new(prog).args(args).spawn().map_err(|e| Error::invalid(format!("managed server command {prog:?}"), format!("cannot start: {e}")))?;
        self.child = Some(child);
        let sampler = ServerSampler::new(&format!("http://127.0.0.1:{port}/v1"), &self.model, self.max_concurrency)?;
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(Error::invalid(format!("managed server {prog:?} on {}", checkpoint.display()), format!("exited before serving ({status})")));
            }
            if sampler.client.models().is_ok_and(|m| m.contains(&self.model)) {
                break;
            }
            if t0.elapsed() > self.startup_timeout {
                self.stop();
                return Err(Error::invalid(format!("managed server on {}", checkpoint.display()), format!("did not serve model {:?} within {:?}", self.model, self.startup_timeout)));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.inner = Some(sampler);
        self.checkpoint = Some(checkpoint.to_path_buf());
        Ok(())
    }

    fn describe(&self) -> String {
        format!("managed server `{}` on {:?}", self.command.join(" "), self.checkpoint)
    }
}

/// Write a checkpoint folder any OpenAI-compatible server can load: `config.json`,
/// `tokenizer.json` (and `tokenizer_config.json` when given) and `model.safetensors`, each
/// written atomically.
pub fn save_servable_checkpoint(dir: &Path, vs: &tch::nn::VarStore, cfg: &LlamaConfig, tokenizer_json: &str, tokenizer_config: Option<&str>) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::io::write_json(&dir.join("config.json"), cfg)?;
    crate::io::write_atomic(&dir.join("tokenizer.json"), tokenizer_json.as_bytes())?;
    if let Some(t) = tokenizer_config {
        crate::io::write_atomic(&dir.join("tokenizer_config.json"), t.as_bytes())?;
    }
    crate::model::weights::save(vs, &dir.join("model.safetensors"))
}

/// A miniature-world checkpoint with seeded random weights (tests and benchmarks): the world's
/// tokenizer and a Llama of the given sizes.
pub fn world_test_checkpoint(dir: &Path, hidden: usize, layers: usize, heads: usize, max_positions: usize, seed: u64) -> Result<()> {
    let tok = crate::world::tokenizer::WorldTokenizer::new()?;
    let mut cfg = crate::model::tiny::config("llama", tok.vocab_size(), hidden, 2 * hidden, layers, heads);
    cfg.max_position_embeddings = max_positions;
    let (vs, _m) = crate::model::tiny::model(&cfg, seed);
    let tj = tok.tok.to_string(true).map_err(|e| Error::Other(format!("serialising the tokenizer: {e}")))?;
    save_servable_checkpoint(dir, &vs, &cfg, &tj, None)
}
