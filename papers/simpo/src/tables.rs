//! The miniature's tables, claims and plot, pooled over every seed of the run and written into
//! `results/simpo/`.
//!
//! Everything is decided from the per-prompt records (`table4_mini.per_prompt.csv`: seed, model,
//! prompt, sample, metrics) by the seed-stratified bootstrap of `shared::stats`: each model's
//! numbers with their 95% intervals (`numbers.csv`, what a rerun is compared against), every
//! paired difference SimPO − method, and the paper's claims (`claims.{csv,md}`), held only when
//! the interval excludes zero in the paper's direction. The paper's numbers are from the spec
//! (Table 4 LC, Table 5).

use crate::pipeline::{MethodResult, Outcome};
use shared::plot::{bar_chart, save_svg, Bars, Estimate, Labels};
use shared::report::{Cell, RunInfo, Table};
use shared::stats::verdict::decide;
use shared::stats::{Bootstrap, Claims, Direction, Interval, Numbers, Records};
use shared::world::alpaca::{headline_diff, mean_diff, push_numbers, EvalRow, Headline, PER_PROMPT_METRICS};
use std::collections::BTreeMap;
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

/// `58.7 [56.1, 61.2]`.
fn with_interval(est: f64, lo: Option<f64>, hi: Option<f64>, decimals: usize) -> Cell {
    match (lo, hi) {
        (Some(lo), Some(hi)) => Cell::text(format!("{est:.decimals$} [{lo:.decimals$}, {hi:.decimals$}]")),
        _ => Cell::num(est, decimals),
    }
}

/// The records' name of a model: `SFT`, or `<setup>/<method>`.
pub fn model_key(r: &MethodResult) -> String {
    format!("{}/{}", r.setup, r.method)
}

/// Append one model's mini AlpacaEval (one row per sample) to `records` as `model` in run `seed`.
/// Prompt ids come from [`crate::pipeline::prompt_ids`]: a prompt repeated in the benchmark is one
/// unit whose responses are numbered across its occurrences and samples.
pub fn push_samples(records: &mut Records, seed: u64, model: &str, rows: &[EvalRow], ids: &[(String, u32)]) -> shared::Result<()> {
    let k = rows.len() as u32;
    for (s, row) in rows.iter().enumerate() {
        if row.preferences.len() != ids.len() {
            return Err(shared::Error::invalid(format!("{model}, seed {seed}"), format!("{} per-prompt values for {} prompts", row.preferences.len(), ids.len())));
        }
        for (i, (id, earlier)) in ids.iter().enumerate() {
            records.push(seed, model, id.clone(), earlier * k + s as u32, &[row.preferences[i], row.oracle_scores[i], row.lengths[i], row.delta_len[i]])?;
        }
    }
    Ok(())
}

/// One seed's per-prompt records: `SFT`, then `<setup>/<method>` for each trained method.
pub fn per_prompt(o: &Outcome) -> shared::Result<Records> {
    let mut r = Records::new(&PER_PROMPT_METRICS);
    push_samples(&mut r, o.seed, "SFT", &o.sft, &o.prompt_ids)?;
    for m in &o.results {
        push_samples(&mut r, o.seed, &model_key(m), &m.evals, &o.prompt_ids)?;
    }
    Ok(r)
}

/// Everything bootstrapped once from the pooled records and shared by the tables and the claims.
#[derive(Debug)]
pub struct Analysis {
    pub headline: Headline,
    pub numbers: Numbers,
    /// Per (setup, method): the interval of SimPO − method on the headline metric and P(SimPO >
    /// method); `method` is `SFT` or any other trained method of the setup.
    pub vs_simpo: BTreeMap<(String, String), (Interval, f64)>,
    pub seeds: Vec<u64>,
}

/// The setups in run order (the same in every seed).
fn setups(runs: &[Outcome]) -> Vec<String> {
    runs[0].setups.iter().map(|s| s.name.clone()).collect()
}

/// The trained methods of a setup in config order.
fn methods<'a>(runs: &'a [Outcome], setup: &str) -> Vec<&'a MethodResult> {
    runs[0].results.iter().filter(|r| r.setup == setup).collect()
}

/// Every seed's result of one (setup, method).
fn per_seed<'a>(runs: &'a [Outcome], setup: &str, method: &str) -> Vec<&'a MethodResult> {
    runs.iter().filter_map(|o| o.results.iter().find(|r| r.setup == setup && r.method == method)).collect()
}

impl Analysis {
    /// `boot` carries the seed-spread reference of a one-seed run, if any ([`shared::stats::spread`]).
    pub fn new(runs: &[Outcome], r: &Records, boot: &Bootstrap) -> shared::Result<Self> {
        if runs.is_empty() {
            return Err(shared::Error::invalid("simpo tables", "no runs to pool"));
        }
        let headline = Headline::of(runs.iter().flat_map(|o| o.sft.iter().chain(o.results.iter().flat_map(|x| x.evals.iter()))));
        let mut numbers = Numbers::new();
        push_numbers(&mut numbers, boot, r, "SFT", "table4", headline)?;
        for m in &runs[0].results {
            let key = model_key(m);
            push_numbers(&mut numbers, boot, r, &key, "table4", headline)?;
            let passes = per_seed(runs, &m.setup, &m.method).iter().map(|x| x.forward_passes as f64).sum::<f64>() / runs.len() as f64;
            numbers.push_exact(format!("table4/{key}/forward passes (mean over seeds)"), passes)?;
        }
        let mut vs_simpo = BTreeMap::new();
        for s in setups(runs) {
            let simpo = format!("{s}/SimPO");
            if r.of(&simpo).is_err() {
                continue;
            }
            let others: Vec<String> = std::iter::once("SFT".to_string()).chain(methods(runs, &s).iter().filter(|m| m.method != "SimPO").map(|m| m.method.clone())).collect();
            for m in others {
                let key = if m == "SFT" { m.clone() } else { format!("{s}/{m}") };
                vs_simpo.insert((s.clone(), m), headline_diff(boot, r, &simpo, &key, headline)?);
            }
        }
        Ok(Analysis { headline, numbers, vs_simpo, seeds: r.seeds() })
    }

    /// A model's number (`oracle`, `judge WR %`, `LC WR %`, `avg len`) with its interval.
    fn number(&self, model: &str, column: &str) -> Option<(f64, Option<f64>, Option<f64>)> {
        self.numbers.get(&format!("table4/{model}/{column}")).map(|n| (n.estimate, n.lo, n.hi))
    }

    fn headline_of(&self, model: &str) -> Option<(f64, Option<f64>, Option<f64>)> {
        self.number(model, self.headline.name())
    }

    fn cell(&self, model: &str, column: &str, decimals: usize) -> Cell {
        self.number(model, column).map(|(e, lo, hi)| with_interval(e, lo, hi, decimals)).unwrap_or(Cell::Missing)
    }
}

/// Mean over seeds of each seed's mean over samples.
fn mean_over(runs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = runs.collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn accuracy(rows: &[EvalRow]) -> f64 {
    100.0 * rows.iter().map(|r| r.accuracy).sum::<f64>() / rows.len().max(1) as f64
}

/// The SimPO − method cells of a Table 4 row: the interval and the verdict of "SimPO ahead".
fn ahead_cells(a: &Analysis, setup: &str, method: &str) -> [Cell; 2] {
    match a.vs_simpo.get(&(setup.to_string(), method.to_string())) {
        Some((iv, _)) => [
            with_interval(iv.estimate, Some(iv.lo), Some(iv.hi), 1),
            decide(iv.lo, iv.hi, Direction::Greater, 0.0).map(|v| Cell::text(v.name())).unwrap_or(Cell::Missing),
        ],
        None => [Cell::Missing, Cell::Missing],
    }
}

/// Table 4 in miniature: one block per setup, every number pooled over the seeds with its 95%
/// interval, and "SimPO ahead" decided from the paired interval of SimPO − method.
pub fn main_table(runs: &[Outcome], a: &Analysis) -> Table {
    let hn = a.headline.name();
    let mut t = Table::new(
        "SimPO Table 4 in miniature (mini AlpacaEval; paper LC beside)",
        &["setup", "method", "lr per seed", "val WR %", "oracle", "acc %", "judge WR %", hn, "avg len", "paper LC Mistral", "paper LC Llama3", &format!("SimPO − method, {hn}"), "SimPO ahead (paper: yes)"],
    );
    for s in setups(runs) {
        let (pm, pl) = paper_lc("SFT", &s);
        let mut row = vec![s.clone().into(), "SFT".into(), Cell::Missing, Cell::Missing];
        row.extend([a.cell("SFT", "oracle", 3), Cell::num(mean_over(runs.iter().map(|o| accuracy(&o.sft))), 1), a.cell("SFT", "judge WR %", 1), a.cell("SFT", hn, 1), a.cell("SFT", "avg len", 1)]);
        row.extend([Cell::opt(pm, 1), Cell::opt(pl, 1)]);
        row.extend(ahead_cells(a, &s, "SFT"));
        t.push(row);
        for m in methods(runs, &s).into_iter().filter(|m| !m.ablation) {
            let seeds = per_seed(runs, &s, &m.method);
            let key = model_key(m);
            let lrs = seeds.iter().map(|x| format!("{:.0e}", x.lr)).collect::<Vec<_>>().join(" · ");
            let (pm, pl) = paper_lc(&m.method, &s);
            let mut row = vec![s.clone().into(), m.method.clone().into(), Cell::text(lrs), Cell::num(mean_over(seeds.iter().map(|x| x.val_win_rate)), 1)];
            row.extend([a.cell(&key, "oracle", 3), Cell::num(mean_over(seeds.iter().map(|x| accuracy(&x.evals))), 1), a.cell(&key, "judge WR %", 1), a.cell(&key, hn, 1), a.cell(&key, "avg len", 1)]);
            row.extend([Cell::opt(pm, 1), Cell::opt(pl, 1)]);
            row.extend(if m.method == "SimPO" { [Cell::text("—"), Cell::text("—")] } else { ahead_cells(a, &s, &m.method) });
            t.push(row);
        }
    }
    let o = &runs[0];
    let (n, k) = (o.prompt_ids.len(), o.sft.len());
    let distinct = o.prompt_ids.iter().filter(|(_, earlier)| *earlier == 0).count();
    t.note(format!(
        "Seeds {}: every number is the mean over seeds with its 95% interval (bootstrap over seeds and prompts, stratified by seed); mini AlpacaEval of {n} prompts ({distinct} distinct) × {k} sampled response(s) per prompt and model.",
        shared::stats::seeds::describe(&a.seeds)
    ));
    t.note("base = off-policy demonstration pairs ranked by the oracle (UltraFeedback-like); instruct = 5 on-policy samples of the SFT model ranked by a reward model trained on the length-biased judge's verdicts, best vs worst (see pairs.md).");
    t.note("lr: chosen per method and setup from the grid by the judge's win rate on held-out validation prompts (val WR, mean over seeds), never on the evaluation set: searched in every seed, or fixed in the config (`chosen_lr`) from the tuning run on seed 0 (tuning.md). Paper columns: Table 4 LC of the matching setting.");
    t.note(format!("\"SimPO ahead\": the verdict on SimPO − method ({hn}, paired on the same seeds, prompts and samples): held when its 95% interval lies above 0, contradicted below, else inconclusive. The paper has SimPO ahead of every row."));
    t
}

/// Table 5 in miniature: the length-normalisation and margin ablations.
pub fn ablation_table(runs: &[Outcome], a: &Analysis) -> Table {
    let hn = a.headline.name();
    let mut t = Table::new("SimPO Table 5 in miniature: ablations (paper LC: Mistral-Base / Mistral-Instruct)", &["setup", "method", "oracle", "judge WR %", hn, "avg len", "paper LC"]);
    for s in setups(runs) {
        for (name, paper) in PAPER_ABLATION {
            if per_seed(runs, &s, name).is_empty() {
                continue;
            }
            let key = format!("{s}/{name}");
            t.push(vec![
                s.clone().into(),
                (*name).into(),
                a.cell(&key, "oracle", 3),
                a.cell(&key, "judge WR %", 1),
                a.cell(&key, hn, 1),
                a.cell(&key, "avg len", 1),
                Cell::num(if s == "base" { paper[0] } else { paper[1] }, 1),
            ]);
        }
    }
    t.note("Mean over seeds with 95% intervals; the claims (claims.md) compare the ablations with SimPO paired on the same prompts and seeds.");
    t
}

/// The paper's claims, decided by the seed-stratified bootstrap over the pooled per-prompt
/// records: held only when the 95% interval excludes zero in the paper's direction.
pub fn claims(runs: &[Outcome], r: &Records, a: &Analysis, command: &str, boot: &Bootstrap) -> shared::Result<Claims> {
    let h = a.headline;
    let hn = h.name();
    let mut c = Claims::new("simpo", command);
    for sn in setups(runs) {
        let sn = sn.as_str();
        let key = |m: &str| format!("{sn}/{m}");
        let has = |m: &str| !per_seed(runs, sn, m).is_empty();
        if !has("SimPO") {
            continue;
        }
        let diff = |m: &str| a.vs_simpo.get(&(sn.to_string(), m.to_string())).cloned().ok_or_else(|| shared::Error::invalid("simpo claims", format!("no SimPO − {m} interval in setup {sn}")));
        let (iv, p) = mean_diff(boot, r, &key("SimPO"), "SFT", "oracle")?;
        c.interval(&format!("{sn}/simpo-vs-sft-oracle"), "SimPO improves on the SFT model (oracle score)", "oracle score, SimPO − SFT (paired)", Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
        let (iv, p) = diff("SFT")?;
        c.interval(&format!("{sn}/simpo-vs-sft-lc"), "SimPO improves on the SFT model (LC WR)", &format!("{hn}, SimPO − SFT (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
        if has("DPO") {
            let (iv, p) = diff("DPO")?;
            c.interval(&format!("{sn}/simpo-vs-dpo-lc"), "SimPO beats DPO on LC WR (+6.4 Mistral-Base, +5.3 Mistral-Instruct)", &format!("{hn}, SimPO − DPO (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
            let (simpo, dpo) = (per_seed(runs, sn, "SimPO"), per_seed(runs, sn, "DPO"));
            let passes = simpo.iter().zip(&dpo).map(|(s, d)| s.forward_passes as f64 - d.forward_passes as f64).sum::<f64>() / runs.len() as f64;
            c.deterministic(
                &format!("{sn}/fewer-forward-passes"),
                "SimPO needs fewer forward passes than DPO (no reference model)",
                "forward passes per run, SimPO − DPO (mean over seeds; no sampling)",
                Direction::Less,
                0.0,
                passes,
            )?
            .seeds = a.seeds.clone();
        }
        // Best of all methods: SimPO − M > 0 for every other method M. The bootstrap of a minimum
        // is biased downward, so the claim is decided from the pairwise intervals instead: held when
        // every pairwise 95% interval lies above zero (intersection–union test: the smallest lower
        // bound is a valid 97.5% lower bound of the smallest true difference); contradicted when some
        // method beats SimPO with its interval at the Bonferroni level 1 − 0.05/K.
        let others: Vec<&MethodResult> = methods(runs, sn).into_iter().filter(|x| !x.ablation && x.method != "SimPO").collect();
        if !others.is_empty() {
            let k = others.len() as f64;
            let strict = Bootstrap { level: 1.0 - 0.05 / k, ..boot.clone() };
            let mut best: Option<(Interval, f64)> = None; // (the closest competitor's interval, smallest upper bound)
            for m in &others {
                let (iv, _) = diff(&m.method)?;
                let (wide, _) = headline_diff(&strict, r, &key("SimPO"), &key(&m.method), h)?;
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
        if has("SimPO w/o LN") {
            let (iv, _) = mean_diff(boot, r, &key("SimPO w/o LN"), &key("SimPO"), "length")?;
            c.interval(&format!("{sn}/no-ln-longer"), "without length normalisation SimPO writes longer answers", "length, w/o LN − SimPO (paired)", Direction::Greater, 0.0, &iv)?;
            let (iv, _) = mean_diff(boot, r, &key("SimPO w/o LN"), &key("SimPO"), "oracle")?;
            c.interval(&format!("{sn}/no-ln-lower-quality"), "without length normalisation quality drops", "oracle score, w/o LN − SimPO (paired)", Direction::Less, 0.0, &iv)?;
        }
        if has("SimPO γ=0") {
            let (iv, p) = diff("SimPO γ=0")?;
            c.interval(&format!("{sn}/margin-helps"), "a target margin γ > 0 helps (γ = 0 lower LC)", &format!("{hn}, SimPO − SimPO γ=0 (paired)"), Direction::Greater, 0.0, &iv)?.p_improvement = Some(p);
        }
    }
    Ok(c)
}

/// Pair statistics per setup and seed: what ranked the responses, how often its choice is the
/// oracle's, and (for a learned reward model) its held-out agreement.
pub fn pairs_table(runs: &[Outcome]) -> Table {
    let mut t = Table::new(
        "Preference pairs per setup and seed",
        &["setup", "seed", "ranked by", "pairs", "oracle chosen", "oracle rejected", "chosen better by oracle %", "length chosen", "length rejected", "RM held-out agreement: judge % / oracle %"],
    );
    for name in setups(runs) {
        for o in runs {
            let Some(s) = o.setups.iter().find(|s| s.name == name) else { continue };
            t.push(vec![
                s.name.clone().into(),
                Cell::Int(o.seed as i64),
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
    }
    t.note("reward_model: a Bradley–Terry reward head on a copy of the SFT base, trained on one sampled verdict of the world's pairwise judge (length bias, position bias, label noise) per pair of the SFT model's own samples; the PairRM / ArmoRM stand-in.");
    t
}

/// The headline win rate per method and setup as a bar chart, each bar with its pooled 95%
/// interval (the bootstrap over seeds and prompts of `numbers.csv`).
pub fn plot(runs: &[Outcome], a: &Analysis, path: &Path) -> shared::Result<()> {
    let mut labels: Vec<String> = vec!["SFT".into()];
    for r in &runs[0].results {
        if !labels.contains(&r.method) {
            labels.push(r.method.clone());
        }
    }
    let series: Vec<Bars> = setups(runs)
        .iter()
        .map(|s| Bars {
            name: s.clone(),
            values: labels
                .iter()
                .map(|l| {
                    a.headline_of(&if l == "SFT" { l.clone() } else { format!("{s}/{l}") }).map(|(e, lo, hi)| match (lo, hi) {
                        (Some(lo), Some(hi)) => Estimate::with_interval(e, lo, hi),
                        _ => Estimate::point(e),
                    })
                })
                .collect(),
        })
        .collect();
    let seeds = shared::stats::seeds::describe(&a.seeds);
    let (what, x) = if a.headline.lc { ("LC win rate", "LC win rate (%)") } else { ("judge win rate", "win rate (%)") };
    let title = format!("SimPO in miniature: {what} vs the fixed baseline (seeds {seeds}; 95% intervals over seeds and prompts)");
    save_svg(path, &bar_chart(&Labels { title: &title, x, y: "method" }, &labels, &series)?)
}

/// The half-width of the SimPO − DPO interval per setup (the evaluation's resolution).
pub fn simpo_dpo_half_widths(a: &Analysis) -> Vec<(String, f64)> {
    a.vs_simpo.iter().filter(|((_, m), _)| m == "DPO").map(|((s, _), (iv, _))| (s.clone(), iv.half_width())).collect()
}

/// Write every result file atomically (the tables as CSV + Markdown, the pooled per-prompt
/// records behind them, the claims and the numbers with their intervals, the plot, and `run.md`
/// with the seeds, threads and the full config); returns the claims and the analysis. A one-seed
/// run with a seed-spread reference (`info.reference`) has every interval widened by it, and the
/// claims say so under their table.
pub fn save_all(runs: &[Outcome], records: &Records, out: &Path, info: &RunInfo) -> shared::Result<(Claims, Analysis)> {
    let seeds: Vec<u64> = runs.iter().map(|o| o.seed).collect();
    if seeds != info.seeds || records.seeds() != seeds {
        return Err(shared::Error::invalid("simpo tables", format!("runs of seeds {seeds:?}, records of {:?}, run info {:?}: they must agree", records.seeds(), info.seeds)));
    }
    std::fs::create_dir_all(out).map_err(|e| shared::Error::io(out, e))?;
    let (boot, note) = info.bootstrap("table4_mini", records)?;
    let boot = &boot;
    let a = Analysis::new(runs, records, boot)?;
    main_table(runs, &a).save(out, "table4_mini")?;
    ablation_table(runs, &a).save(out, "table5_ablation_mini")?;
    records.save(out, "table4_mini")?;
    let mut claims = claims(runs, records, &a, &info.command("simpo"), boot)?;
    claims.notes.push(format!("Intervals: {note}."));
    claims.save(out)?;
    a.numbers.save(out)?;
    pairs_table(runs).save(out, "pairs")?;
    tuning_table(runs).save(out, "tuning")?;
    plot(runs, &a, &out.join("lc_winrate.svg"))?;
    info.save(out)?;
    Ok((claims, a))
}

/// Every learning rate each seed trained, with its validation win rate; the chosen one marked.
pub fn tuning_table(runs: &[Outcome]) -> Table {
    let mut t = Table::new("Learning rates trained per method and setup, with the judge's validation win rate (%)", &["setup", "method", "seed", "lr: validation WR (* chosen)"]);
    for o in runs {
        for r in &o.results {
            let cells = r.grid.iter().map(|(lr, v)| format!("{lr:.0e}: {v:.1}{}", if *lr == r.lr { " *" } else { "" })).collect::<Vec<_>>().join(" · ");
            t.push(vec![r.setup.clone().into(), r.method.clone().into(), Cell::Int(o.seed as i64), Cell::text(cells)]);
        }
    }
    t.note("One entry per row: the learning rate was fixed by the config's chosen_lr (taken from the tuning run, configs/tune.toml on seed 0); several: searched in this run.");
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{prompt_ids, Setup};

    /// A synthetic mini AlpacaEval row: `shift` moves every preference, `len` is the response length.
    fn row(model: &str, n: usize, shift: f64, len: f64, wobble: u64) -> EvalRow {
        let prefs: Vec<f64> = (0..n).map(|i| (0.45 + shift + 0.02 * (((i as u64 * 7 + wobble) % 11) as f64 - 5.0)).clamp(0.01, 0.99)).collect();
        let lengths: Vec<f64> = (0..n).map(|i| len + (i % 3) as f64).collect();
        EvalRow {
            model: model.into(),
            oracle: 0.7 + shift,
            accuracy: 0.5,
            win_rate: 100.0 * prefs.iter().sum::<f64>() / n as f64,
            win_rate_se: 1.0,
            lc_win_rate: Some(50.0),
            lc_win_rate_se: Some(1.0),
            avg_len: len,
            oracle_scores: vec![0.7 + shift; n],
            delta_len: lengths.iter().map(|l| 15.0 - l).collect(),
            lengths,
            preferences: prefs,
        }
    }

    fn outcome(seed: u64, n: usize) -> Outcome {
        // Every third prompt repeats the previous one, as the world's small families do.
        let prompts: Vec<shared::world::Prompt> = {
            let w = shared::world::World::new(shared::world::WorldConfig::default()).unwrap();
            let mut r = shared::world::rng(0, "test");
            let mut v: Vec<_> = (0..n).map(|_| w.sample_prompt(&mut r)).collect();
            for i in (2..n).step_by(3) {
                v[i] = v[i - 1].clone();
            }
            v
        };
        let methods = [("SimPO", 0.10, 14.0, false), ("DPO", 0.02, 15.0, false), ("KTO", 0.0, 15.0, false), ("SimPO w/o LN", 0.0, 25.0, true), ("SimPO γ=0", 0.05, 14.0, true)];
        let results = methods
            .iter()
            .map(|(m, shift, len, ablation)| MethodResult {
                setup: "base".into(),
                method: (*m).into(),
                ablation: *ablation,
                lr: 3e-4,
                val_win_rate: 55.0,
                grid: vec![(3e-4, 55.0)],
                evals: (0..2).map(|s| row(m, n, *shift, *len, seed * 3 + s)).collect(),
                train_seconds: 1.0,
                forward_passes: if *m == "DPO" { 72 } else { 48 },
            })
            .collect();
        let setup = Setup { name: "base".into(), train: vec![], chosen_oracle: 0.8, rejected_oracle: 0.6, chosen_len: 14.0, rejected_len: 16.0, oracle_agrees: 80.0, scorer: "oracle".into(), rm_agreement: None };
        Outcome { seed, sft: (0..2).map(|s| row("SFT", n, -0.05, 17.0, seed + s)).collect(), setups: vec![setup], results, prompt_ids: prompt_ids(&prompts), base_trained: false, seconds: 1.0 }
    }

    #[test]
    fn tables_and_claims_pool_seeds_and_samples() {
        let runs = vec![outcome(0, 45), outcome(1, 45)];
        let records = shared::stats::seeds::gather(&[0, 1], |s| per_prompt(&runs[s as usize])).unwrap();
        // 2 seeds × 6 models × 45 prompts × 2 samples; 30 distinct prompts, the repeats numbered on.
        assert_eq!(records.rows.len(), 2 * 6 * 45 * 2);
        let dir = tempfile::tempdir().unwrap();
        let info = RunInfo { scale: "mini", seeds: &[0, 1], threads: 2, device: "cpu", config_path: "papers/simpo/configs/mini.toml", config_toml: "", reference: None };
        let (claims, a) = save_all(&runs, &records, dir.path(), &info).unwrap();
        let get = |id: &str| claims.rows.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("claim {id}"));
        let c = get("base/simpo-vs-dpo-lc");
        assert_eq!((c.seeds.clone(), c.prompts), (vec![0, 1], Some(30)));
        assert_eq!(c.verdict.name(), "held", "SimPO is 8 points ahead everywhere: {c:?}");
        assert_eq!(c.command, "cargo xtask reproduce simpo --seeds 2");
        assert_eq!(get("base/fewer-forward-passes").estimate, -24.0);
        assert_eq!(get("base/no-ln-longer").verdict.name(), "held");
        assert_eq!(get("base/simpo-best-lc").verdict.name(), "held");
        // Table 4 says so too, and every row carries its interval.
        let t4 = std::fs::read_to_string(dir.path().join("table4_mini.md")).unwrap();
        let dpo = t4.lines().find(|l| l.starts_with("| base | DPO |")).unwrap();
        assert!(dpo.contains("3e-4 · 3e-4") && dpo.ends_with("| held |"), "{dpo}");
        assert!(t4.contains("45 prompts (30 distinct) × 2 sampled response(s)"), "{t4}");
        assert_eq!(simpo_dpo_half_widths(&a).len(), 1);
        for f in ["numbers.csv", "claims.md", "table5_ablation_mini.md", "pairs.md", "lc_winrate.svg", "run.md", "table4_mini.per_prompt.csv"] {
            assert!(dir.path().join(f).exists(), "{f}");
        }
        // Runs, records and run info must name the same seeds.
        let info1 = RunInfo { seeds: &[0], ..info };
        assert!(save_all(&runs, &records, dir.path(), &info1).unwrap_err().to_string().contains("must agree"));
    }

    /// A one-seed run with a two-seed reference folder: every interval is at least as wide as the
    /// plain one-seed interval (wider where the reference seeds differ), the estimates are the
    /// run's own, and the claims say how their intervals were made.
    #[test]
    fn a_one_seed_run_is_widened_by_the_reference_spread() {
        let runs = vec![outcome(0, 45), outcome(1, 45)];
        let reference = shared::stats::seeds::gather(&[0, 1], |s| per_prompt(&runs[s as usize])).unwrap();
        let ref_dir = tempfile::tempdir().unwrap();
        reference.save(ref_dir.path(), "table4_mini").unwrap();
        let one = vec![outcome(0, 45)];
        let records = per_prompt(&one[0]).unwrap();
        let info = RunInfo { scale: "mini", seeds: &[0], threads: 2, device: "cpu", config_path: "papers/simpo/configs/mini.toml", config_toml: "", reference: None };
        let dir = tempfile::tempdir().unwrap();
        let (plain, _) = save_all(&one, &records, dir.path(), &info).unwrap();
        assert!(std::fs::read_to_string(dir.path().join("claims.md")).unwrap().contains("Intervals: intervals cover the prompts and samples of this run only (no seed-spread reference)."));
        let info = RunInfo { reference: Some(ref_dir.path()), ..info };
        let (wide, a) = save_all(&one, &records, dir.path(), &info).unwrap();
        let mut widened = 0;
        for (p, w) in plain.rows.iter().zip(&wide.rows) {
            assert_eq!((p.id.as_str(), p.estimate), (w.id.as_str(), w.estimate));
            if let (Some(plo), Some(phi), Some(wlo), Some(whi)) = (p.lo, p.hi, w.lo, w.hi) {
                assert!(wlo <= plo && whi >= phi, "{}: [{wlo}, {whi}] does not contain [{plo}, {phi}]", p.id);
                widened += (wlo < plo && whi > phi) as usize;
            }
        }
        // Statistics equal in both synthetic reference seeds (the lengths) have no spread to add.
        assert!(widened >= 4, "only {widened} claims widened");
        assert!(a.numbers.rows.iter().filter(|n| n.lo.is_some()).count() >= 20);
        assert!(std::fs::read_to_string(dir.path().join("claims.md")).unwrap().contains("one seed: every interval is widened by the spread between seeds 0, 1 (2 seeds)"));
        // A corrupt reference is an error naming it, not a silent plain run.
        std::fs::write(ref_dir.path().join("table4_mini.per_prompt.csv"), "seed,method\n0\n").unwrap();
        let e = save_all(&one, &records, dir.path(), &info).unwrap_err().to_string();
        assert!(e.contains("seed-spread reference") && e.contains("--no-seed-spread"), "{e}");
    }

    #[test]
    fn repeated_prompts_share_an_id() {
        let w = shared::world::World::new(shared::world::WorldConfig::default()).unwrap();
        let ids = prompt_ids(&w.eval_prompts());
        let distinct = ids.iter().filter(|(_, k)| *k == 0).count();
        assert!(distinct < ids.len(), "the standard 300 repeat some prompts");
        assert_eq!(ids[0], ("0".to_string(), 0));
        // A larger benchmark keeps the standard 300 as its first prompts.
        let big = crate::pipeline::benchmark(&w, Some(400)).unwrap();
        let std = crate::pipeline::benchmark(&w, None).unwrap();
        assert_eq!(big.prompts[..300], std.prompts[..]);
        assert_eq!(big.baseline[..300], std.baseline[..]);
        assert_eq!(crate::pipeline::benchmark(&w, Some(10)).unwrap().prompts.len(), 10);
    }
}
