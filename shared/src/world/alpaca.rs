//! The mini AlpacaEval: a fixed set of held-out prompts, a fixed baseline's outputs, and one row
//! per model: oracle score, accuracy, judge win rate against the baseline (with its standard
//! error), the length-controlled win rate, and average length (characters = tokens here). Each row
//! keeps its per-prompt values, which become the per-prompt records of the tables
//! ([`EvalRow::push_records`]) that claims are bootstrapped from.

use super::{Prompt, World};
use crate::error::{Error, Result};
use crate::report::{Cell, Table};
use rand::Rng;
use stats::{paired, probability_of_improvement, Bootstrap, Design, Draw, Interval, Numbers, Pair, Record, Records};
use std::collections::BTreeMap;

/// The benchmark: prompts and the baseline's outputs, both fixed by the world's version.
#[derive(Clone, Debug)]
pub struct MiniAlpacaEval {
    pub prompts: Vec<Prompt>,
    pub baseline: Vec<String>,
}

/// One model's row.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalRow {
    pub model: String,
    /// Mean oracle score r*, in [0, 1].
    pub oracle: f64,
    /// Fraction fully correct (content and skills).
    pub accuracy: f64,
    /// Mean judge preference for the model over the baseline, in percent.
    pub win_rate: f64,
    pub win_rate_se: f64,
    /// Length-controlled win rate and its standard error; `None` when the LC GLM cannot be fitted.
    pub lc_win_rate: Option<f64>,
    pub lc_win_rate_se: Option<f64>,
    pub avg_len: f64,
    /// Per-prompt judge preferences in [0, 1] (the LC GLM's input).
    pub preferences: Vec<f64>,
    /// Per-prompt oracle scores r*, in the order of `preferences`.
    pub oracle_scores: Vec<f64>,
    /// Per-prompt response lengths (characters = tokens here).
    pub lengths: Vec<f64>,
    /// Per-prompt baseline length minus response length (the LC GLM's length input).
    pub delta_len: Vec<f64>,
}

/// The metric columns of the per-prompt records of a mini AlpacaEval row, in the order
/// [`EvalRow::push_records`] writes them: judge preference over the baseline in [0, 1], oracle
/// score, response length, baseline length minus response length.
pub const PER_PROMPT_METRICS: [&str; 4] = ["preference", "oracle", "length", "delta_len"];

impl EvalRow {
    /// The row's cells as every miniature table prints them: oracle score, accuracy %, judge
    /// WR % ± s.e., LC WR %, average length.
    /// Append this row's per-prompt values to `records` (whose metrics are
    /// [`PER_PROMPT_METRICS`]) as `method` in run `seed`: one sample per prompt, the prompt id
    /// being its index in the fixed benchmark, so the same id is the same prompt in every seed.
    pub fn push_records(&self, records: &mut Records, seed: u64, method: &str) -> Result<()> {
        if records.metrics != PER_PROMPT_METRICS {
            return Err(Error::invalid("per-prompt records", format!("metrics {:?} are not {PER_PROMPT_METRICS:?}", records.metrics)));
        }
        for i in 0..self.preferences.len() {
            records.push(seed, method, i.to_string(), 0, &[self.preferences[i], self.oracle_scores[i], self.lengths[i], self.delta_len[i]])?;
        }
        Ok(())
    }

    pub fn cells(&self) -> [Cell; 5] {
        [
            Cell::num(self.oracle, 3),
            Cell::num(100.0 * self.accuracy, 1),
            Cell::NumSe(self.win_rate, self.win_rate_se, 1),
            Cell::opt(self.lc_win_rate, 1),
            Cell::num(self.avg_len, 1),
        ]
    }
}

impl MiniAlpacaEval {
    pub fn new(world: &World) -> Self {
        let prompts = world.eval_prompts();
        let baseline = world.baseline_outputs(&prompts);
        MiniAlpacaEval { prompts, baseline }
    }

    /// Score `outputs` (one per prompt). The judge sees the pair in a random order drawn from
    /// `rng` (as AlpacaEval does) and its probability is the soft preference.
    pub fn evaluate<R: Rng>(&self, world: &World, model: &str, outputs: &[String], rng: &mut R) -> Result<EvalRow> {
        if outputs.len() != self.prompts.len() {
            return Err(Error::invalid(
                format!("mini AlpacaEval outputs of {model}"),
                format!("{} outputs for {} prompts", outputs.len(), self.prompts.len()),
            ));
        }
        let n = outputs.len() as f64;
        let (mut oracle, mut correct, mut len) = (0.0, 0.0, 0.0);
        let mut prefs = Vec::with_capacity(outputs.len());
        let mut delta_len = Vec::with_capacity(outputs.len());
        let (mut scores, mut lengths) = (Vec::with_capacity(outputs.len()), Vec::with_capacity(outputs.len()));
        for ((x, y), b) in self.prompts.iter().zip(outputs).zip(&self.baseline) {
            let g = world.oracle.grade(x, y);
            delta_len.push(b.chars().count() as f64 - g.length as f64);
            oracle += g.score;
            scores.push(g.score);
            lengths.push(g.length as f64);
            correct += g.correct as u8 as f64;
            len += g.length as f64;
            let model_first = rng.gen_bool(0.5);
            let p = if model_first { world.judge.prob(x, y, b) } else { 1.0 - world.judge.prob(x, b, y) };
            prefs.push(p);
        }
        let (wr, se) = mean_and_se(&prefs);
        let lc = length_controlled_win_rate(&prefs, &delta_len);
        Ok(EvalRow {
            model: model.to_string(),
            oracle: oracle / n,
            accuracy: correct / n,
            win_rate: 100.0 * wr,
            win_rate_se: 100.0 * se,
            lc_win_rate: lc.map(|l| l.0),
            lc_win_rate_se: lc.map(|l| l.1),
            avg_len: len / n,
            preferences: prefs,
            oracle_scores: scores,
            lengths,
            delta_len,
        })
    }

    /// The standard table of the miniature (one row per model).
    pub fn table(title: &str, rows: &[EvalRow]) -> Table {
        let mut t = Table::new(title, &["model", "oracle score", "accuracy %", "judge WR %", "LC WR %", "avg length"]);
        for r in rows {
            let mut row = vec![r.model.clone().into()];
            row.extend(r.cells());
            t.push(row);
        }
        t.note("LC WR: the length-controlled GLM of the real AlpacaEval (length and bias terms; no difficulty term, no gamed baselines), predicted at zero length difference.");
        t.note("Win rates are the judge's mean preference for the model over the fixed baseline (a seeded partial oracle), ± standard error.");
        t
    }
}

/// The length-controlled win rate of the real AlpacaEval's GLM (`shared::eval::lc_glm`), in its
/// length-and-bias form: every prompt of the miniature is equally hard by construction, so there
/// is no difficulty term, and no gamed baselines are judged, so the length slope is not
/// regularised toward them. LC = 100 σ(w_bias): the win rate at zero length difference.
/// Returns (LC, its standard error), `None` when the fit fails (too few prompts for the
/// cross-validation folds).
pub fn length_controlled_win_rate(prefs: &[f64], delta_len: &[f64]) -> Option<(f64, f64)> {
    use crate::eval::lc_glm::{length_controlled, LcOptions, Variant};
    let y: Vec<Option<f64>> = prefs.iter().map(|&p| Some(p)).collect();
    let opt = LcOptions { variant: Variant::Minimal, ..LcOptions::default() };
    length_controlled(&y, delta_len, &[], &[], &opt).ok().map(|r| (r.lc_win_rate, r.lc_standard_error))
}

/// The regularisation strength C that the LC GLM's cross-validation picks on these per-prompt
/// (preference, baseline length − length) values; `None` when the fit fails.
pub fn lc_strength(prefs: &[f64], delta_len: &[f64]) -> Option<f64> {
    use crate::eval::lc_glm::{length_controlled, LcOptions, Variant};
    let y: Vec<Option<f64>> = prefs.iter().map(|&p| Some(p)).collect();
    let opt = LcOptions { variant: Variant::Minimal, ..LcOptions::default() };
    length_controlled(&y, delta_len, &[], &[], &opt).ok().and_then(|r| r.c)
}

/// The LC win rate of per-prompt (preference, delta_len) values with the GLM refitted at a fixed
/// C (one L1-regularised fit, no cross-validation): the bootstrap statistic. At the C that
/// [`lc_strength`] picks on the observed data it equals [`length_controlled_win_rate`]. NaN when
/// the fit fails.
pub fn lc_at(pref_and_delta: impl Iterator<Item = (f64, f64)>, c: f64) -> f64 {
    use crate::eval::lc_glm::standardized_delta;
    use crate::eval::logistic::{fit_l1, sigmoid, Design as GlmDesign, SolverOptions};
    let (prefs, delta): (Vec<f64>, Vec<f64>) = pref_and_delta.unzip();
    let rows: Vec<Vec<f64>> = standardized_delta(&delta).iter().map(|x| vec![x.tanh(), 1.0]).collect();
    match fit_l1(&GlmDesign::from_rows(&rows), &prefs, &vec![1.0; prefs.len()], c, None, SolverOptions::default()) {
        Ok(f) => 100.0 * sigmoid(f.w[1]),
        Err(_) => f64::NAN,
    }
}

/// The headline metric of a miniature table: the LC win rate when the GLM fits every row of the
/// run, else the raw judge win rate (as the tables fall back). In a bootstrap the LC GLM is
/// refitted on every replicate at the C its cross-validation chose on the observed data of that
/// method and seed (rerunning the 50-fit cross-validation per replicate would cost 50 times more;
/// the interval leaves out the variability of the choice of C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headline {
    pub lc: bool,
}

/// Per (method, seed): the C of the LC GLM on the observed data.
pub type Strengths = BTreeMap<(String, u64), f64>;

impl Headline {
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a EvalRow>) -> Self {
        Headline { lc: rows.into_iter().all(|r| r.lc_win_rate.is_some()) }
    }
    pub fn name(self) -> &'static str {
        if self.lc {
            "LC WR %"
        } else {
            "judge WR %"
        }
    }
    /// The C of every (method, seed) of `methods` in the records (empty for the raw win rate).
    pub fn strengths(self, r: &Records, methods: &[&str]) -> Result<Strengths> {
        let mut out = Strengths::new();
        if !self.lc {
            return Ok(out);
        }
        let (pref, dlen) = (r.metric("preference")?, r.metric("delta_len")?);
        for m in methods {
            for seed in r.seeds() {
                let rows: Vec<&Record> = r.of(m)?.into_iter().filter(|x| x.seed == seed).collect();
                let (p, d): (Vec<f64>, Vec<f64>) = rows.iter().map(|x| (x.values[pref], x.values[dlen])).unzip();
                let c = lc_strength(&p, &d).ok_or_else(|| Error::invalid(format!("{m}, seed {seed}"), "the LC GLM does not fit its per-prompt values"))?;
                out.insert((m.to_string(), seed), c);
            }
        }
        Ok(out)
    }
    /// The headline of one method's per-prompt (preference, delta_len) values in one seed, in
    /// percent.
    pub fn value(self, v: impl Iterator<Item = (f64, f64)>, strengths: &Strengths, method: &str, seed: u64) -> f64 {
        if self.lc {
            strengths.get(&(method.to_string(), seed)).map(|&c| lc_at(v, c)).unwrap_or(f64::NAN)
        } else {
            let (n, sum) = v.fold((0usize, 0.0), |(n, s), (p, _)| (n + 1, s + p));
            100.0 * sum / n as f64
        }
    }
}

/// Methods A and B of per-prompt records paired on the same prompts and seeds: the interval of
/// the headline difference A − B (computed per seed, averaged over the drawn seeds) and the
/// probability of improvement P(A > B) on per-prompt judge preferences. A one-seed interval is
/// widened by the seed spread of `boot.reference` when it has one ([`stats::spread`]).
pub fn headline_diff(boot: &Bootstrap, r: &Records, a: &str, b: &str, h: Headline) -> Result<(Interval, f64)> {
    let (pref, dlen) = (r.metric("preference")?, r.metric("delta_len")?);
    let stat = |cs: Strengths| {
        move |d: &Draw<'_, Pair>| {
            d.per_seed(|items| {
                let seed = items[0].seed;
                h.value(items.iter().map(|u| (u.a[pref], u.a[dlen])), &cs, a, seed) - h.value(items.iter().map(|u| (u.b[pref], u.b[dlen])), &cs, b, seed)
            })
        }
    };
    let p = paired(r, a, b)?;
    let mut iv = boot.interval(&Design::new(&p.pairs)?, stat(h.strengths(r, &[a, b])?))?;
    if let Some(reference) = &boot.reference {
        let rp = paired(reference, a, b)?;
        iv = boot.widen(iv, &Design::new(&rp.pairs)?, stat(h.strengths(reference, &[a, b])?))?;
    }
    Ok((iv, probability_of_improvement(&p, "preference", true)?))
}

/// The interval of the paired mean difference A − B of one per-prompt metric, with P(A > B)
/// (widened by `boot.reference` as [`headline_diff`], inside [`Bootstrap::mean_diff`]).
pub fn mean_diff(boot: &Bootstrap, r: &Records, a: &str, b: &str, metric: &str) -> Result<(Interval, f64)> {
    let p = paired(r, a, b)?;
    Ok((boot.mean_diff(&p, metric)?, probability_of_improvement(&p, metric, true)?))
}

/// One model's numbers with their intervals, named `<prefix>/<method>/<column>`: oracle score,
/// judge WR %, LC WR % (refitted per replicate, when the headline is LC) and average length.
pub fn push_numbers(n: &mut Numbers, boot: &Bootstrap, r: &Records, method: &str, prefix: &str, h: Headline) -> Result<()> {
    let col = |name: &str| r.metric(name);
    let (oracle, pref, len, dlen) = (col("oracle")?, col("preference")?, col("length")?, col("delta_len")?);
    let lc = |cs: Strengths| move |x: &Draw<'_, &Record>| x.per_seed(|items| h.value(items.iter().map(|u| (u.values[pref], u.values[dlen])), &cs, method, items[0].seed));
    let rows = r.of(method)?;
    let d = Design::new(&rows)?;
    let reference_rows = boot.reference.as_ref().map(|x| x.of(method)).transpose()?;
    let reference = reference_rows.as_ref().map(|rows| Design::new(rows)).transpose()?;
    // The interval of one column, widened by the reference's seed spread when there is one.
    let interval = |stat: &(dyn Fn(&Draw<'_, &Record>) -> f64 + Sync)| -> Result<Interval> {
        let iv = boot.interval(&d, |x| stat(x))?;
        Ok(match &reference {
            Some(rd) => boot.widen(iv, rd, |x| stat(x))?,
            None => iv,
        })
    };
    n.push(format!("{prefix}/{method}/oracle"), &interval(&|x| x.mean(|u| u.values[oracle]))?)?;
    n.push(format!("{prefix}/{method}/judge WR %"), &interval(&|x| 100.0 * x.mean(|u| u.values[pref]))?)?;
    if h.lc {
        let iv = boot.interval(&d, lc(h.strengths(r, &[method])?))?;
        let iv = match (&reference, &boot.reference) {
            (Some(rd), Some(all)) => boot.widen(iv, rd, lc(h.strengths(all, &[method])?))?,
            _ => iv,
        };
        n.push(format!("{prefix}/{method}/LC WR %"), &iv)?;
    }
    n.push(format!("{prefix}/{method}/avg len"), &interval(&|x| x.mean(|u| u.values[len]))?)?;
    Ok(())
}

/// Mean and standard error (sample standard deviation / sqrt(n)).
pub fn mean_and_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (m, f64::NAN);
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lc_at_the_chosen_strength_equals_the_table_value() {
        // 60 prompts: preferences that fall with the response's extra length.
        let delta: Vec<f64> = (0..60).map(|i| ((i * 37) % 23) as f64 - 11.0).collect();
        let prefs: Vec<f64> = delta.iter().enumerate().map(|(i, d)| (0.5 + 0.02 * d + 0.1 * ((i % 5) as f64 - 2.0) / 2.0).clamp(0.01, 0.99)).collect();
        let lc = length_controlled_win_rate(&prefs, &delta).unwrap().0;
        let c = lc_strength(&prefs, &delta).unwrap();
        let again = lc_at(prefs.iter().copied().zip(delta.iter().copied()), c);
        assert!((lc - again).abs() < 1e-9, "{lc} vs {again}");
    }

    #[test]
    fn per_prompt_records_and_a_headline_difference() {
        let row = |shift: f64| {
            let prefs: Vec<f64> = (0..40).map(|i| (0.4 + shift + 0.01 * (i % 7) as f64).clamp(0.0, 1.0)).collect();
            EvalRow {
                model: "m".into(),
                oracle: 0.0,
                accuracy: 0.0,
                win_rate: 0.0,
                win_rate_se: 0.0,
                lc_win_rate: None,
                lc_win_rate_se: None,
                avg_len: 0.0,
                oracle_scores: vec![0.5; 40],
                lengths: (0..40).map(|i| 10.0 + (i % 3) as f64).collect(),
                delta_len: (0..40).map(|i| (i % 3) as f64 - 1.0).collect(),
                preferences: prefs,
            }
        };
        let mut r = Records::new(&PER_PROMPT_METRICS);
        row(0.2).push_records(&mut r, 0, "A").unwrap();
        row(0.0).push_records(&mut r, 0, "B").unwrap();
        assert_eq!(r.rows.len(), 80);
        let boot = Bootstrap::default();
        let (iv, p) = headline_diff(&boot, &r, "A", "B", Headline { lc: false }).unwrap();
        assert!((iv.estimate - 20.0).abs() < 1e-9 && iv.lo > 0.0 && p == 1.0, "{iv:?} {p}");
        let (iv, _) = headline_diff(&boot, &r, "A", "B", Headline { lc: true }).unwrap();
        assert!(iv.lo > 0.0, "{iv:?}");
        let mut n = Numbers::new();
        push_numbers(&mut n, &boot, &r, "A", "t", Headline { lc: true }).unwrap();
        assert_eq!(n.rows.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(), ["t/A/oracle", "t/A/judge WR %", "t/A/LC WR %", "t/A/avg len"]);
        let mut wrong = Records::new(&["v"]);
        assert!(row(0.0).push_records(&mut wrong, 0, "A").is_err());
    }
}
