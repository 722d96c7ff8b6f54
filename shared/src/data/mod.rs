//! External datasets in their upstream Hugging Face formats (parquet or JSON lines).

pub mod preference;
