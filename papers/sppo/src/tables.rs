//! The tables of `results/sppo/`, over one or more seeds of the pipeline: every method after each
//! iteration (the shared nash tables), the preference data SPPO's recipe built, the paper's
//! Table 1 beside the miniature, the standard mini AlpacaEval, the per-prompt records behind all
//! of them, the claims (decided by the seed-stratified bootstrap of `shared::stats`, never
//! hard-coded) and `numbers.csv`.

use crate::config::MiniConfig;
use crate::loss::Objective;
use crate::recipe::DataStats;
use anyhow::Result;
use shared::nash::tables::{self as nt, iter_name};
use shared::nash::Outcome;
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{Bootstrap, Claims, Direction, Numbers, Records};
use shared::world::alpaca::{headline_diff, Headline};
use std::path::Path;

/// Every record the claims and tables read.
pub struct AllRecords {
    pub iterations: Records,
    pub pairs: Records,
    pub alpaca: Records,
}

/// One bootstrap per per-prompt table: each carries that table's seed-spread reference when a
/// one-seed run has one (`RunInfo::bootstrap`), `Bootstrap::default()` otherwise.
pub struct Boots {
    pub iterations: Bootstrap,
    pub pairs: Bootstrap,
    pub alpaca: Bootstrap,
}

pub fn records(outs: &[Outcome]) -> shared::Result<AllRecords> {
    Ok(AllRecords { iterations: nt::iteration_records(outs)?, pairs: nt::pair_records(outs)?, alpaca: nt::alpaca_records(outs)? })
}

/// The preference data per method and iteration (means over seeds): pairs, ties, `Phat` of
/// winner and loser, their oracle quality and length.
pub fn data_table(outs: &[Outcome]) -> Result<Table> {
    let mut t = Table::new("SPPO miniature: the preference data of each iteration (winner = argmax s_i, loser = argmin s_i of K samples)", &["method", "iter", "pairs", "tied", "Phat_w", "Phat_l", "q_w", "q_l", "len_w", "len_l"]);
    let Some(first) = outs.first() else { return Ok(t) };
    for m in &first.methods {
        for it in &m.iterations {
            let mut per_seed: Vec<DataStats> = vec![];
            for o in outs {
                if let Some(x) = o.method(&m.name).and_then(|x| x.iterations.iter().find(|i| i.t == it.t)) {
                    per_seed.push(x.recipe_stats()?);
                }
            }
            let mean = |f: &dyn Fn(&DataStats) -> f64| per_seed.iter().map(f).sum::<f64>() / per_seed.len().max(1) as f64;
            t.push(vec![
                m.name.clone().into(),
                Cell::Int(it.t as i64),
                Cell::num(mean(&|d| d.pairs as f64), 1),
                Cell::num(mean(&|d| d.tied as f64), 1),
                Cell::num(mean(&|d| d.phat_w), 3),
                Cell::num(mean(&|d| d.phat_l), 3),
                Cell::num(mean(&|d| d.q_w), 3),
                Cell::num(mean(&|d| d.q_l), 3),
                Cell::num(mean(&|d| d.len_w), 1),
                Cell::num(mean(&|d| d.len_l), 1),
            ]);
        }
    }
    t.note("Means over seeds of each iteration's training pairs. Iteration 1 samples pi_0 once, so every method's iteration-1 pairs are identical.");
    Ok(t)
}

/// (LC %, WR %, length in characters) of Iter1, Iter2, Iter3.
type PaperRows = [(f64, f64, f64); 3];

/// Paper Table 1 (Mistral-7B rows, AlpacaEval 2.0) beside the miniature's rows (WR_base over seeds).
pub fn table1(outs: &[Outcome], r: &Records, boot: &Bootstrap) -> Result<Table> {
    let paper: &[(&str, PaperRows)] = &[
        ("DPO", [(23.81, 20.44, 1723.0), (24.23, 24.46, 2028.0), (22.30, 23.39, 2189.0)]),
        ("IPO", [(23.78, 20.77, 1693.0), (21.08, 23.38, 2660.0), (20.06, 22.47, 2760.0)]),
        ("SPPO", [(24.79, 23.51, 1855.0), (26.89, 27.62, 2019.0), (28.53, 31.02, 2163.0)]),
    ];
    let mut t = Table::new("Paper Table 1 (Mistral-7B-Instruct-v0.2, AlpacaEval 2.0 vs GPT-4-Turbo) beside the miniature (WR vs pi_0)", &["method", "iter", "paper LC %", "paper WR %", "paper len (chars)", "mini WR_base % [95% CI]", "mini len"]);
    t.push(vec!["base".into(), Cell::Int(0), Cell::num(17.11, 2), Cell::num(14.72, 2), Cell::num(1676.0, 0), Cell::num(50.0, 1), Cell::num(boot.mean_of(r, nt::BASE, "len")?.estimate, 1)]);
    let Some(first) = outs.first() else { return Ok(t) };
    for m in &first.methods {
        let key = if m.name.starts_with("SPPO") { "SPPO" } else { m.name.as_str() };
        for it in &m.iterations {
            let name = iter_name(&m.name, it.t);
            let p = paper.iter().find(|(n, _)| *n == key).and_then(|(_, v)| v.get(it.t - 1));
            let wr = boot.mean_of(r, &name, "wr_base")?;
            t.push(vec![
                m.name.clone().into(),
                Cell::Int(it.t as i64),
                Cell::opt(p.map(|v| v.0), 2),
                Cell::opt(p.map(|v| v.1), 2),
                Cell::opt(p.map(|v| v.2), 0),
                nt::ci_cell(100.0 * wr.estimate, 100.0 * wr.lo, 100.0 * wr.hi, 1),
                Cell::num(boot.mean_of(r, &name, "len")?.estimate, 1),
            ]);
        }
    }
    t.note("The paper's win rates are against GPT-4-Turbo's answers; the miniature's are against pi_0's samples under the nash-mini preference, so compare trends, not levels.");
    Ok(t)
}

fn slug(m: &str) -> String {
    shared::nash::run::slug(m)
}

/// The spec's test assertions and the paper's comparisons, each decided by the seed-stratified
/// bootstrap over prompts (and pairs) and seeds.
pub fn claims(cfg: &MiniConfig, rs: &AllRecords, outs: &[Outcome], command: &str, boots: &Boots) -> shared::Result<Claims> {
    let boot = &boots.iterations;
    let mut c = Claims::new("sppo", command);
    let last = cfg.harness.iterations;
    let Some(s) = cfg.methods.iter().find(|m| matches!(m.objective, Objective::Sppo(_))).map(|m| m.name.clone()) else { return Ok(c) };
    let it = |m: &str, t: usize| iter_name(m, t);
    let r = &rs.iterations;
    // (a) SPPO beats pi_0 at every iteration, and does not fall back.
    for t in 1..=last {
        nt::claim_mean(&mut c, boot, r, &format!("{}-beats-base-iter{t}", slug(&s)), &format!("(a) {s} beats pi_0 at iteration {t}: WR_base({t}) > 0.5 (paper: LC {} vs 17.11)", ["24.79", "26.89", "28.53"].get(t - 1).unwrap_or(&"-")), &it(&s, t), "wr_base", Direction::Greater, 0.5)?;
    }
    if last > 1 {
        nt::claim_diff(&mut c, boot, r, &format!("{}-no-fallback", slug(&s)), &format!("(a) {s} does not fall back: WR_base({last}) ≥ WR_base(1) − 0.02"), &it(&s, last), &it(&s, 1), "wr_base", Direction::Greater, -0.02)?;
        nt::claim_diff(&mut c, boot, r, &format!("{}-improves", slug(&s)), &format!("{s} improves over iterations: WR_base({last}) > WR_base(1) (paper: 24.79 → 28.53 LC)"), &it(&s, last), &it(&s, 1), "wr_base", Direction::Greater, 0.0)?;
    }
    // (b) Sec. 4.5: on its own iteration-1 pairs, SPPO raises the winner and lowers the loser.
    let p = &rs.pairs;
    nt::claim_mean(&mut c, &boots.pairs, p, &format!("{}-raises-winner", slug(&s)), &format!("(b) {s}, iteration 1, on its own training pairs: mean D_w > 0 (chosen likelihood up)"), &it(&s, 1), "d_w", Direction::Greater, 0.0)?;
    nt::claim_mean(&mut c, &boots.pairs, p, &format!("{}-lowers-loser", slug(&s)), &format!("(b) {s}, iteration 1, on its own training pairs: mean D_l < 0 (rejected likelihood down)"), &it(&s, 1), "d_l", Direction::Less, 0.0)?;
    // The paper's comparisons (reported, not asserted by the spec).
    let has = |m: &str| cfg.methods.iter().any(|x| x.name == m);
    let h = Headline::of(outs.iter().flat_map(|o| std::iter::once(&o.base_alpaca).chain(o.methods.iter().map(|m| &m.alpaca))));
    if has("DPO") {
        nt::claim_mean(&mut c, &boots.pairs, p, "dpo-raises-winner", "(b, logged) DPO, iteration 1, on its own training pairs: mean D_w > 0 (paper: DPO can lower both likelihoods)", &it("DPO", 1), "d_w", Direction::Greater, 0.0)?;
    }
    for (b, paper_lc, paper_len) in [("DPO", "22.30", "+513"), ("IPO", "20.06", "+1084")] {
        if !has(b) {
            continue;
        }
        nt::claim_diff(&mut c, boot, r, &format!("{}-vs-{}", slug(&s), slug(b)), &format!("{s} Iter{last} beats {b} Iter{last} (paper: LC 28.53 vs {paper_lc}); WR_base, paired"), &it(&s, last), &it(b, last), "wr_base", Direction::Greater, 0.0)?;
        let (iv, pi) = headline_diff(&boots.alpaca, &rs.alpaca, &it(&s, last), &it(b, last), h)?;
        c.interval(&format!("{}-vs-{}-alpaca", slug(&s), slug(b)), &format!("{s} Iter{last} beats {b} Iter{last} on the mini AlpacaEval (paper: LC 28.53 vs {paper_lc})"), &format!("{} on the mini AlpacaEval, {s} − {b} at Iter{last} (paired)", h.name()), Direction::Greater, 0.0, &iv)?.p_improvement = Some(pi);
        nt::claim_diff(&mut c, boot, r, &format!("{}-longer-than-{}", slug(b), slug(&s)), &format!("{b} lengthens its answers more than {s} by Iter{last} (paper: {paper_len} vs +487 chars)"), &it(b, last), &it(&s, last), "len", Direction::Greater, 0.0)?;
    }
    let (iv, pi) = headline_diff(&boots.alpaca, &rs.alpaca, &it(&s, last), "SFT (pi_0)", h)?;
    c.interval(&format!("{}-vs-base-alpaca", slug(&s)), &format!("{s} Iter{last} beats the base pi_0 on the mini AlpacaEval (paper: LC 28.53 vs 17.11)"), &format!("{} on the mini AlpacaEval, {s} Iter{last} − pi_0 (paired)", h.name()), Direction::Greater, 0.0, &iv)?.p_improvement = Some(pi);
    Ok(c)
}

/// Every iterate's and every mini AlpacaEval row's numbers with their intervals (`numbers.csv`).
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
    let ((iterations, n1), (pairs, n2), (alpaca, n3)) = (info.bootstrap("iterations", &rs.iterations)?, info.bootstrap("pairs", &rs.pairs)?, info.bootstrap("alpaca_mini", &rs.alpaca)?);
    let b = Boots { iterations, pairs, alpaca };
    let note = if n1 == n2 && n2 == n3 { n1 } else { format!("iterations: {n1}; pairs: {n2}; alpaca_mini: {n3}") };
    eprintln!("==> {note}");
    nt::iterations_table("SPPO miniature: every method after each iteration (nash-mini preference; WR vs pi_0 is an expected probability)", outs, &rs.iterations, &b.iterations)?.save(out, "iterations")?;
    rs.iterations.save(out, "iterations")?;
    rs.pairs.save(out, "pairs")?;
    data_table(outs)?.save(out, "data")?;
    table1(outs, &rs.iterations, &b.iterations)?.save(out, "table1_mini")?;
    nt::alpaca_table("Mini AlpacaEval (the world's standard evaluation): SFT base and each method's final iterate", outs, &rs.alpaca, &b.alpaca)?.save(out, "alpaca_mini")?;
    rs.alpaca.save(out, "alpaca_mini")?;
    let mut c = claims(cfg, &rs, outs, &info.command("sppo"), &b)?;
    c.notes.push(format!("Intervals: {note}."));
    c.save(out)?;
    numbers(outs, &rs, &b)?.save(out)?;
    info.save(out)?;
    Ok(c)
}
