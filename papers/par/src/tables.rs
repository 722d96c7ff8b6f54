//! `results/par/`: the methods × oracle win rate table (the paper's lab1 row beside it), the
//! robustness curves (proxy reward and oracle win rate per evaluation point, per method, band
//! over seeds), the per-prompt records, the claims (seed-stratified bootstrap, `shared::stats`)
//! and `numbers.csv`.

use crate::pipeline::{MethodRun, Outcome};
use crate::shaping::Shaping;
use anyhow::{bail, Result};
use shared::plot::{curves, save_svg, Curve, Estimate, Labels};
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{paired, Bootstrap, Claims, Direction, Numbers, Records};
use std::path::Path;

/// Per-prompt metrics of each (seed, method), over the evaluation prompts.
pub const METRICS: [&str; 8] = ["win_final", "win_avg", "win_peak", "drop", "proxy_start", "proxy_final", "proxy_gain", "length_final"];

/// The paper's average win rate vs SFT (Gemma2-2B, UltraFeedback; figure lab1), by shaping.
fn paper_avg(s: &Shaping) -> Option<f64> {
    match s {
        Shaping::Vanilla => Some(0.29),
        Shaping::Meanstd => Some(0.33),
        Shaping::Clip => Some(0.32),
        Shaping::Minmax => Some(0.61),
        Shaping::Lsc => Some(0.58),
        Shaping::Par { m: 10, .. } | Shaping::Par { m: 1, .. } => Some(0.63),
        Shaping::Sigmoid { .. } => Some(0.59),
        _ => None,
    }
}

/// The evaluation point (after training started) with the highest mean win rate.
fn peak(r: &MethodRun) -> usize {
    (1..r.evals.len()).max_by(|&a, &b| r.evals[a].2.win_rate.total_cmp(&r.evals[b].2.win_rate)).unwrap_or(0)
}

pub fn records(outcomes: &[Outcome]) -> shared::Result<Records> {
    let mut rec = Records::new(&METRICS);
    for o in outcomes {
        for r in &o.runs {
            let (first, last) = (&r.evals[0].2, &r.evals[r.evals.len() - 1].2);
            let pk = &r.evals[peak(r)].2;
            let trained = &r.evals[1.min(r.evals.len() - 1)..];
            for i in 0..last.wins.len() {
                let avg = trained.iter().map(|e| e.2.wins[i]).sum::<f64>() / trained.len() as f64;
                let v = [last.wins[i], avg, pk.wins[i], last.wins[i] - pk.wins[i], first.proxies[i], last.proxies[i], last.proxies[i] - first.proxies[i], last.lengths[i]];
                rec.push(o.seed, &r.name, format!("eval-{i:04}"), 0, &v)?;
            }
        }
    }
    Ok(rec)
}

fn mean_over_seeds(outcomes: &[Outcome], method: &str, f: impl Fn(&MethodRun) -> f64) -> Option<Estimate> {
    let v: Vec<f64> = outcomes.iter().filter_map(|o| o.runs.iter().find(|r| r.name == method)).map(f).collect();
    Estimate::mean_ci95(&v)
}

pub fn table(outcomes: &[Outcome], boot: &Bootstrap, rec: &Records) -> shared::Result<Table> {
    let mut t = Table::new(
        "PAR miniature: oracle win rate vs the SFT model per shaping method (PPO against the hackable proxy, two passes)",
        &["method", "paper avg WR (Gemma2-2B UF)", "mini avg WR", "mini final WR", "mini peak WR", "proxy start", "proxy final", "length final"],
    );
    for r in &outcomes[0].runs {
        let iv = |m: &str| boot.mean_of(rec, &r.name, m);
        let (a, f, p) = (iv("win_avg")?, iv("win_final")?, iv("win_peak")?);
        let (ps, pf, l) = (iv("proxy_start")?, iv("proxy_final")?, iv("length_final")?);
        t.push(vec![
            r.name.clone().into(),
            Cell::opt(paper_avg(&r.shaping), 2),
            Cell::text(format!("{:.3} [{:.3}, {:.3}]", a.estimate, a.lo, a.hi)),
            Cell::text(format!("{:.3} [{:.3}, {:.3}]", f.estimate, f.lo, f.hi)),
            Cell::num(p.estimate, 3),
            Cell::num(ps.estimate, 3),
            Cell::num(pf.estimate, 3),
            Cell::num(l.estimate, 1),
        ]);
    }
    t.note("WR: oracle win rate of one sampled answer per held-out prompt against the SFT model's sampled answer (ties ½); avg = mean over the evaluation points after training starts (the paper's 'average over checkpoints'); [95% interval over prompts and seeds].");
    t.note("peak: at the evaluation point with the highest mean WR (chosen on these same data, so biased upward). proxy: the raw proxy RM score on the evaluation answers.");
    t.note("Paper column: average DeepSeek-V3 win rate vs SFT over ~10 checkpoints, Gemma2-2B on UltraFeedback (figure lab1 of PorUna-byte/PAR); both PAR rows show the M = 10 run's value (M = 1: 0.63 in lab2). Compare directions, not levels.");
    Ok(t)
}

pub fn plots(outcomes: &[Outcome], out: &Path) -> Result<()> {
    for (metric, y, stem) in [("win", "oracle win rate vs SFT", "curve_winrate"), ("proxy", "proxy RM reward", "curve_proxy")] {
        let mut series = vec![];
        for r in &outcomes[0].runs {
            let points = (0..r.evals.len())
                .filter_map(|k| {
                    let x = r.evals[k].1 as f64;
                    mean_over_seeds(outcomes, &r.name, |m| m.evals.get(k).map_or(f64::NAN, |e| if metric == "win" { e.2.win_rate } else { e.2.proxy })).map(|e| (x, e))
                })
                .collect();
            series.push(Curve { name: r.name.clone(), points });
        }
        let title = format!("PAR miniature: {y} during PPO (mean over seeds, 95% band)");
        save_svg(&out.join(format!("{stem}.svg")), &curves(&Labels { title: &title, x: "prompts seen", y }, &series)?)?;
    }
    Ok(())
}

fn find(o: &Outcome, f: impl Fn(&Shaping) -> bool) -> Option<&MethodRun> {
    o.runs.iter().find(|r| f(&r.shaping))
}

pub fn claims(outcomes: &[Outcome], boot: &Bootstrap, rec: &Records, command: &str) -> shared::Result<Claims> {
    let mut c = Claims::new("par", command);
    let o = &outcomes[0];
    let vanilla = find(o, |s| *s == Shaping::Vanilla).map(|r| r.name.clone());
    let max_m = o.runs.iter().filter_map(|r| if let Shaping::Par { m, .. } = r.shaping { Some(m) } else { None }).max();
    let par = find(o, |s| matches!(s, Shaping::Par { m, .. } if Some(*m) == max_m)).map(|r| r.name.clone());
    let par1 = find(o, |s| matches!(s, Shaping::Par { m: 1, .. })).map(|r| r.name.clone()).filter(|n| Some(n) != par.as_ref());
    if let Some(v) = &vanilla {
        let iv = boot.mean_of(rec, v, "proxy_gain")?;
        c.interval("vanilla-proxy-rises", "Vanilla PPO raises the proxy reward (end of run vs start)", &format!("proxy RM score on the evaluation answers, {v}: final − start"), Direction::Greater, 0.0, &iv)?;
        let iv = boot.mean_of(rec, v, "drop")?;
        c.interval("vanilla-hacked", "Vanilla is hacked: its final oracle win rate falls below its peak", &format!("oracle win rate vs SFT, {v}: final − peak (peak chosen on the same data)"), Direction::Less, 0.0, &iv)?;
    }
    if let (Some(p), Some(v)) = (&par, &vanilla) {
        let pr = paired(rec, p, v)?;
        c.interval("par-beats-vanilla-final", "PAR's final oracle win rate is above Vanilla's", &format!("oracle win rate vs SFT at the end, {p} − {v} (paired)"), Direction::Greater, 0.0, &boot.mean_diff(&pr, "win_final")?)?;
        c.interval("par-drops-less", "PAR's end-of-run drop from its own peak is smaller than Vanilla's", &format!("(final − peak win rate), {p} − {v} (paired)"), Direction::Greater, 0.0, &boot.mean_diff(&pr, "drop")?)?;
    }
    if let Some(p) = &par {
        // "Every competing shaping method": the other PAR runs (M = 1) are PAR itself, compared
        // by the M = 1 vs M = 10 claims below.
        for r in o.runs.iter().filter(|r| !matches!(r.shaping, Shaping::Par { .. })) {
            let pr = paired(rec, p, &r.name)?;
            c.interval(
                &format!("par-avg-5pts-above-{}", shared::driver::slug(&r.name)),
                &format!("PAR's average win rate is ≥ 5 points above {} (abstract: ≥ 5 points above every competing shaping method)", r.name),
                &format!("average oracle win rate over checkpoints, {p} − {} (paired)", r.name),
                Direction::Greater,
                0.05,
                &boot.mean_diff(&pr, "win_avg")?,
            )?;
        }
        // Bounded: every shaped reward any PAR run trained on lies in (0, 1) (exact, all seeds).
        let margin = outcomes.iter().filter_map(|o| o.runs.iter().find(|r| &r.name == p)).filter_map(|r| r.reward_range).map(|(lo, hi)| lo.min(1.0 - hi)).fold(f64::INFINITY, f64::min);
        if margin.is_finite() {
            c.deterministic("par-bounded", "PAR's shaped rewards always lie in (0, 1)", &format!("min over the runs' shaped rewards of min(R, 1 − R), {p}"), Direction::Greater, 0.0, margin)?;
        }
        if let Some(p1) = &par1 {
            let iv = boot.mean_diff(&paired(rec, p, p1)?, "win_final")?;
            let tol = 0.1;
            c.interval("par-m10-not-above-m1", &format!("PAR with M = 1 and M = 10 references end within ±{tol} of each other ({p} vs {p1}; upper side)"), &format!("final oracle win rate, {p} − {p1} (paired)"), Direction::Less, tol, &iv)?;
            c.interval("par-m10-not-below-m1", &format!("PAR with M = 1 and M = 10 references end within ±{tol} of each other ({p} vs {p1}; lower side)"), &format!("final oracle win rate, {p} − {p1} (paired)"), Direction::Greater, -tol, &iv)?;
        }
    }
    Ok(c)
}

pub fn numbers(outcomes: &[Outcome], boot: &Bootstrap, rec: &Records) -> shared::Result<Numbers> {
    let mut n = Numbers::new();
    for r in &outcomes[0].runs {
        for m in METRICS {
            n.push(format!("{}/{m}", r.name), &boot.mean_of(rec, &r.name, m)?)?;
        }
    }
    Ok(n)
}

/// How a one-seed run's intervals were made (widened by a reference's seed spread or not), under
/// the claims. A run of several seeds gets no note: the legend already says its bootstrap draws
/// seeds, and its claims stay as committed.
fn note_intervals(c: &mut Claims, info: &RunInfo, how: &str) {
    if info.seeds.len() == 1 {
        c.notes.push(format!("Intervals: {how}."));
    }
}

/// Write every table, plot, record, claim and number; returns the claims.
pub fn save_all(outcomes: &[Outcome], out: &Path, info: &RunInfo) -> Result<Claims> {
    if outcomes.is_empty() || outcomes.iter().any(|o| o.runs.iter().map(|r| &r.name).ne(outcomes[0].runs.iter().map(|r| &r.name))) {
        bail!("par tables: every seed must run the same methods");
    }
    let rec = records(outcomes)?;
    rec.save(out, "winrate")?;
    // Every interval below (table, claims, numbers) is a mean or paired mean of `winrate`, so a
    // one-seed run's are widened by the committed seeds' spread. Not widened: the plots' bands,
    // t intervals over the per-seed curves held in the outcomes only (no records; none for one
    // seed), and the exact `par-bounded` claim.
    let (boot, how) = info.bootstrap("winrate", &rec)?;
    table(outcomes, &boot, &rec)?.save(out, "table_winrate")?;
    let mut proxy = Table::new("The hackable proxy reward model, per seed", &["seed", "held-out oracle agreement %", "proxy gain per filler phrase"]);
    for o in outcomes {
        proxy.push(vec![Cell::Int(o.seed as i64), Cell::num(o.proxy_oracle_agreement, 1), Cell::num(o.proxy_filler_gain, 3)]);
    }
    proxy.note("Gain: mean proxy(correct answer + one filler) − proxy(correct answer) on held-out prompts; the oracle charges 0.03 per filler, so a positive gain is the hack.");
    proxy.save(out, "proxy")?;
    plots(outcomes, out)?;
    let mut c = claims(outcomes, &boot, &rec, &info.command("par"))?;
    note_intervals(&mut c, info, &how);
    c.save(out)?;
    numbers(outcomes, &boot, &rec)?.save(out)?;
    info.save(out)?;
    Ok(c)
}
