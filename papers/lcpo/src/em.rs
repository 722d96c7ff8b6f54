//! The population EM operator of Thm 4.1: with a perfectly calibrated model, iterating
//! `η ← T(η) = E[p*η / (p*η + (1 − p*)(1 − η))]` converges to the true reliability η* from any
//! start in (0, 1).
//!
//! The population (spec test vector 7): latent preference probabilities `p` with weights; the
//! observed label agrees with the latent-likely order with probability `q = pη* + (1 − p)(1 − η*)`,
//! and the model's probability of the observed order is then `p` (else `1 − p`).

use crate::link::posterior;

/// One application of `T` (exact expectation over the population).
pub fn step(eta: f64, latent: &[(f64, f64)], true_eta: f64) -> f64 {
    let total: f64 = latent.iter().map(|(_, m)| m).sum();
    latent
        .iter()
        .map(|&(p, mass)| {
            let q = p * true_eta + (1.0 - p) * (1.0 - true_eta);
            mass / total * (q * posterior(p, eta) + (1.0 - q) * posterior(1.0 - p, eta))
        })
        .sum()
}

/// η after each of `iterations` applications of `T` from `eta0`.
pub fn trajectory(eta0: f64, latent: &[(f64, f64)], true_eta: f64, iterations: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(iterations);
    let mut eta = eta0;
    for _ in 0..iterations {
        eta = step(eta, latent, true_eta);
        out.push(eta);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATENT: [(f64, f64); 3] = [(0.6, 1.0), (0.8, 1.0), (0.95, 1.0)];

    #[test]
    fn spec_test_vector_7_population_em() {
        let t = trajectory(0.9, &LATENT, 0.7, 50);
        for (i, want) in [(1, 0.847423), (2, 0.801504), (5, 0.727367), (20, 0.700022), (50, 0.7)] {
            assert!((t[i - 1] - want).abs() < 1e-6, "from 0.9, iteration {i}: {} vs {want}", t[i - 1]);
        }
        let t = trajectory(0.55, &LATENT, 0.7, 50);
        for (i, want) in [(1, 0.610288), (5, 0.687532), (50, 0.7)] {
            assert!((t[i - 1] - want).abs() < 1e-6, "from 0.55, iteration {i}: {} vs {want}", t[i - 1]);
        }
    }

    #[test]
    fn converges_to_the_true_reliability_from_any_start() {
        for true_eta in [0.6, 0.8, 0.95] {
            for eta0 in [0.51, 0.75, 0.99] {
                let last = *trajectory(eta0, &LATENT, true_eta, 400).last().unwrap();
                assert!((last - true_eta).abs() < 1e-4, "η* {true_eta} from {eta0}: {last}");
            }
        }
    }
}
