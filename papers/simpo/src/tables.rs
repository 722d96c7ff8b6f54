//! The miniature's tables, claims and plot, written into `results/simpo/`.
//!
//! Each table puts the paper's number beside the miniature's and says, per row, whether the
//! paper's ordering held. The paper's numbers are from the spec (Table 4 LC, Table 5).

use crate::pipeline::{MethodResult, Outcome};
use shared::plot::{bar_chart, save_svg, Bars, Estimate, Labels};
use shared::report::{Cell, RunInfo, Table};
use std::path::Path;

/// Paper Table 4, AlpacaEval 2 LC win rate: (method, Mistral-Base, Llama3-Base, Mistral-Instruct, Llama3-Instruct).
pub const PAPER_LC: &[(&str, [Option<f64>; 4])] = &[
    ("SFT", [Some(8.4), Some(6.2), Some(17.1), Some(26.0)]),
    ("RRHF", [Some(11.6), Some(12.1), Some(25.3), Some(31.3)]),
    ("SLiC-HF", [Some(10.9), Some(12.3), Some(24.1), Some(26.9)]),
    ("DPO", [Some(15.1), Some(18.2), Some(26.8), Some(40.3)]),
    ("IPO", [Some(11.8), Some(14.4), Some(20.3), Some(35.6)]),
    ("CPO", [Some(9.8), Some(10.8), Some(23.8), None]),
    ("KTO", [Some(13.1), Some(14.2), Some(24.5), Some(33.1)]),
    ("ORPO", [Some(14.7), Some(12.2), Some(24.5), Some(28.5)]),
    ("R-DPO", [Some(17.4), Some(17.6), Some(27.3), Some(41.1)]),
    ("SimPO", [Some(21.5), Some(22.0), Some(32.1), Some(44.7)]),
];

/// Paper Table 5, LC (Mistral-Base, Mistral-Instruct).
pub const PAPER_ABLATION: &[(&str, [f64; 2])] = &[("SimPO", [21.5, 32.1]), ("SimPO w/o LN", [11.9, 19.1]), ("SimPO γ=0", [16.8, 30.9]), ("DPO", [15.1, 26.8])];

fn paper_lc(method: &str, setup: &str) -> (Option<f64>, Option<f64>) {
    let row = PAPER_LC.iter().find(|(m, _)| *m == method).map(|(_, v)| *v);
    match (row, setup) {
        (Some(v), "base") => (v[0], v[1]),
        (Some(v), _) => (v[2], v[3]),
        (None, _) => (None, None),
    }
}

/// The headline metric of a row: LC win rate when available, else the raw judge win rate.
fn headline(r: &shared::world::alpaca::EvalRow) -> f64 {
    r.lc_win_rate.unwrap_or(r.win_rate)
}

fn yes_no(b: bool) -> Cell {
    Cell::text(if b { "yes" } else { "no" })
}

/// Table 4 in miniature: one block per setup.
pub fn main_table(o: &Outcome) -> Table {
    let mut t = Table::new(
        "SimPO Table 4 in miniature (mini AlpacaEval; paper LC beside)",
        &["setup", "method", "lr", "val WR %", "oracle", "acc %", "judge WR %", "LC WR %", "avg len", "paper LC Mistral", "paper LC Llama3", "SimPO ahead (paper: yes)"],
    );
    for s in &o.setups {
        let rows: Vec<&MethodResult> = o.results.iter().filter(|r| r.setup == s.name && !r.ablation).collect();
        let simpo = rows.iter().find(|r| r.method == "SimPO").map(|r| headline(&r.eval));
        let (pm, pl) = paper_lc("SFT", &s.name);
        let mut row = vec![s.name.clone().into(), "SFT".into(), Cell::Missing, Cell::Missing];
        row.extend(o.sft.cells());
        row.extend([Cell::opt(pm, 1), Cell::opt(pl, 1), simpo.map(|v| yes_no(v > headline(&o.sft))).unwrap_or(Cell::Missing)]);
        t.push(row);
        for r in rows {
            let (pm, pl) = paper_lc(&r.method, &s.name);
            let ahead = if r.method == "SimPO" { Cell::text("—") } else { simpo.map(|v| yes_no(v > headline(&r.eval))).unwrap_or(Cell::Missing) };
            let mut row = vec![s.name.clone().into(), r.method.clone().into(), Cell::text(format!("{:.0e}", r.lr)), Cell::num(r.val_win_rate, 1)];
            row.extend(r.eval.cells());
            row.extend([Cell::opt(pm, 1), Cell::opt(pl, 1), ahead]);
            t.push(row);
        }
    }
    t.note("base = off-policy demonstration pairs ranked by the oracle (UltraFeedback-like); instruct = 5 on-policy samples of the SFT model ranked by a reward model trained on the length-biased judge's verdicts, best vs worst (see pairs.md).");
    t.note("lr: chosen per method on held-out validation prompts by the judge's win rate (val WR), never on the evaluation set. Paper columns: Table 4 LC of the matching setting.");
    t.note("\"SimPO ahead\" compares LC WR (raw judge WR where LC is unavailable); the paper has SimPO ahead of every row.");
    t
}

/// Table 5 in miniature: the length-normalisation and margin ablations.
pub fn ablation_table(o: &Outcome) -> Table {
    let mut t = Table::new("SimPO Table 5 in miniature: ablations (paper LC: Mistral-Base / Mistral-Instruct)", &["setup", "method", "oracle", "judge WR %", "LC WR %", "avg len", "paper LC"]);
    for s in &o.setups {
        for (name, paper) in PAPER_ABLATION {
            let Some(r) = o.results.iter().find(|r| r.setup == s.name && r.method == *name) else { continue };
            t.push(vec![
                s.name.clone().into(),
                (*name).into(),
                Cell::num(r.eval.oracle, 3),
                Cell::NumSe(r.eval.win_rate, r.eval.win_rate_se, 1),
                Cell::opt(r.eval.lc_win_rate, 1),
                Cell::num(r.eval.avg_len, 1),
                Cell::num(if s.name == "base" { paper[0] } else { paper[1] }, 1),
            ]);
        }
    }
    t
}

/// The paper's claims, each with the miniature's evidence and whether it held.
pub fn claims_table(o: &Outcome) -> Table {
    let mut t = Table::new("Did the paper's claims hold in miniature?", &["setup", "claim (paper)", "miniature", "held"]);
    let find = |s: &str, m: &str| o.results.iter().find(|r| r.setup == s && r.method == m);
    for s in &o.setups {
        let sn = s.name.as_str();
        let Some(simpo) = find(sn, "SimPO") else { continue };
        let h = headline(&simpo.eval);
        t.push(vec![
            sn.into(),
            "SimPO beats SFT on oracle score and LC WR".into(),
            format!("oracle {:.3} vs {:.3}; LC {:.1} vs {:.1}", simpo.eval.oracle, o.sft.oracle, h, headline(&o.sft)).into(),
            yes_no(simpo.eval.oracle > o.sft.oracle && h > headline(&o.sft)),
        ]);
        if let Some(dpo) = find(sn, "DPO") {
            let d = h - headline(&dpo.eval);
            t.push(vec![
                sn.into(),
                "SimPO beats DPO on LC WR (+6.4 Mistral-Base, +5.3 Mistral-Instruct)".into(),
                format!("SimPO − DPO = {d:+.1} points (judge WR s.e. ≈ {:.1})", simpo.eval.win_rate_se).into(),
                yes_no(d > 0.0),
            ]);
            t.push(vec![
                sn.into(),
                "SimPO needs fewer forward passes than DPO (no reference model)".into(),
                format!("{} vs {} forward passes", simpo.forward_passes, dpo.forward_passes).into(),
                yes_no(simpo.forward_passes < dpo.forward_passes),
            ]);
        }
        let best = o.results.iter().filter(|r| r.setup == sn && !r.ablation).max_by(|a, b| headline(&a.eval).total_cmp(&headline(&b.eval)));
        if let Some(b) = best {
            t.push(vec![sn.into(), "SimPO has the best LC WR of all methods".into(), format!("best: {} ({:.1})", b.method, headline(&b.eval)).into(), yes_no(b.method == "SimPO")]);
        }
        if let Some(noln) = find(sn, "SimPO w/o LN") {
            t.push(vec![
                sn.into(),
                "without length normalisation: longer answers, lower quality".into(),
                format!("length {:.1} vs {:.1}; oracle {:.3} vs {:.3}", noln.eval.avg_len, simpo.eval.avg_len, noln.eval.oracle, simpo.eval.oracle).into(),
                yes_no(noln.eval.avg_len > simpo.eval.avg_len && noln.eval.oracle < simpo.eval.oracle),
            ]);
        }
        if let Some(g0) = find(sn, "SimPO γ=0") {
            t.push(vec![sn.into(), "a target margin γ > 0 helps (γ = 0 lower LC)".into(), format!("LC {:.1} (γ=0) vs {:.1}", headline(&g0.eval), h).into(), yes_no(headline(&g0.eval) < h)]);
        }
    }
    t.note("A claim \"held\" when the miniature shows the paper's direction; differences smaller than the standard error are reported as they fall, not as ties.");
    t
}

/// Pair statistics per setup: what ranked the responses, how often its choice is the oracle's,
/// and (for a learned reward model) its held-out agreement.
pub fn pairs_table(o: &Outcome) -> Table {
    let mut t = Table::new(
        "Preference pairs per setup",
        &["setup", "ranked by", "pairs", "oracle chosen", "oracle rejected", "chosen better by oracle %", "length chosen", "length rejected", "RM held-out agreement: judge % / oracle %"],
    );
    for s in &o.setups {
        t.push(vec![
            s.name.clone().into(),
            s.scorer.clone().into(),
            Cell::Int(s.train.len() as i64),
            Cell::num(s.chosen_oracle, 3),
            Cell::num(s.rejected_oracle, 3),
            Cell::num(s.oracle_agrees, 1),
            Cell::num(s.chosen_len, 1),
            Cell::num(s.rejected_len, 1),
            s.rm_agreement.map(|(j, o)| Cell::text(format!("{j:.1} / {o:.1}"))).unwrap_or(Cell::Missing),
        ]);
    }
    t.note("reward_model: a Bradley–Terry reward head on a copy of the SFT base, trained on one sampled verdict of the world's pairwise judge (length bias, position bias, label noise) per pair of the SFT model's own samples; the PairRM / ArmoRM stand-in.");
    t
}

/// The headline with its 95% interval (normal, from the standard error over prompts).
fn headline_estimate(r: &shared::world::alpaca::EvalRow) -> Estimate {
    match (r.lc_win_rate, r.lc_win_rate_se) {
        (Some(lc), Some(se)) => Estimate::normal(lc, se),
        _ => Estimate::normal(r.win_rate, r.win_rate_se),
    }
}

/// LC (or raw) win rate per method and setup as a bar chart, with 95% intervals over prompts.
pub fn plot(o: &Outcome, path: &Path) -> shared::Result<()> {
    let mut labels: Vec<String> = vec!["SFT".into()];
    for r in &o.results {
        if !labels.contains(&r.method) {
            labels.push(r.method.clone());
        }
    }
    let series: Vec<Bars> = o
        .setups
        .iter()
        .map(|s| Bars {
            name: s.name.clone(),
            values: labels
                .iter()
                .map(|l| if l == "SFT" { Some(headline_estimate(&o.sft)) } else { o.results.iter().find(|r| &r.method == l && r.setup == s.name).map(|r| headline_estimate(&r.eval)) })
                .collect(),
        })
        .collect();
    let lc = o.sft.lc_win_rate.is_some();
    let title = if lc { "SimPO in miniature: LC win rate vs the fixed baseline (95% intervals over prompts)" } else { "SimPO in miniature: judge win rate vs the fixed baseline (95% intervals over prompts)" };
    let x = if lc { "LC win rate (%)" } else { "win rate (%)" };
    save_svg(path, &bar_chart(&Labels { title, x, y: "method" }, &labels, &series)?)
}

/// Write every result file atomically (the tables as CSV + Markdown, the plot, and `run.md` with
/// the seed, threads and the full config); returns the claims table for the summary.
pub fn save_all(o: &Outcome, out: &Path, info: &RunInfo) -> shared::Result<Table> {
    main_table(o).save(out, "table4_mini")?;
    ablation_table(o).save(out, "table5_ablation_mini")?;
    let claims = claims_table(o);
    claims.save(out, "claims")?;
    pairs_table(o).save(out, "pairs")?;
    plot(o, &out.join("lc_winrate.svg"))?;
    info.save(out)?;
    Ok(claims)
}
