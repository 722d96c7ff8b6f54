//! Scoring responses: per-token log-probabilities of a response given its prompt, summed over
//! the response tokens, with the token count so callers can average (SimPO's `p̄_θ(y|x)`).
//!
//! Only response tokens count: prompt and padding are masked, and the shift is the standard
//! next-token one (`logits[:, :-1]` predict `ids[:, 1:]`, masked by `loss_mask[:, 1:]`). Chosen
//! and rejected responses go into one batch, so they share one forward pass.

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

/// Response log-probs of every row of `batch` in one forward pass (an error for a token id the
/// model has no embedding for).
pub fn sequence_logps(model: &Llama, batch: &TokenBatch) -> Result<SeqLogps> {
    let dev = model.device();
    let t = batch.input_ids.size()[1];
    if t < 2 {
        let b = batch.input_ids.size()[0];
        let z = Tensor::zeros([b], (Kind::Float, dev));
        return Ok(SeqLogps { sum: z.shallow_clone(), count: z });
    }
    let logits = model.forward(&batch.input_ids.to_device(dev), &batch.attention_mask.to_device(dev))?;
    let per_token = token_logps(&logits, &batch.input_ids);
    let mask = batch.loss_mask.narrow(1, 1, t - 1).to_device(dev).to_kind(Kind::Float);
    Ok(SeqLogps { sum: (per_token * &mask).sum_dim_intlist(1, false, Kind::Float), count: mask.sum_dim_intlist(1, false, Kind::Float) })
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
