//! The miniature's tables, claims and plots, pooled over seeds, written into `results/evolve/`.
//!
//! Per-prompt records (`shared::stats`): `chain.per_prompt.csv`, one row per (seed, model and
//! chain position, held-out prompt): the oracle score and length of `y_{1+k}`, the method named
//! `<model>/k<k>` (k = 0 the direct answer). Every comparison is paired over prompts and seeds.

use crate::config::{Kind, MiniConfig, Selection};
use crate::pipeline::{at, ChainEval, Outcome};
use shared::plot::{curves, save_svg, Curve, Estimate, Labels};
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{Bootstrap, Claims, Direction, Interval, Numbers, Records};
use shared::world::alpaca::mean_diff;
use std::path::Path;

pub const METRICS: [&str; 2] = ["score", "length"];

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The name of chain position k of a model.
pub fn pos(model: &str, k: usize) -> String {
    format!("{model}/k{k}")
}

fn push_chain(r: &mut Records, seed: u64, model: &str, e: &ChainEval) -> shared::Result<()> {
    for (k, (o, l)) in e.oracle.iter().zip(&e.length).enumerate() {
        for (i, (a, b)) in o.iter().zip(l).enumerate() {
            r.push(seed, &pos(model, k), i.to_string(), 0, &[*a, *b])?;
        }
    }
    Ok(())
}

/// Every model evaluated, in order: the two bases, then each method's rounds.
pub fn models(cfg: &MiniConfig) -> Vec<String> {
    let mut m = vec!["SFT-direct".to_string(), "SFT-both".to_string()];
    for meth in &cfg.methods {
        m.extend((0..cfg.iterations).map(|k| at(&meth.name, k)));
    }
    m
}

pub fn records(o: &Outcome) -> shared::Result<Records> {
    let mut r = Records::new(&METRICS);
    for (name, e) in &o.bases {
        push_chain(&mut r, o.seed, name, e)?;
    }
    for row in &o.rows {
        push_chain(&mut r, o.seed, &at(&row.method, row.iter), &row.eval)?;
    }
    Ok(r)
}

fn cell(iv: &Interval, scale: f64, d: usize) -> Cell {
    Cell::text(format!("{:.d$} [{:.d$}, {:.d$}]", scale * iv.estimate, scale * iv.lo, scale * iv.hi, d = d))
}

fn signed(iv: &Interval, scale: f64) -> Cell {
    Cell::text(format!("{:+.1} [{:+.1}, {:+.1}]", scale * iv.estimate, scale * iv.lo, scale * iv.hi))
}

/// The refinement curves: oracle score (×100) of the direct answer and of refine@k per model.
pub fn curve_table(boot: &Bootstrap, r: &Records, outs: &[Outcome], cfg: &MiniConfig) -> shared::Result<Table> {
    let kk = cfg.eval.refine_steps;
    let mut cols: Vec<String> = vec!["model".into(), "direct".into()];
    cols.extend((1..=kk).map(|k| format!("refine@{k}")));
    cols.extend(["G@1 (paired)".to_string(), format!("G@{kk} (paired)"), format!("refine@{kk} copies y_prev %"), "length direct".into(), format!("length refine@{kk}")]);
    let c: Vec<&str> = cols.iter().map(|s| s.as_str()).collect();
    let mut t = Table::new("Oracle score ×100 of greedy answers on the held-out prompts: direct (y_1) and after k self-refinements (y_{1+k}), with 95% bootstrap intervals", &c);
    for m in models(cfg) {
        let mut row = vec![Cell::text(m.clone())];
        for k in 0..=kk {
            row.push(cell(&boot.mean_of(r, &pos(&m, k), "score")?, 100.0, 1));
        }
        row.push(signed(&mean_diff(boot, r, &pos(&m, 1), &pos(&m, 0), "score")?.0, 100.0));
        row.push(signed(&mean_diff(boot, r, &pos(&m, kk), &pos(&m, 0), "score")?.0, 100.0));
        let copies: Vec<f64> = outs
            .iter()
            .filter_map(|o| o.bases.iter().find(|b| b.0 == m).map(|b| &b.1).or_else(|| o.rows.iter().find(|x| at(&x.method, x.iter) == m).map(|x| &x.eval)))
            .filter_map(|e| e.copies.last().copied())
            .collect();
        row.push(Cell::num(100.0 * mean(&copies), 1));
        row.push(Cell::num(boot.mean_of(r, &pos(&m, 0), "length")?.estimate, 1));
        row.push(Cell::num(boot.mean_of(r, &pos(&m, kk), "length")?.estimate, 1));
        t.push(row);
    }
    t.note("SFT-direct: the world's base, never trained on `<refine>`; SFT-both: EVOLVE's SFT stage (Eq. 4, the world form `refine`); every method starts from SFT-both. G@k = refine@k − direct, paired over prompts (and seeds). Lengths in characters (pitfall 8).");
    Ok(t)
}

/// What each round's data looked like.
pub fn rounds_table(outs: &[Outcome], cfg: &MiniConfig) -> Table {
    let mut t = Table::new("Training data per round (means over seeds)", &["method", "round", "pairs kept / prompts", "examples", "oracle by position (chain or sample)", "oracle gap y_w − y_l", "right order %", "winner position counts", "DPO steps"]);
    for m in &cfg.methods {
        for k in 0..cfg.iterations {
            let rows: Vec<_> = outs.iter().filter_map(|o| o.rows.iter().find(|r| r.method == m.name && r.iter == k)).collect();
            if rows.is_empty() {
                continue;
            }
            let f = |g: &dyn Fn(&crate::pipeline::IterRow) -> f64| mean(&rows.iter().map(|r| g(r)).collect::<Vec<_>>());
            let n = rows[0].data.oracle_by_position.len();
            let by_pos: Vec<String> = (0..n).map(|j| format!("{:.3}", f(&|r| r.data.oracle_by_position.get(j).copied().unwrap_or(f64::NAN)))).collect();
            let wins: Vec<String> = (0..n).map(|j| format!("{:.0}", f(&|r| r.data.winner_position.get(j).copied().unwrap_or(0) as f64))).collect();
            t.push(vec![
                Cell::text(m.name.clone()),
                Cell::text(k.to_string()),
                Cell::text(format!("{:.0} / {:.0}", f(&|r| r.data.kept as f64), f(&|r| r.data.prompts as f64))),
                Cell::num(f(&|r| r.data.examples as f64), 0),
                Cell::text(by_pos.join(" → ")),
                Cell::num(f(&|r| r.data.oracle_gap), 3),
                Cell::num(100.0 * f(&|r| r.data.right_order), 1),
                Cell::text(wins.join(" / ")),
                Cell::num(f(&|r| r.steps as f64), 0),
            ]);
        }
    }
    t.note("Iterative DPO: K direct samples; EVOLVE: the chain y_1 → … → y_N at the sampling temperature. The RM is the oracle plus Gaussian noise; right order = the oracle agrees with the selected pair. Both methods generate N answers per prompt; EVOLVE trains on two examples per pair (direct and refine), so it takes about twice the optimiser steps at the same epochs.");
    t
}

/// Every spec assertion ("Claims a test can assert"), paired over held-out prompts and seeds.
pub fn claims(cfg: &MiniConfig, boot: &Bootstrap, r: &Records, command: &str) -> shared::Result<Claims> {
    let mut c = Claims::new("evolve", command);
    let kk = cfg.eval.refine_steps;
    let last = cfg.iterations - 1;
    let ev = &cfg.main_method(Kind::Evolve).name;
    let it = &cfg.main_method(Kind::IterDpo).name;
    let (el, il, e0) = (at(ev, last), at(it, last), at(ev, 0));
    let (iv, p) = mean_diff(boot, r, &pos(&el, 1), &pos(&el, 0), "score")?;
    c.interval("evolve-refinement-gain", &format!("After round {} EVOLVE ({ev}) improves its own answer by refining it: G@1 > 0 (the paper's self-refinement setting)", last + 1), &format!("oracle score, {el} refine@1 − direct (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    let (iv, p) = mean_diff(boot, r, &pos(&el, kk), &pos(&el, 0), "score")?;
    c.interval("evolve-refine-at-k", &format!("EVOLVE ({ev}) after round {}: refine@{kk} ≥ direct + 0.02", last + 1), &format!("oracle score, {el} refine@{kk} − direct (paired)"), Direction::Greater, 0.02, &iv)?.p_improvement = Some(p);
    let (iv, _) = mean_diff(boot, r, &pos("SFT-direct", 1), &pos("SFT-direct", 0), "score")?;
    c.interval("sft-direct-no-self-refinement", "SFT-direct (no refinement training) gains nothing from the refine prompt: G@1 ≤ 0.01 (v4's motivation: no inherent self-refinement)", "oracle score, SFT-direct refine@1 − direct (paired)", Direction::Less, 0.01, &iv)?;
    let (iv, p) = mean_diff(boot, r, &pos(&el, kk), &pos(&il, 0), "score")?;
    c.interval("evolve-refined-beats-iterdpo", &format!("EVOLVE refine@{kk} beats iterative DPO's direct answer after {} rounds (paper: 62.3 vs 34.5 LC on AlpacaEval 2)", last + 1), &format!("oracle score, {el} refine@{kk} − {il} direct (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    if last > 0 {
        let (iv, p) = mean_diff(boot, r, &pos(&el, kk), &pos(&e0, kk), "score")?;
        c.interval("evolve-evolves", &format!("EVOLVE's refine@{kk} at round {} ≥ at round 1: the capability evolves across iterations", last + 1), &format!("oracle score, {el} − {e0}, both refine@{kk} (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    }
    Ok(c)
}

/// Reported, not asserted (spec claim 5): EVOLVE direct vs iterative DPO direct, rule vs RM, the
/// `refine_negative = none` ablation, each at the last round, paired.
pub fn report_table(cfg: &MiniConfig, boot: &Bootstrap, r: &Records) -> shared::Result<Table> {
    let kk = cfg.eval.refine_steps;
    let last = cfg.iterations - 1;
    let ev = cfg.main_method(Kind::Evolve);
    let it = &cfg.main_method(Kind::IterDpo).name;
    let mut t = Table::new(&format!("Reported, not asserted: differences at the last round (oracle ×100, paired, 95% intervals)") as &str, &["comparison", "difference"]);
    let mut add = |label: String, a: String, b: String| -> shared::Result<()> {
        let (iv, _) = mean_diff(boot, r, &a, &b, "score")?;
        t.push(vec![Cell::text(label), signed(&iv, 100.0)]);
        Ok(())
    };
    add(format!("{} direct − {it} direct", ev.name), pos(&at(&ev.name, last), 0), pos(&at(it, last), 0))?;
    add(format!("{it} refine@{kk} − {it} direct"), pos(&at(it, last), kk), pos(&at(it, last), 0))?;
    for m in cfg.methods.iter().filter(|m| m.kind == Kind::Evolve && m.name != ev.name) {
        let what = if m.selection == Selection::Rule { "rule-based selection" } else { "ablation" };
        add(format!("{} − {} ({what}), refine@{kk}", m.name, ev.name), pos(&at(&m.name, last), kk), pos(&at(&ev.name, last), kk))?;
        add(format!("{} − {} ({what}), direct", m.name, ev.name), pos(&at(&m.name, last), 0), pos(&at(&ev.name, last), 0))?;
    }
    Ok(t)
}

pub fn numbers(boot: &Bootstrap, r: &Records) -> shared::Result<Numbers> {
    let mut n = Numbers::new();
    for m in r.methods() {
        n.push(format!("chain/{m}/score"), &boot.mean_of(r, &m, "score")?)?;
    }
    Ok(n)
}

/// Quality against refinement steps k (the inference-time refinement curves), and refine@K and
/// direct over rounds.
pub fn plots(cfg: &MiniConfig, boot: &Bootstrap, r: &Records, out: &Path) -> shared::Result<()> {
    let kk = cfg.eval.refine_steps;
    let last = cfg.iterations - 1;
    let est = |iv: Interval| Estimate::with_interval(iv.estimate, iv.lo, iv.hi);
    let mut series = vec![];
    let mut names = vec!["SFT-direct".to_string(), "SFT-both".to_string()];
    names.extend(cfg.methods.iter().map(|m| at(&m.name, last)));
    for m in names {
        let points = (0..=kk).map(|k| Ok((k as f64, est(boot.mean_of(r, &pos(&m, k), "score")?)))).collect::<shared::Result<Vec<_>>>()?;
        series.push(Curve { name: m, points });
    }
    save_svg(&out.join("refinement_curves.svg"), &curves(&Labels { title: "Inference-time self-refinement: oracle score of y_{1+k} (k = 0: direct), 95% bootstrap bands", x: "refinement steps k", y: "oracle score" }, &series)?)?;
    let mut series = vec![];
    for m in &cfg.methods {
        for (k, label) in [(0, "direct"), (kk, "refine@K")] {
            let points = (0..cfg.iterations).map(|i| Ok((i as f64 + 1.0, est(boot.mean_of(r, &pos(&at(&m.name, i), k), "score")?)))).collect::<shared::Result<Vec<_>>>()?;
            series.push(Curve { name: format!("{} {label}", m.name), points });
        }
    }
    save_svg(&out.join("rounds.svg"), &curves(&Labels { title: "Direct and refine@K oracle score after each round", x: "round", y: "oracle score" }, &series)?)
}

pub fn save_all(outs: &[Outcome], cfg: &MiniConfig, out: &Path, info: &RunInfo) -> shared::Result<Claims> {
    let mut all = Records::new(&METRICS);
    for o in outs {
        all.extend(records(o)?)?;
    }
    all.save(out, "chain")?;
    let (boot, how) = info.bootstrap("chain", &all)?;
    let mut t = curve_table(&boot, &all, outs, cfg)?;
    t.note(format!("Intervals: {how}."));
    t.save(out, "refinement")?;
    rounds_table(outs, cfg).save(out, "rounds")?;
    report_table(cfg, &boot, &all)?.save(out, "reported")?;
    let c = claims(cfg, &boot, &all, &info.command("evolve"))?;
    c.save(out)?;
    numbers(&boot, &all)?.save(out)?;
    plots(cfg, &boot, &all, out)?;
    info.save(out)?;
    Ok(c)
}
