//! The records every nash table and claim is computed from, over one or more seeds, and the
//! tables the three papers share.
//!
//! | records (`<table>.per_prompt.csv`) | method | prompt | sample | metrics |
//! |---|---|---|---|---|
//! | `iterations` | `pi_0`, `<method> Iter<t>` | evaluation prompt index | k | `wr_base, wr_prev, q, len, kl` |
//! | `pairs` | `<method> Iter<t>` | `s<seed>-t<t>-p<i>` (replayed: `-r<j>`) | pair | `d_w, d_l` |
//! | `data` | `<method> Iter<t>` | `s<seed>-p<i>` (position in the split) | 0 | the recipe's per-prompt values |
//! | `alpaca_mini` | `SFT (pi_0)`, `<method> Iter<T>` | benchmark prompt index | 0 | the mini AlpacaEval's |
//!
//! Evaluation prompts are the same in every seed (a crossed design); training prompts are drawn
//! per seed, so their ids carry the seed (a nested design).

use super::run::Outcome;
use crate::error::{Error, Result};
use crate::report::{Cell, Table};
use stats::{paired, probability_of_improvement, Bootstrap, Claims, Direction, Interval, Numbers, Records};

/// The metrics of the `iterations` records.
pub const ITER_METRICS: [&str; 5] = ["wr_base", "wr_prev", "q", "len", "kl"];
/// The metrics of the `pairs` records.
pub const PAIR_METRICS: [&str; 2] = ["d_w", "d_l"];
/// The name `π_0` has in the records.
pub const BASE: &str = "pi_0";

/// The records name of method `m` after iteration `t`.
pub fn iter_name(m: &str, t: usize) -> String {
    format!("{m} Iter{t}")
}

fn check_seeds(outs: &[Outcome]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for o in outs {
        if !seen.insert(o.seed) {
            return Err(Error::invalid("nash tables", format!("seed {} appears twice", o.seed)));
        }
    }
    Ok(())
}

/// Per evaluation sample of `π_0` and of every iterate.
pub fn iteration_records(outs: &[Outcome]) -> Result<Records> {
    check_seeds(outs)?;
    let mut r = Records::new(&ITER_METRICS);
    for o in outs {
        let mut push = |name: &str, s: &super::annotator::SampleValues, k: usize| -> Result<()> {
            for j in 0..s.q.len() {
                r.push(o.seed, name, (j / k).to_string(), (j % k) as u32, &[s.wr_base[j], s.wr_prev[j], s.q[j], s.len[j], s.kl[j]])?;
            }
            Ok(())
        };
        let k = o.samples_per_prompt.max(1);
        push(BASE, &o.base.samples, k)?;
        for m in &o.methods {
            for it in &m.iterations {
                push(&iter_name(&m.name, it.t), &it.eval.samples, k)?;
            }
        }
    }
    Ok(r)
}

/// Per training pair of every iterate.
pub fn pair_records(outs: &[Outcome]) -> Result<Records> {
    check_seeds(outs)?;
    let mut r = Records::new(&PAIR_METRICS);
    for o in outs {
        for m in &o.methods {
            for it in &m.iterations {
                let p = &it.eval.pairs;
                let mut count = std::collections::HashMap::<String, u32>::new();
                for (j, (dw, dl)) in p.d_w.iter().zip(&p.d_l).enumerate() {
                    let id = match p.source.get(j).copied().flatten() {
                        Some(i) => format!("s{}-t{}-p{i}", o.seed, it.t),
                        None => format!("s{}-t{}-r{j}", o.seed, it.t),
                    };
                    let c = count.entry(id.clone()).or_default();
                    r.push(o.seed, &iter_name(&m.name, it.t), id, *c, &[*dw, *dl])?;
                    *c += 1;
                }
            }
        }
    }
    Ok(r)
}

/// The recipes' per-prompt values (`metrics` in this order). An iteration whose recipe reports none
/// of them (another paper's method run beside it, e.g. SPPO in INPO's table) or leaves one
/// undefined (NaN) at some prompt (teacher scores of a method without a teacher) has no data
/// records; one that reports some but not all is an error. The prompt id is the prompt's position in its
/// split, `s<seed>-p<i>`, so that iteration 1 and iteration 3 of a method pair up position by
/// position: the splits are independent random draws, so the mean of the paired differences
/// estimates the difference of means, with the right variance.
pub fn data_records(outs: &[Outcome], metrics: &[&str]) -> Result<Records> {
    check_seeds(outs)?;
    let mut r = Records::new(metrics);
    for o in outs {
        for m in &o.methods {
            for it in &m.iterations {
                let reports = |values: &Vec<(String, f64)>| values.iter().any(|(n, _)| metrics.contains(&n.as_str()));
                let undefined = |values: &Vec<(String, f64)>| values.iter().any(|(n, x)| metrics.contains(&n.as_str()) && !x.is_finite());
                if !it.stats.per_prompt.iter().any(|(_, v)| reports(v)) || it.stats.per_prompt.iter().any(|(_, v)| undefined(v)) {
                    continue;
                }
                for (i, values) in &it.stats.per_prompt {
                    let v: Vec<f64> = metrics
                        .iter()
                        .map(|name| values.iter().find(|(n, _)| n == name).map(|(_, v)| *v).ok_or_else(|| Error::invalid(format!("{} iteration {}", m.name, it.t), format!("per-prompt value {name:?} missing"))))
                        .collect::<Result<_>>()?;
                    r.push(o.seed, &iter_name(&m.name, it.t), format!("s{}-p{i}", o.seed), 0, &v)?;
                }
            }
        }
    }
    Ok(r)
}

/// The mini AlpacaEval's per-prompt values of `π_0` and every final iterate.
pub fn alpaca_records(outs: &[Outcome]) -> Result<Records> {
    check_seeds(outs)?;
    let mut r = Records::new(&crate::world::alpaca::PER_PROMPT_METRICS);
    for o in outs {
        o.base_alpaca.push_records(&mut r, o.seed, &o.base_alpaca.model)?;
        for m in &o.methods {
            m.alpaca.push_records(&mut r, o.seed, &m.alpaca.model)?;
        }
    }
    Ok(r)
}

/// Mean over seeds of a per-seed value.
pub fn seed_mean(outs: &[Outcome], f: impl Fn(&Outcome) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = outs.iter().filter_map(f).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// `[lo, hi]` cell text of an interval.
pub fn interval_cell(iv: &Interval, decimals: usize) -> Cell {
    ci_cell(iv.estimate, iv.lo, iv.hi, decimals)
}

/// `estimate [lo, hi]` as a cell.
pub fn ci_cell(estimate: f64, lo: f64, hi: f64, decimals: usize) -> Cell {
    Cell::text(format!("{estimate:.decimals$} [{lo:.decimals$}, {hi:.decimals$}]"))
}

/// Every method after every iteration, over seeds: `WR_base` with its 95% interval, the other
/// evaluation means, the training pairs and what training did to them.
pub fn iterations_table(title: &str, outs: &[Outcome], r: &Records, boot: &Bootstrap) -> Result<Table> {
    let mut t = Table::new(title, &["method", "iter", "WR_base [95% CI]", "WR_prev", "q", "len", "KL", "pairs", "loss", "D_w", "D_l", "w up %", "l down %"]);
    let mean = |name: &str, metric: &str| -> Result<f64> { Ok(boot.mean_of(r, name, metric)?.estimate) };
    t.push(vec![BASE.into(), Cell::Int(0), Cell::num(0.5, 3), Cell::Missing, Cell::num(mean(BASE, "q")?, 3), Cell::num(mean(BASE, "len")?, 1), Cell::num(0.0, 2), Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing, Cell::Missing]);
    let Some(first) = outs.first() else { return Ok(t) };
    for m in &first.methods {
        for it in &m.iterations {
            let name = iter_name(&m.name, it.t);
            let per = |f: &dyn Fn(&super::run::Iteration) -> f64| seed_mean(outs, |o| o.method(&m.name).and_then(|x| x.iterations.iter().find(|i| i.t == it.t)).map(f));
            t.push(vec![
                m.name.clone().into(),
                Cell::Int(it.t as i64),
                interval_cell(&boot.mean_of(r, &name, "wr_base")?, 3),
                Cell::num(mean(&name, "wr_prev")?, 3),
                Cell::num(mean(&name, "q")?, 3),
                Cell::num(mean(&name, "len")?, 1),
                Cell::num(mean(&name, "kl")?, 2),
                Cell::opt(per(&|i| i.record.examples as f64), 0),
                Cell::opt(per(&|i| i.eval.train.mean_loss), 3),
                Cell::opt(per(&|i| i.eval.train.mean_d_w), 2),
                Cell::opt(per(&|i| i.eval.train.mean_d_l), 2),
                Cell::opt(per(&|i| 100.0 * i.eval.train.frac_w_up), 0),
                Cell::opt(per(&|i| 100.0 * i.eval.train.frac_l_down), 0),
            ]);
        }
    }
    t.note(format!("Seeds: {}. WR_base: mean over evaluation prompts and samples of P(y_t > y_0) under the nash-mini preference (an expected probability, no label noise), 95% interval by the seed-stratified bootstrap over prompts and seeds; WR_prev: the same against the previous iterate.", stats::seeds::describe(&outs.iter().map(|o| o.seed).collect::<Vec<_>>())));
    t.note("q: mean oracle score; len: mean response length (characters = tokens); KL: mean over y ~ pi_t of log pi_t(y|x) - log pi_0(y|x).");
    t.note("pairs: training examples of the iteration; D_w, D_l: after training, mean log pi_{t+1} - log pi_t of winner and loser on them; w up / l down: share with D_w > 0 / D_l < 0 (means over seeds).");
    Ok(t)
}

/// Every iterate's evaluation numbers with intervals (`numbers.csv`): `iterations/<name>/<metric>`.
pub fn push_iteration_numbers(n: &mut Numbers, boot: &Bootstrap, r: &Records) -> Result<()> {
    for name in r.methods() {
        for metric in ["wr_base", "wr_prev", "q", "len", "kl"] {
            if name == BASE && matches!(metric, "wr_base" | "wr_prev" | "kl") {
                continue;
            }
            n.push(format!("iterations/{name}/{metric}"), &boot.mean_of(r, &name, metric)?)?;
        }
    }
    Ok(())
}

/// A claim on one method's mean of `metric` against `threshold`.
#[allow(clippy::too_many_arguments)]
pub fn claim_mean(c: &mut Claims, boot: &Bootstrap, r: &Records, id: &str, statement: &str, method: &str, metric: &str, direction: Direction, threshold: f64) -> Result<Interval> {
    let iv = boot.mean_of(r, method, metric)?;
    c.interval(id, statement, &format!("mean {metric} of {method}"), direction, threshold, &iv)?;
    Ok(iv)
}

/// A claim on the paired mean difference `a − b` of `metric`, with P(A > B).
#[allow(clippy::too_many_arguments)]
pub fn claim_diff(c: &mut Claims, boot: &Bootstrap, r: &Records, id: &str, statement: &str, a: &str, b: &str, metric: &str, direction: Direction, threshold: f64) -> Result<Interval> {
    let p = paired(r, a, b)?;
    let iv = boot.mean_diff(&p, metric)?;
    let pi = probability_of_improvement(&p, metric, true)?;
    c.interval(id, statement, &format!("{metric}: {a} − {b} (paired)"), direction, threshold, &iv)?.p_improvement = Some(pi);
    Ok(iv)
}

/// The world's standard mini AlpacaEval of `π_0` and every final iterate over seeds: oracle
/// score, judge win rate and (when the headline is LC) LC win rate against the fixed baseline
/// with 95% intervals, and the average length.
pub fn alpaca_table(title: &str, outs: &[Outcome], r: &Records, boot: &Bootstrap) -> Result<Table> {
    use crate::world::alpaca::{push_numbers, Headline};
    let h = Headline::of(outs.iter().flat_map(|o| std::iter::once(&o.base_alpaca).chain(o.methods.iter().map(|m| &m.alpaca))));
    let mut t = Table::new(title, &["model", "oracle score", "judge WR % [95% CI]", "LC WR % [95% CI]", "avg length"]);
    for name in r.methods() {
        let mut n = Numbers::new();
        push_numbers(&mut n, boot, r, &name, "a", h)?;
        let get = |c: &str| n.get(&format!("a/{name}/{c}"));
        let ci = |c: &str| get(c).map(|x| ci_cell(x.estimate, x.lo.unwrap_or(f64::NAN), x.hi.unwrap_or(f64::NAN), 1)).unwrap_or(Cell::Missing);
        t.push(vec![name.clone().into(), Cell::opt(get("oracle").map(|x| x.estimate), 3), ci("judge WR %"), ci("LC WR %"), Cell::opt(get("avg len").map(|x| x.estimate), 1)]);
    }
    t.note("Judge WR: the world judge's mean preference for the model over the fixed baseline (a seeded partial oracle); LC WR: the length-controlled GLM of the real AlpacaEval (length and bias terms), refitted on every bootstrap replicate; one sample per prompt at the config's alpaca temperature.");
    t.note(format!("Seeds: {}; 95% intervals by the seed-stratified bootstrap over prompts and seeds.", stats::seeds::describe(&outs.iter().map(|o| o.seed).collect::<Vec<_>>())));
    Ok(t)
}

/// The mini AlpacaEval numbers of every row (`numbers.csv`: `alpaca_mini/<model>/<column>`).
pub fn push_alpaca_numbers(n: &mut Numbers, outs: &[Outcome], r: &Records, boot: &Bootstrap) -> Result<()> {
    use crate::world::alpaca::{push_numbers, Headline};
    let h = Headline::of(outs.iter().flat_map(|o| std::iter::once(&o.base_alpaca).chain(o.methods.iter().map(|m| &m.alpaca))));
    for name in r.methods() {
        push_numbers(n, boot, r, &name, "alpaca_mini", h)?;
    }
    Ok(())
}

/// A claim on the change of a share between two methods (or iterations) matched unit by unit:
/// `Σ num / Σ den` of `a` minus the same of `b`, e.g. the share of S≻T among new pairs. The
/// ratio of sums is recomputed on every bootstrap replicate; a one-seed interval is widened by
/// the seed spread of the same ratio when `boot` carries a reference (`paired_interval`).
#[allow(clippy::too_many_arguments)]
pub fn claim_share_change(c: &mut Claims, boot: &Bootstrap, r: &Records, id: &str, statement: &str, a: &str, b: &str, num: &str, den: &[&str], direction: Direction, threshold: f64) -> Result<Interval> {
    let n = r.metric(num)?;
    let d: Vec<usize> = den.iter().map(|m| r.metric(m)).collect::<stats::Result<_>>()?;
    let share = |draw: &stats::bootstrap::Draw<stats::paired::Pair>, side: fn(&stats::paired::Pair) -> &Vec<f64>| draw.mean(|x| side(x)[n]) / draw.mean(|x| d.iter().map(|&j| side(x)[j]).sum());
    let iv = boot.paired_interval(r, a, b, |draw| share(draw, |x| &x.a) - share(draw, |x| &x.b))?;
    c.interval(id, statement, &format!("{num} / ({}): {a} − {b} (ratio of sums)", den.join(" + ")), direction, threshold, &iv)?;
    Ok(iv)
}

/// The bootstraps of a Nash-family paper's three per-prompt tables (the iterates, the paper's own
/// data table, the mini AlpacaEval): each carries that table's seed-spread reference when a
/// one-seed run has one ([`RunInfo::bootstraps`](crate::report::RunInfo::bootstraps)), and is
/// `Bootstrap::default()` otherwise, so a run of several seeds is unchanged.
pub struct Boots {
    pub iterations: Bootstrap,
    pub data: Bootstrap,
    pub alpaca: Bootstrap,
}

impl Boots {
    /// The bootstraps of `iterations`, the data table saved as `data_name`, and `alpaca_mini`,
    /// and the notes to print under a one-seed run's claims (none for several seeds).
    pub fn of(info: &crate::report::RunInfo, iterations: &Records, (data_name, data): (&str, &Records), alpaca: &Records) -> Result<(Boots, Vec<String>)> {
        let ([iterations, data, alpaca], lines) = info.bootstraps([("iterations", iterations), (data_name, data), ("alpaca_mini", alpaca)])?;
        Ok((Boots { iterations, data, alpaca }, crate::report::distinct_notes(&lines)))
    }
}
