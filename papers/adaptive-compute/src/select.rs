//! The three uses of the self-evaluation (spec "Use 1–4"), as pure functions of the estimates
//! `p̂_better` of samples already drawn, so the miniature can replay every operating point on one
//! pool of samples per prompt:
//!
//! - [`best_of_n`]: `argmin_i p̂_i`, ties to the earliest index (Use 1);
//! - [`adaptive`]: draw in batches (1, 1, 2, 4, 8), stop as soon as the pool's best `p̂ < τ` (Use 2);
//! - [`anneal`]: the batch's temperature `T_k = T_max (1 − 0.5^k)` (Use 3);
//! - [`prune`] and [`pruned_tokens`]: keep the `k` lowest `p̂` of the prefixes, count the tokens
//!   actually generated (Use 4);
//! - [`auroc`]: how well `p̂` ranks "some other sample is strictly better".

/// Index of the smallest value, the earliest on ties; `None` for an empty slice.
pub fn best_of_n(phat: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &p) in phat.iter().enumerate() {
        if best.map_or(true, |b| p < phat[b]) {
            best = Some(i);
        }
    }
    best
}

/// Batch `k`'s temperature under annealing: `T_max · (1 − 0.5^k)` (batch 0 greedy).
pub fn anneal(k: usize, t_max: f64) -> f64 {
    t_max * (1.0 - 0.5f64.powi(k as i32))
}

/// The outcome of adaptive sampling on one prompt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adaptive {
    /// Samples drawn (a cumulative batch count: 1, 2, 4, 8 or 16 for the default schedule).
    pub samples: usize,
    /// Index (in draw order) of the returned sample.
    pub chosen: usize,
}

/// Adaptive sampling over the per-sample estimates `phat` in draw order: after each batch of
/// `batches`, stop when the best `p̂` so far is below `tau`; at the end return the best.
/// `phat` must hold at least `Σ batches` values.
pub fn adaptive(phat: &[f64], batches: &[usize], tau: f64) -> Adaptive {
    let mut drawn = 0;
    for &b in batches {
        drawn = (drawn + b).min(phat.len());
        let best = best_of_n(&phat[..drawn]).unwrap_or(0);
        if phat.get(best).is_some_and(|&p| p < tau) {
            return Adaptive { samples: drawn, chosen: best };
        }
    }
    Adaptive { samples: drawn, chosen: best_of_n(&phat[..drawn]).unwrap_or(0) }
}

/// Indices of the `keep` samples with the lowest prefix estimates (ties to the earlier index),
/// in ascending index order.
pub fn prune(prefix_phat: &[f64], keep: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..prefix_phat.len()).collect();
    order.sort_by(|&a, &b| prefix_phat[a].total_cmp(&prefix_phat[b]).then(a.cmp(&b)));
    let mut kept: Vec<usize> = order.into_iter().take(keep).collect();
    kept.sort_unstable();
    kept
}

/// Tokens generated under pruning at `t_prune` (`Σ_i min(|y_i|, t)` plus the rest of every kept
/// sample) and without pruning (`Σ_i |y_i|`).
pub fn pruned_tokens(lengths: &[usize], t_prune: usize, kept: &[usize]) -> (usize, usize) {
    let prefix: usize = lengths.iter().map(|&l| l.min(t_prune)).sum();
    let rest: usize = kept.iter().map(|&i| lengths[i] - lengths[i].min(t_prune)).sum();
    (prefix + rest, lengths.iter().sum())
}

/// Area under the ROC curve of `score` as a predictor of `label` (Mann–Whitney, ties count ½);
/// NaN when a class is empty.
pub fn auroc(score: &[f64], label: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    // Mid-ranks over tied scores.
    let mut rank = vec![0.0; score.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            rank[k] = mid;
        }
        i = j + 1;
    }
    let pos = label.iter().filter(|&&l| l).count() as f64;
    let neg = label.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    let sum_pos: f64 = rank.iter().zip(label).filter(|(_, &l)| l).map(|(r, _)| r).sum();
    (sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: [f64; 16] = [0.5, 0.35, 0.6, 0.1, 0.4, 0.3, 0.2, 0.25, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3];
    const BATCHES: [usize; 5] = [1, 1, 2, 4, 8];

    #[test]
    fn spec_vector_3_adaptive_sampling() {
        for (tau, n, p) in [(0.6, 1, 0.5), (0.4, 2, 0.35), (0.2, 4, 0.1), (0.05, 16, 0.1)] {
            let a = adaptive(&STREAM, &BATCHES, tau);
            assert_eq!((a.samples, STREAM[a.chosen]), (n, p), "tau {tau}");
        }
    }

    #[test]
    fn spec_vector_4_annealing() {
        let t: Vec<f64> = (0..6).map(|k| anneal(k, 1.0)).collect();
        for (a, b) in t.iter().zip([0.0, 0.5, 0.75, 0.875, 0.9375, 0.96875]) {
            assert!((a - b).abs() < 1e-12, "{t:?}");
        }
    }

    #[test]
    fn spec_vector_5_best_of_n_takes_the_earliest_minimum() {
        assert_eq!(best_of_n(&[0.4, 0.1, 0.1, 0.7]), Some(1));
        assert_eq!(best_of_n(&[]), None);
    }

    #[test]
    fn spec_vector_6_pruning_tokens() {
        let lengths = [300, 150, 420, 90, 500, 260, 128, 333];
        let (gen, full) = pruned_tokens(&lengths, 64, &[0, 2, 4, 7]);
        assert_eq!((gen, full), (1809, 2181));
        assert!((1.0 - gen as f64 / full as f64 - 0.170564).abs() < 1e-6);
    }

    #[test]
    fn pruning_keeps_the_lowest_estimates() {
        assert_eq!(prune(&[0.9, 0.1, 0.5, 0.1, 0.3], 3), vec![1, 3, 4]);
        assert_eq!(prune(&[0.2, 0.2], 5), vec![0, 1]);
    }

    #[test]
    fn auroc_of_perfect_random_and_tied_scores() {
        assert_eq!(auroc(&[0.9, 0.8, 0.1, 0.2], &[true, true, false, false]), 1.0);
        assert_eq!(auroc(&[0.1, 0.2, 0.9, 0.8], &[true, true, false, false]), 0.0);
        assert_eq!(auroc(&[0.5, 0.5, 0.5], &[true, false, true]), 0.5);
        assert!(auroc(&[0.5], &[true]).is_nan());
    }
}
