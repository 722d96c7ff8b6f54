//! The tables of `results/sppo/`: per-iteration results of every method, the paper's Table 1
//! beside the miniature, the standard mini AlpacaEval with its per-prompt records, the claims
//! (decided by the seed-stratified bootstrap of `shared::stats`, never hard-coded) and
//! `numbers.csv` (every mini AlpacaEval number with its interval).

use crate::loss::Objective;
use crate::pipeline::Outcome;
use anyhow::Result;
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{Bootstrap, Claims, Direction, Numbers, Records};
use shared::world::alpaca::{headline_diff, mean_diff, push_numbers, Headline, MiniAlpacaEval, PER_PROMPT_METRICS};
use std::path::Path;


pub fn iterations_table(o: &Outcome) -> Table {
    let mut t = Table::new(
        "SPPO miniature: every method after each iteration (nash-mini preference; WR vs pi_0 is an expected probability)",
        &["method", "iter", "WR_base", "WR_prev", "q", "len", "KL", "pairs", "Phat_w", "Phat_l", "q_w", "q_l", "len_w", "len_l", "loss", "D_w", "D_l", "w up %", "l down %"],
    );
    t.push(vec!["pi_0 (SFT)".into(), Cell::Int(0), Cell::num(0.5, 3), Cell::Missing, Cell::num(o.base_q, 3), Cell::num(o.base_len, 1), Cell::num(0.0, 2), Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing]);
    for r in &o.rows {
        t.push(vec![
            r.method.clone().into(),
            Cell::Int(r.iteration as i64),
            Cell::NumSe(r.wr_base, r.wr_base_se, 3),
            Cell::num(r.wr_prev, 3),
            Cell::num(r.q, 3),
            Cell::num(r.len, 1),
            Cell::num(r.kl, 2),
            Cell::Int(r.data.pairs as i64),
            Cell::num(r.data.phat_w, 3),
            Cell::num(r.data.phat_l, 3),
            Cell::num(r.data.q_w, 3),
            Cell::num(r.data.q_l, 3),
            Cell::num(r.data.len_w, 1),
            Cell::num(r.data.len_l, 1),
            Cell::num(r.train.mean_loss, 3),
            Cell::num(r.train.mean_d_w, 2),
            Cell::num(r.train.mean_d_l, 2),
            Cell::num(100.0 * r.train.frac_w_up, 0),
            Cell::num(100.0 * r.train.frac_l_down, 0),
        ]);
    }
    t.note("WR_base: mean over evaluation prompts (4 sample pairs each) of P(y_t > y_0) under the nash-mini preference, ± s.e. over prompts; WR_prev: the same against the previous iterate.");
    t.note("q: mean oracle score; len: mean response length (characters = tokens); KL: mean over y ~ pi_t of log pi_t(y|x) - log pi_0(y|x).");
    t.note("pairs/Phat/q/len _w,_l: the iteration's training pairs (winner = argmax s_i, loser = argmin s_i of K samples). D_w, D_l: after training, mean log pi_{t+1} - log pi_t on those pairs; w up / l down: share with D_w > 0 / D_l < 0.");
    t
}

/// (LC %, WR %, length in characters) of Iter1, Iter2, Iter3.
type PaperRows = [(f64, f64, f64); 3];

/// Paper Table 1 (Mistral-7B rows, AlpacaEval 2.0) beside the miniature's rows.
pub fn table1(o: &Outcome) -> Table {
    let paper: &[(&str, PaperRows)] = &[
        ("DPO", [(23.81, 20.44, 1723.0), (24.23, 24.46, 2028.0), (22.30, 23.39, 2189.0)]),
        ("IPO", [(23.78, 20.77, 1693.0), (21.08, 23.38, 2660.0), (20.06, 22.47, 2760.0)]),
        ("SPPO", [(24.79, 23.51, 1855.0), (26.89, 27.62, 2019.0), (28.53, 31.02, 2163.0)]),
    ];
    let mut t = Table::new("Paper Table 1 (Mistral-7B-Instruct-v0.2, AlpacaEval 2.0 vs GPT-4-Turbo) beside the miniature (WR vs pi_0)", &["method", "iter", "paper LC %", "paper WR %", "paper len (chars)", "mini WR_base %", "mini len"]);
    t.push(vec!["base".into(), Cell::Int(0), Cell::num(17.11, 2), Cell::num(14.72, 2), Cell::num(1676.0, 0), Cell::num(50.0, 1), Cell::num(o.base_len, 1)]);
    for r in &o.rows {
        let key = if r.method.starts_with("SPPO") { "SPPO" } else { r.method.as_str() };
        let p = paper.iter().find(|(n, _)| *n == key).and_then(|(_, v)| v.get(r.iteration - 1));
        t.push(vec![
            r.method.clone().into(),
            Cell::Int(r.iteration as i64),
            Cell::opt(p.map(|v| v.0), 2),
            Cell::opt(p.map(|v| v.1), 2),
            Cell::opt(p.map(|v| v.2), 0),
            Cell::num(100.0 * r.wr_base, 1),
            Cell::num(r.len, 1),
        ]);
    }
    t.note("The paper's win rates are against GPT-4-Turbo's answers; the miniature's are against pi_0's samples under the nash-mini preference, so compare trends, not levels.");
    t
}

/// Per-prompt records of the mini AlpacaEval rows (`alpaca_mini.per_prompt.csv`): the SFT base and
/// each method's final iterate, one sample per evaluation prompt.
pub fn per_prompt(o: &Outcome, seed: u64) -> shared::Result<Records> {
    let mut r = Records::new(&PER_PROMPT_METRICS);
    for row in &o.alpaca {
        row.push_records(&mut r, seed, &row.model)?;
    }
    Ok(r)
}

/// The paper's comparisons on the mini AlpacaEval, decided by the seed-stratified bootstrap over
/// the per-prompt records (`shared::stats`). The WR_base and D_w/D_l assertions of the iterations
/// table are not decided here yet: their per-prompt values are not kept by the pipeline.
pub fn claims(o: &Outcome, cfg: &crate::config::MiniConfig, r: &Records, command: &str) -> shared::Result<Claims> {
    let boot = Bootstrap::default();
    let h = Headline::of(&o.alpaca);
    let hn = h.name();
    let mut c = Claims::new("sppo", command);
    let last = cfg.iterations;
    let Some(s) = cfg.methods.iter().find(|m| matches!(m.objective, Objective::Sppo(_))).map(|m| m.name.clone()) else { return Ok(c) };
    let name = |m: &str| format!("{m} Iter{last}");
    let has = |m: &str| o.alpaca.iter().any(|x| x.model == name(m));
    let base = o.alpaca.first().map(|x| x.model.clone()).unwrap_or_default();
    if has(&s) && !base.is_empty() {
        let (iv, p) = headline_diff(&boot, r, &name(&s), &base, h)?;
        c.interval(&format!("{}-vs-base", slug(&s)), &format!("{s} Iter{last} beats the base pi_0 (LC 28.53 vs 17.11)"), &format!("{hn} on the mini AlpacaEval, {s} Iter{last} − pi_0 (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
    }
    for (b, paper_lc, paper_len) in [("DPO", "22.30", "+513"), ("IPO", "20.06", "+1084")] {
        if !(has(&s) && has(b)) {
            continue;
        }
        let (iv, p) = headline_diff(&boot, r, &name(&s), &name(b), h)?;
        c.interval(
            &format!("{}-vs-{}", slug(&s), slug(b)),
            &format!("{s} Iter{last} beats {b} Iter{last} (LC 28.53 vs {paper_lc})"),
            &format!("{hn} on the mini AlpacaEval, {s} − {b} at Iter{last} (paired)"),
            Direction::Greater,
            0.0,
            &iv,
        )?
        .p_improvement = Some(p);
        let (iv, _) = mean_diff(&boot, r, &name(b), &name(&s), "length")?;
        c.interval(
            &format!("{}-longer-than-{}", slug(b), slug(&s)),
            &format!("{b} lengthens its answers more than {s} by Iter{last} ({paper_len} vs +487 chars)"),
            &format!("length on the mini AlpacaEval, {b} − {s} at Iter{last} (paired)"),
            Direction::Greater,
            0.0,
            &iv,
        )?;
    }
    Ok(c)
}

fn slug(m: &str) -> String {
    m.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// Every mini AlpacaEval row's numbers with their intervals (`numbers.csv`).
pub fn numbers(o: &Outcome, r: &Records) -> shared::Result<Numbers> {
    let boot = Bootstrap::default();
    let h = Headline::of(&o.alpaca);
    let mut n = Numbers::new();
    for row in &o.alpaca {
        push_numbers(&mut n, &boot, r, &row.model, "alpaca_mini", h)?;
    }
    Ok(n)
}

/// Write every table, the per-prompt records, the claims and the numbers; returns the claims.
pub fn save_all(o: &Outcome, cfg: &crate::config::MiniConfig, out: &Path, info: &RunInfo) -> Result<Claims> {
    let [seed] = info.seeds else {
        anyhow::bail!("sppo tables: one pipeline seed per outcome, got {:?}", info.seeds);
    };
    iterations_table(o).save(out, "iterations")?;
    table1(o).save(out, "table1_mini")?;
    MiniAlpacaEval::table("Mini AlpacaEval (the world's standard evaluation): SFT base and each method's final iterate", &o.alpaca).save(out, "alpaca_mini")?;
    let records = per_prompt(o, *seed)?;
    records.save(out, "alpaca_mini")?;
    let c = claims(o, cfg, &records, &info.command("sppo"))?;
    c.save(out)?;
    numbers(o, &records)?.save(out)?;
    info.save(out)?;
    Ok(c)
}
