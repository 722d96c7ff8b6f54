//! INPO's preference-model pair selection (Sec. 4.1): a tournament of 11 comparisons over K = 8
//! samples instead of SPPO's K² win-rate matrix.
//!
//! Round 1 compares (0,1), (2,3), (4,5), (6,7). The four winners play a knockout (2 matches, then
//! 1) whose champion is `y_w`; the four losers play a "loser-out" knockout (the loser of each
//! match advances; 2, then 1) whose last one is `y_l`. A tie counts as a win for the first
//! argument (comparison order = index order). Finally `y_w` meets `y_l`, and the pair is kept
//! only if `y_w` wins that 11th comparison.

/// The outcome of one tournament.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tournament {
    pub winner: usize,
    pub loser: usize,
    /// `y_w` beat `y_l` in the final check.
    pub kept: bool,
    pub comparisons: usize,
    /// Round 1's winners and losers, in match order.
    pub round1: (Vec<usize>, Vec<usize>),
}

/// Run the tournament over `k` samples (a power of two, ≥ 2); `beats(i, j)` answers "does `i`
/// beat `j`" for `i` listed first.
pub fn tournament(k: usize, mut beats: impl FnMut(usize, usize) -> bool) -> Tournament {
    assert!(k >= 2 && k.is_power_of_two(), "the tournament needs a power-of-two K, got {k}");
    let mut comparisons = 0;
    let mut play = |i: usize, j: usize| {
        comparisons += 1;
        if beats(i, j) {
            (i, j)
        } else {
            (j, i)
        }
    };
    let (mut up, mut down): (Vec<usize>, Vec<usize>) = (0..k / 2).map(|m| play(2 * m, 2 * m + 1)).unzip();
    let round1 = (up.clone(), down.clone());
    while up.len() > 1 {
        up = up.chunks(2).map(|p| play(p[0], p[1]).0).collect();
    }
    while down.len() > 1 {
        down = down.chunks(2).map(|p| play(p[0], p[1]).1).collect();
    }
    let (w, l) = (up[0], down[0]);
    let kept = play(w, l).0 == w;
    Tournament { winner: w, loser: l, kept, comparisons, round1 }
}

/// `R(u, v)` of the spec: +1 when `(u − v) mod 3 = 1`, −1 when it is 2, else 0.
pub fn cyclic(u: usize, v: usize) -> f64 {
    match (u + 3 - v % 3) % 3 {
        1 => 1.0,
        2 => -1.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vector 4: a transitive comparator by strength.
    #[test]
    fn vector_4_transitive() {
        let s = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.4, 0.8];
        let t = tournament(8, |i, j| s[i] >= s[j]);
        assert_eq!((t.winner, t.loser, t.kept, t.comparisons), (1, 2, true, 11));
    }

    /// Test vector 5: an intransitive comparator `4 (q_i − q_j) + R(c_i, c_j) ≥ 0`.
    #[test]
    fn vector_5_intransitive() {
        let q = [0.5, 0.5, 0.6, 0.2, 0.6, 0.6, 0.1, 0.3];
        let c = [0, 1, 2, 0, 1, 2, 0, 1];
        let t = tournament(8, |i, j| 4.0 * (q[i] - q[j]) + cyclic(c[i], c[j]) >= 0.0);
        assert_eq!(t.round1, (vec![1, 2, 5, 7], vec![0, 3, 4, 6]));
        assert_eq!((t.winner, t.loser, t.kept, t.comparisons), (2, 6, true, 11));
    }

    #[test]
    fn ties_go_to_the_first_argument_and_a_failed_check_drops_the_pair() {
        // Everything ties: every match goes to the first-listed sample.
        let t = tournament(8, |_, _| true);
        assert_eq!((t.winner, t.loser, t.kept), (0, 7, true));
        // A comparator that always says "the second wins": the final check fails.
        let t = tournament(4, |_, _| false);
        assert_eq!(t.comparisons, 5);
        assert!(!t.kept);
        assert_eq!((cyclic(1, 0), cyclic(0, 1), cyclic(2, 2)), (1.0, -1.0, 0.0));
    }
}
