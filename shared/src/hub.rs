//! Hugging Face hub access: hub ids through hf-hub and the standard cache (offline works), or a local folder.
