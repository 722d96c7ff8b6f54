//! The OpenAI-compatible HTTP API: how this project talks to judges and samplers at scale
//! (hosted judges, vLLM, SGLang, TGI) and how it serves its own checkpoints to tools that speak
//! the same API (alpaca_eval, WildBench, lm-evaluation-harness).
//!
//! - [`types`]: the wire format (chat / text completions, log-probs, usage, error body).
//! - [`client`]: a blocking client with bounded concurrency, retries honouring 429 and
//!   `Retry-After`, timeouts, the on-disk cache ([`cache`]), token and cost accounting.
//! - [`server`]: the HTTP server (one worker thread owns the backend and batches requests);
//!   [`backend`]: a checkpoint of the shared model behind it; [`world_judge`]: the miniature
//!   world's judges behind it.
//! - [`template`]: judge prompt templates filled (and read back) as upstream fills them.
//! - [`alpaca_judge`]: AlpacaEval 2's `weighted_alpaca_eval_gpt4_turbo` annotator over the client.
//! - [`sampler`]: the on-policy loop's sampler interface, in process or through a server.

pub mod alpaca_judge;
pub mod backend;
pub mod cache;
pub mod client;
pub mod sampler;
pub mod server;
pub mod template;
pub mod types;
pub mod world_judge;

pub use client::{Client, ClientConfig};
pub use server::{ServeConfig, Server};
