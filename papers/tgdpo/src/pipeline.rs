//! The miniature reproduction for one seed, top to bottom (spec "Miniature reproduction"):
//!
//! 1. the cached SFT base of the miniature world (π_ref, and the start of every method);
//! 2. on-policy pairs: `samples` responses of the SFT model per training prompt at T = 0.8,
//!    ranked by the world's oracle, chosen = best, rejected = worst (flat groups dropped). The
//!    world's defects are token-local (one wrong digit or letter in an item);
//! 3. the token reward model π_dpo: DPO from the SFT model on those pairs; every pair then carries
//!    `Δ_t = log π_dpo − log π_ref` per response token ([`crate::rewards::attach`]);
//! 4. the sanity probe: a correct answer against the same answer with a planted one-character
//!    defect; is Δ at the defect below the response's mean Δ?
//! 5. every method (DPO, TGDPO at each α, SimPO) from the SFT model with the same trainer and
//!    budget, evaluated on held-out validation prompts after every epoch: the best epoch (chosen
//!    on validation) and the last one ("trained to convergence") are evaluated on the mini
//!    AlpacaEval prompts by the oracle, against the SFT model's answers (win = 1, tie = ½);
//! 6. the α = 0 check: on real pairs, TGDPO with α = 0 gives DPO's loss and gradients.

use crate::config::{MethodObjective, MiniConfig};
use crate::loss::{Tgdpo, TgdpoConfig};
use crate::rewards;
use anyhow::{Context, Result};
use shared::model::Llama;
use shared::objectives::dpo::Dpo;
use shared::stats::Records;
use shared::train::reference::Frozen;
use shared::train::{policy, Example, Objective, Refs, Scored, TrainConfig};
use shared::world::alpaca::MiniAlpacaEval;
use shared::world::base::{self, Base};
use shared::world::policy::{decoding, oracle_pairs, oracle_win as win, sample_texts};
use shared::world::{demos, rng, Prompt, World};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// The tokenizer id the reference caches are keyed by.
pub const TOKENIZER_ID: &str = "world-char-v1";
/// Metrics of the evaluation records (`eval.per_prompt.csv`): win against the SFT model's answer
/// (1, ½, 0 by the oracle), the answer's oracle score, its length in characters.
pub const EVAL_METRICS: [&str; 3] = ["win", "oracle", "length"];
/// Metrics of the probe records (`probes.per_prompt.csv`): whether Δ at the planted defect is below
/// the response's mean Δ, and by how much (mean − defect).
pub const PROBE_METRICS: [&str; 2] = ["below_mean", "gap"];

/// One method's run: validation after each epoch, the chosen epoch, training summaries.
#[derive(Clone, Debug)]
pub struct MethodRun {
    pub name: String,
    pub lr: f64,
    /// Oracle win rate against the SFT model on the validation prompts after each epoch.
    pub val: Vec<f64>,
    /// Mean training loss over each epoch's steps.
    pub epoch_loss: Vec<f64>,
    /// 1-based epoch with the highest validation win rate (first on ties).
    pub best_epoch: usize,
    pub train_seconds: f64,
    /// TGDPO: share of training tokens whose weight f = 1 ± αβΔ is ≤ 0.
    pub f_nonpositive: Option<f64>,
}

pub struct Outcome {
    pub seed: u64,
    pub base_trained: bool,
    pub seconds: f64,
    pub pairs: usize,
    pub chosen_oracle: f64,
    pub rejected_oracle: f64,
    /// π_dpo's preference accuracy on the training pairs (implicit reward margin > 0), %.
    pub rm_accuracy: f64,
    /// Max |loss difference| and max |gradient difference| of TGDPO(α = 0) against DPO on real pairs.
    pub alpha0_loss_diff: f64,
    pub alpha0_grad_diff: f64,
    pub methods: Vec<MethodRun>,
    /// Per-prompt evaluation of `SFT`, `<method>@best` and `<method>@last`.
    pub eval: Records,
    pub probes: Records,
    pub epochs: usize,
}

struct Ctx<'a> {
    cfg: &'a MiniConfig,
    world: World,
    base: Base,
    seed: u64,
    run_root: PathBuf,
    val: Vec<Prompt>,
    val_sft: Vec<String>,
    eval: Vec<Prompt>,
    eval_sft: Vec<String>,
}

/// Run the whole miniature for one seed.
pub fn run(cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64, device: tch::Device, run_root: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let (world, base) = base::world_and_base(scale, seed, device)?;
    let base_trained = base.trained;
    let mut bench = MiniAlpacaEval::new(&world);
    if let Some(n) = cfg.eval_prompts {
        bench.prompts.truncate(n);
    }
    let mut prompts = world.train_prompts(cfg.train_prompts + cfg.val_prompts, &mut rng(seed, "tgdpo-prompts"));
    let val = prompts.split_off(cfg.train_prompts);
    let run_root = run_root.join(format!("seed{seed}"));
    let mut ctx = Ctx { cfg, world, base, seed, run_root, val, val_sft: vec![], eval: bench.prompts, eval_sft: vec![] };
    ctx.val_sft = outputs(&ctx, &ctx.base.model, &ctx.val, 0x7a1)?;
    ctx.eval_sft = outputs(&ctx, &ctx.base.model, &ctx.eval, 0xe7a1)?;

    // 2. On-policy pairs ranked by the oracle.
    let (pairs, chosen_oracle, rejected_oracle) = onpolicy_pairs(&ctx, &prompts)?;
    eprintln!("==> {} pairs (oracle chosen {chosen_oracle:.3} vs rejected {rejected_oracle:.3})", pairs.len());

    // 3. π_dpo, then the token rewards on every pair.
    let rm = &cfg.reward_model;
    let (mut dpo_vs, dpo_model) = copy_of_base(&ctx)?;
    let mut rm_cfg = TrainConfig { epochs: rm.epochs, ..cfg.train.clone() };
    rm_cfg.schedule.lr = rm.lr;
    let refs_dir = ctx.run_root.join("reference");
    let refs = Refs::single(&ctx.base.model, &ctx.base.vs, TOKENIZER_ID, &refs_dir);
    let dpo_obj = Dpo::new(rm.beta);
    policy::train(&dpo_model, &mut dpo_vs, &dpo_obj, &pairs, &refs, &rm_cfg, ctx.base.tok.pad, &ctx.run_root.join("token-reward-model"))?;
    let frozen_dpo = Frozen { model: &dpo_model, vs: &dpo_vs };
    let frozen_ref = Frozen { model: &ctx.base.model, vs: &ctx.base.vs };
    let weighted = rewards::attach(&pairs, frozen_dpo, frozen_ref, &cfg.train, ctx.base.tok.pad, TOKENIZER_ID, &refs_dir)?;
    let rm_accuracy = 100.0 * weighted.iter().filter(|e| margin_of(e) > 0.0).count() as f64 / weighted.len().max(1) as f64;
    eprintln!("==> token reward model π_dpo: implicit reward prefers the chosen answer on {rm_accuracy:.1}% of the training pairs");

    // 4. Planted-defect probes.
    let probes = probe(&ctx, frozen_dpo, frozen_ref)?;

    // 6. α = 0 is DPO on real pairs.
    let (alpha0_loss_diff, alpha0_grad_diff) = alpha_zero_check(&ctx, &dpo_model, &weighted)?;

    // 5. Every method, evaluated after every epoch.
    let mut eval = Records::new(&EVAL_METRICS);
    push_eval(&ctx, &mut eval, "SFT", &ctx.eval_sft)?;
    let mut methods = vec![];
    for m in &cfg.methods {
        let data = if matches!(m.objective, MethodObjective::Tgdpo(_)) { &weighted } else { &pairs };
        let (run, best, last) = train_method(&ctx, m, data)?;
        push_eval(&ctx, &mut eval, &format!("{}@best", m.name), &best)?;
        push_eval(&ctx, &mut eval, &format!("{}@last", m.name), &last)?;
        methods.push(run);
    }
    Ok(Outcome {
        seed,
        base_trained,
        seconds: started.elapsed().as_secs_f64(),
        pairs: pairs.len(),
        chosen_oracle,
        rejected_oracle,
        rm_accuracy,
        alpha0_loss_diff,
        alpha0_grad_diff,
        methods,
        eval,
        probes,
        epochs: cfg.train.epochs,
    })
}

/// π_dpo's implicit reward margin of a weighted pair: Σ Δ(chosen) − Σ Δ(rejected).
fn margin_of(e: &Example) -> f64 {
    let w = e.token_weights.as_ref().expect("attached token rewards");
    w[0].iter().map(|&x| x as f64).sum::<f64>() - w[1].iter().map(|&x| x as f64).sum::<f64>()
}

fn copy_of_base(ctx: &Ctx) -> Result<(VarStore, Llama)> {
    ctx.base.model.copy_with(&ctx.base.vs).context("copying the SFT base")
}

/// Decode with the evaluation setting (the same seed for every model).
fn outputs(ctx: &Ctx, model: &Llama, prompts: &[Prompt], stream: u64) -> Result<Vec<String>> {
    let gen = decoding(ctx.cfg.decode.temperature, ctx.seed ^ stream, &ctx.base.tok);
    Ok(sample_texts(model, &ctx.base.tok, prompts, &gen, ctx.cfg.decode.batch)?)
}

fn win_rate(ctx: &Ctx, ys: &[String]) -> f64 {
    100.0 * ctx.val.iter().zip(ys).zip(&ctx.val_sft).map(|((x, y), b)| win(&ctx.world, x, y, b)).sum::<f64>() / ys.len().max(1) as f64
}

fn push_eval(ctx: &Ctx, r: &mut Records, method: &str, ys: &[String]) -> Result<()> {
    // The mini AlpacaEval repeats a few prompts: a record's prompt is its position in the set.
    for (i, ((x, y), b)) in ctx.eval.iter().zip(ys).zip(&ctx.eval_sft).enumerate() {
        let v = [win(&ctx.world, x, y, b), ctx.world.oracle.score(x, y), y.chars().count() as f64];
        r.push(ctx.seed, method, format!("{i}: {}", x.text()), 0, &v)?;
    }
    Ok(())
}

fn onpolicy_pairs(ctx: &Ctx, prompts: &[Prompt]) -> Result<(Vec<Example>, f64, f64)> {
    let p = oracle_pairs(&ctx.world, &ctx.base.model, &ctx.base.tok, prompts, &ctx.cfg.sampling, ctx.seed, "tgdpo-pairs")?;
    anyhow::ensure!(!p.examples.is_empty(), "no on-policy pair with a strict oracle gap: raise `samples` or `train_prompts`");
    Ok((p.examples, p.chosen_oracle, p.rejected_oracle))
}

/// Correct answers against the same answers with a planted defect (one or two characters of an
/// item changed); the token rewards of the defective answer at the changed tokens against its mean.
fn probe(ctx: &Ctx, dpo: Frozen, reference: Frozen) -> Result<Records> {
    let tok = &ctx.base.tok;
    let mut r = rng(ctx.seed, "tgdpo-probes");
    let prompts = ctx.world.train_prompts(ctx.cfg.probes, &mut r);
    let mut examples = vec![];
    let mut defects = vec![];
    let mut ids = vec![];
    for x in &prompts {
        let spec = demos::correct_spec(x, 0.3, 0.3, &mut r);
        let mut bad = spec.clone();
        bad.items = demos::corrupt_for(x, &spec.items, &mut r);
        let (c, d) = (tok.encode_response(&spec.render())?, tok.encode_response(&bad.render())?);
        if c.len() != d.len() || c == d {
            continue; // the edit changed the tokenisation: no position-wise defect
        }
        defects.push(c.iter().zip(&d).enumerate().filter(|(_, (a, b))| a != b).map(|(i, _)| i).collect::<Vec<_>>());
        examples.push(Example::pair(tok.encode_prompt(&x.text())?, c, d));
        ids.push(format!("{}: {}", ids.len(), x.text())); // training prompts can repeat
    }
    let cfg = TrainConfig { max_length: None, max_prompt_length: None, ..ctx.cfg.train.clone() };
    let weighted = rewards::attach(&examples, dpo, reference, &cfg, tok.pad, TOKENIZER_ID, &ctx.run_root.join("reference"))?;
    let mut out = Records::new(&PROBE_METRICS);
    for ((e, pos), id) in weighted.iter().zip(&defects).zip(&ids) {
        let w = &e.token_weights.as_ref().expect("attached")[1];
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / w.len() as f64;
        let at = pos.iter().map(|&i| w[i] as f64).sum::<f64>() / pos.len() as f64;
        out.push(ctx.seed, "probe", id.clone(), 0, &[f64::from(u8::from(at < mean)), mean - at])?;
    }
    Ok(out)
}

/// TGDPO with α = 0 against DPO, same β, on the first micro-batch of real pairs scored by π_dpo
/// (which differs from π_ref, so the log-ratios are not zero): loss and gradient differences.
fn alpha_zero_check(ctx: &Ctx, policy_model: &Llama, weighted: &[Example]) -> Result<(f64, f64)> {
    let beta = ctx.cfg.reward_model.beta;
    let idx: Vec<usize> = (0..weighted.len().min(ctx.cfg.train.micro_batch)).collect();
    let pad = ctx.base.tok.pad;
    let (pol, reference) = tch::no_grad(|| -> shared::Result<_> {
        Ok((shared::train::scoring::score(policy_model, weighted, &idx, 2, true, pad)?, shared::train::scoring::score(&ctx.base.model, weighted, &idx, 2, true, pad)?))
    })?;
    let (mask, rt) = (pol.mask.context("token mask")?, reference.tokens.context("reference tokens")?);
    let tmax = mask.size()[2] as usize;
    let w: Vec<f32> = idx.iter().flat_map(|&i| weighted[i].token_weights.as_ref().expect("attached").iter().flat_map(|v| (0..tmax).map(|t| v.get(t).copied().unwrap_or(0.0)))).collect();
    let weights = Tensor::from_slice(&w).view([idx.len() as i64, 2, tmax as i64]);
    let run = |obj: &dyn Objective| -> Result<(Tensor, Tensor)> {
        let leaf = pol.tokens.as_ref().context("policy tokens")?.detach().set_requires_grad(true);
        let seq = (&leaf * &mask).sum_dim_intlist(2, false, Kind::Float);
        let rseq = (&rt * &mask).sum_dim_intlist(2, false, Kind::Float);
        let x = Scored::new(seq, pol.lens.shallow_clone()).with_ref("reference", rseq, Some(rt.shallow_clone())).with_tokens(leaf.shallow_clone(), mask.shallow_clone(), Some(weights.shallow_clone()));
        let loss = obj.compute(&x)?.per_example;
        loss.sum(Kind::Float).backward();
        Ok((loss.detach(), leaf.grad()))
    };
    let (lt, gt) = run(&Tgdpo(TgdpoConfig { beta, alpha: 0.0 }))?;
    let (ld, gd) = run(&Dpo::new(beta))?;
    let max_abs = |t: Tensor| t.abs().max().double_value(&[]);
    Ok((max_abs(lt - ld), max_abs(gt - gd)))
}

/// Train one method epoch by epoch (the engine resumes its own checkpoint), validating after each;
/// returns the run and the evaluation answers of the best and the last epoch.
fn train_method(ctx: &Ctx, m: &crate::config::Method, data: &[Example]) -> Result<(MethodRun, Vec<String>, Vec<String>)> {
    let objective = m.objective.build()?;
    let mut cfg = ctx.cfg.train.clone();
    if let Some(lr) = m.lr {
        cfg.schedule.lr = lr;
    }
    let spe = cfg.total_steps(data.len()) / cfg.epochs as u64;
    let (mut vs, model) = copy_of_base(ctx)?;
    let refs_dir = ctx.run_root.join("reference");
    let refs = Refs::single(&ctx.base.model, &ctx.base.vs, TOKENIZER_ID, &refs_dir);
    let dir = ctx.run_root.join(run_key(m, &cfg, data));
    let t0 = Instant::now();
    // Each epoch's evaluation is saved beside the run (`epoch-<e>.json`): a rerun reads it back
    // instead of evaluating weights that may already be those of a later epoch (the engine
    // resumes from its newest checkpoint).
    // The evaluation answers are generated only where they can be needed: at an epoch that beats
    // every earlier one on validation (a candidate for the best) and at the last epoch.
    let (mut val, mut epoch_loss) = (vec![], vec![]);
    let (mut best_epoch, mut best, mut last) = (1, vec![], vec![]);
    for e in 1..=cfg.epochs as u64 {
        let saved = dir.join(format!("epoch-{e}.json"));
        let ep: EpochEval = if saved.is_file() {
            shared::io::read_json(&saved)?
        } else {
            let c = TrainConfig { max_steps: Some(e * spe), ..cfg.clone() };
            let s = policy::train(&model, &mut vs, objective.as_ref(), data, &refs, &c, ctx.base.tok.pad, &dir)?;
            let val_win = win_rate(ctx, &outputs(ctx, &model, &ctx.val, 0x7a1)?);
            let improves = val.iter().all(|&v| val_win > v);
            let eval_outputs = if improves || e == cfg.epochs as u64 { Some(outputs(ctx, &model, &ctx.eval, 0xe7a1)?) } else { None };
            let ep = EpochEval { val_win, loss: epoch_mean_loss(&dir, (e - 1) * spe, e * spe).unwrap_or(s.final_loss), eval_outputs };
            shared::io::write_json(&saved, &ep)?;
            ep
        };
        eprintln!("    {:<12} epoch {e}: loss {:.4}, validation WR vs SFT {:.1}%", m.name, ep.loss, ep.val_win);
        // The first epoch with the highest validation win rate is the best.
        let improves = val.iter().all(|&v| ep.val_win > v);
        val.push(ep.val_win);
        epoch_loss.push(ep.loss);
        let outs = || ep.eval_outputs.clone().with_context(|| format!("{} lacks the evaluation answers of epoch {e}: delete it to rerun", saved.display()));
        if improves {
            (best_epoch, best) = (e as usize, outs()?);
        }
        if e == cfg.epochs as u64 {
            last = outs()?;
        }
    }
    let f_nonpositive = match &m.objective {
        MethodObjective::Tgdpo(t) => Some(rewards::nonpositive_share(data, t.alpha, t.beta)),
        _ => None,
    };
    let run = MethodRun { name: m.name.clone(), lr: cfg.schedule.lr, val, epoch_loss, best_epoch, train_seconds: t0.elapsed().as_secs_f64(), f_nonpositive };
    Ok((run, best, last))
}

/// What one epoch of a method came to, saved so that a rerun does not re-evaluate.
#[derive(serde::Serialize, serde::Deserialize)]
struct EpochEval {
    val_win: f64,
    loss: f64,
    /// Answers to the evaluation prompts after this epoch, kept where the epoch improved on every
    /// earlier one or is the last.
    eval_outputs: Option<Vec<String>>,
}

/// Mean of the `loss` column of `metrics.csv` over steps in `(from, to]`.
fn epoch_mean_loss(dir: &Path, from: u64, to: u64) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).ok()?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split(',').collect();
    let (si, li) = (head.iter().position(|h| *h == "step")?, head.iter().position(|h| *h == "loss")?);
    let v: Vec<f64> = lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let s: u64 = f.get(si)?.parse().ok()?;
            (s > from && s <= to).then(|| f.get(li)?.parse().ok()).flatten()
        })
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// A run folder per (method, settings, data and token weights), so an interrupted reproduction
/// resumes and a changed config (or token reward model) never reuses a stale run.
fn run_key(m: &crate::config::Method, cfg: &TrainConfig, data: &[Example]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("{:?}{:?}{}", m.objective, cfg, shared::train::example::examples_key(data)));
    for w in data.iter().flat_map(|e| e.token_weights.iter().flatten().flatten()) {
        h.update(w.to_le_bytes());
    }
    let slug: String = m.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("{slug}-{:.12}", format!("{:x}", h.finalize()))
}
