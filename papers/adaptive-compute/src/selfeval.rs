//! The generative self-evaluation (spec "Generative self-evaluation" and "Training objective").
//!
//! **Query.** After a response (or a prefix), append the fixed question and read the model's
//! next-token distribution P: `p̂_better = P(A_yes) / (P(A_yes) + P(A_no))` ([`estimate`]). In the
//! miniature the question is one reserved token, `<se_q>`, and the answers are `<yes>` / `<no>`:
//! `<bos> x <sep> y <eos> <se_q>` for a full response, `<bos> x <sep> y≤t <se_q>` for a prefix
//! (no EOS before the question). At paper scale it is a new user turn of the chat template
//! (`crate::paper`).
//!
//! **Objective** ([`SelfEval`], an [`Objective`] of the shared engine). One training example holds
//! the prompt and two responses, `ctx ‖ Q ‖ A_yes` and `ctx ‖ Q ‖ A_no`, where `ctx` is `y ‖ <eos>`
//! or a prefix `y≤t`; the engine scores them per token, so the answer position of each row carries
//! `log P(A_yes)` and `log P(A_no)` under the full-vocabulary softmax. Then
//! `L = L_eval + λ · keep · L_keep` with
//! `L_eval = −[t log P(A_yes) + (1 − t) log P(A_no)]` (soft-label CE at the answer position) and
//! `L_keep` = the mean per-token NLL of the on-policy response tokens (`ctx` of a full example;
//! `keep = 0` on prefix examples, whose tokens the full example already carries).

use shared::train::{Loss, Needs, Objective, Scored};
use shared::Result;
use tch::{Kind, Tensor};

/// Side value: the leave-one-out target `t` ([`crate::targets::leave_one_out`]).
pub const TARGET: &str = "target";
/// Side value: 1 when the example's response tokens carry the keep-the-policy NLL, else 0.
pub const KEEP: &str = "keep";

/// `L_eval + λ·L_keep` (spec "Training objective"; λ = 1 by default).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfEval {
    /// λ, the weight of the on-policy NLL that keeps the shared weights' policy where it was.
    pub lambda: f64,
}

/// Soft-label cross-entropy at the answer position:
/// `L_eval = −[t log P(yes) + (1 − t) log P(no)]` (spec, "Self-evaluation loss").
pub fn eval_loss(logp_yes: &Tensor, logp_no: &Tensor, t: &Tensor) -> Tensor {
    let not_t = t.ones_like() - t;
    -(t * logp_yes + not_t * logp_no)
}

/// The normalized estimate `P(yes) / (P(yes) + P(no)) = σ(log P(yes) − log P(no))`.
pub fn normalized(logp_yes: &Tensor, logp_no: &Tensor) -> Tensor {
    (logp_yes - logp_no).sigmoid()
}

impl Objective for SelfEval {
    fn label(&self) -> String {
        "self-eval".into()
    }
    fn needs(&self) -> Needs {
        Needs { responses: 2, side: vec![TARGET.into(), KEEP.into()], token_level: true, ..Default::default() }
    }
    fn metric_names(&self) -> Vec<String> {
        ["l_eval", "l_keep", "phat", "answer_mass"].iter().map(|s| s.to_string()).collect()
    }
    fn compute(&self, x: &Scored) -> Result<Loss> {
        let who = "self-eval";
        let tok = x.token_logps.as_ref().ok_or_else(|| shared::Error::invalid(format!("objective {who}"), "needs per-token log-probs"))?;
        let mask = x.token_mask.as_ref().ok_or_else(|| shared::Error::invalid(format!("objective {who}"), "needs the token mask"))?;
        let (t, keep) = (x.side(TARGET, who)?, x.side(KEEP, who)?);
        let len = x.lens.select(1, 0); // both rows: ctx ‖ Q ‖ answer, equally long
        let last = (&len - 1.0).to_kind(Kind::Int64).clamp_min(0).unsqueeze(1);
        let (yes_row, no_row) = (tok.select(1, 0), tok.select(1, 1));
        let lp_yes = yes_row.gather(1, &last, false).squeeze_dim(1);
        let lp_no = no_row.gather(1, &last, false).squeeze_dim(1);
        let l_eval = eval_loss(&lp_yes, &lp_no, t);
        // L_keep: mean NLL over the ctx tokens (positions 0 .. len − 2; Q and the answer excluded).
        let ctx_len = (&len - 2.0).clamp_min(0.0);
        let steps = Tensor::arange(yes_row.size()[1], (Kind::Float, yes_row.device())).unsqueeze(0);
        let on_ctx = steps.lt_tensor(&ctx_len.unsqueeze(1)).to_kind(Kind::Float) * mask.select(1, 0);
        let l_keep = -(&yes_row * &on_ctx).sum_dim_intlist(1, false, Kind::Float) / ctx_len.clamp_min(1.0);
        let per_example = &l_eval + keep * &l_keep * self.lambda;
        let metrics = vec![l_eval.detach(), l_keep.detach(), normalized(&lp_yes, &lp_no).detach(), (lp_yes.exp() + lp_no.exp()).detach()];
        Ok(Loss { per_example, metrics })
    }
}

/// One self-evaluation: the normalized estimate and the raw answer probabilities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// `P(yes) / (P(yes) + P(no))`: the estimate of P(restarting does better).
    pub phat: f64,
    pub p_yes: f64,
    pub p_no: f64,
}

/// Estimates from the full-vocabulary log-softmax `logp` `[B, V]` at the answer position.
pub fn estimates_from_logps(logp: &Tensor, yes: i64, no: i64) -> Result<Vec<Estimate>> {
    let ly = logp.select(1, yes).to_kind(Kind::Double);
    let ln = logp.select(1, no).to_kind(Kind::Double);
    let phat = Vec::<f64>::try_from(normalized(&ly, &ln))?;
    let (py, pn) = (Vec::<f64>::try_from(ly.exp())?, Vec::<f64>::try_from(ln.exp())?);
    Ok(phat.into_iter().zip(py).zip(pn).map(|((phat, p_yes), p_no)| Estimate { phat, p_yes, p_no }).collect())
}

/// Self-evaluate `contexts` (each already ending in the question) with `model`, `batch` rows per
/// forward pass: one pass over the context, no sampling; the answer position is each row's last.
pub fn estimate(model: &shared::model::Llama, contexts: &[Vec<i64>], yes: i64, no: i64, pad: i64, batch: usize) -> Result<Vec<Estimate>> {
    let dev = model.device();
    let mut out = Vec::with_capacity(contexts.len());
    tch::no_grad(|| -> Result<()> {
        for chunk in contexts.chunks(batch.max(1)) {
            let t = chunk.iter().map(Vec::len).max().unwrap_or(1);
            let mut ids = Vec::with_capacity(chunk.len() * t);
            let mut mask = Vec::with_capacity(chunk.len() * t);
            for c in chunk {
                ids.extend(c.iter().copied().chain(std::iter::repeat(pad).take(t - c.len())));
                mask.extend(std::iter::repeat(1i64).take(c.len()).chain(std::iter::repeat(0).take(t - c.len())));
            }
            let shape = [chunk.len() as i64, t as i64];
            let h = model.hidden_states(&Tensor::from_slice(&ids).view(shape).to_device(dev), &Tensor::from_slice(&mask).view(shape).to_device(dev))?;
            let last = Tensor::from_slice(&chunk.iter().map(|c| c.len() as i64 - 1).collect::<Vec<_>>()).to_device(dev);
            let h_last = h.gather(1, &last.view([-1, 1, 1]).expand([-1, 1, h.size()[2]], false), false).squeeze_dim(1);
            let logp = model.logits(&h_last).to_kind(Kind::Float).log_softmax(-1, Kind::Float);
            out.extend(estimates_from_logps(&logp, yes, no)?);
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec test vector 2: logits ordered (yes, no, other).
    #[test]
    fn spec_vector_2_soft_cross_entropy() {
        let cases = [
            ([1.0f32, -0.5, 0.0], 1.0 / 3.0, 0.628532, 0.140244, 1.464369, 0.817574, 1.201413),
            ([2.0, 2.0, -10.0], 0.5, 0.499998, 0.499998, 0.693150, 0.500000, 0.693147),
            ([0.0, 3.0, 1.0], 0.0, 0.042010, 0.843795, 0.169846, 0.047426, 0.048587),
        ];
        for (logits, t, p_yes, p_no, l_eval, phat, ce2) in cases {
            let logp = Tensor::from_slice(&logits).view([1, 3]).log_softmax(-1, Kind::Float);
            let e = estimates_from_logps(&logp, 0, 1).unwrap()[0];
            let tt = Tensor::from_slice(&[t as f32]);
            let l = eval_loss(&logp.select(1, 0), &logp.select(1, 1), &tt).double_value(&[0]);
            let two_class = -(t * e.phat.ln() + (1.0 - t) * (1.0 - e.phat).ln());
            let got = [e.p_yes, e.p_no, l, e.phat, two_class];
            for (g, w) in got.iter().zip([p_yes, p_no, l_eval, phat, ce2]) {
                assert!((g - w).abs() < 2e-6, "logits {logits:?}: {got:?}");
            }
        }
    }

    #[test]
    fn objective_reads_the_answer_positions_and_the_response_tokens() {
        // Two examples, T = 4: example 0 has ctx of 2 tokens (len 4), example 1 of 1 token (len 3).
        let yes = Tensor::from_slice(&[-0.1f32, -0.2, -9.0, -0.5, -0.3, -9.0, -0.7, 0.0]).view([2, 1, 4]);
        let no = Tensor::from_slice(&[-0.1f32, -0.2, -9.0, -2.0, -0.3, -9.0, -0.1, 0.0]).view([2, 1, 4]);
        let tok = Tensor::cat(&[yes, no], 1);
        let mask = Tensor::from_slice(&[1f32, 1., 1., 1., 1., 1., 1., 0.]).view([2, 1, 4]).repeat([1, 2, 1]);
        let lens = Tensor::from_slice(&[4f32, 4., 3., 3.]).view([2, 2]);
        let x = Scored::new(Tensor::zeros([2, 2], (Kind::Float, tch::Device::Cpu)), lens)
            .with_tokens(tok, mask, None)
            .with_side(TARGET, Tensor::from_slice(&[0.25f32, 1.0]))
            .with_side(KEEP, Tensor::from_slice(&[1f32, 0.0]));
        let out = SelfEval { lambda: 2.0 }.compute(&x).unwrap();
        let got = Vec::<f64>::try_from(out.per_example.to_kind(Kind::Double)).unwrap();
        let want0 = 0.25 * 0.5 + 0.75 * 2.0 + 2.0 * (0.1 + 0.2) / 2.0;
        let want1 = 0.7; // t = 1: −log P(yes) at position 2; keep = 0
        assert!((got[0] - want0).abs() < 1e-6 && (got[1] - want1).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn objective_passes_the_engines_checks() {
        let data = shared::train::checks::examples(2, &[TARGET, KEEP], false);
        // Both rows of an example must be equally long (ctx ‖ Q ‖ answer): copy row 0's length.
        let data: Vec<_> = data
            .into_iter()
            .map(|mut e| {
                let mut r1 = e.responses[0].clone();
                *r1.last_mut().unwrap() = (r1.last().unwrap() + 1) % 40;
                e.responses[1] = r1;
                e
            })
            .collect();
        shared::train::checks::objective(&SelfEval { lambda: 1.0 }, &data).unwrap();
    }
}
