//! The miniature reproduction, top to bottom:
//!
//! 1. the cached SFT base of the miniature world (trained once, reused by every paper);
//! 2. preference pairs for each setup — "base": a fixed pool of demonstrations ranked by the
//!    oracle, chosen = best, rejected = a random other (like `ultrafeedback_binarized`);
//!    "instruct": 5 samples of the SFT model per prompt at T = 0.8, ranked by a reward model
//!    trained on the world judge's verdicts between those samples (the judge is length-biased
//!    and noisy, as GPT-4 and PairRM are), chosen = best, rejected = worst, flat groups dropped;
//! 3. every method trained from the same base on the same pairs, each learning rate of its grid,
//!    the best chosen by the judge's win rate on held-out validation prompts;
//! 4. the chosen model of each method evaluated on the mini AlpacaEval, `eval_samples` responses
//!    per prompt (each drawn with its own decoding stream);
//! 5. tables, claims and a plot in `results/simpo/` ([`crate::tables`]), pooled over every seed
//!    run (`--seeds N`: this whole list once per seed, each with its own SFT base).

use crate::methods::Method;
use crate::mini::MiniConfig;
use anyhow::{Context, Result};
use shared::model::generate::GenerateConfig;
use shared::model::Llama;
use shared::train::onpolicy::{build_pairs, sample_groups, score_groups};
use shared::train::pairs::{pairs_for_group, PairRule};
use shared::train::pairwise::{self, Pair, PairwiseConfig};
use shared::world::alpaca::{EvalRow, MiniAlpacaEval};
use shared::world::base::{self, Base};
use shared::world::policy::{decoding, sample_texts, MAX_RESPONSE_TOKENS};
use shared::world::{demos, rng, Prompt, World, WorldConfig};
use rand::Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::nn::VarStore;

/// Everything a setup's training needs.
pub struct Setup {
    pub name: String,
    pub train: Vec<Pair>,
    /// Mean oracle score of chosen and rejected responses, and their mean lengths.
    pub chosen_oracle: f64,
    pub rejected_oracle: f64,
    pub chosen_len: f64,
    pub rejected_len: f64,
    /// Pairs whose chosen response has the higher oracle score (%): how often the scorer's
    /// preference is the true one.
    pub oracle_agrees: f64,
    /// What ranked the responses.
    pub scorer: String,
    /// The learned reward model's held-out agreement with the judge's labels and with the
    /// oracle (%), when one ranked the samples.
    pub rm_agreement: Option<(f64, f64)>,
}

/// One trained method in one setup.
#[derive(Clone, Debug)]
pub struct MethodResult {
    pub setup: String,
    pub method: String,
    pub ablation: bool,
    pub lr: f64,
    pub val_win_rate: f64,
    /// Every learning rate trained and its validation win rate (one entry when `chosen_lr` fixed it).
    pub grid: Vec<(f64, f64)>,
    /// The mini AlpacaEval of the selected model: one row per sample (`eval_samples`).
    pub evals: Vec<EvalRow>,
    pub train_seconds: f64,
    /// Forward passes of the whole run: policy micro-batches + reference pass (if any).
    pub forward_passes: u64,
}

/// One seed's whole run.
pub struct Outcome {
    pub seed: u64,
    /// The SFT base on the mini AlpacaEval, one row per sample.
    pub sft: Vec<EvalRow>,
    pub setups: Vec<Setup>,
    pub results: Vec<MethodResult>,
    /// Per evaluation prompt (in benchmark order): its id and how many times the same prompt
    /// came earlier ([`prompt_ids`]).
    pub prompt_ids: Vec<(String, u32)>,
    pub base_trained: bool,
    pub seconds: f64,
}

pub struct Run<'a> {
    pub cfg: &'a MiniConfig,
    pub world: World,
    pub base: Base,
    pub bench: MiniAlpacaEval,
    pub val: Vec<Prompt>,
    pub val_baseline: Vec<String>,
    pub train_prompts: Vec<Prompt>,
    pub seed: u64,
    pub device: tch::Device,
    pub run_root: PathBuf,
}

/// Run the whole miniature.
pub fn run(cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64, device: tch::Device, run_root: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let (world, base) = base::world_and_base(scale, seed, device)?;
    let base_trained = base.trained;
    let bench = benchmark(&world, cfg.eval_prompts)?;
    let prompt_ids = prompt_ids(&bench.prompts);
    let mut prompts = world.train_prompts(cfg.train_prompts + cfg.val_prompts, &mut rng(seed, "simpo-prompts"));
    let val = prompts.split_off(cfg.train_prompts);
    let val_baseline = world.baseline_outputs(&val);
    let ctx = Run { cfg, world, base, bench, val, val_baseline, train_prompts: prompts, seed, device, run_root: run_root.to_path_buf() };

    let sft = evaluate(&ctx, &ctx.base.model, "SFT")?;
    let mut setups = vec![];
    let mut results = vec![];
    for name in &cfg.setups {
        let setup = match name.as_str() {
            "base" => offpolicy_setup(&ctx)?,
            _ => onpolicy_setup(&ctx)?,
        };
        eprintln!(
            "==> setup {}: {} pairs (oracle chosen {:.3} vs rejected {:.3}; length {:.1} vs {:.1})",
            setup.name, setup.train.len(), setup.chosen_oracle, setup.rejected_oracle, setup.chosen_len, setup.rejected_len
        );
        for m in &cfg.methods {
            results.push(train_and_select(&ctx, &setup, m)?);
        }
        setups.push(setup);
    }
    Ok(Outcome { seed, sft, setups, results, prompt_ids, base_trained, seconds: started.elapsed().as_secs_f64() })
}

/// The mini AlpacaEval with `n` prompts (the world's 300 when absent). Fewer are its first `n`;
/// more continue the same fixed, seed-independent stream of held-out prompts and baseline
/// answers, so the first 300 are always the standard ones.
pub fn benchmark(world: &World, n: Option<usize>) -> Result<MiniAlpacaEval> {
    let size = world.cfg.eval.size;
    Ok(match n {
        Some(0) => anyhow::bail!("eval_prompts must be ≥ 1"),
        Some(n) if n > size => MiniAlpacaEval::new(&World::new(WorldConfig { eval: shared::world::config::EvalConfig { size: n, ..world.cfg.eval.clone() }, ..world.cfg.clone() })?),
        Some(n) => {
            let mut b = MiniAlpacaEval::new(world);
            b.prompts.truncate(n);
            b.baseline.truncate(n);
            b
        }
        None => MiniAlpacaEval::new(world),
    })
}

/// The evaluation prompts as units of the bootstrap: the world's small families repeat prompts
/// (190 distinct among the standard 300), and a repeated prompt is the same unit, not a new one.
/// Each prompt's id is the benchmark index of its first occurrence; the second value counts its
/// earlier occurrences (the records number its responses from it).
pub fn prompt_ids(prompts: &[Prompt]) -> Vec<(String, u32)> {
    let mut first: HashMap<String, (usize, u32)> = HashMap::new();
    prompts
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let e = first.entry(x.text()).or_insert((i, 0));
            let out = (e.0.to_string(), e.1);
            e.1 += 1;
            out
        })
        .collect()
}

fn pair_from_texts(ctx: &Run, x: &Prompt, chosen: &str, rejected: &str) -> Result<Pair> {
    let tok = &ctx.base.tok;
    Ok(Pair { prompt: tok.encode_prompt(&x.text())?, chosen: tok.encode_response(chosen)?, rejected: tok.encode_response(rejected)? })
}

fn setup_from(ctx: &Run, name: &str, scorer: &str, triples: Vec<(&Prompt, String, String)>) -> Result<Setup> {
    let n = triples.len().max(1) as f64;
    let (mut co, mut ro, mut cl, mut rl, mut agree) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut train = vec![];
    for (x, c, r) in &triples {
        let (sc, sr) = (ctx.world.oracle.score(x, c), ctx.world.oracle.score(x, r));
        co += sc;
        ro += sr;
        agree += f64::from(u8::from(sc > sr));
        cl += c.chars().count() as f64;
        rl += r.chars().count() as f64;
        train.push(pair_from_texts(ctx, x, c, r)?);
    }
    Ok(Setup {
        name: name.into(),
        train,
        chosen_oracle: co / n,
        rejected_oracle: ro / n,
        chosen_len: cl / n,
        rejected_len: rl / n,
        oracle_agrees: 100.0 * agree / n,
        scorer: scorer.into(),
        rm_agreement: None,
    })
}

/// "Base": per prompt, `candidates` demonstrations from the world's mixture, ranked by the oracle.
fn offpolicy_setup(ctx: &Run) -> Result<Setup> {
    let mut r = rng(ctx.seed, "simpo-offpolicy");
    let mut triples = vec![];
    for x in &ctx.train_prompts {
        let texts: Vec<String> = (0..ctx.cfg.offpolicy.candidates).map(|_| demos::demonstrate(x, &ctx.world.cfg.demos, &mut r).response).collect();
        let scores: Vec<f64> = texts.iter().map(|y| ctx.world.oracle.score(x, y)).collect();
        for p in pairs_for_group(&texts, &scores, &PairRule::BestVsRandom, &mut r) {
            triples.push((x, texts[p.chosen].clone(), texts[p.rejected].clone()));
        }
    }
    setup_from(ctx, "base", "oracle", triples)
}

/// "Instruct": samples of the SFT model, ranked by a reward model trained on the judge's labels
/// (or by the judge, or the oracle), best vs worst.
fn onpolicy_setup(ctx: &Run) -> Result<Setup> {
    let tok = &ctx.base.tok;
    let op = &ctx.cfg.onpolicy;
    let ids: Vec<Vec<i64>> = ctx.train_prompts.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<_>>()?;
    let gen = GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature: op.temperature, top_p: op.top_p, stop_tokens: vec![tok.eos], seed: ctx.seed ^ 0x0b5e };
    let samples = sample_groups(&ctx.base.model, &ids, tok.pad, op.samples, op.prompts_per_batch, &gen)?;
    let texts: Vec<Vec<String>> = samples.iter().map(|g| g.iter().map(|y| tok.decode_response(y)).collect()).collect();
    let rm = match (op.scorer.as_str(), &op.reward_model) {
        ("reward_model", Some(rcfg)) => {
            eprintln!("==> reward model on the judge's verdicts between SFT samples");
            let mut r = rng(ctx.seed, "simpo-reward-model");
            // Cached under a key of its settings and data (a changed config or code never resumes a stale model).
            let key = {
                use sha2::{Digest, Sha256};
                let h = Sha256::digest(format!("rm-v2{rcfg:?}{texts:?}").as_bytes());
                format!("reward_model-{:x}", h)[..25].to_string()
            };
            let jr = shared::world::reward::train_on_judge(&ctx.world, (&ctx.base.model, &ctx.base.vs), tok, &ctx.train_prompts, &texts, rcfg, &mut r, &ctx.run_root.join(key))?;
            eprintln!(
                "    {} judged pairs; held-out agreement with the judge {:.1}%, with the oracle {:.1}%",
                jr.train_pairs, jr.heldout_judge_agreement, jr.heldout_oracle_agreement
            );
            Some(jr)
        }
        _ => None,
    };
    let baseline = ctx.world.baseline_outputs(&ctx.train_prompts);
    let groups = score_groups(samples, |y| tok.decode_response(y), |i, ys| {
        let x = &ctx.train_prompts[i];
        match (op.scorer.as_str(), &rm) {
            ("reward_model", Some(jr)) => jr.score(tok, x, ys),
            ("oracle", _) => Ok(ys.iter().map(|y| ctx.world.oracle.score(x, y)).collect()),
            _ => Ok(ys.iter().map(|y| ctx.world.judge.prob_both_orders(x, y, &baseline[i])).collect()),
        }
    })?;
    let pairs = build_pairs(&groups, &PairRule::BestVsWorst, &mut rng(ctx.seed, "simpo-onpolicy"));
    let triples = pairs
        .iter()
        .map(|p| (&ctx.train_prompts[p.prompt], tok.decode_response(&p.chosen), tok.decode_response(&p.rejected)))
        .collect();
    let mut setup = setup_from(ctx, "instruct", &op.scorer, triples)?;
    setup.rm_agreement = rm.map(|jr| (jr.heldout_judge_agreement, jr.heldout_oracle_agreement));
    Ok(setup)
}

/// A fresh copy of the SFT base to train.
fn copy_of_base(ctx: &Run) -> Result<(VarStore, Llama)> {
    ctx.base.model.copy_with(&ctx.base.vs).context("copying the SFT base")
}

/// Decode with the evaluation setting (the same decoding seed for every model).
fn outputs(ctx: &Run, model: &Llama, prompts: &[Prompt], decode_seed: u64) -> Result<Vec<String>> {
    let gen = decoding(ctx.cfg.decode.temperature, decode_seed, &ctx.base.tok);
    Ok(sample_texts(model, &ctx.base.tok, prompts, &gen, ctx.cfg.decode.batch)?)
}

/// The mini AlpacaEval of one model: `eval_samples` responses per prompt, sample `s` decoded with
/// its own stream and judged in its own random orders (the same streams for every model, so
/// methods are compared on the same draws).
fn evaluate(ctx: &Run, model: &Llama, name: &str) -> Result<Vec<EvalRow>> {
    (0..ctx.cfg.eval_samples.max(1))
        .map(|s| {
            // Sample 0 keeps the single-sample streams.
            let (decode_seed, order) = match s {
                0 => (ctx.seed ^ 0xe7a1, "simpo-judge-order".to_string()),
                s => (rng(ctx.seed, &format!("simpo-eval-sample-{s}")).gen::<u64>(), format!("simpo-judge-order-{s}")),
            };
            let ys = outputs(ctx, model, &ctx.bench.prompts, decode_seed)?;
            Ok(ctx.bench.evaluate(&ctx.world, name, &ys, &mut rng(ctx.seed, &order))?)
        })
        .collect()
}

/// The judge's mean preference (both orders) for the model over the baseline on validation prompts.
fn validation_win_rate(ctx: &Run, model: &Llama) -> Result<f64> {
    let ys = outputs(ctx, model, &ctx.val, ctx.seed ^ 0x7a1)?;
    let n = ys.len().max(1) as f64;
    Ok(100.0 * ctx.val.iter().zip(&ys).zip(&ctx.val_baseline).map(|((x, y), b)| ctx.world.judge.prob_both_orders(x, y, b)).sum::<f64>() / n)
}

fn train_and_select(ctx: &Run, setup: &Setup, m: &Method) -> Result<MethodResult> {
    let objective = m.objective.build()?;
    let tcfg = &ctx.cfg.train;
    let reference = pairwise::reference_for(objective.as_ref(), &ctx.base.model, &ctx.base.vs, &setup.train, tcfg, "world-char-v1", &ctx.run_root.join("reference"))?;
    let mut best: Option<(f64, f64, VarStore, Llama, f64)> = None;
    let mut grid = vec![];
    for lr in m.lrs_for(&setup.name) {
        let (mut vs, model) = copy_of_base(ctx)?;
        let cfg = PairwiseConfig { schedule: shared::train::schedule::Schedule { lr, ..tcfg.schedule.clone() }, ..tcfg.clone() };
        let dir = ctx.run_root.join(run_key(setup, m, &cfg));
        let t0 = Instant::now();
        let summary = pairwise::train(&model, &mut vs, objective.as_ref(), &setup.train, reference.as_ref(), &cfg, &dir)?;
        let secs = t0.elapsed().as_secs_f64();
        let val = validation_win_rate(ctx, &model)?;
        eprintln!("    {:<14} {:<8} lr {lr:.0e}: {} steps, final loss {:.4}, validation WR {val:.1}", m.name, setup.name, summary.steps, summary.final_loss);
        grid.push((lr, val));
        if best.as_ref().map_or(true, |b| val > b.0) {
            best = Some((val, lr, vs, model, secs));
        }
    }
    let (val, lr, _vs, model, secs) = best.expect("at least one learning rate");
    let evals = evaluate(ctx, &model, &m.name)?;
    let steps = (setup.train.len().div_ceil(tcfg.batch_size) * tcfg.epochs) as u64;
    let steps = tcfg.max_steps.map_or(steps, |s| s.min(steps));
    let micro = tcfg.batch_size.div_ceil(tcfg.micro_batch) as u64;
    let reference_passes = if objective.needs_reference() { setup.train.len().div_ceil(tcfg.micro_batch) as u64 } else { 0 };
    Ok(MethodResult {
        setup: setup.name.clone(),
        method: m.name.clone(),
        ablation: m.ablation,
        lr,
        val_win_rate: val,
        grid,
        evals,
        train_seconds: secs,
        forward_passes: steps * micro + reference_passes,
    })
}

/// A run folder per (setup, method, settings, data), so an interrupted reproduction resumes
/// and a changed config never reuses a stale run.
fn run_key(setup: &Setup, m: &Method, cfg: &PairwiseConfig) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("{:?}{:?}{:?}", m.objective, cfg, setup.name));
    for p in &setup.train {
        for s in [&p.prompt, &p.chosen, &p.rejected] {
            h.update((s.len() as u64).to_le_bytes());
            for t in s.iter() {
                h.update(t.to_le_bytes());
            }
        }
    }
    let slug: String = m.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("{}-{slug}-{:.8}", setup.name, format!("{:x}", h.finalize()))
}

