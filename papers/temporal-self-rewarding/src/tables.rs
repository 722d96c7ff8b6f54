//! The miniature's tables, claims and plots, pooled over seeds, written into
//! `results/temporal-self-rewarding/`.
//!
//! Per-prompt records (`shared::stats`): `pairs.per_prompt.csv` (judge gap, oracle gap and cosine
//! of every trained pair, per method and iteration), `eval.per_prompt.csv` (oracle score and win
//! against `M_0` of every model's greedy answer to every held-out prompt), `judge.per_prompt.csv`
//! (the self-judge's pairwise agreement with the oracle per prompt), `alpaca_mini.per_prompt.csv`.
//! Every spec assertion is decided by the seed-stratified bootstrap over them.
//!
//! A run of one seed widens every interval of the claims, the numbers and the alpaca, gap and judge
//! tables by the spread of the same statistic between the seeds of a committed run
//! ([`RunInfo::bootstraps`], `shared::stats::spread`), one reference per table. Not widened: the plots'
//! bands, over per-seed values held in the outcomes only (no per-prompt table to take a committed
//! spread from).

use crate::config::{Kind, MiniConfig};
use crate::pipeline::{at, win, IterRow, Outcome};
use shared::plot::{curves, save_svg, Curve, Estimate, Labels};
use shared::report::{distinct_notes, Cell, RunInfo, Table};
use shared::stats::{Bootstrap, Claims, Design, Direction, Draw, Interval, Numbers, Record, Records};
use shared::world::alpaca::{headline_diff, mean_diff, Headline, Strengths, PER_PROMPT_METRICS};
use std::path::Path;

pub const PAIR_METRICS: [&str; 3] = ["judge_gap", "oracle_gap", "cosine"];
pub const EVAL_METRICS: [&str; 2] = ["oracle", "win_vs_m0"];

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// All per-prompt records of one seed: (pairs, eval, judge, alpaca).
pub fn records(o: &Outcome) -> shared::Result<[Records; 4]> {
    let mut pairs = Records::new(&PAIR_METRICS);
    let mut ev = Records::new(&EVAL_METRICS);
    let mut judge = Records::new(&["agreement"]);
    for i in 0..o.m0.oracle.len() {
        ev.push(o.seed, "M0", i.to_string(), 0, &[o.m0.oracle[i], 0.5])?;
    }
    for r in &o.rows {
        let name = at(&r.method, r.iter);
        for (j, p) in r.data.pair_prompt.iter().enumerate() {
            pairs.push(o.seed, &name, p.to_string(), 0, &[r.data.judge_gap[j], r.data.oracle_gap[j], r.data.cosine[j]])?;
        }
        for (i, (a, b)) in r.eval.eval.oracle.iter().zip(&o.m0.oracle).enumerate() {
            ev.push(o.seed, &name, i.to_string(), 0, &[*a, win(*a, *b)])?;
        }
        for (p, a) in &r.data.agreement {
            judge.push(o.seed, &name, p.to_string(), 0, &[*a])?;
        }
    }
    let mut a = Records::new(&PER_PROMPT_METRICS);
    for row in &o.alpaca {
        row.push_records(&mut a, o.seed, &row.model)?;
    }
    Ok([pairs, ev, judge, a])
}

/// The bootstrap interval of the mean of one metric of one method (None without rows).
fn mean_iv(boot: &Bootstrap, r: &Records, method: &str, metric: &str) -> shared::Result<Option<Interval>> {
    if !r.rows.iter().any(|x| x.method == method) {
        return Ok(None);
    }
    Ok(Some(boot.mean_of(r, method, metric)?))
}

/// One model's LC win rate (the GLM refitted per replicate at the C of each method and seed),
/// widened by the same statistic on the reference's seeds. The C of a seed is fitted on that
/// seed's own data, so the reference gets its own strengths: a run's seed 0 and the reference's
/// seed 0 are different data under the same key, which one closure over both (`rows_interval`)
/// could not tell apart.
fn lc_interval(boot: &Bootstrap, a: &Records, name: &str, h: Headline) -> shared::Result<Interval> {
    let (pref, dlen) = (a.metric("preference")?, a.metric("delta_len")?);
    let lc = |cs: Strengths| move |x: &Draw<'_, &Record>| x.per_seed(|items| h.value(items.iter().map(|u| (u.values[pref], u.values[dlen])), &cs, name, items[0].seed));
    let iv = boot.interval(&Design::new(&a.of(name)?)?, lc(h.strengths(a, &[name])?))?;
    Ok(match &boot.reference {
        Some(r) => boot.widen(iv, &Design::new(&r.of(name)?)?, lc(h.strengths(r, &[name])?))?,
        None => iv,
    })
}

fn iv_cell(iv: &Option<Interval>, scale: f64, d: usize) -> Cell {
    match iv {
        Some(i) => Cell::text(format!("{:.d$} [{:.d$}, {:.d$}]", scale * i.estimate, scale * i.lo, scale * i.hi, d = d)),
        None => Cell::Missing,
    }
}

/// The keys (method, iteration) in config order.
fn keys(cfg: &MiniConfig) -> Vec<(String, Kind, usize)> {
    cfg.methods.iter().flat_map(|m| (0..m.iterations).map(move |k| (m.name.clone(), m.kind, k))).collect()
}

fn rows_of<'a>(outs: &'a [Outcome], m: &str, k: usize) -> Vec<&'a IterRow> {
    outs.iter().filter_map(|o| o.rows.iter().find(|r| r.method == m && r.iter == k)).collect()
}

/// The mini AlpacaEval per method and iteration, pooled over seeds with 95% bootstrap intervals
/// (`boot` of the alpaca records `a`, `ev_boot` of the eval records `ev`).
pub fn alpaca_table(boot: &Bootstrap, a: &Records, ev_boot: &Bootstrap, ev: &Records, cfg: &MiniConfig, h: Headline) -> shared::Result<Table> {
    let mut t = Table::new(
        "Mini AlpacaEval per method and iteration (greedy answers to the held-out prompts; estimate [95% interval] over prompts and seeds)",
        &["model", "oracle score", "judge WR % vs baseline", "LC WR % vs baseline", "avg length", "win vs M0 %"],
    );
    let names: Vec<String> = std::iter::once("M0".to_string()).chain(keys(cfg).into_iter().map(|(m, _, k)| at(&m, k))).collect();
    for name in names {
        if a.of(&name)?.is_empty() {
            continue;
        }
        let (pref, oracle, len) = (a.metric("preference")?, a.metric("oracle")?, a.metric("length")?);
        let mine = |r: &Record| r.method == name;
        let o = boot.rows_interval(a, mine, |x| x.mean(|u| u.values[oracle]))?;
        let wr = boot.rows_interval(a, mine, |x| 100.0 * x.mean(|u| u.values[pref]))?;
        let lc = if h.lc { Some(lc_interval(boot, a, &name, h)?) } else { None };
        let l = boot.rows_interval(a, mine, |x| x.mean(|u| u.values[len]))?;
        let wm0 = if name == "M0" { None } else { mean_iv(ev_boot, ev, &name, "win_vs_m0")? };
        t.push(vec![name.clone().into(), iv_cell(&Some(o), 1.0, 3), iv_cell(&Some(wr), 1.0, 1), iv_cell(&lc, 1.0, 1), Cell::num(l.estimate, 1), iv_cell(&wm0, 100.0, 1)]);
    }
    t.note("`method@iterK`: the model trained on iteration K's data (0-based as in the paper: Self-Rewarding iter3 = after 4 iterations, Temporal iter1 = after 2). M0: the SFT base that can judge, every method's start.");
    t.note("Judge WR: the world's pairwise judge (length-biased, like GPT-4) against the fixed baseline; LC WR: the length-controlled GLM of the real AlpacaEval, refitted per bootstrap replicate. Win vs M0: oracle score of the greedy answer against M0's, ties ½.");
    Ok(t)
}

/// The chosen–rejected gaps per method and iteration (the paper's shrinking-gap argument).
pub fn gap_table(boot: &Bootstrap, pairs: &Records, outs: &[Outcome], cfg: &MiniConfig) -> shared::Result<Table> {
    let mut t = Table::new(
        "Chosen − rejected gap of the trained pairs per iteration (estimate [95% interval] over pairs and seeds)",
        &["method", "iter", "pairs kept / prompts", "tie-dropped %", "rejected from M0 %", "chosen from M_f %", "judge gap s_c − s_r", "oracle gap r*_c − r*_r", "cos(h_c, h_r) under M_i", "Phase 1 judge / oracle gap", "σ(−r̂) after", "DPO steps (+ M_f)"],
    );
    for (m, kind, k) in keys(cfg) {
        let rows = rows_of(outs, &m, k);
        if rows.is_empty() {
            continue;
        }
        let g = |f: &dyn Fn(&IterRow) -> f64| mean(&rows.iter().map(|r| f(r)).collect::<Vec<_>>());
        let name = at(&m, k);
        let share = |f: &dyn Fn(&IterRow) -> usize| g(&|r| 100.0 * f(r) as f64 / r.data.kept.max(1) as f64);
        t.push(vec![
            m.clone().into(),
            Cell::Int(k as i64),
            Cell::text(format!("{:.0} / {:.0}", g(&|r| r.data.kept as f64), g(&|r| r.data.prompts as f64))),
            Cell::num(g(&|r| 100.0 * r.data.tie_dropped as f64 / r.data.prompts.max(1) as f64), 1),
            Cell::num(share(&|r| r.data.anchored), 1),
            Cell::num(share(&|r| r.data.future_chosen), 1),
            iv_cell(&mean_iv(boot, pairs, &name, "judge_gap")?, 1.0, 3),
            iv_cell(&mean_iv(boot, pairs, &name, "oracle_gap")?, 1.0, 3),
            iv_cell(&mean_iv(boot, pairs, &name, "cosine")?, 1.0, 4),
            if kind == Kind::SelfRewarding { Cell::Missing } else { Cell::text(format!("{:.3} / {:.3}", g(&|r| r.data.phase1_judge_gap), g(&|r| r.data.phase1_oracle_gap))) },
            Cell::num(g(&|r| r.eval.dpo_weight_end), 3),
            Cell::text(format!("{:.0} (+{:.0})", g(&|r| r.steps as f64), g(&|r| r.data.future_steps as f64))),
        ]);
    }
    t.note("Judge scores are the self-judge's (the current model M_i, mean of sampled scores 1–5); oracle gap: the world's true quality r* in [0, 1]. cos: mean-pooled final hidden states over the response tokens under M_i (the paper's representation-convergence diagnostic).");
    t.note("σ(−r̂) at the first step of every DPO run is exactly 0.5 (the policy starts equal to its reference), so the column shows it after the run: how far the pairs were from fitted.");
    Ok(t)
}

/// The self-judge against the oracle, per judge model (the current model of each iteration).
pub fn judge_table(boot: &Bootstrap, judge: &Records, outs: &[Outcome], cfg: &MiniConfig) -> shared::Result<Table> {
    let mut t = Table::new("The self-judge against the oracle (every response M_i judged in iteration K)", &["method", "iter (judge = M_iter)", "responses / prompt", "pairwise agreement with the oracle %", "mean |score − rubric|", "mean score", "unparseable %"]);
    for (m, _, k) in keys(cfg) {
        let rows = rows_of(outs, &m, k);
        if rows.is_empty() {
            continue;
        }
        let g = |f: &dyn Fn(&IterRow) -> f64| mean(&rows.iter().map(|r| f(r)).collect::<Vec<_>>());
        t.push(vec![
            m.clone().into(),
            Cell::Int(k as i64),
            Cell::num(g(&|r| r.data.samples_per_prompt as f64), 0),
            iv_cell(&mean_iv(boot, judge, &at(&m, k), "agreement")?, 100.0, 1),
            Cell::num(g(&|r| r.data.abs_error), 2),
            Cell::num(g(&|r| r.data.mean_judge_score), 2),
            Cell::num(g(&|r| 100.0 * r.data.unparseable), 2),
        ]);
    }
    t.note("Pairwise agreement: over the pairs of one prompt's judged responses whose oracle scores differ, the share the judge orders the same way (judge ties ½); 50% is chance. At iter0 every method's judge is M_0. The rubric is the 5-point additive rubric the EFT data was labelled with (clamped to 1–5).");
    Ok(t)
}

/// `M_0`'s judge on fresh EFT demonstrations, per rubric level (pooled over seeds).
pub fn eft_table(outs: &[Outcome]) -> Table {
    let mut t = Table::new("M_0's self-judge on 1,000 fresh EFT demonstrations per seed (the judge's own task, in distribution)", &["rubric level", "demonstrations", "mean expected score Σ k·p_k", "most likely token = level %"]);
    for k in 1..=5 {
        let rows: Vec<(f64, f64)> = outs.iter().flat_map(|o| o.eft.level.iter().zip(o.eft.expected.iter().zip(&o.eft.argmax)).filter(|(l, _)| **l == k as f64).map(|(_, (e, a))| (*e, *a))).collect();
        t.push(vec![Cell::Int(k), Cell::Int(rows.len() as i64), Cell::num(mean(&rows.iter().map(|r| r.0).collect::<Vec<_>>()), 2), Cell::num(100.0 * mean(&rows.iter().map(|r| f64::from(u8::from(r.1 == k as f64))).collect::<Vec<_>>()), 1)]);
    }
    let agree = mean(&outs.iter().filter_map(|o| crate::judge::pairwise_agreement(&o.eft.expected, &o.eft.level)).collect::<Vec<_>>());
    t.note(format!("Pairwise agreement of the expected score with the rubric level over all pairs of different levels: {:.1}% (chance 50%). The demonstrations are new draws from the EFT mixture (not the training draws); the self-judge is then used on the model's own samples (the judge table), a shifted distribution.", 100.0 * agree));
    t
}

/// Compute spent per method (spec pitfall 8: compare at matched compute).
pub fn compute_table(outs: &[Outcome], cfg: &MiniConfig) -> Table {
    let mut t = Table::new("Compute per method (means over seeds)", &["method", "iterations", "DPO runs", "DPO optimiser steps", "responses sampled and self-judged per prompt (all iterations)"]);
    for m in &cfg.methods {
        let per_seed: Vec<(f64, f64, f64)> = outs
            .iter()
            .map(|o| {
                let rs: Vec<&IterRow> = o.rows.iter().filter(|r| r.method == m.name).collect();
                let runs = rs.iter().map(|r| 1.0 + f64::from(u8::from(r.kind == Kind::Temporal))).sum();
                let steps = rs.iter().map(|r| (r.steps + r.data.future_steps) as f64).sum();
                let samples = rs.iter().map(|r| r.data.samples_per_prompt as f64).sum();
                (runs, steps, samples)
            })
            .collect();
        let g = |f: &dyn Fn(&(f64, f64, f64)) -> f64| mean(&per_seed.iter().map(f).collect::<Vec<_>>());
        t.push(vec![m.name.clone().into(), Cell::Int(m.iterations as i64), Cell::num(g(&|x| x.0), 0), Cell::num(g(&|x| x.1), 1), Cell::num(g(&|x| x.2), 0)]);
    }
    t.note("Temporal trains two DPO models per iteration (M_f, then M_{i+1} from M_i) and samples 3K responses per prompt (K from M_i, K from M_0, K from M_f); Self-Rewarding trains one and samples K.");
    t
}

/// `mean_a − c·mean_b` of a pair metric at two (method, iteration) labels. The two pair sets
/// come from different prompt chunks (unpaired); a record's prompt id is the prompt's index in its
/// chunk, so one resampled unit holds the pairs of index j of both chunks: every replicate keeps
/// both sets, and each set is still resampled over its own prompts (a grouping, not a pairing).
/// A ratio `later / first ≤ c` is decided as `later − c·first ≤ 0`, which stays defined when a
/// replicate's `first` mean is 0. A one-seed interval is widened by the same statistic on the
/// reference's seeds.
fn scaled_diff(boot: &Bootstrap, pairs: &Records, a: &str, b: &str, metric: &str, c: f64) -> shared::Result<Interval> {
    let j = pairs.metric(metric)?;
    let iv = boot.rows_interval(pairs, |r| r.method == a || r.method == b, |x| {
        let (mut sa, mut na, mut sb, mut nb) = (0.0, 0.0, 0.0, 0.0);
        for r in x.items() {
            if r.method == a {
                sa += r.values[j];
                na += 1.0;
            } else {
                sb += r.values[j];
                nb += 1.0;
            }
        }
        sa / na - c * sb / nb
    })?;
    Ok(iv)
}

/// The names the four per-prompt tables of [`records`] are saved under, in that order.
pub const TABLES: [&str; 4] = ["pairs", "eval", "judge", "alpaca_mini"];

/// Every spec assertion ("Claims a test can assert"), decided over prompts and seeds; `boots[i]`
/// is the bootstrap of `rec[i]` ([`RunInfo::bootstraps`]).
pub fn claims(cfg: &MiniConfig, rec: &[Records; 4], boots: &[Bootstrap; 4], outs: &[Outcome], command: &str) -> shared::Result<Claims> {
    let [pairs, ev, judge, a] = rec;
    let [pboot, boot, jboot, aboot] = boots;
    let mut c = Claims::new("temporal-self-rewarding", command);
    let (sr, tsr, past) = (cfg.method(Kind::SelfRewarding), cfg.method(Kind::Temporal), cfg.method(Kind::PastOnly));
    let (sl, tl, pl) = (sr.iterations - 1, tsr.iterations - 1, past.iterations - 1);
    let (sr_last, tsr_last, past_last) = (at(&sr.name, sl), at(&tsr.name, tl), at(&past.name, pl));
    let (sr0, tsr0) = (at(&sr.name, 0), at(&tsr.name, 0));
    // 1. SR gap collapse.
    if sl > 0 {
        let iv = scaled_diff(pboot, pairs, &sr_last, &sr0, "oracle_gap", 0.6)?;
        c.interval("sr-oracle-gap-collapses", &format!("Self-Rewarding's oracle gap of the trained pairs shrinks: iter{sl} ≤ 0.6 × iter0 (paper: the judge gap shrinks about 9× over 4 iterations)"), &format!("mean oracle gap, {sr_last} − 0.6 × {sr0} (unpaired)"), Direction::Less, 0.0, &iv)?;
        let iv = scaled_diff(pboot, pairs, &sr_last, &sr0, "judge_gap", 0.6)?;
        c.interval("sr-judge-gap-collapses", &format!("Self-Rewarding's self-judge score gap shrinks: iter{sl} ≤ 0.6 × iter0 (paper: ratio ≈ 0.11)"), &format!("mean judge gap, {sr_last} − 0.6 × {sr0} (unpaired)"), Direction::Less, 0.0, &iv)?;
    }
    // 2. TSR gap preserved.
    if tl > 0 {
        let iv = scaled_diff(pboot, pairs, &tsr_last, &tsr0, "oracle_gap", 0.8)?;
        c.interval("tsr-gap-preserved", &format!("Temporal's oracle gap stays: iter{tl} ≥ 0.8 × iter0 (paper: roughly stable)"), &format!("mean oracle gap, {tsr_last} − 0.8 × {tsr0} (unpaired)"), Direction::Greater, 0.0, &iv)?;
        let iv = scaled_diff(pboot, pairs, &tsr_last, &tsr0, "judge_gap", 0.8)?;
        c.interval("tsr-judge-gap-preserved", &format!("Temporal's self-judge score gap stays: iter{tl} ≥ 0.8 × iter0"), &format!("mean judge gap, {tsr_last} − 0.8 × {tsr0} (unpaired)"), Direction::Greater, 0.0, &iv)?;
    }
    let iv = scaled_diff(pboot, pairs, &tsr_last, &sr_last, "oracle_gap", 1.0)?;
    c.interval("tsr-gap-above-sr", &format!("Temporal's oracle gap at iter{tl} is above Self-Rewarding's at iter{sl}"), &format!("mean oracle gap, {tsr_last} − {sr_last} (unpaired)"), Direction::Greater, 0.0, &iv)?;
    // 3. Representation collapse.
    if sl > 0 {
        let iv = scaled_diff(pboot, pairs, &sr_last, &sr0, "cosine", 1.0)?;
        c.interval("sr-cosine-rises", &format!("Self-Rewarding's chosen/rejected cosine similarity rises from iter0 to iter{sl}"), &format!("mean cos(h_c, h_r), {sr_last} − {sr0} (unpaired)"), Direction::Greater, 0.0, &iv)?;
    }
    let iv = scaled_diff(pboot, pairs, &tsr_last, &sr_last, "cosine", 1.0)?;
    c.interval("tsr-cosine-below-sr", &format!("Temporal's chosen/rejected cosine at iter{tl} is below Self-Rewarding's at iter{sl}"), &format!("mean cos(h_c, h_r), {tsr_last} − {sr_last} (unpaired)"), Direction::Less, 0.0, &iv)?;
    // 4. Outcome.
    let (iv, p) = mean_diff(boot, ev, &tsr_last, &sr_last, "win_vs_m0")?;
    c.interval("tsr-beats-sr", &format!("win rate vs M0: Temporal iter{tl} ≥ Self-Rewarding iter{sl} (paper Table 1: AlpacaEval 2.0 WR 29.44 vs 19.69)"), &format!("win vs M0, {tsr_last} − {sr_last} (paired over held-out prompts)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    let h = Headline::of(outs.iter().flat_map(|o| o.alpaca.iter()));
    let best_sr = (0..sr.iterations)
        .map(|k| at(&sr.name, k))
        .max_by(|x, y| {
            let v = |m: &String| mean(&outs.iter().filter_map(|o| o.alpaca.iter().find(|r| &r.model == m).map(|r| if h.lc { r.lc_win_rate.unwrap_or(r.win_rate) } else { r.win_rate })).collect::<Vec<_>>());
            v(x).total_cmp(&v(y))
        })
        .unwrap_or_else(|| sr_last.clone());
    let (iv, p) = headline_diff(aboot, a, &tsr_last, &best_sr, h)?;
    c.interval("tsr-beats-best-sr-alpaca", &format!("mini AlpacaEval {}: Temporal iter{tl} > the best Self-Rewarding iteration ({best_sr}, chosen on these data) (paper: 27.94 vs 19.92 LC, 29.44 vs 19.69 WR)", h.name()), &format!("{}, {tsr_last} − {best_sr} (paired)", h.name()), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    let (iv, p) = mean_diff(boot, ev, &past_last, &sr_last, "win_vs_m0")?;
    c.interval("past-only-beats-sr", &format!("win rate vs M0: Past-only iter{pl} ≥ Self-Rewarding iter{sl} (paper Table 2: Past-only already beats Self-Rewarding)"), &format!("win vs M0, {past_last} − {sr_last} (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    let (iv, p) = mean_diff(boot, ev, &tsr_last, &past_last, "win_vs_m0")?;
    c.interval("future-adds-to-past", &format!("win rate vs M0: Temporal iter{tl} > Past-only iter{pl} (paper Table 2: the future part adds a smaller complementary gain)"), &format!("win vs M0, {tsr_last} − {past_last} (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    let iv = boot.mean_of(ev, &tsr_last, "win_vs_m0")?;
    c.interval("tsr-beats-m0", &format!("Temporal iter{tl} wins against M0 (> 0.5) (paper: 29.44 vs 5.96 for SFT)"), &format!("win vs M0 of {tsr_last} (ties ½)"), Direction::Greater, 0.5, &iv)?;
    // 5. Compute accounting.
    let steps = |name: &str| mean(&outs.iter().map(|o| o.rows.iter().filter(|r| r.method == name).map(|r| (r.steps + r.data.future_steps) as f64).sum::<f64>()).collect::<Vec<_>>());
    let ratio_steps = steps(&tsr.name) / steps(&sr.name).max(1.0);
    c.deterministic("compute-matched", &format!("Temporal's DPO optimiser steps (2 iterations × 2 runs) ≤ 1.25 × Self-Rewarding's ({} iterations × 1 run)", sr.iterations), "DPO steps, Temporal / Self-Rewarding (mean over seeds; counted, no sampling)", Direction::Less, 1.25, ratio_steps)?.seeds = ev.seeds();
    // Precondition: the base can judge.
    let iv = jboot.mean_of(judge, &sr0, "agreement")?;
    c.interval("m0-judges-above-chance", "M_0 (SFT on IFT ∪ EFT) orders its own samples like the oracle more often than chance (the precondition of self-rewarding)", "pairwise agreement of M_0's judgments with the oracle (iter0, Self-Rewarding's samples)", Direction::Greater, 0.5, &iv)?;
    Ok(c)
}

/// Numbers a rerun is compared against: each model's oracle and win vs M0, each pair set's gaps
/// (`boots[i]`: the bootstrap of `rec[i]`).
pub fn numbers(rec: &[Records; 4], boots: &[Bootstrap; 4]) -> shared::Result<Numbers> {
    let mut n = Numbers::new();
    for m in rec[1].methods() {
        for metric in EVAL_METRICS {
            if m == "M0" && metric == "win_vs_m0" {
                continue;
            }
            n.push(format!("eval/{m}/{metric}"), &boots[1].mean_of(&rec[1], &m, metric)?)?;
        }
    }
    for m in rec[0].methods() {
        for metric in PAIR_METRICS {
            n.push(format!("pairs/{m}/{metric}"), &boots[0].mean_of(&rec[0], &m, metric)?)?;
        }
    }
    Ok(n)
}

/// The score gap over iterations per method (95% bands over seeds), judge and oracle; win vs M0.
/// The bands come from the outcomes' per-seed values, not from a per-prompt table, so a one-seed
/// run cannot widen them by a committed seed spread (one seed draws points, no band).
pub fn plots(outs: &[Outcome], cfg: &MiniConfig, out: &Path) -> shared::Result<()> {
    let series = |f: &dyn Fn(&Outcome, &IterRow) -> f64| -> Vec<Curve> {
        cfg.methods
            .iter()
            .map(|m| Curve {
                name: m.name.clone(),
                points: (0..m.iterations)
                    .filter_map(|k| Estimate::mean_ci95(&outs.iter().filter_map(|o| o.rows.iter().find(|r| r.method == m.name && r.iter == k).map(|r| f(o, r))).collect::<Vec<_>>()).map(|e| (k as f64, e)))
                    .collect(),
            })
            .collect()
    };
    save_svg(&out.join("score_gap.svg"), &curves(&Labels { title: "Self-judge score gap s_c − s_r of the trained pairs (95% band over seeds)", x: "iteration (0-based)", y: "judge gap (1–5 scale)" }, &series(&|_, r| mean(&r.data.judge_gap)))?)?;
    save_svg(&out.join("oracle_gap.svg"), &curves(&Labels { title: "Oracle gap r*_c − r*_r of the trained pairs (95% band over seeds)", x: "iteration (0-based)", y: "oracle gap" }, &series(&|_, r| mean(&r.data.oracle_gap)))?)?;
    let w = series(&|o, r| mean(&r.eval.eval.oracle.iter().zip(&o.m0.oracle).map(|(a, b)| win(*a, *b)).collect::<Vec<_>>()));
    save_svg(&out.join("win_vs_m0.svg"), &curves(&Labels { title: "Win rate against M0 after each iteration (oracle, ties ½)", x: "iteration (0-based)", y: "win vs M0" }, &w)?)
}

/// Write every table, record, claim, number and plot of the outcomes (one per seed).
pub fn save_all(outs: &[Outcome], cfg: &MiniConfig, out: &Path, info: &RunInfo) -> shared::Result<Claims> {
    let mut all: [Records; 4] = [Records::new(&PAIR_METRICS), Records::new(&EVAL_METRICS), Records::new(&["agreement"]), Records::new(&PER_PROMPT_METRICS)];
    for o in outs {
        for (acc, r) in all.iter_mut().zip(records(o)?) {
            acc.extend(r)?;
        }
    }
    for (r, name) in all.iter().zip(TABLES) {
        r.save(out, name)?;
    }
    let (boots, lines) = info.bootstraps(std::array::from_fn(|i| (TABLES[i], &all[i])))?;
    // A table with intervals says how they were made when they come from one seed.
    let noted = |mut t: Table, tables: &[usize]| {
        t.notes.extend(distinct_notes(tables.iter().map(|&i| &lines[i])));
        t
    };
    let h = Headline::of(outs.iter().flat_map(|o| o.alpaca.iter()));
    noted(alpaca_table(&boots[3], &all[3], &boots[1], &all[1], cfg, h)?, &[3, 1]).save(out, "alpaca_mini")?;
    noted(gap_table(&boots[0], &all[0], outs, cfg)?, &[0]).save(out, "gaps")?;
    noted(judge_table(&boots[2], &all[2], outs, cfg)?, &[2]).save(out, "judge")?;
    compute_table(outs, cfg).save(out, "compute")?;
    eft_table(outs).save(out, "eft")?;
    let mut c = claims(cfg, &all, &boots, outs, &info.command("temporal-self-rewarding"))?;
    c.notes.extend(distinct_notes(&lines));
    c.save(out)?;
    numbers(&all, &boots)?.save(out)?;
    plots(outs, cfg, out)?;
    info.save(out)?;
    Ok(c)
}
