//! PAR's reward shaping and the baselines it compares (spec "Method"), as pure functions of the
//! proxy reward, the prompt's stored reference rewards and the run's running statistics.
//!
//! ```text
//! length penalty   r̃ = r − 0.01·max(0, L − 300)                         (before every shaping)
//! PAR              (1/M) Σ_m σ(k·(r̃ − r̃_ref^m))                          (the method)
//! Sigmoid          σ(k·r̃)                    Centered   mean_m(r̃ − r̃_ref^m)
//! Meanstd          (r̃ − μ)/σ                 Clip       clip(r̃, μ − σ, μ + σ)
//! Minmax           (r̃ − min)/(max − min)     LSC        log σ(r̃ − q_0.85(N(mean_ref, std_ref + 1e-5)))
//! SgFc             (1/M) Σ_m σ(k·(r̃ − 3 − r̃_ref^m))   (the code's form)   Ceil  min(r̃, c)
//! ```
//! μ, σ (population), min, max are running statistics over every batch so far, updated with the
//! current batch before it is transformed.

use serde::{Deserialize, Serialize};

/// σ(z) = 1 / (1 + e^{−z}).
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// log σ(z), stable for large |z|.
pub fn log_sigmoid(z: f64) -> f64 {
    if z >= 0.0 { -(-z).exp().ln_1p() } else { z - z.exp().ln_1p() }
}

/// The length penalty: `r − coef·max(0, L − threshold)` (`gen_valid_len` 300, `len_penalty` 0.01).
pub fn length_penalised(r: f64, len: usize, threshold: usize, coef: f64) -> f64 {
    r - coef * (len as f64 - threshold as f64).max(0.0)
}

/// Running statistics (Chan et al.'s batch merge): mean, population variance `M2/n`, min, max.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunningStats {
    pub n: f64,
    pub mean: f64,
    pub m2: f64,
    pub min: f64,
    pub max: f64,
}

impl RunningStats {
    pub fn update(&mut self, batch: &[f64]) {
        if batch.is_empty() {
            return;
        }
        let nb = batch.len() as f64;
        let mb = batch.iter().sum::<f64>() / nb;
        let m2b = batch.iter().map(|x| (x - mb).powi(2)).sum::<f64>();
        let (lo, hi) = batch.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        if self.n == 0.0 {
            *self = RunningStats { n: nb, mean: mb, m2: m2b, min: lo, max: hi };
            return;
        }
        let n = self.n + nb;
        let delta = mb - self.mean;
        self.m2 += m2b + delta * delta * self.n * nb / n;
        self.mean += delta * nb / n;
        self.n = n;
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
    }

    /// Population standard deviation.
    pub fn std(&self) -> f64 {
        if self.n > 0.0 { (self.m2 / self.n).sqrt() } else { 0.0 }
    }
}

/// Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation refined by one Halley
/// step; |error| < 1e-12 on (0, 1)).
pub fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let pl = 0.02425;
    let x = if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step on Φ(x) − p.
    let e = 0.5 * erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7; refined by the Halley step).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * (-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))).exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The 85th percentile of N(mean, std + 1e-5) fitted to the reference rewards (sample std).
pub fn lsc_quantile(refs: &[f64]) -> f64 {
    let n = refs.len() as f64;
    let mean = refs.iter().sum::<f64>() / n;
    let sd = if refs.len() > 1 { (refs.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    mean + (sd + 1e-5) * probit(0.85)
}

/// A shaping method (config: `shaping = { type = "par", m = 10, k = 1.0 }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Shaping {
    Vanilla,
    Meanstd,
    Clip,
    Minmax,
    Lsc,
    Par { m: usize, k: f64 },
    Sigmoid { k: f64 },
    Centered,
    Sgfc { k: f64 },
    Ceil { c: f64 },
}

impl Shaping {
    /// How many stored references a method reads (LSC reads all of them).
    pub fn references(&self) -> usize {
        match self {
            Shaping::Par { m, .. } => *m,
            Shaping::Centered | Shaping::Sgfc { .. } => usize::MAX,
            _ => 0,
        }
    }

    /// Whether the shaped reward always lies in (0, 1).
    pub fn bounded_01(&self) -> bool {
        matches!(self, Shaping::Par { .. } | Shaping::Sigmoid { .. } | Shaping::Sgfc { .. })
    }

    /// The shaped reward of `r̃` for a prompt with stored reference rewards `refs` (already
    /// length-penalised), given running statistics that include the current batch. Minmax with
    /// max = min (0/0, no guard in the paper) gives 0.5.
    pub fn apply(&self, r: f64, refs: &[f64], stats: &RunningStats) -> f64 {
        let first = |m: usize| &refs[..m.min(refs.len())];
        let mean = |v: &[f64], f: &dyn Fn(f64) -> f64| v.iter().map(|&x| f(x)).sum::<f64>() / v.len().max(1) as f64;
        match self {
            Shaping::Vanilla => r,
            Shaping::Meanstd => (r - stats.mean) / if stats.std() == 0.0 { 1.0 } else { stats.std() },
            Shaping::Clip => r.clamp(stats.mean - stats.std(), stats.mean + stats.std()),
            Shaping::Minmax => {
                if stats.max > stats.min { (r - stats.min) / (stats.max - stats.min) } else { 0.5 }
            }
            Shaping::Lsc => log_sigmoid(r - lsc_quantile(refs)),
            Shaping::Par { m, k } => mean(first(*m), &|x| sigmoid(k * (r - x))),
            Shaping::Sigmoid { k } => sigmoid(k * r),
            Shaping::Centered => mean(refs, &|x| r - x),
            Shaping::Sgfc { k } => mean(refs, &|x| sigmoid(k * (r - 3.0 - x))),
            Shaping::Ceil { c } => r.min(*c),
        }
    }
}

/// The reward-model losses of spec vector 8: Bradley–Terry `−log σ(r_w − r_l)` and Reg, which
/// adds `λ·(r_w² + r_l²)`.
pub fn rm_loss(r_w: f64, r_l: f64, reg: f64) -> f64 {
    -log_sigmoid(r_w - r_l) + reg * (r_w * r_w + r_l * r_l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: f64, b: f64) {
        assert!((a - b).abs() <= 5e-6 * b.abs().max(1.0), "{a} vs {b}");
    }

    const NO: RunningStats = RunningStats { n: 0.0, mean: 0.0, m2: 0.0, min: 0.0, max: 0.0 };

    #[test]
    fn vectors_1_to_3_par_and_length_penalty() {
        near(Shaping::Par { m: 1, k: 1.0 }.apply(2.0, &[1.0], &NO), 0.731059);
        near(Shaping::Par { m: 1, k: 2.0 }.apply(2.0, &[1.0], &NO), 0.880797);
        near(Shaping::Par { m: 3, k: 1.0 }.apply(2.0, &[1.0, 3.0, 2.5], &NO), 0.459180);
        // M = 1 reads only the first stored reference.
        near(Shaping::Par { m: 1, k: 1.0 }.apply(2.0, &[1.0, 3.0, 2.5], &NO), 0.731059);
        let r = length_penalised(2.0, 350, 300, 0.01);
        near(r, 1.5);
        near(Shaping::Par { m: 1, k: 1.0 }.apply(r, &[1.2], &NO), 0.574443);
        near(length_penalised(2.0, 300, 300, 0.01), 2.0);
    }

    #[test]
    fn vectors_4_to_6_centered_lsc_sgfc() {
        near(Shaping::Centered.apply(2.0, &[1.0, 3.0, 2.5], &NO), -0.166667);
        // Centred tanh with refs [1, 3]: mean(tanh(1), tanh(−1)) = 0.
        near([1.0f64, 3.0].iter().map(|x| (2.0 - x).tanh()).sum::<f64>() / 2.0, 0.0);
        near(lsc_quantile(&[1.0, 2.0, 3.0]), 3.03644);
        near(Shaping::Lsc.apply(2.5, &[1.0, 2.0, 3.0], &NO), -0.996917);
        near(Shaping::Sgfc { k: 1.0 }.apply(5.0, &[1.0], &NO), 0.731059);
    }

    #[test]
    fn vector_7_running_statistics() {
        let mut s = RunningStats::default();
        s.update(&[1.0, 2.0, 3.0, 4.0]);
        s.update(&[0.0, 6.0]);
        near(s.mean, 2.66667);
        near(s.std(), 1.97203);
        let apply = |m: Shaping| [0.0, 6.0].map(|r| m.apply(r, &[], &s));
        let [a, b] = apply(Shaping::Meanstd);
        near(a, -1.35225);
        near(b, 1.69031);
        let [a, b] = apply(Shaping::Clip);
        near(a, 0.694640);
        near(b, 4.63869);
        assert_eq!(apply(Shaping::Minmax), [0.0, 1.0]);
        // max = min: the guard.
        let mut one = RunningStats::default();
        one.update(&[2.0]);
        assert_eq!(Shaping::Minmax.apply(2.0, &[], &one), 0.5);
        assert_eq!(Shaping::Meanstd.apply(2.0, &[], &one), 0.0);
    }

    #[test]
    fn vector_8_rm_losses() {
        near(rm_loss(1.5, -0.5, 0.0), 0.126928);
        near(rm_loss(1.5, -0.5, 0.005), 0.139428);
    }

    #[test]
    fn probit_and_log_sigmoid() {
        near(probit(0.85), 1.0364333894937898);
        near(probit(0.5), 0.0);
        near(probit(0.01), -2.3263478740408408);
        near(log_sigmoid(-800.0), -800.0);
        near(log_sigmoid(800.0), 0.0);
        near(log_sigmoid(0.3), sigmoid(0.3).ln());
    }

    #[test]
    fn par_is_bounded_and_saturates() {
        let s = Shaping::Par { m: 2, k: 1.0 };
        for r in [-50.0, -1.0, 0.0, 1.0, 50.0] {
            let v = s.apply(r, &[0.0, 0.5], &NO);
            assert!((0.0..=1.0).contains(&v), "{v}");
        }
        // Fast growth near the references, then saturation.
        let slope = |r: f64| s.apply(r + 1e-3, &[0.0, 0.0], &NO) - s.apply(r, &[0.0, 0.0], &NO);
        assert!(slope(0.0) > 10.0 * slope(5.0));
    }
}
