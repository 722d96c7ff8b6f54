//! Scoring responses: per-token log-probabilities of a response given its prompt, summed over
//! the response tokens, with the token count so callers can average (SimPO's `p̄_θ(y|x)`).
//!
//! Only response tokens count: prompt and padding are masked, and the shift is the standard
//! next-token one (`logits[:, :-1]` predict `ids[:, 1:]`, masked by `loss_mask[:, 1:]`). Chosen
//! and rejected responses go into one batch, so they share one forward pass.
//!
//! The output head runs only where a log-prob is needed: the final hidden states of the positions
//! whose next token is a response token are gathered, and their logits (converted to f32 for the
//! log-softmax) are computed in chunks of at most [`LOGIT_CHUNK_ELEMENTS`] values. At paper scale
//! that avoids the `[batch, time, vocab]` f32 copy over prompt positions (4 × 2048 × 128256 × 4
//! bytes ≈ 4 GiB for Llama-3). Autograd still keeps each chunk's f32 logits for the backward
//! pass; [`super::recompute`] avoids even that (gradient checkpointing).

use super::llama::Llama;
use crate::error::Result;
use tch::{Device, Kind, Tensor};

/// Right-padded token batch with its attention mask and its response (loss) mask.
#[derive(Debug)]
pub struct TokenBatch {
    /// `[B,T]` i64.
    pub input_ids: Tensor,
    /// `[B,T]` i64: 1 on real tokens, 0 on padding.
    pub attention_mask: Tensor,
    /// `[B,T]` f32: 1 on response tokens, 0 on prompt and padding.
    pub loss_mask: Tensor,
}

impl TokenBatch {
    /// Concatenate each `(prompt, response)` and right-pad with `pad_id`.
    pub fn from_pairs(seqs: &[(Vec<i64>, Vec<i64>)], pad_id: i64, device: Device) -> Self {
        let b = seqs.len();
        let t = seqs.iter().map(|(p, r)| p.len() + r.len()).max().unwrap_or(0);
        let mut ids = vec![pad_id; b * t];
        let mut attn = vec![0i64; b * t];
        let mut loss = vec![0f32; b * t];
        for (row, (p, r)) in seqs.iter().enumerate() {
            let off = row * t;
            for (k, &id) in p.iter().chain(r).enumerate() {
                ids[off + k] = id;
                attn[off + k] = 1;
                if k >= p.len() {
                    loss[off + k] = 1.0;
                }
            }
        }
        let shape = [b as i64, t as i64];
        Self {
            input_ids: Tensor::from_slice(&ids).view(shape).to_device(device),
            attention_mask: Tensor::from_slice(&attn).view(shape).to_device(device),
            loss_mask: Tensor::from_slice(&loss).view(shape).to_device(device),
        }
    }

    /// Rows `[start, start+len)` (e.g. the chosen half of a chosen-then-rejected batch).
    pub fn narrow(&self, start: i64, len: i64) -> Self {
        Self {
            input_ids: self.input_ids.narrow(0, start, len),
            attention_mask: self.attention_mask.narrow(0, start, len),
            loss_mask: self.loss_mask.narrow(0, start, len),
        }
    }
}

/// Summed response log-probability and response token count per sequence.
#[derive(Debug)]
pub struct SeqLogps {
    /// `[B]` f32: `Σ_i log π(y_i | x, y_<i)` over response tokens.
    pub sum: Tensor,
    /// `[B]` f32: `|y|`, the number of response tokens counted.
    pub count: Tensor,
}

impl SeqLogps {
    /// The length-normalised log-likelihood `sum / |y|` (0 where a response is empty).
    pub fn mean(&self) -> Tensor {
        &self.sum / self.count.clamp_min(1.0)
    }
}

/// Per-token log-probs `[B,T-1]` of `ids[:, 1:]` under `logits[:, :-1]`, in f32.
pub fn token_logps(logits: &Tensor, input_ids: &Tensor) -> Tensor {
    let t = logits.size()[1];
    let logits = logits.narrow(1, 0, t - 1).to_kind(Kind::Float);
    let labels = input_ids.narrow(1, 1, t - 1).to_device(logits.device()).unsqueeze(-1);
    // log_softmax gathered at the label = logit[label] - logsumexp(logits).
    logits.gather(-1, &labels, false).squeeze_dim(-1) - logits.logsumexp([-1i64].as_slice(), false)
}

/// Logit values (rows × vocabulary) computed at once by [`sequence_logps`]: 2^28 f32 values = 1 GiB.
pub const LOGIT_CHUNK_ELEMENTS: i64 = 1 << 28;

/// Where the log-probs of a batch are read: for every response token, the flat index `b·T + t`
/// of the position `t` that predicts it, its row `b` and the token id (the label).
pub(crate) struct ResponsePositions {
    pub flat: Tensor,
    pub row: Tensor,
    pub label: Tensor,
    /// `[B]` f32 response token counts.
    pub count: Tensor,
}

impl ResponsePositions {
    pub(crate) fn of(batch: &TokenBatch, dev: Device) -> Self {
        let (b, t) = batch.input_ids.size2().expect("input_ids must be [B,T]");
        let ids = batch.input_ids.to_device(dev);
        // Position t predicts token t + 1: it is read when token t + 1 is a response token.
        let next_is_response = batch.loss_mask.narrow(1, 1, t - 1).to_device(dev).ne(0);
        let count = next_is_response.sum_dim_intlist(1, false, Kind::Float);
        let nz = next_is_response.nonzero(); // [N, 2]: (row, position)
        let row = nz.select(1, 0);
        let pos = nz.select(1, 1);
        let flat = &row * t + &pos;
        let label = ids.view([b * t]).index_select(0, &(&flat + 1));
        ResponsePositions { flat, row, label, count }
    }

    pub(crate) fn len(&self) -> i64 {
        self.flat.size()[0]
    }

    /// Rows of the flat index per chunk so that `rows × vocab ≤ LOGIT_CHUNK_ELEMENTS`.
    pub(crate) fn chunk_rows(vocab: i64, max_elements: i64) -> i64 {
        (max_elements / vocab.max(1)).max(1)
    }
}

/// Log-probs `[n]` (f32) of `labels` under the head's logits of final hidden states `hidden` `[n,H]`.
pub(crate) fn head_logps(model: &Llama, hidden: &Tensor, labels: &Tensor) -> Tensor {
    let logits = model.logits(hidden).to_kind(Kind::Float);
    logits.gather(-1, &labels.unsqueeze(-1), false).squeeze_dim(-1) - logits.logsumexp([-1i64].as_slice(), false)
}

/// Response log-probs of every row of `batch` in one forward pass (an error for a token id the
/// model has no embedding for).
pub fn sequence_logps(model: &Llama, batch: &TokenBatch) -> Result<SeqLogps> {
    sequence_logps_chunked(model, batch, LOGIT_CHUNK_ELEMENTS)
}

/// [`sequence_logps`] with at most `max_elements` logit values per chunk (tests use tiny chunks).
pub fn sequence_logps_chunked(model: &Llama, batch: &TokenBatch, max_elements: i64) -> Result<SeqLogps> {
    let dev = model.device();
    let (b, t) = batch.input_ids.size2().map_err(|_| crate::error::Error::invalid("token batch", format!("input_ids {:?} must be [B,T]", batch.input_ids.size())))?;
    if t < 2 {
        let z = Tensor::zeros([b], (Kind::Float, dev));
        return Ok(SeqLogps { sum: z.shallow_clone(), count: z });
    }
    let hidden = model.hidden_states(&batch.input_ids.to_device(dev), &batch.attention_mask.to_device(dev))?;
    let h = hidden.size()[2];
    let flat_hidden = hidden.reshape([b * t, h]);
    let at = ResponsePositions::of(batch, dev);
    let rows = ResponsePositions::chunk_rows(model.config().vocab_size as i64, max_elements);
    let mut sum = Tensor::zeros([b], (Kind::Float, dev));
    let mut start = 0;
    while start < at.len() {
        let n = rows.min(at.len() - start);
        let lp = head_logps(model, &flat_hidden.index_select(0, &at.flat.narrow(0, start, n)), &at.label.narrow(0, start, n));
        sum = sum.index_add(0, &at.row.narrow(0, start, n), &lp);
        start += n;
    }
    Ok(SeqLogps { sum, count: at.count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Llama, LlamaConfig};
    use tch::nn;

    fn tiny() -> (nn::VarStore, Llama) {
        let cfg: LlamaConfig = serde_json::from_value(serde_json::json!({
            "model_type": "llama", "vocab_size": 30, "hidden_size": 16, "intermediate_size": 32,
            "num_hidden_layers": 1, "num_attention_heads": 2, "rms_norm_eps": 1e-6,
            "max_position_embeddings": 32
        }))
        .unwrap();
        tch::manual_seed(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let m = Llama::new(&vs.root(), &cfg).unwrap();
        (vs, m)
    }

    #[test]
    fn batch_layout_and_masks() {
        let b = TokenBatch::from_pairs(&[(vec![5, 6], vec![7]), (vec![1], vec![2, 3, 4])], 0, Device::Cpu);
        assert_eq!(Vec::<i64>::try_from(b.input_ids.flatten(0, -1)).unwrap(), vec![5, 6, 7, 0, 1, 2, 3, 4]);
        assert_eq!(Vec::<i64>::try_from(b.attention_mask.flatten(0, -1)).unwrap(), vec![1, 1, 1, 0, 1, 1, 1, 1]);
        assert_eq!(Vec::<f32>::try_from(b.loss_mask.flatten(0, -1)).unwrap(), vec![0., 0., 1., 0., 0., 1., 1., 1.]);
    }

    #[test]
    fn logps_match_a_direct_computation_and_ignore_batch_mates() {
        let (_vs, m) = tiny();
        let (p, r) = (vec![3i64, 4, 5], vec![6i64, 7]);
        let batch = TokenBatch::from_pairs(&[(p.clone(), r.clone()), (vec![9], vec![1, 2, 3, 4, 5, 6])], 0, Device::Cpu);
        let got = sequence_logps(&m, &batch).unwrap();
        // By hand: log_softmax at positions 2 and 3 of the unpadded sequence.
        let ids = Tensor::from_slice(&[3i64, 4, 5, 6, 7]).view([1, 5]);
        let lp = m.forward(&ids, &ids.ones_like()).unwrap().log_softmax(-1, Kind::Float);
        let want = lp.double_value(&[0, 2, 6]) + lp.double_value(&[0, 3, 7]);
        assert!((got.sum.double_value(&[0]) - want).abs() < 1e-5);
        assert_eq!(Vec::<f32>::try_from(&got.count).unwrap(), vec![2.0, 6.0]);
        assert!((got.mean().double_value(&[0]) - want / 2.0).abs() < 1e-5);
        assert!(got.sum.double_value(&[1]) < 0.0);
    }

    /// The computation `sequence_logps` replaced: f32 log-softmax over every position's logits.
    fn full_logps(m: &Llama, batch: &TokenBatch) -> SeqLogps {
        let t = batch.input_ids.size()[1];
        let logits = m.forward(&batch.input_ids, &batch.attention_mask).unwrap();
        let per_token = token_logps(&logits, &batch.input_ids);
        let mask = batch.loss_mask.narrow(1, 1, t - 1).to_kind(Kind::Float);
        SeqLogps { sum: (per_token * &mask).sum_dim_intlist(1, false, Kind::Float), count: mask.sum_dim_intlist(1, false, Kind::Float) }
    }

    #[test]
    fn response_positions_in_chunks_equal_the_full_computation_values_and_gradients() {
        let seqs = vec![(vec![3i64, 4, 5], vec![6i64, 7]), (vec![9], vec![1, 2, 3, 4, 5, 6]), (vec![2, 2, 2, 2, 2, 2], vec![8])];
        for (ty, tie) in [("llama", false), ("qwen2", true), ("gemma2", true)] {
            let mut cfg = crate::model::tiny::config(ty, 30, 16, 32, 2, 2);
            cfg.tie_word_embeddings = tie;
            let (vs, m) = crate::model::tiny::model(&cfg, 11);
            let batch = TokenBatch::from_pairs(&seqs, 0, Device::Cpu);
            let want = full_logps(&m, &batch);
            let grads = |lp: &SeqLogps| {
                for (_, v) in vs.variables() {
                    let mut g = v.grad();
                    if g.defined() {
                        let _ = g.zero_();
                    }
                }
                (&lp.sum * Tensor::from_slice(&[1.0f32, -0.5, 2.0])).sum(Kind::Float).backward();
                let mut g: Vec<(String, Tensor)> = vs.variables().into_iter().map(|(n, v)| (n, v.grad().copy())).collect();
                g.sort_by(|a, b| a.0.cmp(&b.0));
                g
            };
            let g_want = grads(&want);
            for chunk in [LOGIT_CHUNK_ELEMENTS, 30 * 3, 30] {
                let got = sequence_logps_chunked(&m, &batch, chunk).unwrap();
                let d = (&got.sum - &want.sum).abs().max().double_value(&[]);
                assert!(d < 1e-5, "{ty}, chunk {chunk}: log-prob differs by {d}");
                assert!(got.count.equal(&want.count), "{ty}: counts");
                for ((n, a), (_, b)) in grads(&got).iter().zip(&g_want) {
                    let d = (a - b).abs().max().double_value(&[]);
                    assert!(d < 1e-5, "{ty}, chunk {chunk}: gradient of {n} differs by {d}");
                }
            }
        }
    }

    #[test]
    fn gradients_flow_to_the_weights() {
        let (vs, m) = tiny();
        let batch = TokenBatch::from_pairs(&[(vec![1, 2], vec![3, 4])], 0, Device::Cpu);
        let l = sequence_logps(&m, &batch).unwrap().mean().sum(Kind::Float).neg();
        l.backward();
        let g = vs.variables()["model.embed_tokens.weight"].grad();
        assert!(g.abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }
}
