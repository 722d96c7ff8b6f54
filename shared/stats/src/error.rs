//! The error type of the statistics crate: every variant names the file, row or record at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A malformed CSV file: the file, the line (1-based, the header is line 1) and what is wrong.
    #[error("{path}, line {line}: {msg}")]
    Csv { path: PathBuf, line: usize, msg: String },
    #[error("{what}: {msg}")]
    Invalid { what: String, msg: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    pub fn csv(path: impl Into<PathBuf>, line: usize, msg: impl Into<String>) -> Self {
        Error::Csv { path: path.into(), line, msg: msg.into() }
    }
    pub fn invalid(what: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Invalid { what: what.into(), msg: msg.into() }
    }
}
