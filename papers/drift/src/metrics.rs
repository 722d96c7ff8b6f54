//! The miniature's evaluation arithmetic (spec "Metrics" and test vectors): win rate against the
//! base with ties as one half, distinct-n over tokenised outputs, the number of distinct outputs,
//! the coverage share of a pooled set, and the headline's relative and absolute gains.

use std::collections::HashSet;

/// Win rate of `a` over `b`, prompt by prompt: 1 when higher, ½ on a tie, 0 when lower.
pub fn win(a: f64, b: f64) -> f64 {
    if a > b {
        1.0
    } else if a == b {
        0.5
    } else {
        0.0
    }
}

pub fn win_rate(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| win(*x, *y)).sum::<f64>() / a.len().max(1) as f64
}

/// distinct-n: distinct n-grams over all n-grams of the outputs (each output a token list).
pub fn distinct_n(outputs: &[Vec<String>], n: usize) -> f64 {
    let mut all = 0usize;
    let mut seen = HashSet::new();
    for o in outputs {
        for w in o.windows(n) {
            all += 1;
            seen.insert(w.to_vec());
        }
    }
    if all == 0 {
        0.0
    } else {
        seen.len() as f64 / all as f64
    }
}

/// An output's normal form for "distinct" (whitespace collapsed).
pub fn normalise(y: &str) -> String {
    y.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Distinct outputs after normalising whitespace.
pub fn distinct_outputs(ys: &[String]) -> HashSet<String> {
    ys.iter().map(|y| normalise(y)).collect()
}

/// `|distinct outputs of m| / |Z_all|` (an embedding-free coverage share; 0 when the pool is empty).
pub fn coverage_share(mine: &HashSet<String>, pool: &HashSet<String>) -> f64 {
    if pool.is_empty() {
        0.0
    } else {
        mine.len() as f64 / pool.len() as f64
    }
}

/// `100·(new − old)/old`: WildBench gains in the abstract are relative.
pub fn relative_gain(new: f64, old: f64) -> f64 {
    100.0 * (new - old) / old
}

/// `new − old`: AlpacaEval gains in the abstract are absolute points.
pub fn absolute_gain(new: f64, old: f64) -> f64 {
    new - old
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() < tol, "{a} vs {b}");
    }

    #[test]
    fn headline_arithmetic() {
        close(relative_gain(51.69, 48.66), 6.22688, 5e-6);
        close(relative_gain(59.27, 55.08), 7.60712, 5e-6);
        close(relative_gain(58.30, 55.08), 5.84604, 5e-6);
        close(relative_gain(50.91, 48.66), 4.62392, 5e-6);
        close(absolute_gain(46.64, 37.69), 8.95, 1e-9);
        close(absolute_gain(48.94, 36.65), 12.29, 1e-9);
        close(absolute_gain(48.63, 36.65), 11.98, 1e-9);
    }

    #[test]
    fn diversity_vector() {
        let t = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let outs = vec![t("a b c"), t("a b d"), t("a b c")];
        close(distinct_n(&outs, 1), 4.0 / 9.0, 1e-9);
        close(distinct_n(&outs, 2), 0.5, 1e-9);
        assert_eq!(distinct_outputs(&["a b c".into(), "a b d".into(), "a  b c".into()]).len(), 2);
    }

    #[test]
    fn win_rate_with_ties() {
        close(win_rate(&[0.9, 0.5, 0.2, 1.0, 0.7], &[0.5, 0.5, 0.4, 0.8, 0.7]), 0.6, 1e-12);
    }

    #[test]
    fn coverage_of_an_empty_pool_is_zero() {
        let s: HashSet<String> = ["x".to_string()].into();
        close(coverage_share(&s, &s), 1.0, 1e-12);
        close(coverage_share(&HashSet::new(), &HashSet::new()), 0.0, 1e-12);
    }
}
