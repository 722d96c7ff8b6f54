//! The tables of `results/inpo/`, over one or more seeds: every method after each iteration (the
//! shared nash tables), the pairs each iteration kept, INPO's Tables 1 and 3 beside the
//! miniature, the standard mini AlpacaEval, the per-prompt records, the claims (the
//! seed-stratified bootstrap of `shared::stats`) and `numbers.csv`.

use crate::config::MiniConfig;
use crate::loss::Objective;
use crate::recipe::{DataStats, Pairs, DATA_METRICS};
use anyhow::Result;
use shared::nash::tables::{self as nt, iter_name};
use shared::nash::Outcome;
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{Claims, Direction, Numbers, Records};
use shared::world::alpaca::{headline_diff, Headline};
use std::path::Path;

pub struct AllRecords {
    pub iterations: Records,
    pub pairs: Records,
    pub data: Records,
    pub alpaca: Records,
}

pub use nt::Boots;

pub fn records(outs: &[Outcome]) -> shared::Result<AllRecords> {
    Ok(AllRecords { iterations: nt::iteration_records(outs)?, pairs: nt::pair_records(outs)?, data: nt::data_records(outs, &DATA_METRICS)?, alpaca: nt::alpaca_records(outs)? })
}

/// The pairs of each iteration (INPO's recipes; SPPO's are in its own statistics).
pub fn data_table(outs: &[Outcome]) -> Result<Table> {
    let mut t = Table::new("INPO miniature: one pair per prompt of K = 8 samples (PM: 11-comparison tournament on binary labels; RM: max/min BT reward)", &["method", "iter", "pairs", "dropped %", "comparisons / prompt", "q_w", "q_l", "len_w", "len_l"]);
    let Some(first) = outs.first() else { return Ok(t) };
    for m in &first.methods {
        for it in &m.iterations {
            let mut per_seed: Vec<DataStats> = vec![];
            for o in outs {
                if let Some(x) = o.method(&m.name).and_then(|x| x.iterations.iter().find(|i| i.t == it.t)) {
                    if let Ok(d) = x.recipe_stats::<DataStats>() {
                        per_seed.push(d);
                    }
                }
            }
            if per_seed.is_empty() {
                continue; // SPPO's recipe keeps its own statistics
            }
            let mean = |f: &dyn Fn(&DataStats) -> f64| per_seed.iter().map(f).sum::<f64>() / per_seed.len() as f64;
            t.push(vec![
                m.name.clone().into(),
                Cell::Int(it.t as i64),
                Cell::num(mean(&|d| d.pairs as f64), 1),
                Cell::num(100.0 * mean(&|d| d.dropped), 1),
                Cell::num(mean(&|d| d.comparisons), 1),
                Cell::num(mean(&|d| d.q_w), 3),
                Cell::num(mean(&|d| d.q_l), 3),
                Cell::num(mean(&|d| d.len_w), 1),
                Cell::num(mean(&|d| d.len_l), 1),
            ]);
        }
    }
    t.note("Means over seeds. Dropped: PM, the final y_w vs y_l comparison went to y_l; RM, every sample had the same reward.");
    Ok(t)
}

/// INPO Table 1 (AlpacaEval 2.0 LC %) of the methods the miniature runs.
const PAPER_T1: [(&str, f64); 5] = [("Iterative DPO", 28.5), ("SPPO", 32.8), ("INPO (RM)", 37.6), ("INPO (PM)", 42.6), ("INPO w/o KL", 41.6)];

/// Tables 1 and 3 beside the miniature at the last iteration.
pub fn table1(cfg: &MiniConfig, outs: &[Outcome], rs: &AllRecords, b: &Boots) -> Result<Table> {
    let boot = &b.iterations;
    let last = cfg.harness.iterations;
    let h = Headline::of(outs.iter().flat_map(|o| std::iter::once(&o.base_alpaca).chain(o.methods.iter().map(|m| &m.alpaca))));
    let mut t = Table::new("INPO Tables 1 and 3 (LLaMA-3-8B SFT, 3 iterations, AlpacaEval 2.0 LC) beside the miniature at the last iteration", &["method", "paper LC %", "mini WR_base % [95% CI]", "mini KL", "mini len", "mini AlpacaEval headline %"]);
    let headline = |name: &str| -> Result<Option<f64>> {
        let mut n = Numbers::new();
        shared::world::alpaca::push_numbers(&mut n, &b.alpaca, &rs.alpaca, name, "a", h)?;
        Ok(n.get(&format!("a/{name}/{}", h.name())).map(|x| x.estimate))
    };
    t.push(vec![nt::BASE.into(), Cell::num(16.0, 1), Cell::num(50.0, 1), Cell::num(0.0, 2), Cell::num(boot.mean_of(&rs.iterations, nt::BASE, "len")?.estimate, 1), Cell::opt(headline("SFT (pi_0)")?, 1)]);
    for m in outs.first().map(|o| o.methods.as_slice()).unwrap_or_default() {
        let name = iter_name(&m.name, last);
        let wr = boot.mean_of(&rs.iterations, &name, "wr_base")?;
        t.push(vec![
            name.clone().into(),
            Cell::opt(PAPER_T1.iter().find(|p| p.0 == m.name).map(|p| p.1), 1),
            nt::ci_cell(100.0 * wr.estimate, 100.0 * wr.lo, 100.0 * wr.hi, 1),
            Cell::num(boot.mean_of(&rs.iterations, &name, "kl")?.estimate, 2),
            Cell::num(boot.mean_of(&rs.iterations, &name, "len")?.estimate, 1),
            Cell::opt(headline(&name)?, 1),
        ]);
    }
    t.note(format!("Paper: AlpacaEval 2.0 LC win rate vs GPT-4 Turbo (Table 1; 'INPO w/o KL' from Table 3, PM oracle). Miniature: WR_base = the nash-mini preference of pi_t's samples over pi_0's; KL = KLhat(pi_t || pi_0); the mini AlpacaEval's headline is {}.", h.name()));
    Ok(t)
}

fn slug(m: &str) -> String {
    shared::nash::run::slug(m)
}

/// The first method of the config matching `f`.
fn find(cfg: &MiniConfig, f: impl Fn(&crate::config::Method) -> bool) -> Option<String> {
    cfg.methods.iter().find(|m| f(m)).map(|m| m.name.clone())
}

/// The spec's test assertions (a)–(c) and the reported comparisons; every interval is widened
/// by the seed spread when `boots` carry a reference.
pub fn claims(cfg: &MiniConfig, rs: &AllRecords, outs: &[Outcome], command: &str, boots: &Boots) -> shared::Result<Claims> {
    let boot = &boots.iterations;
    let mut c = Claims::new("inpo", command);
    let last = cfg.harness.iterations;
    let is_inpo = |m: &crate::config::Method, pairs: Pairs, with_kl: bool| matches!(&m.objective, Objective::Inpo(i) if (i.tau > 0.0) == with_kl) && m.pairs == pairs;
    let Some(pm) = find(cfg, |m| is_inpo(m, Pairs::Pm, true)) else { return Ok(c) };
    let it = |m: &str, t: usize| iter_name(m, t);
    let r = &rs.iterations;
    // (a) INPO (PM) beats π_0 at every iteration and does not fall back.
    for t in 1..=last {
        nt::claim_mean(&mut c, boot, r, &format!("{}-beats-base-iter{t}", slug(&pm)), &format!("(a) {pm} beats pi_0 at iteration {t}: WR_base({t}) > 0.5"), &it(&pm, t), "wr_base", Direction::Greater, 0.5)?;
    }
    if last > 1 {
        nt::claim_diff(&mut c, boot, r, &format!("{}-no-fallback", slug(&pm)), &format!("(a) {pm} does not fall back: WR_base({last}) ≥ WR_base(1) − 0.02"), &it(&pm, last), &it(&pm, 1), "wr_base", Direction::Greater, -0.02)?;
    }
    // (b) The KL term keeps the policy nearer the SFT model.
    if let Some(nokl) = find(cfg, |m| is_inpo(m, Pairs::Pm, false)) {
        nt::claim_diff(&mut c, boot, r, &format!("{}-kl-below-{}", slug(&pm), slug(&nokl)), &format!("(b) KLhat(pi_{last} || pi_0) of {pm} (tau = eta/3) is below that of {nokl} (tau = 0)"), &it(&pm, last), &it(&nokl, last), "kl", Direction::Less, 0.0)?;
        nt::claim_diff(&mut c, boot, r, &format!("{}-vs-{}", slug(&pm), slug(&nokl)), &format!("{pm} beats {nokl} at iteration {last} (paper Table 3: LC 42.6 vs 41.6)"), &it(&pm, last), &it(&nokl, last), "wr_base", Direction::Greater, 0.0)?;
    }
    // (c) The tournament keeps a pair for some prompts at every iteration.
    for t in 1..=last {
        nt::claim_mean(&mut c, &boots.data, &rs.data, &format!("{}-drops-fewer-than-all-iter{t}", slug(&pm)), &format!("(c) {pm} iteration {t}: the share of prompts whose tournament pair is dropped is < 1"), &it(&pm, t), "dropped", Direction::Less, 1.0)?;
    }
    // Reported, not asserted by the spec: INPO vs the baselines, PM vs RM.
    let others = [
        (find(cfg, |m| matches!(m.objective, Objective::Dpo { .. })), "42.6 vs 28.5"),
        (find(cfg, |m| matches!(m.objective, Objective::Sppo(_))), "42.6 vs 32.8"),
        (find(cfg, |m| is_inpo(m, Pairs::Rm, true)), "42.6 vs 37.6"),
    ];
    for (b, paper) in others {
        if let Some(b) = b {
            nt::claim_diff(&mut c, boot, r, &format!("{}-vs-{}", slug(&pm), slug(&b)), &format!("{pm} beats {b} at iteration {last} (paper: LC {paper})"), &it(&pm, last), &it(&b, last), "wr_base", Direction::Greater, 0.0)?;
        }
    }
    let h = Headline::of(outs.iter().flat_map(|o| std::iter::once(&o.base_alpaca).chain(o.methods.iter().map(|m| &m.alpaca))));
    let (iv, pi) = headline_diff(&boots.alpaca, &rs.alpaca, &it(&pm, last), "SFT (pi_0)", h)?;
    c.interval(&format!("{}-vs-base-alpaca", slug(&pm)), &format!("{pm} Iter{last} beats the SFT base on the mini AlpacaEval (paper: LC 42.6 vs 16.0)"), &format!("{} on the mini AlpacaEval, {pm} Iter{last} − pi_0 (paired)", h.name()), Direction::Greater, 0.0, &iv)?.p_improvement = Some(pi);
    Ok(c)
}

/// Every iterate's and every mini AlpacaEval row's numbers with intervals (`numbers.csv`).
pub fn numbers(outs: &[Outcome], rs: &AllRecords, b: &Boots) -> shared::Result<Numbers> {
    let mut n = Numbers::new();
    nt::push_iteration_numbers(&mut n, &b.iterations, &rs.iterations)?;
    nt::push_alpaca_numbers(&mut n, outs, &rs.alpaca, &b.alpaca)?;
    Ok(n)
}

/// Write every table, the per-prompt records, the claims and the numbers; returns the claims.
pub fn save_all(outs: &[Outcome], cfg: &MiniConfig, out: &Path, info: &RunInfo) -> Result<Claims> {
    let rs = records(outs)?;
    // A one-seed run: each table's intervals widened by the committed seeds' spread.
    let (b, notes) = Boots::of(info, &rs.iterations, ("data", &rs.data), &rs.alpaca)?;
    for n in &notes {
        eprintln!("==> {n}");
    }
    nt::iterations_table("INPO miniature: every method after each iteration (nash-mini preference; WR vs pi_0 is an expected probability)", outs, &rs.iterations, &b.iterations)?.save(out, "iterations")?;
    rs.iterations.save(out, "iterations")?;
    rs.pairs.save(out, "pairs")?;
    data_table(outs)?.save(out, "data")?;
    rs.data.save(out, "data")?;
    table1(cfg, outs, &rs, &b)?.save(out, "table1_mini")?;
    nt::alpaca_table("Mini AlpacaEval (the world's standard evaluation): SFT base and each method's final iterate", outs, &rs.alpaca, &b.alpaca)?.save(out, "alpaca_mini")?;
    rs.alpaca.save(out, "alpaca_mini")?;
    let mut c = claims(cfg, &rs, outs, &info.command("inpo"), &b)?;
    // Only a one-seed run says how its intervals were made: the claims of several seeds stay as
    // they were (their legend already says that the bootstrap draws seeds and prompts).
    c.notes.extend(notes);
    c.save(out)?;
    numbers(outs, &rs, &b)?.save(out)?;
    info.save(out)?;
    Ok(c)
}
