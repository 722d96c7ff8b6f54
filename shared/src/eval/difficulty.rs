//! Instruction difficulty re-estimated by the joint GLM of upstream's
//! `notebooks/instruction_difficulty.ipynb` (lc-alpacaeval.md §5).
//!
//! One soft-label logistic regression over the rows of many models at once:
//!
//! ```text
//! logit P(model m wins on instruction k) = bias_m + d_k + w_len,m * tanh(x_len) + w_ng * not_gamed_m
//! ```
//!
//! with d_0 = 0 as the reference level; the fitted d_k are the difficulties. Fitted exactly like the
//! per-model GLM (L1, no intercept, C by 5-fold group CV), on a sparse design (<= 4 non-zeros a row).

use super::lc_glm::standardized_delta;
use super::logistic::{cross_validate, default_c_grid, group_folds, Design, SolverOptions};
use crate::error::{Error, Result};

/// One judged row of one model: instruction position, win probability y in [0, 1], and the
/// length difference (baseline minus model).
#[derive(Debug, Clone, Copy)]
pub struct JointRow {
    pub index: usize,
    pub y: f64,
    pub delta_len: f64,
}

/// A model's rows (already without unjudged rows and rows with an empty model output).
#[derive(Debug, Clone)]
pub struct JointModel {
    pub name: String,
    pub rows: Vec<JointRow>,
}

#[derive(Debug, Clone)]
pub struct DifficultyFit {
    /// d_k for k = 0..n_instructions (d_0 = 0).
    pub difficulty: Vec<f64>,
    pub c: f64,
    pub n_rows: usize,
    pub n_cols: usize,
}

/// Upstream's `not_gamed_baseline`: 0 for the prompted variants of the baseline itself.
pub fn is_gamed_baseline(name: &str, baseline: &str) -> bool {
    name.contains(baseline) && (name.contains("verbose") || name.contains("concise"))
}

/// Fit the joint GLM. `models` in row order (the project uses the leaderboard CSV's order);
/// the baseline's bias column comes first among the model columns (column order does not change
/// the optimum).
pub fn estimate_difficulty(models: &[JointModel], n_instructions: usize, baseline: &str, solver: SolverOptions) -> Result<DifficultyFit> {
    let p_models = models.len();
    if p_models == 0 || n_instructions < 2 {
        return Err(Error::invalid("instruction difficulty", "needs at least one model and two instructions"));
    }
    let mut col_order: Vec<usize> = (0..p_models).collect();
    if let Some(b) = models.iter().position(|m| m.name == baseline) {
        col_order.remove(b);
        col_order.insert(0, b);
    }
    let mut bias_col = vec![0; p_models];
    for (c, &m) in col_order.iter().enumerate() {
        bias_col[m] = c;
    }
    let inst_col = |k: usize| p_models + k - 1; // k >= 1
    let len_col = |m: usize| p_models + n_instructions - 1 + bias_col[m];
    let ng_col = p_models + n_instructions - 1 + p_models;
    let n_cols = ng_col + 1;
    let mut cols: Vec<Vec<(u32, f64)>> = vec![vec![]; n_cols];
    let (mut y, mut r) = (vec![], 0u32);
    for (m, model) in models.iter().enumerate() {
        let delta: Vec<f64> = model.rows.iter().map(|row| row.delta_len).collect();
        let xlen = standardized_delta(&delta);
        let not_gamed = if is_gamed_baseline(&model.name, baseline) { 0.0 } else { 1.0 };
        for (row, x) in model.rows.iter().zip(xlen) {
            if row.index >= n_instructions {
                return Err(Error::invalid(format!("model {} row for instruction {}", model.name, row.index), format!("only {n_instructions} instructions")));
            }
            if !(0.0..=1.0).contains(&row.y) {
                return Err(Error::invalid(format!("model {} instruction {}", model.name, row.index), format!("win probability {} outside [0, 1]", row.y)));
            }
            cols[bias_col[m]].push((r, 1.0));
            if row.index > 0 {
                cols[inst_col(row.index)].push((r, 1.0));
            }
            if x != 0.0 {
                cols[len_col(m)].push((r, x.tanh()));
            }
            if not_gamed != 0.0 {
                cols[ng_col].push((r, not_gamed));
            }
            y.push(row.y);
            r += 1;
        }
    }
    let n_rows = y.len();
    let x = Design { n_rows, cols };
    let s = vec![1.0; n_rows];
    let folds = group_folds(n_rows, 5);
    let cv = cross_validate(&x, &y, &s, &folds, &default_c_grid(), solver)?;
    let mut difficulty = vec![0.0; n_instructions];
    for (k, dk) in difficulty.iter_mut().enumerate().skip(1) {
        *dk = cv.fit.w[inst_col(k)];
    }
    Ok(DifficultyFit { difficulty, c: cv.best_c, n_rows, n_cols })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_ordering_of_hard_instructions() {
        // Three models, 12 instructions; instruction k is harder (lower win prob) as k grows.
        let models: Vec<JointModel> = (0..3)
            .map(|m| JointModel {
                name: format!("m{m}"),
                rows: (0..12)
                    .map(|k| JointRow { index: k, y: 1.0 / (1.0 + (0.3 * k as f64 - 0.5 * m as f64).exp()), delta_len: ((k * 7 + m * 3) % 5) as f64 - 2.0 })
                    .collect(),
            })
            .collect();
        let fit = estimate_difficulty(&models, 12, "m0", SolverOptions::default()).unwrap();
        assert_eq!(fit.difficulty[0], 0.0);
        assert_eq!(fit.n_cols, 3 + 11 + 3 + 1);
        // Larger k -> lower win probability -> more negative coefficient.
        assert!(fit.difficulty[11] < fit.difficulty[6] && fit.difficulty[6] < fit.difficulty[1], "{:?}", fit.difficulty);
    }

    #[test]
    fn gamed_baseline_names() {
        assert!(is_gamed_baseline("gpt4_1106_preview_verbose", "gpt4_1106_preview"));
        assert!(!is_gamed_baseline("gpt4_1106_preview", "gpt4_1106_preview"));
        assert!(!is_gamed_baseline("alpaca-7b_concise", "gpt4_1106_preview"));
    }
}
