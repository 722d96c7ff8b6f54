//! The miniature's tables, claims and plots, pooled over seeds, written into `results/drift/`.
//!
//! Per-prompt records (`shared::stats`): `eval.per_prompt.csv` (oracle, win against the base,
//! checklist score of every model's greedy answer to every held-out prompt, after every iteration),
//! `diversity.per_prompt.csv` (per open-answer prompt), `weights.per_prompt.csv` (the DPO weight
//! σ(−s) of every trained pair after its iteration), `alpaca_mini.per_prompt.csv`. Every spec
//! assertion is decided by the seed-stratified bootstrap over them.
//!
//! A run of one seed widens every claim and number interval by the spread of the same statistic
//! between the seeds of a committed run ([`RunInfo::bootstraps`], `shared::stats::spread`), one reference
//! per table. Not widened: the plots' bands, over per-seed values held in the outcomes only (no
//! per-prompt table to take a committed spread from).

use crate::config::{Kind, MiniConfig};
use crate::metrics::{coverage_share, distinct_n, win};
use crate::pipeline::Outcome;
use shared::plot::{curves, save_svg, Curve, Estimate, Labels};
use shared::report::{distinct_notes, Cell, RunInfo, Table};
use shared::stats::{Bootstrap, Claims, Direction, Numbers, Records};
use shared::world::alpaca::{mean_diff, MiniAlpacaEval, PER_PROMPT_METRICS};
use std::collections::HashSet;
use std::path::Path;

pub const EVAL_METRICS: [&str; 3] = ["oracle", "win_vs_base", "checklist"];
pub const DIVERSITY_METRICS: [&str; 3] = ["distinct_correct", "coverage", "distinct2"];

/// A method after iteration t, as named in the records.
pub fn at(method: &str, t: usize) -> String {
    format!("{method}@{t}")
}

/// All per-prompt records of one seed's outcome: (eval, diversity, weights, alpaca).
pub fn records(o: &Outcome) -> shared::Result<[Records; 4]> {
    let mut ev = Records::new(&EVAL_METRICS);
    let push = |r: &mut Records, name: &str, e: &crate::pipeline::EvalOut| -> shared::Result<()> {
        for i in 0..e.oracle.len() {
            r.push(o.seed, name, i.to_string(), 0, &[e.oracle[i], win(e.oracle[i], o.base.oracle[i]), e.checklist[i]])?;
        }
        Ok(())
    };
    push(&mut ev, "base", &o.base)?;
    push(&mut ev, "pi0", &o.pi0)?;
    let mut w = Records::new(&["dpo_weight_end"]);
    for row in &o.rows {
        push(&mut ev, &at(&row.method, row.iteration), &row.eval.eval)?;
        for (i, v) in row.eval.dpo_weight_end.iter().enumerate() {
            w.push(o.seed, &at(&row.method, row.iteration), format!("{}:{i}", row.method), 0, &[*v])?;
        }
    }
    let mut d = Records::new(&DIVERSITY_METRICS);
    let methods: Vec<&String> = o.diversity.keys().collect();
    let prompts: Vec<String> = o.diversity.values().next().map(|v| v.correct.keys().cloned().collect()).unwrap_or_default();
    for p in &prompts {
        let pool: HashSet<String> = o.diversity.values().flat_map(|v| v.correct[p].iter().cloned()).collect();
        for m in &methods {
            let mine: HashSet<String> = o.diversity[*m].correct[p].iter().cloned().collect();
            let words: Vec<Vec<String>> = mine.iter().map(|y| y.split_whitespace().map(String::from).collect()).collect();
            d.push(o.seed, m, p.clone(), 0, &[mine.len() as f64, coverage_share(&mine, &pool), distinct_n(&words, 2)])?;
        }
    }
    let mut a = Records::new(&PER_PROMPT_METRICS);
    for row in &o.alpaca {
        row.push_records(&mut a, o.seed, &row.model)?;
    }
    Ok([ev, d, w, a])
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Per method and iteration, means over seeds (training signal and evaluation).
pub fn iterations_table(outs: &[Outcome]) -> Table {
    let mut t = Table::new(
        "DRIFT miniature: data, training signal and held-out evaluation per iteration (means over seeds)",
        &["method", "iter", "pairs", "oracle y⁺ / y⁻", "y⁺ better %", "identical %", "log-lik margin at start", "σ(−s) after", "first |grad|", "oracle", "win vs base %", "checklist (1-10)"],
    );
    let ev = |f: &dyn Fn(&Outcome) -> &crate::pipeline::EvalOut| {
        let o = mean(&outs.iter().map(|o| mean(&f(o).oracle)).collect::<Vec<_>>());
        let w = mean(&outs.iter().map(|o| mean(&f(o).oracle.iter().zip(&o.base.oracle).map(|(a, b)| win(*a, *b)).collect::<Vec<_>>())).collect::<Vec<_>>());
        let c = mean(&outs.iter().map(|o| mean(&f(o).checklist)).collect::<Vec<_>>());
        (o, w, c)
    };
    for (name, f) in [("base", (|o: &Outcome| &o.base) as fn(&Outcome) -> &crate::pipeline::EvalOut), ("π0 (seed DPO)", |o: &Outcome| &o.pi0)] {
        let (o, w, c) = ev(&f);
        let mut row: Vec<Cell> = vec![name.into(), Cell::Missing];
        row.extend(std::iter::repeat(Cell::Missing).take(7));
        row.extend([Cell::num(o, 3), Cell::num(100.0 * w, 1), Cell::num(c, 2)]);
        t.push(row);
    }
    let Some(first) = outs.first() else { return t };
    let keys: Vec<(String, usize)> = first.rows.iter().map(|r| (r.method.clone(), r.iteration)).collect();
    for (m, it) in keys {
        let rows: Vec<&crate::pipeline::IterRow> = outs.iter().filter_map(|o| o.rows.iter().find(|r| r.method == m && r.iteration == it)).collect();
        let g = |f: &dyn Fn(&crate::pipeline::IterRow) -> f64| mean(&rows.iter().map(|r| f(r)).collect::<Vec<_>>());
        let oracle = g(&|r| mean(&r.eval.eval.oracle));
        let wins = mean(&outs.iter().filter_map(|o| o.rows.iter().find(|r| r.method == m && r.iteration == it).map(|r| mean(&r.eval.eval.oracle.iter().zip(&o.base.oracle).map(|(a, b)| win(*a, *b)).collect::<Vec<_>>()))).collect::<Vec<_>>());
        t.push(vec![
            m.clone().into(),
            Cell::Int(it as i64),
            Cell::num(g(&|r| r.data.pairs as f64), 0),
            Cell::text(format!("{:.3} / {:.3}", g(&|r| r.data.chosen_oracle), g(&|r| r.data.rejected_oracle))),
            Cell::num(100.0 * g(&|r| r.data.chosen_better), 1),
            Cell::num(100.0 * g(&|r| r.data.identical), 1),
            Cell::num(g(&|r| r.eval.likelihood_margin), 2),
            Cell::num(g(&|r| mean(&r.eval.dpo_weight_end)), 3),
            Cell::num(g(&|r| r.eval.first_grad_norm), 3),
            Cell::num(oracle, 3),
            Cell::num(100.0 * wins, 1),
            Cell::num(g(&|r| mean(&r.eval.eval.checklist)), 2),
        ]);
    }
    t.note("σ(−s) at the *start* of every iteration is exactly 0.5: the policy starts equal to its reference π_t, so s = 0. The column shows σ(−s) after the iteration's epoch (s with π_{t+1} against π_t): how far the pairs were from being fitted. The log-likelihood margin log π_t(y⁺) − log π_t(y⁻) at the start of an iteration is what the paper's 'non-collapsing margin' refers to.");
    t.note("first |grad|: the gradient norm of the first optimiser step (before clipping), at s = 0 equal to β·½·|mean d_θ| (Lemma 1's quantity). Evaluation: one greedy answer per held-out prompt; win vs base: the oracle score against the base's greedy answer, ties ½.");
    t
}

/// The log: DSAT and SAT counts against WildFeedback's 11.96% / 5.04%.
pub fn log_table(outs: &[Outcome]) -> Table {
    let mut t = Table::new("The simulated deployment log (per seed) beside WildFeedback", &["seed", "answered", "DSAT", "SAT", "DSAT %", "SAT %", "DSAT:SAT", "seed pairs"]);
    t.push(vec!["WildFeedback (paper)".into(), Cell::Int(88_920), Cell::Int(10_632), Cell::Int(4_478), Cell::num(11.96, 2), Cell::num(5.04, 2), Cell::num(10_632.0 / 4_478.0, 2), Cell::Int(491)]);
    for o in outs {
        let l = &o.log;
        let p = |k: usize| 100.0 * k as f64 / l.answered as f64;
        t.push(vec![Cell::Int(o.seed as i64), Cell::Int(l.answered as i64), Cell::Int(l.dsat.len() as i64), Cell::Int(l.sat.len() as i64), Cell::num(p(l.dsat.len()), 2), Cell::num(p(l.sat.len()), 2), Cell::num(l.dsat.len() as f64 / l.sat.len().max(1) as f64, 2), Cell::Int(l.seed_pairs.len() as i64)]);
    }
    t.note("The SFT base answers far more prompts correctly than real assistants leave users satisfied, so the shares differ from WildFeedback's; the property DRIFT relies on (DSAT abundant, SAT scarce, DSAT→SAT pairs rare) holds.");
    t
}

/// The diversity table (final iterates), means over seeds and open-answer prompts.
pub fn diversity_table(d: &Records, methods: &[String]) -> shared::Result<Table> {
    let mut t = Table::new("High-reward diversity on the open-answer held-out prompts (16 samples at T = 1, correct = oracle ≥ 0.9)", &["model", "distinct correct / prompt", "distinct-2", "coverage share of the pooled set"]);
    for m in methods {
        let rows = d.of(m)?;
        let c = |j: usize| mean(&rows.iter().map(|r| r.values[j]).collect::<Vec<_>>());
        t.push(vec![m.clone().into(), Cell::num(c(0), 2), Cell::num(c(2), 3), Cell::num(c(1), 3)]);
    }
    t.note("coverage share: |distinct correct outputs of the model| / |distinct correct outputs of all models pooled|, per prompt (an embedding-free stand-in for the paper's UMAP + reward-weighted KDE coverage).");
    Ok(t)
}

/// The names the four per-prompt tables of [`records`] are saved under, in that order.
pub const TABLES: [&str; 4] = ["eval", "diversity", "weights", "alpaca_mini"];

/// Every spec assertion, decided over prompts and seeds; `boots[i]` is the bootstrap of `rec[i]`
/// ([`RunInfo::bootstraps`]).
pub fn claims(cfg: &MiniConfig, rec: &[Records; 4], boots: &[Bootstrap; 4], command: &str) -> shared::Result<Claims> {
    let [ev, d, w, a] = rec;
    let [boot, dboot, wboot, aboot] = boots;
    let t = cfg.iterations;
    let mut c = Claims::new("drift", command);
    let name = |k: Kind| cfg.name_of(k, true).unwrap_or_default().to_string();
    let (drift, iterdpo, spin) = (name(Kind::Drift), name(Kind::IterDpo), name(Kind::Spin));
    let (iv, p) = mean_diff(boot, ev, &at(&drift, t), &at(&iterdpo, t), "win_vs_base")?;
    c.interval("drift-beats-iterdpo", &format!("after T = {t}: win rate vs base, DRIFT > IterDPO (paper: WildBench 51.69 vs 46.31 at 7B)"), "win vs base, DRIFT − IterDPO (paired)", Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    let (iv, p) = mean_diff(boot, ev, &at(&drift, t), &at(&spin, t), "win_vs_base")?;
    c.interval("drift-beats-spin", &format!("after T = {t}: win rate vs base, DRIFT > SPIN (paper: 51.69 vs 42.86)"), "win vs base, DRIFT − SPIN (paired)", Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    let iv = boot.mean_of(ev, &at(&drift, t), "win_vs_base")?;
    c.interval("drift-beats-base", &format!("after T = {t}: DRIFT wins against the base (> 0.5)"), "win vs base of DRIFT (ties ½)", Direction::Greater, 0.5, &iv)?;
    let (iv, _) = mean_diff(boot, ev, &at(&drift, t), "base", "checklist")?;
    c.interval("drift-raises-task-score", "DRIFT raises the WildBench-like task score over the base (paper: 48.66 → 51.69, +6.23% relative)", "checklist score 1–10, DRIFT − base (paired)", Direction::Greater, 0.0, &iv)?;
    {
        let (iv, p) = shared::world::alpaca::headline_diff(aboot, a, &drift, "base", shared::world::alpaca::Headline { lc: false })?;
        c.interval("drift-raises-alpaca", "DRIFT raises the AlpacaEval win rate over the base (paper: 37.69 → 46.64, +8.95 points)", "mini AlpacaEval judge WR %, DRIFT − base (paired)", Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    }
    if t >= 2 {
        let (iv, _) = mean_diff(boot, ev, &at(&spin, t), &at(&spin, 1), "oracle")?;
        c.interval("spin-peaks-early", &format!("SPIN's mean oracle reward at T = {t} is not above its value at T = 1 (paper: SPIN peaks at iteration 1, then declines)"), &format!("oracle, SPIN@{t} − SPIN@1 (paired)"), Direction::Less, 0.0, &iv)?;
        let (iv, _) = mean_diff(boot, ev, &at(&drift, t), &at(&drift, 1), "oracle")?;
        c.interval("drift-keeps-improving", &format!("DRIFT's mean oracle reward at T = {t} ≥ its value at T = 1 − 0.02 (paper: rises to iteration 4)"), &format!("oracle, DRIFT@{t} − DRIFT@1 (paired)"), Direction::Greater, -0.02, &iv)?;
    }
    for (id, other) in [("coverage-vs-iterdpo", &iterdpo), ("coverage-vs-spin", &spin)] {
        let (iv, _) = mean_diff(dboot, d, &drift, other, "coverage")?;
        c.interval(id, &format!("coverage share of the pooled high-reward set: DRIFT ≥ {other}"), &format!("coverage share, DRIFT − {other} (paired over open prompts)"), Direction::Greater, 0.0, &iv)?;
    }
    let (iv, _) = mean_diff(dboot, d, &drift, &iterdpo, "distinct_correct")?;
    c.interval("distinct-vs-iterdpo", "distinct correct outputs per prompt: DRIFT ≥ IterDPO", "distinct correct outputs, DRIFT − IterDPO (paired)", Direction::Greater, 0.0, &iv)?;
    c.deterministic("weight-at-start", "the mean DPO weight σ(−s) at the start of each DRIFT iteration stays ≥ 0.3", "σ(−s) at step 0 of every iteration: π_θ = π_ref = π_t, so s = 0 by construction (no sampling)", Direction::Greater, 0.3, 0.5)?.seeds = ev.seeds();
    let iv = wboot.mean_of(w, &at(&drift, t), "dpo_weight_end")?;
    c.interval("weight-after-last", &format!("measured instead: σ(−s) after DRIFT's last iteration (s of π_{{T}} against π_{{T−1}}) stays ≥ 0.3"), "mean σ(−s) over the last iteration's pairs", Direction::Greater, 0.3, &iv)?;
    // SPIN's weights fall below DRIFT's: two methods on different pairs (unpaired difference of
    // means), widened by the same difference on the reference's seeds.
    let (dm, sm) = (at(&drift, t), at(&spin, t));
    let iv = wboot.rows_interval(w, |r| r.method == dm || r.method == sm, |x| {
        let (mut a, mut na, mut b, mut nb) = (0.0, 0.0, 0.0, 0.0);
        for r in x.items() {
            if r.method == dm {
                a += r.values[0];
                na += 1.0;
            } else {
                b += r.values[0];
                nb += 1.0;
            }
        }
        a / na - b / nb
    })?;
    c.interval("spin-weight-below-drift", "by the last iteration SPIN's σ(−s) falls below DRIFT's", "mean σ(−s) after the last iteration, DRIFT − SPIN (unpaired)", Direction::Greater, 0.0, &iv)?;
    Ok(c)
}

/// Numbers a rerun is compared against: each model's oracle, win vs base and checklist score
/// (`boot`: the bootstrap of `rec[0]`, the eval table).
pub fn numbers(rec: &[Records; 4], boot: &Bootstrap) -> shared::Result<Numbers> {
    let mut n = Numbers::new();
    for m in rec[0].methods() {
        for metric in EVAL_METRICS {
            n.push(format!("eval/{m}/{metric}"), &boot.mean_of(&rec[0], &m, metric)?)?;
        }
    }
    Ok(n)
}

/// Curves over iterations with 95% bands over seeds: σ(−s) after each iteration, and win vs base.
/// The bands come from the outcomes' per-seed values, not from a per-prompt table, so a one-seed
/// run cannot widen them by a committed seed spread (one seed draws points, no band).
pub fn plots(outs: &[Outcome], cfg: &MiniConfig, out: &Path) -> shared::Result<()> {
    let series = |f: &dyn Fn(&Outcome, &str, usize) -> Option<f64>| -> Vec<Curve> {
        cfg.methods
            .iter()
            .map(|m| Curve {
                name: m.name.clone(),
                points: (1..=cfg.iterations).filter_map(|t| Estimate::mean_ci95(&outs.iter().filter_map(|o| f(o, &m.name, t)).collect::<Vec<_>>()).map(|e| (t as f64, e))).collect(),
            })
            .collect()
    };
    let row = |o: &Outcome, m: &str, t: usize| o.rows.iter().find(|r| r.method == m && r.iteration == t).cloned();
    let w = series(&|o, m, t| row(o, m, t).map(|r| mean(&r.eval.dpo_weight_end)));
    save_svg(&out.join("dpo_weight.svg"), &curves(&Labels { title: "DPO weight σ(−s) after each iteration (95% band over seeds)", x: "iteration", y: "mean σ(−s)" }, &w)?)?;
    let m = series(&|o, m, t| row(o, m, t).map(|r| r.eval.likelihood_margin));
    save_svg(&out.join("margin.svg"), &curves(&Labels { title: "log π_t(y⁺) − log π_t(y⁻) at the start of each iteration", x: "iteration", y: "margin (nats)" }, &m)?)?;
    let v = series(&|o, m, t| row(o, m, t).map(|r| mean(&r.eval.eval.oracle.iter().zip(&o.base.oracle).map(|(a, b)| win(*a, *b)).collect::<Vec<_>>())));
    save_svg(&out.join("win_vs_base.svg"), &curves(&Labels { title: "Win rate against the base after each iteration", x: "iteration", y: "win vs base" }, &v)?)
}

/// Write every table, record, claim, number and plot of the outcomes (one per seed).
pub fn save_all(outs: &[Outcome], cfg: &MiniConfig, out: &Path, info: &RunInfo) -> shared::Result<Claims> {
    let mut all: [Records; 4] = [Records::new(&EVAL_METRICS), Records::new(&DIVERSITY_METRICS), Records::new(&["dpo_weight_end"]), Records::new(&PER_PROMPT_METRICS)];
    for o in outs {
        for (acc, r) in all.iter_mut().zip(records(o)?) {
            acc.extend(r)?;
        }
    }
    for (r, name) in all.iter().zip(TABLES) {
        r.save(out, name)?;
    }
    iterations_table(outs).save(out, "iterations")?;
    log_table(outs).save(out, "log")?;
    let methods: Vec<String> = std::iter::once("base".to_string()).chain(cfg.methods.iter().map(|m| m.name.clone())).collect();
    diversity_table(&all[1], &methods)?.save(out, "diversity")?;
    if let Some(o) = outs.first() {
        MiniAlpacaEval::table(&format!("Mini AlpacaEval of the final iterates (seed {})", o.seed), &o.alpaca).save(out, "alpaca_mini")?;
    }
    let (boots, lines) = info.bootstraps(std::array::from_fn(|i| (TABLES[i], &all[i])))?;
    let mut c = claims(cfg, &all, &boots, &info.command("drift"))?;
    c.notes.extend(distinct_notes(&lines));
    c.save(out)?;
    numbers(&all, &boots[0])?.save(out)?;
    plots(outs, cfg, out)?;
    info.save(out)?;
    Ok(c)
}
