//! Tokenizers (`tokenizer.json` through the `tokenizers` crate) and the chat templates of the
//! supported model families, rendered in Rust with the prompt/response boundary exposed.
//!
//! - [`tokenizer`]: [`Tokenizer`] (special tokens, vocab-vs-embedding check, chat encoding).
//! - [`chat`]: [`ChatTemplate`] for Llama-3, ChatML/Qwen2, Mistral, Zephyr and Gemma.

pub mod chat;
pub mod tokenizer;

pub use chat::{ChatTemplate, Family, Message, ResponseSpan};
pub use tokenizer::Tokenizer;
