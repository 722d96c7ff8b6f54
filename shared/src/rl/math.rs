//! The arithmetic of PPO and GRPO on token-aligned `[B, T]` tensors (one row per sampled
//! response, one column per response token, `mask` 1 on real tokens): masked statistics and
//! whitening, KL estimators, per-token rewards, GAE and returns, the clipped policy and value
//! losses, group-normalised advantages. Pure functions, no model: `rl::tests` checks them
//! against TRL's own code (`fixtures/make_rl_fixtures.py`) and the specs' test vectors.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// `Σ v·m / Σ m` over every entry.
pub fn masked_mean(v: &Tensor, mask: &Tensor) -> Tensor {
    (v * mask).sum(v.kind()) / mask.sum(v.kind())
}

/// The masked variance; `unbiased` multiplies by `n / (n − 1)` (Bessel), as TRL's `masked_var`
/// does by default; PAR's helper returns the population variance whatever its flag says.
pub fn masked_var(v: &Tensor, mask: &Tensor, unbiased: bool) -> Tensor {
    let mean = masked_mean(v, mask);
    let var = masked_mean(&(v - mean).square(), mask);
    if unbiased {
        let n = mask.sum(Kind::Double).double_value(&[]);
        var * (n / (n - 1.0))
    } else {
        var
    }
}

/// `(v − mean) / sqrt(var + 1e-8)` over the masked entries (the mean added back when
/// `shift_mean` is false, TRL's reward whitening).
pub fn masked_whiten(v: &Tensor, mask: &Tensor, unbiased: bool, shift_mean: bool) -> Tensor {
    let mean = masked_mean(v, mask);
    let w = (v - &mean) * (masked_var(v, mask, unbiased) + 1e-8).rsqrt();
    if shift_mean {
        w
    } else {
        w + mean
    }
}

/// How advantages are whitened over all valid tokens of a rollout batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Whiten {
    None,
    /// Population variance (PAR's helper).
    Population,
    /// Bessel-corrected variance (TRL's `masked_whiten`).
    Unbiased,
}

/// Per-token estimators of KL(π ‖ π_ref) from the sampled token's log-probs `ℓ` and `ℓ_ref`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlEstimator {
    /// `ℓ − ℓ_ref` (Schulman's k1; TRL `kl_penalty="kl"`, PAR).
    K1,
    /// `|ℓ − ℓ_ref|`.
    Abs,
    /// `½(ℓ − ℓ_ref)²` (k2).
    Mse,
    /// `exp(ℓ_ref − ℓ) − 1 − (ℓ_ref − ℓ)` (k3; GRPO's KL loss, AutoRule spec test vector 5).
    K3,
}

/// The per-token KL estimate `[B, T]`.
pub fn kl(logp: &Tensor, ref_logp: &Tensor, est: KlEstimator) -> Tensor {
    let d = logp - ref_logp;
    match est {
        KlEstimator::K1 => d,
        KlEstimator::Abs => d.abs(),
        KlEstimator::Mse => d.square() * 0.5,
        KlEstimator::K3 => (-&d).exp() - 1.0 + d,
    }
}

/// Index of each row's last valid token (rows must have one).
fn last_index(mask: &Tensor) -> Result<Tensor> {
    let t = mask.size()[1];
    let n = mask.sum_dim_intlist(1, false, Kind::Int64);
    if n.min().int64_value(&[]) < 1 {
        return Err(Error::invalid("rl", "a response has no tokens"));
    }
    let pos = Tensor::arange(t, (Kind::Int64, mask.device())).unsqueeze(0) * mask.gt(0.0).to_kind(Kind::Int64);
    Ok(pos.argmax(1, true))
}

/// Per-token rewards (PAR spec step 4, TRL `compute_rewards`): `ρ_t = −c·KL_t` on every response
/// token, plus the sequence's score `R` on its last token. Returns `(ρ, KL_t)`, both masked.
pub fn token_rewards(scores: &Tensor, logp: &Tensor, ref_logp: &Tensor, mask: &Tensor, coef: f64, est: KlEstimator) -> Result<(Tensor, Tensor)> {
    let k = kl(logp, ref_logp, est) * mask;
    let last = last_index(mask)?;
    let bonus = Tensor::zeros_like(&k).scatter(1, &last, &scores.to_kind(k.kind()).unsqueeze(1));
    Ok((&k * (-coef) + bonus, k))
}

/// Generalised advantage estimation (Schulman et al. 2016, Eq. 16; PAR spec step 5):
/// `δ_t = ρ_t + γ V_{t+1} − V_t` (V = 0 after the last token), `A_t = δ_t + γλ A_{t+1}`.
/// Values and rewards are masked first, as TRL's `compute_advantages` does.
pub fn gae(rewards: &Tensor, values: &Tensor, mask: &Tensor, gamma: f64, lambda: f64) -> Tensor {
    let (r, v) = (rewards * mask, values * mask);
    let t = r.size()[1];
    let mut last = Tensor::zeros_like(&r.select(1, 0));
    let mut out = Vec::with_capacity(t as usize);
    for i in (0..t).rev() {
        let next = if i + 1 < t { v.select(1, i + 1) } else { Tensor::zeros_like(&last) };
        let delta = r.select(1, i) + next * gamma - v.select(1, i);
        last = delta + &last * (gamma * lambda);
        out.push(last.shallow_clone());
    }
    out.reverse();
    Tensor::stack(&out, 1)
}

/// The critic's regression target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Returns {
    /// `G_t = A_t + V_t` (TRL).
    Gae,
    /// `G_t = Σ_{s≥t} γ^{s−t} ρ_s`, the Monte-Carlo reward-to-go (PAR).
    MonteCarlo,
}

/// Returns `[B, T]` of either kind (masked).
pub fn returns(kind: Returns, rewards: &Tensor, values: &Tensor, advantages: &Tensor, mask: &Tensor, gamma: f64) -> Tensor {
    match kind {
        Returns::Gae => (advantages + values * mask) * mask,
        Returns::MonteCarlo => gae(rewards, &Tensor::zeros_like(values), mask, gamma, 1.0) * mask,
    }
}

/// The clipped surrogate (Schulman et al. 2017, Eq. 7), per token, as a loss:
/// `max(−A·r, −A·clip(r, 1−ε, 1+ε))` with `r = exp(ℓ − ℓ_old)`. Also returns where the clipped
/// branch was taken (TRL's `clipfrac`) as 0/1.
pub fn policy_loss(logp: &Tensor, old_logp: &Tensor, advantages: &Tensor, clip: f64) -> (Tensor, Tensor) {
    let ratio = (logp - old_logp).exp();
    let l1 = -advantages * &ratio;
    let l2 = -advantages * ratio.clamp(1.0 - clip, 1.0 + clip);
    let clipped = l2.gt_tensor(&l1).to_kind(l1.kind());
    (l1.maximum(&l2), clipped)
}

/// The clipped value loss per token (PAR spec step 8; TRL without its ½):
/// `max((V − G)², (V_old + clip(V − V_old, ±c) − G)²)`, and where the clipped branch was larger.
pub fn value_loss(v: &Tensor, v_old: &Tensor, returns: &Tensor, clip: Option<f64>) -> (Tensor, Tensor) {
    let l1 = (v - returns).square();
    let Some(c) = clip else { return (l1.shallow_clone(), Tensor::zeros_like(&l1)) };
    let vc = v_old + (v - v_old).clamp(-c, c);
    let l2 = (vc - returns).square();
    let clipped = l2.gt_tensor(&l1).to_kind(l1.kind());
    (l1.maximum(&l2), clipped)
}

/// How a per-token loss becomes one number per batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Mean over every valid token of the batch (PAR, TRL PPO `masked_mean`, TRL GRPO `bnpo`).
    TokenMean,
    /// Mean over tokens within each sequence, then over sequences (OpenRLHF, TRL GRPO `grpo`).
    SequenceMean,
}

/// Each row's contribution to the batch loss before dividing by [`Aggregation`]'s denominator
/// (the batch's valid tokens, or its rows): `Σ_t x·m` or `Σ_t x·m / n_row`.
pub fn per_row(x: &Tensor, mask: &Tensor, agg: Aggregation) -> Tensor {
    let s = (x * mask).sum_dim_intlist(1, false, x.kind());
    match agg {
        Aggregation::TokenMean => s,
        Aggregation::SequenceMean => s / mask.sum_dim_intlist(1, false, x.kind()).clamp_min(1.0),
    }
}

/// The batch loss of per-token `x`: `Σ per_row / denominator`.
pub fn aggregate(x: &Tensor, mask: &Tensor, agg: Aggregation) -> Tensor {
    let denom = match agg {
        Aggregation::TokenMean => mask.sum(Kind::Double).double_value(&[]),
        Aggregation::SequenceMean => mask.size()[0] as f64,
    };
    per_row(x, mask, agg).sum(x.kind()) / denom
}

/// Per-token entropy of the distributions `logits [.., V]`: `logsumexp(z) − Σ softmax(z)·z`.
pub fn entropy_from_logits(logits: &Tensor) -> Tensor {
    let p = logits.softmax(-1, logits.kind());
    logits.logsumexp([-1i64].as_slice(), false) - (p * logits).sum_dim_intlist(-1, false, logits.kind())
}

/// GRPO's group-normalised advantage (Shao et al. 2024, §4.1.2; AutoRule spec): per group of
/// consecutive `group` rewards, `(r − mean) / (std + eps)`; `std` with Bessel's correction when
/// `unbiased` (OpenRLHF, TRL). A group of one, or a group whose rewards are all equal, gets 0.
pub fn group_advantages(rewards: &[f64], group: usize, eps: f64, unbiased: bool) -> Result<Vec<f64>> {
    if group == 0 || rewards.len() % group != 0 {
        return Err(Error::invalid("grpo", format!("{} rewards do not split into groups of {group}", rewards.len())));
    }
    let mut out = Vec::with_capacity(rewards.len());
    for g in rewards.chunks(group) {
        let n = g.len() as f64;
        let mean = g.iter().sum::<f64>() / n;
        let ss = g.iter().map(|r| (r - mean).powi(2)).sum::<f64>();
        let std = if group < 2 { 0.0 } else { (ss / if unbiased { n - 1.0 } else { n }).sqrt() };
        out.extend(g.iter().map(|r| if std == 0.0 { 0.0 } else { (r - mean) / (std + eps) }));
    }
    Ok(out)
}

/// OpenRLHF's reward clip (AutoRule spec test vector 6: 12 → 10).
pub fn clip_reward(r: f64, bound: Option<f64>) -> f64 {
    match bound {
        Some(b) => r.clamp(-b, b),
        None => r,
    }
}
