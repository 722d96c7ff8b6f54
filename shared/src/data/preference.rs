//! Preference pairs in the UltraFeedback format used by SimPO, DPO and most of the papers:
//! one row per prompt with `prompt`, `chosen` and `rejected`, the last two being chat
//! transcripts (lists of `{role, content}`) whose final message is the assistant's answer.
//! This is the schema of `HuggingFaceH4/ultrafeedback_binarized` and of the SimPO on-policy
//! sets (`princeton-nlp/llama3-ultrafeedback`, ...). Files are parquet (as on the hub) or
//! JSON lines with the same fields.

use crate::error::{Error, Result};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use serde::Deserialize;
use std::path::Path;

/// The one chat-turn type of the crate (re-exported so existing `data::preference::Message` paths work).
pub use crate::tokenize::chat::Message;

/// One preference pair: the conversation up to the answer, and the two answers.
#[derive(Clone, Debug, PartialEq)]
pub struct PreferencePair {
    pub prompt_id: String,
    /// Every message before the answer (usually one user turn).
    pub context: Vec<Message>,
    pub chosen: String,
    pub rejected: String,
}

#[derive(Deserialize)]
struct JsonRow {
    #[serde(default)]
    prompt_id: Option<String>,
    chosen: Vec<Message>,
    rejected: Vec<Message>,
}

/// Load pairs from a `.parquet` file or a `.jsonl` file.
pub fn load_pairs(path: &Path) -> Result<Vec<PreferencePair>> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => crate::io::guard_parser(path, "parquet file", || load_parquet(path)),
        Some("jsonl") => load_jsonl(path),
        _ => Err(Error::invalid(
            path.display().to_string(),
            "preference data must be .parquet (as on the Hugging Face hub) or .jsonl",
        )),
    }
}

fn load_jsonl(path: &Path) -> Result<Vec<PreferencePair>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = vec![];
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: JsonRow = serde_json::from_str(line)
            .map_err(|e| Error::Json { path: path.to_path_buf(), msg: format!("line {}: {e}", i + 1) })?;
        let id = row.prompt_id.unwrap_or_else(|| i.to_string());
        out.push(pair_from(path, i, id, row.chosen, row.rejected)?);
    }
    Ok(out)
}

fn load_parquet(path: &Path) -> Result<Vec<PreferencePair>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let bad = |msg: String| Error::invalid(path.display().to_string(), msg);
    let reader = SerializedFileReader::new(file).map_err(|e| bad(format!("not a readable parquet file: {e}")))?;
    let rows = reader.get_row_iter(None).map_err(|e| bad(format!("cannot read rows: {e}")))?;
    let mut out = vec![];
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| bad(format!("row {i}: {e}")))?;
        let chosen = messages(&row, "chosen").map_err(|m| bad(format!("row {i}: {m}")))?;
        let rejected = messages(&row, "rejected").map_err(|m| bad(format!("row {i}: {m}")))?;
        let id = column(&row, "prompt_id")
            .and_then(|f| if let Field::Str(s) = f { Some(s.clone()) } else { None })
            .unwrap_or_else(|| i.to_string());
        out.push(pair_from(path, i, id, chosen, rejected)?);
    }
    Ok(out)
}

fn column<'a>(row: &'a Row, name: &str) -> Option<&'a Field> {
    row.get_column_iter().find(|(n, _)| n.as_str() == name).map(|(_, f)| f)
}

fn messages(row: &Row, name: &str) -> std::result::Result<Vec<Message>, String> {
    let field = column(row, name).ok_or_else(|| format!("missing column `{name}` (expected the UltraFeedback schema)"))?;
    let Field::ListInternal(list) = field else {
        return Err(format!("column `{name}` is not a list of messages"));
    };
    list.elements()
        .iter()
        .map(|m| {
            let Field::Group(g) = m else { return Err(format!("`{name}` holds a non-message element")) };
            let text = |key: &str| match column(g, key) {
                Some(Field::Str(s)) => Ok(s.clone()),
                _ => Err(format!("a message in `{name}` has no string `{key}`")),
            };
            Ok(Message { role: text("role")?, content: text("content")? })
        })
        .collect()
}

fn pair_from(path: &Path, i: usize, prompt_id: String, chosen: Vec<Message>, rejected: Vec<Message>) -> Result<PreferencePair> {
    let bad = |msg: &str| Error::invalid(format!("{} row {i}", path.display()), msg.to_string());
    let (Some(cw), Some(rw)) = (chosen.last(), rejected.last()) else {
        return Err(bad("`chosen` and `rejected` must each hold at least the assistant's answer"));
    };
    if cw.role != "assistant" || rw.role != "assistant" {
        return Err(bad("the last message of `chosen` and `rejected` must be the assistant's"));
    }
    let context = chosen[..chosen.len() - 1].to_vec();
    if context != rejected[..rejected.len() - 1] {
        return Err(bad("`chosen` and `rejected` must share the conversation before the answer"));
    }
    Ok(PreferencePair { prompt_id, context, chosen: cw.content.clone(), rejected: rw.content.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ultrafeedback-tiny/data").join(name)
    }

    #[test]
    fn reads_the_upstream_parquet_schema() {
        let pairs = load_pairs(&fixture("train_prefs-00000-of-00001.parquet")).unwrap();
        assert_eq!(pairs.len(), 4);
        assert_eq!(pairs[1].context, vec![Message { role: "user".into(), content: "What is 2 + 3?".into() }]);
        assert_eq!(pairs[1].chosen, "2 + 3 = 5.");
        assert_eq!(pairs[1].rejected, "It is 6.");
    }

    #[test]
    fn jsonl_and_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.jsonl");
        std::fs::write(&p, r#"{"chosen":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}],"rejected":[{"role":"user","content":"hi"},{"role":"assistant","content":"go"}]}"#).unwrap();
        assert_eq!(load_pairs(&p).unwrap()[0].rejected, "go");
        std::fs::write(&p, r#"{"chosen":[{"role":"user","content":"hi"}],"rejected":[{"role":"user","content":"hi"}]}"#).unwrap();
        let err = load_pairs(&p).unwrap_err().to_string();
        assert!(err.contains("row 0") && err.contains("assistant"), "{err}");
        std::fs::write(&p, "{not json").unwrap();
        assert!(load_pairs(&p).unwrap_err().to_string().contains("line 1"));
        let corrupt = dir.path().join("x.parquet");
        std::fs::write(&corrupt, b"PAR1 garbage").unwrap();
        assert!(load_pairs(&corrupt).unwrap_err().to_string().contains("parquet"));
    }
}
