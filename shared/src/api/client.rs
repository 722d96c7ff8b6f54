//! A blocking client for OpenAI-compatible endpoints (hosted judges, vLLM, SGLang, TGI, this
//! project's `serve`): chat and text completions, bounded concurrency over a list of requests,
//! retries with exponential backoff that honour 429 and `Retry-After`, timeouts, the
//! content-addressed cache of [`super::cache`], token and cost accounting, a progress bar.
//!
//! Concurrency is plain threads: `max_concurrency` workers pull the next request from a shared
//! counter, so at most that many calls are in flight and results come back in input order.

use super::cache::Cache;
use super::types::{ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, Usage};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Where the endpoint is and how to talk to it (TOML; unknown keys are errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientConfig {
    /// The API root including the version, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// The model name sent when a request leaves it empty.
    pub model: String,
    /// Environment variable holding the bearer token (unset or empty = no `Authorization` header).
    pub api_key_env: String,
    pub max_concurrency: usize,
    /// Whole-call timeout (connect + send + read), seconds.
    pub timeout_s: f64,
    /// Retries after the first attempt for 429, 5xx and transport errors.
    pub max_retries: usize,
    /// First backoff (doubles per retry, with jitter), and its cap, seconds.
    pub backoff_s: f64,
    pub backoff_max_s: f64,
    /// Prices in USD per million tokens, for the cost line (0 = not reported).
    pub price_prompt_per_mtok: f64,
    pub price_completion_per_mtok: f64,
    /// The on-disk cache (None = no cache, e.g. for on-policy sampling from a changing policy).
    pub cache_dir: Option<PathBuf>,
    /// Part of every cache key (separates judges that share a model name).
    pub cache_namespace: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: "https://api.openai.com/v1".into(),
            model: String::new(),
            api_key_env: "OPENAI_API_KEY".into(),
            max_concurrency: 8,
            timeout_s: 120.0,
            max_retries: 6,
            backoff_s: 1.0,
            backoff_max_s: 60.0,
            price_prompt_per_mtok: 0.0,
            price_completion_per_mtok: 0.0,
            cache_dir: None,
            cache_namespace: String::new(),
        }
    }
}

impl ClientConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |f: &str, m: String| Err(Error::invalid(format!("client.{f}"), m));
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return bad("base_url", format!("{:?} must start with http:// or https://", self.base_url));
        }
        if self.max_concurrency == 0 {
            return bad("max_concurrency", "must be at least 1".into());
        }
        let ok = self.timeout_s > 0.0 && self.backoff_s >= 0.0 && self.backoff_max_s >= self.backoff_s;
        if !ok {
            return bad("timeout_s", "timeout_s must be > 0 and 0 <= backoff_s <= backoff_max_s".into());
        }
        if !(self.price_prompt_per_mtok >= 0.0 && self.price_completion_per_mtok >= 0.0) {
            return bad("price_prompt_per_mtok", "prices must be >= 0".into());
        }
        Ok(())
    }
}

/// What the calls cost so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Calls answered by the endpoint.
    pub sent: u64,
    /// Calls answered from the cache.
    pub cached: u64,
    pub retries: u64,
    pub failed: u64,
    /// Tokens of the calls sent now (cached calls cost nothing and are counted apart).
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_prompt_tokens: u64,
    pub cached_completion_tokens: u64,
}

/// A blocking OpenAI-compatible client; share one across threads.
pub struct Client {
    pub cfg: ClientConfig,
    agent: ureq::Agent,
    key: Option<String>,
    cache: Option<Cache>,
    stats: Mutex<Stats>,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Self> {
        cfg.validate()?;
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs_f64(cfg.timeout_s))
            .timeout_connect(Duration::from_secs_f64(cfg.timeout_s.min(10.0)))
            .build();
        let key = std::env::var(&cfg.api_key_env).ok().filter(|k| !k.is_empty());
        let cache = cfg.cache_dir.as_ref().map(|d| Cache::new(d, &cfg.cache_namespace));
        Ok(Client { cfg, agent, key, cache, stats: Mutex::new(Stats::default()) })
    }

    /// Use this bearer token instead of the environment's.
    pub fn with_key(mut self, key: Option<String>) -> Self {
        self.key = key;
        self
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/{}", self.cfg.base_url.trim_end_matches('/'), endpoint.trim_start_matches('/'))
    }

    fn count(&self, v: &Value, cached: bool) {
        let u: Usage = v.get("usage").and_then(|u| serde_json::from_value(u.clone()).ok()).unwrap_or_default();
        if let Ok(mut s) = self.stats.lock() {
            if cached {
                s.cached += 1;
                s.cached_prompt_tokens += u.prompt_tokens;
                s.cached_completion_tokens += u.completion_tokens;
            } else {
                s.sent += 1;
                s.prompt_tokens += u.prompt_tokens;
                s.completion_tokens += u.completion_tokens;
            }
        }
    }

    /// POST `body` to `endpoint` (e.g. `chat/completions`): the cache first, then the network
    /// with retries. The answer must be a JSON object.
    pub fn post(&self, endpoint: &str, body: &Value) -> Result<Value> {
        if let Some(v) = self.cache.as_ref().and_then(|c| c.get(endpoint, body)) {
            self.count(&v, true);
            return Ok(v);
        }
        let url = self.url(endpoint);
        let text = body.to_string();
        let mut attempt = 0;
        loop {
            let mut req = self.agent.post(&url).set("Content-Type", "application/json");
            if let Some(k) = &self.key {
                req = req.set("Authorization", &format!("Bearer {k}"));
            }
            let (status, wait, msg) = match req.send_string(&text) {
                Ok(resp) => {
                    let got = resp.into_string().map_err(|e| Error::Api { url: url.clone(), status: Some(200), msg: format!("reading the answer: {e}") })?;
                    let v: Value = serde_json::from_str(&got).map_err(|e| Error::Api { url: url.clone(), status: Some(200), msg: format!("the answer is not JSON ({e}): {}", head(&got)) })?;
                    if !v.is_object() {
                        return Err(Error::Api { url, status: Some(200), msg: format!("the answer is not a JSON object: {}", head(&got)) });
                    }
                    if let Some(c) = &self.cache {
                        c.put(endpoint, body, &v)?;
                    }
                    self.count(&v, false);
                    return Ok(v);
                }
                Err(ureq::Error::Status(code, resp)) => {
                    let wait = retry_after(resp.header("retry-after-ms"), resp.header("retry-after"));
                    let body = resp.into_string().unwrap_or_default();
                    (Some(code), wait, error_message(&body))
                }
                Err(ureq::Error::Transport(t)) => (None, None, t.to_string()),
            };
            let retryable = match status {
                None => true,
                Some(c) => c == 408 || c == 409 || c == 429 || c >= 500,
            };
            if !retryable || attempt >= self.cfg.max_retries {
                if let Ok(mut s) = self.stats.lock() {
                    s.failed += 1;
                }
                let tries = if retryable { format!(" (after {} attempts)", attempt + 1) } else { String::new() };
                let what = status.map(|c| format!("HTTP {c}: ")).unwrap_or_default();
                return Err(Error::Api { url, status, msg: format!("{what}{msg}{tries}") });
            }
            let backoff = (self.cfg.backoff_s * 2f64.powi(attempt as i32)).min(self.cfg.backoff_max_s) * (0.5 + 0.5 * rand::random::<f64>());
            // The server's `Retry-After` wins over our own backoff (capped at ten minutes).
            std::thread::sleep(Duration::from_secs_f64(wait.map_or(backoff, |w| w.min(600.0))));
            attempt += 1;
            if let Ok(mut s) = self.stats.lock() {
                s.retries += 1;
            }
        }
    }

    /// `chat/completions`; an empty `model` is filled from the config.
    pub fn chat(&self, req: &ChatRequest) -> Result<ChatResponse> {
        let mut req = req.clone();
        if req.model.is_empty() {
            req.model = self.cfg.model.clone();
        }
        let v = self.post("chat/completions", &serde_json::to_value(&req).map_err(|e| Error::Other(e.to_string()))?)?;
        serde_json::from_value(v.clone()).map_err(|e| Error::Api { url: self.url("chat/completions"), status: Some(200), msg: format!("not a chat completion ({e}): {}", head(&v.to_string())) })
    }

    /// `completions`; an empty `model` is filled from the config.
    pub fn completion(&self, req: &CompletionRequest) -> Result<CompletionResponse> {
        let mut req = req.clone();
        if req.model.is_empty() {
            req.model = self.cfg.model.clone();
        }
        let v = self.post("completions", &serde_json::to_value(&req).map_err(|e| Error::Other(e.to_string()))?)?;
        serde_json::from_value(v.clone()).map_err(|e| Error::Api { url: self.url("completions"), status: Some(200), msg: format!("not a text completion ({e}): {}", head(&v.to_string())) })
    }

    /// `GET models`: the ids the endpoint serves.
    pub fn models(&self) -> Result<Vec<String>> {
        let url = self.url("models");
        let mut req = self.agent.get(&url);
        if let Some(k) = &self.key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let v: Value = match req.call() {
            Ok(r) => r.into_json().map_err(|e| Error::Api { url: url.clone(), status: Some(200), msg: e.to_string() })?,
            Err(ureq::Error::Status(c, r)) => return Err(Error::Api { url, status: Some(c), msg: error_message(&r.into_string().unwrap_or_default()) }),
            Err(e) => return Err(Error::Api { url, status: None, msg: e.to_string() }),
        };
        Ok(v["data"].as_array().map(|a| a.iter().filter_map(|m| m["id"].as_str().map(String::from)).collect()).unwrap_or_default())
    }

    /// Run `f` on every item with at most `max_concurrency` in flight; results in input order.
    /// A progress bar counts finished items.
    pub fn map_concurrent<T: Sync, R: Send>(&self, items: &[T], what: &str, f: impl Fn(&T) -> Result<R> + Sync) -> Vec<Result<R>> {
        let pb = crate::progress::bar(items.len() as u64, what, "calls");
        let next = AtomicUsize::new(0);
        let slots: Mutex<Vec<Option<Result<R>>>> = Mutex::new((0..items.len()).map(|_| None).collect());
        let workers = self.cfg.max_concurrency.min(items.len()).max(1);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    if let Ok(mut v) = slots.lock() {
                        v[i] = Some(r);
                    }
                    pb.inc(1);
                });
            }
        });
        pb.finish_and_clear();
        slots
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Other("a worker thread panicked".into()))))
            .collect()
    }

    /// One line: calls, cache hits, retries, tokens and cost.
    pub fn summary(&self) -> String {
        let s = self.stats();
        let cost = (s.prompt_tokens as f64 * self.cfg.price_prompt_per_mtok + s.completion_tokens as f64 * self.cfg.price_completion_per_mtok) / 1e6;
        let price = if self.cfg.price_prompt_per_mtok > 0.0 || self.cfg.price_completion_per_mtok > 0.0 {
            format!("cost ${cost:.4}")
        } else {
            "cost not priced (set price_prompt_per_mtok / price_completion_per_mtok)".into()
        };
        format!(
            "{}: {} calls sent, {} from the cache, {} retries, {} failed; tokens sent {} prompt + {} completion (cached {} + {}); {price}",
            self.cfg.base_url,
            s.sent,
            s.cached,
            s.retries,
            s.failed,
            s.prompt_tokens,
            s.completion_tokens,
            s.cached_prompt_tokens,
            s.cached_completion_tokens
        )
    }
}

/// `retry-after-ms` (OpenAI), else `Retry-After` in seconds (an HTTP date is not parsed: backoff).
pub fn retry_after(ms: Option<&str>, secs: Option<&str>) -> Option<f64> {
    if let Some(v) = ms.and_then(|s| s.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0) {
        return Some(v / 1000.0);
    }
    secs.and_then(|s| s.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0)
}

/// The `error.message` of an OpenAI-style error body, else the body's first characters.
pub fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(String::from))
        .unwrap_or_else(|| head(body))
}

fn head(s: &str) -> String {
    let h: String = s.chars().take(300).collect();
    if h.len() < s.len() {
        format!("{h}...")
    } else {
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_milliseconds() {
        assert_eq!(retry_after(Some("1500"), Some("9")), Some(1.5));
        assert_eq!(retry_after(None, Some("2")), Some(2.0));
        assert_eq!(retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(Some("-1"), None), None);
    }

    #[test]
    fn config_is_validated_and_unknown_keys_rejected() {
        let c: ClientConfig = toml::from_str("base_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"").unwrap();
        c.validate().unwrap();
        assert!(toml::from_str::<ClientConfig>("base_urll = \"x\"").is_err());
        let bad = ClientConfig { base_url: "localhost:80".into(), ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("base_url"));
    }

    #[test]
    fn error_bodies_are_read() {
        assert_eq!(error_message(r#"{"error":{"message":"no such model","type":"x"}}"#), "no such model");
        assert_eq!(error_message("plain"), "plain");
    }
}
