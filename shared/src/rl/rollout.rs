//! Rollouts: responses sampled from the policy (KV-cached generation, [`crate::train::onpolicy`]),
//! and everything the updates need about each, aligned with its response tokens: the sampling
//! policy's log-probs, the frozen reference's, the critic's values, the advantages and returns.
//!
//! Alignment: a row is `prompt ++ response`, right-padded. Response token `j` of row `b` is
//! predicted by the logits at position `p_b − 1 + j` (`p_b` = prompt length), and the critic's
//! value of the state before emitting it is read at that same position (TRL reads values at
//! `context_length − 1 .. −1`). [`gather_index`] builds those positions once per batch.

use crate::error::{Error, Result};
use crate::model::reward::RewardModel;
use crate::model::score::{token_logps, TokenBatch};
use crate::model::Llama;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// One sampled response and what the updates read of it (vectors have one entry per response
/// token; those a step does not use are empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Index of the prompt in the run's prompt set.
    pub prompt: usize,
    pub prompt_ids: Vec<i64>,
    /// The response as trained on: the stop token kept when the sample stopped.
    pub response: Vec<i64>,
    /// The scalar reward `R` the update optimises (after shaping and clipping).
    pub reward: f64,
    /// log π_old of each response token (the policy that sampled it).
    pub logps: Vec<f32>,
    /// log π_ref of each response token.
    pub ref_logps: Vec<f32>,
    /// Critic values V_t (PPO).
    pub values: Vec<f32>,
    pub advantages: Vec<f32>,
    /// Critic targets G_t (PPO).
    pub returns: Vec<f32>,
}

/// `[B, R]` positions `p_b − 1 + j` (clamped into the row) and the `[B, R]` response mask, for
/// rows `(prompt, response)` padded to `t` tokens.
pub fn gather_index(rows: &[(&[i64], &[i64])], t: i64, device: tch::Device) -> (Tensor, Tensor) {
    let r = rows.iter().map(|(_, y)| y.len()).max().unwrap_or(0).max(1);
    let mut idx = vec![0i64; rows.len() * r];
    let mut mask = vec![0f32; rows.len() * r];
    for (b, (p, y)) in rows.iter().enumerate() {
        for j in 0..r {
            idx[b * r + j] = ((p.len() + j) as i64 - 1).clamp(0, (t - 2).max(0));
            mask[b * r + j] = if j < y.len() { 1.0 } else { 0.0 };
        }
    }
    let shape = [rows.len() as i64, r as i64];
    (Tensor::from_slice(&idx).view(shape).to_device(device), Tensor::from_slice(&mask).view(shape).to_device(device))
}

/// What a forward pass of the policy gives about each response token.
pub struct TokenScores {
    /// `[B, R]` log π of each response token (0 past the end).
    pub logps: Tensor,
    /// `[B, R]` response mask.
    pub mask: Tensor,
    /// `[B, R]` entropy of the policy at each response position, when asked for.
    pub entropy: Option<Tensor>,
}

fn rows_of<'a>(samples: &[&'a Rollout]) -> Vec<(&'a [i64], &'a [i64])> {
    samples.iter().map(|s| (s.prompt_ids.as_slice(), s.response.as_slice())).collect()
}

fn check(samples: &[&Rollout]) -> Result<()> {
    if let Some(i) = samples.iter().position(|s| s.prompt_ids.is_empty() || s.response.is_empty()) {
        return Err(Error::invalid(format!("rollout {i}"), "empty prompt or response: nothing to score"));
    }
    Ok(())
}

/// Per-token log-probs (and optionally entropies) of each rollout's response under `model`, in
/// one forward pass; gradients flow when called outside `no_grad`.
pub fn token_scores(model: &Llama, samples: &[&Rollout], pad: i64, entropy: bool) -> Result<TokenScores> {
    check(samples)?;
    let pairs: Vec<(Vec<i64>, Vec<i64>)> = samples.iter().map(|s| (s.prompt_ids.clone(), s.response.clone())).collect();
    let dev = model.device();
    let batch = TokenBatch::from_pairs(&pairs, pad, dev);
    let t = batch.input_ids.size()[1];
    let logits = model.forward(&batch.input_ids, &batch.attention_mask)?;
    let (idx, mask) = gather_index(&rows_of(samples), t, dev);
    let all = token_logps(&logits, &batch.input_ids);
    let logps = all.gather(1, &idx, false) * &mask;
    let entropy = entropy.then(|| {
        let v = logits.size()[2];
        let z = logits.narrow(1, 0, t - 1).to_kind(Kind::Float).gather(1, &idx.unsqueeze(-1).expand([-1, -1, v], false), false);
        super::math::entropy_from_logits(&z) * &mask
    });
    Ok(TokenScores { logps, mask, entropy })
}

/// The critic's values `[B, R]` of the states before each response token (and the mask).
pub fn token_values(critic: &RewardModel, samples: &[&Rollout], pad: i64) -> Result<(Tensor, Tensor)> {
    check(samples)?;
    let pairs: Vec<(Vec<i64>, Vec<i64>)> = samples.iter().map(|s| (s.prompt_ids.clone(), s.response.clone())).collect();
    let dev = critic.backbone().device();
    let batch = TokenBatch::from_pairs(&pairs, pad, dev);
    let t = batch.input_ids.size()[1];
    let v = critic.per_position(&batch.input_ids, &batch.attention_mask)?;
    let (idx, mask) = gather_index(&rows_of(samples), t, dev);
    Ok((v.gather(1, &idx, false) * &mask, mask))
}

/// `[B, R]` from per-row vectors, zero-padded (the layout of [`gather_index`]).
pub fn padded(rows: &[&[f32]], device: tch::Device) -> Tensor {
    let r = rows.iter().map(|v| v.len()).max().unwrap_or(0).max(1);
    let mut flat = vec![0f32; rows.len() * r];
    for (b, v) in rows.iter().enumerate() {
        flat[b * r..b * r + v.len()].copy_from_slice(v);
    }
    Tensor::from_slice(&flat).view([rows.len() as i64, r as i64]).to_device(device)
}

/// Row `b` of a `[B, R]` tensor, its first `len` entries.
pub fn row(t: &Tensor, b: usize, len: usize) -> Result<Vec<f32>> {
    let v = Vec::<f32>::try_from(t.get(b as i64).narrow(0, 0, len as i64).to_kind(Kind::Float).to_device(tch::Device::Cpu))?;
    Ok(v)
}
