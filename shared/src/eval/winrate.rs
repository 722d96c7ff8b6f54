//! Raw pairwise win rates from judge preferences (AlpacaEval bookkeeping, upstream
//! `metrics/winrate.py`): the soft win rate with draws as 0.5, its standard error, the win /
//! loss / draw counts, the discrete win rate, and the average output length.
//!
//! Preferences use AlpacaEval's scale: p in [1, 2], 1 = the baseline surely better, 2 = the
//! evaluated model surely better, 1.5 a draw; a legacy 0 also means a draw. `None` = no judgement.

use crate::error::{Error, Result};

/// One model's raw metrics against the baseline (percentages are x100, as on the leaderboard).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WinRate {
    pub win_rate: f64,
    pub standard_error: f64,
    pub n_wins: usize,
    pub n_wins_base: usize,
    pub n_draws: usize,
    pub n_total: usize,
    pub discrete_win_rate: f64,
}

/// Map a preference to the probability that the evaluated model wins, y = p - 1 in [0, 1]
/// (legacy 0 -> draw). Values outside {0} U [1, 2] or non-finite are errors.
pub fn preference_to_prob(p: f64) -> Result<f64> {
    if p == 0.0 {
        return Ok(0.5);
    }
    if p.is_finite() && (1.0..=2.0).contains(&p) {
        Ok(p - 1.0)
    } else {
        Err(Error::invalid("preference", format!("{p} is outside the allowed range [1, 2] (or 0 for a draw)")))
    }
}

/// Raw metrics from preferences on AlpacaEval's [1, 2] scale; rows without a judgement are
/// skipped, out-of-range values are an error naming the row.
pub fn win_rate(preferences: &[Option<f64>]) -> Result<WinRate> {
    let mut probs = Vec::with_capacity(preferences.len());
    for (i, p) in preferences.iter().enumerate() {
        if let Some(p) = p {
            probs.push(preference_to_prob(*p).map_err(|e| Error::invalid(format!("preference of row {i}"), e.to_string()))?);
        }
    }
    win_rate_from_probs(&probs)
}

/// Raw metrics from win probabilities y in [0, 1] (0.5 = draw). This is the entry point for
/// judges that are not AlpacaEval files (e.g. the miniature world's).
pub fn win_rate_from_probs(y: &[f64]) -> Result<WinRate> {
    let n = y.len();
    if n == 0 {
        return Err(Error::invalid("win rate", "no judged rows"));
    }
    if let Some(i) = y.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(Error::invalid(format!("win probability of row {i}"), format!("{} is outside [0, 1]", y[i])));
    }
    let mean = y.iter().sum::<f64>() / n as f64;
    let var = if n > 1 { y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { f64::NAN };
    let n_wins = y.iter().filter(|&&v| v > 0.5).count();
    let n_wins_base = y.iter().filter(|&&v| v < 0.5).count();
    let n_draws = n - n_wins - n_wins_base;
    Ok(WinRate {
        win_rate: 100.0 * mean,
        standard_error: 100.0 * var.sqrt() / (n as f64).sqrt(),
        n_wins,
        n_wins_base,
        n_draws,
        n_total: n,
        discrete_win_rate: 100.0 * (n_wins as f64 + 0.5 * n_draws as f64) / n as f64,
    })
}

/// AlpacaEval's `avg_length`: the integer part of the mean length in Unicode scalar values.
pub fn avg_length<S: AsRef<str>>(outputs: &[S]) -> usize {
    if outputs.is_empty() {
        return 0;
    }
    let total: usize = outputs.iter().map(|o| o.as_ref().chars().count()).sum();
    (total as f64 / outputs.len() as f64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_test_vector() {
        // simpo.md "Test vectors": p = [2.0, 1.9, 1.5, 1.1, 1.0, 1.7].
        let p = [2.0, 1.9, 1.5, 1.1, 1.0, 1.7].map(Some);
        let r = win_rate(&p).unwrap();
        assert!((r.win_rate - 53.3333).abs() < 1e-4, "{}", r.win_rate);
        assert!((r.standard_error - 16.8655).abs() < 1e-4, "{}", r.standard_error);
        assert_eq!((r.n_wins, r.n_wins_base, r.n_draws, r.n_total), (3, 2, 1, 6));
        assert!((r.discrete_win_rate - 58.3333).abs() < 1e-4);
    }

    #[test]
    fn leaderboard_discrete_checks() {
        // (319 + 0.5)/805 and (540 + 0.5)/805 from simpo.md.
        let mk = |w: usize, l: usize| {
            let mut y = vec![1.0; w];
            y.extend(vec![0.0; l]);
            y.push(0.5);
            win_rate_from_probs(&y).unwrap().discrete_win_rate
        };
        assert!((mk(319, 485) - 39.6894).abs() < 1e-4);
        assert!((mk(540, 264) - 67.1429).abs() < 1e-4);
    }

    #[test]
    fn legacy_zero_is_a_draw_and_none_is_skipped() {
        let r = win_rate(&[Some(0.0), None, Some(2.0)]).unwrap();
        assert_eq!((r.n_total, r.n_draws, r.n_wins), (2, 1, 1));
        assert!((r.win_rate - 75.0).abs() < 1e-12);
    }

    #[test]
    fn out_of_range_is_an_error_naming_the_row() {
        let err = win_rate(&[Some(1.5), Some(2.5)]).unwrap_err().to_string();
        assert!(err.contains("row 1") && err.contains("2.5"), "{err}");
    }

    #[test]
    fn length_counts_scalars_not_bytes() {
        assert_eq!(avg_length(&["héllo", "日本"]), 3); // (5 + 2) / 2 = 3.5 -> 3
    }
}
