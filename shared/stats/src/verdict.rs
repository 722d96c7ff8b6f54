//! Verdicts: a claim is **held** when its interval excludes the threshold (0 for a difference) on
//! the paper's side, **contradicted** when it excludes it on the other side, else
//! **inconclusive**. Exact recomputations of published numbers are **reproduced** or **not
//! reproduced** (the recomputed value within a stated tolerance of the published one, or not).
//! Also: the smallest effect a design can detect, and the probability of improvement.

use crate::error::{Error, Result};
use crate::paired::Paired;
use std::collections::BTreeMap;

/// The paper's direction: the estimate should lie above (`Greater`) or below (`Less`) the
/// threshold; `Equal` marks an exact recomputation of a published value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Greater,
    Less,
    Equal,
}

impl Direction {
    pub fn symbol(self) -> &'static str {
        match self {
            Direction::Greater => ">",
            Direction::Less => "<",
            Direction::Equal => "=",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            ">" => Some(Direction::Greater),
            "<" => Some(Direction::Less),
            "=" => Some(Direction::Equal),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Held,
    Contradicted,
    Inconclusive,
    Reproduced,
    NotReproduced,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [Verdict::Held, Verdict::Contradicted, Verdict::Inconclusive, Verdict::Reproduced, Verdict::NotReproduced];
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Reproduced => "reproduced",
            Verdict::NotReproduced => "not reproduced",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Verdict::ALL.into_iter().find(|v| v.name() == s)
    }
    /// Whether the verdict comes from an interval (a statistical claim) or an exact check.
    pub fn is_exact(self) -> bool {
        matches!(self, Verdict::Reproduced | Verdict::NotReproduced)
    }
}

/// The verdict of a directional claim from its interval `[lo, hi]`. The boundary counts as not
/// excluded: `lo == threshold` is inconclusive.
pub fn decide(lo: f64, hi: f64, direction: Direction, threshold: f64) -> Result<Verdict> {
    if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
        return Err(Error::invalid("verdict", format!("interval [{lo}, {hi}] is not a finite interval")));
    }
    Ok(match direction {
        Direction::Greater if lo > threshold => Verdict::Held,
        Direction::Greater if hi < threshold => Verdict::Contradicted,
        Direction::Less if hi < threshold => Verdict::Held,
        Direction::Less if lo > threshold => Verdict::Contradicted,
        Direction::Equal => return Err(Error::invalid("verdict", "an exact claim is decided by `decide_exact`, not by an interval")),
        _ => Verdict::Inconclusive,
    })
}

/// The verdict of an exact recomputation: reproduced when `|estimate - reference| <= tolerance`
/// (a published value with d decimals is matched "to d decimals" with tolerance `0.5 * 10^-d`).
pub fn decide_exact(estimate: f64, reference: f64, tolerance: f64) -> Result<Verdict> {
    if !(estimate.is_finite() && reference.is_finite() && tolerance.is_finite() && tolerance >= 0.0) {
        return Err(Error::invalid("exact check", format!("estimate {estimate}, reference {reference}, tolerance {tolerance} must be finite (tolerance >= 0)")));
    }
    // The relative slack absorbs decimal representation (58.125 vs 58.12 + 0.005).
    let slack = 1e-12 * (1.0 + reference.abs());
    Ok(if (estimate - reference).abs() <= tolerance + slack { Verdict::Reproduced } else { Verdict::NotReproduced })
}

/// The standard normal quantile function (Acklam's rational approximation, relative error below
/// 1.2e-9 over (0, 1)).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "normal_quantile: p = {p} must lie in (0, 1)");
    const A: [f64; 6] = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The smallest true effect that a design with bootstrap standard error `se` detects (its
/// two-sided `level` interval excludes zero) with probability `power`:
/// `(z_{1-alpha/2} + z_power) * se`, alpha = 1 - level. For a 95% interval and 80% power,
/// 1.960 + 0.842 = 2.80 standard errors: an effect of that size puts the estimate's sampling
/// distribution 2.80 se from zero, and 80% of it lies beyond the 1.96 se that the interval needs.
/// (Normal approximation of the estimate; the bootstrap se stands in for its standard deviation.)
pub fn minimal_detectable_effect(se: f64, level: f64, power: f64) -> f64 {
    (normal_quantile(1.0 - (1.0 - level) / 2.0) + normal_quantile(power)) * se
}

/// Probability of improvement P(A > B) of Agarwal et al. (2021, sec. 4.3), with prompts in the
/// role of their tasks and (seed, sample) responses in the role of their runs: for each prompt,
/// the Mann–Whitney statistic over every pair of an A response and a B response of that prompt
/// (1 when A's value is higher, 1/2 on a tie, 0 when lower), then the mean over prompts. With one
/// seed and one sample per prompt it is the share of prompts where A beats B, ties counted half.
/// `higher_is_better = false` flips the comparison (e.g. for a length or a loss).
pub fn probability_of_improvement(p: &Paired, metric: &str, higher_is_better: bool) -> Result<f64> {
    let m = p.metric(metric)?;
    let mut by_prompt: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for pair in &p.pairs {
        let e = by_prompt.entry(pair.prompt.as_str()).or_default();
        e.0.push(pair.a[m]);
        e.1.push(pair.b[m]);
    }
    if by_prompt.is_empty() {
        return Err(Error::invalid(format!("P({} > {})", p.a, p.b), "no paired units"));
    }
    let mut total = 0.0;
    for (xa, xb) in by_prompt.values() {
        let mut s = 0.0;
        for a in xa {
            for b in xb {
                let (a, b) = if higher_is_better { (a, b) } else { (b, a) };
                s += if a > b { 1.0 } else if a == b { 0.5 } else { 0.0 };
            }
        }
        total += s / (xa.len() * xb.len()) as f64;
    }
    Ok(total / by_prompt.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paired::paired;
    use crate::records::Records;

    #[test]
    fn verdict_flips_exactly_at_the_boundary() {
        let g = Direction::Greater;
        assert_eq!(decide(1e-12, 2.0, g, 0.0).unwrap(), Verdict::Held);
        assert_eq!(decide(0.0, 2.0, g, 0.0).unwrap(), Verdict::Inconclusive);
        assert_eq!(decide(-1e-12, 2.0, g, 0.0).unwrap(), Verdict::Inconclusive);
        assert_eq!(decide(-2.0, -1e-12, g, 0.0).unwrap(), Verdict::Contradicted);
        assert_eq!(decide(-2.0, 0.0, g, 0.0).unwrap(), Verdict::Inconclusive);
        let l = Direction::Less;
        assert_eq!(decide(-2.0, -1e-12, l, 0.0).unwrap(), Verdict::Held);
        assert_eq!(decide(-2.0, 0.0, l, 0.0).unwrap(), Verdict::Inconclusive);
        assert_eq!(decide(1e-12, 2.0, l, 0.0).unwrap(), Verdict::Contradicted);
        // A threshold other than zero (a win rate against an even split).
        assert_eq!(decide(50.01, 53.0, g, 50.0).unwrap(), Verdict::Held);
        assert_eq!(decide(50.0, 53.0, g, 50.0).unwrap(), Verdict::Inconclusive);
        assert!(decide(1.0, 0.0, g, 0.0).is_err());
        assert!(decide(f64::NAN, 0.0, g, 0.0).is_err());
        assert!(decide(0.0, 1.0, Direction::Equal, 0.0).is_err());
    }

    #[test]
    fn exact_checks_at_the_tolerance() {
        assert_eq!(decide_exact(58.125, 58.12, 0.005).unwrap(), Verdict::Reproduced);
        assert_eq!(decide_exact(58.1251, 58.12, 0.005).unwrap(), Verdict::NotReproduced);
        assert_eq!(decide_exact(29.0, 29.0, 0.0).unwrap(), Verdict::Reproduced);
        assert_eq!(decide_exact(28.0, 29.0, 0.0).unwrap(), Verdict::NotReproduced);
        assert!(decide_exact(1.0, 1.0, -1.0).is_err());
    }

    #[test]
    fn names_round_trip() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::parse(v.name()), Some(v));
        }
        for d in [Direction::Greater, Direction::Less, Direction::Equal] {
            assert_eq!(Direction::parse(d.symbol()), Some(d));
        }
    }

    #[test]
    fn normal_quantiles_and_the_detectable_effect() {
        assert!((normal_quantile(0.975) - 1.959963985).abs() < 1e-8);
        assert!((normal_quantile(0.8) - 0.841621234).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090232306).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        let mde = minimal_detectable_effect(1.0, 0.95, 0.8);
        assert!((mde - 2.801585).abs() < 1e-5, "{mde}");
    }

    #[test]
    fn probability_of_improvement_follows_agarwal() {
        // Two prompts; on p1 two seeds each: A = {3, 1}, B = {2, 2} -> pairs (3>2, 3>2, 1<2, 1<2) = 2/4;
        // on p2 one seed: A = 5, B = 5 -> tie = 1/2. Mean over prompts: 0.5.
        let mut r = Records::new(&["v"]);
        for (s, a, b) in [(0, 3.0, 2.0), (1, 1.0, 2.0)] {
            r.push(s, "A", "p1", 0, &[a]).unwrap();
            r.push(s, "B", "p1", 0, &[b]).unwrap();
        }
        r.push(0, "A", "p2", 0, &[5.0]).unwrap();
        r.push(0, "B", "p2", 0, &[5.0]).unwrap();
        let p = paired(&r, "A", "B").unwrap();
        assert_eq!(probability_of_improvement(&p, "v", true).unwrap(), 0.5);
        // One sample per prompt: the share of prompts won, ties half.
        let mut r = Records::new(&["v"]);
        for (i, (a, b)) in [(1.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)].iter().enumerate() {
            r.push(0, "A", format!("p{i}"), 0, &[*a]).unwrap();
            r.push(0, "B", format!("p{i}"), 0, &[*b]).unwrap();
        }
        let p = paired(&r, "A", "B").unwrap();
        assert_eq!(probability_of_improvement(&p, "v", true).unwrap(), 0.625);
        assert_eq!(probability_of_improvement(&p, "v", false).unwrap(), 0.375);
    }
}
