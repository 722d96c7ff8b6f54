//! Objectives as the engine sees them: a pure function from a [`Scored`] micro-batch (what the
//! policy and the frozen references made of it) to per-example losses and metrics.
//!
//! An objective declares what it reads ([`Needs`]): how many responses per example, which
//! references by role (`"reference"`, `"initial"`, `"previous"`, ...), which named side values,
//! and whether it works per token. The engine provides exactly that; an objective never sees a
//! model, an optimiser or a loop.
//!
//! Every [`PairObjective`] (DPO, IPO, CPO, ..., SimPO) is an [`Objective`] through a blanket
//! implementation: the engine hands it the pair view [`Scored::pairs`].

use super::example::Example;
use crate::error::{Error, Result};
use crate::objectives::{PairBatch, PairLogps, PairObjective};
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

/// What an objective reads from a batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Needs {
    /// Responses scored per example (2 for pairs); examples must have at least this many.
    pub responses: usize,
    /// Frozen models whose log-probs are looked up, by role.
    pub references: Vec<String>,
    /// Named side values each example must carry.
    pub side: Vec<String>,
    /// Per-token log-probs (and per-token reference log-probs) instead of sums only.
    pub token_level: bool,
    /// KTO's KL sample: one more response per example, a mismatched one ([`super::example::with_mismatched`]).
    pub kl_sample: bool,
    /// The loss uses statistics of the whole optimiser batch (KTO's reference point): when a batch
    /// is split into micro-batches, the engine first scores the whole batch without gradients and
    /// passes it in [`Scored::whole`], so the update does not depend on the split.
    pub whole_batch: bool,
}

impl Needs {
    /// Responses per example in the batch: the scored ones plus the KL sample.
    pub fn rows_per_example(&self) -> usize {
        self.responses + usize::from(self.kl_sample)
    }
}

/// Totals over the whole optimiser batch, known before any forward pass, so that a loss
/// normalised "per batch" does not depend on how the batch is split into micro-batches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchTotals {
    /// Examples in the optimiser batch.
    pub examples: usize,
    /// Response tokens in the batch, per response slot (`tokens[0]` = chosen tokens for pairs).
    pub tokens: Vec<f64>,
    /// Micro-batches the batch is split into.
    pub micro_batches: usize,
    /// The optimiser batch's example indices.
    pub indices: Vec<usize>,
}

impl BatchTotals {
    /// Totals of the examples `idx` of `data`, split into micro-batches of `micro`.
    pub fn of(data: &[Example], idx: &[usize], micro: usize) -> Self {
        let k = idx.iter().map(|&i| data[i].responses.len()).max().unwrap_or(0);
        let mut tokens = vec![0.0; k];
        for &i in idx {
            for (slot, r) in data[i].responses.iter().enumerate() {
                tokens[slot] += r.len() as f64;
            }
        }
        BatchTotals { examples: idx.len(), tokens, micro_batches: idx.len().div_ceil(micro.max(1)), indices: idx.to_vec() }
    }
}

/// Reference log-probs of one role for the examples of a micro-batch.
#[derive(Debug)]
pub struct RefScored {
    /// `[B, K]` summed response log-probs.
    pub seq: Tensor,
    /// `[B, K, T]` per-token log-probs at response positions (0 past each response's end).
    pub tokens: Option<Tensor>,
}

/// The whole optimiser batch scored without gradients (for [`Needs::whole_batch`] objectives).
#[derive(Debug)]
pub struct WholeBatch {
    /// `[N, K]` detached policy log-probs of every example of the optimiser batch.
    pub logps: Tensor,
    /// `[N, K]` reference log-probs by role.
    pub refs: BTreeMap<String, Tensor>,
}

/// What the policy and the references made of one micro-batch. `B` examples, `K` responses each,
/// `T` the longest response.
#[derive(Debug)]
pub struct Scored {
    /// `[B, K]` summed response log-probs under the policy (differentiable).
    pub logps: Tensor,
    /// `[B, K]` response token counts (float).
    pub lens: Tensor,
    /// `[B, K, T]` per-token log-probs at response positions (when [`Needs::token_level`]).
    pub token_logps: Option<Tensor>,
    /// `[B, K, T]` 1 on response tokens, 0 on padding (when token level).
    pub token_mask: Option<Tensor>,
    /// Reference log-probs by role.
    pub refs: BTreeMap<String, RefScored>,
    /// Named side values, `[B]` each.
    pub side: BTreeMap<String, Tensor>,
    /// `[B, K, T]` per-token weights (when the examples carry them and the objective is token level).
    pub token_weights: Option<Tensor>,
    /// The optimiser batch this micro-batch belongs to.
    pub batch: BatchTotals,
    /// The whole optimiser batch, when the objective needs it and the batch is split.
    pub whole: Option<WholeBatch>,
}

impl Scored {
    /// A batch from policy log-probs `[B, K]` and lengths `[B, K]` alone: for an objective's unit
    /// tests (test vectors); add references and side values with the `with_*` methods.
    pub fn new(logps: Tensor, lens: Tensor) -> Self {
        let b = logps.size()[0] as usize;
        let batch = BatchTotals { examples: b, tokens: vec![], micro_batches: 1, indices: (0..b).collect() };
        Scored { logps, lens, token_logps: None, token_mask: None, refs: BTreeMap::new(), side: BTreeMap::new(), token_weights: None, batch, whole: None }
    }

    /// Add a reference role's `[B, K]` log-probs (and optionally `[B, K, T]` per-token ones).
    pub fn with_ref(mut self, role: &str, seq: Tensor, tokens: Option<Tensor>) -> Self {
        self.refs.insert(role.to_string(), RefScored { seq, tokens });
        self
    }

    /// Add a named side value `[B]`.
    pub fn with_side(mut self, name: &str, v: Tensor) -> Self {
        self.side.insert(name.to_string(), v);
        self
    }

    /// Add per-token policy log-probs, mask and (optionally) weights, each `[B, K, T]`.
    pub fn with_tokens(mut self, logps: Tensor, mask: Tensor, weights: Option<Tensor>) -> Self {
        self.token_logps = Some(logps);
        self.token_mask = Some(mask);
        self.token_weights = weights;
        self
    }

    /// The reference scores of `role`, or an error naming the objective and the role.
    pub fn reference(&self, role: &str, who: &str) -> Result<&RefScored> {
        self.refs.get(role).ok_or_else(|| Error::invalid(format!("objective {who}"), format!("needs the `{role}` reference's log-probs, which the trainer did not provide")))
    }

    /// A side value `[B]`, or an error naming it.
    pub fn side(&self, name: &str, who: &str) -> Result<&Tensor> {
        self.side.get(name).ok_or_else(|| Error::invalid(format!("objective {who}"), format!("needs the side value `{name}` on every example")))
    }

    /// Column `k` of a `[B, K]` (or `[B, K, T]`) tensor.
    pub fn col(t: &Tensor, k: i64) -> Tensor {
        t.select(1, k)
    }

    /// The pair view (responses 0 and 1 = chosen and rejected; the `"reference"` role when
    /// present; response 2 as KTO's KL sample when present) that every [`PairObjective`] reads.
    pub fn pairs(&self) -> PairLogps {
        let c = |t: &Tensor, k| Self::col(t, k);
        let mut x = PairLogps::new(c(&self.logps, 0), c(&self.logps, 1), c(&self.lens, 0), c(&self.lens, 1));
        let k = self.logps.size()[1];
        if let Some(r) = self.refs.get("reference") {
            x = x.with_reference(c(&r.seq, 0), c(&r.seq, 1));
            match self.whole.as_ref().and_then(|w| w.refs.get("reference").map(|wr| (&w.logps, wr))) {
                // Split batch: the KL sample and the in-batch log-ratios come from the whole batch.
                Some((wl, wr)) => {
                    if k > 2 {
                        x = x.with_kl_sample(c(wl, 2), c(wr, 2));
                    }
                    x.batch_log_ratios = Some((c(wl, 0) - c(wr, 0), c(wl, 1) - c(wr, 1)));
                }
                None if k > 2 => x = x.with_kl_sample(c(&self.logps, 2).detach(), c(&r.seq, 2)),
                None => {}
            }
        }
        x.batch = Some(PairBatch { pairs: self.batch.examples as f64, chosen_tokens: self.batch.tokens.first().copied().unwrap_or(0.0) });
        x
    }
}

/// An objective's output for one micro-batch.
#[derive(Debug)]
pub struct Loss {
    /// `[B]` per-example losses; the engine back-propagates `Σ_b loss_b / examples in the batch`,
    /// so accumulated micro-batches give the large-batch update.
    pub per_example: Tensor,
    /// `[B]` per-example metrics (detached), in the order of [`Objective::metric_names`]; the log
    /// shows their batch means.
    pub metrics: Vec<Tensor>,
}

/// What one optimiser batch came to, handed to [`Objective::observe`] once every micro-batch of it
/// has been scored.
#[derive(Debug)]
pub struct Observed<'a> {
    /// The training examples (as the step holds them: truncated) and the batch's indices into them.
    pub examples: &'a [Example],
    pub indices: &'a [usize],
    /// `metrics[m][j]`: metric `m` (in the order of [`Objective::metric_names`]) of example
    /// `indices[j]`, as [`Objective::compute`] returned it.
    pub metrics: Vec<Vec<f64>>,
}

impl Observed<'_> {
    /// The values of the named metric, in the order of `indices`.
    pub fn metric(&self, names: &[String], name: &str, who: &str) -> Result<&[f64]> {
        let m = names.iter().position(|n| n == name).ok_or_else(|| Error::invalid(format!("objective {who}"), format!("observes the metric `{name}`, which it does not report")))?;
        Ok(&self.metrics[m])
    }
}

/// A training objective for the engine's policy step.
///
/// Most objectives are pure functions of the batch. An objective that also *estimates something
/// from the batches it trains on* (LCPO's annotator reliability η, re-estimated after every
/// batch, Eq. 7) keeps that estimate behind interior mutability and implements
/// [`Objective::observe`], [`Objective::state`] and [`Objective::restore`]: the engine calls
/// `observe` once per optimiser batch, after every micro-batch's forward pass and before the
/// optimiser step, and saves `state` in every checkpoint, so a resumed run continues exactly.
pub trait Objective: Send + Sync {
    /// Short name for logs and progress bars.
    fn label(&self) -> String;
    fn needs(&self) -> Needs;
    /// Names of the per-example metrics [`Objective::compute`] returns.
    fn metric_names(&self) -> Vec<String>;
    fn compute(&self, x: &Scored) -> Result<Loss>;
    /// Whether [`Objective::observe`] wants the batches (the step then collects per-example metrics).
    fn observes(&self) -> bool {
        false
    }
    /// Update the objective's own estimates from one optimiser batch's per-example metrics.
    fn observe(&self, _batch: &Observed) -> Result<()> {
        Ok(())
    }
    /// The objective's own estimates, for checkpoints (`null` for a pure objective).
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Set the objective's own estimates from [`Objective::state`]'s value.
    fn restore(&self, _state: &serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// The metrics every pair objective reports (TRL's `rewards/*` and accuracy).
pub const PAIR_METRICS: [&str; 4] = ["chosen_reward", "rejected_reward", "margin", "accuracy"];

impl<P: PairObjective + ?Sized> Objective for P {
    fn label(&self) -> String {
        self.name().to_string()
    }
    fn needs(&self) -> Needs {
        Needs {
            responses: 2,
            references: if self.needs_reference() { vec!["reference".into()] } else { vec![] },
            side: vec![],
            token_level: false,
            kl_sample: self.needs_kl_sample(),
            whole_batch: self.needs_whole_batch(),
        }
    }
    fn metric_names(&self) -> Vec<String> {
        PAIR_METRICS.iter().map(|s| s.to_string()).collect()
    }
    fn compute(&self, x: &Scored) -> Result<Loss> {
        let out = self.loss(&x.pairs())?;
        let margin = &out.chosen_reward - &out.rejected_reward;
        let accuracy = margin.gt(0.0).to_kind(Kind::Float);
        Ok(Loss { per_example: out.loss, metrics: vec![out.chosen_reward, out.rejected_reward, margin, accuracy] })
    }
}
