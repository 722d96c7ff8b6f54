//! The tables, claims, numbers and plot of `results/cdr/`, from the outcomes of one or more seeds.
//!
//! Every interval is the seed-stratified bootstrap of `shared::stats` over the relevant units
//! pooled across seeds: mini RewardBench items (accuracies and the rank correlation, each
//! seed's strengths held at their measured values), annotated pairs (agreement with the oracle),
//! mini AlpacaEval prompts (downstream differences, paired).
//!
//! A run of one seed widens each interval by the spread of the same statistic between the seeds
//! of a committed run ([`Boots`], `shared::stats::spread`): one bootstrap per records table, each
//! with that table's reference. The rank correlation reads each seed's zoo strengths, which a
//! reference seed takes from the reference's zoo records ([`strengths`]).

use crate::bench;
use crate::config::LabelSource;
use crate::pipeline::{bench_reward, Outcome, ANNOTATION_METRICS, STRONG, WEAK, ZOO, ZOO_METRICS};
use crate::ratio::Normalise;
use anyhow::{bail, Context, Result};
use shared::eval::correlation::spearman;
use shared::plot::{save_svg, scatter, Labels, Points};
use shared::report::{Cell, RunInfo, Table};
use shared::stats::{Bootstrap, Claims, Design, Direction, Draw, Interval, Numbers, Record, Records};
use shared::world::alpaca::{headline_diff, mean_diff, push_numbers, Headline, PER_PROMPT_METRICS};
use std::collections::BTreeMap;
use std::path::Path;

/// Paper headline numbers (abstract): RewardBench of the customised Mistral-7B pair, and
/// Llama-3-8B-Instruct's AlpacaEval 2 LC before and after SimPO on CDR labels.
pub const PAPER_REWARDBENCH: f64 = 82.6;
pub const PAPER_SAFETY: f64 = 91.0;
pub const PAPER_REASONING: f64 = 88.0;
pub const PAPER_LC_BEFORE: f64 = 22.9;
pub const PAPER_LC_AFTER: f64 = 40.7;
/// Spec assertion thresholds.
pub const ACCURACY_FLOOR: f64 = 60.0;
pub const AGREEMENT_FLOOR: f64 = 55.0;
pub const ORACLE_TOLERANCE: f64 = 1.0;

/// Every outcome's records pooled (zoo, bench, annotation, eval), checked.
pub struct Pooled {
    pub zoo: Records,
    pub bench: Records,
    pub annotation: Records,
    pub eval: Records,
    /// Per seed: the zoo's strengths.
    pub strength: BTreeMap<u64, Vec<f64>>,
}

pub fn pooled(outs: &[Outcome]) -> Result<Pooled> {
    let mut p = Pooled { zoo: Records::new(&ZOO_METRICS), bench: Records::default(), annotation: Records::new(&ANNOTATION_METRICS), eval: Records::new(&PER_PROMPT_METRICS), strength: BTreeMap::new() };
    for o in outs {
        p.zoo.extend(o.zoo.clone())?;
        p.bench.extend(o.bench.clone())?;
        p.annotation.extend(o.annotation.clone())?;
        p.eval.extend(o.eval.clone())?;
        p.strength.insert(o.seed, o.strength.clone());
    }
    for r in [&p.zoo, &p.bench, &p.annotation, &p.eval] {
        r.validate()?;
    }
    Ok(p)
}

/// One bootstrap per records table the intervals read: in a one-seed run each carries that
/// table's seed-spread reference ([`RunInfo::bootstrap`]), otherwise they are plain.
pub struct Boots {
    pub zoo: Bootstrap,
    pub bench: Bootstrap,
    pub annotation: Bootstrap,
    pub eval: Bootstrap,
    /// How each table's intervals were made, for the claims' notes.
    pub notes: Vec<String>,
}

impl Boots {
    pub fn new(info: &RunInfo, p: &Pooled) -> Result<Self> {
        let mut notes = vec![];
        let mut boot = |table: &str, r: &Records| -> Result<Bootstrap> {
            let (b, how) = info.bootstrap(table, r)?;
            notes.push(format!("Intervals over `{table}`: {how}."));
            Ok(b)
        };
        let (zoo, bench, annotation, eval) = (boot("zoo", &p.zoo)?, boot("rewardbench", &p.bench)?, boot("annotation", &p.annotation)?, boot("eval", &p.eval)?);
        Ok(Boots { zoo, bench, annotation, eval, notes })
    }
}

/// Per seed, the zoo's strengths (the mean oracle score of each model's answers, in `ZOO`
/// order) measured from zoo records, as the pipeline measured `Outcome::strength`.
pub fn strengths(zoo: &Records) -> Result<BTreeMap<u64, Vec<f64>>> {
    let oracle = zoo.metric("oracle")?;
    zoo.seeds()
        .into_iter()
        .map(|seed| {
            let of = |name: &str| -> Result<f64> {
                let v: Vec<f64> = zoo.rows.iter().filter(|r| r.seed == seed && r.method == name).map(|r| r.values[oracle]).collect();
                anyhow::ensure!(!v.is_empty(), "zoo records: no {name} rows of seed {seed}");
                Ok(v.iter().sum::<f64>() / v.len() as f64)
            };
            Ok((seed, ZOO.iter().map(|n| of(n)).collect::<Result<Vec<f64>>>()?))
        })
        .collect()
}

/// Section accuracies of `r_DR(s over w)` on one seed's bench records.
fn sections(items: &[&Record], s: usize, w: usize, n: Normalise) -> [Option<f64>; 3] {
    bench::section_accuracy(items.iter().enumerate().map(|(i, r)| (r.values[0] as usize, i)), |i, j| bench_reward(&items[i].values, s, w, j, n))
}

/// Section accuracies of `r_DR(M3 over M2)` with the routed customisation.
fn sections_routed(items: &[&Record], n: Normalise) -> [Option<f64>; 3] {
    bench::section_accuracy(items.iter().enumerate().map(|(i, r)| (r.values[0] as usize, i)), |i, j| crate::pipeline::bench_reward_routed(&items[i].values, j, n))
}

/// Overall accuracy (%) of `r_DR(s over w)` on one seed's items.
fn overall(items: &[&Record], s: usize, w: usize, n: Normalise) -> f64 {
    100.0 * bench::overall(&sections(items, s, w, n))
}

/// Every ordered pair (strong, weak) of the zoo.
pub fn ordered_pairs() -> Vec<(usize, usize)> {
    (0..ZOO.len()).flat_map(|s| (0..ZOO.len()).filter(move |&w| w != s).map(move |w| (s, w))).collect()
}

/// Spearman ρ(gap, overall accuracy) over the ordered pairs of one seed (only those with a
/// positive gap when `positive_only`).
fn rho(items: &[&Record], strength: &[f64], n: Normalise, positive_only: bool) -> f64 {
    let (mut gaps, mut accs) = (vec![], vec![]);
    for (s, w) in ordered_pairs() {
        let gap = strength[s] - strength[w];
        if !positive_only || gap > 0.0 {
            gaps.push(gap);
            accs.push(overall(items, s, w, n));
        }
    }
    spearman(&gaps, &accs).unwrap_or(f64::NAN)
}

/// The mean over drawn seeds of `stat` of each seed's mini RewardBench items.
fn per_seed<'a, 'b>(d: &Draw<'a, &'b Record>, stat: impl Fn(&[&'b Record]) -> f64) -> f64 {
    d.per_seed(|items| stat(&items.iter().map(|r| **r).collect::<Vec<_>>()))
}

/// Interval of a statistic of each seed's mini RewardBench items, widened in a one-seed run.
fn bench_interval(what: &str, boot: &Bootstrap, p: &Pooled, stat: impl Fn(&[&Record]) -> f64 + Sync) -> Result<Interval> {
    boot.rows_interval(&p.bench, |r| r.method == "zoo", |d| per_seed(d, &stat)).with_context(|| format!("mini RewardBench: {what}"))
}

/// Interval of a statistic of each seed's mini RewardBench items and that seed's zoo strengths
/// (the rank correlation), widened in a one-seed run like [`bench_interval`]: a reference seed
/// reads the strengths measured from the reference's zoo records, so the reference must hold
/// them (`rows_interval` cannot be used: run and reference may share seed numbers).
fn strength_interval(what: &str, b: &Boots, p: &Pooled, stat: impl Fn(&[&Record], &[f64]) -> f64 + Sync) -> Result<Interval> {
    let with = |strength: &BTreeMap<u64, Vec<f64>>, d: &Draw<&Record>| per_seed(d, |items| stat(items, &strength[&items[0].seed]));
    let rows = p.bench.of("zoo")?;
    let iv = b.bench.interval(&Design::new(&rows)?, |d| with(&p.strength, d)).with_context(|| format!("mini RewardBench: {what}"))?;
    let Some(reference) = &b.bench.reference else { return Ok(iv) };
    let zoo = b.zoo.reference.as_ref().context("the seed-spread reference has mini RewardBench records but no matching zoo records to measure its seeds' strengths; pass --no-seed-spread")?;
    let strength = strengths(zoo)?;
    let rrows = reference.of("zoo")?;
    if let Some(r) = rrows.iter().find(|r| !strength.contains_key(&r.seed)) {
        bail!("the seed-spread reference has mini RewardBench records of seed {} but no zoo records of it", r.seed);
    }
    Ok(b.bench.widen(iv, &Design::new(&rrows)?, |d| with(&strength, d))?)
}

fn seeds_items(p: &Pooled) -> Result<Vec<(u64, Vec<&Record>)>> {
    let rows = p.bench.of("zoo")?;
    Ok(p.bench.seeds().into_iter().map(|s| (s, rows.iter().copied().filter(|r| r.seed == s).collect())).collect())
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn iv_cell(iv: &Interval, scale: f64, d: usize) -> Cell {
    Cell::text(format!("{:.d$} [{:.d$}, {:.d$}]", scale * iv.estimate, scale * iv.lo, scale * iv.hi))
}

/// The zoo: recipe, strength with its interval over prompts and seeds, answer length.
pub fn zoo_table(cfg: &crate::config::MiniConfig, outs: &[Outcome], p: &Pooled, boot: &Bootstrap) -> Result<Table> {
    let mut t = Table::new("CDR in miniature: the model zoo (strength = mean oracle score of T = 1 answers on the mini AlpacaEval)", &["model", "recipe", "strength", "avg length", "acc. as strong over M2 % (sum)"]);
    let si = seeds_items(p)?;
    for (i, name) in ZOO.iter().enumerate() {
        let acc = if i == WEAK { Cell::Missing } else { Cell::num(mean(si.iter().map(|(_, it)| overall(it, i, WEAK, Normalise::None))), 1) };
        t.push(vec![name.to_string().into(), crate::pipeline::recipe(i, cfg).into(), iv_cell(&boot.mean_of(&p.zoo, name, "oracle")?, 1.0, 3), Cell::num(boot.mean_of(&p.zoo, name, "length")?.estimate, 1), acc]);
    }
    t.note(format!("Strength: 95% bootstrap interval over prompts and seeds. M3, M4 and M6 trained on {} oracle pairs (seed {}); the paper's 221 pairs of public 7B-70B models become the 42 ordered pairs of these seven.", outs[0].zoo_pairs, outs[0].seed));
    Ok(t)
}

/// All 42 ordered pairs: gap, overall accuracy (sum and mean), sections (sum); means over seeds.
pub fn pairs_table(p: &Pooled) -> Result<Table> {
    let mut t = Table::new("Strong-over-weak: every ordered pair of the zoo on the mini RewardBench (accuracy %, mean over seeds)", &["strong", "weak", "gap", "overall (sum)", "overall (mean)", "Chat", "Chat Hard", "Reasoning"]);
    let si = seeds_items(p)?;
    let mut rows: Vec<(f64, Vec<Cell>)> = vec![];
    for (s, w) in ordered_pairs() {
        let gap = mean(p.strength.values().map(|v| v[s] - v[w]));
        let sec = |k: usize| mean(si.iter().map(|(_, it)| sections(it, s, w, Normalise::None)[k].unwrap_or(f64::NAN))) * 100.0;
        rows.push((
            gap,
            vec![
                ZOO[s].to_string().into(),
                ZOO[w].to_string().into(),
                Cell::num(gap, 3),
                Cell::num(mean(si.iter().map(|(_, it)| overall(it, s, w, Normalise::None))), 1),
                Cell::num(mean(si.iter().map(|(_, it)| overall(it, s, w, Normalise::Mean))), 1),
                Cell::num(sec(0), 1),
                Cell::num(sec(1), 1),
                Cell::num(sec(2), 1),
            ],
        ));
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, r) in rows {
        t.push(r);
    }
    t.note("gap = strength(strong) − strength(weak). sum: r_DR = Σ log π_s − Σ log π_w over response tokens (the released code); mean: divided by the response's token count (reward_hub's avg variant). Strict `>`: a tie counts wrong (a model over itself scores 0). Overall = mean of the three sections (no Safety: the world has no refusal family).");
    Ok(t)
}

/// RewardBench by section for the CDR pair, its reverse, and the paper's customisation rows.
pub fn customisation_table(outs: &[Outcome], p: &Pooled, boot: &Bootstrap) -> Result<Table> {
    let mut t = Table::new("Mini RewardBench by section and the customisation of CDR (accuracy %, 95% interval over items and seeds)", &["reward", "Chat", "Chat Hard", "Reasoning", "Safety", "overall", "paper (Mistral-7B pair)"]);
    for (label, s, w, n) in [
        ("vanilla r_DR(M3 over M2), sum", STRONG, WEAK, Normalise::None),
        ("vanilla r_DR(M3 over M2), mean", STRONG, WEAK, Normalise::Mean),
        ("reversed: r_DR(M2 over M3), sum", WEAK, STRONG, Normalise::None),
    ] {
        let mut row: Vec<Cell> = vec![label.into()];
        for k in 0..3 {
            row.push(iv_cell(&bench_interval(label, boot, p, |items| 100.0 * sections(items, s, w, n)[k].unwrap_or(f64::NAN))?, 1.0, 1));
        }
        row.push(Cell::text("no refusal family"));
        row.push(iv_cell(&bench_interval(label, boot, p, |items| overall(items, s, w, n))?, 1.0, 1));
        row.push(Cell::Missing);
        t.push(row);
    }
    for (label, n, paper) in [
        ("routed + exemplars on Reasoning (vanilla_domain + fs_domain_icl), sum", Normalise::None, Some(format!("{PAPER_REWARDBENCH} (Safety {PAPER_SAFETY}, Reasoning {PAPER_REASONING}), customised"))),
        ("routed + exemplars on Reasoning, mean", Normalise::Mean, None),
    ] {
        let mut row: Vec<Cell> = vec![label.into()];
        for k in 0..3 {
            row.push(iv_cell(&bench_interval(label, boot, p, |items| 100.0 * sections_routed(items, n)[k].unwrap_or(f64::NAN))?, 1.0, 1));
        }
        row.push(Cell::text("no refusal family"));
        row.push(iv_cell(&bench_interval(label, boot, p, |items| 100.0 * bench::overall(&sections_routed(items, n)))?, 1.0, 1));
        row.push(paper.map(Cell::text).unwrap_or(Cell::Missing));
        t.push(row);
    }
    let fit = 100.0 * mean(outs.iter().map(|o| o.exemplar_fit));
    t.push(vec!["+ criteria system turn".into(), Cell::text("not reproducible in miniature"), Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing]);
    t.note("Router: the task family's domain is known (sort, count, add → Reasoning; the text families → Chat), so routing is exact. As coded for the paper's Llama-3 data (vanilla_domain + fs_domain_icl), Chat prompts are scored unchanged and Reasoning prompts get an exemplar block in the user turn: `user: <same-family prompt> good: <correct> bad: <wrong> user: <query> good:`.");
    t.note(format!("Exemplars: the models' context is {} tokens; the block fits for {fit:.0}% of the Reasoning items (the rest are scored without it). The world's models were never trained on such a form, so this measures whether the ratio survives an unfamiliar prefix, not whether the models read the exemplars as instructions.", outs[0].context));
    t.note("Criteria system turn: not reproducible in miniature: the world's SFT data have no system turns (the prompt format is `<bos> prompt <sep>`), so the models have never read one (as coded, vanilla_domain inserts an empty system turn, which has no counterpart here).");
    Ok(t)
}

/// The downstream table: SFT and SimPO on each label source's pairs.
pub fn downstream_table(cfg: &crate::config::MiniConfig, outs: &[Outcome], p: &Pooled, b: &Boots) -> Result<Table> {
    let mut t = Table::new(
        "Annotate and train: SimPO from M2 on the pairs of each label source, on the mini AlpacaEval (paper: Llama-3-8B-Instruct, AlpacaEval 2 LC 22.9 → 40.7 with CDR labels)",
        &["model", "pairs", "labels agree with oracle % (ties ½)", "oracle ties %", "oracle score", "accuracy %", "judge WR %", "LC WR %", "avg length", "len chosen − rejected"],
    );
    let methods: Vec<String> = outs[0].rows.iter().map(|r| r.model.clone()).collect();
    for m in &methods {
        let src = outs[0].pairs.iter().map(|x| x.0).find(|s| s.method() == m);
        let pairs = src.map(|s| mean(outs.iter().map(|o| o.pairs.iter().find(|x| x.0 == s).map_or(0.0, |x| x.1 as f64))));
        let agree = match src {
            Some(s) => Some(agreement(&b.annotation, p, s)?.estimate),
            None => None,
        };
        let ties = match src {
            Some(s) => Some(100.0 * mean(p.annotation.of(s.id())?.iter().map(|r| r.values[1]))),
            None => None,
        };
        let dlen = match src {
            Some(s) => Some(mean(p.annotation.of(s.id())?.iter().map(|r| r.values[2] - r.values[3]))),
            None => None,
        };
        let rows: Vec<_> = outs.iter().filter_map(|o| o.rows.iter().find(|r| &r.model == m)).collect();
        let lc: Vec<f64> = rows.iter().filter_map(|r| r.lc_win_rate).collect();
        t.push(vec![
            m.clone().into(),
            Cell::opt(pairs, 0),
            Cell::opt(agree, 1),
            Cell::opt(ties, 1),
            iv_cell(&b.eval.mean_of(&p.eval, m, "oracle")?, 1.0, 3),
            Cell::num(100.0 * mean(rows.iter().map(|r| r.accuracy)), 1),
            Cell::num(100.0 * b.eval.mean_of(&p.eval, m, "preference")?.estimate, 1),
            Cell::opt((lc.len() == rows.len()).then(|| mean(lc.iter().copied())), 1),
            Cell::num(mean(rows.iter().map(|r| r.avg_len)), 1),
            Cell::opt(dlen, 1),
        ]);
    }
    let (a, sp) = (&cfg.annotate, &cfg.annotate.simpo);
    t.note(format!("Every SimPO run: β {}, γ/β {} (assumed: CDR's SimPO settings are unknown), lr {}, {} epochs of batch {}, from M2. Pairs: best vs worst of {} samples of M2 per prompt (T {}) on {} prompts under each source (best vs a random other for the `random other` row); CDR = r_DR(M3 over M2), summed; judge = Borda score under the length-biased pairwise judge; random = uniform scores.", sp.beta, sp.gamma_beta_ratio, a.train.schedule.lr, a.train.epochs, a.train.batch_size, a.sampling.samples, a.sampling.temperature, a.prompts));
    t.note("labels agree with oracle: share of pairs whose chosen answer the oracle scores higher, a pair it ties counting ½; oracle ties: share of pairs it ties. Win rates are against the world's fixed baseline; LC WR is the AlpacaEval GLM (mean over seeds).");
    Ok(t)
}

/// Agreement (%) of one label source's pairs with the oracle, an oracle tie counting ½ (as a
/// tie counts in a win rate).
fn agreement(boot: &Bootstrap, p: &Pooled, s: LabelSource) -> Result<Interval> {
    boot.rows_interval(&p.annotation, |r| r.method == s.id(), |d| d.mean(|r| 100.0 * (r.values[0] + 0.5 * r.values[1]))).with_context(|| format!("agreement of {} labels with the oracle", s.id()))
}

fn scaled(iv: Interval, k: f64) -> Interval {
    Interval { estimate: k * iv.estimate, lo: k * iv.lo, hi: k * iv.hi, se: k * iv.se, ..iv }
}

/// Spec assertions (a)–(e) as claims.
pub fn claims(outs: &[Outcome], p: &Pooled, b: &Boots, command: &str) -> Result<Claims> {
    let mut c = Claims::new("cdr", command);
    let acc = bench_interval("accuracy of M3 over M2", &b.bench, p, |it| overall(it, STRONG, WEAK, Normalise::None))?;
    c.interval("rdr-accuracy-above-60", &format!("r_DR(M3 over M2) ranks the mini RewardBench's pairs with ≥ {ACCURACY_FLOOR}% accuracy (paper: 82.6 with the customised Mistral pair; spec (a))"), "overall accuracy %, mean of 3 sections, summed r_DR", Direction::Greater, ACCURACY_FLOOR, &acc)?;
    let rev = bench_interval("M3/M2 − M2/M3", &b.bench, p, |it| overall(it, STRONG, WEAK, Normalise::None) - overall(it, WEAK, STRONG, Normalise::None))?;
    c.interval("rdr-beats-reversed-pair", "the strong-over-weak ratio beats the reversed (weak-over-strong) ratio (spec (a))", "overall accuracy %, M3/M2 − M2/M3 (paired on items)", Direction::Greater, 0.0, &rev)?;
    let rho_all = strength_interval("Spearman over all pairs", b, p, |it, st| rho(it, st, Normalise::None, false))?;
    c.interval("accuracy-rises-with-gap", "the larger the strong−weak gap, the higher the ratio's accuracy, over all 42 ordered pairs (strong-over-weak hypothesis; spec (b), target ρ ≥ 0.5)", "Spearman ρ(gap, overall accuracy), summed r_DR; strengths fixed per seed", Direction::Greater, 0.0, &rho_all)?;
    let rho_pos = strength_interval("Spearman over gap > 0", b, p, |it, st| rho(it, st, Normalise::None, true))?;
    c.interval("accuracy-rises-with-gap-positive-gaps", "accuracy rises with the gap among the pairs whose strong model is the stronger one (spec (b))", "Spearman ρ(gap, overall accuracy) over pairs with gap > 0, summed r_DR", Direction::Greater, 0.0, &rho_pos)?;
    let agree = agreement(&b.annotation, p, LabelSource::Cdr)?;
    c.interval("cdr-labels-agree-with-oracle", &format!("CDR labels agree with the oracle on more than {AGREEMENT_FLOOR}% of the annotated pairs (spec (c))"), "oracle agrees with the CDR label %, an oracle tie counting ½", Direction::Greater, AGREEMENT_FLOOR, &agree)?;
    let cdr = LabelSource::Cdr.method();
    let rows: Vec<&shared::world::alpaca::EvalRow> = outs.iter().flat_map(|o| o.rows.iter()).collect();
    let h = Headline::of(rows.iter().copied());
    let (iv, pi) = mean_diff(&b.eval, &p.eval, cdr, "SFT (M2)", "oracle")?;
    c.interval("simpo-cdr-beats-sft-oracle", "SimPO on CDR labels beats the SFT model (paper: +17.8 AE2 LC, +15.1 Arena-Hard; spec (d)) — on the oracle score", "oracle score, SimPO on CDR − SFT (paired over prompts)", Direction::Greater, 0.0, &iv)?.p_improvement = Some(pi);
    let (iv, pi) = headline_diff(&b.eval, &p.eval, cdr, "SFT (M2)", h)?;
    c.interval("simpo-cdr-beats-sft-lc", &format!("SimPO on CDR labels beats the SFT model on {} (AE2 LC {PAPER_LC_BEFORE} → {PAPER_LC_AFTER}; spec (d))", h.name()), &format!("{}, SimPO on CDR − SFT (paired)", h.name()), Direction::Greater, 0.0, &iv)?.p_improvement = Some(pi);
    if outs[0].pairs.iter().any(|x| x.0 == LabelSource::Random) {
        let (iv, pi) = mean_diff(&b.eval, &p.eval, cdr, LabelSource::Random.method(), "oracle")?;
        c.interval("simpo-cdr-beats-random-labels", "SimPO on CDR labels beats SimPO on random labels (spec (d))", "oracle score, SimPO on CDR − SimPO on random (paired)", Direction::Greater, 0.0, &iv)?.p_improvement = Some(pi);
    }
    if outs[0].pairs.iter().any(|x| x.0 == LabelSource::Oracle) {
        let (iv, pi) = mean_diff(&b.eval, &p.eval, LabelSource::Oracle.method(), cdr, "oracle")?;
        c.interval("simpo-oracle-within-1-of-cdr", &format!("SimPO on oracle labels is no worse than SimPO on CDR labels minus {ORACLE_TOLERANCE} point (spec (e); the paper claims no CDR win over a trained RM)"), "oracle score ×100, SimPO on oracle − SimPO on CDR (paired)", Direction::Greater, -ORACLE_TOLERANCE, &scaled(iv, 100.0))?.p_improvement = Some(pi);
    }
    Ok(c)
}

pub fn numbers(outs: &[Outcome], p: &Pooled, b: &Boots) -> Result<Numbers> {
    let mut n = Numbers::new();
    for z in ZOO {
        n.push(format!("zoo/{z}/strength"), &b.zoo.mean_of(&p.zoo, z, "oracle")?)?;
    }
    for (label, norm) in [("sum", Normalise::None), ("mean", Normalise::Mean)] {
        n.push(format!("rewardbench/M3 over M2/{label}"), &bench_interval(label, &b.bench, p, |it| overall(it, STRONG, WEAK, norm))?)?;
        n.push(format!("strong-over-weak/rho/{label}"), &strength_interval(label, b, p, |it, st| rho(it, st, norm, false))?)?;
    }
    let rows: Vec<&shared::world::alpaca::EvalRow> = outs.iter().flat_map(|o| o.rows.iter()).collect();
    let h = Headline::of(rows.iter().copied());
    for m in outs[0].rows.iter().map(|r| r.model.clone()) {
        push_numbers(&mut n, &b.eval, &p.eval, &m, "eval", h)?;
    }
    Ok(n)
}

/// Gap against accuracy for every ordered pair and seed, sum and mean variants.
pub fn plot(p: &Pooled) -> Result<String> {
    let si = seeds_items(p)?;
    let series = [("summed r_DR", Normalise::None), ("mean r_DR", Normalise::Mean)]
        .iter()
        .map(|(name, n)| Points { name: name.to_string(), points: si.iter().flat_map(|(seed, it)| ordered_pairs().into_iter().map(|(s, w)| (p.strength[seed][s] - p.strength[seed][w], overall(it, s, w, *n))).collect::<Vec<_>>()).collect() })
        .collect::<Vec<_>>();
    Ok(scatter(&Labels { title: "Strong-over-weak: mini RewardBench accuracy against the strength gap (42 ordered pairs per seed)", x: "gap = strength(strong) − strength(weak), mean oracle score", y: "overall accuracy %" }, &series, true)?)
}

/// The run-time line of each seed.
pub fn timing_table(outs: &[Outcome]) -> Table {
    let mut cols = vec!["seed", "base"];
    let names: Vec<String> = outs[0].phases.iter().map(|x| x.0.clone()).collect();
    cols.extend(names.iter().map(String::as_str));
    cols.push("total s");
    let mut t = Table::new("Run time per seed (seconds, this machine)", &cols);
    for o in outs {
        let mut row: Vec<Cell> = vec![Cell::num(o.seed as f64, 0), if o.base_trained { "trained" } else { "cached" }.into()];
        row.extend(o.phases.iter().map(|x| Cell::num(x.1, 0)));
        row.push(Cell::num(o.seconds, 0));
        t.push(row);
    }
    t
}

pub fn save_all(cfg: &crate::config::MiniConfig, outs: &[Outcome], out: &Path, info: &RunInfo) -> Result<Claims> {
    if outs.is_empty() {
        bail!("cdr tables: no outcome");
    }
    let p = pooled(outs)?;
    // Every interval reads one of the four records tables, so all of them widen in a one-seed
    // run; the columns without one (the pairs table, accuracy, LC, the plot) are means over the
    // seeds' own values. The paper path's exact recomputations (`paper.rs`) are not touched.
    let b = Boots::new(info, &p)?;
    zoo_table(cfg, outs, &p, &b.zoo)?.save(out, "zoo")?;
    pairs_table(&p)?.save(out, "strong_over_weak")?;
    customisation_table(outs, &p, &b.bench)?.save(out, "rewardbench_mini")?;
    downstream_table(cfg, outs, &p, &b)?.save(out, "downstream")?;
    p.zoo.save(out, "zoo")?;
    p.bench.save(out, "rewardbench")?;
    p.annotation.save(out, "annotation")?;
    p.eval.save(out, "eval")?;
    let mut c = claims(outs, &p, &b, &info.command("cdr")).context("claims")?;
    // A run of several seeds gets no note: the legend already says its bootstrap draws seeds,
    // and its claims stay as committed.
    if info.seeds.len() == 1 {
        c.notes.extend(b.notes.iter().cloned());
    }
    c.save(out)?;
    numbers(outs, &p, &b)?.save(out)?;
    save_svg(&out.join("gap_vs_accuracy.svg"), &plot(&p)?)?;
    info.save(out)?;
    eprintln!("{}", timing_table(outs).to_markdown());
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference seed's strengths are its zoo records' mean oracle scores, in `ZOO` order; a
    /// seed missing a model is an error, not a silent zero.
    #[test]
    fn strengths_are_the_zoo_records_means_per_seed() {
        let mut zoo = Records::new(&ZOO_METRICS);
        for seed in [0, 1] {
            for (i, name) in ZOO.iter().enumerate() {
                for k in 0..4 {
                    zoo.push(seed, name, k.to_string(), 0, &[(seed as f64 + i as f64) * 0.1 + k as f64 * 0.01, 10.0]).unwrap();
                }
            }
        }
        let s = strengths(&zoo).unwrap();
        assert_eq!(s.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        for (seed, v) in &s {
            for (i, x) in v.iter().enumerate() {
                assert!((x - ((*seed as f64 + i as f64) * 0.1 + 0.015)).abs() < 1e-12, "seed {seed} model {i}: {x}");
            }
        }
        zoo.rows.retain(|r| !(r.seed == 1 && r.method == ZOO[3]));
        assert!(strengths(&zoo).unwrap_err().to_string().contains("no M3 rows of seed 1"));
    }
}
