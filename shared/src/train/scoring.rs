//! Scoring examples with a model: the summed response log-probs `[B, K]` of a micro-batch in one
//! forward pass (every response of every example as one row, response-major: all first responses,
//! then all second responses, ...), optionally the per-token log-probs at response positions.
//! Used for the policy (with gradients) and for frozen references (without).

use super::example::Example;
use crate::error::Result;
use crate::model::recompute::{sequence_logps_checkpointed, Pending};
use crate::model::{sequence_logps, token_logps, Llama, TokenBatch};
use tch::{Kind, Tensor};

/// A model's scores of the examples of one micro-batch.
pub struct ExampleLogps {
    /// `[B, K]` summed response log-probs.
    pub seq: Tensor,
    /// `[B, K]` response lengths (float).
    pub lens: Tensor,
    /// `[B, K, T]` per-token log-probs at response positions, 0 past each response's end.
    pub tokens: Option<Tensor>,
    /// `[B, K, T]` 1 on response tokens.
    pub mask: Option<Tensor>,
}

/// The `(prompt, response)` rows of `idx`, response-major, `k` responses per example.
fn rows(data: &[Example], idx: &[usize], k: usize) -> Vec<(Vec<i64>, Vec<i64>)> {
    (0..k).flat_map(|j| idx.iter().map(move |&i| (data[i].prompt.clone(), data[i].responses[j].clone()))).collect()
}

/// `[B, K]` from a response-major `[K·B]` vector (a view, no arithmetic).
fn by_example(v: &Tensor, b: i64, k: i64) -> Tensor {
    v.view([k, b]).tr()
}

/// Response lengths `[B, K]` of `idx`.
pub fn lengths(data: &[Example], idx: &[usize], k: usize) -> Tensor {
    let v: Vec<f32> = (0..k).flat_map(|j| idx.iter().map(move |&i| data[i].responses[j].len() as f32)).collect();
    by_example(&Tensor::from_slice(&v), idx.len() as i64, k as i64)
}

/// Score the first `k` responses of the examples `idx` in one forward pass of `model`.
pub fn score(model: &Llama, data: &[Example], idx: &[usize], k: usize, token_level: bool, pad: i64) -> Result<ExampleLogps> {
    let (b, kk) = (idx.len() as i64, k as i64);
    let batch = TokenBatch::from_pairs(&rows(data, idx, k), pad, model.device());
    let lens = lengths(data, idx, k).to_device(model.device());
    if !token_level {
        let seq = by_example(&sequence_logps(model, &batch)?.sum, b, kk);
        return Ok(ExampleLogps { seq, lens, tokens: None, mask: None });
    }
    let dev = model.device();
    let t = batch.input_ids.size()[1];
    let logits = model.forward(&batch.input_ids.to_device(dev), &batch.attention_mask.to_device(dev))?;
    let per_token = token_logps(&logits, &batch.input_ids); // [R, t-1]: position p predicts token p+1
    // Response token j of row r sits at position plen_r + j, predicted at shifted position plen_r - 1 + j.
    let tmax = idx.iter().map(|&i| data[i].responses[..k].iter().map(Vec::len).max().unwrap_or(0)).max().unwrap_or(0);
    let mut gather = Vec::with_capacity(idx.len() * k * tmax);
    let mut mask = Vec::with_capacity(gather.capacity());
    for j in 0..k {
        for &i in idx {
            let (plen, rlen) = (data[i].prompt.len(), data[i].responses[j].len());
            for s in 0..tmax {
                gather.push(((plen + s).saturating_sub(1) as i64).min(t - 2));
                mask.push(if s < rlen { 1f32 } else { 0.0 });
            }
        }
    }
    let rows_n = (idx.len() * k) as i64;
    let index = Tensor::from_slice(&gather).view([rows_n, tmax as i64]).to_device(dev);
    let mask = Tensor::from_slice(&mask).view([rows_n, tmax as i64]).to_device(dev);
    let tokens = per_token.gather(1, &index, false) * &mask; // [R, T]
    let seq = tokens.sum_dim_intlist(1, false, Kind::Float);
    let shape3 = |x: &Tensor| x.view([kk, b, tmax as i64]).permute([1, 0, 2]);
    Ok(ExampleLogps { seq: by_example(&seq, b, kk), lens, tokens: Some(shape3(&tokens)), mask: Some(shape3(&mask)) })
}

/// [`score`] of a sequence-level objective under gradient checkpointing: the same `[B, K]` sums,
/// and the recompute pass to run after the loss's `backward()` ([`Pending::backward`]).
pub fn score_checkpointed<'a>(model: &'a Llama, data: &[Example], idx: &[usize], k: usize, pad: i64) -> Result<(ExampleLogps, Pending<'a>)> {
    let (b, kk) = (idx.len() as i64, k as i64);
    let batch = TokenBatch::from_pairs(&rows(data, idx, k), pad, model.device());
    let lens = lengths(data, idx, k).to_device(model.device());
    let (lp, pending) = sequence_logps_checkpointed(model, &batch)?;
    Ok((ExampleLogps { seq: by_example(&lp.sum, b, kk), lens, tokens: None, mask: None }, pending))
}

/// Scores of every example without gradients, in micro-batches: `[n][K]` sums and, when
/// `token_level`, `[n][K][len]` per-token log-probs.
pub type AllLogps = (Vec<Vec<f64>>, Option<Vec<Vec<Vec<f32>>>>);

pub fn score_all(model: &Llama, data: &[Example], k: usize, micro: usize, token_level: bool, pad: i64, label: &str) -> Result<AllLogps> {
    let pb = crate::progress::bar(data.len() as u64, label, "examples");
    let mut seq = Vec::with_capacity(data.len());
    let mut toks = token_level.then(Vec::new);
    tch::no_grad(|| -> Result<()> {
        for start in (0..data.len()).step_by(micro.max(1)) {
            let idx: Vec<usize> = (start..(start + micro.max(1)).min(data.len())).collect();
            let s = score(model, data, &idx, k, token_level, pad)?;
            let flat = Vec::<f64>::try_from(s.seq.to_kind(Kind::Double).contiguous().view([-1]))?;
            seq.extend(flat.chunks(k).map(<[f64]>::to_vec));
            if let (Some(out), Some(t)) = (toks.as_mut(), s.tokens) {
                let tmax = t.size()[2] as usize;
                let flat = Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().view([-1]))?;
                for (bi, &i) in idx.iter().enumerate() {
                    out.push((0..k).map(|j| flat[(bi * k + j) * tmax..][..data[i].responses[j].len()].to_vec()).collect());
                }
            }
            pb.inc(idx.len() as u64);
        }
        Ok(())
    })?;
    pb.finish_and_clear();
    Ok((seq, toks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tiny;

    #[test]
    fn token_level_scores_sum_to_the_sequence_scores_and_ignore_batch_mates() {
        let (_vs, m) = tiny::model(&tiny::config("llama", 30, 16, 32, 1, 2), 1);
        let data = vec![
            Example::pair(vec![1, 2, 3], vec![4, 5], vec![6]),
            Example::pair(vec![7], vec![8, 9, 10, 11], vec![12, 13]),
        ];
        let a = score(&m, &data, &[0, 1], 2, false, 0).unwrap();
        let b = score(&m, &data, &[0, 1], 2, true, 0).unwrap();
        assert_eq!(a.seq.size(), [2, 2]);
        assert!(a.seq.allclose(&b.seq, 1e-5, 1e-5, false));
        let toks = b.tokens.unwrap();
        assert_eq!(toks.size(), [2, 2, 4]);
        // Example 1's first response scored alone gives the same per-token values.
        let alone = score(&m, &data, &[1], 1, true, 0).unwrap().tokens.unwrap();
        assert!(alone.select(0, 0).select(0, 0).allclose(&toks.select(0, 1).select(0, 0), 1e-5, 1e-5, false));
        // Padding positions are zero.
        assert_eq!(toks.double_value(&[0, 1, 1]), 0.0);
        assert_eq!(Vec::<f32>::try_from(b.lens.contiguous().view([-1])).unwrap(), vec![2.0, 1.0, 4.0, 2.0]);
        let (all, per_tok) = score_all(&m, &data, 2, 1, true, 0, "test").unwrap();
        assert!((all[1][0] - a.seq.double_value(&[1, 0])).abs() < 1e-5);
        assert_eq!(per_tok.unwrap()[1][1].len(), 2);
    }
}
