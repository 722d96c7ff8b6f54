//! Weighted L1-regularised logistic regression on soft labels, solved to the exact optimum,
//! and the grouped K-fold cross-validation over C that `LogisticRegressionCV` performs.
//!
//! Objective (liblinear's L1 logistic regression, no intercept, every coefficient penalised):
//!
//! ```text
//! F(w) = ||w||_1 + C * sum_r s_r * [ y_r log(1 + e^{-w.x_r}) + (1 - y_r) log(1 + e^{w.x_r}) ]
//! ```
//!
//! A row with soft label y and weight s is exactly the pair (class 1, weight y s) and (class 0,
//! weight (1 - y) s) that upstream builds, so no rows are duplicated here. The solver is a proximal
//! Newton method (the newGLMNET scheme of liblinear): a quadratic model of the smooth part,
//! minimised with the L1 term by cyclic coordinate descent, then a backtracking line search. It
//! stops when the largest violation of the optimality (KKT) conditions is below `tol` relative to
//! the gradient at zero, so results do not depend on a coordinate order or an early stop.

use crate::error::{Error, Result};

/// A sparse design matrix stored by columns (a dense matrix is the case where every entry is kept).
#[derive(Debug, Clone)]
pub struct Design {
    pub n_rows: usize,
    /// For each column, its non-zero entries as (row, value).
    pub cols: Vec<Vec<(u32, f64)>>,
}

impl Design {
    /// From dense rows (all of the same width).
    pub fn from_rows(rows: &[Vec<f64>]) -> Design {
        let p = rows.first().map_or(0, |r| r.len());
        let mut cols = vec![Vec::with_capacity(rows.len()); p];
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.len(), p, "every row of a design needs the same width");
            for (j, &v) in r.iter().enumerate() {
                if v != 0.0 {
                    cols[j].push((i as u32, v));
                }
            }
        }
        Design { n_rows: rows.len(), cols }
    }
    pub fn n_cols(&self) -> usize {
        self.cols.len()
    }
    /// z = X w.
    pub fn mul(&self, w: &[f64]) -> Vec<f64> {
        let mut z = vec![0.0; self.n_rows];
        for (col, &wj) in self.cols.iter().zip(w) {
            if wj != 0.0 {
                for &(i, v) in col {
                    z[i as usize] += v * wj;
                }
            }
        }
        z
    }
}

/// Solver settings. `tol` bounds the KKT violation relative to max(1, |gradient at 0|_inf).
#[derive(Debug, Clone, Copy)]
pub struct SolverOptions {
    pub tol: f64,
    pub max_newton: usize,
    pub max_inner_sweeps: usize,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions { tol: 1e-10, max_newton: 200, max_inner_sweeps: 200 }
    }
}

/// A fitted model: coefficients and how the solver got there.
#[derive(Debug, Clone)]
pub struct Fit {
    pub w: Vec<f64>,
    pub newton_iterations: usize,
    /// Final KKT violation, relative (see [`SolverOptions::tol`]).
    pub kkt: f64,
}

/// log(1 + e^z) without overflow.
pub fn log1pexp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Soft-label logistic loss of one row at margin z: y log(1+e^{-z}) + (1-y) log(1+e^{z}).
fn row_loss(y: f64, z: f64) -> f64 {
    y * log1pexp(-z) + (1.0 - y) * log1pexp(z)
}

fn objective(z: &[f64], y: &[f64], s: &[f64], c: f64, w: &[f64]) -> f64 {
    let l1: f64 = w.iter().map(|v| v.abs()).sum();
    let loss: f64 = z.iter().zip(y).zip(s).filter(|(_, &si)| si != 0.0).map(|((&zi, &yi), &si)| si * row_loss(yi, zi)).sum();
    l1 + c * loss
}

/// Minimise F(w) (module doc) for one C. `y` in [0, 1], `s` >= 0 (a zero weight removes a row).
pub fn fit_l1(x: &Design, y: &[f64], s: &[f64], c: f64, warm: Option<&[f64]>, opt: SolverOptions) -> Result<Fit> {
    let (n, p) = (x.n_rows, x.n_cols());
    if y.len() != n || s.len() != n {
        return Err(Error::invalid("logistic fit", format!("{n} design rows but {} labels and {} weights", y.len(), s.len())));
    }
    if let Some(r) = (0..n).find(|&r| !(0.0..=1.0).contains(&y[r]) || !(s[r] >= 0.0) || !s[r].is_finite()) {
        return Err(Error::invalid("logistic fit", format!("row {r}: label {} must lie in [0, 1] and weight {} be finite and >= 0", y[r], s[r])));
    }
    if !(c > 0.0) {
        return Err(Error::invalid("logistic fit", format!("C = {c} must be positive")));
    }
    let mut w = warm.map(|w| w.to_vec()).unwrap_or_else(|| vec![0.0; p]);
    let mut z = x.mul(&w);
    // Scale of the problem: the gradient of the smooth part at w = 0.
    let g0 = gradient(x, y, s, c, &vec![0.0; n]);
    let scale = g0.iter().fold(1.0f64, |m, g| m.max(g.abs()));
    let mut f = objective(&z, y, s, c, &w);
    let mut kkt = f64::INFINITY;
    let mut it = 0;
    while it < opt.max_newton {
        let g = gradient(x, y, s, c, &z);
        kkt = kkt_violation(&w, &g) / scale;
        if kkt < opt.tol {
            break;
        }
        it += 1;
        // Curvature of the smooth part per row: C s_r q_r (1 - q_r).
        let dcurv: Vec<f64> = z.iter().zip(s).map(|(&zi, &si)| {
            let q = sigmoid(zi);
            c * si * q * (1.0 - q)
        }).collect();
        let hdiag: Vec<f64> = x.cols.iter().map(|col| col.iter().map(|&(i, v)| dcurv[i as usize] * v * v).sum::<f64>() + 1e-12).collect();
        // Coordinate descent on  g.d + 1/2 d'Hd + ||w + d||_1, keeping Xd up to date.
        let mut d = vec![0.0; p];
        let mut xd = vec![0.0; n];
        let inner_tol = (kkt * scale * 1e-3).max(opt.tol * scale * 1e-3);
        for _ in 0..opt.max_inner_sweeps {
            let mut biggest: f64 = 0.0;
            for j in 0..p {
                let a = hdiag[j];
                let hd_j: f64 = x.cols[j].iter().map(|&(i, v)| dcurv[i as usize] * v * xd[i as usize]).sum();
                let b = g[j] + hd_j;
                let u = w[j] + d[j];
                let t = soft_threshold(u - b / a, 1.0 / a);
                let step = t - u;
                if step != 0.0 {
                    d[j] += step;
                    for &(i, v) in &x.cols[j] {
                        xd[i as usize] += step * v;
                    }
                    biggest = biggest.max(step.abs() * a);
                }
            }
            if biggest < inner_tol {
                break;
            }
        }
        // CD converges slowly along correlated columns; finish the subproblem on its active set
        // (sign pattern fixed) with preconditioned conjugate gradients, which is exact there.
        refine_on_active_set(x, &dcurv, &hdiag, &g, &w, &mut d, &mut xd);
        // Backtracking line search with the sufficient-decrease test of newGLMNET.
        let l1_w: f64 = w.iter().map(|v| v.abs()).sum();
        let l1_new: f64 = w.iter().zip(&d).map(|(a, b)| (a + b).abs()).sum();
        let delta = g.iter().zip(&d).map(|(a, b)| a * b).sum::<f64>() + l1_new - l1_w;
        if delta >= 0.0 {
            // The model predicts no decrease: we are at the optimum up to rounding.
            break;
        }
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            let w_try: Vec<f64> = w.iter().zip(&d).map(|(a, b)| a + t * b).collect();
            let z_try: Vec<f64> = z.iter().zip(&xd).map(|(a, b)| a + t * b).collect();
            let f_try = objective(&z_try, y, s, c, &w_try);
            // Near the optimum the decrease is below rounding of F; accept the full Newton step there.
            if f_try <= f + 0.01 * t * delta || (t == 1.0 && -delta < 1e-13 * f.abs().max(1.0)) {
                w = w_try;
                z = z_try;
                f = f_try;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    if kkt.is_nan() || w.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("logistic fit", format!("solver diverged at C = {c}")));
    }
    // Report the violation at the returned point.
    let g = gradient(x, y, s, c, &z);
    kkt = kkt_violation(&w, &g) / scale;
    Ok(Fit { w, newton_iterations: it, kkt })
}

/// Value of the quadratic model q(d) = g.d + 1/2 d'Hd + ||w + d||_1, with xd = X d.
fn model_value(dcurv: &[f64], g: &[f64], w: &[f64], d: &[f64], xd: &[f64]) -> f64 {
    let quad: f64 = xd.iter().zip(dcurv).map(|(v, c)| c * v * v).sum();
    g.iter().zip(d).map(|(a, b)| a * b).sum::<f64>() + 0.5 * quad + w.iter().zip(d).map(|(a, b)| (a + b).abs()).sum::<f64>()
}

/// Minimise the quadratic model over the coordinates that are non-zero at w + d, keeping their
/// signs: H_AA d_A = -(g_A + sign_A + H_{A,rest} d_rest), by Jacobi-preconditioned CG from the
/// current d_A. Kept only if the signs stay and the model value drops.
fn refine_on_active_set(x: &Design, dcurv: &[f64], hdiag: &[f64], g: &[f64], w: &[f64], d: &mut Vec<f64>, xd: &mut Vec<f64>) {
    let active: Vec<usize> = (0..w.len()).filter(|&j| w[j] + d[j] != 0.0).collect();
    if active.is_empty() {
        return;
    }
    let sign: Vec<f64> = active.iter().map(|&j| (w[j] + d[j]).signum()).collect();
    // Hessian-vector product restricted to the active columns: (X_A' D X_A) v.
    let hv = |v: &[f64]| -> Vec<f64> {
        let mut xv = vec![0.0; x.n_rows];
        for (a, &j) in active.iter().enumerate() {
            for &(i, val) in &x.cols[j] {
                xv[i as usize] += val * v[a];
            }
        }
        for (t, c) in xv.iter_mut().zip(dcurv) {
            *t *= c;
        }
        active.iter().map(|&j| x.cols[j].iter().map(|&(i, val)| val * xv[i as usize]).sum()).collect()
    };
    // Residual r = -(gradient of q in d_A) = -(g_A + (H d)_A + sign_A), with (H d)_A from xd.
    let hd_full: Vec<f64> = active.iter().map(|&j| x.cols[j].iter().map(|&(i, v)| dcurv[i as usize] * v * xd[i as usize]).sum()).collect();
    let mut r: Vec<f64> = (0..active.len()).map(|a| -(g[active[a]] + hd_full[a] + sign[a])).collect();
    let pre: Vec<f64> = active.iter().map(|&j| 1.0 / hdiag[j]).collect();
    let mut da = vec![0.0; active.len()]; // change to d_A
    let mut z: Vec<f64> = r.iter().zip(&pre).map(|(a, b)| a * b).collect();
    let mut p = z.clone();
    let mut rz: f64 = r.iter().zip(&z).map(|(a, b)| a * b).sum();
    let r0 = r.iter().map(|v| v * v).sum::<f64>().sqrt();
    for _ in 0..(4 * active.len()).max(20).min(500) {
        if r.iter().map(|v| v * v).sum::<f64>().sqrt() <= 1e-14 * r0.max(1e-300) {
            break;
        }
        let hp = hv(&p);
        let php: f64 = p.iter().zip(&hp).map(|(a, b)| a * b).sum();
        if !(php > 0.0) {
            break;
        }
        let alpha = rz / php;
        for a in 0..da.len() {
            da[a] += alpha * p[a];
            r[a] -= alpha * hp[a];
        }
        z = r.iter().zip(&pre).map(|(a, b)| a * b).collect();
        let rz_new: f64 = r.iter().zip(&z).map(|(a, b)| a * b).sum();
        let beta = rz_new / rz;
        rz = rz_new;
        for a in 0..p.len() {
            p[a] = z[a] + beta * p[a];
        }
    }
    let mut d_new = d.clone();
    for (a, &j) in active.iter().enumerate() {
        d_new[j] += da[a];
        if (w[j] + d_new[j]).signum() != sign[a] {
            return;
        }
    }
    let mut xd_new = xd.clone();
    for (a, &j) in active.iter().enumerate() {
        for &(i, v) in &x.cols[j] {
            xd_new[i as usize] += da[a] * v;
        }
    }
    if model_value(dcurv, g, w, &d_new, &xd_new) <= model_value(dcurv, g, w, d, xd) {
        *d = d_new;
        *xd = xd_new;
    }
}

fn soft_threshold(v: f64, t: f64) -> f64 {
    if v > t {
        v - t
    } else if v < -t {
        v + t
    } else {
        0.0
    }
}

/// Gradient of the smooth part, C sum_r s_r (q_r - y_r) x_r, at margins z.
fn gradient(x: &Design, y: &[f64], s: &[f64], c: f64, z: &[f64]) -> Vec<f64> {
    let r: Vec<f64> = z.iter().zip(y).zip(s).map(|((&zi, &yi), &si)| c * si * (sigmoid(zi) - yi)).collect();
    x.cols.iter().map(|col| col.iter().map(|&(i, v)| r[i as usize] * v).sum()).collect()
}

/// Largest violation of 0 in g + d||w||_1.
fn kkt_violation(w: &[f64], g: &[f64]) -> f64 {
    w.iter().zip(g).map(|(&wj, &gj)| if wj > 0.0 { (gj + 1.0).abs() } else if wj < 0.0 { (gj - 1.0).abs() } else { (gj.abs() - 1.0).max(0.0) }).fold(0.0, f64::max)
}

/// `LogisticRegressionCV`'s default grid: 10 values 10^(-4 + 8k/9), k = 0..9.
pub fn default_c_grid() -> Vec<f64> {
    (0..10).map(|k| 10f64.powf(-4.0 + 8.0 * k as f64 / 9.0)).collect()
}

/// The project's fold rule (sklearn >= 1.6 `GroupKFold` with equal group sizes): with G groups,
/// group g goes to fold (G - 1 - g) mod k.
pub fn group_folds(n_groups: usize, k: usize) -> Vec<usize> {
    (0..n_groups).map(|g| (n_groups - 1 - g) % k).collect()
}

/// Outcome of cross-validating C.
#[derive(Debug, Clone)]
pub struct CvResult {
    pub grid: Vec<f64>,
    /// Mean score over folds per C (negative weighted log-loss; higher is better).
    pub scores: Vec<f64>,
    pub best_c: f64,
    /// The refit on all rows at `best_c`.
    pub fit: Fit,
}

/// Weighted cross-entropy score of one fold: -(mean over its rows of s_r * CE_r), q clipped to
/// [1e-15, 1 - 1e-15] as sklearn's `log_loss` does.
fn fold_score(z: &[f64], y: &[f64], s: &[f64], rows: &[usize]) -> f64 {
    let total: f64 = rows.iter().map(|&r| {
        let q = sigmoid(z[r]).clamp(1e-15, 1.0 - 1e-15);
        s[r] * -(y[r] * q.ln() + (1.0 - y[r]) * (1.0 - q).ln())
    }).sum();
    -total / rows.len() as f64
}

/// Cross-validate C over `grid` with the given fold of every row, pick the best (first on a tie),
/// refit on all rows. Each fold warm-starts along the grid; the optimum does not depend on it.
pub fn cross_validate(x: &Design, y: &[f64], s: &[f64], fold: &[usize], grid: &[f64], opt: SolverOptions) -> Result<CvResult> {
    let k = fold.iter().max().map_or(0, |m| m + 1);
    if fold.len() != x.n_rows || k < 2 {
        return Err(Error::invalid("cross-validation", format!("{} rows but {} fold labels over {k} folds (need >= 2)", x.n_rows, fold.len())));
    }
    let mut sums = vec![0.0; grid.len()];
    for f in 0..k {
        let test: Vec<usize> = (0..x.n_rows).filter(|&r| fold[r] == f).collect();
        let s_train: Vec<f64> = (0..x.n_rows).map(|r| if fold[r] == f { 0.0 } else { s[r] }).collect();
        let mut warm: Option<Vec<f64>> = None;
        for (ci, &c) in grid.iter().enumerate() {
            let fit = fit_l1(x, y, &s_train, c, warm.as_deref(), opt)?;
            let z = x.mul(&fit.w);
            sums[ci] += fold_score(&z, y, s, &test);
            warm = Some(fit.w);
        }
    }
    let scores: Vec<f64> = sums.iter().map(|v| v / k as f64).collect();
    let mut best = 0;
    for i in 1..scores.len() {
        if scores[i] > scores[best] {
            best = i;
        }
    }
    let fit = fit_l1(x, y, s, grid[best], None, opt)?;
    Ok(CvResult { grid: grid.to_vec(), scores, best_c: grid[best], fit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_matches_sklearn_default() {
        let g = default_c_grid();
        assert!((g[0] - 1e-4).abs() < 1e-18 && (g[9] - 1e4).abs() < 1e-9);
        assert!((g[5] - 2.782559402207126).abs() < 1e-12);
    }

    #[test]
    fn folds_follow_stable_group_kfold() {
        assert_eq!(group_folds(7, 5), vec![1, 0, 4, 3, 2, 1, 0]);
    }

    #[test]
    fn soft_labels_equal_duplicated_hard_rows() {
        // One soft row (y = 0.7, s = 2) has the same optimum as class-1 weight 1.4 plus class-0 weight 0.6.
        let x1 = Design::from_rows(&[vec![1.0, 0.5], vec![-0.3, 1.0], vec![0.8, -1.0]]);
        let y1 = [0.7, 0.2, 0.9];
        let s1 = [2.0, 1.0, 1.0];
        let xs: Vec<Vec<f64>> = vec![vec![1.0, 0.5], vec![-0.3, 1.0], vec![0.8, -1.0], vec![1.0, 0.5], vec![-0.3, 1.0], vec![0.8, -1.0]];
        let x2 = Design::from_rows(&xs);
        let y2 = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let s2 = [1.4, 0.2, 0.9, 0.6, 0.8, 0.1];
        let a = fit_l1(&x1, &y1, &s1, 3.0, None, SolverOptions::default()).unwrap();
        let b = fit_l1(&x2, &y2, &s2, 3.0, None, SolverOptions::default()).unwrap();
        for (u, v) in a.w.iter().zip(&b.w) {
            assert!((u - v).abs() < 1e-9, "{:?} vs {:?}", a.w, b.w);
        }
    }

    #[test]
    fn strong_penalty_gives_all_zero() {
        let x = Design::from_rows(&[vec![1.0], vec![-1.0]]);
        let fit = fit_l1(&x, &[0.9, 0.1], &[1.0, 1.0], 1e-4, None, SolverOptions::default()).unwrap();
        assert_eq!(fit.w, vec![0.0]);
    }

    #[test]
    fn bad_labels_are_rejected() {
        let x = Design::from_rows(&[vec![1.0]]);
        let err = fit_l1(&x, &[1.5], &[1.0], 1.0, None, SolverOptions::default()).unwrap_err();
        assert!(err.to_string().contains("row 0"), "{err}");
    }
}
