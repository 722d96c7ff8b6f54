//! The result tables of `results/lc-alpacaeval/`:
//! (i) every model with annotations: raw and LC win rate against the leaderboard;
//! (ii) Spearman / Kendall tau-b with Chatbot Arena Elo, raw vs LC (the paper's 0.94 -> 0.98);
//! (iii) gameability by prompted verbosity / conciseness, raw vs LC.

use crate::pipeline::Report;
use shared::eval::alpaca_eval::{BenchmarkRow, LeaderboardRow, BASELINE};
use shared::eval::correlation::{kendall_tau_b, spearman};
use shared::report::{Cell, Table};
use std::collections::HashMap;

/// (i) Per model: raw WR recomputed vs leaderboard, LC ours vs published.
pub fn lc_table(r: &Report) -> Table {
    let mut t = Table::new(
        "LC AlpacaEval 2.0 recomputed from the judge annotations (baseline gpt4_1106_preview)",
        &["model", "n", "raw WR (ours)", "raw WR (leaderboard)", "|raw diff|", "discrete WR", "avg len", "LC (ours)", "LC (published)", "LC − published", "C", "w_len", "w_diff", "w_bias"],
    );
    for m in &r.rows {
        let p = m.published.as_ref();
        let lc_pub = p.and_then(|p| p.length_controlled_winrate);
        t.push(vec![
            m.model.as_str().into(),
            Cell::Int(m.raw.n_total as i64),
            Cell::num(m.raw.win_rate, 4),
            Cell::opt(p.map(|p| p.win_rate), 4),
            match p {
                Some(p) => Cell::text(format!("{:.1e}", (m.raw.win_rate - p.win_rate).abs())),
                None => Cell::Missing,
            },
            Cell::num(m.raw.discrete_win_rate, 2),
            Cell::Int(m.avg_length as i64),
            Cell::NumSe(m.lc.lc_win_rate, m.lc.lc_standard_error, 2),
            Cell::opt(lc_pub, 2),
            Cell::opt(lc_pub.map(|v| m.lc.lc_win_rate - v), 2),
            match m.lc.c {
                Some(c) => Cell::text(format!("{c:.3e}")),
                None => Cell::Missing,
            },
            Cell::num(m.lc.weights.w_len, 4),
            Cell::num(m.lc.weights.w_diff, 4),
            Cell::num(m.lc.weights.w_bias, 4),
        ]);
    }
    if let Some((mean, max, n)) = Report::lc_deviation(r.rows.iter()) {
        t.note(format!("|LC − published| over {n} models: mean {mean:.2}, max {max:.2} points."));
    }
    t.note(format!("Instruction difficulty: {}. Gamed baselines: {}.", r.difficulty_source.describe(), r.gamed_source));
    for (m, e) in &r.errors {
        t.note(format!("Skipped {m}: {e}"));
    }
    t
}

/// Arena Elo (Feb 2, 2024) of the models that have it and a leaderboard LC.
pub fn arena_models<'a>(bench: &'a [BenchmarkRow], lb: &'a [LeaderboardRow]) -> Vec<(&'a str, f64, &'a LeaderboardRow)> {
    let by: HashMap<&str, &LeaderboardRow> = lb.iter().map(|r| (r.model.as_str(), r)).collect();
    bench
        .iter()
        .filter_map(|b| {
            let (elo, _) = (b.arena_elo?, b.lc_alpaca_eval?);
            let row = by.get(b.model.as_str())?;
            row.length_controlled_winrate?;
            Some((b.model.as_str(), elo, *row))
        })
        .collect()
}

/// (ii) Correlations with Arena Elo: leaderboard values on all Arena models, and our
/// recomputation on the Arena models whose annotations are shipped.
pub fn correlation_table(r: &Report, bench: &[BenchmarkRow]) -> Table {
    let mut t = Table::new("Correlation with Chatbot Arena Elo (Feb 2, 2024)", &["models", "metric", "n", "Spearman", "Kendall tau-b", "paper", "Spearman with avg_length"]);
    let arena = arena_models(bench, &r.leaderboard);
    let elo: Vec<f64> = arena.iter().map(|a| a.1).collect();
    let len: Vec<f64> = arena.iter().map(|a| a.2.avg_length as f64).collect();
    let metrics: [(&str, Vec<f64>, &str); 3] = [
        ("raw win rate (leaderboard)", arena.iter().map(|a| a.2.win_rate).collect(), "0.94"),
        ("LC win rate (leaderboard)", arena.iter().map(|a| a.2.length_controlled_winrate.unwrap()).collect(), "0.98"),
        ("avg_length", len.clone(), ""),
    ];
    for (name, v, paper) in &metrics {
        t.push(vec![
            "all Arena models".into(),
            (*name).into(),
            Cell::Int(v.len() as i64),
            Cell::opt(spearman(v, &elo), 4),
            Cell::opt(kendall_tau_b(v, &elo), 4),
            (*paper).into(),
            Cell::opt(spearman(v, &len), 4),
        ]);
    }
    // The shipped subset: recomputed raw and LC.
    let ours: Vec<(f64, f64, f64, f64, f64)> = arena
        .iter()
        .filter_map(|(m, e, row)| {
            let res = r.get(m)?;
            Some((*e, res.raw.win_rate, row.length_controlled_winrate.unwrap(), res.lc.lc_win_rate, res.avg_length as f64))
        })
        .collect();
    let e: Vec<f64> = ours.iter().map(|o| o.0).collect();
    let l: Vec<f64> = ours.iter().map(|o| o.4).collect();
    for (name, v) in [
        ("raw win rate (recomputed)", ours.iter().map(|o| o.1).collect::<Vec<_>>()),
        ("LC win rate (leaderboard)", ours.iter().map(|o| o.2).collect()),
        ("LC win rate (recomputed)", ours.iter().map(|o| o.3).collect()),
    ] {
        t.push(vec![
            "Arena models with shipped annotations".into(),
            name.into(),
            Cell::Int(v.len() as i64),
            Cell::opt(spearman(&v, &e), 4),
            Cell::opt(kendall_tau_b(&v, &e), 4),
            "".into(),
            Cell::opt(spearman(&v, &l), 4),
        ]);
    }
    t.note("Paper: Spearman 0.94 (raw) -> 0.98 (LC) on the spring-2024 leaderboard (38 Arena models); the shipped files give the rows above.");
    t
}

fn sd(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Gameability summary of upstream's `report()` over the leaderboard (lc-alpacaeval.md §1.2):
/// (verbosity %, conciseness %, adversarial WR gain, adversarial rank gain) for a metric.
pub fn gameability(lb: &[LeaderboardRow], metric: impl Fn(&LeaderboardRow) -> Option<f64>) -> (f64, f64, f64, i64) {
    let by: HashMap<&str, &LeaderboardRow> = lb.iter().map(|r| (r.model.as_str(), r)).collect();
    let bases: Vec<&str> = lb.iter().map(|r| r.model.as_str()).filter(|m| by.contains_key(format!("{m}_verbose").as_str()) && by.contains_key(format!("{m}_concise").as_str())).collect();
    let rel = |a: &str, b: &str| -> Option<f64> {
        let v = [metric(by[a])?, metric(by[b])?];
        Some(sd(&v) / ((v[0] + v[1]) / 2.0))
    };
    let d: Vec<&LeaderboardRow> = lb.iter().filter(|r| !r.model.contains("_verbose")).collect();
    let wr_sd = sd(&d.iter().map(|r| r.win_rate).collect::<Vec<_>>());
    let m_sd = sd(&d.iter().filter_map(|r| metric(r)).collect::<Vec<_>>());
    let weight = wr_sd / m_sd;
    let mean = |suffix: &str| {
        let v: Vec<f64> = bases.iter().filter_map(|b| rel(b, &format!("{b}_{suffix}"))).collect();
        100.0 * weight * v.iter().sum::<f64>() / v.len() as f64
    };
    let (verb, conc) = (mean("verbose"), mean("concise"));
    let (gain, rank_gain) = match by.get("gpt4_gamed") {
        Some(g) => {
            let rank = |f: &dyn Fn(&LeaderboardRow) -> Option<f64>| -> i64 {
                let x = f(g).unwrap_or(f64::NAN);
                1 + lb.iter().filter_map(|r| f(r)).filter(|v| *v > x).count() as i64
            };
            (metric(g).unwrap_or(f64::NAN) - g.win_rate, rank(&|r| Some(r.win_rate)) - rank(&metric))
        }
        None => (f64::NAN, 0),
    };
    (verb, conc, gain, rank_gain)
}

/// (iii) Prompted verbosity: leaderboard raw / LC for each concise / standard / verbose triple,
/// with our recomputation where the annotations are shipped.
pub fn gameability_table(r: &Report) -> (Table, Table) {
    let lb = &r.leaderboard;
    let by: HashMap<&str, &LeaderboardRow> = lb.iter().map(|x| (x.model.as_str(), x)).collect();
    let mut t = Table::new(
        "Gameability: the same model prompted to be concise / standard / verbose",
        &["model", "variant", "avg len", "raw WR (leaderboard)", "LC (leaderboard)", "raw WR (ours)", "LC (ours)"],
    );
    for b in lb.iter().map(|x| x.model.as_str()).filter(|m| by.contains_key(format!("{m}_verbose").as_str()) && by.contains_key(format!("{m}_concise").as_str())) {
        for (variant, name) in [("concise", format!("{b}_concise")), ("standard", b.to_string()), ("verbose", format!("{b}_verbose"))] {
            let row = by[name.as_str()];
            let ours = r.get(&name);
            t.push(vec![
                b.into(),
                variant.into(),
                Cell::Int(row.avg_length as i64),
                Cell::num(row.win_rate, 1),
                Cell::opt(row.length_controlled_winrate, 1),
                Cell::opt(ours.map(|o| o.raw.win_rate), 1),
                Cell::opt(ours.map(|o| o.lc.lc_win_rate), 1),
            ]);
        }
    }
    t.note("Ours: recomputed where the annotations are shipped (files of 4 MiB or more upstream are not).");
    let mut s = Table::new("Gameability summary (upstream notebook report(), on the leaderboard CSV)", &["metric", "verbosity gameability %", "conciseness gameability %", "adversarial WR gain", "adversarial rank gain", "paper / spec"]);
    let (v, c, g, rk) = gameability(lb, |x| Some(x.win_rate));
    s.push(vec!["raw win rate".into(), Cell::num(v, 2), Cell::num(c, 2), Cell::num(g, 2), Cell::Int(rk), "21.3 / 29.8 / 0 / 0".into()]);
    let (v, c, g, rk) = gameability(lb, |x| x.length_controlled_winrate);
    s.push(vec!["LC win rate".into(), Cell::num(v, 2), Cell::num(c, 2), Cell::num(g, 2), Cell::Int(rk), "7.45 / 15.96 (notebook)".into()]);
    // The same summary with our recomputed LC substituted where we have it.
    let ours: HashMap<&str, f64> = r.rows.iter().map(|m| (m.model.as_str(), m.lc.lc_win_rate)).collect();
    let n_sub = lb.iter().filter(|x| ours.contains_key(x.model.as_str()) && x.model != BASELINE).count();
    let (v, c, g, rk) = gameability(lb, |x| ours.get(x.model.as_str()).copied().or(x.length_controlled_winrate));
    s.push(vec![format!("LC, ours substituted for {n_sub} models").into(), Cell::num(v, 2), Cell::num(c, 2), Cell::num(g, 2), Cell::Int(rk), "".into()]);
    (t, s)
}
