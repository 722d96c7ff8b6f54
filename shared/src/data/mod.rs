//! External datasets in their upstream Hugging Face formats (parquet or JSON lines).

pub mod preference;

use crate::error::{Error, Result};
use std::path::Path;

/// The records of a JSON-lines file, each read by `row` (None: the line lacks what `row` needs);
/// blank lines are skipped, errors name the file, the line and `what` a record should be.
pub fn read_jsonl<T>(path: &Path, what: &str, row: impl Fn(&serde_json::Value) -> Option<T>) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = vec![];
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = || format!("{} line {}", path.display(), i + 1);
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::invalid(at(), format!("is not JSON ({e})")))?;
        out.push(row(&v).ok_or_else(|| Error::invalid(at(), format!("is not a {what} record")))?);
    }
    if out.is_empty() {
        return Err(Error::invalid(path.display().to_string(), format!("holds no {what} records")));
    }
    Ok(out)
}

/// The prompts of a JSON-lines file, one `{"prompt": "..."}` per line.
pub fn load_prompts(path: &Path) -> Result<Vec<String>> {
    read_jsonl(path, "{\"prompt\": ...}", |v| v["prompt"].as_str().map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.jsonl");
        std::fs::write(&f, "{\"prompt\": \"a\"}\n\n{\"prompt\": \"b\"}\n").unwrap();
        assert_eq!(load_prompts(&f).unwrap(), vec!["a", "b"]);
        std::fs::write(&f, "{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n").unwrap();
        let e = load_prompts(&f).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("prompt"), "{e}");
        std::fs::write(&f, "{\"prompt\": \"a\"\n").unwrap();
        assert!(load_prompts(&f).unwrap_err().to_string().contains("not JSON"));
        std::fs::write(&f, "\n").unwrap();
        assert!(load_prompts(&f).unwrap_err().to_string().contains("no"));
    }
}
