//! The miniature, one seed, top to bottom (spec "Miniature reproduction (proposal)"):
//!
//! 1. the "pretrained" tiny LM: the world's cached SFT base (it knows the alphabet, the lexicon
//!    and the world's own tasks, never this catalogue's instructions or frames);
//! 2. the teacher ([`crate::teacher`]) writes every condition's N examples: `mix-k2` (random
//!    skill pair + random query type), `single-k1`, `narrow-k2` (4 skills), the two 20% shirker
//!    variants of `mix-k2`, and the nested `mix-k2` prefixes of the data-size curve;
//! 3. each condition is fine-tuned from the same base through the shared SFT step
//!    (`shared::train::sft`: response-only loss, AdamW, warm-up + cosine over all epochs), epoch
//!    by epoch (`max_steps` at each epoch's end; the engine resumes its own checkpoint), and after
//!    every epoch judged on the held-out validation instructions; the best epoch's weights are
//!    kept (the evaluation set is never looked at);
//! 4. the chosen weights answer the fixed evaluation set (T = 0.9, top-p 1, fixed seed; and
//!    greedily); every answer is graded by the oracle and compared with the fixed baseline's.
//!
//! A seed's folder (`<runs>/<scale>-<hash of config and seed>/<condition>/`) keeps each finished
//! condition (`done.json`: its epochs and its answers); a rerun reuses them.

use crate::catalogue::Instruction;
use crate::config::MiniConfig;
use crate::oracle::{preference, score};
use crate::teacher::{shirk, Demo, Shirk, Teacher, MAX_RESPONSE};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use shared::model::generate::{generate, GenerateConfig};
use shared::model::Llama;
use shared::stats::Records;
use shared::train::sft::{self, LossNorm, SftConfig, SftExample};
use shared::train::TrainConfig;
use shared::world::base::{self, Base, BaseConfig};
use shared::world::tokenizer::WorldTokenizer;
use shared::world::{rng, World, WorldConfig};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Per-prompt metrics of the evaluation records: y = preference − 1 over the fixed baseline
/// (1, ½, 0), the oracle score, the answer's length, baseline length − answer length, the number
/// of skills asked, whether the pair was held out of training, whether the answer scored 1.
pub const METRICS: [&str; 7] = ["preference", "oracle", "length", "delta_len", "k", "unseen", "perfect"];

/// The conditions' names.
pub mod names {
    pub const BASE: &str = "base";
    pub const MIX: &str = "mix-k2";
    pub const SINGLE: &str = "single-k1";
    pub const NARROW: &str = "narrow-k2";
    pub fn shirk(rate: f64, kind: &str) -> String {
        format!("mix-k2-shirk{:.0}-{kind}", 100.0 * rate)
    }
    pub fn size(n: usize) -> String {
        format!("mix-k2-n{n}")
    }
    pub fn greedy(name: &str) -> String {
        format!("{name} greedy")
    }
}

/// One condition's training and selection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CondRun {
    pub name: String,
    /// Training examples.
    pub n: usize,
    /// Mean oracle score of the training outputs (shirkers lower it).
    pub data_oracle: f64,
    /// Validation win rate (%) after each epoch.
    pub val: Vec<f64>,
    /// The last step's training loss after each epoch.
    pub epoch_loss: Vec<f64>,
    /// The selected epoch (1-based; 0 for the untrained base).
    pub best_epoch: usize,
    pub seconds: f64,
    /// The evaluation answers at the selected epoch (sampled, greedy).
    pub sampled: Vec<String>,
    pub greedy: Vec<String>,
}

/// One seed's results.
pub struct Outcome {
    pub seed: u64,
    pub conditions: Vec<CondRun>,
    /// Per (condition, evaluation prompt): [`METRICS`]; greedy answers as `<name> greedy`.
    pub records: Records,
    pub base_trained: bool,
    pub seconds: f64,
}

/// What one seed works with.
pub struct Ctx<'a> {
    pub cfg: &'a MiniConfig,
    pub seed: u64,
    pub tok: &'a WorldTokenizer,
    pub eval: Vec<(Instruction, &'static str)>,
    pub baseline: Vec<String>,
    pub val: Vec<Instruction>,
    pub val_baseline: Vec<String>,
}

/// Where a seed's run lives ([`shared::driver::run_dir`]: a hash of the config and the seed).
pub fn run_dir(runs_root: &Path, cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64) -> PathBuf {
    shared::driver::run_dir(runs_root, &toml::to_string(cfg).unwrap_or_default(), scale, seed)
}

/// Every condition's demonstrations, in the order they are trained.
pub fn datasets(cfg: &MiniConfig, teacher: &Teacher, avoid: &HashSet<String>, seed: u64) -> Vec<(String, Vec<Demo>)> {
    let d = &cfg.data;
    let mix = Teacher::demos(teacher.instructions(d.n, 2, &mut rng(seed, "skillmix-mix-k2"), false, avoid));
    let single = Teacher::demos(teacher.instructions(d.n, 1, &mut rng(seed, "skillmix-single-k1"), false, avoid));
    let narrow = Teacher::demos(teacher.narrowed(&d.narrow).instructions(d.n, 2, &mut rng(seed, "skillmix-narrow-k2"), false, avoid));
    let mut out = vec![(names::MIX.to_string(), mix.clone()), (names::SINGLE.to_string(), single), (names::NARROW.to_string(), narrow)];
    for (kind, label) in [(Shirk::Junk, "junk"), (Shirk::Brief, "brief")] {
        let mut s = mix.clone();
        shirk(&mut s, d.shirker_rate, kind);
        out.push((names::shirk(d.shirker_rate, label), s));
    }
    for &n in &d.sizes {
        out.push((names::size(n), mix[..n].to_vec()));
    }
    out
}

/// One answer per instruction (batched; call `c` of a decoding uses seed + c). T = 0 is greedy.
pub fn answers(ctx: &Ctx, model: &Llama, xs: &[Instruction], temperature: f64, seed: u64) -> Result<Vec<String>> {
    let tok = ctx.tok;
    let mut out = Vec::with_capacity(xs.len());
    for (c, chunk) in xs.chunks(ctx.cfg.gen_batch).enumerate() {
        let ids: Vec<Vec<i64>> = chunk.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<_>>()?;
        let g = GenerateConfig { max_new_tokens: MAX_RESPONSE + 1, temperature, top_p: ctx.cfg.eval.top_p, stop_tokens: vec![tok.eos], seed: seed.wrapping_add(c as u64) };
        let new = tch::no_grad(|| generate(model, &ids, tok.pad, &g))?;
        out.extend(new.iter().map(|y| tok.decode_response(y)));
    }
    Ok(out)
}

/// Win rate (%) of `ys` over `baseline` on `xs`: mean of y = preference − 1.
pub fn win_rate(xs: &[Instruction], ys: &[String], baseline: &[String]) -> f64 {
    let n = xs.len().max(1) as f64;
    100.0 * xs.iter().zip(ys).zip(baseline).map(|((x, y), b)| preference(score(x, y), score(x, b)) - 1.0).sum::<f64>() / n
}

fn sft_examples(tok: &WorldTokenizer, demos: &[Demo]) -> Result<Vec<SftExample>> {
    demos.iter().map(|d| Ok(SftExample { prompt: tok.encode_prompt(&d.instruction.text())?, response: tok.encode_response(&d.output)? })).collect()
}

const SAMPLE_STREAM: u64 = 0x5a_e7a1;
const VAL_STREAM: u64 = 0x5a_0a1d;

/// Train one condition epoch by epoch from a copy of the base, validating after each epoch; keep
/// the best epoch's weights and answer the evaluation set with them.
fn train_condition(ctx: &Ctx, base: &Base, name: &str, demos: &[Demo], dir: &Path) -> Result<CondRun> {
    let t0 = Instant::now();
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing the unfinished run {}", dir.display()))?; // an unfinished condition restarts
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let data = sft_examples(ctx.tok, demos)?;
    let (mut vs, model) = base.model.copy_with(&base.vs).context("copying the base")?;
    let train: TrainConfig = TrainConfig { seed: ctx.seed, ..ctx.cfg.train.clone() };
    let epochs = train.epochs as u64;
    let spe = train.total_steps(data.len()) / epochs;
    let best_path = dir.join("best.safetensors");
    let mut run = CondRun {
        name: name.to_string(),
        n: demos.len(),
        data_oracle: demos.iter().map(|d| score(&d.instruction, &d.output)).sum::<f64>() / demos.len().max(1) as f64,
        ..CondRun::default()
    };
    let mut best = f64::NEG_INFINITY;
    for e in 1..=epochs {
        let c = SftConfig { train: TrainConfig { max_steps: Some(e * spe), ..train.clone() }, loss_norm: LossNorm::MicroMean };
        let s = sft::train(&model, &mut vs, &data, ctx.tok.pad, &c, &dir.join("train"))?;
        let ys = answers(ctx, &model, &ctx.val, ctx.cfg.eval.temperature, ctx.seed ^ VAL_STREAM)?;
        let v = win_rate(&ctx.val, &ys, &ctx.val_baseline);
        eprintln!("    {name:<22} epoch {e}: loss {:.4}, validation WR {v:.1}%", s.final_loss);
        run.val.push(v);
        run.epoch_loss.push(s.final_loss);
        if v > best {
            best = v;
            run.best_epoch = e as usize;
            shared::model::weights::save(&vs, &best_path)?;
        }
    }
    shared::model::weights::load_into(&vs, &[best_path], &[])?;
    let _ = std::fs::remove_dir_all(dir.join("train")); // the resume checkpoint is no longer needed
    evaluate_into(ctx, &model, &mut run)?;
    run.seconds = t0.elapsed().as_secs_f64();
    Ok(run)
}

fn evaluate_into(ctx: &Ctx, model: &Llama, run: &mut CondRun) -> Result<()> {
    let xs: Vec<Instruction> = ctx.eval.iter().map(|e| e.0.clone()).collect();
    run.sampled = answers(ctx, model, &xs, ctx.cfg.eval.temperature, ctx.seed ^ SAMPLE_STREAM)?;
    if ctx.cfg.eval.greedy {
        run.greedy = answers(ctx, model, &xs, 0.0, 0)?;
    }
    Ok(())
}

/// Append one condition's answers to the records.
pub fn push_records(ctx: &Ctx, r: &mut Records, method: &str, ys: &[String]) -> Result<()> {
    for (i, (((x, slice), y), b)) in ctx.eval.iter().zip(ys).zip(&ctx.baseline).enumerate() {
        let (s, sb) = (score(x, y), score(x, b));
        let len = y.chars().count() as f64;
        let v = [preference(s, sb) - 1.0, s, len, b.chars().count() as f64 - len, x.skills.len() as f64, (*slice == "k2-unseen") as u8 as f64, (s >= 1.0) as u8 as f64];
        r.push(ctx.seed, method, i.to_string(), 0, &v)?;
    }
    Ok(())
}

/// The world and its cached base ("pretrained" LM) for this run.
fn pretrained(cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64, device: tch::Device) -> Result<Base> {
    let world = World::new(WorldConfig::default())?;
    let s = cfg.pretrained_seed.unwrap_or(seed);
    eprintln!("==> the pretrained tiny LM: the world's SFT base of seed {s} ({} scale; cached after the first run)", scale.name());
    Ok(base::ensure(&world, &BaseConfig::for_scale(scale), s, &base::checkpoints_root(), device)?)
}

/// Run (or load) one seed.
pub fn run_seed(cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let dir = run_dir(runs_root, cfg, scale, seed);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let base = pretrained(cfg, scale, seed, device)?;
    let teacher = Teacher::new(cfg.data.held_out_pairs);
    let e = &cfg.eval;
    let eval = teacher.eval_set(e.k2, e.unseen_fraction, e.k1, e.k3);
    let eval_xs: Vec<Instruction> = eval.iter().map(|x| x.0.clone()).collect();
    let baseline = Teacher::partial_oracle(&eval_xs);
    let mut avoid: HashSet<String> = eval_xs.iter().map(|x| x.text()).collect();
    // The validation set: held-out mix-k2 instructions "made the same way with a different seed",
    // answered by the partial oracle (the same kind of reference as the evaluation's baseline).
    let val = teacher.instructions(cfg.data.validation, 2, &mut rng(seed, "skillmix-validation"), false, &avoid);
    avoid.extend(val.iter().map(|x| x.text()));
    let val_baseline = Teacher::partial_oracle(&val);
    let ctx = Ctx { cfg, seed, tok: &base.tok, eval, baseline, val, val_baseline };

    let mut conditions = vec![];
    let load_or = |name: &str, f: &dyn Fn(&Path) -> Result<CondRun>| -> Result<CondRun> {
        let d = dir.join(name.replace(' ', "_"));
        let done = d.join("done.json");
        if done.exists() {
            eprintln!("==> seed {seed}: {name} loaded from {}", done.display());
            return Ok(shared::io::read_json(&done)?);
        }
        let r = f(&d)?;
        shared::io::write_json(&done, &r)?;
        Ok(r)
    };
    eprintln!("==> seed {seed}: {} (no SFT)", names::BASE);
    conditions.push(load_or(names::BASE, &|d: &Path| {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        let mut r = CondRun { name: names::BASE.into(), ..CondRun::default() };
        evaluate_into(&ctx, &base.model, &mut r)?;
        Ok(r)
    })?);
    for (name, demos) in datasets(cfg, &teacher, &avoid, seed) {
        eprintln!("==> seed {seed}: {name} ({} examples, {} epochs)", demos.len(), cfg.train.epochs);
        conditions.push(load_or(&name, &|d: &Path| train_condition(&ctx, &base, &name, &demos, d))?);
    }
    let mut records = Records::new(&METRICS);
    for c in &conditions {
        push_records(&ctx, &mut records, &c.name, &c.sampled)?;
        if cfg.eval.greedy {
            push_records(&ctx, &mut records, &names::greedy(&c.name), &c.greedy)?;
        }
    }
    records.save(&dir, "eval")?;
    // Tables are built from the records as saved (six significant digits): a fresh run and a
    // rerun that loads them give identical tables.
    let records = Records::load(&dir, "eval")?;
    Ok(Outcome { seed, conditions, records, base_trained: base.trained, seconds: started.elapsed().as_secs_f64() })
}
