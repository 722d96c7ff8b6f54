//! The merged leaderboard (spec §4.4, upstream `_merge_results.py`): per model the three
//! references' rewards (×100) and their mixture, WB-Score (×10) and its groups, the ranks,
//! and the external columns; plus an exact comparison with the published `all_stat_wildbench.<K>.json`.

use crate::data::{ext_number, Ordered, REFERENCES};
use crate::groups::{MacroWeights, GROUPS};
use crate::reward::CountRow;
use crate::score::{rescale, ScoreRow};
use serde_json::{json, Map, Value};
use shared::Result;
use std::collections::BTreeMap;

pub type Row = Map<String, Value>;

/// The Arena Elo column of the HEAD tables (the paper-era tables call it `Arena Elo (hard) - 2024-05-20`).
pub const ELO_KEY: &str = "Arena Elo (hard-en) - latest";
/// Besides the Elo column, the external columns a model absent from `all_stat.json` gets as "-".
pub const EXTERNAL: [&str; 3] = ["Arena-Hard v0.1", "AE2.0 LC", "AE2.0"];

/// What one merged table is built from.
pub struct MergeInputs<'a> {
    pub all_stat: &'a Ordered<Row>,
    pub score: &'a Ordered<ScoreRow>,
    /// The count table of each reference (short name) at this K, `None` when upstream has none.
    pub pairwise: BTreeMap<&'static str, Option<&'a Ordered<CountRow>>>,
    pub elo: &'a BTreeMap<String, f64>,
    pub weights: &'a MacroWeights,
    /// The Elo column's name in this snapshot.
    pub elo_key: &'a str,
    pub k: i64,
}

/// WB-Score (×10 scale) of one `score.json` row, recomputed from its raw mean and groups.
pub fn wb_score_fields(s: &ScoreRow, w: &MacroWeights) -> Result<(f64, BTreeMap<String, f64>, f64)> {
    let macro_ = w.macro_avg(&s.task_categorized_scores)?;
    let groups = s.task_categorized_scores.iter().map(|(g, x)| (g.clone(), x * 10.0)).collect();
    Ok((rescale(s.score) * 10.0, groups, macro_ * 10.0))
}

/// Build the merged table: rows are `score.json`'s models, those in `all_stat.json` first in its order.
pub fn merge(inp: &MergeInputs) -> Result<Ordered<Row>> {
    let k = inp.k;
    let mut order: Vec<&str> = inp.all_stat.keys().filter(|m| inp.score.get(m).is_some()).collect();
    order.extend(inp.score.keys().filter(|m| inp.all_stat.get(m).is_none()));
    let mut rows: Vec<(String, Row)> = vec![];
    for model in order {
        let mut row = Row::new();
        match inp.all_stat.get(model) {
            Some(ext) => row.extend(ext.clone()),
            None => {
                for c in std::iter::once(inp.elo_key).chain(EXTERNAL) {
                    row.insert(c.to_string(), json!("-"));
                }
            }
        }
        // Rewards ×100, 0 when the model is not in the reference's table (upstream default).
        let (mut mix, mut mix_macro) = (0.0, 0.0);
        let mut mix_groups: BTreeMap<&str, f64> = BTreeMap::new();
        for (short, _) in REFERENCES {
            let res = inp.pairwise.get(short).copied().flatten().and_then(|t| t.get(model)).map(|r| r.to_result());
            let (reward, groups, tmacro) = match &res {
                Some(r) => (r.reward() * 100.0, r.group_rewards(), r.task_macro(inp.weights)? * 100.0),
                None => (0.0, BTreeMap::new(), 0.0),
            };
            row.insert(format!("{short}_reward.K={k}"), json!(reward));
            for g in GROUPS {
                let x = groups.get(g).map(|x| x * 100.0).unwrap_or(0.0);
                row.insert(format!("{short}_reward.{g}.K={k}"), json!(x));
                *mix_groups.entry(g).or_default() += x / 3.0;
            }
            row.insert(format!("{short}_reward.task_macro.K={k}"), json!(tmacro));
            mix += reward / 3.0;
            mix_macro += tmacro / 3.0;
        }
        for (g, x) in &mix_groups {
            row.insert(format!("mixture_of_rewards.{g}.K={k}"), json!(x));
        }
        row.insert(format!("mixture_of_rewards.K={k}"), json!(mix));
        row.insert(format!("task_macro_reward.K={k}"), json!(mix_macro));
        let s = inp.score.get(model).expect("row order built from score.json");
        let (wb, groups, wb_macro) = wb_score_fields(s, inp.weights)?;
        for (g, x) in groups {
            row.insert(format!("WB_score.{g}"), json!(x));
        }
        row.insert("WB_score".into(), json!(wb));
        row.insert("WB_score.task_macro".into(), json!(wb_macro));
        row.insert("Length".into(), json!(s.avg_len));
        row.insert("RewardScore_Avg".into(), json!((wb_macro + mix_macro) / 2.0));
        let elo_name = model.replace("@together", "");
        row.insert("WB_Elo".into(), inp.elo.get(&elo_name).map(|e| json!(e)).unwrap_or(json!("-")));
        rows.push((model.to_string(), row));
    }
    // Descending stable sorts in row order, 1-based.
    let ranks = |key: &str| -> Vec<usize> {
        let vals: Vec<f64> = rows.iter().map(|(_, r)| r[key].as_f64().unwrap_or(f64::NEG_INFINITY)).collect();
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        idx.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
        let mut rank = vec![0; rows.len()];
        for (pos, &i) in idx.iter().enumerate() {
            rank[i] = pos + 1;
        }
        rank
    };
    let (r_score, r_reward) = (ranks("WB_score.task_macro"), ranks(&format!("task_macro_reward.K={k}")));
    for (i, (_, row)) in rows.iter_mut().enumerate() {
        row.insert("Rank_ScoreMacro".into(), json!(r_score[i]));
        row.insert("Rank_TaskMacroReward.K".into(), json!(r_reward[i]));
        row.insert("Rank_Avg".into(), json!((r_score[i] + r_reward[i]) as f64 / 2.0));
    }
    Ok(Ordered(rows))
}

/// How a regenerated merged table compares with the published one.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub models: usize,
    pub fields: usize,
    pub max_abs_err: f64,
    /// Order, missing keys, string or type mismatches, numbers off by more than the tolerance.
    pub mismatches: Vec<String>,
}

pub fn compare(ours: &Ordered<Row>, golden: &Ordered<Row>, tol: f64) -> Comparison {
    let mut c = Comparison { models: golden.0.len(), ..Default::default() };
    let (ko, kg): (Vec<&str>, Vec<&str>) = (ours.keys().collect(), golden.keys().collect());
    if ko != kg {
        c.mismatches.push(format!("row order/models differ: ours {} rows, published {}", ko.len(), kg.len()));
    }
    for (model, g) in &golden.0 {
        let Some(o) = ours.get(model) else {
            c.mismatches.push(format!("{model}: missing from ours"));
            continue;
        };
        for (key, gv) in g {
            c.fields += 1;
            match (o.get(key), gv) {
                (None, _) => c.mismatches.push(format!("{model}.{key}: missing from ours")),
                (Some(Value::Number(a)), Value::Number(b)) => {
                    let d = (a.as_f64().unwrap() - b.as_f64().unwrap()).abs();
                    c.max_abs_err = c.max_abs_err.max(d);
                    if d > tol {
                        c.mismatches.push(format!("{model}.{key}: ours {a}, published {b}"));
                    }
                }
                (Some(a), b) if a != b => c.mismatches.push(format!("{model}.{key}: ours {a}, published {b}")),
                _ => {}
            }
        }
        for key in o.keys().filter(|k| !g.contains_key(*k)) {
            c.mismatches.push(format!("{model}.{key}: not in the published table"));
        }
    }
    c
}

/// A number of a merged row, `None` for "-" or a missing key.
pub fn num(row: &Row, key: &str) -> Option<f64> {
    ext_number(row.get(key))
}
