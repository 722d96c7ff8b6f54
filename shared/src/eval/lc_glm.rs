//! Length-controlled win rates (Dubois et al. 2024; upstream `metrics/glm_winrate.py`).
//!
//! Per model, a logistic GLM of the judge's preference y_i (the probability that the model beats
//! the baseline on instruction i) on
//!
//! ```text
//! logit P(model wins on i) = w_len * tanh(delta_i / sd(delta)) + w_diff * d_i + w_bias
//! ```
//!
//! with delta_i = len(baseline output) - len(model output) and d_i the instruction's difficulty;
//! the LC win rate is the prediction with the length term removed (delta = 0), averaged over the
//! instructions: LC = 100 * mean_i sigmoid(w_diff d_i + w_bias). `length_controlled_v1` also adds
//! rows of the two gamed baselines (the baseline prompted to be verbose / concise), which share the
//! length and difficulty slopes but not the bias and carry weight lambda/2 each: they regularise
//! the length slope toward the judge's own length sensitivity. The fit is the weighted
//! L1-regularised soft-label logistic regression of [`super::logistic`], C chosen by 5-fold group CV.

use super::logistic::{cross_validate, default_c_grid, group_folds, sigmoid, Design, SolverOptions};
use crate::error::{Error, Result};

/// A model's GLM coefficients, as stored in upstream's weights table
/// (`np.tanh(std_delta_len)`, `instruction_difficulty`, `not_gamed_baseline.astype(float)`).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct GlmWeights {
    pub w_len: f64,
    pub w_diff: f64,
    pub w_bias: f64,
}

/// Upstream `GLM_INFO` variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Length, difficulty and bias, regularised toward the gamed baselines (the leaderboard's).
    V1,
    /// Same features, no gamed rows.
    NoReg,
    /// Length and bias only: LC = 100 sigmoid(w_bias), needs no external ingredient.
    Minimal,
}

#[derive(Debug, Clone)]
pub struct LcOptions {
    pub variant: Variant,
    /// Total weight of the gamed-baseline rows (split equally among the gamed baselines).
    pub lambda: f64,
    pub c_grid: Vec<f64>,
    pub n_folds: usize,
    pub solver: SolverOptions,
}

impl Default for LcOptions {
    fn default() -> Self {
        LcOptions { variant: Variant::V1, lambda: 0.2, c_grid: default_c_grid(), n_folds: 5, solver: SolverOptions::default() }
    }
}

/// The rows of one gamed baseline: its length difference to the baseline and the judge's (or a
/// proxy's) preference y in [0, 1] per instruction, in instruction order.
#[derive(Debug, Clone)]
pub struct GamedRows {
    pub delta_len: Vec<f64>,
    pub y: Vec<f64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LcResult {
    pub lc_win_rate: f64,
    pub lc_standard_error: f64,
    pub weights: GlmWeights,
    /// The C picked by cross-validation (None for the baseline against itself).
    pub c: Option<f64>,
}

impl LcResult {
    /// The baseline judged against itself: LC = 50, weights 0 (upstream short-cut).
    pub fn baseline() -> LcResult {
        LcResult { lc_win_rate: 50.0, lc_standard_error: 0.0, weights: GlmWeights::default(), c: None }
    }
}

/// delta / sd(delta, ddof 1) without centring; all zeros when sd is 0 or undefined.
pub fn standardized_delta(delta: &[f64]) -> Vec<f64> {
    let n = delta.len();
    if n < 2 {
        return vec![0.0; n];
    }
    let mean = delta.iter().sum::<f64>() / n as f64;
    let sd = (delta.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    if sd > 0.0 {
        delta.iter().map(|v| v / sd).collect()
    } else {
        vec![0.0; n]
    }
}

/// Fit the GLM for one model and predict at zero length difference.
///
/// `y[i]`: the probability the model beats the baseline on row i (None = not judged; such rows
/// are left out of training but still predicted). `delta_len[i]`: baseline length minus model
/// length. `difficulty[i]`: the difficulty of row i's instruction, looked up by row position.
pub fn length_controlled(y: &[Option<f64>], delta_len: &[f64], difficulty: &[f64], gamed: &[GamedRows], opt: &LcOptions) -> Result<LcResult> {
    let n = y.len();
    if delta_len.len() != n {
        return Err(Error::invalid("length-controlled GLM", format!("{n} preferences but {} length differences", delta_len.len())));
    }
    let needs_d = opt.variant != Variant::Minimal;
    let gamed_n = if opt.variant == Variant::V1 { gamed.iter().map(|g| g.y.len()).max().unwrap_or(0) } else { 0 };
    if needs_d && difficulty.len() < n.max(gamed_n) {
        return Err(Error::invalid("length-controlled GLM", format!("{} rows but only {} instruction difficulties", n.max(gamed_n), difficulty.len())));
    }
    if let Some(i) = y.iter().position(|v| v.is_some_and(|p| !(0.0..=1.0).contains(&p))) {
        return Err(Error::invalid(format!("row {i}"), format!("win probability {:?} is outside [0, 1]", y[i])));
    }
    let feat = |t: f64, d: f64, bias: f64| -> Vec<f64> {
        match opt.variant {
            Variant::Minimal => vec![t, bias],
            _ => vec![t, d, bias],
        }
    };
    let (mut rows, mut labels, mut weights) = (vec![], vec![], vec![]);
    if opt.variant == Variant::V1 && !gamed.is_empty() {
        let s = opt.lambda / gamed.len() as f64;
        for g in gamed {
            if g.delta_len.len() != g.y.len() {
                return Err(Error::invalid("gamed baseline rows", "length differences and preferences differ in number"));
            }
            for (k, x) in standardized_delta(&g.delta_len).into_iter().enumerate() {
                rows.push(feat(x.tanh(), difficulty[k], 0.0));
                labels.push(g.y[k]);
                weights.push(s);
            }
        }
    }
    let sdl = standardized_delta(delta_len);
    for i in 0..n {
        if let Some(yi) = y[i] {
            rows.push(feat(sdl[i].tanh(), if needs_d { difficulty[i] } else { 0.0 }, 1.0));
            labels.push(yi);
            weights.push(1.0);
        }
    }
    if labels.len() < opt.n_folds {
        return Err(Error::invalid("length-controlled GLM", format!("only {} judged rows, fewer than the {} folds", labels.len(), opt.n_folds)));
    }
    let x = Design::from_rows(&rows);
    let folds = group_folds(rows.len(), opt.n_folds);
    let cv = cross_validate(&x, &labels, &weights, &folds, &opt.c_grid, opt.solver)?;
    let w = &cv.fit.w;
    let weights = match opt.variant {
        Variant::Minimal => GlmWeights { w_len: w[0], w_diff: 0.0, w_bias: w[1] },
        _ => GlmWeights { w_len: w[0], w_diff: w[1], w_bias: w[2] },
    };
    let d: &[f64] = if needs_d { &difficulty[..n] } else { &[] };
    let (lc, se) = predict_at_zero_length(&weights, d, n);
    Ok(LcResult { lc_win_rate: lc, lc_standard_error: se, weights, c: Some(cv.best_c) })
}

/// LC and its standard error from weights: phat_i = sigmoid(w_diff d_i + w_bias) over `n` rows
/// (`d` empty = no difficulty term, then the standard error is 0).
pub fn predict_at_zero_length(w: &GlmWeights, d: &[f64], n: usize) -> (f64, f64) {
    if d.is_empty() {
        return (100.0 * sigmoid(w.w_bias), 0.0);
    }
    let _ = n;
    let phat: Vec<f64> = d.iter().map(|&di| sigmoid(w.w_diff * di + w.w_bias)).collect();
    let m = phat.len() as f64;
    let mean = phat.iter().sum::<f64>() / m;
    let var = if phat.len() > 1 { phat.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (m - 1.0) } else { 0.0 };
    (100.0 * mean, 100.0 * var.sqrt() / m.sqrt())
}

/// Upstream `predict_winrate`: probability that model `m` beats model `b` with the length
/// difference removed, from their stored weights: mean_i sigmoid(dw_bias + dw_diff d_i).
pub fn predict_winrate(m: &GlmWeights, b: &GlmWeights, d: &[f64]) -> f64 {
    let (db, dd) = (m.w_bias - b.w_bias, m.w_diff - b.w_diff);
    if d.is_empty() {
        return sigmoid(db);
    }
    d.iter().map(|&di| sigmoid(db + dd * di)).sum::<f64>() / d.len() as f64
}

/// The notebook's Elo-like number: 400 log10(p / (1 - p)) + Elo(baseline).
pub fn winrate_to_elo(p: f64, baseline_elo: f64) -> f64 {
    400.0 * (p / (1.0 - p)).log10() + baseline_elo
}

/// Proxy rows for a gamed baseline whose judgements are missing (project rule, lc-alpacaeval.md
/// §7): y_k = sigmoid(w_len tanh(sdl_k) + w_diff d_k + w_bias) from the gamed model's stored weights.
pub fn proxy_gamed_rows(len_base: &[usize], len_gamed: &[usize], w: &GlmWeights, d: &[f64]) -> Result<GamedRows> {
    if len_base.len() != len_gamed.len() || d.len() < len_base.len() {
        return Err(Error::invalid("gamed baseline proxy", format!("{} baseline outputs, {} gamed outputs, {} difficulties", len_base.len(), len_gamed.len(), d.len())));
    }
    let delta: Vec<f64> = len_base.iter().zip(len_gamed).map(|(&a, &b)| a as f64 - b as f64).collect();
    let y = standardized_delta(&delta).iter().zip(d).map(|(&x, &dk)| sigmoid(w.w_len * x.tanh() + w.w_diff * dk + w.w_bias)).collect();
    Ok(GamedRows { delta_len: delta, y })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(w_len: f64, w_diff: f64, w_bias: f64) -> GlmWeights {
        GlmWeights { w_len, w_diff, w_bias }
    }

    #[test]
    fn predict_winrate_averages_over_difficulties() {
        // (The spec's stored-weights vectors are tested against the real weights file in
        // shared/tests/alpaca_eval_data.rs.)
        let d = [-1.0, 0.0, 1.0];
        let p = predict_winrate(&w(0.0, -0.5, 0.3), &GlmWeights::default(), &d);
        let want = (sigmoid(0.8) + sigmoid(0.3) + sigmoid(-0.2)) / 3.0;
        assert!((p - want).abs() < 1e-15);
    }

    #[test]
    fn predict_winrate_is_antisymmetric_and_half_on_itself() {
        let d = [-1.2, 0.0, 0.4, 2.5];
        let (a, b) = (w(-1.0, 0.3, 0.8), w(0.5, -0.7, -0.2));
        assert!((predict_winrate(&a, &b, &d) + predict_winrate(&b, &a, &d) - 1.0).abs() < 1e-15);
        assert_eq!(predict_winrate(&a, &a, &d), 0.5);
    }

    #[test]
    fn standardisation_has_no_centring() {
        let x = standardized_delta(&[1.0, 2.0, 3.0]);
        assert!((x[0] - 1.0).abs() < 1e-15 && (x[2] - 3.0).abs() < 1e-15);
        assert_eq!(standardized_delta(&[4.0, 4.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn length_bias_is_removed_on_synthetic_judge() {
        // A judge that likes longer outputs and is otherwise indifferent: raw win rate of a longer
        // model is high, LC at zero length difference should come back near 50.
        let n = 800;
        let delta: Vec<f64> = (0..n).map(|i| 10.0 * ((i * 37 % 101) as f64 - 70.0)).collect();
        let sdl = standardized_delta(&delta);
        let y: Vec<Option<f64>> = sdl.iter().map(|x| Some(sigmoid(-1.5 * x.tanh()))).collect();
        let d = vec![0.0; n];
        let opt = LcOptions { variant: Variant::NoReg, ..Default::default() };
        let r = length_controlled(&y, &delta, &d, &[], &opt).unwrap();
        let raw = 100.0 * y.iter().map(|v| v.unwrap()).sum::<f64>() / n as f64;
        assert!(raw > 58.0, "raw {raw}");
        assert!((r.lc_win_rate - 50.0).abs() < 2.0, "LC {}", r.lc_win_rate);
        assert!(r.weights.w_len < -1.0, "{:?}", r.weights);
    }

    #[test]
    fn minimal_variant_has_zero_standard_error() {
        let delta: Vec<f64> = (0..50).map(|i| i as f64 - 20.0).collect();
        let y: Vec<Option<f64>> = (0..50).map(|i| Some(if i % 3 == 0 { 0.8 } else { 0.4 })).collect();
        let r = length_controlled(&y, &delta, &[], &[], &LcOptions { variant: Variant::Minimal, ..Default::default() }).unwrap();
        assert_eq!(r.lc_standard_error, 0.0);
        assert!((r.lc_win_rate - 100.0 * sigmoid(r.weights.w_bias)).abs() < 1e-12);
    }
}
