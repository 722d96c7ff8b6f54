//! WB-Reward (spec §4.1–4.2): the judge's five-way choice, the length rule with margin K,
//! outcome counts, the reward per reference, per group and the task macro, and the mixture
//! over the three references. Computed from per-record judgements when they exist and from
//! the published outcome counts otherwise; both paths meet in [`RefResult`].

use crate::groups::MacroWeights;
use shared::{Error, Result};
use std::collections::{BTreeMap, HashMap};

/// What an output ends with when the judge saw it cut at 1,000 words.
pub const TRUNCATED_SUFFIX: &str = "... (truncated)";
/// How an empty output was shown to the pairwise judge.
pub const EMPTY_MARKER: &str = "[This model response is empty.]";

/// The judge's verdict, `choice` in its JSON answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    AMuchBetter,
    ABetter,
    Same,
    BBetter,
    BMuchBetter,
}

impl Choice {
    /// `A++`, `A+`, `A=B`, `B+`, `B++`; anything else is an error (upstream drops such records).
    pub fn parse(s: &str) -> Result<Choice> {
        Ok(match s.trim() {
            "A++" => Choice::AMuchBetter,
            "A+" => Choice::ABetter,
            "A=B" => Choice::Same,
            "B+" => Choice::BBetter,
            "B++" => Choice::BMuchBetter,
            other => return Err(Error::invalid(format!("judge choice {other:?}"), "expected one of A++, A+, A=B, B+, B++")),
        })
    }
    /// The record fields `(winner, extent)`: winner is model A, model B or the literal "tie".
    pub fn winner_extent<'a>(self, model_a: &'a str, model_b: &'a str) -> (&'a str, u8) {
        match self {
            Choice::AMuchBetter => (model_a, 2),
            Choice::ABetter => (model_a, 1),
            Choice::Same => ("tie", 0),
            Choice::BBetter => (model_b, 1),
            Choice::BMuchBetter => (model_b, 2),
        }
    }
}

/// The five outcomes for the test model, scored +1, +0.5, 0, −0.5, −1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    WinMuch,
    Win,
    Tie,
    Lose,
    LoseMuch,
}

/// The length margin K: a slight win/loss becomes a tie when the winner is more than K
/// characters longer. `K = -1` in upstream files (the paper's K=∞) means no penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Margin {
    Infinite,
    Chars(usize),
}

impl Margin {
    pub fn from_k(k: i64) -> Margin {
        if k < 0 { Margin::Infinite } else { Margin::Chars(k as usize) }
    }
    pub fn k(self) -> i64 {
        match self {
            Margin::Infinite => -1,
            Margin::Chars(k) => k as i64,
        }
    }
    /// Is a text of `winner_len` characters penalised against one of `loser_len`? (strict `>`)
    fn penalises(self, winner_len: usize, loser_len: usize) -> bool {
        matches!(self, Margin::Chars(k) if winner_len > loser_len + k)
    }
}

/// Outcome counts (`win_much, win, tie, lose, lose_much`), as in the upstream tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Counts {
    pub win_much: u64,
    pub win: u64,
    pub tie: u64,
    pub lose: u64,
    pub lose_much: u64,
}

impl Counts {
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::WinMuch => self.win_much += 1,
            Outcome::Win => self.win += 1,
            Outcome::Tie => self.tie += 1,
            Outcome::Lose => self.lose += 1,
            Outcome::LoseMuch => self.lose_much += 1,
        }
    }
    pub fn counted(&self) -> u64 {
        self.win_much + self.win + self.tie + self.lose + self.lose_much
    }
    /// `wm + 0.5·w − 0.5·l − lm`.
    pub fn points(&self) -> f64 {
        self.win_much as f64 + 0.5 * self.win as f64 - 0.5 * self.lose as f64 - self.lose_much as f64
    }
}

/// One model against one reference at one K: what a row of `pairwise-<ref>-K=<K>.json` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RefResult {
    pub counts: Counts,
    /// Records in the file, skipped ones included: the reward's denominator.
    pub total: u64,
    /// Mean character length of the test model's counted outputs.
    pub avg_len: f64,
    pub groups: BTreeMap<String, Counts>,
}

impl RefResult {
    /// `reward = (wm + 0.5·w − 0.5·l − lm) / total` (§4.2): skipped records act as ties.
    pub fn reward(&self) -> f64 {
        self.counts.points() / self.total as f64
    }
    /// Per group, divided by the group's counted records.
    pub fn group_rewards(&self) -> BTreeMap<String, f64> {
        self.groups
            .iter()
            .filter(|(_, c)| c.counted() > 0)
            .map(|(g, c)| (g.clone(), c.points() / c.counted() as f64))
            .collect()
    }
    pub fn task_macro(&self, w: &MacroWeights) -> Result<f64> {
        w.macro_avg(&self.group_rewards())
    }
}

/// A per-record pairwise judgement (upstream `pairwise.v2/.../ref=<REF>/<MODEL>.json`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct PairwiseRecord {
    pub session_id: String,
    #[serde(rename = "model_A")]
    pub model_a: String,
    #[serde(rename = "model_B")]
    pub model_b: String,
    #[serde(default)]
    pub winner: Option<String>,
    #[serde(default)]
    pub extent: Option<u8>,
    #[serde(default)]
    pub parsed_result: Option<serde_json::Value>,
    pub model_outputs: BTreeMap<String, String>,
}

fn skipped_text(s: &str) -> bool {
    s.ends_with(TRUNCATED_SUFFIX) || s == EMPTY_MARKER
}

impl PairwiseRecord {
    /// `(winner, extent)`, from the judge's `choice` when present (checked against the stored
    /// fields), else from the stored `winner`/`extent`.
    pub fn verdict(&self) -> Result<(String, u8)> {
        let what = || format!("pairwise record {}", self.session_id);
        let from_choice = match self.parsed_result.as_ref().and_then(|p| p.get("choice")) {
            None => None,
            Some(c) => {
                let s = c.as_str().ok_or_else(|| Error::invalid(what(), format!("choice {c} is not a string")))?;
                let choice = Choice::parse(s).map_err(|e| Error::invalid(what(), e.to_string()))?;
                let (w, x) = choice.winner_extent(&self.model_a, &self.model_b);
                Some((w.to_string(), x))
            }
        };
        let stored = match (&self.winner, self.extent) {
            (Some(w), Some(x)) => Some((w.clone(), x)),
            _ => None,
        };
        match (from_choice, stored) {
            (Some(c), Some(s)) if c != s => {
                Err(Error::invalid(what(), format!("choice gives {c:?} but winner/extent say {s:?}")))
            }
            (Some(c), _) => Ok(c),
            (None, Some(s)) => Ok(s),
            (None, None) => Err(Error::invalid(what(), "has neither parsed_result.choice nor winner/extent")),
        }
    }

    /// The test model's and the reference's ids: the output key containing `reference` is R.
    /// `None` when the model was compared with itself (one key), which skips the whole file.
    pub fn ids(&self, reference: &str) -> Result<Option<(&str, &str)>> {
        let keys: Vec<&str> = self.model_outputs.keys().map(|k| k.as_str()).collect();
        if keys.len() == 1 {
            return Ok(None);
        }
        let what = || format!("pairwise record {}", self.session_id);
        if keys.len() != 2 {
            return Err(Error::invalid(what(), format!("model_outputs has {} keys, expected 2", keys.len())));
        }
        let r = keys
            .iter()
            .position(|k| k.contains(reference))
            .ok_or_else(|| Error::invalid(what(), format!("no model_outputs key contains the reference {reference:?}")))?;
        Ok(Some((keys[1 - r], keys[r])))
    }

    /// The outcome for the test model (§4.1), `None` if the record is skipped
    /// (truncated or empty output). `t`/`r` are the ids from [`Self::ids`].
    pub fn outcome(&self, t: &str, r: &str, margin: Margin) -> Result<Option<Outcome>> {
        let (out_t, out_r) = (&self.model_outputs[t], &self.model_outputs[r]);
        if skipped_text(out_t) || skipped_text(out_r) {
            return Ok(None);
        }
        let (len_t, len_r) = (out_t.chars().count(), out_r.chars().count());
        let (winner, extent) = self.verdict()?;
        let o = match (winner.as_str(), extent) {
            ("tie", _) => Outcome::Tie,
            (w, 2) if w == t => Outcome::WinMuch,
            (w, 1) if w == t => if margin.penalises(len_t, len_r) { Outcome::Tie } else { Outcome::Win },
            (w, 2) if w == r => Outcome::LoseMuch,
            (w, 1) if w == r => if margin.penalises(len_r, len_t) { Outcome::Tie } else { Outcome::Lose },
            (w, x) => {
                return Err(Error::invalid(
                    format!("pairwise record {}", self.session_id),
                    format!("winner {w:?} with extent {x} matches neither {t:?} nor {r:?}"),
                ))
            }
        };
        Ok(Some(o))
    }
}

/// All records of one model against one reference → its table row. `session_groups` (from
/// the task file) gives the groups; without it the group counts stay empty.
/// `Ok(None)`: a self-comparison file, skipped as upstream does.
pub fn from_records(
    records: &[PairwiseRecord],
    reference: &str,
    margin: Margin,
    session_groups: Option<&HashMap<String, Vec<String>>>,
) -> Result<Option<RefResult>> {
    let mut res = RefResult { counts: Counts::default(), total: records.len() as u64, avg_len: 0.0, groups: BTreeMap::new() };
    let mut len_sum = 0usize;
    for rec in records {
        let Some((t, r)) = rec.ids(reference)? else { return Ok(None) };
        let Some(o) = rec.outcome(t, r, margin)? else { continue };
        res.counts.add(o);
        len_sum += rec.model_outputs[t].chars().count();
        if let Some(map) = session_groups {
            for g in map.get(&rec.session_id).into_iter().flatten() {
                res.groups.entry(g.clone()).or_default().add(o);
            }
        }
    }
    if res.counts.counted() > 0 {
        res.avg_len = len_sum as f64 / res.counts.counted() as f64;
    }
    Ok(Some(res))
}

/// One row of an upstream count table (`pairwise-<ref>-K=<K>.json`), with its stored rewards.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CountRow {
    #[serde(flatten)]
    pub counts: Counts,
    pub total: u64,
    pub avg_len: f64,
    #[serde(default)]
    pub task_categorized_results: BTreeMap<String, Counts>,
    #[serde(default)]
    pub task_categorized_rewards: BTreeMap<String, f64>,
    pub reward: f64,
    pub task_macro_reward: f64,
    #[serde(rename = "K")]
    pub k: i64,
}

impl CountRow {
    /// The outcome-count path: the same [`RefResult`] the records would give.
    pub fn to_result(&self) -> RefResult {
        RefResult { counts: self.counts, total: self.total, avg_len: self.avg_len, groups: self.task_categorized_results.clone() }
    }
}

/// The mixture over references: the plain mean.
pub fn mixture(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize, winner: &str, extent: u8, t: &str, r: &str) -> PairwiseRecord {
        PairwiseRecord {
            session_id: format!("s{i}"),
            model_a: "org/T".into(),
            model_b: "R".into(),
            winner: Some(winner.into()),
            extent: Some(extent),
            parsed_result: None,
            model_outputs: [("org/T".to_string(), t.to_string()), ("R".to_string(), r.to_string())].into(),
        }
    }
    fn x(n: usize) -> String {
        "x".repeat(n)
    }

    /// The ten records of spec §8.
    fn spec_records() -> Vec<PairwiseRecord> {
        let (t, r) = ("org/T", "R");
        vec![
            rec(1, t, 2, &x(3000), &x(100)),
            rec(2, t, 1, &x(1200), &x(600)),
            rec(3, t, 1, &x(1100), &x(600)),
            rec(4, r, 1, &x(1000), &x(2000)),
            rec(5, r, 1, &x(1000), &x(800)),
            rec(6, t, 1, &x(2700), &x(1000)),
            rec(7, "tie", 0, &x(1500), &x(1500)),
            rec(8, r, 2, &x(10), &x(5000)),
            rec(9, t, 1, &format!("{}{TRUNCATED_SUFFIX}", x(50)), &x(10)),
            rec(10, r, 2, &x(10), EMPTY_MARKER),
        ]
    }

    fn c(v: [u64; 5]) -> Counts {
        Counts { win_much: v[0], win: v[1], tie: v[2], lose: v[3], lose_much: v[4] }
    }

    #[test]
    fn spec_pairwise_vectors() {
        let recs = spec_records();
        for (k, want, reward) in [(500, [1, 1, 4, 1, 1], 0.0), (-1, [1, 3, 1, 2, 1], 0.05), (1000, [1, 2, 2, 2, 1], 0.0)] {
            let res = from_records(&recs, "R", Margin::from_k(k), None).unwrap().unwrap();
            assert_eq!(res.counts, c(want), "K={k}");
            assert_eq!(res.total, 10);
            assert!((res.reward() - reward).abs() < 1e-15, "K={k}: {}", res.reward());
            assert!((res.avg_len - 1438.75).abs() < 1e-12, "avg_len {}", res.avg_len);
        }
    }

    #[test]
    fn reference_found_by_substring() {
        let mut r = rec(1, "tie", 0, "a", "b");
        r.model_outputs =
            [("meta-llama/Llama-2-70b-chat-hf".to_string(), "a".to_string()), ("01-ai/Yi-1.5-6B-Chat".to_string(), "b".to_string())].into();
        let (t, rr) = r.ids("Llama-2-70b-chat-hf").unwrap().unwrap();
        assert_eq!((t, rr), ("01-ai/Yi-1.5-6B-Chat", "meta-llama/Llama-2-70b-chat-hf"));
    }

    #[test]
    fn self_comparison_skips_the_file() {
        let mut r = rec(1, "tie", 0, "a", "b");
        r.model_outputs = [("R".to_string(), "a".to_string())].into();
        assert!(from_records(&[r], "R", Margin::Infinite, None).unwrap().is_none());
    }

    #[test]
    fn length_counts_code_points() {
        // 600 'é' are 1,200 bytes but 600 characters: no penalty at K=500 against 100 chars.
        let r = rec(1, "org/T", 1, &"é".repeat(600), &x(100));
        assert_eq!(r.outcome("org/T", "R", Margin::Chars(500)).unwrap(), Some(Outcome::Win));
    }

    #[test]
    fn choices_map_to_winner_and_extent() {
        assert_eq!(Choice::parse("A++").unwrap().winner_extent("a", "b"), ("a", 2));
        assert_eq!(Choice::parse("B+").unwrap().winner_extent("a", "b"), ("b", 1));
        assert_eq!(Choice::parse("A=B").unwrap().winner_extent("a", "b"), ("tie", 0));
    }

    #[test]
    fn bad_records_are_clear_errors() {
        let mut r = rec(7, "org/T", 1, "a", "b");
        r.parsed_result = Some(serde_json::json!({"choice": "A+++"}));
        let e = r.outcome("org/T", "R", Margin::Infinite).unwrap_err().to_string();
        assert!(e.contains("s7") && e.contains("A+++"), "{e}");
        r.parsed_result = Some(serde_json::json!({"choice": "B+"}));
        let e = r.outcome("org/T", "R", Margin::Infinite).unwrap_err().to_string();
        assert!(e.contains("winner/extent"), "{e}");
        r.parsed_result = None;
        r.winner = None;
        assert!(r.outcome("org/T", "R", Margin::Infinite).is_err());
        let mut r = rec(8, "someone-else", 1, "a", "b");
        r.parsed_result = None;
        assert!(r.outcome("org/T", "R", Margin::Infinite).unwrap_err().to_string().contains("someone-else"));
    }
}
