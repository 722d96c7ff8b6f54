//! A one-seed interval widened by the spread between seeds measured in a committed run.
//!
//! A run of one seed trains one model per method; its bootstrap resamples prompts and samples
//! of that model and cannot see what a second seed, or another CPU's rounding, would have
//! trained. In the variance-components picture of the crate doc (the difference on seed s,
//! prompt p is `mu + a_s + b_p + e_sp`), the one-seed interval covers `b` and `e` but not `a`.
//! When `var_a` is not small against the prompt terms, two one-seed runs on two machines land
//! on either side of a threshold and their verdicts differ, although each interval was right
//! about its own run.
//!
//! The committed snapshot pools several seeds on the same prompts, so it measures that term: the
//! statistic evaluated on each committed seed alone (no resampling) varies between seeds by
//! `var_a + var_e / n` (the prompt term cancels, the prompts being shared). Its sample standard
//! deviation `s` is added in quadrature to each side of the one-seed percentile interval:
//!
//! ```text
//! lo' = θ̂ − sqrt((θ̂ − lo)² + (z·s)²)        hi' = θ̂ + sqrt((hi − θ̂)² + (z·s)²)
//! ```
//!
//! with `z` the normal quantile of the interval's level (1.96 for 95%), and the standard error
//! `sqrt(se² + s²)`. With k committed seeds `s` has only k − 1 degrees of freedom (two, for three
//! seeds), so both sides are then scaled by `t_ν / z`, the Student quantile at the
//! Welch–Satterthwaite degrees of freedom `ν = (se² + s²)² / (s⁴ / (k − 1))` (the prompt term
//! counted as known): `t_ν → z` when the seed term is small against the prompt noise, and the
//! seed term is multiplied by `t_{k−1}` (4.30 for three seeds) when it dominates. Without that
//! correction, intervals widened by a 3-seed `s` cover 86.5% where 95% is claimed; with it, 92%
//! (`tests`, a world whose seed spread dominates the prompt noise).
//! This counts `var_e / n` twice (conservative). What it buys is that a claim whose estimate moves
//! between seeds by more than its prompt noise is called inconclusive by a one-seed run instead of
//! held on one machine and not on another.
//!
//! Only a one-seed interval is widened: a run of several seeds has its own seed level in the
//! bootstrap. [`Bootstrap::widen`] does it for any statistic; the reference is
//! [`Bootstrap::reference`], which [`check_reference`] validates against the run first.

use crate::bootstrap::{Bootstrap, Design, Draw, Interval, Unit};
use crate::error::{Error, Result};
use crate::paired::{paired, Pair};
use crate::records::{Record, Records};
use crate::verdict::normal_quantile;
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::BTreeSet;

/// The sample standard deviation (n − 1) of per-seed estimates; `None` for fewer than two.
pub fn seed_sd(per_seed: &[f64]) -> Option<f64> {
    if per_seed.len() < 2 {
        return None;
    }
    let n = per_seed.len() as f64;
    let mean = per_seed.iter().sum::<f64>() / n;
    Some((per_seed.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

impl Interval {
    /// This interval with a between-seed standard deviation `sd`, estimated from `seeds` seeds,
    /// added in quadrature to each side (and to the standard error) at the interval's own level,
    /// both sides scaled by `t_ν / z` (Welch–Satterthwaite, the module doc).
    pub fn widened(&self, sd: f64, seeds: usize) -> Interval {
        if sd == 0.0 || seeds < 2 {
            return self.clone();
        }
        let p = 1.0 - (1.0 - self.level) / 2.0;
        let z = normal_quantile(p);
        let var = self.se.powi(2) + sd.powi(2);
        let nu = var.powi(2) / (sd.powi(4) / (seeds - 1) as f64);
        // Beyond 10⁶ degrees of freedom t and z agree to 10⁻⁶ (and statrs' inverse is slow there).
        let t = if nu > 1e6 { z } else { StudentsT::new(0.0, 1.0, nu).map(|d| d.inverse_cdf(p)).unwrap_or(z).max(z) };
        let side = |d: f64| t / z * (d.max(0.0).powi(2) + (z * sd).powi(2)).sqrt();
        Interval { lo: self.estimate - side(self.estimate - self.lo), hi: self.estimate + side(self.hi - self.estimate), se: var.sqrt(), ..self.clone() }
    }
}

impl Bootstrap {
    /// `iv`, computed from one seed, widened by the spread of the same statistic between the
    /// seeds of `reference` (each seed evaluated alone, no resampling). Unchanged when `iv` pools
    /// several seeds or the reference has fewer than two.
    pub fn widen<'b, T: Unit>(&self, iv: Interval, reference: &Design<'b, T>, stat: impl Fn(&Draw<'b, T>) -> f64) -> Result<Interval> {
        if iv.seeds.len() != 1 {
            return Ok(iv);
        }
        let per_seed: Vec<f64> = (0..reference.seeds().len()).map(|i| stat(&reference.seed_draw(i))).collect();
        if let Some(bad) = per_seed.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid("seed spread", format!("the statistic is {} on reference seed {}", per_seed[bad], reference.seeds()[bad])));
        }
        Ok(match seed_sd(&per_seed) {
            Some(sd) => iv.widened(sd, per_seed.len()),
            None => iv,
        })
    }
}

impl Bootstrap {
    /// Interval of any statistic of the rows of `records` that `keep` selects; a one-seed
    /// interval is widened by the same statistic on the same selection of the reference, seed by
    /// seed. [`check_reference`] has made sure the reference has the run's metric columns, so
    /// `stat` may read `values` by position.
    pub fn rows_interval(&self, records: &Records, keep: impl Fn(&Record) -> bool, stat: impl for<'a, 'b> Fn(&Draw<'a, &'b Record>) -> f64 + Sync) -> Result<Interval> {
        let rows: Vec<&Record> = records.rows.iter().filter(|r| keep(r)).collect();
        let iv = self.interval(&Design::new(&rows)?, &stat)?;
        match &self.reference {
            Some(r) => {
                let rrows: Vec<&Record> = r.rows.iter().filter(|x| keep(x)).collect();
                if rrows.is_empty() {
                    return Err(Error::invalid("seed spread", "the reference has none of the rows this statistic reads"));
                }
                self.widen(iv, &Design::new(&rrows)?, &stat)
            }
            None => Ok(iv),
        }
    }

    /// Interval of any statistic of methods `a` and `b` paired unit by unit (`Pair::diff` reads
    /// a metric by position), widened like [`Bootstrap::rows_interval`].
    pub fn paired_interval(&self, records: &Records, a: &str, b: &str, stat: impl for<'x> Fn(&Draw<'x, Pair>) -> f64 + Sync) -> Result<Interval> {
        let p = paired(records, a, b)?;
        let iv = self.interval(&Design::new(&p.pairs)?, &stat)?;
        match &self.reference {
            Some(r) => {
                let rp = paired(r, a, b)?;
                self.widen(iv, &Design::new(&rp.pairs)?, &stat)
            }
            None => Ok(iv),
        }
    }
}

/// Whether `reference` can widen the intervals of `run`: it must pool at least two seeds, hold
/// every method of the run, and hold every prompt id of the run. When its seeds answer the same
/// prompts (the miniature's evaluations) the prompt term cancels between seeds; when each seed
/// answers its own prompts (training pairs drawn per seed), the spread between seeds also counts
/// the prompt noise, which the one-seed interval already has: wider than needed, never narrower.
/// `Ok` carries the reference's seeds; `Err` says why not, for the run to print.
pub fn check_reference(run: &Records, reference: &Records) -> std::result::Result<Vec<u64>, String> {
    let seeds = reference.seeds();
    if seeds.len() < 2 {
        return Err(format!("it holds {} seed(s); the spread between seeds needs at least two", seeds.len()));
    }
    if reference.metrics != run.metrics {
        return Err(format!("its metric columns {:?} are not this run's {:?}", reference.metrics, run.metrics));
    }
    let have: BTreeSet<String> = reference.methods().into_iter().collect();
    let missing: Vec<String> = run.methods().into_iter().filter(|m| !have.contains(m)).collect();
    if !missing.is_empty() {
        return Err(format!("it lacks the method(s) {}", missing.join(", ")));
    }
    let prompts = |r: &Records| r.rows.iter().map(|x| x.prompt.clone()).collect::<BTreeSet<_>>();
    let (a, b) = (prompts(run), prompts(reference));
    if !a.is_subset(&b) {
        return Err(format!("it lacks {} of this run's {} prompt ids", a.difference(&b).count(), a.len()));
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{decide, Direction, Verdict};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Seeds `seeds` of a world where A − B on (s, p) is `mu + sd_seed·a_s + b_p + 0.5·e_sp`,
    /// with the prompt effects `b` fixed by `prompts_rng` (the same prompts in every run).
    fn simulate(rng: &mut ChaCha8Rng, b: &[f64], seeds: std::ops::Range<u64>, mu: f64, sd_seed: f64) -> Records {
        let mut r = Records::new(&["v"]);
        for s in seeds {
            let a = normal(rng);
            for (p, bp) in b.iter().enumerate() {
                let d = mu + sd_seed * a + bp + 0.5 * normal(rng);
                r.push(s, "A", p.to_string(), 0, &[d]).unwrap();
                r.push(s, "B", p.to_string(), 0, &[0.0]).unwrap();
            }
        }
        r
    }

    #[test]
    fn widening_adds_the_seed_term_in_quadrature() {
        let iv = Interval { estimate: 1.0, lo: 0.7, hi: 1.4, se: 0.18, level: 0.95, replicates: 2000, seeds: vec![0], prompts: 100, units: 100, scheme: crate::Scheme::Crossed };
        // se 0.18, s 0.2 from 3 seeds: ν = (0.0324 + 0.04)² / (0.0016 / 2) = 6.5522, t = 2.3978.
        let w = iv.widened(0.2, 3);
        let (z, t) = (1.959964, 2.397783);
        assert!((w.lo - (1.0 - t / z * (0.09f64 + (z * 0.2f64).powi(2)).sqrt())).abs() < 1e-4, "{w:?}");
        assert!((w.hi - (1.0 + t / z * (0.16f64 + (z * 0.2f64).powi(2)).sqrt())).abs() < 1e-4, "{w:?}");
        assert!((w.se - (0.18f64 * 0.18 + 0.04).sqrt()).abs() < 1e-12);
        assert_eq!(iv.widened(0.0, 3), iv);
        assert_eq!(iv.widened(0.2, 1), iv);
        // Many seeds: ν large, t → z, plain quadrature.
        let many = iv.widened(0.2, 10_000);
        assert!((many.hi - (1.0 + (0.16f64 + (z * 0.2f64).powi(2)).sqrt())).abs() < 1e-3, "{many:?}");
        assert_eq!(seed_sd(&[1.0]), None);
        assert!((seed_sd(&[1.0, 2.0, 3.0]).unwrap() - 1.0).abs() < 1e-12);
    }

    /// Two one-seed runs of a method whose true effect (0.15) is small against the seed spread
    /// (0.2): plain one-seed intervals give different verdicts in half the pairs of runs; widened
    /// by the spread of a 3-seed reference, in under a fifth of them (a true effect near the
    /// threshold keeps some pairs apart), and they cover the true effect nearly as often as they
    /// claim to.
    #[test]
    fn widened_one_seed_verdicts_agree_between_runs() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let boot = Bootstrap { replicates: 400, ..Bootstrap::default() };
        let (mu, sd_seed, prompts) = (0.15, 0.2, 150);
        let (trials, mut plain_differ, mut wide_differ, mut covered, mut wrong, mut covered_z) = (200, 0, 0, 0, 0, 0);
        let verdict = |iv: &Interval| decide(iv.lo, iv.hi, Direction::Greater, 0.0).unwrap();
        for _ in 0..trials {
            let b: Vec<f64> = (0..prompts).map(|_| normal(&mut rng)).collect();
            let reference = simulate(&mut rng, &b, 0..3, mu, sd_seed);
            let rp = paired(&reference, "A", "B").unwrap();
            let rd = Design::new(&rp.pairs).unwrap();
            let mut plain = vec![];
            let mut wide = vec![];
            for run in 0..2 {
                let r = simulate(&mut rng, &b, 10 + run..11 + run, mu, sd_seed);
                let p = paired(&r, "A", "B").unwrap();
                let iv = boot.mean_diff(&p, "v").unwrap();
                let w = boot.widen(iv.clone(), &rd, |d| d.mean(|x| x.diff(0))).unwrap();
                assert!(w.lo < iv.lo && w.hi > iv.hi);
                covered += (w.lo <= mu && mu <= w.hi) as usize;
                // The same widening without the small-sample correction (z for t).
                let sd = seed_sd(&(0..3).map(|i| rd.seed_draw(i).mean(|x| x.diff(0))).collect::<Vec<_>>()).unwrap();
                let wz = iv.widened(sd, usize::MAX);
                covered_z += (wz.lo <= mu && mu <= wz.hi) as usize;
                plain.push(verdict(&iv));
                wide.push(verdict(&w));
            }
            plain_differ += (plain[0] != plain[1]) as usize;
            wide_differ += (wide[0] != wide[1]) as usize;
            wrong += wide.iter().filter(|v| **v == Verdict::Contradicted).count();
        }
        eprintln!("plain verdicts differ in {plain_differ} of {trials} pairs, widened in {wide_differ}; coverage {covered} of {} (without the t correction {covered_z}); contradicted {wrong}", 2 * trials);
        // Measured: plain verdicts differ in 108 of 200 pairs of runs, widened in 30; coverage
        // 368 of 400 (92%), 346 (86.5%) without the t correction; 6 of 400 on the wrong side.
        assert!(plain_differ >= 15, "plain one-seed verdicts differ in {plain_differ} of {trials} pairs");
        assert!(wide_differ * 3 <= plain_differ, "widened: {wide_differ} vs plain {plain_differ} of {trials}");
        assert!(covered as f64 / (2 * trials) as f64 >= 0.9, "coverage {covered} of {}", 2 * trials);
        assert!(covered > covered_z, "the t correction must cover more: {covered} vs {covered_z}");
        assert!(wrong <= 8, "{wrong} widened one-seed intervals excluded zero on the wrong side");
    }

    #[test]
    fn a_run_of_several_seeds_is_not_widened_and_references_are_checked() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let b: Vec<f64> = (0..40).map(|_| normal(&mut rng)).collect();
        let reference = simulate(&mut rng, &b, 0..3, 0.1, 0.3);
        let run = simulate(&mut rng, &b, 5..7, 0.1, 0.3);
        let boot = Bootstrap { replicates: 200, ..Bootstrap::default() };
        let (rp, p) = (paired(&reference, "A", "B").unwrap(), paired(&run, "A", "B").unwrap());
        let iv = boot.mean_diff(&p, "v").unwrap();
        assert_eq!(boot.widen(iv.clone(), &Design::new(&rp.pairs).unwrap(), |d| d.mean(|x| x.diff(0))).unwrap(), iv);
        assert_eq!(check_reference(&run, &reference).unwrap(), vec![0, 1, 2]);
        let one = simulate(&mut rng, &b, 0..1, 0.1, 0.3);
        assert!(check_reference(&run, &one).unwrap_err().contains("1 seed(s)"));
        let fewer = simulate(&mut rng, &b[..30], 0..3, 0.1, 0.3);
        assert!(check_reference(&run, &fewer).unwrap_err().contains("lacks 10 of this run's 40 prompt ids"));
        // A run on a subset of the reference's prompts (a seed's own training prompts) is fine.
        let part = simulate(&mut rng, &b[..30], 5..6, 0.1, 0.3);
        assert_eq!(check_reference(&part, &reference).unwrap(), vec![0, 1, 2]);
        let mut more = run.clone();
        more.push(5, "C", "0", 0, &[0.0]).unwrap();
        assert!(check_reference(&more, &reference).unwrap_err().contains("lacks the method(s) C"));
        let mut cols = Records::new(&["w"]);
        cols.rows = run.rows.clone();
        assert!(check_reference(&cols, &reference).unwrap_err().contains("metric columns"));
    }

    /// Any statistic, not only means: a one-seed run's interval of a custom statistic (here the
    /// difference of two methods' means, unpaired, and a paired median) is widened by the same
    /// statistic on the reference's seeds, and equals the plain interval without a reference.
    #[test]
    fn custom_statistics_are_widened_like_means() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let b: Vec<f64> = (0..60).map(|_| normal(&mut rng)).collect();
        let reference = std::sync::Arc::new(simulate(&mut rng, &b, 0..3, 0.2, 0.4));
        let run = simulate(&mut rng, &b, 9..10, 0.2, 0.4);
        let plain = Bootstrap { replicates: 300, ..Bootstrap::default() };
        let wide = Bootstrap { reference: Some(reference.clone()), ..plain.clone() };
        let unpaired = |d: &Draw<'_, &Record>| {
            let of = |m: &str| {
                let v: Vec<f64> = d.items().filter(|r| r.method == m).map(|r| r.values[0]).collect();
                v.iter().sum::<f64>() / v.len() as f64
            };
            of("A") - of("B")
        };
        let p0 = plain.rows_interval(&run, |_| true, unpaired).unwrap();
        let w0 = wide.rows_interval(&run, |_| true, unpaired).unwrap();
        assert_eq!(p0.estimate, w0.estimate);
        assert!(w0.lo < p0.lo && w0.hi > p0.hi, "{p0:?} {w0:?}");
        let median = |d: &Draw<'_, Pair>| {
            let mut v: Vec<f64> = d.items().map(|x| x.diff(0)).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (p1, w1) = (plain.paired_interval(&run, "A", "B", median).unwrap(), wide.paired_interval(&run, "A", "B", median).unwrap());
        assert!(w1.lo < p1.lo && w1.hi > p1.hi, "{p1:?} {w1:?}");
        // The mean through paired_interval is mean_diff's interval.
        let p2 = wide.paired_interval(&run, "A", "B", |d| d.mean(|x| x.diff(0))).unwrap();
        assert_eq!(p2, wide.mean_diff(&paired(&run, "A", "B").unwrap(), "v").unwrap());
        // Selecting rows the reference lacks is an error, not a silent plain interval.
        let mut other = run.clone();
        other.push(9, "Z", "0", 0, &[1.0]).unwrap();
        assert!(wide.rows_interval(&other, |r| r.method == "Z", |d| d.mean(|r| r.values[0])).is_err());
    }
}
