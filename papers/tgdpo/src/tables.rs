//! The tables, claims, numbers and plot of `results/tgdpo/`, from the outcomes of one or more seeds.
//!
//! The paper's numbers (spec "Headline results", Llama3-8B-Instruct + PairRM, and the "trained to
//! loss convergence" ablation) stand beside the miniature's oracle win rates against the SFT
//! model. Every claim is decided by the seed-stratified bootstrap of `shared::stats` over the
//! per-prompt records pooled across seeds (`eval.per_prompt.csv`, `probes.per_prompt.csv`).
//! A run of one seed widens each of those intervals by the spread of the same statistic between
//! the seeds of a committed run ([`RunInfo::bootstraps`], `shared::stats::spread`).

use crate::pipeline::{Outcome, EVAL_METRICS, PROBE_METRICS};
use anyhow::{bail, Result};
use shared::plot::{curves, save_svg, Curve, Estimate, Labels};
use shared::report::{distinct_notes, Cell, RunInfo, Table};
use shared::stats::{paired, Bootstrap, Claims, Direction, Interval, Numbers, Records};
use std::path::Path;

/// Paper AE2 win rates, Llama3-8B-Instruct + PairRM: (method, best checkpoint, trained to loss convergence).
pub const PAPER_AE2: &[(&str, f64, Option<f64>)] = &[("SFT", 30.6, None), ("DPO", 41.7, Some(30.7)), ("SimPO", 39.8, Some(4.6)), ("TGDPO", 43.9, Some(43.9))];

/// How much worse than DPO's best TGDPO's best may be and still count as "no worse" (win-rate points / 100).
pub const TOLERANCE: f64 = 0.05;

/// The records of every seed, joined.
pub fn pooled(outcomes: &[Outcome]) -> Result<(Records, Records)> {
    let (mut e, mut p) = (Records::new(&EVAL_METRICS), Records::new(&PROBE_METRICS));
    for o in outcomes {
        e.extend(o.eval.clone())?;
        p.extend(o.probes.clone())?;
    }
    e.validate()?;
    p.validate()?;
    Ok((e, p))
}

fn paper_row(name: &str) -> Option<(f64, Option<f64>)> {
    let key = if name.starts_with("TGDPO") { "TGDPO" } else { name };
    PAPER_AE2.iter().find(|(m, _, _)| *m == key).map(|(_, b, c)| (*b, *c))
}

fn pct(iv: &Interval) -> Cell {
    Cell::text(format!("{:.1} [{:.1}, {:.1}]", 100.0 * iv.estimate, 100.0 * iv.lo, 100.0 * iv.hi))
}

/// The main table: paper AE2 WR beside the miniature's oracle WR vs SFT, best and converged
/// (`boot`: the bootstrap of the eval records `r`).
pub fn main_table(outcomes: &[Outcome], r: &Records, boot: &Bootstrap) -> Result<Table> {
    let mut t = Table::new(
        "TGDPO in miniature: oracle win rate vs the SFT model at the best epoch and after the last one (paper: AlpacaEval 2 WR, Llama3-8B-Instruct + PairRM)",
        &["method", "paper WR best %", "paper WR converged %", "mini WR best %", "mini WR last %", "oracle best", "oracle last", "len last", "best epochs", "f<=0 tokens %"],
    );
    let sft = boot.mean_of(r, "SFT", "oracle")?;
    t.push(vec!["SFT".into(), Cell::num(30.6, 1), Cell::Missing, Cell::num(50.0, 1), Cell::num(50.0, 1), Cell::num(sft.estimate, 3), Cell::num(sft.estimate, 3), Cell::num(boot.mean_of(r, "SFT", "length")?.estimate, 1), Cell::Missing, Cell::Missing]);
    for m in &outcomes[0].methods {
        let (b, l) = (format!("{}@best", m.name), format!("{}@last", m.name));
        let p = paper_row(&m.name);
        let epochs: Vec<String> = outcomes.iter().filter_map(|o| o.methods.iter().find(|x| x.name == m.name)).map(|x| x.best_epoch.to_string()).collect();
        let f: Vec<f64> = outcomes.iter().filter_map(|o| o.methods.iter().find(|x| x.name == m.name)?.f_nonpositive).collect();
        t.push(vec![
            m.name.clone().into(),
            Cell::opt(p.map(|p| p.0), 1),
            Cell::opt(p.and_then(|p| p.1), 1),
            pct(&boot.mean_of(r, &b, "win")?),
            pct(&boot.mean_of(r, &l, "win")?),
            Cell::num(boot.mean_of(r, &b, "oracle")?.estimate, 3),
            Cell::num(boot.mean_of(r, &l, "oracle")?.estimate, 3),
            Cell::num(boot.mean_of(r, &l, "length")?.estimate, 1),
            Cell::text(epochs.join(" ")),
            Cell::opt((!f.is_empty()).then(|| 100.0 * f.iter().sum::<f64>() / f.len() as f64), 2),
        ]);
    }
    t.note("mini WR: share of evaluation prompts (mini AlpacaEval prompts, one sample each, the same decoding seed for every model) on which the oracle scores the answer above the SFT model's (ties ½), with its 95% bootstrap interval over prompts and seeds.");
    t.note("best: the epoch with the highest validation WR (held-out training-distribution prompts, never the evaluation set), one per seed; last: after every epoch of the equal budget (the \"trained to loss convergence\" ablation).");
    t.note("The paper's WR is AlpacaEval 2 against GPT-4-Turbo as transcribed in a secondary summary (spec); compare directions, not levels.");
    Ok(t)
}

/// Validation win rate and mean training loss of every method after every epoch, per seed.
pub fn epochs_table(outcomes: &[Outcome]) -> Table {
    let mut t = Table::new("Every method after every epoch (validation prompts)", &["seed", "method", "lr", "epoch", "val WR vs SFT %", "mean train loss"]);
    for o in outcomes {
        for m in &o.methods {
            for (e, (v, l)) in m.val.iter().zip(&m.epoch_loss).enumerate() {
                t.push(vec![Cell::Int(o.seed as i64), m.name.clone().into(), Cell::text(format!("{:.0e}", m.lr)), Cell::Int(e as i64 + 1), Cell::num(*v, 1), Cell::num(*l, 4)]);
            }
        }
    }
    t
}

/// The data and the token reward model of each seed.
pub fn data_table(outcomes: &[Outcome], probes: &Records) -> Result<Table> {
    let mut t = Table::new(
        "Pairs, token reward model and checks, per seed",
        &["seed", "pairs", "oracle chosen", "oracle rejected", "pi_dpo pair acc %", "probes", "defect below mean %", "alpha=0 max |dloss|", "alpha=0 max |dgrad|", "minutes"],
    );
    for o in outcomes {
        let rows: Vec<_> = probes.rows.iter().filter(|x| x.seed == o.seed).collect();
        let below = rows.iter().map(|x| x.values[0]).sum::<f64>() / rows.len().max(1) as f64;
        t.push(vec![
            Cell::Int(o.seed as i64),
            Cell::Int(o.pairs as i64),
            Cell::num(o.chosen_oracle, 3),
            Cell::num(o.rejected_oracle, 3),
            Cell::num(o.rm_accuracy, 1),
            Cell::Int(rows.len() as i64),
            Cell::num(100.0 * below, 1),
            Cell::text(format!("{:.1e}", o.alpha0_loss_diff)),
            Cell::text(format!("{:.1e}", o.alpha0_grad_diff)),
            Cell::num(o.seconds / 60.0, 1),
        ]);
    }
    t.note("Probes: a correct answer against the same answer with a planted one-character defect; Δ_t = log π_dpo − log π_ref at the defect's tokens against the defective answer's mean Δ.");
    Ok(t)
}

fn diff(boot: &Bootstrap, r: &Records, a: &str, b: &str) -> Result<Interval> {
    Ok(boot.mean_diff(&paired(r, a, b)?, "win")?)
}

/// Every spec assertion as a claim, decided over prompts and seeds (`boot` of the eval records
/// `r`, `pboot` of `probes`).
pub fn claims(outcomes: &[Outcome], r: &Records, boot: &Bootstrap, probes: &Records, pboot: &Bootstrap, command: &str) -> Result<Claims> {
    let mut c = Claims::new("tgdpo", command);
    let names: Vec<&str> = outcomes[0].methods.iter().map(|m| m.name.as_str()).collect();
    let Some(tg) = names.iter().copied().find(|n| n.starts_with("TGDPO")) else { bail!("no TGDPO method") };
    let (tb, tl) = (format!("{tg}@best"), format!("{tg}@last"));
    c.interval("tgdpo-beats-sft", &format!("{tg} (best epoch) beats the SFT model (AE2 WR 43.9 vs 30.6)"), &format!("oracle win rate of {tg}@best vs SFT answers"), Direction::Greater, 0.5, &boot.mean_of(r, &tb, "win")?)?;
    for (b, paper_best, paper_conv) in [("DPO", "41.7", "30.7"), ("SimPO", "39.8", "4.6")] {
        if !names.contains(&b) {
            continue;
        }
        let s = b.to_ascii_lowercase();
        c.interval(&format!("tgdpo-best-beats-{s}-best"), &format!("{tg} beats {b} at the best checkpoint (AE2 WR 43.9 vs {paper_best})"), &format!("win vs SFT, {tg}@best − {b}@best (paired)"), Direction::Greater, 0.0, &diff(boot, r, &tb, &format!("{b}@best"))?)?;
        c.interval(&format!("tgdpo-last-beats-{s}-last"), &format!("trained to convergence, {tg} beats {b} (AE2 WR 43.9 vs {paper_conv})"), &format!("win vs SFT, {tg}@last − {b}@last (paired)"), Direction::Greater, 0.0, &diff(boot, r, &tl, &format!("{b}@last"))?)?;
        c.interval(&format!("{s}-degrades-at-convergence"), &format!("{b} degrades when trained to convergence (AE2 WR {paper_best} → {paper_conv})"), &format!("win vs SFT, {b}@last − {b}@best (paired)"), Direction::Less, 0.0, &diff(boot, r, &format!("{b}@last"), &format!("{b}@best"))?)?;
    }
    if names.contains(&"DPO") {
        c.interval("tgdpo-best-no-worse-than-dpo-best", &format!("{tg}'s best is no worse than DPO's best, within {:.0} points (spec miniature assertion)", 100.0 * TOLERANCE), &format!("win vs SFT, {tg}@best − DPO@best (paired) > −{TOLERANCE}"), Direction::Greater, -TOLERANCE, &diff(boot, r, &tb, "DPO@best")?)?;
    }
    c.interval("tgdpo-does-not-degrade", &format!("{tg} does not degrade when trained to convergence, within {:.0} points (AE2 WR 43.9 → 43.9)", 100.0 * TOLERANCE), &format!("win vs SFT, {tg}@last − {tg}@best (paired) > −{TOLERANCE}"), Direction::Greater, -TOLERANCE, &diff(boot, r, &tl, &tb)?)?;
    c.interval("defect-reward-below-mean", "the token reward at a planted defect is below the defective answer's mean token reward for most pairs", "share of probes with Δ(defect) < mean Δ", Direction::Greater, 0.5, &pboot.mean_of(probes, "probe", "below_mean")?)?;
    let worst = outcomes.iter().map(|o| o.alpha0_loss_diff.max(o.alpha0_grad_diff)).fold(0.0, f64::max);
    let row = c.exact("alpha0-is-dpo", "with α = 0 the TGDPO loss and gradients equal DPO's to float tolerance", "max |difference| of loss and per-token gradients, TGDPO(α=0) vs DPO, on real pairs", worst, 0.0, 1e-6)?;
    row.seeds = outcomes.iter().map(|o| o.seed).collect();
    Ok(c)
}

/// Every model's numbers with their intervals (`numbers.csv`; bootstraps as [`claims`]).
pub fn numbers(r: &Records, boot: &Bootstrap, probes: &Records, pboot: &Bootstrap) -> Result<Numbers> {
    let mut n = Numbers::new();
    for m in r.methods() {
        for metric in EVAL_METRICS {
            n.push(format!("{m}/{metric}"), &boot.mean_of(r, &m, metric)?)?;
        }
    }
    n.push("probe/below_mean", &pboot.mean_of(probes, "probe", "below_mean")?)?;
    Ok(n)
}

/// Validation WR per epoch, mean over seeds with its Student-t band. The validation WRs are held
/// in the outcomes only (no per-prompt table), so a one-seed run cannot widen the band by a
/// committed seed spread (one seed draws points, no band).
pub fn plot(outcomes: &[Outcome]) -> Result<String> {
    let series: Vec<Curve> = outcomes[0]
        .methods
        .iter()
        .map(|m| {
            let points = (0..m.val.len())
                .filter_map(|e| {
                    let v: Vec<f64> = outcomes.iter().filter_map(|o| o.methods.iter().find(|x| x.name == m.name)?.val.get(e).copied()).collect();
                    Some(((e + 1) as f64, Estimate::mean_ci95(&v)?))
                })
                .collect();
            Curve { name: m.name.clone(), points }
        })
        .collect();
    Ok(curves(&Labels { title: "Validation win rate vs SFT over epochs (mean over seeds, 95% band)", x: "epoch", y: "oracle WR vs SFT (%)" }, &series)?)
}

/// Write every table, record file, claim, number and the plot; returns the claims.
pub fn save_all(outcomes: &[Outcome], out: &Path, info: &RunInfo) -> Result<Claims> {
    if outcomes.is_empty() {
        bail!("tgdpo tables: no outcome");
    }
    let (r, p) = pooled(outcomes)?;
    let ([boot, pboot], lines) = info.bootstraps([("eval", &r), ("probes", &p)])?;
    let mut t = main_table(outcomes, &r, &boot)?;
    t.notes.extend(distinct_notes(&lines[..1]));
    t.save(out, "table_mini")?;
    epochs_table(outcomes).save(out, "epochs")?;
    data_table(outcomes, &p)?.save(out, "data")?;
    r.save(out, "eval")?;
    p.save(out, "probes")?;
    let mut c = claims(outcomes, &r, &boot, &p, &pboot, &info.command("tgdpo"))?;
    c.notes.extend(distinct_notes(&lines));
    c.save(out)?;
    numbers(&r, &boot, &p, &pboot)?.save(out)?;
    save_svg(&out.join("val_winrate.svg"), &plot(outcomes)?)?;
    info.save(out)?;
    Ok(c)
}
