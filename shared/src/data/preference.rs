//! Preference pairs in the UltraFeedback format used by SimPO, DPO and most of the papers:
//! one row per prompt with `prompt`, `chosen` and `rejected`, the last two being chat
//! transcripts (lists of `{role, content}`) whose final message is the assistant's answer.
//! This is the schema of `HuggingFaceH4/ultrafeedback_binarized` and of the SimPO on-policy
//! sets (`princeton-nlp/llama3-ultrafeedback`, ...). Files are parquet (as on the hub) or
//! JSON lines with the same fields.
//!
//! The plain-text form is read too: `chosen` and `rejected` as strings (the answers) with the
//! user turn in a string column `prompt` or `instruction` (TGDPO's `mk1111/*-ultrafeedback*`
//! sets, RewardBench's `allenai/reward-bench`). A string column `subset` (RewardBench's section
//! subsets) is kept when present.

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
    /// RewardBench's `subset` column (None in datasets without one).
    pub subset: Option<String>,
}

/// An answer column: a chat transcript ending with the assistant's message, or the answer's text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Answer {
    Chat(Vec<Message>),
    Text(String),
}

#[derive(Deserialize)]
struct JsonRow {
    #[serde(default)]
    prompt_id: Option<String>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    prompt: Option<serde_json::Value>,
    #[serde(default)]
    instruction: Option<String>,
    #[serde(default)]
    subset: Option<String>,
    chosen: Answer,
    rejected: Answer,
}

/// The pairs of `files` of a dataset (`spec`: a hub dataset id or a local folder, files at their
/// repository paths), in file order, at most `max` of them (files past the limit are not read).
/// A missing file is an error naming it; no pairs at all is an error too.
pub fn load_dataset(spec: &str, files: &[String], max: Option<usize>) -> Result<Vec<PreferencePair>> {
    let mut out = vec![];
    for f in files {
        out.extend(load_pairs(&crate::hub::dataset_file(spec, f)?)?);
        if max.is_some_and(|m| out.len() >= m) {
            break;
        }
    }
    if let Some(m) = max {
        out.truncate(m);
    }
    if out.is_empty() {
        return Err(Error::invalid(format!("dataset {spec} ({files:?})"), "holds no preference pairs"));
    }
    Ok(out)
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
        let id = row.prompt_id.or_else(|| row.id.map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).unwrap_or_else(|| i.to_string());
        let prompt = row.instruction.or_else(|| row.prompt.and_then(|v| v.as_str().map(str::to_string)));
        let (chosen, rejected) = match (row.chosen, row.rejected) {
            (Answer::Chat(c), Answer::Chat(r)) => (c, r),
            (Answer::Text(c), Answer::Text(r)) => text_pair(path, i, prompt, c, r)?,
            _ => return Err(Error::invalid(format!("{} row {i}", path.display()), "`chosen` and `rejected` must both be chat transcripts or both be strings")),
        };
        let mut p = pair_from(path, i, id, chosen, rejected)?;
        p.subset = row.subset;
        out.push(p);
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
        let text = |name: &str| column(&row, name).and_then(|f| if let Field::Str(s) = f { Some(s.clone()) } else { None });
        let (chosen, rejected) = match (text("chosen"), text("rejected")) {
            (Some(c), Some(r)) => text_pair(path, i, text("instruction").or_else(|| text("prompt")), c, r)?,
            _ => (
                messages(&row, "chosen").map_err(|m| bad(format!("row {i}: {m}")))?,
                messages(&row, "rejected").map_err(|m| bad(format!("row {i}: {m}")))?,
            ),
        };
        let id = text("prompt_id")
            .or_else(|| column(&row, "id").map(|f| if let Field::Str(s) = f { s.clone() } else { f.to_string() }))
            .unwrap_or_else(|| i.to_string());
        let mut p = pair_from(path, i, id, chosen, rejected)?;
        p.subset = text("subset");
        out.push(p);
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

/// The plain-text form as transcripts: one user turn, then the answer.
fn text_pair(path: &Path, i: usize, prompt: Option<String>, chosen: String, rejected: String) -> Result<(Vec<Message>, Vec<Message>)> {
    let prompt = prompt.ok_or_else(|| Error::invalid(format!("{} row {i}", path.display()), "`chosen` and `rejected` are strings but there is no string `prompt` or `instruction` column"))?;
    let turn = |answer: String| vec![Message { role: "user".into(), content: prompt.clone() }, Message { role: "assistant".into(), content: answer }];
    Ok((turn(chosen), turn(rejected)))
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
    Ok(PreferencePair { prompt_id, context, chosen: cw.content.clone(), rejected: rw.content.clone(), subset: None })
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
        // The plain-text form (TGDPO's datasets, RewardBench) with RewardBench's subset and id.
        std::fs::write(&p, "{\"instruction\":\"add 2 3\",\"chosen\":\"5\",\"rejected\":\"6\"}\n{\"prompt\":\"hi\",\"chosen\":\"hello\",\"rejected\":\"go\",\"subset\":\"mt-bench-easy\",\"id\":7}").unwrap();
        let t = load_pairs(&p).unwrap();
        assert_eq!((t[0].context.clone(), t[0].chosen.as_str(), t[0].subset.clone()), (vec![Message { role: "user".into(), content: "add 2 3".into() }], "5", None));
        assert_eq!((t[1].prompt_id.as_str(), t[1].subset.as_deref()), ("7", Some("mt-bench-easy")));
        std::fs::write(&p, r#"{"chosen":"a","rejected":"b"}"#).unwrap();
        assert!(load_pairs(&p).unwrap_err().to_string().contains("`instruction`"));
        std::fs::write(&p, r#"{"prompt":"x","chosen":"a","rejected":[{"role":"assistant","content":"b"}]}"#).unwrap();
        assert!(load_pairs(&p).unwrap_err().to_string().contains("both"));
        let corrupt = dir.path().join("x.parquet");
        std::fs::write(&corrupt, b"PAR1 garbage").unwrap();
        assert!(load_pairs(&corrupt).unwrap_err().to_string().contains("parquet"));
    }
}
