//! The miniature (spec "Miniature reproduction (proposal)"), top to bottom:
//!
//! 1. `M_0 = SFT(M_b, IFT ∪ EFT)`: the world's cached base (IFT: its demonstrations) fine-tuned on
//!    the judge form `<judge> x <resp> y <score>` → `<Sk>`, k the 5-point additive rubric of `y`,
//!    levels balanced, replayed 1:1 with plain demonstrations ([`shared::world::forms`], `Form::Judge`;
//!    cached under a key that hashes the default base and the forms config);
//! 2. the iteration prompts: `chunks` × `prompts_per_chunk` training prompts, chunk i for iteration i;
//! 3. every method from the same `M_0`, on the shared on-policy loop ([`shared::train::iterate`];
//!    [`TsrAnnotator`] is the data side, the shared sigmoid [`Dpo`] the objective, the previous
//!    iterate `M_i` the reference):
//!    - Self-Rewarding: K samples of `M_i`, judged by `M_i`, best vs worst, ties dropped;
//!    - Temporal: Phase 1 (K samples of `M_i` and K of `M_0`, all judged by `M_i`, anchored
//!      rejection, [`crate::select::phase1`]) gives D_1; the future model `M_f = DPO(M_i, D_1)` is
//!      trained by the same engine (`shared::train::policy::train`, reference `M_i`); Phase 2
//!      (K samples of `M_f`, judged by `M_i`, [`crate::select::phase2`]) gives D_2; the loop then
//!      trains `M_{i+1} = DPO(M_i, D_2)` from `M_i` (`M_f` is thrown away);
//!    - Past-only: Phase 1 alone (D_1 trains `M_{i+1}`);
//! 4. per iteration, the diagnostics of the trained pairs: the judge gap `s_c − s_r`, the oracle
//!    gap `r*_c − r*_r`, the cosine of the chosen and rejected mean-pooled last-layer states under
//!    `M_i`, tie drops, anchored / future shares, the self-judge's agreement with the oracle;
//! 5. after each iteration: greedy answers to the mini AlpacaEval prompts (oracle, judge win rate
//!    and LC win rate against the fixed baseline, win against `M_0`'s greedy answer).
//!
//! Everything is saved under a run folder keyed by the config and seed; a rerun resumes.

use crate::config::{Kind, MiniConfig};
use crate::judge::{pairwise_agreement, read, Reading};
use crate::select::{self, From, Selection};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use shared::cli::Scale;
use shared::model::generate::GenerateConfig;
use shared::model::Llama;
use shared::objectives::dpo::Dpo;
use shared::train::iterate::{self, Annotation, Annotator, IterateConfig, Reference, Trained};
use shared::train::onpolicy::{sample_groups, with_stop};
use shared::train::policy::{self, Refs};
use shared::train::scoring::score_all;
use shared::train::{Example, TrainConfig};
use shared::world::alpaca::{EvalRow, MiniAlpacaEval};
use shared::world::base::{checkpoints_root, Base, BaseConfig};
use shared::world::forms;
use shared::world::policy::{decoding, sample_texts, MAX_RESPONSE_TOKENS};
use shared::world::{rng, Prompt, World, WorldConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::nn::VarStore;

const TOKENIZER_ID: &str = "world-char-v1";

/// Greedy answers of one model to the held-out prompts, with their oracle scores.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EvalOut {
    pub texts: Vec<String>,
    pub oracle: Vec<f64>,
}

/// What an iteration's data looked like (stored in the iteration's record).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IterData {
    pub prompts: usize,
    /// Pairs trained on (D_2 for Temporal, D_1 for Past-only, best-vs-worst for Self-Rewarding).
    pub kept: usize,
    /// Prompts dropped because the selected pair had no judge gap (ties, strict `>`).
    pub tie_dropped: usize,
    /// Prompts with no parseable judgment for the current model's samples.
    pub unjudged: usize,
    /// Pairs of D_1 (Phase 1) for the temporal methods.
    pub phase1_kept: usize,
    /// Kept pairs whose rejected response is `M_0`'s / whose chosen one is `M_f`'s.
    pub anchored: usize,
    pub future_chosen: usize,
    /// Optimiser steps of the future model's DPO run (0 without Phase 2).
    pub future_steps: u64,
    /// Responses sampled and judged per prompt (K, 2K or 3K).
    pub samples_per_prompt: usize,
    /// Per kept pair: prompt index in the chunk, judge gap, oracle gap, cosine of representations.
    pub pair_prompt: Vec<usize>,
    pub judge_gap: Vec<f64>,
    pub oracle_gap: Vec<f64>,
    pub cosine: Vec<f64>,
    /// Phase 1's mean judge and oracle gaps (temporal methods).
    pub phase1_judge_gap: f64,
    pub phase1_oracle_gap: f64,
    /// Per prompt (index, value): the self-judge `M_i`'s pairwise agreement with the oracle over
    /// every response it judged for that prompt, where defined.
    pub agreement: Vec<(usize, f64)>,
    /// Share of judged responses with no parseable judgment; mean |judge score − rubric|.
    pub unparseable: f64,
    pub abs_error: f64,
    pub mean_judge_score: f64,
}

/// What the iteration's training did and the evaluation after it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IterEval {
    /// Mean σ(−r̂) over the trained pairs after the run (r̂ of `M_{i+1}` against `M_i`).
    pub dpo_weight_end: f64,
    pub eval: EvalOut,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IterRow {
    pub method: String,
    pub kind: Kind,
    /// 0-based, as the paper numbers them (iter0 = the first iteration's data and the model trained on it).
    pub iter: usize,
    pub data: IterData,
    pub eval: IterEval,
    pub steps: u64,
    pub seconds: f64,
}

/// `M_0`'s judge on fresh EFT demonstrations (new draws, not the training ones): per demonstration
/// the rubric level, the expected score `Σ k·p_k` and the most likely score token (T = 1).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EftCheck {
    pub level: Vec<f64>,
    pub expected: Vec<f64>,
    pub argmax: Vec<f64>,
}

/// Read `M_0`'s judge on `n` fresh EFT demonstrations.
pub fn eft_check(ctx: &Ctx, n: usize) -> Result<EftCheck> {
    let tok = &ctx.base.tok;
    let demos = forms::judge_demos(&ctx.world, n, ctx.cfg.judge.max_response_chars, &mut rng(ctx.seed, "tsr-eft-fresh"));
    let contexts = demos.iter().map(|(p, _)| tok.encode_prompt(p)).collect::<shared::Result<Vec<_>>>()?;
    let readings = read(&ctx.base.model, &contexts, &ctx.score_ids, 1.0, tok.pad, ctx.cfg.judge.batch)?;
    let mut out = EftCheck::default();
    for ((_, y), r) in demos.iter().zip(&readings) {
        out.level.push(y.trim_start_matches("<S").trim_end_matches('>').parse::<f64>().context("a score token")?);
        out.expected.push(crate::judge::expected_score(&r.p));
        out.argmax.push((select::argmax(&r.p) + 1) as f64);
    }
    Ok(out)
}

pub struct Outcome {
    pub seed: u64,
    /// `M_0`'s judge on fresh EFT demonstrations.
    pub eft: EftCheck,
    pub m0: EvalOut,
    pub rows: Vec<IterRow>,
    /// Mini AlpacaEval rows: `M0` and every `method@iterK`.
    pub alpaca: Vec<EvalRow>,
    pub base_trained: bool,
    pub seconds: f64,
}

/// A method after iteration (round) k, 0-based, as named in the records.
pub use shared::train::iterate::at;

pub struct Ctx<'a> {
    pub cfg: &'a MiniConfig,
    pub world: World,
    /// `M_0`: the SFT base that can judge.
    pub base: Base,
    pub bench: MiniAlpacaEval,
    pub seed: u64,
    pub chunks: Vec<Vec<Prompt>>,
    pub chunk_ids: Vec<Vec<Vec<i64>>>,
    pub score_ids: [i64; 5],
    pub m0_eval: EvalOut,
    /// Each DPO run's training config (the config's, seeded by the run's seed).
    pub train: TrainConfig,
}

/// Greedy answers to the held-out prompts, scored by the oracle.
pub fn evaluate(ctx: &Ctx, model: &Llama) -> Result<EvalOut> {
    let xs = &ctx.bench.prompts;
    let texts = sample_texts(model, &ctx.base.tok, xs, &decoding(0.0, ctx.seed, &ctx.base.tok), ctx.cfg.prompts_per_batch)?;
    let oracle = xs.iter().zip(&texts).map(|(x, y)| ctx.world.oracle.score(x, y)).collect();
    Ok(EvalOut { texts, oracle })
}

fn gen(ctx: &Ctx, seed: u64) -> GenerateConfig {
    GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature: ctx.cfg.temperature, top_p: ctx.cfg.top_p, stop_tokens: vec![ctx.base.tok.eos], seed }
}

/// The valid (parseable) scores of a group with their indices.
fn valid(s: &[Option<f64>]) -> (Vec<usize>, Vec<f64>) {
    s.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).unzip()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Mean-pooled final hidden states of `prompt ‖ response` over the response tokens, one row per pair.
pub fn pooled_states(model: &Llama, seqs: &[(Vec<i64>, Vec<i64>)], pad: i64, batch: usize) -> shared::Result<Vec<Vec<f64>>> {
    use tch::{Kind as K, Tensor};
    let dev = model.device();
    let mut out = vec![];
    tch::no_grad(|| -> shared::Result<()> {
        for chunk in seqs.chunks(batch.max(1)) {
            let t = chunk.iter().map(|(p, r)| p.len() + r.len()).max().unwrap_or(1);
            let (mut ids, mut mask, mut sel) = (vec![], vec![], vec![]);
            for (p, r) in chunk {
                let n = p.len() + r.len();
                ids.extend(p.iter().chain(r).copied().chain(std::iter::repeat(pad).take(t - n)));
                mask.extend(std::iter::repeat(1i64).take(n).chain(std::iter::repeat(0).take(t - n)));
                sel.extend((0..t).map(|j| if j >= p.len() && j < n { 1.0f32 } else { 0.0 }));
            }
            let shape = [chunk.len() as i64, t as i64];
            let h = model.hidden_states(&Tensor::from_slice(&ids).view(shape).to_device(dev), &Tensor::from_slice(&mask).view(shape).to_device(dev))?.to_kind(K::Double);
            let w = Tensor::from_slice(&sel).view(shape).to_device(dev).to_kind(K::Double).unsqueeze(-1);
            let m = (h * &w).sum_dim_intlist(1, false, K::Double) / w.sum_dim_intlist(1, false, K::Double).clamp_min(1.0);
            out.extend(Vec::<Vec<f64>>::try_from(m.to_device(tch::Device::Cpu))?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// One selected pair before it becomes an example.
struct Picked {
    prompt: usize,
    chosen: Vec<i64>,
    rejected: Vec<i64>,
    sel: Selection,
    oracle_gap: f64,
}

/// What the annotator needs from a scale (the miniature's [`Ctx`], the paper's
/// [`crate::paper::PaperSetting`]): the prompts, sampling, the self-judge, `M_0`, training, and
/// (miniature only) the oracle and the held-out evaluation. The selection, the future model and the
/// diagnostics are [`TsrAnnotator`]'s, the same at every scale.
pub trait Setting {
    /// Iteration t's prompt ids (chunk t).
    fn prompt_ids(&self, t: usize) -> &[Vec<i64>];
    fn pad(&self) -> i64;
    /// Response sampling with `seed`.
    fn gen(&self, seed: u64) -> GenerateConfig;
    /// K, and prompts per generation call.
    fn samples(&self) -> usize;
    fn prompts_per_batch(&self) -> usize;
    /// `judge` (always the current model `M_i`) scores every response of every group of chunk t
    /// (`None`: no parseable judgment).
    fn judge(&self, judge: &Llama, t: usize, groups: &[Vec<Vec<i64>>], rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Vec<Vec<Option<f64>>>>;
    /// (oracle score, rubric points) of a response, where the scale has an oracle (the miniature).
    fn oracle(&self, t: usize, p: usize, y: &[i64]) -> Option<(f64, f64)>;
    /// `M_0`: its weights and model.
    fn initial(&self) -> (&VarStore, &Llama);
    fn objective(&self) -> &Dpo;
    /// Each DPO run's training config (the future model's too).
    fn train(&self) -> &TrainConfig;
    fn phase2_rescues(&self) -> bool;
    fn seed(&self) -> u64;
    fn tokenizer_id(&self) -> &str;
    /// Held-out evaluation of an iterate (the miniature's greedy answers), if any.
    fn evaluate(&self, policy: &Llama) -> shared::Result<Option<EvalOut>>;
    /// The baseline of the evaluation's win column (`M_0`'s oracle scores), if any.
    fn m0_oracle(&self) -> &[f64] {
        &[]
    }
}

/// The data side of every method on the shared on-policy loop, at every scale.
pub struct TsrAnnotator<'a> {
    pub setting: &'a dyn Setting,
    pub name: String,
    pub kind: Kind,
    /// The method's run folder (`iter-<t>/model.safetensors` are its iterates).
    pub dir: PathBuf,
}

impl TsrAnnotator<'_> {
    fn seed_of(&self, t: usize) -> u64 {
        // The same stream for every method at iteration 0: they all start from M_0 on chunk 0.
        self.setting.seed() ^ (t as u64 + 1).wrapping_mul(1_000_003)
    }

    /// A fresh copy of `M_t` (t = 0: `M_0`; else the loop's saved iterate).
    fn current(&self, t: usize) -> shared::Result<(VarStore, Llama)> {
        let (vs0, m0) = self.setting.initial();
        let (vs, m) = m0.copy_with(vs0)?;
        if t > 0 {
            shared::model::weights::load_into(&vs, &[self.dir.join(format!("iter-{t}/model.safetensors"))], &[])?;
        }
        Ok((vs, m))
    }
}

impl Annotator for TsrAnnotator<'_> {
    fn annotate(&mut self, t: usize, policy: &Llama) -> shared::Result<Annotation> {
        let st = self.setting;
        let ids = st.prompt_ids(t);
        let pad = st.pad();
        let seed = self.seed_of(t);
        let k = st.samples();
        let g = st.gen(seed);
        let mut jr = rng(seed, "tsr-judge");
        let r_i = sample_groups(policy, ids, pad, k, st.prompts_per_batch(), &g)?;
        let s_i = st.judge(policy, t, &r_i, &mut jr)?;
        let oracle = |p: usize, y: &[i64]| st.oracle(t, p, y).map_or(f64::NAN, |o| o.0);
        let mut data = IterData { prompts: ids.len(), samples_per_prompt: k, ..Default::default() };
        // Every response M_i judged this iteration, per prompt: (judge score, oracle score, rubric).
        let mut judged: Vec<Vec<(Option<f64>, f64, f64)>> = vec![vec![]; ids.len()];
        let note = |groups: &[Vec<Vec<i64>>], scores: &[Vec<Option<f64>>], judged: &mut Vec<Vec<(Option<f64>, f64, f64)>>| {
            for (p, (g, s)) in groups.iter().zip(scores).enumerate() {
                for (y, v) in g.iter().zip(s) {
                    if let Some((o, r)) = st.oracle(t, p, y) {
                        judged[p].push((*v, o, r));
                    }
                }
            }
        };
        note(&r_i, &s_i, &mut judged);
        let mut picked: Vec<Picked> = vec![];
        match self.kind {
            Kind::SelfRewarding => {
                for p in 0..ids.len() {
                    let (ii, vi) = valid(&s_i[p]);
                    if vi.is_empty() {
                        data.unjudged += 1;
                        continue;
                    }
                    let (w, l) = (select::argmax(&vi), select::argmin(&vi));
                    let sel = Selection { chosen: (From::Current, w), rejected: (From::Current, l), s_chosen: vi[w], s_rejected: vi[l], kept: vi[w] > vi[l] };
                    debug_assert_eq!(select::self_rewarding(&vi).is_some(), sel.kept);
                    if !sel.kept {
                        data.tie_dropped += 1;
                        continue;
                    }
                    let (c, r) = (&r_i[p][ii[w]], &r_i[p][ii[l]]);
                    picked.push(Picked { prompt: p, chosen: c.clone(), rejected: r.clone(), sel, oracle_gap: oracle(p, c) - oracle(p, r) });
                }
            }
            Kind::Temporal | Kind::PastOnly => {
                data.samples_per_prompt = if self.kind == Kind::Temporal { 3 * k } else { 2 * k };
                let r_0 = sample_groups(st.initial().1, ids, pad, k, st.prompts_per_batch(), &st.gen(seed ^ 0x0a11_0000))?;
                let s_0 = st.judge(policy, t, &r_0, &mut jr)?;
                note(&r_0, &s_0, &mut judged);
                // Phase 1: anchored rejection.
                let mut p1: Vec<Option<(Selection, Vec<usize>, Vec<usize>, Vec<f64>)>> = vec![];
                let pick = |p: usize, sel: Selection, ii: &[usize], i0: &[usize], iff: &[usize], r_f: Option<&Vec<Vec<Vec<i64>>>>| -> Picked {
                    let get = |(from, j): (From, usize)| -> Vec<i64> {
                        match from {
                            From::Current => r_i[p][ii[j]].clone(),
                            From::Initial => r_0[p][i0[j]].clone(),
                            From::Future => r_f.expect("phase 2")[p][iff[j]].clone(),
                        }
                    };
                    let (c, r) = (get(sel.chosen), get(sel.rejected));
                    let gap = oracle(p, &c) - oracle(p, &r);
                    Picked { prompt: p, chosen: c, rejected: r, sel, oracle_gap: gap }
                };
                let mut d1: Vec<Picked> = vec![];
                for p in 0..ids.len() {
                    let (ii, vi) = valid(&s_i[p]);
                    if vi.is_empty() {
                        data.unjudged += 1;
                        p1.push(None);
                        continue;
                    }
                    let (i0, v0) = match valid(&s_0[p]) {
                        (_, v) if v.is_empty() => (vec![usize::MAX], vec![f64::INFINITY]), // M_0 never anchors
                        x => x,
                    };
                    let sel = select::phase1(&vi, &v0);
                    if sel.kept {
                        d1.push(pick(p, sel, &ii, &i0, &[], None));
                    }
                    p1.push(Some((sel, ii, i0, vi)));
                }
                data.phase1_kept = d1.len();
                data.phase1_judge_gap = mean(&d1.iter().map(|q| q.sel.s_chosen - q.sel.s_rejected).collect::<Vec<_>>());
                data.phase1_oracle_gap = mean(&d1.iter().map(|q| q.oracle_gap).collect::<Vec<_>>());
                if self.kind == Kind::PastOnly {
                    data.tie_dropped = p1.iter().flatten().filter(|(s, ..)| !s.kept).count();
                    picked = d1;
                } else {
                    // The future model: M_f = DPO(M_i, D_1), reference M_i, by the shared engine.
                    let d1_examples: Vec<Example> = d1.iter().map(|q| Example::pair(ids[q.prompt].clone(), with_stop(&q.chosen, &g), with_stop(&q.rejected, &g))).collect();
                    let (vs_ref, m_ref) = self.current(t)?;
                    let (mut vs_f, m_f) = m_ref.copy_with(&vs_ref)?;
                    let fdir = self.dir.join(format!("future-{}", t + 1));
                    let mut train = st.train().clone();
                    train.seed = st.seed() ^ 0xf0f0 ^ (t as u64 + 1);
                    if !d1_examples.is_empty() {
                        let cache = fdir.join("reference");
                        let s = policy::train(&m_f, &mut vs_f, st.objective(), &d1_examples, &Refs::single(&m_ref, &vs_ref, st.tokenizer_id(), &cache), &train, pad, &fdir.join("train"))?;
                        data.future_steps = s.steps;
                        let _ = std::fs::remove_dir_all(fdir.join("train/ckpt"));
                    }
                    drop((vs_ref, m_ref));
                    // Phase 2: future-guided chosen, every score still M_i's (pitfall 1).
                    let r_f = sample_groups(&m_f, ids, pad, k, st.prompts_per_batch(), &st.gen(seed ^ 0xf0_0000))?;
                    let s_f = st.judge(policy, t, &r_f, &mut jr)?;
                    note(&r_f, &s_f, &mut judged);
                    for (p, e) in p1.iter().enumerate() {
                        let Some((sel1, ii, i0, vi)) = e else { continue };
                        let (iff, vf) = valid(&s_f[p]);
                        let sel = if vf.is_empty() { *sel1 } else { select::phase2(sel1, vi, &vf) };
                        if !sel.kept || (!st.phase2_rescues() && !sel1.kept) {
                            data.tie_dropped += 1;
                            continue;
                        }
                        picked.push(pick(p, sel, ii, i0, &iff, Some(&r_f)));
                    }
                }
            }
        }
        // Diagnostics of the trained pairs.
        data.kept = picked.len();
        data.anchored = picked.iter().filter(|q| q.sel.rejected.0 == From::Initial).count();
        data.future_chosen = picked.iter().filter(|q| q.sel.chosen.0 == From::Future).count();
        data.pair_prompt = picked.iter().map(|q| q.prompt).collect();
        data.judge_gap = picked.iter().map(|q| q.sel.s_chosen - q.sel.s_rejected).collect();
        data.oracle_gap = picked.iter().map(|q| q.oracle_gap).collect();
        let seqs: Vec<(Vec<i64>, Vec<i64>)> = picked.iter().flat_map(|q| [(ids[q.prompt].clone(), q.chosen.clone()), (ids[q.prompt].clone(), q.rejected.clone())]).collect();
        let h = pooled_states(policy, &seqs, pad, 128)?;
        data.cosine = h.chunks(2).map(|w| crate::diagnostics::cosine(&w[0], &w[1])).collect();
        let all: Vec<&(Option<f64>, f64, f64)> = judged.iter().flatten().collect();
        data.unparseable = all.iter().filter(|j| j.0.is_none()).count() as f64 / all.len().max(1) as f64;
        let ok: Vec<(f64, f64)> = all.iter().filter_map(|j| j.0.map(|s| (s, j.2))).collect();
        data.abs_error = mean(&ok.iter().map(|(s, r)| (s - r).abs()).collect::<Vec<_>>());
        data.mean_judge_score = mean(&ok.iter().map(|(s, _)| *s).collect::<Vec<_>>());
        for (p, js) in judged.iter().enumerate() {
            let (s, o): (Vec<f64>, Vec<f64>) = js.iter().filter_map(|j| j.0.map(|s| (s, j.1))).unzip();
            if let Some(a) = pairwise_agreement(&s, &o) {
                data.agreement.push((p, a));
            }
        }
        let examples = picked.iter().map(|q| Example::pair(ids[q.prompt].clone(), with_stop(&q.chosen, &g), with_stop(&q.rejected, &g))).collect();
        eprintln!(
            "    {:<14} iter{t}: {} of {} prompts kept ({} tie-dropped, {} anchored, {} future-chosen), judge gap {:.3}, oracle gap {:+.3}, cos {:.4}, judge agreement {:.3}",
            self.name,
            data.kept,
            data.prompts,
            data.tie_dropped,
            data.anchored,
            data.future_chosen,
            mean(&data.judge_gap),
            mean(&data.oracle_gap),
            mean(&data.cosine),
            mean(&data.agreement.iter().map(|a| a.1).collect::<Vec<_>>())
        );
        Ok(Annotation { examples, stats: serde_json::to_value(data).unwrap_or_default() })
    }

    fn evaluate(&mut self, _t: usize, policy: &Llama, trained: &Trained) -> shared::Result<serde_json::Value> {
        let st = self.setting;
        let beta = st.objective().beta;
        let before = &trained.references["reference"].seq;
        let (after, _) = score_all(policy, trained.examples, 2, st.train().micro_batch, false, st.pad(), "margins")?;
        let w: Vec<f64> = after.iter().zip(before).map(|(a, r)| 1.0 / (1.0 + (beta * ((a[0] - r[0]) - (a[1] - r[1]))).exp())).collect();
        let eval = st.evaluate(policy)?.unwrap_or_default();
        let wins = mean(&eval.oracle.iter().zip(st.m0_oracle()).map(|(a, b)| win(*a, *b)).collect::<Vec<_>>());
        eprintln!("    {:<14} → oracle {:.3}, win vs M0 {:.3}, σ(−r̂) after {:.3}", self.name, mean(&eval.oracle), wins, mean(&w));
        Ok(serde_json::to_value(IterEval { dpo_weight_end: mean(&w), eval }).unwrap_or_default())
    }
}

impl Setting for Ctx<'_> {
    fn prompt_ids(&self, t: usize) -> &[Vec<i64>] {
        &self.chunk_ids[t]
    }
    fn pad(&self) -> i64 {
        self.base.tok.pad
    }
    fn gen(&self, seed: u64) -> GenerateConfig {
        gen(self, seed)
    }
    fn samples(&self) -> usize {
        self.cfg.samples
    }
    fn prompts_per_batch(&self) -> usize {
        self.cfg.prompts_per_batch
    }
    fn judge(&self, judge: &Llama, t: usize, groups: &[Vec<Vec<i64>>], rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Vec<Vec<Option<f64>>>> {
        let tok = &self.base.tok;
        let mut contexts = vec![];
        for (x, g) in self.chunks[t].iter().zip(groups) {
            for y in g {
                contexts.push(tok.encode_prompt(&forms::judge_prompt(x, &tok.decode_response(y), self.cfg.judge.max_response_chars))?);
            }
        }
        let readings: Vec<Reading> = read(judge, &contexts, &self.score_ids, self.cfg.judge.temperature, tok.pad, self.cfg.judge.batch)?;
        let mut it = readings.into_iter();
        Ok(groups.iter().map(|g| g.iter().map(|_| it.next().and_then(|r| r.score(&self.cfg.judge, rng))).collect()).collect())
    }
    fn oracle(&self, t: usize, p: usize, y: &[i64]) -> Option<(f64, f64)> {
        let grade = self.world.oracle.grade(&self.chunks[t][p], &self.base.tok.decode_response(y));
        Some((grade.score, forms::rubric(&grade).clamp(1, 5) as f64))
    }
    fn initial(&self) -> (&VarStore, &Llama) {
        (&self.base.vs, &self.base.model)
    }
    fn objective(&self) -> &Dpo {
        &self.cfg.objective
    }
    fn train(&self) -> &TrainConfig {
        &self.train
    }
    fn phase2_rescues(&self) -> bool {
        self.cfg.phase2_rescues
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn tokenizer_id(&self) -> &str {
        TOKENIZER_ID
    }
    fn evaluate(&self, policy: &Llama) -> shared::Result<Option<EvalOut>> {
        evaluate(self, policy).map(Some).map_err(|e| shared::Error::Other(format!("{e:#}")))
    }
    fn m0_oracle(&self) -> &[f64] {
        &self.m0_eval.oracle
    }
}

/// 1 when `a` beats `b`, ½ on a tie, else 0.
pub fn win(a: f64, b: f64) -> f64 {
    if a > b {
        1.0
    } else if a == b {
        0.5
    } else {
        0.0
    }
}

/// Where a seed's run lives ([`shared::driver::run_dir`]: a hash of the config and the seed).
pub fn run_dir(runs_root: &Path, cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64) -> PathBuf {
    shared::driver::run_dir(runs_root, &toml::to_string(cfg).unwrap_or_default(), scale, seed)
}

pub fn run(cfg: &MiniConfig, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let dir = run_dir(runs_root, cfg, scale, seed);
    let world = World::new(WorldConfig::default())?;
    eprintln!("==> M_0: the SFT base fine-tuned to judge (EFT; {} scale; cached after the first run)", scale.name());
    let base = forms::ensure(&world, &BaseConfig::for_scale(scale), &cfg.forms, seed, &checkpoints_root(), device)?;
    let base_trained = base.trained || base.report.is_some();
    let tok = base.tok.clone();
    let score_ids = {
        let id = |k: u8| tok.id(&forms::score_token(k)).context("the world tokenizer lacks a score token");
        [id(1)?, id(2)?, id(3)?, id(4)?, id(5)?]
    };
    let mut r = rng(seed, "tsr-prompts");
    let chunks: Vec<Vec<Prompt>> = (0..cfg.chunks).map(|_| world.train_prompts(cfg.prompts_per_chunk, &mut r)).collect();
    let chunk_ids = chunks.iter().map(|c| c.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<Vec<_>>>()).collect::<shared::Result<Vec<_>>>()?;
    let mut bench = MiniAlpacaEval::new(&world);
    let n = cfg.eval.prompts.min(bench.prompts.len());
    bench.prompts.truncate(n);
    bench.baseline.truncate(n);
    let mut train = cfg.train.clone();
    train.seed = seed;
    let mut ctx = Ctx { cfg, world, base, bench, seed, chunks, chunk_ids, score_ids, m0_eval: EvalOut::default(), train };
    ctx.m0_eval = evaluate(&ctx, &ctx.base.model)?;
    let ctx = ctx;
    let eft = eft_check(&ctx, 1000)?;
    eprintln!(
        "    M_0's judge on 1,000 fresh EFT demonstrations: argmax = level {:.1}%, pairwise agreement with the level {:.3}",
        100.0 * mean(&eft.argmax.iter().zip(&eft.level).map(|(a, l)| f64::from(u8::from(a == l))).collect::<Vec<_>>()),
        pairwise_agreement(&eft.expected, &eft.level).unwrap_or(f64::NAN)
    );
    let mut alpaca = vec![ctx.bench.evaluate(&ctx.world, "M0", &ctx.m0_eval.texts, &mut rng(seed, "tsr-alpaca-M0"))?];
    let mut rows = vec![];
    for m in &cfg.methods {
        let (mut vs, model) = ctx.base.model.copy_with(&ctx.base.vs)?;
        let mdir = dir.join(shared::driver::slug(&m.name));
        let icfg = IterateConfig { iterations: m.iterations, reference: Reference::Previous, train: ctx.train.clone(), seed_per_iteration: true };
        eprintln!("==> {} ({} iterations)", m.name, m.iterations);
        let mut ann = TsrAnnotator { setting: &ctx, name: m.name.clone(), kind: m.kind, dir: mdir.clone() };
        let recs = iterate::run(&model, &mut vs, &mut ann, &cfg.objective as &Dpo, &icfg, tok.pad, TOKENIZER_ID, &mdir)?;
        for r in &recs {
            let row = IterRow {
                method: m.name.clone(),
                kind: m.kind,
                iter: r.iteration - 1,
                data: serde_json::from_value(r.stats.clone()).context("iteration record: data")?,
                eval: serde_json::from_value(r.evaluation.clone()).context("iteration record: evaluation")?,
                steps: r.train.steps,
                seconds: r.seconds,
            };
            let label = at(&m.name, row.iter);
            alpaca.push(ctx.bench.evaluate(&ctx.world, &label, &row.eval.eval.texts, &mut rng(seed, &format!("tsr-alpaca-{label}")))?);
            rows.push(row);
        }
    }
    Ok(Outcome { seed, eft, m0: ctx.m0_eval.clone(), rows, alpaca, base_trained, seconds: started.elapsed().as_secs_f64() })
}
