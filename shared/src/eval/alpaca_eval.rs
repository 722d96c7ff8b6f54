//! Loaders for AlpacaEval 2.0 artifacts laid out like upstream `tatsu-lab/alpaca_eval`:
//! judge annotations (`results/<model>/weighted_alpaca_eval_gpt4_turbo/annotations.json[.gz]`),
//! model outputs, the leaderboard CSV, the stored LC GLM weights, `notebooks/benchmarks.csv`
//! (Chatbot Arena Elo) and, when a copy is at hand, upstream's `instruction_difficulty.csv`.
//!
//! Models are discovered from the annotation files present, never from a fixed list, and are
//! keyed by folder name (NullModel's `generator_2` is `example`). Every error names the file and,
//! for a bad record, its 0-based position.

use super::lc_glm::GlmWeights;
use super::winrate::{preference_to_prob, win_rate, WinRate};
use crate::error::{Error, Result};
use crate::io::{read_maybe_gz, resolve_maybe_gz};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const ANNOTATOR: &str = "weighted_alpaca_eval_gpt4_turbo";
pub const BASELINE: &str = "gpt4_1106_preview";

/// Paths inside an AlpacaEval folder.
pub fn annotations_path(root: &Path, model: &str) -> PathBuf {
    root.join("results").join(model).join(ANNOTATOR).join("annotations.json")
}
pub fn model_outputs_path(root: &Path, model: &str) -> PathBuf {
    root.join("results").join(model).join("model_outputs.json")
}
pub fn leaderboard_path(root: &Path) -> PathBuf {
    root.join("src/alpaca_eval/leaderboards/data_AlpacaEval_2").join(format!("{ANNOTATOR}_leaderboard.csv"))
}
pub fn weights_path(root: &Path) -> PathBuf {
    root.join("src/alpaca_eval/metrics/weights").join(ANNOTATOR).join("length_controlled_v1").join(format!("baseline_{BASELINE}.csv"))
}
pub fn benchmarks_path(root: &Path) -> PathBuf {
    root.join("notebooks/benchmarks.csv")
}

/// One judged instruction.
#[derive(Debug, Clone)]
pub struct Annotation {
    pub instruction: String,
    pub output_1: String,
    pub output_2: String,
    pub generator_1: String,
    pub generator_2: String,
    /// AlpacaEval scale [1, 2] (or legacy 0); None = the judge gave no preference (JSON null).
    pub preference: Option<f64>,
}

/// One model's annotation file.
#[derive(Debug, Clone)]
pub struct ModelAnnotations {
    pub model: String,
    pub path: PathBuf,
    pub rows: Vec<Annotation>,
}

impl ModelAnnotations {
    pub fn preferences(&self) -> Vec<Option<f64>> {
        self.rows.iter().map(|r| r.preference).collect()
    }
    /// y = preference mapped to [0, 1] (validated at load time).
    pub fn win_probs(&self) -> Vec<Option<f64>> {
        self.rows.iter().map(|r| r.preference.map(|p| preference_to_prob(p).expect("validated at load"))).collect()
    }
    /// len(output_1) - len(output_2) in Unicode scalar values, per row.
    pub fn delta_len(&self) -> Vec<f64> {
        self.rows.iter().map(|r| r.output_1.chars().count() as f64 - r.output_2.chars().count() as f64).collect()
    }
    /// The baseline judged against itself (upstream: generator_1 == generator_2).
    pub fn is_baseline_vs_itself(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.generator_1 == r.generator_2)
    }
    pub fn win_rate(&self) -> Result<WinRate> {
        win_rate(&self.preferences()).map_err(|e| Error::invalid(self.path.display().to_string(), e.to_string()))
    }
    /// Mean output length computed from the annotations (upstream uses the outputs file).
    pub fn avg_length(&self) -> usize {
        super::winrate::avg_length(&self.rows.iter().map(|r| r.output_2.as_str()).collect::<Vec<_>>())
    }
}

/// Every model with an annotation file (plain or .gz) under `root/results`, sorted by name.
pub fn discover_models(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("results");
    let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut out = vec![];
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if resolve_maybe_gz(&annotations_path(root, &name)).is_some() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

fn record_err(path: &Path, i: usize, msg: impl Into<String>) -> Error {
    Error::invalid(format!("{}: record {i}", path.display()), msg)
}

fn str_field(path: &Path, i: usize, rec: &serde_json::Map<String, Value>, key: &str) -> Result<String> {
    match rec.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Err(record_err(path, i, format!("field `{key}` is missing"))),
        Some(other) => Err(record_err(path, i, format!("field `{key}` should be a string, found {other}"))),
    }
}

/// Parse a model's annotation file (`.json` or `.json.gz`). A record without a `preference`
/// field, a preference that is not a number, or one outside {0} U [1, 2] is an error naming the
/// file and record; `"preference": null` is allowed (upstream: the judge failed) and skipped by
/// the metrics.
pub fn load_annotations(root: &Path, model: &str) -> Result<ModelAnnotations> {
    let want = annotations_path(root, model);
    let path = resolve_maybe_gz(&want).unwrap_or(want);
    let bytes = read_maybe_gz(&path)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Json { path: path.clone(), msg: e.to_string() })?;
    let Value::Array(records) = value else {
        return Err(Error::Json { path, msg: "expected a JSON array of annotation records".into() });
    };
    let mut rows = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let Value::Object(rec) = rec else { return Err(record_err(&path, i, "not a JSON object")) };
        let preference = match rec.get("preference") {
            None => return Err(record_err(&path, i, "has no `preference` field (re-run the annotator or drop the record)")),
            Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                let p = n.as_f64().unwrap_or(f64::NAN);
                preference_to_prob(p).map_err(|e| record_err(&path, i, e.to_string()))?;
                Some(p)
            }
            Some(other) => return Err(record_err(&path, i, format!("`preference` should be a number in [1, 2], found {other}"))),
        };
        rows.push(Annotation {
            instruction: str_field(&path, i, rec, "instruction")?,
            output_1: str_field(&path, i, rec, "output_1")?,
            output_2: str_field(&path, i, rec, "output_2")?,
            generator_1: str_field(&path, i, rec, "generator_1")?,
            generator_2: str_field(&path, i, rec, "generator_2")?,
            preference,
        });
    }
    if rows.is_empty() {
        return Err(Error::Json { path, msg: "no annotation records".into() });
    }
    Ok(ModelAnnotations { model: model.to_string(), path, rows })
}

/// A model's instructions must be the baseline's, in the same order (a file may lack some rows).
/// The error names the first record that breaks this.
pub fn check_instructions(model: &ModelAnnotations, baseline_instructions: &[String]) -> Result<()> {
    let mut j = 0;
    for (i, r) in model.rows.iter().enumerate() {
        while j < baseline_instructions.len() && baseline_instructions[j] != r.instruction {
            j += 1;
        }
        if j == baseline_instructions.len() {
            let short: String = r.instruction.chars().take(60).collect();
            return Err(record_err(&model.path, i, format!("instruction {short:?} is not among the baseline's instructions (or is out of order); this file was judged on another instruction set")));
        }
        j += 1;
    }
    Ok(())
}

/// The `output` field of a model outputs file, in order.
pub fn load_model_outputs(path: &Path) -> Result<Vec<String>> {
    let real = resolve_maybe_gz(path).unwrap_or(path.to_path_buf());
    let bytes = read_maybe_gz(&real)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Json { path: real.clone(), msg: e.to_string() })?;
    let Value::Array(records) = value else { return Err(Error::Json { path: real, msg: "expected a JSON array".into() }) };
    records
        .iter()
        .enumerate()
        .map(|(i, r)| match r.get("output") {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(record_err(&real, i, "field `output` is missing or not a string")),
        })
        .collect()
}

/// One leaderboard row (percentages x100; LC columns empty for older rows).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeaderboardRow {
    pub model: String,
    pub win_rate: f64,
    pub standard_error: f64,
    pub n_wins: usize,
    pub n_wins_base: usize,
    pub n_draws: usize,
    pub n_total: usize,
    pub discrete_win_rate: f64,
    pub mode: String,
    pub avg_length: usize,
    pub length_controlled_winrate: Option<f64>,
    pub lc_standard_error: Option<f64>,
}

fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<csv::StringRecord>)> {
    let bytes = read_maybe_gz(path)?;
    let mut r = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(&bytes[..]);
    let headers: Vec<String> = r.headers().map_err(|e| Error::Csv { path: path.into(), msg: e.to_string() })?.iter().map(String::from).collect();
    let rows = r.records().collect::<std::result::Result<Vec<_>, _>>().map_err(|e| Error::Csv { path: path.into(), msg: e.to_string() })?;
    Ok((headers, rows))
}

fn col(path: &Path, headers: &[String], pred: impl Fn(&str) -> bool, what: &str) -> Result<usize> {
    headers.iter().position(|h| pred(h)).ok_or_else(|| Error::Csv { path: path.into(), msg: format!("no column {what}") })
}

fn num<T: std::str::FromStr>(path: &Path, row: usize, field: &str, s: &str) -> Result<T> {
    s.trim().parse().map_err(|_| Error::Csv { path: path.into(), msg: format!("row {row}, column `{field}`: {s:?} is not a number") })
}

fn opt_num(path: &Path, row: usize, field: &str, s: &str) -> Result<Option<f64>> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        num(path, row, field, s).map(Some)
    }
}

/// The leaderboard CSV (first, unnamed column = model name), in file order.
pub fn load_leaderboard(path: &Path) -> Result<Vec<LeaderboardRow>> {
    let (h, rows) = read_csv(path)?;
    let c = |name: &str| col(path, &h, |x| x == name, &format!("`{name}`"));
    let (wr, se, nw, nb, nd, nt, dw, mode, al, lc, lcse) = (
        c("win_rate")?, c("standard_error")?, c("n_wins")?, c("n_wins_base")?, c("n_draws")?, c("n_total")?,
        c("discrete_win_rate")?, c("mode")?, c("avg_length")?, c("length_controlled_winrate")?, c("lc_standard_error")?,
    );
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let f = |j: usize| r.get(j).unwrap_or("");
            Ok(LeaderboardRow {
                model: f(0).to_string(),
                win_rate: num(path, i, "win_rate", f(wr))?,
                standard_error: num(path, i, "standard_error", f(se))?,
                n_wins: num(path, i, "n_wins", f(nw))?,
                n_wins_base: num(path, i, "n_wins_base", f(nb))?,
                n_draws: num(path, i, "n_draws", f(nd))?,
                n_total: num(path, i, "n_total", f(nt))?,
                discrete_win_rate: num(path, i, "discrete_win_rate", f(dw))?,
                mode: f(mode).to_string(),
                avg_length: num(path, i, "avg_length", f(al))?,
                length_controlled_winrate: opt_num(path, i, "length_controlled_winrate", f(lc))?,
                lc_standard_error: opt_num(path, i, "lc_standard_error", f(lcse))?,
            })
        })
        .collect()
}

/// Stored GLM weights (index = model), in file order.
pub fn load_glm_weights(path: &Path) -> Result<Vec<(String, GlmWeights)>> {
    let (h, rows) = read_csv(path)?;
    let wl = col(path, &h, |x| x.contains("std_delta_len"), "`np.tanh(std_delta_len)`")?;
    let wd = col(path, &h, |x| x == "instruction_difficulty", "`instruction_difficulty`")?;
    let wb = col(path, &h, |x| x.contains("not_gamed_baseline"), "`not_gamed_baseline.astype(float)`")?;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let f = |j: usize| r.get(j).unwrap_or("");
            Ok((f(0).to_string(), GlmWeights { w_len: num(path, i, "w_len", f(wl))?, w_diff: num(path, i, "w_diff", f(wd))?, w_bias: num(path, i, "w_bias", f(wb))? }))
        })
        .collect()
}

/// Rows of `notebooks/benchmarks.csv`: model, Arena Elo [Feb 2, 2024], LC AlpacaEval 2.0, AlpacaEval 2.0.
#[derive(Debug, Clone)]
pub struct BenchmarkRow {
    pub model: String,
    pub arena_elo: Option<f64>,
    pub lc_alpaca_eval: Option<f64>,
    pub alpaca_eval: Option<f64>,
}

pub fn load_benchmarks(path: &Path) -> Result<Vec<BenchmarkRow>> {
    let (h, rows) = read_csv(path)?;
    let m = col(path, &h, |x| x == "Model", "`Model`")?;
    let elo = col(path, &h, |x| x.starts_with("Arena Elo") && x.contains("Feb 2, 2024"), "`Arena Elo [Feb 2, 2024]`")?;
    let lc = col(path, &h, |x| x == "LC AlpacaEval 2.0", "`LC AlpacaEval 2.0`")?;
    let ae = col(path, &h, |x| x == "AlpacaEval 2.0", "`AlpacaEval 2.0`")?;
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let f = |j: usize| r.get(j).unwrap_or("");
            Ok(BenchmarkRow {
                model: f(m).to_string(),
                arena_elo: opt_num(path, i, "Arena Elo", f(elo))?,
                lc_alpaca_eval: opt_num(path, i, "LC AlpacaEval 2.0", f(lc))?,
                alpaca_eval: opt_num(path, i, "AlpacaEval 2.0", f(ae))?,
            })
        })
        .collect()
}

/// Upstream's `instruction_difficulty.csv` (Hugging Face dataset `tatsu-lab/alpaca_eval`): one
/// row per instruction in evaluation-set order; the column `instruction_difficulty` (else the
/// last column) holds the value.
pub fn load_instruction_difficulty(path: &Path) -> Result<Vec<f64>> {
    let (h, rows) = read_csv(path)?;
    let j = h.iter().position(|x| x == "instruction_difficulty").unwrap_or(h.len().saturating_sub(1));
    rows.iter().enumerate().map(|(i, r)| num(path, i, &h[j], r.get(j).unwrap_or(""))).collect()
}

/// Look-up of leaderboard rows by model.
pub fn by_model<T: Clone>(rows: &[(String, T)]) -> HashMap<String, T> {
    rows.iter().cloned().collect()
}
