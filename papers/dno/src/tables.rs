//! The tables of `results/dno/`, over one or more seeds: every method after each iteration (the
//! shared nash tables; DNO's Table 4 trend), the training data per iteration (DNO's Table 2: pair
//! types, student and teacher scores), the paper's Table 1 beside the miniature, the standard
//! mini AlpacaEval, the per-prompt records behind them, the claims (the seed-stratified
//! bootstrap of `shared::stats`) and `numbers.csv`.

use crate::config::MiniConfig;
use crate::recipe::{DataStats, Variant, DATA_METRICS};
use anyhow::Result;
use shared::nash::tables::{self as nt, iter_name};
use shared::nash::Outcome;
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{Bootstrap, Claims, Direction, Numbers, Records};
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

/// DNO's Table 2 in miniature: per method and iteration, the data the iteration trained on
/// (means over seeds).
pub fn table2(outs: &[Outcome]) -> Result<Table> {
    let mut t = Table::new(
        "DNO Table 2 in miniature: training data per iteration (5 students + gold, rubric 1-6)",
        &["method", "iter", "prompts", "student len", "best-of-5 beats gold %", "# student wins", "student score", "teacher score", "T>S", "S>T", "S>S", "S>T % of new", "replayed"],
    );
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
            let new = mean(&|d| (d.ts + d.st + d.ss) as f64);
            t.push(vec![
                m.name.clone().into(),
                Cell::Int(it.t as i64),
                Cell::num(mean(&|d| d.prompts as f64), 0),
                Cell::num(mean(&|d| d.student_len), 1),
                Cell::opt(Some(100.0 * mean(&|d| d.best_beats_teacher)).filter(|v| v.is_finite()), 1),
                Cell::opt(Some(mean(&|d| d.student_wins)).filter(|v| v.is_finite()), 2),
                Cell::num(mean(&|d| d.student_score), 2),
                Cell::opt(Some(mean(&|d| d.teacher_score)).filter(|v| v.is_finite()), 2),
                Cell::num(mean(&|d| d.ts as f64), 1),
                Cell::num(mean(&|d| d.st as f64), 1),
                Cell::num(mean(&|d| d.ss as f64), 1),
                Cell::opt((new > 0.0).then(|| 100.0 * mean(&|d| d.st as f64) / new), 1),
                Cell::num(mean(&|d| d.replayed as f64), 1),
            ]);
        }
    }
    t.note("Iteration t trains on data sampled from pi_{t-1} (the paper's 'Iter t-1' row). Scores are the programmatic rubric (the miniature's GPT-4-Turbo); the gold answer is the teacher's (correct w.p. 0.8, verbose w.p. 0.5). SPIN and iterative DPO build their pairs without the margin rule; their scores are still logged.");
    t.note("Paper, DNO Iter 0/1/2: student/teacher score 3.46/4.99, 4.61/4.62, 5.25/4.59; S>T share of new pairs 7%, 19%, 64%; best-of-5 beats gold 15.9%, 34.6%, 43.6%.");
    Ok(t)
}

/// (LC %, WR %, length) of the paper's Table 1 rows at iteration 3.
const PAPER_T1: [(&str, f64, f64, f64); 4] = [("SFT (Orca-2.5 epoch 1)", 10.76, 6.99, 1174.0), ("SPIN", 16.18, 16.13, 1922.0), ("DNO-Restrictive", 21.61, 19.21, 1795.0), ("DNO", 22.59, 24.97, 2228.0)];

/// Paper Table 1 beside the miniature at the last iteration.
pub fn table1(cfg: &MiniConfig, outs: &[Outcome], rs: &AllRecords, boot: &Bootstrap) -> Result<Table> {
    let last = cfg.harness.iterations;
    let mut t = Table::new("DNO Table 1 (UltraFeedback, 3 iterations, AlpacaEval 2.0 vs GPT-4-Turbo) beside the miniature (WR vs pi_0 at the last iteration)", &["method", "paper LC %", "paper WR %", "paper len", "mini WR_base % [95% CI]", "mini len"]);
    let base_len = boot.mean_of(&rs.iterations, nt::BASE, "len")?.estimate;
    t.push(vec![nt::BASE.into(), Cell::num(PAPER_T1[0].1, 2), Cell::num(PAPER_T1[0].2, 2), Cell::num(PAPER_T1[0].3, 0), Cell::num(50.0, 1), Cell::num(base_len, 1)]);
    for m in outs.first().map(|o| o.methods.as_slice()).unwrap_or_default() {
        let name = iter_name(&m.name, last);
        let paper = PAPER_T1.iter().find(|p| p.0 == m.name);
        let wr = boot.mean_of(&rs.iterations, &name, "wr_base")?;
        t.push(vec![
            name.clone().into(),
            Cell::opt(paper.map(|p| p.1), 2),
            Cell::opt(paper.map(|p| p.2), 2),
            Cell::opt(paper.map(|p| p.3), 0),
            nt::ci_cell(100.0 * wr.estimate, 100.0 * wr.lo, 100.0 * wr.hi, 1),
            Cell::num(boot.mean_of(&rs.iterations, &name, "len")?.estimate, 1),
        ]);
    }
    t.note("The paper's rates are against GPT-4-Turbo's answers (LC: length-controlled); the miniature's WR_base is the nash-mini preference of pi_t's samples over pi_0's. Compare orderings, not levels.");
    Ok(t)
}

fn slug(m: &str) -> String {
    shared::nash::run::slug(m)
}

/// The method of the config with this variant (the first one).
fn with_variant(cfg: &MiniConfig, v: Variant) -> Option<String> {
    cfg.methods.iter().find(|m| m.recipe.variant == v).map(|m| m.name.clone())
}

/// The spec's test assertions (a)–(c) and the reported comparisons; every interval is widened
/// by the seed spread when `boots` carry a reference.
pub fn claims(cfg: &MiniConfig, rs: &AllRecords, outs: &[Outcome], command: &str, boots: &Boots) -> shared::Result<Claims> {
    let boot = &boots.iterations;
    let mut c = Claims::new("dno", command);
    let last = cfg.harness.iterations;
    let Some(d) = with_variant(cfg, Variant::Dno) else { return Ok(c) };
    let it = |m: &str, t: usize| iter_name(m, t);
    let r = &rs.iterations;
    // (a) DNO beats π_0 after one iteration and does not fall back.
    nt::claim_mean(&mut c, boot, r, &format!("{}-beats-base-iter1", slug(&d)), &format!("(a) {d} beats pi_0 after iteration 1: WR_base(1) > 0.5"), &it(&d, 1), "wr_base", Direction::Greater, 0.5)?;
    if last > 1 {
        nt::claim_diff(&mut c, boot, r, &format!("{}-no-fallback", slug(&d)), &format!("(a) {d} does not fall back: WR_base({last}) ≥ WR_base(1) − 0.02"), &it(&d, last), &it(&d, 1), "wr_base", Direction::Greater, -0.02)?;
        nt::claim_diff(&mut c, boot, r, &format!("{}-improves", slug(&d)), &format!("{d} improves over iterations: WR_base({last}) > WR_base(1) (Table 4 trend)"), &it(&d, last), &it(&d, 1), "wr_base", Direction::Greater, 0.0)?;
        // (b) The students overtake the teacher: more S≻T pairs and higher student scores.
        nt::claim_share_change(&mut c, &boots.data, &rs.data, &format!("{}-st-share-rises", slug(&d)), &format!("(b) the share of S≻T among {d}'s new pairs rises from iteration 1 to {last} (paper: 7% → 64%)"), &it(&d, last), &it(&d, 1), "st", &["ts", "st", "ss"], Direction::Greater, 0.0)?;
        nt::claim_diff(&mut c, &boots.data, &rs.data, &format!("{}-student-score-rises", slug(&d)), &format!("(b) {d}'s mean student rubric score rises from iteration 1 to {last} (paper: 3.46 → 5.25)"), &it(&d, last), &it(&d, 1), "student_score", Direction::Greater, 0.0)?;
    }
    if let Some(s) = with_variant(cfg, Variant::Spin) {
        nt::claim_diff(&mut c, boot, r, &format!("{}-vs-{}", slug(&d), slug(&s)), &format!("(c) {d} is at least as good as {s} at iteration {last}: WR_base difference > −0.02 (paper: 24.97 vs 16.13 WR)"), &it(&d, last), &it(&s, last), "wr_base", Direction::Greater, -0.02)?;
    }
    // Reported, not asserted by the spec.
    for (v, paper) in [(Variant::Restrictive, "24.97 vs 19.21 WR"), (Variant::IterativeDpo, "no such row")] {
        if let Some(b) = with_variant(cfg, v) {
            nt::claim_diff(&mut c, boot, r, &format!("{}-vs-{}", slug(&d), slug(&b)), &format!("{d} beats {b} at iteration {last} (paper: {paper})"), &it(&d, last), &it(&b, last), "wr_base", Direction::Greater, 0.0)?;
        }
    }
    nt::claim_diff(&mut c, boot, r, &format!("{}-length-spike", slug(&d)), &format!("{d}'s first update lengthens the answers (paper: 162 → 671 words)"), &it(&d, 1), nt::BASE, "len", Direction::Greater, 0.0)?;
    let h = Headline::of(outs.iter().flat_map(|o| std::iter::once(&o.base_alpaca).chain(o.methods.iter().map(|m| &m.alpaca))));
    let (iv, pi) = headline_diff(&boots.alpaca, &rs.alpaca, &it(&d, last), "SFT (pi_0)", h)?;
    c.interval(&format!("{}-vs-base-alpaca", slug(&d)), &format!("{d} Iter{last} beats the SFT base on the mini AlpacaEval (paper: LC 22.59 vs 10.76)"), &format!("{} on the mini AlpacaEval, {d} Iter{last} − pi_0 (paired)", h.name()), Direction::Greater, 0.0, &iv)?.p_improvement = Some(pi);
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
    let (b, notes) = Boots::of(info, &rs.iterations, ("table2_mini", &rs.data), &rs.alpaca)?;
    for n in &notes {
        eprintln!("==> {n}");
    }
    nt::iterations_table("DNO miniature: every method after each iteration (nash-mini preference; WR vs pi_0 is an expected probability)", outs, &rs.iterations, &b.iterations)?.save(out, "iterations")?;
    rs.iterations.save(out, "iterations")?;
    rs.pairs.save(out, "pairs")?;
    table2(outs)?.save(out, "table2_mini")?;
    rs.data.save(out, "table2_mini")?;
    table1(cfg, outs, &rs, &b.iterations)?.save(out, "table1_mini")?;
    nt::alpaca_table("Mini AlpacaEval (the world's standard evaluation): SFT base and each method's final iterate", outs, &rs.alpaca, &b.alpaca)?.save(out, "alpaca_mini")?;
    rs.alpaca.save(out, "alpaca_mini")?;
    let mut c = claims(cfg, &rs, outs, &info.command("dno"), &b)?;
    // Only a one-seed run says how its intervals were made: the claims of several seeds stay as
    // they were (their legend already says that the bootstrap draws seeds and prompts).
    c.notes.extend(notes);
    c.save(out)?;
    numbers(outs, &rs, &b)?.save(out)?;
    info.save(out)?;
    Ok(c)
}
