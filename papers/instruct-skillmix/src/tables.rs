//! The tables, claims, numbers and plots of `results/instruct-skillmix/`, from the outcomes of
//! one or more seeds. Every claim is decided by the bootstrap of `shared::stats` over prompts and
//! seeds (crossed: the evaluation set is the same in every seed) on the per-prompt records
//! (`eval.per_prompt.csv`). Win rates are AlpacaEval's: 100 · mean of y = preference − 1.
//! A run of one seed widens every such interval by the spread of the same statistic between
//! the seeds of a committed run (`shared::stats::spread`; the bootstrap of [`RunInfo::bootstrap`]).

use crate::pipeline::{names, Outcome, METRICS};
use crate::published;
use anyhow::{bail, Context, Result};
use shared::plot::{bar_chart, curves, save_svg, Bars, Curve, Estimate, Labels};
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{paired, probability_of_improvement, Bootstrap, Claims, Direction, Interval, Numbers, Records};
use std::path::Path;
use std::sync::Arc;

/// A slice of the evaluation set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slice {
    All,
    K2,
    K2Unseen,
    K1,
    K3,
}

impl Slice {
    pub fn name(self) -> &'static str {
        match self {
            Slice::All => "all 300",
            Slice::K2 => "k = 2",
            Slice::K2Unseen => "k = 2, unseen pairs",
            Slice::K1 => "k = 1",
            Slice::K3 => "k = 3",
        }
    }
    fn keeps(self, k: f64, unseen: f64) -> bool {
        match self {
            Slice::All => true,
            Slice::K2 => k == 2.0,
            Slice::K2Unseen => k == 2.0 && unseen == 1.0,
            Slice::K1 => k == 1.0,
            Slice::K3 => k == 3.0,
        }
    }
}

/// The records of every seed, joined.
pub fn pooled(outcomes: &[Outcome]) -> Result<Records> {
    let mut r = Records::new(&METRICS);
    for o in outcomes {
        r.extend(o.records.clone())?;
    }
    r.validate()?;
    Ok(r)
}

/// The records of one slice.
pub fn subset(r: &Records, s: Slice) -> Result<Records> {
    let (k, u) = (r.metric("k")?, r.metric("unseen")?);
    let mut out = Records::new(&METRICS);
    for x in r.rows.iter().filter(|x| s.keeps(x.values[k], x.values[u])) {
        out.push(x.seed, &x.method, x.prompt.clone(), x.sample, &x.values)?;
    }
    Ok(out)
}

/// Win rate (%) of one condition on a slice, with its interval (widened in a one-seed run).
pub fn wr(boot: &Bootstrap, r: &Records, method: &str, s: Slice) -> Result<Interval> {
    let (k, u, p) = (r.metric("k")?, r.metric("unseen")?, r.metric("preference")?);
    let keep = |x: &shared::stats::Record| x.method == method && s.keeps(x.values[k], x.values[u]);
    boot.rows_interval(r, keep, |d| 100.0 * d.mean(|x| x.values[p])).with_context(|| format!("WR of {method} on the {} eval", s.name()))
}

/// `boot` for a statistic of slice `s`: its seed-spread reference cut to the same slice.
fn on_slice(boot: &Bootstrap, s: Slice) -> Result<Bootstrap> {
    let reference = boot.reference.as_deref().map(|r| subset(r, s).map(Arc::new)).transpose()?;
    Ok(Bootstrap { reference, ..boot.clone() })
}

/// Paired win-rate difference A − B (points) on a slice (widened in a one-seed run), with
/// P(A > B) over prompts.
pub fn wr_diff(boot: &Bootstrap, r: &Records, a: &str, b: &str, s: Slice) -> Result<(Interval, f64)> {
    let sub = subset(r, s)?;
    let m = sub.metric("preference")?;
    let iv = on_slice(boot, s)?.paired_interval(&sub, a, b, |d| 100.0 * d.mean(|x| x.diff(m)))?;
    Ok((iv, probability_of_improvement(&paired(&sub, a, b)?, "preference", true)?))
}

fn ci(iv: &Interval) -> Cell {
    Cell::text(format!("{:.1} [{:.1}, {:.1}]", iv.estimate, iv.lo, iv.hi))
}

/// The conditions in table order.
pub fn conditions(outcomes: &[Outcome]) -> Vec<String> {
    outcomes[0].conditions.iter().map(|c| c.name.clone()).collect()
}

/// The LC analogue: the length-controlled GLM of the world's mini AlpacaEval (length + bias,
/// no difficulty), per seed, averaged over seeds; `None` when it cannot be fitted in some seed.
fn lc_analogue(r: &Records, method: &str) -> Result<Option<f64>> {
    let (p, d) = (r.metric("preference")?, r.metric("delta_len")?);
    let mut per_seed = vec![];
    for seed in r.seeds() {
        let rows: Vec<_> = r.of(method)?.into_iter().filter(|x| x.seed == seed).collect();
        let (prefs, dl): (Vec<f64>, Vec<f64>) = rows.iter().map(|x| (x.values[p], x.values[d])).unzip();
        match shared::world::alpaca::length_controlled_win_rate(&prefs, &dl) {
            Some((lc, _)) => per_seed.push(lc),
            None => return Ok(None),
        }
    }
    Ok(Some(per_seed.iter().sum::<f64>() / per_seed.len().max(1) as f64))
}

/// The main table: the paper's columns (condition, LC, WR, avg length) and the slices.
pub fn main_table(outcomes: &[Outcome], boot: &Bootstrap, r: &Records) -> Result<Table> {
    let mut t = Table::new(
        "Instruct-SkillMix in miniature: SFT data of equal size against a fixed partial-oracle baseline (paper: AlpacaEval 2.0 against GPT-4-Turbo)",
        &["condition", "N", "LC-analogue WR %", "WR % (all 300)", "avg length", "WR % k=2", "WR % k=2 unseen pairs", "WR % k=1", "WR % k=3", "greedy WR %", "oracle", "perfect %", "chosen epoch per seed"],
    );
    let (o, perfect) = (r.metric("oracle")?, r.metric("perfect")?);
    for c in &outcomes[0].conditions {
        let m = c.name.as_str();
        let rows = r.of(m)?;
        let mean = |i: usize| rows.iter().map(|x| x.values[i]).sum::<f64>() / rows.len().max(1) as f64;
        let greedy = names::greedy(m);
        let g = if r.methods().contains(&greedy) { Cell::num(wr(boot, r, &greedy, Slice::All)?.estimate, 1) } else { Cell::Missing };
        let epochs: Vec<String> = outcomes.iter().filter_map(|o| o.conditions.iter().find(|x| x.name == m)).map(|x| x.best_epoch.to_string()).collect();
        t.push(vec![
            m.into(),
            Cell::Int(c.n as i64),
            Cell::opt(lc_analogue(r, m)?, 1),
            ci(&wr(boot, r, m, Slice::All)?),
            Cell::num(mean(r.metric("length")?), 1),
            ci(&wr(boot, r, m, Slice::K2)?),
            Cell::num(wr(boot, r, m, Slice::K2Unseen)?.estimate, 1),
            Cell::num(wr(boot, r, m, Slice::K1)?.estimate, 1),
            Cell::num(wr(boot, r, m, Slice::K3)?.estimate, 1),
            g,
            Cell::num(mean(o), 3),
            Cell::num(100.0 * mean(perfect), 1),
            Cell::text(epochs.join(" ")),
        ]);
    }
    t.note("WR: the oracle's pairwise preference of the condition's answer (T = 0.9, top-p 1, fixed seed) over the fixed baseline's (2 / 1.5 / 1 for higher / equal / lower oracle score), as AlpacaEval's win rate, with its 95% bootstrap interval over prompts and seeds.");
    t.note("The baseline is a seeded partial oracle that executes each asked skill with probability 1/2 (the miniature's GPT-4-Turbo reference). The evaluation set is fixed: 200 k = 2 prompts (40 of them on skill pairs no training set contains), 50 k = 1, 50 k = 3.");
    t.note("LC-analogue: the world's length-controlled GLM (length and bias terms), per seed, averaged. Chosen epoch: the best validation WR on 100 held-out mix-k2 instructions (never the evaluation set); 0 = no training.");
    Ok(t)
}

/// The published AlpacaEval rows (spec "Headline results") and what was recomputed from them.
pub fn published_table(p: &published::Published) -> Table {
    let mut t = Table::new("The paper's AlpacaEval 2.0 rows (leaderboard file) and what is recomputed from the mirrored artifacts", &["model", "LC %", "WR %", "n_wins / n_total", "discrete WR %", "avg length (chars)", "recomputed"]);
    for (i, r) in p.rows.iter().enumerate() {
        let note = if i == 0 { format!("avg length {} from {} model outputs; discrete WR {:.4} from the counts", p.avg_length_recomputed, p.outputs, p.discrete_recomputed) } else { String::new() };
        t.push(vec![r.model.clone().into(), Cell::opt(r.length_controlled_winrate, 2), Cell::num(r.win_rate, 2), Cell::text(format!("{} / {}", r.n_wins, r.n_total)), Cell::num(r.discrete_win_rate, 2), Cell::Int(r.avg_length as i64), Cell::text(note)]);
    }
    t.note("Not recomputable from the mirror: WR and its standard error (the SkillMix annotations.json is over 4 MiB and not mirrored) and LC from the stored weights (needs the 805 instruction difficulties of df_gamed.csv). MT-Bench, WildBench and the paper's ablation rows are TBD(paper) in the spec.");
    t
}

/// Validation WR and loss of every condition after every epoch, per seed.
pub fn epochs_table(outcomes: &[Outcome]) -> Table {
    let mut t = Table::new("Every condition after every epoch (held-out validation, never the evaluation set)", &["seed", "condition", "epoch", "validation WR %", "last step's loss"]);
    for o in outcomes {
        for c in &o.conditions {
            for (e, (v, l)) in c.val.iter().zip(&c.epoch_loss).enumerate() {
                t.push(vec![Cell::Int(o.seed as i64), c.name.clone().into(), Cell::Int(e as i64 + 1), Cell::num(*v, 1), Cell::num(*l, 4)]);
            }
        }
    }
    t
}

/// The training data of each condition and the time it took, per seed.
pub fn data_table(outcomes: &[Outcome]) -> Table {
    let mut t = Table::new("Training data and time per condition and seed", &["seed", "condition", "N", "mean oracle score of the outputs", "chosen epoch", "minutes"]);
    for o in outcomes {
        for c in &o.conditions {
            t.push(vec![Cell::Int(o.seed as i64), c.name.clone().into(), Cell::Int(c.n as i64), Cell::num(c.data_oracle, 3), Cell::Int(c.best_epoch as i64), Cell::num(c.seconds / 60.0, 2)]);
        }
        t.push(vec![Cell::Int(o.seed as i64), "(whole seed)".into(), Cell::Missing, Cell::Missing, Cell::Missing, Cell::num(o.seconds / 60.0, 2)]);
    }
    t.note("Shirker conditions: the first 20% of the mix-k2 outputs (file order) replaced, so their mean oracle score is at most 0.8. A rerun that loads finished conditions shows their original minutes.");
    t
}

/// Every spec assertion as a claim, decided over prompts and seeds.
/// The recomputations from the published artifacts are exact: no interval, never widened.
pub fn claims(cfg: &crate::config::MiniConfig, boot: &Bootstrap, r: &Records, p: Option<&published::Published>, command: &str) -> Result<Claims> {
    let mut c = Claims::new("instruct-skillmix", command);
    let add = |c: &mut Claims, id: &str, statement: &str, a: &str, b: &str, s: Slice, dir: Direction, threshold: f64| -> Result<()> {
        let (iv, pi) = wr_diff(boot, r, a, b, s)?;
        let metric = format!("WR % vs the baseline, {a} − {b} (paired), {} eval", s.name());
        c.interval(id, statement, &metric, dir, threshold, &iv)?.p_improvement = Some(pi);
        Ok(())
    };
    let d = &cfg.data;
    let (junk, brief) = (names::shirk(d.shirker_rate, "junk"), names::shirk(d.shirker_rate, "brief"));
    add(&mut c, "mix-k2-beats-single-k1", "SFT on random skill pairs beats SFT on single skills at equal size, by at least 5 points (spec assertion 1; the paper's k = 1 vs k = 2 ablation)", names::MIX, names::SINGLE, Slice::K2, Direction::Greater, 5.0)?;
    add(&mut c, "mix-k2-beats-base", "SkillMix SFT of the base model beats the base without SFT by at least 20 points (spec assertion 2)", names::MIX, names::BASE, Slice::K2, Direction::Greater, 20.0)?;
    add(&mut c, "junk-shirkers-hurt", &format!("replacing {:.0}% of the outputs with long generic junk lowers the win rate by at least 5 points (spec assertion 3; abstract: \"noticeable degradation\")", 100.0 * d.shirker_rate), &junk, names::MIX, Slice::K2, Direction::Less, -5.0)?;
    add(&mut c, "brief-shirkers-hurt", &format!("replacing {:.0}% of the outputs with one-line brevity shirkers lowers the win rate (spec assertion 3, brevity variant)", 100.0 * d.shirker_rate), &brief, names::MIX, Slice::K2, Direction::Less, 0.0)?;
    add(&mut c, "mix-k2-beats-narrow", "SkillMix data beats narrow data (4 skills, the Alpaca-like analogue) of equal size (the paper's baseline-dataset comparison, numbers TBD(paper))", names::MIX, names::NARROW, Slice::K2, Direction::Greater, 0.0)?;
    if let Some(&smallest) = d.sizes.iter().min() {
        add(&mut c, "more-data-helps", &format!("more SkillMix data helps: {} examples beat {smallest} (the paper's 1K / 2K / 4K sizes, numbers TBD(paper))", d.n), names::MIX, &names::size(smallest), Slice::K2, Direction::Greater, 0.0)?;
    }
    if cfg.eval.unseen_fraction > 0.0 {
        add(&mut c, "mix-k2-composes-unseen-pairs", "trained on random pairs, the model also beats single-skill SFT on skill pairs it never saw (the compositional reading of the method)", names::MIX, names::SINGLE, Slice::K2Unseen, Direction::Greater, 0.0)?;
    }
    if let Some(p) = p {
        let sm = &p.rows[0];
        c.exact("published-avg-length", "the SkillMix row's avg_length (3141) is the floor of its model outputs' mean character length", "avg_length recomputed from model_outputs.json (805 outputs)", p.avg_length_recomputed as f64, sm.avg_length as f64, 0.0)?;
        c.exact("published-discrete-wr", "the SkillMix row's discrete win rate is 100 · (n_wins + n_draws/2) / n_total = 361/805", "discrete WR % from the leaderboard counts", p.discrete_recomputed, sm.discrete_win_rate, 1e-6)?;
    }
    Ok(c)
}

/// Every condition's win rates with their intervals (`numbers.csv`).
pub fn numbers(boot: &Bootstrap, r: &Records) -> Result<Numbers> {
    let mut n = Numbers::new();
    for m in r.methods() {
        for s in [Slice::All, Slice::K2] {
            n.push(format!("{m}/WR % {}", s.name()), &wr(boot, r, &m, s)?)?;
        }
        n.push(format!("{m}/oracle"), &boot.mean_of(r, &m, "oracle")?)?;
    }
    Ok(n)
}

/// The data-size curve: k = 2 and overall WR of mix-k2 against N.
pub fn size_plot(cfg: &crate::config::MiniConfig, boot: &Bootstrap, r: &Records) -> Result<String> {
    let mut sizes = cfg.data.sizes.clone();
    sizes.sort();
    sizes.push(cfg.data.n);
    let mut series = vec![];
    for s in [Slice::K2, Slice::All] {
        let mut points = vec![];
        for &n in &sizes {
            let m = if n == cfg.data.n { names::MIX.to_string() } else { names::size(n) };
            let iv = wr(boot, r, &m, s)?;
            points.push((n as f64, Estimate::with_interval(iv.estimate, iv.lo, iv.hi)));
        }
        series.push(Curve { name: format!("mix-k2, {} eval", s.name()), points });
    }
    Ok(curves(&Labels { title: "Data size: SkillMix SFT win rate against N (95% interval over prompts and seeds)", x: "training examples N", y: "WR vs baseline (%)" }, &series)?)
}

/// Every condition's k = 2 win rate as bars.
pub fn conditions_plot(outcomes: &[Outcome], boot: &Bootstrap, r: &Records) -> Result<String> {
    let cats = conditions(outcomes);
    let mut values = vec![];
    for m in &cats {
        let iv = wr(boot, r, m, Slice::K2)?;
        values.push(Some(Estimate::with_interval(iv.estimate, iv.lo, iv.hi)));
    }
    Ok(bar_chart(&Labels { title: "Win rate on the k = 2 evaluation prompts", x: "WR vs baseline (%)", y: "condition" }, &cats, &[Bars { name: "T = 0.9".into(), values }])?)
}

/// Write every table, record file, claim, number and plot; returns the claims.
pub fn save_all(cfg: &crate::config::MiniConfig, outcomes: &[Outcome], out: &Path, info: &RunInfo) -> Result<Claims> {
    if outcomes.is_empty() {
        bail!("instruct-skillmix tables: no outcome");
    }
    let r = pooled(outcomes)?;
    // Every interval (table, claims, numbers, plots) is a win rate or paired difference of `eval`.
    // Not widened: the LC-analogue column (a GLM per seed, averaged, no interval).
    let (boot, how) = info.bootstrap("eval", &r)?;
    main_table(outcomes, &boot, &r)?.save(out, "table_mini")?;
    epochs_table(outcomes).save(out, "epochs")?;
    data_table(outcomes).save(out, "data")?;
    let published = match published::root().and_then(|root| published::load(&root)) {
        Ok(p) => {
            published_table(&p).save(out, "table_paper")?;
            Some(p)
        }
        Err(e) => {
            eprintln!("warning: the paper's published rows are not recomputed: {e:#}");
            None
        }
    };
    r.save(out, "eval")?;
    let mut c = claims(cfg, &boot, &r, published.as_ref(), &info.command("instruct-skillmix"))?;
    // A run of several seeds gets no note: the legend already says its bootstrap draws seeds,
    // and its claims stay as committed.
    if info.seeds.len() == 1 {
        c.notes.push(format!("Intervals: {how}."));
    }
    c.save(out)?;
    numbers(&boot, &r)?.save(out)?;
    save_svg(&out.join("data_size.svg"), &size_plot(cfg, &boot, &r)?)?;
    save_svg(&out.join("conditions_k2.svg"), &conditions_plot(outcomes, &boot, &r)?)?;
    info.save(out)?;
    Ok(c)
}
