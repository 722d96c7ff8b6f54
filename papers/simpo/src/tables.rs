//! The miniature's tables, claims and plot, written into `results/simpo/`.
//!
//! Each table puts the paper's number beside the miniature's. The claims are decided from the
//! per-prompt records (`table4_mini.per_prompt.csv`) by the seed-stratified bootstrap of
//! `shared::stats` and written as `claims.{csv,md}`; `numbers.csv` holds every model's numbers
//! with their intervals, what a rerun is compared against. The paper's numbers are from the spec
//! (Table 4 LC, Table 5).

use crate::pipeline::{MethodResult, Outcome};
use shared::plot::{bar_chart, save_svg, Bars, Estimate, Labels};
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{Bootstrap, Claims, Direction, Interval, Numbers, Records};
use shared::world::alpaca::{headline_diff, mean_diff, push_numbers, Headline, PER_PROMPT_METRICS};
use std::path::Path;

/// Paper Table 4, AlpacaEval 2 LC win rate: (method, Mistral-Base, Llama3-Base, Mistral-Instruct, Llama3-Instruct).
pub const PAPER_LC: &[(&str, [Option<f64>; 4])] = &[
    ("SFT", [Some(8.4), Some(6.2), Some(17.1), Some(26.0)]),
    ("RRHF", [Some(11.6), Some(12.1), Some(25.3), Some(31.3)]),
    ("SLiC-HF", [Some(10.9), Some(12.3), Some(24.1), Some(26.9)]),
    ("DPO", [Some(15.1), Some(18.2), Some(26.8), Some(40.3)]),
    ("IPO", [Some(11.8), Some(14.4), Some(20.3), Some(35.6)]),
    ("CPO", [Some(9.8), Some(10.8), Some(23.8), None]),
    ("KTO", [Some(13.1), Some(14.2), Some(24.5), Some(33.1)]),
    ("ORPO", [Some(14.7), Some(12.2), Some(24.5), Some(28.5)]),
    ("R-DPO", [Some(17.4), Some(17.6), Some(27.3), Some(41.1)]),
    ("SimPO", [Some(21.5), Some(22.0), Some(32.1), Some(44.7)]),
];

/// Paper Table 5, LC (Mistral-Base, Mistral-Instruct).
pub const PAPER_ABLATION: &[(&str, [f64; 2])] = &[("SimPO", [21.5, 32.1]), ("SimPO w/o LN", [11.9, 19.1]), ("SimPO γ=0", [16.8, 30.9]), ("DPO", [15.1, 26.8])];

fn paper_lc(method: &str, setup: &str) -> (Option<f64>, Option<f64>) {
    let row = PAPER_LC.iter().find(|(m, _)| *m == method).map(|(_, v)| *v);
    match (row, setup) {
        (Some(v), "base") => (v[0], v[1]),
        (Some(v), _) => (v[2], v[3]),
        (None, _) => (None, None),
    }
}

/// The headline metric of a row: LC win rate when available, else the raw judge win rate.
fn headline(r: &shared::world::alpaca::EvalRow) -> f64 {
    r.lc_win_rate.unwrap_or(r.win_rate)
}

fn yes_no(b: bool) -> Cell {
    Cell::text(if b { "yes" } else { "no" })
}

/// Table 4 in miniature: one block per setup.
pub fn main_table(o: &Outcome) -> Table {
    let mut t = Table::new(
        "SimPO Table 4 in miniature (mini AlpacaEval; paper LC beside)",
        &["setup", "method", "lr", "val WR %", "oracle", "acc %", "judge WR %", "LC WR %", "avg len", "paper LC Mistral", "paper LC Llama3", "SimPO ahead (paper: yes)"],
    );
    for s in &o.setups {
        let rows: Vec<&MethodResult> = o.results.iter().filter(|r| r.setup == s.name && !r.ablation).collect();
        let simpo = rows.iter().find(|r| r.method == "SimPO").map(|r| headline(&r.eval));
        let (pm, pl) = paper_lc("SFT", &s.name);
        let mut row = vec![s.name.clone().into(), "SFT".into(), Cell::Missing, Cell::Missing];
        row.extend(o.sft.cells());
        row.extend([Cell::opt(pm, 1), Cell::opt(pl, 1), simpo.map(|v| yes_no(v > headline(&o.sft))).unwrap_or(Cell::Missing)]);
        t.push(row);
        for r in rows {
            let (pm, pl) = paper_lc(&r.method, &s.name);
            let ahead = if r.method == "SimPO" { Cell::text("—") } else { simpo.map(|v| yes_no(v > headline(&r.eval))).unwrap_or(Cell::Missing) };
            let mut row = vec![s.name.clone().into(), r.method.clone().into(), Cell::text(format!("{:.0e}", r.lr)), Cell::num(r.val_win_rate, 1)];
            row.extend(r.eval.cells());
            row.extend([Cell::opt(pm, 1), Cell::opt(pl, 1), ahead]);
            t.push(row);
        }
    }
    t.note("base = off-policy demonstration pairs ranked by the oracle (UltraFeedback-like); instruct = 5 on-policy samples of the SFT model ranked by a reward model trained on the length-biased judge's verdicts, best vs worst (see pairs.md).");
    t.note("lr: chosen per method on held-out validation prompts by the judge's win rate (val WR), never on the evaluation set. Paper columns: Table 4 LC of the matching setting.");
    t.note("\"SimPO ahead\" compares LC WR (raw judge WR where LC is unavailable); the paper has SimPO ahead of every row.");
    t
}

/// Table 5 in miniature: the length-normalisation and margin ablations.
pub fn ablation_table(o: &Outcome) -> Table {
    let mut t = Table::new("SimPO Table 5 in miniature: ablations (paper LC: Mistral-Base / Mistral-Instruct)", &["setup", "method", "oracle", "judge WR %", "LC WR %", "avg len", "paper LC"]);
    for s in &o.setups {
        for (name, paper) in PAPER_ABLATION {
            let Some(r) = o.results.iter().find(|r| r.setup == s.name && r.method == *name) else { continue };
            t.push(vec![
                s.name.clone().into(),
                (*name).into(),
                Cell::num(r.eval.oracle, 3),
                Cell::NumSe(r.eval.win_rate, r.eval.win_rate_se, 1),
                Cell::opt(r.eval.lc_win_rate, 1),
                Cell::num(r.eval.avg_len, 1),
                Cell::num(if s.name == "base" { paper[0] } else { paper[1] }, 1),
            ]);
        }
    }
    t
}

/// Every evaluated model's per-prompt values (the file `table4_mini.per_prompt.csv`): `SFT`, then
/// `<setup>/<method>` for each trained method, one sample per evaluation prompt.
pub fn per_prompt(o: &Outcome, seed: u64) -> shared::Result<Records> {
    let mut r = Records::new(&PER_PROMPT_METRICS);
    o.sft.push_records(&mut r, seed, "SFT")?;
    for m in &o.results {
        m.eval.push_records(&mut r, seed, &format!("{}/{}", m.setup, m.method))?;
    }
    Ok(r)
}

/// The paper's claims, decided by the seed-stratified bootstrap over the per-prompt records
/// (`shared::stats`): held only when the 95% interval excludes zero in the paper's direction.
pub fn claims(o: &Outcome, r: &Records, command: &str) -> shared::Result<Claims> {
    let boot = Bootstrap::default();
    let h = Headline::of(std::iter::once(&o.sft).chain(o.results.iter().map(|x| &x.eval)));
    let hn = h.name();
    let mut c = Claims::new("simpo", command);
    let find = |s: &str, m: &str| o.results.iter().find(|x| x.setup == s && x.method == m);
    for s in &o.setups {
        let sn = s.name.as_str();
        let key = |m: &str| format!("{sn}/{m}");
        let Some(simpo) = find(sn, "SimPO") else { continue };
        let (iv, p) = mean_diff(&boot, r, &key("SimPO"), "SFT", "oracle")?;
        c.interval(&format!("{sn}/simpo-vs-sft-oracle"), "SimPO improves on the SFT model (oracle score)", "oracle score, SimPO − SFT (paired)", Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
        let (iv, p) = headline_diff(&boot, r, &key("SimPO"), "SFT", h)?;
        c.interval(&format!("{sn}/simpo-vs-sft-lc"), "SimPO improves on the SFT model (LC WR)", &format!("{hn}, SimPO − SFT (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
        if let Some(dpo) = find(sn, "DPO") {
            let (iv, p) = headline_diff(&boot, r, &key("SimPO"), &key("DPO"), h)?;
            c.interval(&format!("{sn}/simpo-vs-dpo-lc"), "SimPO beats DPO on LC WR (+6.4 Mistral-Base, +5.3 Mistral-Instruct)", &format!("{hn}, SimPO − DPO (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
            c.deterministic(
                &format!("{sn}/fewer-forward-passes"),
                "SimPO needs fewer forward passes than DPO (no reference model)",
                "forward passes, SimPO − DPO (no sampling)",
                Direction::Less,
                0.0,
                simpo.forward_passes as f64 - dpo.forward_passes as f64,
            )?
            .seeds = r.seeds();
        }
        // Best of all methods: SimPO − M > 0 for every other method M. The bootstrap of a minimum
        // is biased downward, so the claim is decided from the pairwise intervals instead: held when
        // every pairwise 95% interval lies above zero (intersection–union test: the smallest lower
        // bound is a valid 97.5% lower bound of the smallest true difference); contradicted when some
        // method beats SimPO with its interval at the Bonferroni level 1 − 0.05/K.
        let others: Vec<&str> = o.results.iter().filter(|x| x.setup == sn && !x.ablation && x.method != "SimPO").map(|x| x.method.as_str()).collect();
        if !others.is_empty() {
            let k = others.len() as f64;
            let strict = Bootstrap { level: 1.0 - 0.05 / k, ..Bootstrap::default() };
            let mut best: Option<(Interval, f64)> = None; // (the closest competitor's interval, smallest upper bound)
            for m in &others {
                let (iv, _) = headline_diff(&boot, r, &key("SimPO"), &key(m), h)?;
                let (wide, _) = headline_diff(&strict, r, &key("SimPO"), &key(m), h)?;
                let hi = best.as_ref().map_or(wide.hi, |b| b.1.min(wide.hi));
                let lo = best.as_ref().map_or(iv.lo, |b| b.0.lo.min(iv.lo));
                let closest = match best {
                    Some((b, _)) if b.estimate <= iv.estimate => b,
                    _ => iv,
                };
                best = Some((Interval { lo, ..closest }, hi));
            }
            let (closest, hi) = best.expect("at least one other method");
            let iv = Interval { hi, ..closest };
            c.interval(
                &format!("{sn}/simpo-best-lc"),
                "SimPO has the best LC WR of all methods",
                &format!("{hn}, min over {} other methods of SimPO − method (lower bound: smallest pairwise 95% bound; upper: Bonferroni over {})", others.len(), others.len()),
                Direction::Greater,
                0.0,
                &iv,
            )?;
        }
        if find(sn, "SimPO w/o LN").is_some() {
            let (iv, _) = mean_diff(&boot, r, &key("SimPO w/o LN"), &key("SimPO"), "length")?;
            c.interval(&format!("{sn}/no-ln-longer"), "without length normalisation SimPO writes longer answers", "length, w/o LN − SimPO (paired)", Direction::Greater, 0.0, &iv)?;
            let (iv, _) = mean_diff(&boot, r, &key("SimPO w/o LN"), &key("SimPO"), "oracle")?;
            c.interval(&format!("{sn}/no-ln-lower-quality"), "without length normalisation quality drops", "oracle score, w/o LN − SimPO (paired)", Direction::Less, 0.0, &iv)?;
        }
        if find(sn, "SimPO γ=0").is_some() {
            let (iv, p) = headline_diff(&boot, r, &key("SimPO"), &key("SimPO γ=0"), h)?;
            c.interval(&format!("{sn}/margin-helps"), "a target margin γ > 0 helps (γ = 0 lower LC)", &format!("{hn}, SimPO − SimPO γ=0 (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
        }
    }
    Ok(c)
}

/// Every model's numbers with their intervals (`numbers.csv`), what a rerun is compared against:
/// oracle score, judge WR %, LC WR % (refitted per replicate), average length; forward passes
/// exactly.
pub fn numbers(o: &Outcome, r: &Records) -> shared::Result<Numbers> {
    let boot = Bootstrap::default();
    let h = Headline::of(std::iter::once(&o.sft).chain(o.results.iter().map(|x| &x.eval)));
    let mut n = Numbers::new();
    push_numbers(&mut n, &boot, r, "SFT", "table4", h)?;
    for x in &o.results {
        let m = format!("{}/{}", x.setup, x.method);
        push_numbers(&mut n, &boot, r, &m, "table4", h)?;
        n.push_exact(format!("table4/{m}/forward passes"), x.forward_passes as f64)?;
    }
    Ok(n)
}

/// Pair statistics per setup: what ranked the responses, how often its choice is the oracle's,
/// and (for a learned reward model) its held-out agreement.
pub fn pairs_table(o: &Outcome) -> Table {
    let mut t = Table::new(
        "Preference pairs per setup",
        &["setup", "ranked by", "pairs", "oracle chosen", "oracle rejected", "chosen better by oracle %", "length chosen", "length rejected", "RM held-out agreement: judge % / oracle %"],
    );
    for s in &o.setups {
        t.push(vec![
            s.name.clone().into(),
            s.scorer.clone().into(),
            Cell::Int(s.train.len() as i64),
            Cell::num(s.chosen_oracle, 3),
            Cell::num(s.rejected_oracle, 3),
            Cell::num(s.oracle_agrees, 1),
            Cell::num(s.chosen_len, 1),
            Cell::num(s.rejected_len, 1),
            s.rm_agreement.map(|(j, o)| Cell::text(format!("{j:.1} / {o:.1}"))).unwrap_or(Cell::Missing),
        ]);
    }
    t.note("reward_model: a Bradley–Terry reward head on a copy of the SFT base, trained on one sampled verdict of the world's pairwise judge (length bias, position bias, label noise) per pair of the SFT model's own samples; the PairRM / ArmoRM stand-in.");
    t
}

/// The headline with its 95% interval (normal, from the standard error over prompts).
fn headline_estimate(r: &shared::world::alpaca::EvalRow) -> Estimate {
    match (r.lc_win_rate, r.lc_win_rate_se) {
        (Some(lc), Some(se)) => Estimate::normal(lc, se),
        _ => Estimate::normal(r.win_rate, r.win_rate_se),
    }
}

/// LC (or raw) win rate per method and setup as a bar chart, with 95% intervals over prompts.
pub fn plot(o: &Outcome, path: &Path) -> shared::Result<()> {
    let mut labels: Vec<String> = vec!["SFT".into()];
    for r in &o.results {
        if !labels.contains(&r.method) {
            labels.push(r.method.clone());
        }
    }
    let series: Vec<Bars> = o
        .setups
        .iter()
        .map(|s| Bars {
            name: s.name.clone(),
            values: labels
                .iter()
                .map(|l| if l == "SFT" { Some(headline_estimate(&o.sft)) } else { o.results.iter().find(|r| &r.method == l && r.setup == s.name).map(|r| headline_estimate(&r.eval)) })
                .collect(),
        })
        .collect();
    let lc = o.sft.lc_win_rate.is_some();
    let title = if lc { "SimPO in miniature: LC win rate vs the fixed baseline (95% intervals over prompts)" } else { "SimPO in miniature: judge win rate vs the fixed baseline (95% intervals over prompts)" };
    let x = if lc { "LC win rate (%)" } else { "win rate (%)" };
    save_svg(path, &bar_chart(&Labels { title, x, y: "method" }, &labels, &series)?)
}

/// Write every result file atomically (the tables as CSV + Markdown, the per-prompt records behind
/// them, the claims and the numbers with their intervals, the plot, and `run.md` with the seeds,
/// threads and the full config); returns the claims for the summary.
pub fn save_all(o: &Outcome, out: &Path, info: &RunInfo) -> shared::Result<Claims> {
    let [seed] = info.seeds else {
        return Err(shared::Error::invalid("simpo tables", format!("one pipeline seed per outcome, got {:?}", info.seeds)));
    };
    main_table(o).save(out, "table4_mini")?;
    ablation_table(o).save(out, "table5_ablation_mini")?;
    let records = per_prompt(o, *seed)?;
    records.save(out, "table4_mini")?;
    let claims = claims(o, &records, &info.command("simpo"))?;
    claims.save(out)?;
    numbers(o, &records)?.save(out)?;
    pairs_table(o).save(out, "pairs")?;
    plot(o, &out.join("lc_winrate.svg"))?;
    info.save(out)?;
    Ok(claims)
}
