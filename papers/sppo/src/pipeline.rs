//! The miniature (spec "Miniature reproduction (proposal)", harness `nash-mini`), top to bottom:
//!
//! 1. the world's cached SFT base `pi_0`, and the nash-mini general preference
//!    `P(y > y') = sigmoid(6(q - q') + 1.5 R(st, st') + 0.5 tanh((|y| - |y'|)/8))` (intransitive);
//! 2. `iterations` disjoint prompt splits; for each method, from a copy of `pi_0`, per iteration t:
//!    K samples per prompt from `pi_t` (T = 1) → the K×K logit matrix of the preference →
//!    `Phat`, `y_w = argmax s`, `y_l = argmin s` ([`crate::winrate`]) → one epoch of training against
//!    the frozen `pi_t` on the shared engine ([`shared::train::iterate`], with [`SppoAnnotator`]
//!    as the data side and [`crate::loss`] as the objective) → `pi_{t+1}`;
//!    iteration 1 samples `pi_0` with one seed, so every method trains on identical pairs there;
//!    later iterations are on-policy for each method (its own iterate samples and is the reference);
//! 3. after each iteration: `WR_base` (expected preference of `pi_t`'s samples over `pi_0`'s, 4 pairs per
//!    evaluation prompt, the same sampling seed for every model), `WR_prev`, mean oracle `q`, mean
//!    length, `KLhat(pi_t || pi_0)`; the world's standard mini AlpacaEval for the final iterates.
//!
//! Each finished iteration of each method is saved by the shared loop (`<run_root>/<method>/iter-<t>/`:
//! the iterate's weights, its annotation and its record with the table row, written atomically),
//! under a folder keyed by the config and seed; a rerun loads the finished iterations and
//! continues after the last one (mid-iteration, from the engine's checkpoint).

use crate::config::{Method, MiniConfig};
use crate::loss::{TARGET_L, TARGET_W};
use crate::winrate::estimate;
use anyhow::{Context, Result};
use shared::model::generate::GenerateConfig;
use shared::model::{sequence_logps, Llama, TokenBatch};
use shared::train::iterate::{self, Annotation, Annotator, IterateConfig, IterationRecord, Reference, Trained};
use shared::train::onpolicy::{sample_groups, with_stop};
use shared::train::scoring::score_all;
use shared::train::Example;
use shared::world::alpaca::{mean_and_se, EvalRow, MiniAlpacaEval};
use shared::world::base::{self, Base};
use shared::world::judge::{PairwiseConfig as JudgeConfig, PairwiseJudge};
use shared::world::policy::{decoding, sample_texts, MAX_RESPONSE_TOKENS};
use shared::world::{rng, Prompt, World};
use std::time::Instant;
use tch::{nn::VarStore, Kind};

/// The preference data of one iteration of one method.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataStats {
    pub pairs: usize,
    /// Prompts whose K samples all tied (no pair).
    pub tied: usize,
    pub phat_w: f64,
    pub phat_l: f64,
    pub q_w: f64,
    pub q_l: f64,
    pub len_w: f64,
    pub len_l: f64,
}

/// What one iteration's training did to its own pairs.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainStats {
    pub steps: u64,
    /// Mean per-pair loss over the epoch.
    pub mean_loss: f64,
    /// After training, on its own training pairs: mean `D_w` and `D_l` (log pi_{t+1} - log pi_t).
    pub mean_d_w: f64,
    pub mean_d_l: f64,
    /// Fraction of pairs with `D_w > 0` and with `D_l < 0`.
    pub frac_w_up: f64,
    pub frac_l_down: f64,
}

/// One row of the per-iteration table.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IterRow {
    pub method: String,
    pub iteration: usize,
    pub wr_base: f64,
    pub wr_base_se: f64,
    pub wr_prev: f64,
    pub q: f64,
    pub len: f64,
    pub kl: f64,
    pub data: DataStats,
    pub train: TrainStats,
    pub seconds: f64,
}

pub struct Outcome {
    pub base_q: f64,
    pub base_len: f64,
    pub rows: Vec<IterRow>,
    /// The standard mini AlpacaEval: the SFT base, then each method's final iterate.
    pub alpaca: Vec<EvalRow>,
    pub base_trained: bool,
    pub seconds: f64,
}

/// Evaluation samples of one model: per prompt, `samples` responses (text and ids with stop).
pub struct EvalSamples {
    texts: Vec<Vec<String>>,
    ids: Vec<Vec<Vec<i64>>>,
}

pub struct Ctx<'a> {
    cfg: &'a MiniConfig,
    world: World,
    nash: PairwiseJudge,
    base: Base,
    splits: Vec<Vec<Prompt>>,
    split_ids: Vec<Vec<Vec<i64>>>,
    eval_prompts: Vec<Prompt>,
    eval_ids: Vec<Vec<i64>>,
    seed: u64,
}

/// `n_splits` disjoint splits of `n` distinct training prompts each (by prompt text).
fn disjoint_splits(world: &World, n_splits: usize, n: usize, seed: u64) -> Result<Vec<Vec<Prompt>>> {
    let mut r = rng(seed, "sppo-splits");
    let mut seen = std::collections::HashSet::new();
    let mut all = vec![];
    let mut tries = 0usize;
    while all.len() < n_splits * n {
        tries += 1;
        anyhow::ensure!(tries <= 100 * n_splits * n, "the world has fewer than {} distinct training prompts", n_splits * n);
        let x = world.train_prompts(1, &mut r).remove(0);
        if seen.insert(x.text()) {
            all.push(x);
        }
    }
    Ok(all.chunks(n).map(|c| c.to_vec()).collect())
}

fn gen(ctx: &Ctx, temperature: f64, top_p: f64, seed: u64) -> GenerateConfig {
    GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature, top_p, stop_tokens: vec![ctx.base.tok.eos], seed }
}

fn eval_samples(ctx: &Ctx, model: &Llama) -> Result<EvalSamples> {
    let g = gen(ctx, 1.0, 1.0, ctx.seed ^ 0xe7a1);
    let raw = sample_groups(model, &ctx.eval_ids, ctx.base.tok.pad, ctx.cfg.eval.samples, ctx.cfg.prompts_per_batch, &g)?;
    let texts = raw.iter().map(|g| g.iter().map(|y| ctx.base.tok.decode_response(y)).collect()).collect();
    let ids = raw.iter().map(|y| y.iter().map(|y| with_stop(y, &g)).collect()).collect();
    Ok(EvalSamples { texts, ids })
}

/// Mean (and s.e. over prompts) of `P(a_k > b_k)` under the nash-mini preference.
fn win_rate(ctx: &Ctx, a: &EvalSamples, b: &EvalSamples) -> (f64, f64) {
    let per_prompt: Vec<f64> = ctx
        .eval_prompts
        .iter()
        .enumerate()
        .map(|(i, x)| a.texts[i].iter().zip(&b.texts[i]).map(|(ya, yb)| ctx.nash.prob(x, ya, yb)).sum::<f64>() / a.texts[i].len() as f64)
        .collect();
    mean_and_se(&per_prompt)
}

/// Mean oracle score and length of the evaluation samples.
fn quality(ctx: &Ctx, s: &EvalSamples) -> (f64, f64) {
    let grades: Vec<_> = ctx.eval_prompts.iter().zip(&s.texts).flat_map(|(x, ys)| ys.iter().map(|y| ctx.world.oracle.grade(x, y))).collect();
    let n = grades.len().max(1) as f64;
    (grades.iter().map(|g| g.score).sum::<f64>() / n, grades.iter().map(|g| g.length as f64).sum::<f64>() / n)
}

/// Summed log-probs of every evaluation sample under `model`.
fn sample_logps(ctx: &Ctx, model: &Llama, s: &EvalSamples) -> Result<Vec<f64>> {
    let seqs: Vec<(Vec<i64>, Vec<i64>)> = ctx.eval_ids.iter().zip(&s.ids).flat_map(|(p, ys)| ys.iter().map(move |y| (p.clone(), y.clone()))).collect();
    let mut out = vec![];
    tch::no_grad(|| -> Result<()> {
        for chunk in seqs.chunks(128) {
            let lp = sequence_logps(model, &TokenBatch::from_pairs(chunk, ctx.base.tok.pad, model.device()))?.sum;
            out.extend(Vec::<f64>::try_from(lp.to_kind(Kind::Double))?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// `KLhat(pi_t || pi_0) = mean_{y ~ pi_t} [log pi_t(y|x) - log pi_0(y|x)]`.
fn kl_hat(ctx: &Ctx, model: &Llama, s: &EvalSamples) -> Result<f64> {
    let (a, b) = (sample_logps(ctx, model, s)?, sample_logps(ctx, &ctx.base.model, s)?);
    Ok(a.iter().zip(&b).map(|(x, y)| x - y).sum::<f64>() / a.len().max(1) as f64)
}

/// K samples per prompt of split `t` from `model`.
fn sample_split(ctx: &Ctx, model: &Llama, t: usize) -> shared::Result<Vec<Vec<Vec<i64>>>> {
    sample_groups(model, &ctx.split_ids[t], ctx.base.tok.pad, ctx.cfg.samples, ctx.cfg.prompts_per_batch, &split_gen(ctx, t))
}

/// How split `t` is sampled.
fn split_gen(ctx: &Ctx, t: usize) -> GenerateConfig {
    gen(ctx, ctx.cfg.temperature, ctx.cfg.top_p, ctx.seed ^ 0x5bb0_0000 ^ (t as u64 * 1_000_003))
}

/// The training examples of split `t` from its sampled groups: per prompt, the pair
/// `(y_w, y_l)` (stop token included) and, for SPPO, its targets as side data.
fn build_examples(ctx: &Ctx, m: &Method, t: usize, groups: &[Vec<Vec<i64>>]) -> (Vec<Example>, DataStats) {
    let tok = &ctx.base.tok;
    let sampling = split_gen(ctx, t);
    let mut out = vec![];
    let mut st = DataStats::default();
    for (i, g) in groups.iter().enumerate() {
        let x = &ctx.splits[t][i];
        let grades: Vec<_> = g.iter().map(|y| ctx.world.oracle.grade(x, &tok.decode_response(y))).collect();
        let c: Vec<Vec<f64>> = grades.iter().map(|gi| grades.iter().map(|gj| ctx.nash.z_graded(gi, gj)).collect()).collect();
        let e = estimate(m.objective.phat_mode(), &c);
        if e.winner == e.loser {
            st.tied += 1;
            continue;
        }
        let (w, l) = (&grades[e.winner], &grades[e.loser]);
        st.phat_w += e.phat_w();
        st.phat_l += e.phat_l();
        st.q_w += w.score;
        st.q_l += l.score;
        st.len_w += w.length as f64;
        st.len_l += l.length as f64;
        let mut ex = Example::pair(ctx.split_ids[t][i].clone(), with_stop(&g[e.winner], &sampling), with_stop(&g[e.loser], &sampling));
        if let Some((tw, tl)) = m.objective.targets(e.phat_w(), e.phat_l(), e.p_wl) {
            ex = ex.with(TARGET_W, tw).with(TARGET_L, tl);
        }
        out.push(ex);
    }
    st.pairs = out.len();
    let n = st.pairs.max(1) as f64;
    for v in [&mut st.phat_w, &mut st.phat_l, &mut st.q_w, &mut st.q_l, &mut st.len_w, &mut st.len_l] {
        *v /= n;
    }
    (out, st)
}

/// What is measured after each iteration (stored in the iteration's record).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Evaluation {
    wr_base: f64,
    wr_base_se: f64,
    wr_prev: f64,
    q: f64,
    len: f64,
    kl: f64,
    train: TrainStats,
}

/// SPPO's data side for the shared on-policy loop, one per method: sample `pi_t` on split t
/// (iteration 1: the shared samples of `pi_0`), estimate `Phat`, pair winner and loser; after
/// training, evaluate `pi_{t+1}` against `pi_0` and the previous iterate.
pub struct SppoAnnotator<'a> {
    ctx: &'a Ctx<'a>,
    method: &'a Method,
    first_groups: &'a [Vec<Vec<i64>>],
    base_samples: &'a EvalSamples,
    /// The previous iterate's evaluation samples (for `WR_prev`).
    prev: Option<EvalSamples>,
}

impl Annotator for SppoAnnotator<'_> {
    fn annotate(&mut self, t: usize, policy: &Llama) -> shared::Result<Annotation> {
        let groups = if t == 0 { self.first_groups.to_vec() } else { sample_split(self.ctx, policy, t)? };
        let (examples, data) = build_examples(self.ctx, self.method, t, &groups);
        Ok(Annotation { examples, stats: serde_json::to_value(data).unwrap_or_default() })
    }

    fn evaluate(&mut self, t: usize, policy: &Llama, trained: &Trained) -> shared::Result<serde_json::Value> {
        let ctx = self.ctx;
        let err = |e: anyhow::Error| shared::Error::Other(format!("{e:#}"));
        // D = log pi_{t+1} - log pi_t on the iteration's own (truncated) pairs; pi_t is the reference.
        let (after, _) = score_all(policy, trained.examples, 2, ctx.cfg.train.micro_batch, false, ctx.base.tok.pad, "D_w, D_l")?;
        let before = &trained.references["reference"].seq;
        let d_w: Vec<f64> = after.iter().zip(before).map(|(a, b)| a[0] - b[0]).collect();
        let d_l: Vec<f64> = after.iter().zip(before).map(|(a, b)| a[1] - b[1]).collect();
        let n = d_w.len().max(1) as f64;
        let train = TrainStats {
            steps: trained.summary.steps,
            mean_loss: trained.summary.mean_loss,
            mean_d_w: d_w.iter().sum::<f64>() / n,
            mean_d_l: d_l.iter().sum::<f64>() / n,
            frac_w_up: d_w.iter().filter(|d| **d > 0.0).count() as f64 / n,
            frac_l_down: d_l.iter().filter(|d| **d < 0.0).count() as f64 / n,
        };
        let s = eval_samples(ctx, policy).map_err(err)?;
        let (wr_base, wr_base_se) = win_rate(ctx, &s, self.base_samples);
        let wr_prev = win_rate(ctx, &s, self.prev.as_ref().unwrap_or(self.base_samples)).0;
        let (q, len) = quality(ctx, &s);
        let kl = kl_hat(ctx, policy, &s).map_err(err)?;
        eprintln!(
            "    {:<12} iter {}: {} pairs, WR_base {wr_base:.3}, WR_prev {wr_prev:.3}, q {q:.3}, len {len:.1}, KL {kl:.2}; D_w {:+.2}, D_l {:+.2}",
            self.method.name, t + 1, trained.examples.len(), train.mean_d_w, train.mean_d_l
        );
        self.prev = Some(s);
        Ok(serde_json::to_value(Evaluation { wr_base, wr_base_se, wr_prev, q, len, kl, train }).unwrap_or_default())
    }

    fn loaded(&mut self, t: usize, policy: &Llama, _record: &IterationRecord) -> shared::Result<()> {
        eprintln!("    {:<12} iter {}: loaded from an earlier run", self.method.name, t + 1);
        self.prev = Some(eval_samples(self.ctx, policy).map_err(|e| shared::Error::Other(format!("{e:#}")))?);
        Ok(())
    }
}

/// The table row of a finished iteration.
fn row_of(m: &Method, r: &IterationRecord) -> Result<IterRow> {
    let data: DataStats = serde_json::from_value(r.stats.clone()).context("iteration record: data statistics")?;
    let e: Evaluation = serde_json::from_value(r.evaluation.clone()).context("iteration record: evaluation")?;
    Ok(IterRow { method: m.name.clone(), iteration: r.iteration, wr_base: e.wr_base, wr_base_se: e.wr_base_se, wr_prev: e.wr_prev, q: e.q, len: e.len, kl: e.kl, data, train: e.train, seconds: r.seconds })
}

fn copy_of_base(ctx: &Ctx) -> Result<(VarStore, Llama)> {
    ctx.base.model.copy_with(&ctx.base.vs).context("copying the SFT base")
}

fn alpaca_row(ctx: &Ctx, bench: &MiniAlpacaEval, model: &Llama, name: &str) -> Result<EvalRow> {
    let g = decoding(ctx.cfg.eval.alpaca_temperature, ctx.seed ^ 0xa1fa, &ctx.base.tok);
    let ys = sample_texts(model, &ctx.base.tok, &bench.prompts, &g, ctx.cfg.prompts_per_batch)?;
    Ok(bench.evaluate(&ctx.world, name, &ys, &mut rng(ctx.seed, "sppo-judge-order"))?)
}

/// Run the whole miniature.
/// Where a run's iterates live: `runs_root/<scale>-<hash of config and seed>`, so a changed config
/// never reuses a stale iterate.
pub fn run_dir(runs_root: &std::path::Path, cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64) -> std::path::PathBuf {
    use sha2::{Digest, Sha256};
    let text = format!("{}{seed}{}", toml::to_string(cfg).unwrap_or_default(), scale.name());
    runs_root.join(format!("{}-{}", scale.name(), &format!("{:x}", Sha256::digest(text.as_bytes()))[..12]))
}

pub fn run(cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64, device: tch::Device, runs_root: &std::path::Path) -> Result<Outcome> {
    let started = Instant::now();
    let run_dir = run_dir(runs_root, cfg, scale, seed);
    let (world, base) = base::world_and_base(scale, seed, device)?;
    let base_trained = base.trained;
    let mut bench = MiniAlpacaEval::new(&world);
    bench.prompts.truncate(cfg.eval.prompts);
    bench.baseline.truncate(cfg.eval.prompts);
    let splits = disjoint_splits(&world, cfg.iterations, cfg.prompts_per_split, seed)?;
    let enc = |ps: &[Prompt]| ps.iter().map(|x| base.tok.encode_prompt(&x.text())).collect::<shared::Result<Vec<_>>>();
    let split_ids = splits.iter().map(|s| enc(s)).collect::<shared::Result<Vec<_>>>()?;
    let eval_prompts = bench.prompts.clone();
    let eval_ids = enc(&eval_prompts)?;
    let nash = PairwiseJudge::new(JudgeConfig::nash_mini(), world.oracle.clone());
    let ctx = Ctx { cfg, world, nash, base, splits, split_ids, eval_prompts, eval_ids, seed };

    let base_samples = eval_samples(&ctx, &ctx.base.model)?;
    let (base_q, base_len) = quality(&ctx, &base_samples);
    let mut alpaca = vec![alpaca_row(&ctx, &bench, &ctx.base.model, "SFT (pi_0)")?];
    eprintln!("==> pi_0: q {base_q:.3}, length {base_len:.1}");
    let first_groups = sample_split(&ctx, &ctx.base.model, 0)?; // identical iteration-1 data for every method
    let mut rows = vec![];
    for m in &cfg.methods {
        let (mut vs, model) = copy_of_base(&ctx)?;
        let slug: String = m.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        // One epoch per iteration against the frozen pi_t; iteration t orders its batches by seed ^ t.
        let mut train = cfg.train_for(m);
        train.seed = seed;
        let icfg = IterateConfig { iterations: cfg.iterations, reference: Reference::Previous, train, seed_per_iteration: true };
        let mut annotator = SppoAnnotator { ctx: &ctx, method: m, first_groups: &first_groups, base_samples: &base_samples, prev: None };
        let objective = m.objective.build();
        let records = iterate::run(&model, &mut vs, &mut annotator, objective.as_ref(), &icfg, ctx.base.tok.pad, "world-char-v1", &run_dir.join(slug))?;
        for r in &records {
            rows.push(row_of(m, r)?);
        }
        alpaca.push(alpaca_row(&ctx, &bench, &model, &format!("{} Iter{}", m.name, cfg.iterations))?);
    }
    Ok(Outcome { base_q, base_len, rows, alpaca, base_trained, seconds: started.elapsed().as_secs_f64() })
}
