//! The decoder-only transformer shared by every paper (Llama, Qwen2 and Mistral families), its
//! config, generation and scoring. One model in one file: `llama.rs`.
//!
//! - [`config`]: `config.json` read and validated ([`LlamaConfig`]).
//! - [`llama`]: the transformer ([`Llama`]), HF variable names, padding-invariant masks, KV cache.
//! - [`score`]: response log-probs given a prompt ([`sequence_logps`]) for every objective.
//! - [`generate`]: batched sampling / greedy decoding with a KV cache ([`generate()`]).
//! - [`reward`]: the scalar reward model ([`RewardModel`]) for Bradley–Terry training.
//! - [`weights`]: safetensors (single or sharded) into a `VarStore` by name, and saving.
//! - [`tiny`]: tiny configs and seeded weights for tests and benchmarks.
//! - [`lora`]: LoRA adapters in PEFT's layout (attach, save, load, merge).
//! - [`recompute`]: gradient checkpointing for the scoring pass (recompute layer by layer).
//! - [`pretrained`]: a folder or hub id to model + tokenizer in one call ([`Pretrained`]).

pub mod config;
pub mod generate;
pub mod llama;
pub mod lora;
pub mod pretrained;
pub mod recompute;
pub mod reward;
pub mod score;
pub mod tiny;
pub mod weights;

pub use config::{LlamaConfig, RopeScaling, TokenIds};
pub use generate::{generate, generate_uncached, GenerateConfig};
pub use llama::{KvCache, Linear, Llama};
pub use lora::LoraConfig;
pub use score::{sequence_logps, token_logps, SeqLogps, TokenBatch};
pub use pretrained::{Pretrained, PretrainedReward};
pub use reward::RewardModel;
