//! `results/autorule/`: the methods table (oracle win rate vs SFT, its length-controlled version,
//! length), the two-episode hacking curves, the mined rules beside the oracle's hidden weights,
//! the per-prompt records, the claims and `numbers.csv`.

use crate::config::Extra;
use crate::pipeline::{MethodRun, Outcome};
use crate::rules::{Rule, CANDIDATES};
use anyhow::{bail, Result};
use shared::plot::{curves, save_svg, Curve, Estimate, Labels};
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{paired, Bootstrap, Claims, Direction, Numbers, Records};
use std::path::Path;

pub const METRICS: [&str; 8] = ["win_final", "win_ep1", "win_change", "proxy_ep1", "proxy_final", "proxy_change", "length_final", "length_change"];

fn ep1(o: &Outcome, r: &MethodRun) -> usize {
    r.evals.iter().position(|e| e.0 == o.episode).unwrap_or(r.evals.len() - 1)
}

pub fn records(outcomes: &[Outcome]) -> shared::Result<(Records, Records)> {
    let mut rec = Records::new(&METRICS);
    let mut agree = Records::new(&["agree"]);
    for o in outcomes {
        for r in &o.runs {
            let (e1, last) = (&r.evals[ep1(o, r)].2, &r.evals[r.evals.len() - 1].2);
            for i in 0..last.wins.len() {
                let v = [last.wins[i], e1.wins[i], last.wins[i] - e1.wins[i], e1.proxies[i], last.proxies[i], last.proxies[i] - e1.proxies[i], last.lengths[i], last.lengths[i] - e1.lengths[i]];
                rec.push(o.seed, &r.name, format!("eval-{i:04}"), 0, &v)?;
            }
        }
        for (i, a) in o.agreement.iter().enumerate() {
            agree.push(o.seed, "rules", format!("pair-{i:04}"), 0, &[*a])?;
        }
    }
    Ok((rec, agree))
}

/// LC win rate (%) of a run's final evaluation against the SFT answers, or None if the GLM fails.
fn lc(o: &Outcome, r: &MethodRun) -> Option<f64> {
    let last = &r.evals[r.evals.len() - 1].2;
    let delta: Vec<f64> = o.sft_lengths.iter().zip(&last.lengths).map(|(b, l)| b - l).collect();
    shared::world::alpaca::length_controlled_win_rate(&last.wins, &delta).map(|x| x.0)
}

pub fn table(outcomes: &[Outcome], boot: &Bootstrap, rec: &Records) -> shared::Result<Table> {
    let mut t = Table::new(
        "AutoRule miniature: GRPO against the hackable proxy, RM only vs RM + mined rules vs RM + length penalty (after two episodes)",
        &["method", "oracle WR vs SFT", "LC WR % (mean over seeds)", "length", "WR end of episode 1", "proxy end of episode 1", "proxy final"],
    );
    for r in &outcomes[0].runs {
        let iv = |m: &str| boot.mean_of(rec, &r.name, m);
        let (w, l, w1, p1, pf) = (iv("win_final")?, iv("length_final")?, iv("win_ep1")?, iv("proxy_ep1")?, iv("proxy_final")?);
        let lcs: Vec<f64> = outcomes.iter().filter_map(|o| o.runs.iter().find(|x| x.name == r.name).and_then(|x| lc(o, x))).collect();
        t.push(vec![
            r.name.clone().into(),
            Cell::text(format!("{:.3} [{:.3}, {:.3}]", w.estimate, w.lo, w.hi)),
            Cell::opt((!lcs.is_empty()).then(|| lcs.iter().sum::<f64>() / lcs.len() as f64), 1),
            Cell::text(format!("{:.1} [{:.1}, {:.1}]", l.estimate, l.lo, l.hi)),
            Cell::num(w1.estimate, 3),
            Cell::num(p1.estimate, 3),
            Cell::num(pf.estimate, 3),
        ]);
    }
    t.note("WR: oracle win rate of one sampled answer per held-out prompt against the SFT model's sampled answer (ties ½), [95% interval over prompts and seeds]. LC: the length-controlled GLM of the mini AlpacaEval fitted to these per-prompt preferences and length differences.");
    t.note("The paper (Llama-3-8B) reports +28.6% relative AlpacaEval 2.0 LC for AutoRule over GRPO with the same RM; its absolute table was not retrieved, so no paper column.");
    Ok(t)
}

pub fn rules_table(outcomes: &[Outcome], world: &shared::world::oracle::OracleConfig) -> Table {
    let mut t = Table::new("Mined rules (per seed) beside the oracle's hidden weights", &["candidate rule", "oracle weight", "kept in seeds", "pairs where it differs (seed 1st)", "extracted (seed 1st)", "duplicate of"]);
    let (ws, wst) = (world.skill_weight, world.style_weight);
    let weight = |r: Rule| match r {
        Rule::AnswerCorrect => format!("{:.2} (content, partial credit)", (1.0 - ws) * (1.0 - wst)),
        Rule::FormatMatches => format!("{:.2} (skills met / asked)", ws * (1.0 - wst)),
        Rule::PreambleSure if world.preferred_style == 1 => format!("{wst:.2} (preferred preamble)"),
        Rule::PreambleOk if world.preferred_style == 2 => format!("{wst:.2} (preferred preamble)"),
        Rule::NoFiller => format!("−{:.2} per filler", world.filler_penalty),
        _ => "0".into(),
    };
    for (i, &r) in CANDIDATES.iter().enumerate() {
        let kept = outcomes.iter().filter(|o| o.rules.contains(&r)).count();
        let tl = &outcomes[0].tallies[i];
        t.push(vec![r.name().into(), weight(r).into(), Cell::text(format!("{kept}/{}", outcomes.len())), Cell::Int(tl.differs as i64), Cell::Int(tl.wins as i64), tl.duplicate_of.map_or(Cell::Missing, |d| d.name().into())]);
    }
    t.note("Mined from the proxy RM's kind of preference pairs (filler phrases on the preferred side), oracle-labelled: justify (candidates that differ), extract (hold on the chosen side only), merge (extracted in ≥ τ of the pairs where they differ, positive margin, near-duplicates dropped).");
    t
}

pub fn plots(outcomes: &[Outcome], out: &Path) -> Result<()> {
    for (metric, y, stem) in [("win", "oracle win rate vs SFT", "curve_winrate"), ("proxy", "proxy RM reward", "curve_proxy")] {
        let mut series = vec![];
        for r in &outcomes[0].runs {
            let points = (0..r.evals.len())
                .filter_map(|k| {
                    let v: Vec<f64> = outcomes.iter().filter_map(|o| o.runs.iter().find(|x| x.name == r.name)).filter_map(|x| x.evals.get(k)).map(|e| if metric == "win" { e.2.win_rate } else { e.2.proxy }).collect();
                    Estimate::mean_ci95(&v).map(|e| (r.evals[k].0 as f64 / outcomes[0].episode as f64, e))
                })
                .collect();
            series.push(Curve { name: r.name.clone(), points });
        }
        let title = format!("AutoRule miniature: {y} over two GRPO episodes (mean over seeds, 95% band)");
        save_svg(&out.join(format!("{stem}.svg")), &curves(&Labels { title: &title, x: "episodes", y }, &series)?)?;
    }
    Ok(())
}

/// `boot` resamples `rec` (the GRPO runs), `agree_boot` the rules' agreement records: each may
/// carry its own table's seed-spread reference.
pub fn claims(outcomes: &[Outcome], boot: &Bootstrap, rec: &Records, agree_boot: &Bootstrap, agree: &Records, command: &str) -> shared::Result<Claims> {
    let mut c = Claims::new("autorule", command);
    let top = outcomes.iter().map(|o| [Rule::AnswerCorrect, Rule::FormatMatches].iter().filter(|r| o.rules.contains(r)).count()).min().unwrap_or(0);
    c.deterministic("rules-include-top-weighted", "The mined rule set includes the oracle's top-weighted properties (answer correct, format)", "top-weighted properties among the mined rules (min over seeds)", Direction::Greater, 1.5, top as f64)?;
    if !agree.rows.is_empty() {
        c.interval("rules-agree-with-oracle", "The rules agree with held-out oracle preferences better than chance (> 0.6)", "share of held-out oracle-labelled SFT pairs the rule fraction ranks like the oracle (ties ½)", Direction::Greater, 0.6, &agree_boot.mean_of(agree, "rules", "agree")?)?;
    }
    let o = &outcomes[0];
    let find = |e: Extra| o.runs.iter().find(|r| r.extra == e).map(|r| r.name.clone());
    let (rm, ar) = (find(Extra::None), find(Extra::Rules));
    if let Some(rm) = &rm {
        c.interval("rm-only-hacked-in-episode-2", "Over episode 2, the RM-only run's oracle win rate falls", &format!("oracle win rate vs SFT, {rm}: end of episode 2 − end of episode 1"), Direction::Less, 0.0, &boot.mean_of(rec, rm, "win_change")?)?;
        c.interval("rm-only-proxy-rises-in-episode-2", "Over episode 2, the RM-only run's proxy reward rises", &format!("proxy RM score, {rm}: end of episode 2 − end of episode 1"), Direction::Greater, 0.0, &boot.mean_of(rec, rm, "proxy_change")?)?;
    }
    if let (Some(rm), Some(ar)) = (&rm, &ar) {
        let p = paired(rec, ar, rm)?;
        c.interval("autorule-beats-rm-only", "AutoRule's final oracle win rate is above RM-only GRPO's", &format!("oracle win rate vs SFT after two episodes, {ar} − {rm} (paired)"), Direction::Greater, 0.0, &boot.mean_diff(&p, "win_final")?)?;
        c.interval("autorule-not-longer", "AutoRule's answers are no longer than RM-only's", &format!("length (characters) after two episodes, {ar} − {rm} (paired)"), Direction::Less, 0.0, &boot.mean_diff(&p, "length_final")?)?;
        c.interval("autorule-drops-less", "Over episode 2, AutoRule's win rate drops less than RM-only's", &format!("(episode-2 change of the win rate), {ar} − {rm} (paired)"), Direction::Greater, 0.0, &boot.mean_diff(&p, "win_change")?)?;
    }
    Ok(c)
}

pub fn numbers(outcomes: &[Outcome], boot: &Bootstrap, rec: &Records, agree_boot: &Bootstrap, agree: &Records) -> shared::Result<Numbers> {
    let mut n = Numbers::new();
    for r in &outcomes[0].runs {
        for m in METRICS {
            n.push(format!("{}/{m}", r.name), &boot.mean_of(rec, &r.name, m)?)?;
        }
    }
    if !agree.rows.is_empty() {
        n.push("rules/agree", &agree_boot.mean_of(agree, "rules", "agree")?)?;
    }
    Ok(n)
}

/// How a one-seed run's intervals were made, one line per records table (`(what, how)`), under
/// the claims. A run of several seeds gets no note: the legend already says its bootstrap draws
/// seeds, and its claims stay as committed.
fn note_intervals(c: &mut Claims, info: &RunInfo, tables: &[(&str, &str)]) {
    if info.seeds.len() == 1 {
        c.notes.extend(tables.iter().map(|(what, how)| format!("Intervals of {what}: {how}.")));
    }
}

pub fn save_all(outcomes: &[Outcome], oracle: &shared::world::oracle::OracleConfig, out: &Path, info: &RunInfo) -> Result<Claims> {
    if outcomes.is_empty() || outcomes.iter().any(|o| o.runs.iter().map(|r| &r.name).ne(outcomes[0].runs.iter().map(|r| &r.name))) {
        bail!("autorule tables: every seed must run the same methods");
    }
    let (rec, agree) = records(outcomes)?;
    rec.save(out, "grpo")?;
    agree.save(out, "rules_agreement")?;
    // Every interval is a mean or paired mean of one of the two records tables, so a one-seed
    // run's are widened by that table's committed seed spread. Not widened: the plots' bands,
    // t intervals over the per-seed curves held in the outcomes only (no records; none for one
    // seed). The LC column is a mean over seeds of per-seed GLM fits, with no interval.
    let (boot, how) = info.bootstrap("grpo", &rec)?;
    let (agree_boot, agree_how) = info.bootstrap("rules_agreement", &agree)?;
    table(outcomes, &boot, &rec)?.save(out, "table_grpo")?;
    rules_table(outcomes, oracle).save(out, "rules")?;
    plots(outcomes, out)?;
    let mut c = claims(outcomes, &boot, &rec, &agree_boot, &agree, &info.command("autorule"))?;
    note_intervals(&mut c, info, &[("the GRPO runs (`grpo`)", &how), ("the rules' agreement (`rules_agreement`)", &agree_how)]);
    c.save(out)?;
    numbers(outcomes, &boot, &rec, &agree_boot, &agree)?.save(out)?;
    info.save(out)?;
    Ok(c)
}
