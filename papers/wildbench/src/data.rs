//! Loading the upstream files (plain or `.gz`) laid out like `allenai/WildBench`:
//! the count tables, `score.json`, `all_stat.json`, `wb_elo_results.json`, the merged
//! leaderboards, and discovery of the per-record judgement files present.

use crate::reward::{CountRow, PairwiseRecord};
use crate::score::{ScoreRecord, ScoreRow};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use shared::io::{read_json, resolve_maybe_gz};
use shared::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The three references: short name (tables) and model id (files).
pub const REFERENCES: [(&str, &str); 3] =
    [("haiku", "claude-3-haiku-20240307"), ("llama", "Llama-2-70b-chat-hf"), ("gpt4t", "gpt-4-turbo-2024-04-09")];
/// K values with a pairwise table upstream (−1 = no length penalty, the paper's K=∞).
pub const TABLE_KS: [i64; 4] = [-1, 500, 1000, 1500];
/// K values with a merged leaderboard upstream.
pub const LEADERBOARD_KS: [i64; 8] = [-1, 100, 300, 500, 1000, 1500, 2000, 3000];

/// A JSON object whose key order matters (the leaderboard's row order is `all_stat.json`'s).
#[derive(Debug, Clone)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Ordered<V> {
    pub fn get(&self, k: &str) -> Option<&V> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v)
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V2<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
                let mut out = vec![];
                while let Some((k, v)) = m.next_entry::<String, V>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V2(std::marker::PhantomData))
    }
}

/// One snapshot of `leaderboard/data_dir`: HEAD, or the paper-era `history/8ed3a40`.
#[derive(Debug, Clone)]
pub struct DataDir {
    pub dir: PathBuf,
}

impl DataDir {
    pub fn head(root: &Path) -> Self {
        DataDir { dir: root.join("leaderboard/data_dir") }
    }
    pub fn history(root: &Path) -> Self {
        DataDir { dir: root.join("history/8ed3a40/leaderboard/data_dir") }
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn exists(&self, name: &str) -> bool {
        resolve_maybe_gz(&self.file(name)).is_some()
    }
    /// `pairwise-<ref>-K=<K>.json`, `None` when upstream has no such table.
    pub fn pairwise(&self, reference: &str, k: i64) -> Result<Option<Ordered<CountRow>>> {
        let name = format!("pairwise-{reference}-K={k}.json");
        if !self.exists(&name) {
            return Ok(None);
        }
        read_json(&self.file(&name)).map(Some)
    }
    pub fn score(&self) -> Result<Ordered<ScoreRow>> {
        read_json(&self.file("score.json"))
    }
    pub fn all_stat(&self) -> Result<Ordered<serde_json::Map<String, serde_json::Value>>> {
        read_json(&self.file("all_stat.json"))
    }
    /// `elo_stat[model].avg` of `wb_elo_results.json`.
    pub fn wb_elo(&self) -> Result<BTreeMap<String, f64>> {
        let path = self.file("wb_elo_results.json");
        let v: serde_json::Value = read_json(&path)?;
        let stat = v.get("elo_stat").and_then(|s| s.as_object()).ok_or_else(|| Error::Json { path: path.clone(), msg: "no `elo_stat` object".into() })?;
        let mut out = BTreeMap::new();
        for (m, s) in stat {
            let avg = s.get("avg").and_then(|a| a.as_f64()).ok_or_else(|| Error::Json { path: path.clone(), msg: format!("elo_stat[{m:?}] has no numeric `avg`") })?;
            out.insert(m.clone(), avg);
        }
        Ok(out)
    }
    /// The merged leaderboard `all_stat_wildbench.<K>.json` (the golden output).
    pub fn merged(&self, k: i64) -> Result<Ordered<serde_json::Map<String, serde_json::Value>>> {
        read_json(&self.file(&format!("all_stat_wildbench.{k}.json")))
    }
}

/// A per-record judgement file found under `eval_results/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct JudgementFile {
    /// `v2.0522` or `v2.0625`.
    pub version: String,
    /// The judge model, from `eval=<judge>`.
    pub judge: String,
    /// For pairwise files, the reference id from `ref=<REF>`.
    pub reference: Option<String>,
    pub model: String,
    pub path: PathBuf,
}

fn dirs(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}
fn json_files(p: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let model = name.strip_suffix(".json.gz").or_else(|| name.strip_suffix(".json"))?.to_string();
            Some((model, p))
        })
        .collect();
    v.sort();
    v
}
fn last(p: &Path) -> String {
    p.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default()
}

/// Every `eval_results/<ver>/<kind>/eval=<judge>/[ref=<REF>/]<model>.json[.gz]` present,
/// `kind` = `score.v2` or `pairwise.v2`. Models are discovered from the files.
pub fn discover(root: &Path, kind: &str) -> Vec<JudgementFile> {
    let mut out = vec![];
    for ver in dirs(&root.join("eval_results")) {
        for judge_dir in dirs(&ver.join(kind)) {
            let Some(judge) = last(&judge_dir).strip_prefix("eval=").map(str::to_string) else { continue };
            let leaves: Vec<(Option<String>, PathBuf)> = if kind.starts_with("pairwise") {
                dirs(&judge_dir).into_iter().filter_map(|d| last(&d).strip_prefix("ref=").map(|r| (Some(r.to_string()), d.clone()))).collect()
            } else {
                vec![(None, judge_dir.clone())]
            };
            for (reference, leaf) in leaves {
                for (model, path) in json_files(&leaf) {
                    out.push(JudgementFile { version: last(&ver), judge: judge.clone(), reference: reference.clone(), model, path });
                }
            }
        }
    }
    out.sort();
    out
}

pub fn read_score_records(path: &Path) -> Result<Vec<ScoreRecord>> {
    read_json(path)
}
pub fn read_pairwise_records(path: &Path) -> Result<Vec<PairwiseRecord>> {
    read_json(path)
}

/// A number from an external column (`"82.6"`, `1251`, or `"-"` = missing).
pub fn ext_number(v: Option<&serde_json::Value>) -> Option<f64> {
    match v? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
