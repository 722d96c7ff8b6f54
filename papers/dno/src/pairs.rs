//! DNO-Prct's data rules (spec "Practical DNO-Prct", steps 4–6, and the miniature's variants),
//! as pure functions of the candidates' scores, so that each is checked on the spec's test
//! vectors without a model:
//!
//! - [`large_margin`]: every (positive, other) pair with a positive scoring 5 or 6 and a margin of
//!   at least 2 when the positive is the teacher's gold response, at least 1 when it is a student
//!   sample (T≻S, S≻T and S≻S pairs all kept);
//! - [`restrictive`]: the same, T≻S pairs only (DNO-Restrictive);
//! - [`spin`]: the gold response beats every student sample, no annotation (SPIN);
//! - [`best_vs_worst`]: students only, best against worst score, no margin, no gold (iterative DPO);
//! - [`winrate`]: Algorithm 2's literal annotation, `r_i = (1/K) Σ_j O[i][j]` from one binary
//!   oracle sample per unordered candidate pair, K the number of student samples;
//! - [`by_margin`]: pairs whose `r` gap is at least a threshold (the win-rate mode's filter).

use serde::{Deserialize, Serialize};

/// Who a candidate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Who {
    Student(usize),
    Teacher,
}

/// A pair's type: teacher beats student, student beats teacher, student beats student.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PairType {
    TS,
    ST,
    SS,
}

/// One training pair: `(winner, loser)`.
pub type Pair = (Who, Who);

pub fn pair_type(p: &Pair) -> PairType {
    match p {
        (Who::Teacher, _) => PairType::TS,
        (_, Who::Teacher) => PairType::ST,
        _ => PairType::SS,
    }
}

/// The lowest score a positive may have (rubric 1–6).
pub const MIN_POSITIVE: f64 = 5.0;
/// The margin a positive needs over its negative: 2 when the positive is the gold response,
/// 1 when it is a student sample.
pub const GOLD_MARGIN: f64 = 2.0;
pub const STUDENT_MARGIN: f64 = 1.0;

/// Every candidate in order: the students, then the teacher when there is one.
fn candidates(students: &[f64], gold: Option<f64>) -> Vec<(Who, f64)> {
    let mut c: Vec<(Who, f64)> = students.iter().enumerate().map(|(i, &s)| (Who::Student(i), s)).collect();
    if let Some(g) = gold {
        c.push((Who::Teacher, g));
    }
    c
}

/// DNO's large-margin pairs (spec step 5), positives in candidate order (students, then gold),
/// negatives in candidate order.
pub fn large_margin(students: &[f64], gold: Option<f64>) -> Vec<Pair> {
    let c = candidates(students, gold);
    let mut out = vec![];
    for &(p, sp) in &c {
        if sp < MIN_POSITIVE {
            continue;
        }
        let margin = if p == Who::Teacher { GOLD_MARGIN } else { STUDENT_MARGIN };
        for &(n, sn) in &c {
            if n != p && sp - sn >= margin {
                out.push((p, n));
            }
        }
    }
    out
}

/// DNO-Restrictive: annotate as DNO, keep only the T≻S pairs.
pub fn restrictive(students: &[f64], gold: f64) -> Vec<Pair> {
    large_margin(students, Some(gold)).into_iter().filter(|p| pair_type(p) == PairType::TS).collect()
}

/// SPIN: the gold response is always the positive, every student sample a negative.
pub fn spin(students: usize) -> Vec<Pair> {
    (0..students).map(|i| (Who::Teacher, Who::Student(i))).collect()
}

/// Iterative DPO: the best against the worst student (first index on ties); none when every
/// student scores the same.
pub fn best_vs_worst(students: &[f64]) -> Vec<Pair> {
    let (mut w, mut l) = (0, 0);
    for (i, &s) in students.iter().enumerate() {
        if s > students[w] {
            w = i;
        }
        if s < students[l] {
            l = i;
        }
    }
    if students.is_empty() || students[w] == students[l] {
        return vec![];
    }
    vec![(Who::Student(w), Who::Student(l))]
}

/// Algorithm 2's win-rate annotation: `o[i][j] = 1` when candidate i beat j in the one oracle
/// sample of that unordered pair; `r_i = (1/k) Σ_j o[i][j]` with `k` the number of students.
pub fn winrate(o: &[Vec<u8>], k: usize) -> Vec<f64> {
    o.iter().map(|row| row.iter().map(|&x| x as f64).sum::<f64>() / k as f64).collect()
}

/// Every ordered pair of candidates (students, then gold) whose score gap is at least `margin`.
pub fn by_margin(students: &[f64], gold: Option<f64>, margin: f64) -> Vec<Pair> {
    let c = candidates(students, gold);
    let mut out = vec![];
    for &(p, sp) in &c {
        for &(n, sn) in &c {
            if n != p && sp - sn >= margin {
                out.push((p, n));
            }
        }
    }
    out
}

/// Algorithm 1's soft target `σ(r_1 − r_2)` of a pair with win rates in `[0, 1]`.
pub fn soft_target(r1: f64, r2: f64) -> f64 {
    1.0 / (1.0 + (r2 - r1).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Who::{Student as S, Teacher as T};

    /// Test vector 4: scores [5, 3, 6, 2, 4], gold 5 → the 10 pairs of the spec.
    #[test]
    fn vector_4_pair_construction() {
        let p = large_margin(&[5.0, 3.0, 6.0, 2.0, 4.0], Some(5.0));
        let want = vec![(S(0), S(1)), (S(0), S(3)), (S(0), S(4)), (S(2), S(0)), (S(2), S(1)), (S(2), S(3)), (S(2), S(4)), (S(2), T), (T, S(1)), (T, S(3))];
        assert_eq!(p, want);
        let count = |t: PairType| p.iter().filter(|x| pair_type(x) == t).count();
        assert_eq!((count(PairType::SS), count(PairType::ST), count(PairType::TS)), (7, 1, 2));
        // Gold vs s4 is rejected (margin 1 < 2), s0 vs gold too (margin 0).
        assert!(!p.contains(&(T, S(4))) && !p.contains(&(S(0), T)));
        assert_eq!(restrictive(&[5.0, 3.0, 6.0, 2.0, 4.0], 5.0), vec![(T, S(1)), (T, S(3))]);
    }

    /// Test vector 3: K = 3 students + gold, one binary sample per unordered pair.
    #[test]
    fn vector_3_winrate_estimate() {
        let o = vec![vec![0, 1, 1, 0], vec![0, 0, 1, 0], vec![0, 0, 0, 0], vec![1, 1, 1, 0]];
        let r = winrate(&o, 3);
        for (a, b) in r.iter().zip([0.666667, 0.333333, 0.0, 1.0]) {
            assert!((a - b).abs() < 1e-6, "{r:?}");
        }
        // With the win-rate filter at 0.4 the gold beats students 1 and 2, student 0 beats 2.
        let p = by_margin(&r[..3], Some(r[3]), 0.4);
        assert_eq!(p, vec![(S(0), S(2)), (T, S(1)), (T, S(2))]);
    }

    /// Test vector 5: σ(r1 − r2) for r in [0, 1] lies in [0.268941, 0.731059].
    #[test]
    fn vector_5_target_range() {
        assert!((soft_target(0.0, 1.0) - 0.268941).abs() < 1e-6);
        assert!((soft_target(1.0, 0.0) - 0.731059).abs() < 1e-6);
        for i in 0..=10 {
            for j in 0..=10 {
                let t = soft_target(i as f64 / 10.0, j as f64 / 10.0);
                assert!((0.268941..=0.731059).contains(&((t * 1e6).round() / 1e6)), "{t}");
            }
        }
    }

    #[test]
    fn the_variants_rules() {
        assert_eq!(spin(3), vec![(T, S(0)), (T, S(1)), (T, S(2))]);
        assert_eq!(best_vs_worst(&[2.0, 6.0, 1.0, 6.0, 1.0]), vec![(S(1), S(2))]);
        assert!(best_vs_worst(&[4.0, 4.0]).is_empty());
        // No positive scores 5 or more: no pair, whatever the margins.
        assert!(large_margin(&[4.0, 1.0, 1.0], Some(4.0)).is_empty());
    }
}
