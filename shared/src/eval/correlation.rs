//! Correlations between two metrics over the same models: Pearson's r,
//! Spearman's ρ (Pearson on average ranks, so ties are handled as scipy does)
//! and Kendall's τ-b (the tie-corrected form scipy reports by default).

/// Pearson's r. `None` with fewer than two points or zero variance.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "pearson: x and y must be the same length");
    let n = x.len() as f64;
    if x.len() < 2 {
        return None;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Ranks starting at 1, ties given the average of the ranks they span.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's ρ: Pearson's r of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Kendall's τ-b: (concordant − discordant) / sqrt((n0 − n1)(n0 − n2)).
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "kendall: x and y must be the same length");
    let n = x.len();
    let (mut conc, mut disc, mut tie_x, mut tie_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = (x[i] - x[j]).signum() * if x[i] == x[j] { 0.0 } else { 1.0 };
            let dy = (y[i] - y[j]).signum() * if y[i] == y[j] { 0.0 } else { 1.0 };
            match (dx == 0.0, dy == 0.0) {
                (true, true) => {}
                (true, false) => tie_x += 1,
                (false, true) => tie_y += 1,
                (false, false) if dx * dy > 0.0 => conc += 1,
                _ => disc += 1,
            }
        }
    }
    let denom = (((conc + disc + tie_x) * (conc + disc + tie_y)) as f64).sqrt();
    (denom > 0.0).then(|| (conc - disc) as f64 / denom)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from scipy.stats (pearsonr, spearmanr, kendalltau) on the same vectors.
    const X: [f64; 6] = [1.0, 2.0, 2.0, 4.0, 5.0, 7.0];
    const Y: [f64; 6] = [2.0, 1.0, 4.0, 4.0, 6.0, 5.0];

    #[test]
    fn ranks_average_ties() {
        assert_eq!(average_ranks(&X), vec![1.0, 2.5, 2.5, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn perfect_and_reversed() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [10.0, 20.0, 30.0, 45.0];
        let r: Vec<f64> = b.iter().rev().copied().collect();
        assert!((spearman(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        assert!((kendall_tau_b(&a, &r).unwrap() + 1.0).abs() < 1e-12);
        assert!(pearson(&a, &[1.0; 4]).is_none());
    }

    #[test]
    fn matches_scipy_with_ties() {
        // scipy 1.x: pearsonr = 0.76104, spearmanr = 0.80882, kendalltau (tau-b) = 0.64286
        assert!((pearson(&X, &Y).unwrap() - 0.761_042_390_647).abs() < 1e-9, "{:?}", pearson(&X, &Y));
        assert!((spearman(&X, &Y).unwrap() - 0.808_823_529_412).abs() < 1e-9, "{:?}", spearman(&X, &Y));
        assert!((kendall_tau_b(&X, &Y).unwrap() - 0.642_857_142_857).abs() < 1e-9, "{:?}", kendall_tau_b(&X, &Y));
    }
}
