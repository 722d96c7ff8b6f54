//! The mini AlpacaEval: a fixed set of held-out prompts, a fixed baseline's outputs, and one row
//! per model: oracle score, accuracy, judge win rate against the baseline (with its standard
//! error), the length-controlled win rate, and average length (characters = tokens here).

use super::{Prompt, World};
use crate::error::{Error, Result};
use crate::report::{Cell, Table};
use rand::Rng;

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
}

impl EvalRow {
    /// The row's cells as every miniature table prints them: oracle score, accuracy %, judge
    /// WR % ± s.e., LC WR %, average length.
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
        for ((x, y), b) in self.prompts.iter().zip(outputs).zip(&self.baseline) {
            let g = world.oracle.grade(x, y);
            delta_len.push(b.chars().count() as f64 - g.length as f64);
            oracle += g.score;
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
