//! `Phat(y_i > pi_t | x)`: each sample's estimated win rate against the current policy, from the
//! K samples of one prompt and a pairwise logit matrix `C[i][j]` (the logit that `y_i` beats `y_j`;
//! `C[i][i] = 0`). Two modes, as the spec's "How the win rate is estimated":
//!
//! - [`PhatMode::Direct`] (paper, Sec. 5.1): `Phat_i = (1/K) sum_j sigmoid(C[i][j])`, self term 1/2 included.
//! - [`PhatMode::ScoreSigmoid`] (released code: llm-blender + `compute_prob.py`):
//!   `s_i = (1/K) sum_j (C[i][j] - C[j][i])`, `P_ij = sigmoid(s_i - s_j)`, `Phat_i = (1/K) sum_j P_ij`.
//!
//! Either way the trained pair is `y_w = argmax_i s_i`, `y_l = argmin_i s_i` (first index on ties).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhatMode {
    Direct,
    ScoreSigmoid,
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// llm-blender's aggregated score `s_i = (1/K) sum_j (C[i][j] - C[j][i])`.
pub fn aggregate_scores(c: &[Vec<f64>]) -> Vec<f64> {
    let k = c.len() as f64;
    (0..c.len()).map(|i| (0..c.len()).map(|j| c[i][j] - c[j][i]).sum::<f64>() / k).collect()
}

/// Code-style win rates from scores: `Phat_i = (1/K) sum_j sigmoid(s_i - s_j)` (compute_prob.py).
pub fn phat_from_scores(s: &[f64]) -> Vec<f64> {
    let k = s.len() as f64;
    s.iter().map(|si| s.iter().map(|sj| sigmoid(si - sj)).sum::<f64>() / k).collect()
}

/// Paper-style win rates: `Phat_i = (1/K) sum_j sigmoid(C[i][j])` (Sec. 5.1; `C[i][i] = 0` gives 1/2).
pub fn phat_direct(c: &[Vec<f64>]) -> Vec<f64> {
    let k = c.len() as f64;
    c.iter().map(|row| row.iter().map(|&z| sigmoid(z)).sum::<f64>() / k).collect()
}

/// `(argmax, argmin)` of the scores, first index on ties (numpy's argmax/argmin).
pub fn winner_loser(s: &[f64]) -> (usize, usize) {
    let (mut w, mut l) = (0, 0);
    for (i, &v) in s.iter().enumerate() {
        if v > s[w] {
            w = i;
        }
        if v < s[l] {
            l = i;
        }
    }
    (w, l)
}

/// K = 2 ablation (Sec. 5.3): `Phat_w = (1/2 + P(y_w > y_l))/2`, `Phat_l = (1/2 + P(y_l > y_w))/2`.
pub fn phat_k2(p_wl: f64) -> (f64, f64) {
    ((0.5 + p_wl) / 2.0, (0.5 + (1.0 - p_wl)) / 2.0)
}

/// App. A: `log Z` in the limit K -> inf for a strict total order, `log((e^eta - 1)/eta)`.
pub fn ordered_log_z(eta: f64) -> f64 {
    (eta.exp_m1() / eta).ln()
}

/// One prompt's estimate: the trained pair and its targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub scores: Vec<f64>,
    pub phat: Vec<f64>,
    pub winner: usize,
    pub loser: usize,
    /// `P_wl = sigmoid(s_w - s_l)` (what the code stores as `chosen_probs`).
    pub p_wl: f64,
}

impl Estimate {
    pub fn phat_w(&self) -> f64 {
        self.phat[self.winner]
    }
    pub fn phat_l(&self) -> f64 {
        self.phat[self.loser]
    }
}

/// Estimate the win rates of one prompt's K samples from their logit matrix.
pub fn estimate(mode: PhatMode, c: &[Vec<f64>]) -> Estimate {
    let scores = aggregate_scores(c);
    let phat = match mode {
        PhatMode::Direct => phat_direct(c),
        PhatMode::ScoreSigmoid => phat_from_scores(&scores),
    };
    let (winner, loser) = winner_loser(&scores);
    let p_wl = sigmoid(scores[winner] - scores[loser]);
    Estimate { scores, phat, winner, loser, p_wl }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < tol, "{a:?} vs {b:?}");
        }
    }

    /// Test vector 1: code-style win rates from scores, K = 5.
    #[test]
    fn vector_1_code_style_from_scores() {
        let s = [1.2, -0.3, 0.5, 2.0, -1.1];
        let p = phat_from_scores(&s);
        close(&p, &[0.640933, 0.354710, 0.507246, 0.774664, 0.222447], 5e-7);
        assert_eq!(winner_loser(&s), (3, 4));
        assert!((sigmoid(s[3] - s[4]) - 0.956893).abs() < 5e-7);
    }

    /// Test vector 5: the K = 2 estimate.
    #[test]
    fn vector_5_k2() {
        let (w, l) = phat_k2(sigmoid(3.1));
        assert!((w - 0.728446).abs() < 5e-7 && (l - 0.271554).abs() < 5e-7, "{w} {l}");
    }

    /// Test vector 6: llm-blender aggregation, both modes.
    #[test]
    fn vector_6_blender_aggregation() {
        let c = vec![vec![0.0, 1.0, 0.4], vec![-0.8, 0.0, 0.3], vec![-0.2, -0.6, 0.0]];
        close(&aggregate_scores(&c), &[0.8, -0.3, -0.5], 1e-12);
        let code = estimate(PhatMode::ScoreSigmoid, &c);
        close(&code.phat, &[0.678698, 0.433191, 0.388110], 5e-7);
        assert_eq!((code.winner, code.loser), (0, 2));
        close(&estimate(PhatMode::Direct, &c).phat, &[0.609915, 0.461489, 0.434837], 5e-7);
    }

    /// Test vector 7: App. A's ordered-case limit of log Z at eta = 1.
    #[test]
    fn vector_7_ordered_log_z() {
        assert!((ordered_log_z(1.0) - 0.541325).abs() < 5e-7);
    }

    #[test]
    fn ties_pick_the_first_index_and_all_equal_gives_one_response() {
        assert_eq!(winner_loser(&[0.0, 1.0, 1.0, -2.0, -2.0]), (1, 3));
        assert_eq!(winner_loser(&[0.5, 0.5]), (0, 0));
    }
}
