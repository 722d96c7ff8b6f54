//! The model behind `serve`: a checkpoint of the shared model core with its tokenizer, serving
//! chat and text completions in batches with the KV cache (`model::generate::generate_with`).
//!
//! - Chat prompts go through the tokenizer's chat template (`tokenize::chat`); a miniature-world
//!   checkpoint (character tokenizer with `<bos>`/`<sep>`, no template) is prompted the way it was
//!   trained: `<bos> user text <sep>`.
//! - A batch's rows (every request times its `n`) are grouped by (temperature, top-p, seed) and
//!   each group is one `generate` call, run to the longest `max_tokens` in the group; shorter
//!   requests are cut afterwards. Temperature-0 requests always share a batch, and so do
//!   requests without a seed (the server draws one per call); a request with a seed at
//!   temperature > 0 is reproducible when no other request with the same seed shares its batch.
//! - Log-probs are the model's raw distribution (before temperature / top-p), as vLLM reports
//!   them; `echo` with `logprobs` gives the prompt's log-probs (lm-evaluation-harness).
//! - `stop` strings cut the text; the stop token itself is never part of the text.

use super::server::{invalid, Backend, Job, Reply, Work};
use super::types::*;
use crate::error::Result;
use crate::model::generate::{generate_with, GenerateConfig};
use crate::model::pretrained::Pretrained;
use crate::model::Llama;
use crate::tokenize::chat::Message;
use crate::tokenize::Tokenizer;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

/// Limits a model server enforces on each request.
#[derive(Debug, Clone)]
pub struct ModelLimits {
    /// Largest `max_tokens` accepted (and the default for chat).
    pub max_new_tokens: usize,
    pub max_n: usize,
    pub max_top_logprobs: usize,
}

impl Default for ModelLimits {
    fn default() -> Self {
        ModelLimits { max_new_tokens: 512, max_n: 16, max_top_logprobs: 20 }
    }
}

/// How chat messages become prompt ids.
#[derive(Debug, Clone)]
pub enum PromptFormat {
    Template,
    /// The miniature world's `<bos> text <sep>`.
    World { bos: i64, sep: i64 },
    /// No chat template: only `/v1/completions`.
    None,
}

pub struct ModelBackend {
    pub name: String,
    model: Llama,
    _vs: tch::nn::VarStore,
    tok: Tokenizer,
    format: PromptFormat,
    stop: Vec<i64>,
    pad: i64,
    context: usize,
    limits: ModelLimits,
    seed_counter: u64,
    vocab: usize,
}

/// One row to generate: a prompt and where its answer goes.
struct Row {
    job: usize,
    choice: usize,
    prompt: Vec<i64>,
    max_tokens: usize,
    key: (u64, u64, Option<u64>),
    top: Option<usize>,
}

/// One choice's result: generated ids (stop token stripped), their log-probs and top
/// alternatives, and whether it ended on a stop token.
type ChoiceOut = (Vec<i64>, Vec<f32>, Vec<Vec<(i64, f32)>>, bool);

/// A request after validation.
struct Prepared {
    chat: bool,
    stream: bool,
    echo: bool,
    n_choices: usize,
    prompts: Vec<Vec<i64>>,
    stops: Vec<String>,
    model: String,
    /// Per choice: generated ids (stop token stripped), finish reason, log-probs.
    out: Vec<Option<ChoiceOut>>,
    streamed: Vec<String>,
    logprobs: Option<usize>,
    token_ids: bool,
}

impl ModelBackend {
    /// Load a checkpoint folder or hub id; `name` is the model id clients use.
    pub fn load(spec: &str, device: tch::Device, name: &str, limits: ModelLimits) -> Result<Self> {
        let p = Pretrained::load(spec, device)?;
        Self::new(p, name, limits)
    }

    pub fn new(p: Pretrained, name: &str, limits: ModelLimits) -> Result<Self> {
        let tok = p.tokenizer;
        let format = if tok.chat.is_some() {
            PromptFormat::Template
        } else if let (Some(bos), Some(sep)) = (tok.token_id("<bos>"), tok.token_id("<sep>")) {
            PromptFormat::World { bos, sep }
        } else {
            PromptFormat::None
        };
        let mut stop = tok.stop_tokens();
        if let (PromptFormat::World { .. }, Some(eos)) = (&format, tok.token_id("<eos>")) {
            if !stop.contains(&eos) {
                stop.push(eos);
            }
        }
        let pad = tok.token_id("<pad>").unwrap_or_else(|| tok.pad_id());
        let cfg = p.model.config().clone();
        Ok(ModelBackend {
            name: name.to_string(),
            model: p.model,
            _vs: p.vs,
            tok,
            format,
            stop,
            pad,
            context: cfg.max_position_embeddings,
            limits,
            seed_counter: 0,
            vocab: cfg.vocab_size,
        })
    }

    fn chat_prompt(&self, messages: &[ChatMessage]) -> std::result::Result<Vec<i64>, ErrorBody> {
        if messages.is_empty() {
            return Err(invalid("`messages` must hold at least one message", Some("messages")));
        }
        let mut msgs = vec![];
        for (i, m) in messages.iter().enumerate() {
            if !["system", "user", "assistant", "developer"].contains(&m.role.as_str()) {
                return Err(invalid(format!("messages[{i}].role {:?} is not system, user or assistant", m.role), Some("messages")));
            }
            let Some(text) = m.text() else {
                return Err(invalid(format!("messages[{i}].content must be text (a string or text parts)"), Some("messages")));
            };
            let role = if m.role == "developer" { "system" } else { m.role.as_str() };
            msgs.push(Message::new(role, text));
        }
        match &self.format {
            PromptFormat::Template => self.tok.encode_chat(&msgs, true).map_err(|e| invalid(format!("cannot apply the chat template: {e}"), Some("messages"))),
            PromptFormat::World { bos, sep } => {
                if msgs.len() != 1 || msgs[0].role != "user" {
                    return Err(invalid("a miniature-world model takes exactly one user message (its prompt)", Some("messages")));
                }
                let mut ids = vec![*bos];
                ids.extend(self.tok.encode(&msgs[0].content, false).map_err(|e| invalid(e.to_string(), Some("messages")))?);
                ids.push(*sep);
                Ok(ids)
            }
            PromptFormat::None => Err(invalid(format!("the model {} has no chat template; use /v1/completions", self.name), Some("messages"))),
        }
    }

    fn completion_prompts(&self, prompt: &Value) -> std::result::Result<Vec<Vec<i64>>, ErrorBody> {
        let bad = || invalid("`prompt` must be a string, a list of strings, a list of token ids, or a list of lists of token ids", Some("prompt"));
        let ids = |v: &Value| -> Option<Vec<i64>> { v.as_array()?.iter().map(|x| x.as_i64()).collect() };
        let enc = |s: &str| self.tok.encode(s, true).map_err(|e| invalid(e.to_string(), Some("prompt")));
        let out = match prompt {
            Value::String(s) => vec![enc(s)?],
            Value::Array(a) if a.is_empty() => return Err(bad()),
            Value::Array(a) if a.iter().all(Value::is_string) => a.iter().map(|s| enc(s.as_str().unwrap_or(""))).collect::<std::result::Result<_, _>>()?,
            Value::Array(a) if a.iter().all(Value::is_number) => vec![ids(prompt).ok_or_else(bad)?],
            Value::Array(a) if a.iter().all(Value::is_array) => a.iter().map(|p| ids(p).ok_or_else(bad)).collect::<std::result::Result<_, _>>()?,
            _ => return Err(bad()),
        };
        for (i, p) in out.iter().enumerate() {
            if p.is_empty() {
                return Err(invalid(format!("prompt {i} is empty"), Some("prompt")));
            }
            if let Some(t) = p.iter().find(|&&t| t < 0 || t as usize >= self.vocab) {
                return Err(invalid(format!("prompt {i} has token id {t}, outside this model's vocabulary of {}", self.vocab), Some("prompt")));
            }
        }
        Ok(out)
    }

    /// Validate one request and turn it into rows.
    fn prepare(&mut self, j: usize, work: &Work, rows: &mut Vec<Row>) -> std::result::Result<Prepared, ErrorBody> {
        let (temperature, top_p, n, seed, stop, stream) = match work {
            Work::Chat(c) => (c.temperature, c.top_p, c.n, c.seed, &c.stop, c.stream),
            Work::Completion(c) => (c.temperature, c.top_p, c.n, c.seed, &c.stop, c.stream),
        };
        let t = temperature.unwrap_or(1.0);
        if !(0.0..=2.0).contains(&t) {
            return Err(invalid(format!("temperature {t} is outside [0, 2]"), Some("temperature")));
        }
        let p = top_p.unwrap_or(1.0);
        if !(p > 0.0 && p <= 1.0) {
            return Err(invalid(format!("top_p {p} is outside (0, 1]"), Some("top_p")));
        }
        let n = n.unwrap_or(1);
        if n == 0 || n > self.limits.max_n {
            return Err(invalid(format!("n = {n} must be between 1 and {}", self.limits.max_n), Some("n")));
        }
        let stops = stop.as_ref().map(Stop::list).unwrap_or_default();
        if stops.len() > 4 || stops.iter().any(String::is_empty) {
            return Err(invalid("`stop` takes at most 4 non-empty strings", Some("stop")));
        }
        let (chat, prompts, max_tokens, logprobs, echo, token_ids, model) = match work {
            Work::Chat(c) => {
                let lp = match (c.logprobs.unwrap_or(false), c.top_logprobs) {
                    (true, k) => Some(k.unwrap_or(0)),
                    (false, Some(_)) => return Err(invalid("top_logprobs needs logprobs = true", Some("top_logprobs"))),
                    (false, None) => None,
                };
                let mt = c.max_completion_tokens.or(c.max_tokens);
                if mt == Some(0) {
                    return Err(invalid("max_tokens must be at least 1", Some("max_tokens")));
                }
                (true, vec![self.chat_prompt(&c.messages)?], mt, lp, false, false, c.model.clone())
            }
            Work::Completion(c) => {
                let echo = c.echo.unwrap_or(false);
                let mt = Some(c.max_tokens.unwrap_or(16));
                if mt == Some(0) && !echo {
                    return Err(invalid("max_tokens = 0 is only meaningful with echo = true", Some("max_tokens")));
                }
                (false, self.completion_prompts(&c.prompt)?, mt, c.logprobs, echo, c.return_tokens_as_token_ids.unwrap_or(false), c.model.clone())
            }
        };
        if let Some(k) = logprobs {
            if k > self.limits.max_top_logprobs {
                return Err(invalid(format!("at most {} top log-probs per token", self.limits.max_top_logprobs), Some("logprobs")));
            }
        }
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let room = self.context.saturating_sub(longest);
        let max_tokens = match max_tokens {
            Some(m) if m > self.limits.max_new_tokens => {
                return Err(invalid(format!("max_tokens = {m} is above this server's limit of {}", self.limits.max_new_tokens), Some("max_tokens")))
            }
            Some(m) => m,
            None => self.limits.max_new_tokens.min(room),
        };
        if longest + max_tokens > self.context || (longest >= self.context) {
            return Err(ErrorBody::new(
                "invalid_request_error",
                Some("context_length_exceeded"),
                Some("messages"),
                format!("this model's maximum context length is {} tokens, but the request has {longest} prompt tokens and asks for {max_tokens} more", self.context),
            ));
        }
        // Requests without a seed share a batch (the server draws one seed per generate call).
        let seed = if t == 0.0 { None } else { seed };
        let key = (if t == 0.0 { 0 } else { t.to_bits() }, if t == 0.0 { 0 } else { p.to_bits() }, seed);
        let mut choice = 0;
        for prompt in &prompts {
            for _ in 0..n {
                if max_tokens > 0 {
                    rows.push(Row { job: j, choice, prompt: prompt.clone(), max_tokens, key, top: logprobs });
                }
                choice += 1;
            }
        }
        Ok(Prepared {
            chat,
            stream: stream.unwrap_or(false),
            echo,
            n_choices: choice,
            prompts,
            stops,
            model,
            out: vec![None; choice],
            streamed: vec![String::new(); choice],
            logprobs,
            token_ids,
        })
    }

    fn token_str(&self, id: i64, as_id: bool) -> String {
        if as_id {
            return format!("token_id:{id}");
        }
        self.tok.decode(&[id], false).unwrap_or_default()
    }

    /// Text of generated ids, cut at the first stop string; (text, cut by a stop string).
    fn text_of(&self, ids: &[i64], stops: &[String]) -> (String, bool) {
        let text = self.tok.decode(ids, true).unwrap_or_default();
        match stops.iter().filter_map(|s| text.find(s.as_str())).min() {
            Some(i) => (text[..i].to_string(), true),
            None => (text, false),
        }
    }

    /// Prompt log-probs for `echo`: None for the first token, then log p(t_i | t_<i).
    #[allow(clippy::type_complexity)]
    fn prompt_logprobs(&self, ids: &[i64], k: usize) -> Result<(Vec<Option<f32>>, Vec<Option<Vec<(i64, f32)>>>)> {
        let t = Tensor::from_slice(ids).view([1, ids.len() as i64]).to_device(self.model.device());
        let lp = tch::no_grad(|| self.model.forward(&t, &t.ones_like()))?.to_kind(Kind::Float).log_softmax(-1, Kind::Float).get(0).to_device(tch::Device::Cpu);
        let mut lps = vec![None];
        let mut tops = vec![None];
        for (i, &id) in ids.iter().enumerate().skip(1) {
            let row = lp.get(i as i64 - 1);
            lps.push(Some(row.double_value(&[id]) as f32));
            if k > 0 {
                let (v, ix) = row.topk(k.min(self.vocab) as i64, -1, true, true);
                let v = Vec::<f32>::try_from(v)?;
                let ix = Vec::<i64>::try_from(ix)?;
                tops.push(Some(ix.into_iter().zip(v).collect()));
            } else {
                tops.push(None);
            }
        }
        Ok((lps, tops))
    }

    fn chunk(&self, p: &Prepared, id: &str, choice: usize, delta: Option<&str>, finish: Option<&str>) -> Value {
        if p.chat {
            let d = match delta {
                Some(t) => json!({"content": t}),
                None => json!({}),
            };
            json!({"id": id, "object": "chat.completion.chunk", "created": now_unix(), "model": p.model,
                   "choices": [{"index": choice, "delta": d, "logprobs": null, "finish_reason": finish}]})
        } else {
            json!({"id": id, "object": "text_completion", "created": now_unix(), "model": p.model,
                   "choices": [{"index": choice, "text": delta.unwrap_or(""), "logprobs": null, "finish_reason": finish}]})
        }
    }

    fn finish(&self, job: &Job, p: &Prepared, id: &str) -> Result<()> {
        let mut prompt_tokens = 0u64;
        let mut completion_tokens = 0u64;
        let mut choices = vec![];
        let per_prompt = p.n_choices / p.prompts.len().max(1);
        for c in 0..p.n_choices {
            let prompt = &p.prompts[c / per_prompt.max(1)];
            prompt_tokens += if c % per_prompt.max(1) == 0 { prompt.len() as u64 } else { 0 };
            let (ids, lps, tops, stopped) = p.out[c].clone().unwrap_or_default();
            completion_tokens += ids.len() as u64 + u64::from(stopped);
            let (text, cut) = self.text_of(&ids, &p.stops);
            let finish = if stopped || cut { "stop" } else { "length" };
            if p.stream {
                let rest = text.get(p.streamed[c].len()..).unwrap_or("");
                if !rest.is_empty() {
                    let _ = job.reply.send(Reply::Chunk(self.chunk(p, id, c, Some(rest), None)));
                }
                let _ = job.reply.send(Reply::Chunk(self.chunk(p, id, c, None, Some(finish))));
                continue;
            }
            if p.chat {
                let logprobs = p.logprobs.map(|_| {
                    let content: Vec<TokenLogprob> = ids
                        .iter()
                        .zip(&lps)
                        .zip(&tops)
                        .map(|((&t, &lp), top)| {
                            let s = self.token_str(t, false);
                            TokenLogprob {
                                bytes: Some(s.as_bytes().to_vec()),
                                token: s,
                                logprob: lp as f64,
                                top_logprobs: top
                                    .iter()
                                    .map(|&(u, l)| {
                                        let s = self.token_str(u, false);
                                        TopLogprob { bytes: Some(s.as_bytes().to_vec()), token: s, logprob: l as f64 }
                                    })
                                    .collect(),
                            }
                        })
                        .collect();
                    ChatLogprobs { content: Some(content) }
                });
                choices.push(serde_json::to_value(ChatChoice { index: c, message: ResponseMessage { role: "assistant".into(), content: Some(text) }, logprobs, finish_reason: Some(finish.into()) })?);
            } else {
                let mut text = text;
                let mut logprobs = p.logprobs.map(|_| CompletionLogprobs::default());
                if p.echo {
                    let prompt_text = self.tok.decode(prompt, false).unwrap_or_default();
                    if let Some(lp) = logprobs.as_mut() {
                        let (plps, ptops) = self.prompt_logprobs(prompt, p.logprobs.unwrap_or(0))?;
                        for ((&t, l), top) in prompt.iter().zip(plps).zip(ptops) {
                            lp.tokens.push(self.token_str(t, p.token_ids));
                            lp.token_logprobs.push(l.map(f64::from));
                            lp.top_logprobs.push(top.map(|v| v.into_iter().map(|(u, l)| (self.token_str(u, p.token_ids), l as f64)).collect::<BTreeMap<_, _>>()));
                        }
                    }
                    text = format!("{prompt_text}{text}");
                }
                if let Some(lp) = logprobs.as_mut() {
                    for ((&t, &l), top) in ids.iter().zip(&lps).zip(&tops) {
                        lp.tokens.push(self.token_str(t, p.token_ids));
                        lp.token_logprobs.push(Some(l as f64));
                        lp.top_logprobs.push(Some(top.iter().map(|&(u, l)| (self.token_str(u, p.token_ids), l as f64)).collect()));
                    }
                    let mut off = 0;
                    for tok in lp.tokens.clone() {
                        lp.text_offset.push(off);
                        off += if p.token_ids { 0 } else { tok.chars().count() };
                    }
                }
                choices.push(serde_json::to_value(CompletionChoice { index: c, text, logprobs, finish_reason: Some(finish.into()) })?);
            }
        }
        if p.stream {
            let _ = job.reply.send(Reply::End);
            return Ok(());
        }
        let usage = Usage { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
        let object = if p.chat { "chat.completion" } else { "text_completion" };
        job.answer(200, json!({"id": id, "object": object, "created": now_unix(), "model": p.model, "choices": choices, "usage": usage}));
        Ok(())
    }
}

impl Backend for ModelBackend {
    fn models(&self) -> Vec<String> {
        vec![self.name.clone()]
    }

    fn run(&mut self, jobs: Vec<Job>) {
        let mut rows = vec![];
        let mut prepared: Vec<Option<Prepared>> = vec![];
        for (j, job) in jobs.iter().enumerate() {
            match self.prepare(j, &job.work, &mut rows) {
                Ok(p) => prepared.push(Some(p)),
                Err(e) => {
                    job.fail(400, e);
                    prepared.push(None);
                }
            }
        }
        let ids: Vec<String> = (0..jobs.len()).map(|j| format!("cmpl-{:x}-{j}", now_unix())).collect();
        for (j, p) in prepared.iter().enumerate() {
            if let Some(p) = p.as_ref().filter(|p| p.stream && p.chat) {
                for c in 0..p.n_choices {
                    let first = json!({"id": ids[j], "object": "chat.completion.chunk", "created": now_unix(), "model": p.model,
                        "choices": [{"index": c, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]});
                    let _ = jobs[j].reply.send(Reply::Chunk(first));
                }
            }
        }
        // One generate call per sampling key.
        let mut keys: Vec<(u64, u64, Option<u64>)> = rows.iter().map(|r| r.key).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let group: Vec<&Row> = rows.iter().filter(|r| r.key == key).collect();
            let cfg = GenerateConfig {
                max_new_tokens: group.iter().map(|r| r.max_tokens).max().unwrap_or(1),
                temperature: f64::from_bits(key.0),
                top_p: if key.0 == 0 { 1.0 } else { f64::from_bits(key.1) },
                stop_tokens: self.stop.clone(),
                seed: key.2.unwrap_or_else(|| {
                    self.seed_counter += 1;
                    0x5e7e_0000 + self.seed_counter
                }),
            };
            let top = group.iter().filter_map(|r| r.top).max();
            let prompts: Vec<Vec<i64>> = group.iter().map(|r| r.prompt.clone()).collect();
            let mut partial: Vec<Vec<i64>> = vec![vec![]; group.len()];
            let stream_rows: Vec<bool> = group.iter().map(|r| prepared[r.job].as_ref().is_some_and(|p| p.stream)).collect();
            let any_stream = stream_rows.iter().any(|&s| s);
            let mut on_step = |step: usize, toks: &[Option<i64>]| {
                if !any_stream {
                    return;
                }
                for (i, t) in toks.iter().enumerate() {
                    let (Some(t), true) = (t, stream_rows[i]) else { continue };
                    let r = group[i];
                    if step >= r.max_tokens || self.stop.contains(t) {
                        continue;
                    }
                    partial[i].push(*t);
                    let Some(p) = prepared[r.job].as_mut() else { continue };
                    let (text, _) = self.text_of(&partial[i], &p.stops);
                    // Hold back text that may still turn into a stop string or a multi-byte character.
                    let safe = text.len().saturating_sub(p.stops.iter().map(String::len).max().unwrap_or(0));
                    let safe = (0..=safe).rev().find(|&k| text.is_char_boundary(k)).unwrap_or(0);
                    let sent = p.streamed[r.choice].len();
                    if safe > sent && text.starts_with(p.streamed[r.choice].as_str()) && !text[sent..safe].contains('\u{fffd}') {
                        let delta = text[sent..safe].to_string();
                        p.streamed[r.choice].push_str(&delta);
                        let v = self.chunk(p, &ids[r.job], r.choice, Some(&delta), None);
                        let _ = jobs[r.job].reply.send(Reply::Chunk(v));
                    }
                }
            };
            let got = tch::no_grad(|| generate_with(&self.model, &prompts, self.pad, &cfg, top, &mut on_step));
            match got {
                Ok(gens) => {
                    for (r, g) in group.iter().zip(gens) {
                        let Some(p) = prepared[r.job].as_mut() else { continue };
                        let n = g.tokens.len().min(r.max_tokens);
                        let mut toks = g.tokens[..n].to_vec();
                        let mut lps = if g.logprobs.is_empty() { vec![] } else { g.logprobs[..n].to_vec() };
                        let mut tops = if g.top.is_empty() { vec![] } else { g.top[..n].to_vec() };
                        let stopped = toks.last().is_some_and(|t| self.stop.contains(t));
                        if stopped {
                            toks.pop();
                            lps.truncate(toks.len());
                            tops.truncate(toks.len());
                        }
                        if r.top.is_none() {
                            lps.clear();
                            tops.clear();
                        } else if let Some(k) = r.top {
                            for t in tops.iter_mut() {
                                t.truncate(k);
                            }
                        }
                        if lps.is_empty() && r.top.is_some() && !toks.is_empty() {
                            lps = vec![f32::NAN; toks.len()];
                        }
                        if tops.len() < toks.len() {
                            tops.resize(toks.len(), vec![]);
                        }
                        p.out[r.choice] = Some((toks, lps, tops, stopped));
                    }
                }
                Err(e) => {
                    for r in &group {
                        if prepared[r.job].take().is_some() {
                            jobs[r.job].fail(500, ErrorBody::new("server_error", None, None, format!("generation failed: {e}")));
                        }
                    }
                }
            }
        }
        for (j, p) in prepared.iter().enumerate() {
            if let Some(p) = p {
                if let Err(e) = self.finish(&jobs[j], p, &ids[j]) {
                    jobs[j].fail(500, ErrorBody::new("server_error", None, None, format!("building the answer failed: {e}")));
                }
            }
        }
    }
}
