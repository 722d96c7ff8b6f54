//! Gradient checkpointing for [`sequence_logps`](super::sequence_logps): the forward pass keeps
//! only each decoder layer's input, and the backward pass recomputes one layer at a time from it.
//!
//! libtorch's Rust bindings have no custom autograd functions (nothing like PyTorch's
//! `torch.utils.checkpoint`), so the backward pass is driven by hand, layer by layer, with
//! ordinary autograd inside each layer:
//!
//! 1. forward without a graph: `x_0 = embed(ids)`, `x_{i+1} = layer_i(x_i)`; keep `x_0 … x_L`;
//!    the response log-probs come from `x_L` through the final norm and the head, in chunks; their
//!    per-row sums are returned as a leaf tensor that requires grad;
//! 2. the caller builds its loss from those sums and calls `loss.backward()`, which fills the
//!    leaf's gradient `g = ∂loss/∂sum`;
//! 3. [`Pending::backward`] propagates `g`: for each chunk of response positions, recompute
//!    norm → head → log-probs from a grad-requiring copy of `x_L` and back-propagate
//!    `Σ g[row] · logp` (giving `∂loss/∂x_L` and the head's and norm's weight gradients); then for
//!    `i = L−1 … 0` recompute `y = layer_i(x_i)` from a grad-requiring copy of `x_i` and
//!    back-propagate `Σ y ⊙ ∂loss/∂y` (a vector-Jacobian product written as a scalar), which adds
//!    the layer's weight gradients into their `.grad` and leaves `∂loss/∂x_i` on the copy; finally
//!    the embedding.
//!
//! Memory: the layer inputs (`L × B × T × H` in the model's dtype), one layer's activations, and
//! one chunk of f32 logits (never all of them: the head is recomputed chunk by chunk too). Cost:
//! one extra forward pass. Gradients equal the plain backward pass's (tested).
//!
//! Use, per micro-batch: `let (lp, pending) = sequence_logps_checkpointed(&model, &batch)?;`,
//! `loss(lp).backward();`, `pending.backward()?;`, then `optimizer.accumulate()`.

use super::llama::Llama;
use super::score::{head_logps, ResponsePositions, SeqLogps, TokenBatch, LOGIT_CHUNK_ELEMENTS};
use crate::error::{Error, Result};
use tch::{Kind, Tensor};

/// What the backward pass of a checkpointed forward needs.
pub struct Pending<'a> {
    model: &'a Llama,
    input_ids: Tensor,
    mask: Tensor,
    /// `x_0 … x_{L-1}`: the input of every layer; `last` = `x_L`.
    inputs: Vec<Tensor>,
    last: Tensor,
    at: ResponsePositions,
    /// The leaf tensor returned as `SeqLogps::sum`; its gradient drives the backward pass.
    sum: Tensor,
    max_elements: i64,
}

/// Response log-probs as [`sequence_logps`](super::sequence_logps) computes them, keeping only
/// the layer inputs; call [`Pending::backward`] after back-propagating a loss built from them.
pub fn sequence_logps_checkpointed<'a>(model: &'a Llama, batch: &TokenBatch) -> Result<(SeqLogps, Pending<'a>)> {
    sequence_logps_checkpointed_chunked(model, batch, LOGIT_CHUNK_ELEMENTS)
}

/// [`sequence_logps_checkpointed`] with at most `max_elements` logit values per chunk.
pub fn sequence_logps_checkpointed_chunked<'a>(model: &'a Llama, batch: &TokenBatch, max_elements: i64) -> Result<(SeqLogps, Pending<'a>)> {
    let dev = model.device();
    let (b, t) = batch.input_ids.size2().map_err(|e| Error::invalid("token batch", format!("input_ids must be [B,T] ({e})")))?;
    if t < 2 {
        return Err(Error::invalid("token batch", "sequences of fewer than two tokens have no response log-probs"));
    }
    let input_ids = batch.input_ids.to_device(dev);
    let mask = batch.attention_mask.to_device(dev).ne(0).to_kind(Kind::Int64);
    let at = ResponsePositions::of(batch, dev);
    let (inputs, last, sum) = tch::no_grad(|| {
        let mut x = model.embed(&input_ids);
        let ctx = model.context(&mask, t, x.kind());
        let mut inputs = Vec::with_capacity(model.num_layers());
        for i in 0..model.num_layers() {
            let y = model.block(i, &x, &ctx, &mut None);
            inputs.push(x);
            x = y;
        }
        let hidden = x.reshape([b * t, -1]);
        let mut sum = Tensor::zeros([b], (Kind::Float, dev));
        for (flat, row, label) in chunks(&at, model, max_elements) {
            let h = model.final_norm(&hidden.index_select(0, &flat));
            sum = sum.index_add(0, &row, &head_logps(model, &h, &label));
        }
        (inputs, x, sum)
    });
    let sum = sum.set_requires_grad(true);
    let out = SeqLogps { sum: sum.shallow_clone(), count: at.count.shallow_clone() };
    Ok((out, Pending { model, input_ids, mask, inputs, last, at, sum, max_elements }))
}

/// (flat positions, rows, labels) of each chunk of response positions.
fn chunks(at: &ResponsePositions, model: &Llama, max_elements: i64) -> Vec<(Tensor, Tensor, Tensor)> {
    let rows = ResponsePositions::chunk_rows(model.config().vocab_size as i64, max_elements);
    let mut out = vec![];
    let mut start = 0;
    while start < at.len() {
        let n = rows.min(at.len() - start);
        out.push((at.flat.narrow(0, start, n), at.row.narrow(0, start, n), at.label.narrow(0, start, n)));
        start += n;
    }
    out
}

/// Back-propagate `Σ y ⊙ g` from `y`: the vector-Jacobian product `gᵀ ∂y/∂θ` as one scalar.
fn vjp(y: &Tensor, g: &Tensor) {
    (y.to_kind(Kind::Float) * g.to_kind(Kind::Float)).sum(Kind::Float).backward();
}

impl Pending<'_> {
    /// Recompute and back-propagate every layer (module doc, step 3). Call once, after the loss's
    /// own `backward()`; the model's weight gradients are then exactly those of the plain pass.
    pub fn backward(self) -> Result<()> {
        let g_sum = self.sum.grad();
        if !g_sum.defined() {
            return Err(Error::invalid(
                "gradient checkpointing",
                "the log-probs received no gradient: call backward() on a loss built from SeqLogps::sum before Pending::backward",
            ));
        }
        let m = self.model;
        let (b, t) = self.input_ids.size2()?;
        // Head and final norm, chunk by chunk, from a grad-requiring copy of x_L.
        let x_last = self.last.detach().set_requires_grad(true);
        let hidden = x_last.reshape([b * t, -1]);
        for (flat, row, label) in chunks(&self.at, m, self.max_elements) {
            let h = m.final_norm(&hidden.index_select(0, &flat));
            let lp = head_logps(m, &h, &label);
            (lp * g_sum.index_select(0, &row)).sum(Kind::Float).backward();
        }
        let mut g = x_last.grad();
        if !g.defined() {
            // No response position at all: nothing flows back.
            return Ok(());
        }
        // Layers, last to first, each recomputed from its saved input.
        let ctx = tch::no_grad(|| m.context(&self.mask, t, self.last.kind()));
        for i in (0..m.num_layers()).rev() {
            let x = self.inputs[i].detach().set_requires_grad(true);
            let y = m.block(i, &x, &ctx, &mut None);
            vjp(&y, &g);
            g = x.grad();
        }
        // The embedding (a frozen embedding, e.g. under LoRA, has nothing to receive).
        let x0 = m.embed(&self.input_ids);
        if x0.requires_grad() {
            vjp(&x0, &g);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::score::sequence_logps;
    use tch::{nn::VarStore, Device};

    fn grads(vs: &VarStore) -> Vec<(String, Tensor)> {
        let mut g: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, v)| v.requires_grad()).map(|(n, v)| (n, v.grad().copy())).collect();
        g.sort_by(|a, b| a.0.cmp(&b.0));
        g
    }

    fn zero(vs: &VarStore) {
        for (_, v) in vs.variables() {
            let mut g = v.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }

    /// A loss that uses the sums non-linearly (SimPO-like: means, a sigmoid).
    fn loss(lp: &SeqLogps) -> Tensor {
        let mean = &lp.sum / &lp.count;
        let n = mean.size()[0] / 2;
        (mean.narrow(0, 0, n) - mean.narrow(0, n, n) - 0.3).multiply_scalar(2.0).log_sigmoid().neg().mean(Kind::Float)
    }

    #[test]
    fn checkpointed_gradients_equal_the_plain_ones() {
        let seqs = vec![(vec![3i64, 4, 5], vec![6i64, 7]), (vec![9], vec![1, 2, 3, 4, 5, 6]), (vec![2, 2, 2, 2, 2, 2], vec![8]), (vec![5, 1], vec![7, 7, 7])];
        for (ty, tie, layers) in [("llama", false, 3), ("qwen2", true, 2), ("mistral", false, 2), ("gemma2", true, 3)] {
            let mut cfg = crate::model::tiny::config(ty, 30, 16, 32, layers, 2);
            cfg.tie_word_embeddings = tie;
            if ty == "mistral" {
                cfg.sliding_window = Some(3);
            }
            let (vs, m) = crate::model::tiny::model(&cfg, 7);
            let batch = TokenBatch::from_pairs(&seqs, 0, Device::Cpu);

            zero(&vs);
            let plain = sequence_logps(&m, &batch).unwrap();
            let plain_loss = loss(&plain);
            plain_loss.backward();
            let want = grads(&vs);

            for chunk in [LOGIT_CHUNK_ELEMENTS, 30 * 2] {
                zero(&vs);
                let (lp, pending) = sequence_logps_checkpointed_chunked(&m, &batch, chunk).unwrap();
                assert!((&lp.sum - &plain.sum).abs().max().double_value(&[]) < 1e-5, "{ty}: log-probs");
                let l = loss(&lp);
                assert!((l.double_value(&[]) - plain_loss.double_value(&[])).abs() < 1e-6);
                l.backward();
                pending.backward().unwrap();
                for ((n, a), (_, b)) in grads(&vs).iter().zip(&want) {
                    let d = (a - b).abs().max().double_value(&[]);
                    let scale = b.abs().max().double_value(&[]).max(1e-3);
                    assert!(d <= 1e-5 * scale.max(1.0), "{ty}, chunk {chunk}: gradient of {n} differs by {d} (max |g| {scale})");
                }
            }
        }
    }

    #[test]
    fn backward_without_a_loss_gradient_is_an_error() {
        let cfg = crate::model::tiny::config("llama", 30, 16, 32, 1, 2);
        let (_vs, m) = crate::model::tiny::model(&cfg, 1);
        let batch = TokenBatch::from_pairs(&[(vec![1, 2], vec![3])], 0, Device::Cpu);
        let (_lp, pending) = sequence_logps_checkpointed(&m, &batch).unwrap();
        let e = pending.backward().unwrap_err().to_string();
        assert!(e.contains("no gradient"), "{e}");
    }
}
