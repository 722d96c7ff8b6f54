//! The error type of the shared crate: every variant names what is at fault
//! (a file, a field, a record) and, where it helps, what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: malformed JSON: {msg}")]
    Json { path: PathBuf, msg: String },
    #[error("{path}: malformed CSV: {msg}")]
    Csv { path: PathBuf, msg: String },
    #[error("{path}: invalid config: {msg}")]
    Config { path: PathBuf, msg: String },
    #[error("{what}: {msg}")]
    Invalid { what: String, msg: String },
    #[error(transparent)]
    Stats(#[from] stats::Error),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An HTTP API call that failed for good (after retries where they apply).
    #[error("{url}: {msg}")]
    Api { url: String, status: Option<u16>, msg: String },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Other(format!("JSON: {e}"))
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub fn invalid(what: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Invalid { what: what.into(), msg: msg.into() }
    }
}
