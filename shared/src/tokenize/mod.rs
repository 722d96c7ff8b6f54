//! Tokenizers (`tokenizer.json` through the `tokenizers` crate) and the chat templates of the supported model families, rendered in Rust with the prompt/response boundary exposed.
