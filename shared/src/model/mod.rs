//! The decoder-only transformer shared by every paper (Llama, Qwen2 and Mistral families), its config, weights loading, generation and scoring. One model in one file: `llama.rs`.
