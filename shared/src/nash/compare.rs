//! The Nash family side by side: SPPO, DNO, INPO and the iterative DPO/IPO baselines, from the
//! same `π_0`, on the same evaluation prompts, judged by the same nash-mini preference. No paper
//! has this table: each compares itself with its own baselines only.
//!
//! Nothing is trained here. The three crates already evaluate every iterate on the harness's
//! evaluation split against `π_0`'s samples and keep the per-prompt values
//! (`results/<paper>/iterations.per_prompt.csv`); because the harness is one definition, a seed
//! gives the same world, the same `π_0` and the same evaluation prompts in all three. This module
//! checks that (the `π_0` records of the three files must be identical, unit by unit), puts the
//! chosen iterates into one set of records and compares them paired over prompts and seeds.
//!
//! What differs between the rows is only what each method trains on (its recipe and labels),
//! which is the point of the comparison. Run it with `cargo xtask compare nash` after
//! `cargo xtask reproduce {sppo,dno,inpo} --seeds 3`.

use super::tables::{ci_cell, iter_name, BASE, ITER_METRICS};
use crate::error::{Error, Result};
use crate::plot::{self, Curve, Estimate, Labels};
use crate::report::{Cell, Table};
use stats::{paired, probability_of_improvement, Bootstrap, Numbers, Records};
use std::collections::BTreeMap;
use std::path::Path;

/// One row of the comparison: a method as one paper's crate ran it.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// The crate whose `results/<paper>/` holds its records.
    pub paper: &'static str,
    /// Its name in those records (without ` Iter<t>`).
    pub method: &'static str,
    /// Its name in the comparison.
    pub label: &'static str,
    /// What it trains on, in a few words.
    pub trained_on: &'static str,
}

/// The rows: each paper's own method, and the iterative DPO/IPO baselines as each paper builds
/// their pairs (the same loss on different pairs).
pub const ENTRIES: &[Entry] = &[
    Entry { paper: "sppo", method: "SPPO", label: "SPPO", trained_on: "soft win probabilities P-hat among K samples (square loss)" },
    Entry { paper: "dno", method: "DNO", label: "DNO", trained_on: "large-margin pairs among samples and the teacher's answer (contrastive, vs pi_t)" },
    Entry { paper: "inpo", method: "INPO (PM)", label: "INPO (PM)", trained_on: "tournament-labelled pairs (OMD square loss, KL to pi_0 and pi_t)" },
    Entry { paper: "sppo", method: "DPO", label: "Iterative DPO (SPPO's pairs)", trained_on: "best/worst of K by P-hat (DPO, reference pi_t)" },
    Entry { paper: "sppo", method: "IPO", label: "Iterative IPO (SPPO's pairs)", trained_on: "best/worst of K by P-hat (IPO, reference pi_t)" },
    Entry { paper: "dno", method: "Iterative DPO", label: "Iterative DPO (DNO's pairs)", trained_on: "DNO's annotated pairs without the teacher (DPO, reference pi_t)" },
    Entry { paper: "inpo", method: "Iterative DPO", label: "Iterative DPO (INPO's pairs)", trained_on: "INPO's tournament pairs (DPO, reference pi_t)" },
];

/// The comparison's records and what they were built from.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// `pi_0` once, then every entry's iterates as `<label> Iter<t>`.
    pub records: Records,
    pub entries: Vec<Entry>,
    /// Iterations every entry has (1..=iterations).
    pub iterations: usize,
    pub seeds: Vec<u64>,
}

fn load_paper(results: &Path, paper: &str) -> Result<Records> {
    let dir = results.join(paper);
    let r = Records::load(&dir, "iterations").map_err(|e| Error::invalid(format!("{}/iterations.per_prompt.csv", dir.display()), format!("{e}; run `cargo xtask reproduce {paper} --seeds 3` first (the comparison reads its committed records)")))?;
    if r.metrics != ITER_METRICS {
        return Err(Error::invalid(format!("{}/iterations.per_prompt.csv", dir.display()), format!("metrics {:?}, expected {:?} (records from another version of the harness?)", r.metrics, ITER_METRICS)));
    }
    Ok(r)
}

/// `pi_0`'s records of one paper, sorted by unit.
fn base_units(r: &Records) -> Result<Vec<(u64, String, u32, Vec<f64>)>> {
    let mut v: Vec<_> = r.of(BASE)?.into_iter().map(|x| (x.seed, x.prompt.clone(), x.sample, x.values.clone())).collect();
    v.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    Ok(v)
}

/// The last iteration `t` with records `<method> Iter<t>`.
fn last_iteration(r: &Records, method: &str) -> Option<usize> {
    let prefix = format!("{method} Iter");
    r.methods().iter().filter_map(|m| m.strip_prefix(&prefix)?.parse::<usize>().ok()).max()
}

/// Build the comparison from each paper's records (by slug). Errors name the paper and what is
/// wrong: a missing file, a different `pi_0` (other seeds, another world or harness config), a
/// missing method or a different number of iterations.
pub fn build(by_paper: &BTreeMap<String, Records>, entries: &[Entry]) -> Result<Comparison> {
    let what = "nash comparison";
    let first = entries.first().ok_or_else(|| Error::invalid(what, "no entries"))?;
    let get = |paper: &str| by_paper.get(paper).ok_or_else(|| Error::invalid(what, format!("no records of paper {paper:?}")));
    let reference = get(first.paper)?;
    let base = base_units(reference)?;
    for e in entries {
        let r = get(e.paper)?;
        if base_units(r)? != base {
            return Err(Error::invalid(
                what,
                format!("the pi_0 records of {} and {} differ: the runs do not share pi_0 and its evaluation samples (different seeds, world or harness config); rerun both with the committed configs and the same --seeds", first.paper, e.paper),
            ));
        }
    }
    let iterations = entries.iter().map(|e| last_iteration(get(e.paper).unwrap(), e.method).ok_or_else(|| Error::invalid(what, format!("results/{} has no iterates of {:?}", e.paper, e.method)))).collect::<Result<Vec<_>>>()?;
    let t_max = *iterations.iter().min().unwrap();
    if iterations.iter().any(|&t| t != t_max) {
        return Err(Error::invalid(what, format!("the methods ran different numbers of iterations ({:?}); compare runs of the same length", entries.iter().zip(&iterations).map(|(e, t)| format!("{}: {t}", e.label)).collect::<Vec<_>>())));
    }
    let mut records = Records::new(&ITER_METRICS);
    for r in reference.of(BASE)? {
        records.push(r.seed, BASE, r.prompt.clone(), r.sample, &r.values)?;
    }
    for e in entries {
        let src = get(e.paper)?;
        for t in 1..=t_max {
            for r in src.of(&iter_name(e.method, t))? {
                records.push(r.seed, &iter_name(e.label, t), r.prompt.clone(), r.sample, &r.values)?;
            }
        }
    }
    records.validate()?;
    let seeds = records.seeds();
    Ok(Comparison { records, entries: entries.to_vec(), iterations: t_max, seeds })
}

/// Load the three papers' committed records from `results/` and build the comparison.
pub fn load(results: &Path) -> Result<Comparison> {
    let mut by_paper = BTreeMap::new();
    for e in ENTRIES {
        if !by_paper.contains_key(e.paper) {
            by_paper.insert(e.paper.to_string(), load_paper(results, e.paper)?);
        }
    }
    build(&by_paper, ENTRIES)
}

fn pct(iv: &stats::Interval) -> Cell {
    ci_cell(100.0 * iv.estimate, 100.0 * iv.lo, 100.0 * iv.hi, 1)
}

impl Comparison {
    fn last(&self, e: &Entry) -> String {
        iter_name(e.label, self.iterations)
    }

    /// Every entry at the last iteration: win rate against `pi_0` and against the previous
    /// iterate with intervals, quality, length, KL.
    pub fn summary(&self, boot: &Bootstrap) -> Result<Table> {
        let mut t = Table::new(
            format!("The Nash family side by side after {} iterations (nash-mini; same pi_0, prompts and preference)", self.iterations),
            &["method", "crate", "trains on", "WR vs pi_0 % [95% CI]", "WR vs previous iterate % [95% CI]", "quality q", "length", "KL(pi_t || pi_0)"],
        );
        let r = &self.records;
        let mean = |name: &str, m: &str| -> Result<f64> { Ok(boot.mean_of(r, name, m)?.estimate) };
        t.push(vec![BASE.into(), Cell::Missing, Cell::text("(the SFT model every method starts from)"), Cell::num(50.0, 1), Cell::Missing, Cell::num(mean(BASE, "q")?, 3), Cell::num(mean(BASE, "len")?, 1), Cell::num(0.0, 2)]);
        for e in &self.entries {
            let n = self.last(e);
            t.push(vec![
                e.label.into(),
                e.paper.into(),
                e.trained_on.into(),
                pct(&boot.mean_of(r, &n, "wr_base")?),
                pct(&boot.mean_of(r, &n, "wr_prev")?),
                Cell::num(mean(&n, "q")?, 3),
                Cell::num(mean(&n, "len")?, 1),
                Cell::num(mean(&n, "kl")?, 2),
            ]);
        }
        t.note(format!("Seeds: {}; WR: mean P(y_t > y_0) under the nash-mini preference over evaluation prompts and samples, 95% interval by the seed-stratified bootstrap over prompts and seeds.", stats::seeds::describe(&self.seeds)));
        t.note("Recomputed from results/{sppo,dno,inpo}/iterations.per_prompt.csv (no training); the pi_0 records of the three runs are checked identical unit by unit, so every row starts from the same model and is scored on the same samples of pi_0.");
        Ok(t)
    }

    /// Every ordered pair at the last iteration: the paired difference of the win rate against
    /// `pi_0` (row − column, points) with its interval and P(row > column).
    pub fn pairwise(&self, boot: &Bootstrap) -> Result<Table> {
        let mut cols = vec!["row − column"];
        cols.extend(self.entries.iter().map(|e| e.label));
        let mut t = Table::new(format!("Paired differences of WR vs pi_0 after {} iterations: row − column, points [95% CI], and P(row > column)", self.iterations), &cols);
        for a in &self.entries {
            let mut row = vec![Cell::text(a.label)];
            for b in &self.entries {
                if a.label == b.label {
                    row.push(Cell::Missing);
                    continue;
                }
                let p = paired(&self.records, &self.last(a), &self.last(b))?;
                let iv = boot.mean_diff(&p, "wr_base")?;
                let pi = probability_of_improvement(&p, "wr_base", true)?;
                let mark = if iv.lo > 0.0 || iv.hi < 0.0 { " *" } else { "" };
                row.push(Cell::text(format!("{:+.1} [{:+.1}, {:+.1}]{mark} P={pi:.2}", 100.0 * iv.estimate, 100.0 * iv.lo, 100.0 * iv.hi)));
            }
            t.push(row);
        }
        t.note("*: the 95% interval (seed-stratified bootstrap over prompts and seeds, paired by seed, prompt and sample) excludes zero. P: probability of improvement over prompts (Agarwal et al. 2021).");
        Ok(t)
    }

    /// Win rate against `pi_0` over iterations, per entry, with 95% bands.
    pub fn curves(&self, boot: &Bootstrap) -> Result<String> {
        let mut series = vec![];
        for e in &self.entries {
            let mut points = vec![(0.0, Estimate::point(50.0))];
            for t in 1..=self.iterations {
                let iv = boot.mean_of(&self.records, &iter_name(e.label, t), "wr_base")?;
                points.push((t as f64, Estimate::with_interval(100.0 * iv.estimate, 100.0 * iv.lo, 100.0 * iv.hi)));
            }
            series.push(Curve { name: e.label.to_string(), points });
        }
        plot::curves(&Labels { title: "Nash family on nash-mini: win rate against pi_0 per iteration (95% bands over prompts and seeds)", x: "iteration", y: "WR vs pi_0 (%)" }, &series)
    }

    /// Every number with its interval (`numbers.csv`): `<label> Iter<t>/<metric>` and
    /// `<a> − <b>/wr_base` at the last iteration.
    pub fn numbers(&self, boot: &Bootstrap) -> Result<Numbers> {
        let mut n = Numbers::new();
        for name in self.records.methods() {
            for m in ITER_METRICS {
                if name == BASE && matches!(m, "wr_base" | "wr_prev" | "kl") {
                    continue;
                }
                n.push(format!("{name}/{m}"), &boot.mean_of(&self.records, &name, m)?)?;
            }
        }
        for (i, a) in self.entries.iter().enumerate() {
            for b in &self.entries[i + 1..] {
                let p = paired(&self.records, &self.last(a), &self.last(b))?;
                n.push(format!("{} − {}/wr_base", self.last(a), self.last(b)), &boot.mean_diff(&p, "wr_base")?)?;
            }
        }
        Ok(n)
    }

    /// Write `compare.{md,csv}`, `pairwise.{md,csv}`, `wr_iterations.svg` and `numbers.csv`
    /// into `out` (each file atomically).
    pub fn save(&self, out: &Path) -> Result<()> {
        let boot = Bootstrap::default();
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        self.summary(&boot)?.save(out, "compare")?;
        self.pairwise(&boot)?.save(out, "pairwise")?;
        plot::save_svg(&out.join("wr_iterations.svg"), &self.curves(&boot)?)?;
        self.numbers(&boot)?.save(out)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(base_q: f64, methods: &[(&str, usize, f64)]) -> Records {
        let mut r = Records::new(&ITER_METRICS);
        for seed in 0..2u64 {
            for p in 0..4 {
                for k in 0..2u32 {
                    r.push(seed, BASE, p.to_string(), k, &[0.5, 0.5, base_q, 10.0, 0.0]).unwrap();
                    for (m, iters, wr) in methods {
                        for t in 1..=*iters {
                            let w = wr + 0.01 * (p as f64) + 0.001 * t as f64;
                            r.push(seed, &iter_name(m, t), p.to_string(), k, &[w, 0.5, 0.4, 12.0, 0.1]).unwrap();
                        }
                    }
                }
            }
        }
        r
    }

    const TWO: &[Entry] = &[
        Entry { paper: "a", method: "A", label: "A (a)", trained_on: "x" },
        Entry { paper: "b", method: "B", label: "B (b)", trained_on: "y" },
    ];

    #[test]
    fn pairs_methods_across_papers_on_the_shared_base() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), paper(0.3, &[("A", 2, 0.6)]));
        m.insert("b".to_string(), paper(0.3, &[("B", 2, 0.55)]));
        let c = build(&m, TWO).unwrap();
        assert_eq!(c.iterations, 2);
        assert_eq!(c.seeds, vec![0, 1]);
        let p = paired(&c.records, "A (a) Iter2", "B (b) Iter2").unwrap();
        assert!((p.mean_diff("wr_base").unwrap() - 0.05).abs() < 1e-12);
        let boot = Bootstrap { replicates: 200, ..Bootstrap::default() };
        let md = c.pairwise(&boot).unwrap().to_markdown();
        assert!(md.contains("+5.0 [+5.0, +5.0] * P=1.00"), "{md}");
        assert!(c.curves(&boot).unwrap().contains("<svg"));
    }

    #[test]
    fn refuses_runs_that_do_not_share_pi_0_or_length() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), paper(0.3, &[("A", 2, 0.6)]));
        m.insert("b".to_string(), paper(0.31, &[("B", 2, 0.55)]));
        let e = build(&m, TWO).unwrap_err().to_string();
        assert!(e.contains("pi_0 records of a and b differ"), "{e}");
        m.insert("b".to_string(), paper(0.3, &[("B", 3, 0.55)]));
        let e = build(&m, TWO).unwrap_err().to_string();
        assert!(e.contains("different numbers of iterations"), "{e}");
        m.insert("b".to_string(), paper(0.3, &[("C", 2, 0.55)]));
        let e = build(&m, TWO).unwrap_err().to_string();
        assert!(e.contains("no iterates of \"B\""), "{e}");
    }

    #[test]
    fn a_missing_results_folder_names_the_command_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("cargo xtask reproduce sppo --seeds 3"), "{e}");
    }
}
