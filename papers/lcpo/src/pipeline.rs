//! The miniature reproduction for one seed (spec "Miniature reproduction"):
//!
//! 1. the cached SFT base of the miniature world (π_ref and the start of every method);
//! 2. clean pairs: `samples` answers of the SFT model per training prompt, oracle best vs worst;
//! 3. for each noise level ε, a copy with round(ε·n) labels flipped (seeded; the world knows
//!    which); the true reliability is η* = 1 − ε;
//! 4. every method trained from the SFT model on each copy with the same budget; RE methods log
//!    their η after every optimiser step (`metrics.csv`, column `eta`);
//! 5. the final models answer the mini AlpacaEval prompts; the oracle compares each answer with the
//!    SFT model's (win 1, tie ½, else 0);
//! 6. for RE methods, the final posterior w of every training pair (final θ and η): are the
//!    flipped labels the ones it doubts?

use crate::config::{Method, MethodObjective, MiniConfig};
use crate::link::{posterior, PairInputs};
use anyhow::{Context, Result};
use rand::seq::SliceRandom;
use shared::model::Llama;
use shared::stats::Records;
use shared::train::{policy, Example, Refs, TrainConfig};
use shared::world::alpaca::MiniAlpacaEval;
use shared::world::base::{self, Base};
use shared::world::policy::{decoding, oracle_pairs, oracle_win as win, sample_texts};
use shared::world::{rng, Prompt, World};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::Kind;

pub const TOKENIZER_ID: &str = "world-char-v1";
/// Evaluation records: win against the SFT answer, oracle score, length. Method `ε=<e>/<name>`.
pub const EVAL_METRICS: [&str; 3] = ["win", "oracle", "length"];
/// Posterior records, one per flipped training pair of an RE run (method `ε=<e>/<name>`):
/// `auc` = share of clean pairs whose w exceeds this pair's (ties ½), `gap` = mean w of the clean
/// pairs − this pair's w, `w` = its posterior.
pub const POSTERIOR_METRICS: [&str; 3] = ["auc", "gap", "w"];

#[derive(Clone, Debug)]
pub struct RunResult {
    pub noise: f64,
    pub method: String,
    pub re: bool,
    /// η after every optimiser step (RE methods).
    pub eta: Vec<f64>,
    pub final_loss: f64,
    /// Mean final posterior on clean and on flipped pairs (RE methods).
    pub w_clean: Option<f64>,
    pub w_flipped: Option<f64>,
    pub seconds: f64,
}

pub struct Outcome {
    pub seed: u64,
    pub base_trained: bool,
    pub seconds: f64,
    pub pairs: usize,
    pub runs: Vec<RunResult>,
    pub eval: Records,
    pub posterior: Records,
}

/// The record key of a run.
pub fn key(noise: f64, method: &str) -> String {
    format!("ε={noise}/{method}")
}

struct Ctx<'a> {
    cfg: &'a MiniConfig,
    world: World,
    base: Base,
    seed: u64,
    run_root: PathBuf,
    eval: Vec<Prompt>,
    eval_sft: Vec<String>,
}

pub fn run(cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64, device: tch::Device, run_root: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let (world, base) = base::world_and_base(scale, seed, device)?;
    let base_trained = base.trained;
    let mut bench = MiniAlpacaEval::new(&world);
    if let Some(n) = cfg.eval_prompts {
        bench.prompts.truncate(n);
    }
    let prompts = world.train_prompts(cfg.train_prompts, &mut rng(seed, "lcpo-prompts"));
    let mut ctx = Ctx { cfg, world, base, seed, run_root: run_root.join(format!("seed{seed}")), eval: bench.prompts, eval_sft: vec![] };
    ctx.eval_sft = outputs(&ctx, &ctx.base.model, &ctx.eval)?;
    let clean = clean_pairs(&ctx, &prompts)?;
    eprintln!("==> {} clean pairs", clean.len());
    let mut eval = Records::new(&EVAL_METRICS);
    // The mini AlpacaEval repeats a few prompts: a record's prompt is its position in the set.
    for (i, (x, y)) in ctx.eval.iter().zip(&ctx.eval_sft).enumerate() {
        eval.push(seed, "SFT", format!("{i}: {}", x.text()), 0, &[0.5, ctx.world.oracle.score(x, y), y.chars().count() as f64])?;
    }
    let mut posterior_records = Records::new(&POSTERIOR_METRICS);
    let mut runs = vec![];
    for &noise in &cfg.noise {
        let (data, flipped) = flip(&clean, noise, &mut rng(seed, &format!("lcpo-flip-{noise}")));
        for m in &cfg.methods {
            let (r, model) = train(&ctx, m, noise, &data)?;
            let ys = outputs(&ctx, &model, &ctx.eval)?;
            for (i, ((x, y), b)) in ctx.eval.iter().zip(&ys).zip(&ctx.eval_sft).enumerate() {
                eval.push(seed, &key(noise, &m.name), format!("{i}: {}", x.text()), 0, &[win(&ctx.world, x, y, b), ctx.world.oracle.score(x, y), y.chars().count() as f64])?;
            }
            let r = match &m.objective {
                MethodObjective::Re(re) if noise > 0.0 => {
                    let eta = *r.eta.last().unwrap_or(&re.eta0);
                    let w = final_posterior(&ctx, &model, re, eta, &data)?;
                    let (wc, wf) = split_mean(&w, &flipped);
                    for (i, _) in flipped.iter().enumerate().filter(|(_, f)| **f) {
                        let clean_w: Vec<f64> = w.iter().zip(&flipped).filter(|(_, f)| !**f).map(|(w, _)| *w).collect();
                        let auc = clean_w.iter().map(|c| if *c > w[i] { 1.0 } else if *c == w[i] { 0.5 } else { 0.0 }).sum::<f64>() / clean_w.len().max(1) as f64;
                        posterior_records.push(seed, &key(noise, &m.name), format!("pair{i}"), 0, &[auc, wc - w[i], w[i]])?;
                    }
                    RunResult { w_clean: Some(wc), w_flipped: Some(wf), ..r }
                }
                _ => r,
            };
            eprintln!("    ε={noise} {:<10} loss {:.4}{}", m.name, r.final_loss, r.eta.last().map(|e| format!(", final η {e:.3} (true {:.2})", 1.0 - noise)).unwrap_or_default());
            runs.push(r);
        }
    }
    Ok(Outcome { seed, base_trained, seconds: started.elapsed().as_secs_f64(), pairs: clean.len(), runs, eval, posterior: posterior_records })
}

fn outputs(ctx: &Ctx, model: &Llama, prompts: &[Prompt]) -> Result<Vec<String>> {
    let gen = decoding(ctx.cfg.decode.temperature, ctx.seed ^ 0xe7a1, &ctx.base.tok);
    Ok(sample_texts(model, &ctx.base.tok, prompts, &gen, ctx.cfg.decode.batch)?)
}

fn clean_pairs(ctx: &Ctx, prompts: &[Prompt]) -> Result<Vec<Example>> {
    let out = oracle_pairs(&ctx.world, &ctx.base.model, &ctx.base.tok, prompts, &ctx.cfg.sampling, ctx.seed, "lcpo-pairs")?.examples;
    anyhow::ensure!(out.len() >= 4, "only {} clean pairs: raise `train_prompts` or `samples`", out.len());
    Ok(out)
}

/// A copy of `clean` with round(ε·n) labels flipped (chosen and rejected swapped) and which.
pub fn flip<R: rand::Rng>(clean: &[Example], noise: f64, rng: &mut R) -> (Vec<Example>, Vec<bool>) {
    let n = clean.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut flipped = vec![false; n];
    for &i in order.iter().take((noise * n as f64).round() as usize) {
        flipped[i] = true;
    }
    let data = clean
        .iter()
        .zip(&flipped)
        .map(|(e, &f)| {
            let mut e = e.clone();
            if f {
                e.responses.swap(0, 1);
            }
            e
        })
        .collect();
    (data, flipped)
}

fn split_mean(w: &[f64], flipped: &[bool]) -> (f64, f64) {
    let mean = |f: bool| {
        let v: Vec<f64> = w.iter().zip(flipped).filter(|(_, x)| **x == f).map(|(w, _)| *w).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    (mean(false), mean(true))
}

fn train(ctx: &Ctx, m: &Method, noise: f64, data: &[Example]) -> Result<(RunResult, Llama)> {
    let objective = m.objective.build()?;
    let mut cfg = ctx.cfg.train.clone();
    if let Some(lr) = m.lr {
        cfg.schedule.lr = lr;
    }
    let (mut vs, model) = ctx.base.model.copy_with(&ctx.base.vs).context("copying the SFT base")?;
    let refs_dir = ctx.run_root.join("reference");
    let refs = Refs::single(&ctx.base.model, &ctx.base.vs, TOKENIZER_ID, &refs_dir);
    let dir = ctx.run_root.join(run_key(m, noise, &cfg, data));
    let t0 = Instant::now();
    let s = policy::train(&model, &mut vs, objective.as_ref(), data, &refs, &cfg, ctx.base.tok.pad, &dir)?;
    let re = matches!(m.objective, MethodObjective::Re(_));
    // `eta` is logged as the mean η the step's pairs were weighted with, i.e. η *before* the
    // step's own update (Eq. 7); η after the last step is the objective's state (restored from the
    // checkpoint when the run was already finished).
    let eta = if re {
        let mut v: Vec<f64> = column(&dir.join("metrics.csv"), "eta")?.into_iter().skip(1).collect();
        v.push(objective.state()["eta"][0].as_f64().context("the RE objective's state has no η")?);
        v
    } else {
        vec![]
    };
    Ok((RunResult { noise, method: m.name.clone(), re, eta, final_loss: s.final_loss, w_clean: None, w_flipped: None, seconds: t0.elapsed().as_secs_f64() }, model))
}

fn column(path: &Path, name: &str) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let i = head.iter().position(|h| *h == name).with_context(|| format!("{} has no column `{name}`", path.display()))?;
    lines.map(|l| l.split(',').nth(i).and_then(|v| v.parse().ok()).with_context(|| format!("{}: bad `{name}` value", path.display()))).collect()
}

/// The posterior w of every training pair under the final model and η (Eq. 2, 4).
fn final_posterior(ctx: &Ctx, model: &Llama, re: &crate::objective::ReConfig, eta: f64, data: &[Example]) -> Result<Vec<f64>> {
    let pad = ctx.base.tok.pad;
    let data = shared::train::example::truncate_all(data, ctx.cfg.train.max_length, ctx.cfg.train.max_prompt_length)?;
    let mut out = Vec::with_capacity(data.len());
    for chunk in (0..data.len()).collect::<Vec<_>>().chunks(ctx.cfg.train.micro_batch.max(1)) {
        let u = tch::no_grad(|| -> Result<Vec<f64>> {
            let p = shared::train::scoring::score(model, &data, chunk, 2, false, pad)?;
            let r = shared::train::scoring::score(&ctx.base.model, &data, chunk, 2, false, pad)?;
            let (lw, ll, rw, rl) = (p.seq.select(1, 0), p.seq.select(1, 1), r.seq.select(1, 0), r.seq.select(1, 1));
            let (nw, nl) = (p.lens.select(1, 0), p.lens.select(1, 1));
            let x = PairInputs { logp_w: &lw, logp_l: &ll, ref_w: Some(&rw), ref_l: Some(&rl), len_w: &nw, len_l: &nl };
            Ok(Vec::<f64>::try_from(re.base.logit(&x)?.to_kind(Kind::Double))?)
        })?;
        out.extend(u.into_iter().map(|u| posterior(1.0 / (1.0 + (-u).exp()), eta)));
    }
    Ok(out)
}

fn run_key(m: &Method, noise: f64, cfg: &TrainConfig, data: &[Example]) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{:?}{noise}{:?}{}", m.objective, cfg, shared::train::example::examples_key(data)).as_bytes());
    let slug: String = m.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("eps{noise}-{slug}-{:.12}", format!("{h:x}"))
}
