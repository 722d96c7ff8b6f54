//! The miniature (spec "Miniature reproduction (proposal)"), top to bottom:
//!
//! 1. the SFT base `π_base`: the world's cached base, fine-tuned to also answer the guided form
//!    `x <prev> y⁻ <fb> kind <improve>` ([`shared::world::forms`], a base of its own, cached);
//! 2. the simulated deployment log: `π_base` answers `log.prompts` training prompts at T = 1; the
//!    world's users complain (DSAT, with `<fb> error-kind`) below oracle 0.5 with probability 0.9 and
//!    thank (SAT) at 0.9 or above with probability 0.4; a `seed_fraction` of DSAT items gets an
//!    accepted revision (the gold answer), the DSAT→SAT seed pairs;
//! 3. stage 0: `π_0` = `π_base` + DPO(+RPO) on the seed pairs, `seed_epochs` epochs, `π_base` as reference;
//! 4. each method from `π_0`, `iterations` rounds of the shared on-policy loop
//!    ([`shared::train::iterate`], [`DriftAnnotator`] the data side, [`DpoRpo`] the objective,
//!    the previous iterate as reference, one epoch each):
//!    DRIFT (rejected = the logged DSAT reply, chosen = a fresh sample of π_t given the guided
//!    prompt, trained under the plain x), DRIFT unguided (y⁺ ~ π_t(·|x)), IterDPO (one guided and
//!    one unguided sample ranked by oracle + N(0, 0.15²)), SPIN (chosen = a logged SAT reply, cycled
//!    to as many pairs as DRIFT has; rejected = π_t(·|x));
//! 5. after each iteration: greedy answers to the held-out prompts (oracle score, win against the
//!    base's greedy answer with ties ½, the checklist judge's 1–10 score: the WildBench-like task
//!    score) and the training signal: the likelihood margin `log π_t(y⁺) − log π_t(y⁻)` of the
//!    pairs, the DPO weight `σ(−s)` after the iteration (s with π_{t+1} against its reference π_t),
//!    the gradient norm of the first batch, the share of identical pairs;
//! 6. the final iterates: the mini AlpacaEval, and diversity on the open-answer held-out prompts
//!    (16 samples at T = 1: distinct correct outputs, distinct-2, coverage share of the pooled set).
//!
//! Everything is saved under a run folder keyed by the config and seed; a rerun resumes.

use crate::config::{Kind, Method, MiniConfig};
use crate::loss::{dpo_weight, DpoRpo};
use crate::metrics;
use anyhow::{Context, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use shared::cli::Scale;
use shared::model::generate::GenerateConfig;
use shared::model::Llama;
use shared::train::iterate::{self, Annotation, Annotator, IterateConfig, Reference, Trained};
use shared::train::onpolicy::{sample_groups, with_stop};
use shared::train::policy::{self, Refs};
use shared::train::reference::Frozen;
use shared::train::scoring::score_all;
use shared::train::Example;
use shared::world::alpaca::{EvalRow, MiniAlpacaEval};
use shared::world::base::{checkpoints_root, Base, BaseConfig};
use shared::world::forms;
use shared::world::policy::{decoding, sample_texts, MAX_RESPONSE_TOKENS};
use shared::world::users::Reaction;
use shared::world::{rng, Prompt, World, WorldConfig};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::nn::VarStore;

const TOKENIZER_ID: &str = "world-char-v1";

/// One DSAT item of the log: `(x, y⁻, f)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dsat {
    pub x: Prompt,
    pub rejected: String,
    pub feedback: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DeployLog {
    pub answered: usize,
    pub dsat: Vec<Dsat>,
    /// SAT items `(x, y)`.
    pub sat: Vec<(Prompt, String)>,
    /// Indices into `dsat` that come with an accepted revision (the gold answer).
    pub seed_pairs: Vec<usize>,
}

/// Greedy answers of one model to the held-out prompts, scored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EvalOut {
    pub texts: Vec<String>,
    pub oracle: Vec<f64>,
    pub checklist: Vec<f64>,
}

/// What an iteration's data looked like.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DataStats {
    pub pairs: usize,
    pub test_pairs: usize,
    pub chosen_oracle: f64,
    pub rejected_oracle: f64,
    /// Share of pairs whose chosen response has the higher oracle score.
    pub chosen_better: f64,
    /// Share of pairs with identical chosen and rejected responses.
    pub identical: f64,
}

/// What the training of an iteration did to its own pairs, and the evaluation after it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IterEval {
    /// Mean `log π_t(y⁺|x) − log π_t(y⁻|x)` at the start of the iteration.
    pub likelihood_margin: f64,
    /// Per trained pair: `σ(−s)` with π_{t+1} against its reference π_t.
    pub dpo_weight_end: Vec<f64>,
    /// The gradient norm of the first optimiser step (before clipping).
    pub first_grad_norm: f64,
    pub eval: EvalOut,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IterRow {
    pub method: String,
    pub iteration: usize,
    pub data: DataStats,
    pub eval: IterEval,
    pub seconds: f64,
}

/// Diversity of one method's final iterate on the open-answer held-out prompts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Diversity {
    /// Per open prompt (text): the distinct correct outputs.
    pub correct: BTreeMap<String, Vec<String>>,
}

pub struct Outcome {
    pub seed: u64,
    pub log: DeployLog,
    pub base: EvalOut,
    pub pi0: EvalOut,
    pub rows: Vec<IterRow>,
    pub alpaca: Vec<EvalRow>,
    pub diversity: BTreeMap<String, Diversity>,
    pub eval_prompts: Vec<Prompt>,
    pub base_trained: bool,
    pub seconds: f64,
}

pub struct Ctx<'a> {
    pub cfg: &'a MiniConfig,
    pub world: World,
    pub base: Base,
    pub log: DeployLog,
    pub bench: MiniAlpacaEval,
    pub seed: u64,
    /// Per DSAT item: the plain prompt, the guided prompt, y⁻ (with EOS).
    plain: Vec<Vec<i64>>,
    guided: Vec<Vec<i64>>,
    rejected: Vec<Vec<i64>>,
}

fn err(e: anyhow::Error) -> shared::Error {
    shared::Error::Other(format!("{e:#}"))
}

/// Step 2: the simulated deployment log.
pub fn deployment_log(world: &World, base: &Base, cfg: &MiniConfig, seed: u64) -> Result<DeployLog> {
    let prompts = world.train_prompts(cfg.log.prompts, &mut rng(seed, "drift-log-prompts"));
    let ys = sample_texts(&base.model, &base.tok, &prompts, &decoding(1.0, seed ^ 0x10c, &base.tok), cfg.prompts_per_batch)?;
    let mut r = rng(seed, "drift-log-users");
    let mut log = DeployLog { answered: prompts.len(), ..Default::default() };
    for (x, y) in prompts.into_iter().zip(ys) {
        match world.users.react(&x, &y, &mut r) {
            Reaction::Dsat { feedback, .. } => {
                if r.gen::<f64>() < cfg.log.seed_fraction {
                    log.seed_pairs.push(log.dsat.len());
                }
                log.dsat.push(Dsat { x, rejected: y, feedback });
            }
            Reaction::Sat => log.sat.push((x, y)),
            Reaction::Silent => {}
        }
    }
    anyhow::ensure!(!log.dsat.is_empty() && !log.sat.is_empty(), "the deployment log has {} DSAT and {} SAT items: raise log.prompts", log.dsat.len(), log.sat.len());
    anyhow::ensure!(log.dsat.len() > cfg.test_pairs, "{} DSAT items, fewer than test_pairs = {}", log.dsat.len(), cfg.test_pairs);
    Ok(log)
}

/// Greedy answers to the held-out prompts, scored by the oracle and the checklist judge.
pub fn evaluate(ctx: &Ctx, model: &Llama) -> Result<EvalOut> {
    let xs = &ctx.bench.prompts;
    let texts = sample_texts(model, &ctx.base.tok, xs, &decoding(0.0, ctx.seed, &ctx.base.tok), ctx.cfg.prompts_per_batch)?;
    let oracle = xs.iter().zip(&texts).map(|(x, y)| ctx.world.oracle.score(x, y)).collect();
    let checklist = xs.iter().zip(&texts).map(|(x, y)| ctx.world.checklist.score(x, y)).collect();
    Ok(EvalOut { texts, oracle, checklist })
}

fn gen(ctx: &Ctx, seed: u64) -> GenerateConfig {
    GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature: ctx.cfg.temperature, top_p: ctx.cfg.top_p, stop_tokens: vec![ctx.base.tok.eos], seed }
}

/// One sample of `policy` per prompt.
fn sample_one(ctx: &Ctx, policy: &Llama, prompts: &[Vec<i64>], g: &GenerateConfig) -> shared::Result<Vec<Vec<i64>>> {
    Ok(sample_groups(policy, prompts, ctx.base.tok.pad, 1, ctx.cfg.prompts_per_batch, g)?.into_iter().map(|mut v| v.remove(0)).collect())
}

/// The data side of every method on the shared on-policy loop.
pub struct DriftAnnotator<'a> {
    pub ctx: &'a Ctx<'a>,
    pub method: &'a Method,
    /// The method's run folder (for the engine's metric log of each iteration).
    pub dir: PathBuf,
}

impl DriftAnnotator<'_> {
    fn seed_of(&self, t: usize) -> u64 {
        self.ctx.seed ^ shared::world::fnv1a(self.method.name.as_bytes()) ^ (t as u64 + 1).wrapping_mul(1_000_003)
    }
}

impl Annotator for DriftAnnotator<'_> {
    fn annotate(&mut self, t: usize, policy: &Llama) -> shared::Result<Annotation> {
        let ctx = self.ctx;
        let tok = &ctx.base.tok;
        let g = gen(ctx, self.seed_of(t));
        let n = ctx.log.dsat.len();
        let oracle = |x: &Prompt, ids: &[i64]| ctx.world.oracle.score(x, &tok.decode_response(ids));
        // (prompt index into the DSAT list or the SAT list, chosen ids, rejected ids, chosen oracle, rejected oracle)
        let mut pairs: Vec<(Vec<i64>, Vec<i64>, Vec<i64>, f64, f64)> = vec![];
        match self.method.kind {
            Kind::Drift => {
                let ys = sample_one(ctx, policy, if self.method.guided { &ctx.guided } else { &ctx.plain }, &g)?;
                for (i, y) in ys.iter().enumerate() {
                    let d = &ctx.log.dsat[i];
                    // Pitfall 2: y⁺ was sampled under the guided prompt, the pair is trained under plain x.
                    pairs.push((ctx.plain[i].clone(), with_stop(y, &g), ctx.rejected[i].clone(), oracle(&d.x, y), ctx.world.oracle.score(&d.x, &d.rejected)));
                }
            }
            Kind::IterDpo => {
                let a = sample_one(ctx, policy, &ctx.guided, &g)?;
                let b = sample_one(ctx, policy, &ctx.plain, &GenerateConfig { seed: g.seed ^ 0xb, ..g.clone() })?;
                let mut r = rng(self.seed_of(t), "iterdpo-proxy-rm");
                for i in 0..n {
                    let x = &ctx.log.dsat[i].x;
                    let (qa, qb) = (oracle(x, &a[i]), oracle(x, &b[i]));
                    let noise = |r: &mut rand_chacha::ChaCha8Rng| ctx.cfg.rm_noise * shared::world::judge::rand_distr_normal(r);
                    let (sa, sb) = (qa + noise(&mut r), qb + noise(&mut r));
                    if a[i] == b[i] || sa == sb {
                        continue; // a tie: dropped
                    }
                    let (w, l, qw, ql) = if sa > sb { (&a[i], &b[i], qa, qb) } else { (&b[i], &a[i], qb, qa) };
                    pairs.push((ctx.plain[i].clone(), with_stop(w, &g), with_stop(l, &g), qw, ql));
                }
            }
            Kind::Spin => {
                // The scarce SAT set, cycled to as many pairs as DRIFT trains on.
                let sat = &ctx.log.sat;
                let idx: Vec<usize> = (0..n).map(|i| i % sat.len()).collect();
                let prompts: Vec<Vec<i64>> = idx.iter().map(|&j| tok.encode_prompt(&sat[j].0.text())).collect::<shared::Result<_>>()?;
                let ys = sample_one(ctx, policy, &prompts, &g)?;
                for (k, &j) in idx.iter().enumerate() {
                    let (x, y_sat) = &sat[j];
                    pairs.push((prompts[k].clone(), tok.encode_response(y_sat)?, with_stop(&ys[k], &g), ctx.world.oracle.score(x, y_sat), oracle(x, &ys[k])));
                }
            }
        }
        // Pitfall 9: the first pairs written form the test split and are never trained on.
        let test = ctx.cfg.test_pairs.min(pairs.len());
        let train = &pairs[test..];
        let m = train.len().max(1) as f64;
        let stats = DataStats {
            pairs: train.len(),
            test_pairs: test,
            chosen_oracle: train.iter().map(|p| p.3).sum::<f64>() / m,
            rejected_oracle: train.iter().map(|p| p.4).sum::<f64>() / m,
            chosen_better: train.iter().filter(|p| p.3 > p.4).count() as f64 / m,
            identical: train.iter().filter(|p| p.1 == p.2).count() as f64 / m,
        };
        let examples = train.iter().map(|(x, w, l, _, _)| Example::pair(x.clone(), w.clone(), l.clone())).collect();
        Ok(Annotation { examples, stats: serde_json::to_value(stats).unwrap_or_default() })
    }

    fn evaluate(&mut self, t: usize, policy: &Llama, trained: &Trained) -> shared::Result<serde_json::Value> {
        let ctx = self.ctx;
        let beta = ctx.cfg.objective.beta;
        let before = &trained.references["reference"].seq;
        let (after, _) = score_all(policy, trained.examples, 2, ctx.cfg.train.micro_batch, false, ctx.base.tok.pad, "margins")?;
        let n = before.len().max(1) as f64;
        let likelihood_margin = before.iter().map(|r| r[0] - r[1]).sum::<f64>() / n;
        let dpo_weight_end = after.iter().zip(before).map(|(a, r)| dpo_weight(beta * ((a[0] - r[0]) - (a[1] - r[1])))).collect::<Vec<_>>();
        let first_grad_norm = first_grad_norm(&self.dir.join(format!("iter-{}/train/metrics.csv", t + 1))).map_err(err)?;
        let eval = evaluate(ctx, policy).map_err(err)?;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        eprintln!(
            "    {:<16} iter {}: {} pairs, margin {:+.2}, σ(−s) end {:.3}, |g|₁ {:.3}, oracle {:.3}, checklist {:.2}",
            self.method.name, t + 1, trained.examples.len(), likelihood_margin, mean(&dpo_weight_end), first_grad_norm, mean(&eval.oracle), mean(&eval.checklist)
        );
        Ok(serde_json::to_value(IterEval { likelihood_margin, dpo_weight_end, first_grad_norm, eval }).unwrap_or_default())
    }
}

/// The `grad_norm` of the first row of an engine metric log.
pub fn first_grad_norm(path: &Path) -> Result<f64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = header.iter().position(|c| *c == "grad_norm").with_context(|| format!("{}: no grad_norm column", path.display()))?;
    let row = lines.next().with_context(|| format!("{}: no rows", path.display()))?;
    row.split(',').nth(col).and_then(|v| v.parse().ok()).with_context(|| format!("{}: unreadable grad_norm", path.display()))
}

/// Stage 0: DPO(+RPO) on the seed DSAT→SAT pairs from `π_base` (its own reference); saved in `dir`.
fn seed_stage(ctx: &Ctx, dir: &Path) -> Result<(VarStore, Llama)> {
    let (mut vs, m) = ctx.base.model.copy_with(&ctx.base.vs)?;
    let weights = dir.join("model.safetensors");
    if dir.join("done.json").exists() {
        shared::model::weights::load_into(&vs, &[weights], &[])?;
        return Ok((vs, m));
    }
    let tok = &ctx.base.tok;
    let examples: Vec<Example> = ctx.log.seed_pairs.iter().map(|&i| Ok(Example::pair(ctx.plain[i].clone(), tok.encode_response(&ctx.world.gold(&ctx.log.dsat[i].x))?, ctx.rejected[i].clone()))).collect::<Result<_>>()?;
    if !examples.is_empty() {
        let mut train = ctx.cfg.train.clone();
        train.epochs = ctx.cfg.seed_epochs;
        train.seed = ctx.seed;
        let models = BTreeMap::from([("reference".to_string(), Frozen { model: &ctx.base.model, vs: &ctx.base.vs })]);
        let cache = dir.join("reference");
        policy::train(&m, &mut vs, &ctx.cfg.objective, &examples, &Refs { models, tokenizer_id: TOKENIZER_ID, cache_dir: &cache }, &train, tok.pad, &dir.join("train"))?;
    }
    shared::model::weights::save(&vs, &weights)?;
    shared::io::write_json(&dir.join("done.json"), &serde_json::json!({ "seed_pairs": examples.len() }))?;
    Ok((vs, m))
}

/// `max_new_tokens`-free diversity sampling: `k` samples at T = 1 per open-answer held-out prompt.
fn diversity(ctx: &Ctx, model: &Llama, open: &[Prompt]) -> Result<Diversity> {
    let tok = &ctx.base.tok;
    let ids: Vec<Vec<i64>> = open.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<_>>()?;
    let g = GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature: 1.0, top_p: 1.0, stop_tokens: vec![tok.eos], seed: ctx.seed ^ 0xd1e };
    let groups = sample_groups(model, &ids, tok.pad, ctx.cfg.eval.diversity_samples, ctx.cfg.prompts_per_batch.max(1) / ctx.cfg.eval.diversity_samples.max(1) + 1, &g)?;
    let mut d = Diversity::default();
    for (x, ys) in open.iter().zip(groups) {
        let correct: Vec<String> = ys.iter().map(|y| tok.decode_response(y)).filter(|y| ctx.world.oracle.score(x, y) >= ctx.cfg.eval.correct_at).collect();
        let mut set: Vec<String> = metrics::distinct_outputs(&correct).into_iter().collect();
        set.sort();
        d.correct.insert(x.text(), set);
    }
    Ok(d)
}

/// Where a seed's run lives ([`shared::driver::run_dir`]: a hash of the config and the seed).
pub fn run_dir(runs_root: &Path, cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64) -> PathBuf {
    shared::driver::run_dir(runs_root, &toml::to_string(cfg).unwrap_or_default(), scale, seed)
}

pub fn run(cfg: &MiniConfig, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let dir = run_dir(runs_root, cfg, scale, seed);
    let mut world = World::new(WorldConfig::default())?;
    eprintln!("==> SFT base with the guided-improvement form ({} scale; cached after the first run)", scale.name());
    let base = forms::ensure(&world, &BaseConfig::for_scale(scale), &cfg.forms, seed, &checkpoints_root(), device)?;
    let base_trained = base.trained || base.report.is_some();
    if let Some(u) = &cfg.log.users {
        // After the base is built, so the default base's cache key is untouched.
        world.users = shared::world::SimUser::new(u.clone(), world.oracle.clone());
    }
    let log_path = dir.join("log.json");
    let log: DeployLog = if log_path.exists() {
        shared::io::read_json(&log_path)?
    } else {
        let l = deployment_log(&world, &base, cfg, seed)?;
        shared::io::write_json(&log_path, &l)?;
        l
    };
    eprintln!("    log: {} answered, {} DSAT, {} SAT (ratio {:.2}), {} seed pairs", log.answered, log.dsat.len(), log.sat.len(), log.dsat.len() as f64 / log.sat.len() as f64, log.seed_pairs.len());
    let tok = base.tok.clone();
    let plain = log.dsat.iter().map(|d| tok.encode_prompt(&d.x.text())).collect::<shared::Result<Vec<_>>>()?;
    let guided = log.dsat.iter().map(|d| tok.encode_prompt(&forms::improve_prompt(&d.x, &d.rejected, &d.feedback, cfg.forms.max_prev_chars))).collect::<shared::Result<Vec<_>>>()?;
    let rejected = log.dsat.iter().map(|d| tok.encode_response(&d.rejected)).collect::<shared::Result<Vec<_>>>()?;
    let mut bench = MiniAlpacaEval::new(&world);
    let n = cfg.eval.prompts.min(bench.prompts.len());
    bench.prompts.truncate(n);
    bench.baseline.truncate(n);
    let ctx = Ctx { cfg, world, base, log, bench, seed, plain, guided, rejected };
    let base_eval = evaluate(&ctx, &ctx.base.model)?;
    let (vs0, pi0) = seed_stage(&ctx, &dir.join("seed"))?;
    let pi0_eval = evaluate(&ctx, &pi0)?;
    let open: Vec<Prompt> = {
        let mut seen = HashSet::new();
        ctx.bench.prompts.iter().filter(|x| x.family.is_open() && seen.insert(x.text())).cloned().collect()
    };
    let mut rows = vec![];
    let mut alpaca = vec![ctx.bench.evaluate(&ctx.world, "base", &base_eval.texts, &mut rng(seed, "drift-alpaca-base"))?];
    let mut div = BTreeMap::new();
    div.insert("base".to_string(), diversity(&ctx, &ctx.base.model, &open)?);
    for m in &cfg.methods {
        let (mut vs, model) = pi0.copy_with(&vs0)?;
        let mdir = dir.join(shared::driver::slug(&m.name));
        let icfg = IterateConfig { iterations: cfg.iterations, reference: Reference::Previous, train: cfg.train.clone(), seed_per_iteration: true };
        let mut ann = DriftAnnotator { ctx: &ctx, method: m, dir: mdir.clone() };
        let recs = iterate::run(&model, &mut vs, &mut ann, &cfg.objective as &DpoRpo, &icfg, ctx.base.tok.pad, TOKENIZER_ID, &mdir)?;
        for r in &recs {
            rows.push(IterRow {
                method: m.name.clone(),
                iteration: r.iteration,
                data: serde_json::from_value(r.stats.clone()).context("iteration record: data")?,
                eval: serde_json::from_value(r.evaluation.clone()).context("iteration record: evaluation")?,
                seconds: r.seconds,
            });
        }
        let last = rows.last().map(|r| r.eval.eval.texts.clone()).unwrap_or_default();
        alpaca.push(ctx.bench.evaluate(&ctx.world, &m.name, &last, &mut rng(seed, &format!("drift-alpaca-{}", m.name)))?);
        div.insert(m.name.clone(), diversity(&ctx, &model, &open)?);
    }
    Ok(Outcome { seed, log: ctx.log.clone(), base: base_eval, pi0: pi0_eval, rows, alpaca, diversity: div, eval_prompts: ctx.bench.prompts.clone(), base_trained, seconds: started.elapsed().as_secs_f64() })
}
