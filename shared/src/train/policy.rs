//! The policy step: score a micro-batch of [`Example`]s with the policy (one forward pass for
//! every response of every example), look up the frozen references' cached log-probs, gather the
//! side data, and hand the [`Scored`] batch to the [`Objective`]. Every preference method of the
//! project (DPO and its variants, SimPO, SPPO, DNO, INPO, TGDPO, LCPO, ...) trains through this
//! one step; [`train`] runs it under the engine's loop.

use super::config::TrainConfig;
use super::engine::{self, MicroOut, Step, Summary};
use super::example::{self, Example};
use super::objective::{BatchTotals, Needs, Objective, Observed, RefScored, Scored, WholeBatch};
use super::reference::{self, Frozen, References};
use super::scoring;
use crate::error::{Error, Result};
use crate::model::recompute::Pending;
use crate::model::Llama;
use std::collections::BTreeMap;
use std::path::Path;
use tch::{nn::VarStore, Kind, Tensor};

pub struct PolicyStep<'a, O: Objective + ?Sized> {
    pub model: &'a Llama,
    pub objective: &'a O,
    /// Truncated examples, with KTO's mismatched response appended when the objective asks.
    pub examples: Vec<Example>,
    pub references: References,
    pub pad: i64,
    needs: Needs,
    /// The current optimiser batch scored whole, for [`Needs::whole_batch`] objectives.
    whole: Option<(Vec<usize>, Tensor)>,
    /// Per-example metrics of the current optimiser batch, by example index, for objectives that
    /// [`Objective::observe`] their batches.
    seen: BTreeMap<usize, Vec<f64>>,
    /// Gradient checkpointing: on, and the micro-batch in flight's recompute pass.
    checkpointing: bool,
    pending: Option<Pending<'a>>,
}

impl<'a, O: Objective + ?Sized> PolicyStep<'a, O> {
    /// A step over `examples` (already prepared by [`prepare`]) with cached `references`.
    pub fn new(model: &'a Llama, objective: &'a O, examples: Vec<Example>, references: References, pad: i64) -> Result<Self> {
        let needs = objective.needs();
        let who = || format!("objective {}", objective.label());
        for role in &needs.references {
            let r = references.get(role).ok_or_else(|| Error::invalid(who(), format!("needs the `{role}` reference's log-probs")))?;
            if r.seq.len() != examples.len() || (needs.token_level && r.tokens.is_none()) {
                return Err(Error::invalid(who(), format!("the `{role}` reference's log-probs were computed for other examples: recompute them")));
            }
        }
        for (i, e) in examples.iter().enumerate() {
            if e.responses.len() < needs.rows_per_example() {
                return Err(Error::invalid(format!("training example {i}"), format!("has {} responses, {} needs {}", e.responses.len(), objective.label(), needs.rows_per_example())));
            }
            if let Some(name) = needs.side.iter().find(|s| !e.side.contains_key(*s)) {
                return Err(Error::invalid(format!("training example {i}"), format!("lacks the side value `{name}` that {} reads", objective.label())));
            }
        }
        Ok(PolicyStep { model, objective, examples, references, pad, needs, whole: None, seen: BTreeMap::new(), checkpointing: false, pending: None })
    }

    /// Recompute each decoder layer in the backward pass instead of keeping its activations
    /// (`TrainConfig::gradient_checkpointing`); sequence-level objectives only.
    pub fn with_gradient_checkpointing(mut self, on: bool) -> Result<Self> {
        if on && self.needs.token_level {
            return Err(Error::invalid(format!("objective {}", self.objective.label()), "gradient checkpointing covers summed sequence log-probs; this objective reads per-token log-probs: turn it off"));
        }
        self.checkpointing = on;
        Ok(self)
    }

    fn side_tensor(&self, name: &str, idx: &[usize]) -> Tensor {
        Tensor::from_slice(&idx.iter().map(|&i| self.examples[i].side[name] as f32).collect::<Vec<f32>>()).to_device(self.model.device())
    }

    /// `[B, K]` reference sums (f32) and optionally `[B, K, T]` per-token values of `role`.
    fn ref_scored(&self, role: &str, idx: &[usize], k: usize, tmax: usize) -> RefScored {
        let r = &self.references[role];
        let seq: Vec<f32> = idx.iter().flat_map(|&i| r.seq[i][..k].iter().map(|&v| v as f32)).collect();
        let dev = self.model.device();
        let seq = Tensor::from_slice(&seq).view([idx.len() as i64, k as i64]).to_device(dev);
        let tokens = r.tokens.as_ref().filter(|_| self.needs.token_level).map(|t| padded(idx.iter().map(|&i| &t[i][..k]), k, tmax).to_device(dev));
        RefScored { seq, tokens }
    }
}

/// `[B, K, T]` from per-example, per-response vectors, zero-padded to `tmax`.
fn padded<'b>(rows: impl Iterator<Item = &'b [Vec<f32>]>, k: usize, tmax: usize) -> Tensor {
    let mut flat = vec![];
    let mut b = 0;
    for resp in rows {
        b += 1;
        for r in resp.iter().take(k) {
            flat.extend_from_slice(&r[..r.len().min(tmax)]);
            flat.extend(std::iter::repeat(0f32).take(tmax.saturating_sub(r.len())));
        }
    }
    Tensor::from_slice(&flat).view([b, k as i64, tmax as i64])
}

impl<O: Objective + ?Sized> Step for PolicyStep<'_, O> {
    fn label(&self) -> String {
        self.objective.label()
    }
    fn len(&self) -> usize {
        self.examples.len()
    }
    fn metric_names(&self) -> Vec<String> {
        self.objective.metric_names()
    }
    fn batch_totals(&self, idx: &[usize], micro: usize) -> BatchTotals {
        BatchTotals::of(&self.examples, idx, micro)
    }
    fn tokens(&self, idx: &[usize]) -> usize {
        idx.iter().map(|&i| self.examples[i].responses.iter().map(|r| self.examples[i].prompt.len() + r.len()).sum::<usize>()).sum()
    }

    fn data_key(&self) -> String {
        example::examples_key(&self.examples)
    }

    fn micro_batch(&mut self, idx: &[usize], batch: &BatchTotals) -> Result<MicroOut> {
        let k = self.needs.rows_per_example();
        let s = if self.checkpointing {
            let (s, pending) = scoring::score_checkpointed(self.model, &self.examples, idx, k, self.pad)?;
            self.pending = Some(pending);
            s
        } else {
            scoring::score(self.model, &self.examples, idx, k, self.needs.token_level, self.pad)?
        };
        let tmax = s.tokens.as_ref().map_or(0, |t| t.size()[2] as usize);
        let refs: BTreeMap<String, RefScored> = self.needs.references.iter().map(|r| (r.clone(), self.ref_scored(r, idx, k, tmax))).collect();
        let side = self.needs.side.iter().map(|n| (n.clone(), self.side_tensor(n, idx))).collect();
        let whole = if self.needs.whole_batch && batch.micro_batches > 1 {
            if self.whole.as_ref().map_or(true, |(i, _)| *i != batch.indices) {
                let all = tch::no_grad(|| scoring::score(self.model, &self.examples, &batch.indices, k, false, self.pad))?;
                self.whole = Some((batch.indices.clone(), all.seq.detach()));
            }
            let logps = self.whole.as_ref().map(|(_, t)| t.shallow_clone()).unwrap_or_default();
            let refs = self.needs.references.iter().map(|r| (r.clone(), self.ref_scored(r, &batch.indices, k, 0).seq)).collect();
            Some(WholeBatch { logps, refs })
        } else {
            None
        };
        let token_weights = (self.needs.token_level && self.examples[idx[0]].token_weights.is_some())
            .then(|| padded(idx.iter().map(|&i| self.examples[i].token_weights.as_deref().unwrap_or(&[])), k, tmax).to_device(self.model.device()));
        let scored = Scored { logps: s.seq, lens: s.lens, token_logps: s.tokens, token_mask: s.mask, refs, side, token_weights, batch: batch.clone(), whole };
        let out = self.objective.compute(&scored)?;
        if self.objective.observes() {
            let cols: Vec<Vec<f64>> = out.metrics.iter().map(|m| Vec::<f64>::try_from(m.detach().to_kind(Kind::Double).to_device(tch::Device::Cpu).contiguous().view([-1]))).collect::<std::result::Result<_, _>>()?;
            for (j, &i) in idx.iter().enumerate() {
                self.seen.insert(i, cols.iter().map(|c| c[j]).collect());
            }
        }
        let loss = super::optim::micro_batch_loss(&out.per_example, batch.examples);
        let metric_sums = out.metrics.iter().map(|m| m.detach().to_kind(Kind::Double).sum(Kind::Double).double_value(&[])).collect();
        Ok(MicroOut { loss, metric_sums })
    }

    fn end_batch(&mut self, idx: &[usize]) -> Result<()> {
        if !self.objective.observes() {
            return Ok(());
        }
        let names = self.objective.metric_names();
        let mut metrics = vec![Vec::with_capacity(idx.len()); names.len()];
        for i in idx {
            let row = self.seen.get(i).ok_or_else(|| Error::invalid(format!("objective {}", self.objective.label()), format!("example {i} of the batch was never scored")))?;
            for (m, v) in metrics.iter_mut().zip(row) {
                m.push(*v);
            }
        }
        self.seen.clear();
        self.objective.observe(&Observed { examples: &self.examples, indices: idx, metrics })
    }

    fn state(&self) -> serde_json::Value {
        self.objective.state()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<()> {
        self.objective.restore(state)
    }

    fn gradient_checkpointing(&self) -> bool {
        self.checkpointing
    }

    fn after_backward(&mut self) -> Result<()> {
        self.pending.take().map_or(Ok(()), |p| p.backward())
    }
}

/// Truncate `examples` under `cfg` and append KTO's mismatched response when the objective
/// needs it: the examples exactly as training and the reference cache see them.
pub fn prepare<O: Objective + ?Sized>(examples: &[Example], objective: &O, cfg: &TrainConfig) -> Result<Vec<Example>> {
    let ex = example::truncate_all(examples, cfg.max_length, cfg.max_prompt_length)?;
    Ok(if objective.needs().kl_sample { example::with_mismatched(&ex) } else { ex })
}

/// Where a training run finds its frozen references and how their cache is keyed.
pub struct Refs<'a> {
    /// Models lent under role names (`"reference"`, `"initial"`, `"previous"`, ...).
    pub models: BTreeMap<String, Frozen<'a>>,
    /// Names the tokenizer in the cache key.
    pub tokenizer_id: &'a str,
    pub cache_dir: &'a Path,
}

impl<'a> Refs<'a> {
    /// No references (reference-free objectives).
    pub fn none(cache_dir: &'a Path) -> Self {
        Refs { models: BTreeMap::new(), tokenizer_id: "", cache_dir }
    }

    /// One model under the role `"reference"`.
    pub fn single(model: &'a Llama, vs: &'a VarStore, tokenizer_id: &'a str, cache_dir: &'a Path) -> Self {
        let mut models = BTreeMap::new();
        models.insert("reference".to_string(), Frozen { model, vs });
        Refs { models, tokenizer_id, cache_dir }
    }

    /// The cached log-probs of every role `objective` needs for `prepared` examples.
    pub fn logps<O: Objective + ?Sized>(&self, objective: &O, prepared: &[Example], micro: usize, pad: i64) -> Result<References> {
        let n = objective.needs();
        reference::for_roles(&n.references, &self.models, prepared, n.rows_per_example(), micro, n.token_level, pad, self.tokenizer_id, self.cache_dir)
    }
}

/// Train `policy` (weights in `vs`) on `examples` with `objective` under `cfg`: truncate, compute
/// (or read) the references' log-probs, then run the engine's loop. Writes `out_dir/metrics.csv`
/// and checkpoints in `out_dir/ckpt/`, and resumes from them.
#[allow(clippy::too_many_arguments)]
pub fn train<O: Objective + ?Sized>(policy: &Llama, vs: &mut VarStore, objective: &O, examples: &[Example], refs: &Refs, cfg: &TrainConfig, pad: i64, out_dir: &Path) -> Result<Summary> {
    cfg.validate()?;
    if examples.is_empty() {
        return Err(Error::invalid(format!("trainer {}", objective.label()), "no training examples"));
    }
    let prepared = prepare(examples, objective, cfg)?;
    let references = refs.logps(objective, &prepared, cfg.micro_batch, pad)?;
    let mut step = PolicyStep::new(policy, objective, prepared, references, pad)?.with_gradient_checkpointing(cfg.gradient_checkpointing)?;
    engine::run(vs, &mut step, cfg, out_dir)
}
