//! WB-Score (spec §4.3): a checklist judge's 1–10 scores, rescaled `(s − 5)·2`, averaged
//! overall (every record) and per category (only outputs the judge saw whole), and the
//! weighted category macro. [`ChecklistScorer`] is generic over the categories so the
//! miniature world's checklist judge can reuse it.

use crate::groups::MacroWeights;
use crate::reward::TRUNCATED_SUFFIX;
use shared::{Error, Result};
use std::collections::{BTreeMap, HashMap};

/// `(s − 5)·2`: maps 1..10 onto −8..10, 5 ("fair but flawed") onto 0.
pub fn rescale(s: f64) -> f64 {
    (s - 5.0) * 2.0
}

/// One per-record score judgement (upstream `score.v2/eval=<judge>/<MODEL>.json`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ScoreRecord {
    pub session_id: String,
    #[serde(default)]
    pub model_test: Option<String>,
    /// A string "1".."10" upstream; a JSON number is accepted too.
    #[serde(default)]
    pub score: Option<serde_json::Value>,
    #[serde(default)]
    pub model_output: Option<String>,
    #[serde(default)]
    pub parsed_result: Option<serde_json::Value>,
}

impl ScoreRecord {
    /// The score as a number in 1..=10; a missing or malformed score is an error naming the session.
    pub fn value(&self) -> Result<f64> {
        let what = || format!("score record {}", self.session_id);
        let v = self.score.as_ref().ok_or_else(|| Error::invalid(what(), "has no `score` field (the judge's answer was not parsed?)"))?;
        let x = match v {
            serde_json::Value::String(s) => s.trim().parse::<f64>().map_err(|_| Error::invalid(what(), format!("score {s:?} is not a number")))?,
            serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            other => return Err(Error::invalid(what(), format!("score {other} is neither a string nor a number"))),
        };
        if !(1.0..=10.0).contains(&x) {
            return Err(Error::invalid(what(), format!("score {x} is outside 1..10")));
        }
        Ok(x)
    }
    /// Did the judge see the output whole? (not cut at 1,000 words, not the empty string)
    pub fn whole(&self) -> bool {
        let o = self.model_output.as_deref().unwrap_or("");
        !o.is_empty() && !o.ends_with(TRUNCATED_SUFFIX)
    }
}

/// What `score.json` holds for one model, all on the 1–10 / rescaled scales (not ×10).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreSummary {
    /// Mean raw score over all records.
    pub score: f64,
    /// `rescale(score)`.
    pub adjusted: f64,
    /// Rescaled mean per category (whole outputs only); empty without a session → category map.
    pub groups: BTreeMap<String, f64>,
    /// The weighted macro of `groups`; `None` without categories.
    pub task_macro: Option<f64>,
    pub total: usize,
    /// Mean character length of the whole outputs.
    pub avg_len: f64,
}

/// A checklist judge's scores → the summary. Categories and weights are parameters.
pub struct ChecklistScorer {
    pub weights: MacroWeights,
}

impl ChecklistScorer {
    /// `items`: (score 1..10, output text the judge saw, judged whole?, categories).
    pub fn summarize<'a>(&self, items: impl IntoIterator<Item = (f64, &'a str, bool, &'a [String])>) -> Result<ScoreSummary> {
        let (mut sum, mut n, mut len_sum, mut len_n) = (0.0, 0usize, 0usize, 0usize);
        let mut per: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for (s, text, whole, cats) in items {
            sum += s;
            n += 1;
            if whole {
                len_sum += text.chars().count();
                len_n += 1;
                for c in cats {
                    let e = per.entry(c.clone()).or_default();
                    e.0 += s;
                    e.1 += 1;
                }
            }
        }
        if n == 0 {
            return Err(Error::invalid("score records", "none to summarise"));
        }
        let groups: BTreeMap<String, f64> = per.into_iter().map(|(g, (s, k))| (g, rescale(s / k as f64))).collect();
        let task_macro = if groups.is_empty() { None } else { Some(self.weights.macro_avg(&groups)?) };
        let score = sum / n as f64;
        Ok(ScoreSummary {
            score,
            adjusted: rescale(score),
            groups,
            task_macro,
            total: n,
            avg_len: if len_n > 0 { len_sum as f64 / len_n as f64 } else { 0.0 },
        })
    }

    /// WildBench score records → summary; `session_groups` maps a session to its categories.
    pub fn summarize_records(&self, records: &[ScoreRecord], session_groups: Option<&HashMap<String, Vec<String>>>) -> Result<ScoreSummary> {
        let none: Vec<String> = vec![];
        let mut items = Vec::with_capacity(records.len());
        for r in records {
            let cats = session_groups.and_then(|m| m.get(&r.session_id)).unwrap_or(&none);
            items.push((r.value()?, r.model_output.as_deref().unwrap_or(""), r.whole(), cats.as_slice()));
        }
        self.summarize(items)
    }
}

/// One row of the published `score.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ScoreRow {
    pub score: f64,
    pub adjusted_score: f64,
    pub task_macro_score: f64,
    #[serde(default)]
    pub adjusted_task_macro_score: Option<f64>,
    pub task_categorized_scores: BTreeMap<String, f64>,
    pub total: usize,
    pub avg_len: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groups::*;

    #[test]
    fn spec_score_vector() {
        let cats = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (c1, c2, c3, c4, c5) = (cats(&[CREATIVE]), cats(&[CREATIVE, PLANNING]), cats(&[CODING]), cats(&[MATH]), cats(&[INFO]));
        let trunc = format!("abc{TRUNCATED_SUFFIX}");
        let items = vec![
            (8.0, "aaaa", true, c1.as_slice()),
            (6.0, "bb", true, c2.as_slice()),
            (10.0, "c", true, c3.as_slice()),
            (3.0, trunc.as_str(), false, c4.as_slice()),
            (7.0, "ddd", true, c5.as_slice()),
        ];
        let s = ChecklistScorer { weights: MacroWeights::current() }.summarize(items).unwrap();
        assert!((s.score - 6.8).abs() < 1e-12);
        assert!((s.adjusted * 10.0 - 36.0).abs() < 1e-9);
        assert_eq!(s.groups[CREATIVE], 4.0);
        assert_eq!(s.groups[PLANNING], 2.0);
        assert_eq!(s.groups[CODING], 10.0);
        assert_eq!(s.groups[INFO], 4.0);
        assert!(!s.groups.contains_key(MATH));
        assert!((s.task_macro.unwrap() - 20.0 / 4.75).abs() < 1e-12);
        assert!((s.task_macro.unwrap() * 10.0 - 42.105263).abs() < 1e-6);
        assert_eq!(s.avg_len, 2.5);
    }

    fn rec(score: Option<serde_json::Value>) -> ScoreRecord {
        ScoreRecord { session_id: "abc".into(), model_test: None, score, model_output: Some("x".into()), parsed_result: None }
    }

    #[test]
    fn malformed_scores_are_errors() {
        assert_eq!(rec(Some("7".into())).value().unwrap(), 7.0);
        assert_eq!(rec(Some(serde_json::json!(9))).value().unwrap(), 9.0);
        for bad in [None, Some("seven".into()), Some("11".into()), Some(serde_json::json!(null))] {
            let e = rec(bad).value().unwrap_err().to_string();
            assert!(e.contains("abc"), "{e}");
        }
    }

    #[test]
    fn empty_string_is_not_whole_but_counts_overall() {
        let mut r = rec(Some("1".into()));
        r.model_output = Some(String::new());
        let s = ChecklistScorer { weights: MacroWeights::current() }.summarize_records(&[r, rec(Some("9".into()))], None).unwrap();
        assert_eq!((s.score, s.total, s.avg_len), (5.0, 2, 1.0));
    }
}
