//! The density-ratio reward (spec "The density-ratio reward"): for a response's per-token
//! log-probs under the strong and the weak model,
//!
//! ```text
//! r_DR(x, y) = Σ_t log π_s(y_t | x, y_<t) − Σ_t log π_w(y_t | x, y_<t)      (sum, the paper's)
//! r_DR_mean  = r_DR / T_s                                                  (reward_hub's avg variant)
//! P(y1 ≻ y2 | x) = σ(r_DR(x, y1) − r_DR(x, y2))                            (Bradley–Terry)
//! ```
//!
//! β and `log Z(x)` cancel between two responses to one prompt, so ranking needs the plain ratio.

use serde::{Deserialize, Serialize};

/// How the summed log ratio is normalised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalise {
    /// The sum over response tokens (the released annotation code).
    None,
    /// The sum divided by the strong model's response-token count (`max(1, T_s)`).
    Mean,
}

/// `r_DR` from the two models' summed response log-probs and the strong model's token count.
pub fn reward(sum_strong: f64, sum_weak: f64, tokens_strong: usize, normalise: Normalise) -> f64 {
    let r = sum_strong - sum_weak;
    match normalise {
        Normalise::None => r,
        Normalise::Mean => r / tokens_strong.max(1) as f64,
    }
}

/// `r_DR` from per-token log-probs (each model's own tokens).
pub fn reward_of_tokens(strong: &[f64], weak: &[f64], normalise: Normalise) -> f64 {
    reward(strong.iter().sum(), weak.iter().sum(), strong.len(), normalise)
}

/// `P(y1 ≻ y2) = σ(r1 − r2)`.
pub fn preference(r1: f64, r2: f64) -> f64 {
    1.0 / (1.0 + (r2 - r1).exp())
}

/// The released pair rule (initial commit): chosen = first argmax, rejected = first argmin; `None`
/// when every score is equal (the prompt is skipped).
pub fn best_vs_worst(scores: &[f64]) -> Option<(usize, usize)> {
    let first = |better: fn(f64, f64) -> bool| scores.iter().enumerate().fold(None, |acc: Option<(usize, f64)>, (i, &s)| match acc {
        Some((_, b)) if !better(s, b) => acc,
        _ => Some((i, s)),
    });
    let (hi, lo) = (first(|s, b| s > b)?, first(|s, b| s < b)?);
    (hi.1 > lo.1).then_some((hi.0, lo.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Spec test vector 1: sum ranks A ≻ B, mean ranks B ≻ A; σ(r_A − r_B) = 0.598688.
    #[test]
    fn sum_and_mean_rank_differently() {
        let (sa, wa) = ([-0.5, -1.0, -0.2, -0.3], [-1.0, -1.5, -0.4, -0.3]);
        let (sb, wb) = ([-0.1, -0.2], [-0.5, -0.6]);
        let (ra, rb) = (reward_of_tokens(&sa, &wa, Normalise::None), reward_of_tokens(&sb, &wb, Normalise::None));
        assert!(close(ra, 1.2) && close(rb, 0.8));
        assert!(close(reward_of_tokens(&sa, &wa, Normalise::Mean), 0.3) && close(reward_of_tokens(&sb, &wb, Normalise::Mean), 0.4));
        assert!(close(preference(ra, rb), 0.598688));
    }

    /// Spec test vector 2: one shared prompt token (strong −0.7, weak −0.9) in both spans keeps
    /// the sum ranking and shifts the means to 0.28 and 0.333333.
    #[test]
    fn a_shared_prompt_token_cancels_in_the_sum_only() {
        let a = reward_of_tokens(&[-0.7, -0.5, -1.0, -0.2, -0.3], &[-0.9, -1.0, -1.5, -0.4, -0.3], Normalise::None);
        let b = reward_of_tokens(&[-0.7, -0.1, -0.2], &[-0.9, -0.5, -0.6], Normalise::None);
        assert!(close(a, 1.4) && close(b, 1.0));
        assert!(close(reward_of_tokens(&[-0.7, -0.5, -1.0, -0.2, -0.3], &[-0.9, -1.0, -1.5, -0.4, -0.3], Normalise::Mean), 0.28));
        assert!(close(reward_of_tokens(&[-0.7, -0.1, -0.2], &[-0.9, -0.5, -0.6], Normalise::Mean), 1.0 / 3.0));
    }

    /// Spec test vector 3: first argmax 2, first argmin 1; all equal ⇒ skipped.
    #[test]
    fn pair_rule_takes_the_first_max_and_min() {
        assert_eq!(best_vs_worst(&[1.2, -0.4, 3.1, 3.1, 0.0]), Some((2, 1)));
        assert_eq!(best_vs_worst(&[0.5, 0.5, 0.5]), None);
        assert_eq!(best_vs_worst(&[]), None);
    }
}
