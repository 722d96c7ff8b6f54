//! The miniature reproduction for one seed, top to bottom (spec "Miniature reproduction"):
//!
//! 1. the zoo of seven world models of graded strength ([`ZOO`]), all the shared tiny Llama with
//!    the world's tokenizer, every one trained by the shared engine (SFT step or the policy step
//!    with the shared DPO / SimPO objectives); each model's strength is its mean oracle score on
//!    the mini AlpacaEval, answers sampled at T = 1;
//! 2. the mini RewardBench ([`crate::bench`]) scored by every model: summed response log-probs
//!    of every chosen and rejected answer, so any ordered pair's `r_DR` (sum or mean) follows;
//! 3. annotation: N samples of M2 per prompt on a split disjoint from the zoo's, ranked by each
//!    label source (CDR = `r_DR(M3 over M2)`, its variants, the oracle, the length-biased judge,
//!    random), best vs worst;
//! 4. SimPO from M2 on each source's pairs with one budget, evaluated on the mini AlpacaEval
//!    (oracle score, judge WR and LC WR against the fixed baseline), with M2 itself as "SFT".

use crate::bench;
use crate::config::{LabelSource, MiniConfig};
use crate::ratio::{reward, Normalise};
use anyhow::{Context, Result};
use rand::Rng;
use shared::model::generate::GenerateConfig;
use shared::model::Llama;
use shared::stats::Records;
use shared::train::onpolicy::sample_groups;
use shared::train::pairs::{pairs_for_group, PairRule};
use shared::train::sft::{self, LossNorm, SftConfig, SftExample};
use shared::train::{policy, Example, Objective, Refs, TrainConfig};
use shared::world::alpaca::{EvalRow, MiniAlpacaEval, PER_PROMPT_METRICS};
use shared::world::base::{self, Base, BaseConfig};
use shared::world::policy::{decoding, oracle_pairs, sample_texts, MAX_RESPONSE_TOKENS};
use shared::world::{rng, Prompt, World, WorldConfig};
use simpo::objective::Simpo;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::nn::VarStore;

/// The tokenizer id the reference caches are keyed by.
pub const TOKENIZER_ID: &str = "world-char-v1";
/// The zoo, weakest recipe first (strength is measured, not assumed).
pub const ZOO: [&str; 7] = ["M0", "M1", "M2", "M3", "M4", "M5", "M6"];
/// Indices of the CDR pair: strong M3 (DPO), weak M2 (its SFT reference), and M0 (early SFT).
pub const STRONG: usize = 3;
pub const WEAK: usize = 2;
pub const EARLY: usize = 0;
/// Per-prompt strength records (`zoo.per_prompt.csv`): oracle score and length of the answer.
pub const ZOO_METRICS: [&str; 2] = ["oracle", "length"];
/// Per-pair annotation records (`annotation.per_prompt.csv`): whether the oracle agrees with the
/// label (1 / 0), whether it ties the two answers, and their lengths.
pub const ANNOTATION_METRICS: [&str; 4] = ["agree", "tie", "len_chosen", "len_rejected"];

/// How each zoo model was made, for the tables.
pub fn recipe(i: usize, cfg: &MiniConfig) -> String {
    let f = cfg.zoo.sft_fractions;
    match i {
        0 => format!("SFT base recipe stopped at {:.0}% of its steps", 100.0 * f[0]),
        1 => format!("SFT base recipe stopped at {:.0}% of its steps", 100.0 * f[1]),
        2 => "the cached SFT base".into(),
        3 => format!("DPO (β {}) from M2 on oracle pairs of the zoo split", cfg.zoo.dpo.beta),
        4 => format!("SimPO (β {}, γ/β {}) from M2 on the same pairs", cfg.zoo.simpo.beta, cfg.zoo.simpo.gamma_beta_ratio),
        5 => format!("M2 + {} SFT steps on a wrong-heavy mix", cfg.zoo.wrong_heavy.train.steps.unwrap_or(0)),
        _ => "DPO from M2 on the same pairs, every label flipped".into(),
    }
}

/// What one seed produced.
pub struct Outcome {
    pub seed: u64,
    pub base_trained: bool,
    pub seconds: f64,
    /// Wall-clock seconds of each phase: zoo, strength, bench, annotation, downstream.
    pub phases: Vec<(String, f64)>,
    /// Mean oracle score of each zoo model's T = 1 answers (its strength).
    pub strength: Vec<f64>,
    /// Oracle pairs the zoo's preference models trained on.
    pub zoo_pairs: usize,
    pub zoo: Records,
    /// One record per mini RewardBench item (method "zoo"): section, lengths, every model's
    /// summed log-probs of chosen and rejected ([`bench_metrics`]).
    pub bench: Records,
    /// Share of the Reasoning items whose exemplar block, query and answers fit the context
    /// (the others are scored without exemplars).
    pub exemplar_fit: f64,
    pub context: usize,
    /// Pairs built by each label source.
    pub pairs: Vec<(LabelSource, usize)>,
    pub annotation: Records,
    /// Mini AlpacaEval rows: "SFT (M2)" then one per label source.
    pub rows: Vec<EvalRow>,
    pub eval: Records,
}

/// The metric columns of the bench records.
pub fn bench_metrics() -> Vec<String> {
    let mut m = vec!["section".to_string(), "len_chosen".into(), "len_rejected".into()];
    for z in ZOO {
        m.push(format!("{z} chosen"));
        m.push(format!("{z} rejected"));
    }
    for z in [ZOO[STRONG], ZOO[WEAK]] {
        m.push(format!("{z} chosen routed"));
        m.push(format!("{z} rejected routed"));
    }
    m
}

/// `r_DR` of response j (0 chosen, 1 rejected) of a bench record under strong s over weak w.
pub fn bench_reward(v: &[f64], s: usize, w: usize, j: usize, n: Normalise) -> f64 {
    reward(v[3 + 2 * s + j], v[3 + 2 * w + j], v[1 + j] as usize, n)
}

/// `r_DR(M3 over M2)` of response j with the routed customisation's prompts.
pub fn bench_reward_routed(v: &[f64], j: usize, n: Normalise) -> f64 {
    let base = 3 + 2 * ZOO.len();
    reward(v[base + j], v[base + 2 + j], v[1 + j] as usize, n)
}

struct Ctx<'a> {
    cfg: &'a MiniConfig,
    world: World,
    base: Base,
    seed: u64,
    scale: shared::cli::Scale,
    device: tch::Device,
    dir: PathBuf,
}

/// Run the whole miniature for one seed.
pub fn run(cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64, device: tch::Device, run_root: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let mut phases = vec![];
    let mut clock = Instant::now();
    let mut lap = |name: &str, phases: &mut Vec<(String, f64)>| {
        phases.push((name.to_string(), clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };
    let (world, base) = base::world_and_base(scale, seed, device)?;
    let base_trained = base.trained;
    let ctx = Ctx { cfg, world, base, seed, scale, device, dir: run_root.join(format!("seed{seed}")) };
    let mut prompts = ctx.world.train_prompts(cfg.zoo.pair_prompts + cfg.annotate.prompts, &mut rng(seed, "cdr-prompts"));
    let annotate_prompts = prompts.split_off(cfg.zoo.pair_prompts);

    // 1. The zoo.
    let (zoo, zoo_pairs) = build_zoo(&ctx, &prompts)?;
    lap("zoo", &mut phases);
    let mut bench_eval = MiniAlpacaEval::new(&ctx.world);
    if let Some(n) = cfg.eval_prompts {
        bench_eval.prompts.truncate(n);
        bench_eval.baseline.truncate(n);
    }
    let mut zoo_records = Records::new(&ZOO_METRICS);
    let mut strength = vec![];
    for (i, (_, m)) in zoo.iter().enumerate() {
        let gen = decoding(cfg.zoo.strength_temperature, seed ^ 0x57e1, &ctx.base.tok);
        let ys = sample_texts(m, &ctx.base.tok, &bench_eval.prompts, &gen, cfg.decode.batch)?;
        let mut total = 0.0;
        for (k, (x, y)) in bench_eval.prompts.iter().zip(&ys).enumerate() {
            let s = ctx.world.oracle.score(x, y);
            total += s;
            zoo_records.push(seed, ZOO[i], k.to_string(), 0, &[s, y.chars().count() as f64])?;
        }
        strength.push(total / ys.len().max(1) as f64);
    }
    eprintln!("==> zoo strengths (mean oracle score, T = {}): {}", cfg.zoo.strength_temperature, ZOO.iter().zip(&strength).map(|(n, s)| format!("{n} {s:.3}")).collect::<Vec<_>>().join(", "));
    lap("strength", &mut phases);

    // 2. The mini RewardBench, scored by every model.
    let items = bench::items(&ctx.world, &cfg.bench);
    let tok = &ctx.base.tok;
    let data = bench::examples(&items, tok)?;
    let micro = cfg.annotate.train.micro_batch;
    let lps: Vec<Vec<Vec<f64>>> = zoo.iter().map(|(_, m)| bench::logps(m, &data, 2, micro, tok.pad)).collect::<Result<_>>()?;
    // The routed customisation: exemplar blocks on Reasoning prompts, where they fit the context.
    let context = ctx.base.model.config().max_position_embeddings;
    let routed = bench::routed_prompts(&ctx.world, &items);
    let mut custom = data.clone();
    let mut customised = 0;
    for (e, text) in custom.iter_mut().zip(&routed) {
        if let Some(t) = text {
            let ids = tok.encode_prompt(t)?;
            if ids.len() + e.responses[0].len().max(e.responses[1].len()) <= context {
                e.prompt = ids;
                customised += 1;
            }
        }
    }
    let routed_lps = [bench::logps(&zoo[STRONG].1, &custom, 2, micro, tok.pad)?, bench::logps(&zoo[WEAK].1, &custom, 2, micro, tok.pad)?];
    let reasoning = items.iter().filter(|i| bench::route(i.prompt.family) == bench::Domain::Reasoning).count();
    let exemplar_fit = customised as f64 / reasoning.max(1) as f64;
    let names = bench_metrics();
    let mut bench_records = Records::new(&names.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, (it, e)) in items.iter().zip(&data).enumerate() {
        let mut v = vec![it.section as f64, e.responses[0].len() as f64, e.responses[1].len() as f64];
        for lp in lps.iter().chain(&routed_lps) {
            v.extend_from_slice(&lp[i]);
        }
        bench_records.push(seed, "zoo", format!("item{i}"), 0, &v)?;
    }
    let acc = bench::section_accuracy(items.iter().enumerate().map(|(i, it)| (it.section, i)), |i, j| lps[STRONG][i][j] - lps[WEAK][i][j]);
    eprintln!("==> mini RewardBench, r_DR(M3 over M2): {:?} (overall {:.3})", acc, bench::overall(&acc));
    lap("bench", &mut phases);

    // 3. Annotation of M2's samples by every label source.
    let (sets, annotation) = annotate(&ctx, &zoo, &annotate_prompts)?;
    lap("annotation", &mut phases);

    // 4. SimPO on each source's pairs; M2 itself is the SFT row.
    let mut rows = vec![];
    let mut eval = Records::new(&PER_PROMPT_METRICS);
    let sft_ys = answers(&ctx, &zoo[WEAK].1, &bench_eval.prompts)?;
    let row = bench_eval.evaluate(&ctx.world, "SFT (M2)", &sft_ys, &mut rng(seed, "cdr-judge-order"))?;
    row.push_records(&mut eval, seed, &row.model)?;
    rows.push(row);
    let mut pairs = vec![];
    for (src, ex) in &sets {
        pairs.push((*src, ex.len()));
        anyhow::ensure!(ex.len() >= 2, "{}: only {} pairs; raise annotate.prompts or annotate.sampling.samples", src.method(), ex.len());
        let obj = Simpo(cfg.annotate.simpo.clone());
        let (vs, m) = train_pref(&ctx, &ctx.base.vs, &ctx.base.model, &obj, ex, &cfg.annotate.train, &format!("simpo-{}", shared::driver::slug(src.method())))?;
        drop(vs);
        let ys = answers(&ctx, &m, &bench_eval.prompts)?;
        let row = bench_eval.evaluate(&ctx.world, src.method(), &ys, &mut rng(seed, "cdr-judge-order"))?;
        eprintln!("    {:<38} {} pairs: oracle {:.3}, judge WR {:.1}, LC {:?}", src.method(), ex.len(), row.oracle, row.win_rate, row.lc_win_rate.map(|x| (x * 10.0).round() / 10.0));
        row.push_records(&mut eval, seed, &row.model)?;
        rows.push(row);
    }
    lap("downstream", &mut phases);
    Ok(Outcome { seed, base_trained, seconds: started.elapsed().as_secs_f64(), phases, strength, zoo_pairs, zoo: zoo_records, bench: bench_records, exemplar_fit, context, pairs, annotation, rows, eval })
}

/// Answers of `model` to the evaluation prompts with the downstream decoding (one seed for all).
fn answers(ctx: &Ctx, model: &Llama, prompts: &[Prompt]) -> Result<Vec<String>> {
    let gen = decoding(ctx.cfg.decode.temperature, ctx.seed ^ 0xe7a1, &ctx.base.tok);
    Ok(sample_texts(model, &ctx.base.tok, prompts, &gen, ctx.cfg.decode.batch)?)
}

/// A hash of what a cached model depends on.
fn key(parts: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:.12}", format!("{:x}", Sha256::digest(parts.as_bytes())))
}

/// Train a copy of (`vs`, `model`) with a preference objective through the shared engine, in a
/// run folder keyed by the objective, the config and the data (an interrupted run resumes).
#[allow(clippy::too_many_arguments)]
fn train_pref(ctx: &Ctx, vs: &VarStore, model: &Llama, obj: &dyn Objective, data: &[Example], cfg: &TrainConfig, name: &str) -> Result<(VarStore, Llama)> {
    let (mut new_vs, new_model) = model.copy_with(vs).context("copying a model")?;
    let cfg = TrainConfig { seed: ctx.seed, ..cfg.clone() };
    let dir = ctx.dir.join(format!("{name}-{}", key(&format!("{}{cfg:?}{}", obj.label(), shared::train::example::examples_key(data)))));
    let refs_dir = ctx.dir.join("reference");
    let refs = Refs::single(&ctx.base.model, &ctx.base.vs, TOKENIZER_ID, &refs_dir);
    policy::train(&new_model, &mut new_vs, obj, data, &refs, &cfg, ctx.base.tok.pad, &dir)?;
    Ok((new_vs, new_model))
}

/// The seven models, cached as `zoo-<key>/M<i>.safetensors` beside the runs (the key hashes the
/// zoo config, the scale, the base and the seed), and the number of oracle pairs M3/M4/M6 saw.
fn build_zoo(ctx: &Ctx, prompts: &[Prompt]) -> Result<(Vec<(VarStore, Llama)>, usize)> {
    let z = &ctx.cfg.zoo;
    let bcfg = BaseConfig::for_scale(ctx.scale);
    let dir = ctx.dir.join(format!("zoo-{}", key(&format!("{}|{}|{}|{}", serde_json::to_string(z)?, ctx.scale.name(), ctx.base.dir.display(), ctx.seed))));
    let fresh = || -> Result<(VarStore, Llama)> {
        let vs = VarStore::new(ctx.device);
        let m = Llama::new(&vs.root(), &bcfg.llama_config(ctx.base.tok.vocab_size()))?;
        Ok((vs, m))
    };
    let done = dir.join("done.json");
    if done.is_file() {
        let n: usize = shared::io::read_json(&done)?;
        let mut out = vec![];
        for name in ZOO {
            let (mut vs, m) = fresh()?;
            let p = dir.join(format!("{name}.safetensors"));
            vs.load(&p).with_context(|| format!("cached zoo model {} unreadable: delete {} to rebuild", p.display(), dir.display()))?;
            out.push((vs, m));
        }
        eprintln!("==> zoo loaded from {}", dir.display());
        return Ok((out, n));
    }
    std::fs::create_dir_all(&dir)?;
    let tok = &ctx.base.tok;
    // M0, M1: the base's own recipe (seed, initialisation, data, schedule), stopped early.
    eprintln!("==> zoo: M0 and M1 (the SFT recipe stopped at {:?} of its steps)", z.sft_fractions);
    let total = bcfg.sft.train.steps.context("the base's SFT config has no step count")?;
    let demos = base::sft_data(&ctx.world, tok, bcfg.demos, ctx.seed)?;
    shared::device::seed_torch(ctx.seed);
    let (mut vs01, m01) = fresh()?;
    let mut sft_cfg = bcfg.sft.clone();
    sft_cfg.train.seed = ctx.seed;
    let mut early = vec![];
    for f in z.sft_fractions {
        sft_cfg.train.max_steps = Some(((f * total as f64).round() as u64).max(1));
        sft::train(&m01, &mut vs01, &demos, tok.pad, &sft_cfg, &dir.join("sft-early"))?;
        early.push(m01.copy_with(&vs01)?);
    }
    let copy_base = || ctx.base.model.copy_with(&ctx.base.vs).context("copying the SFT base");
    // M3, M4, M6: preference training from the base on oracle pairs of its own samples.
    let p = oracle_pairs(&ctx.world, &ctx.base.model, tok, prompts, &z.sampling, ctx.seed, "cdr-zoo-pairs")?;
    anyhow::ensure!(p.examples.len() >= 2, "zoo: only {} oracle pairs; raise zoo.pair_prompts or zoo.sampling.samples", p.examples.len());
    eprintln!("==> zoo: {} oracle pairs for M3, M4, M6", p.examples.len());
    let m3 = train_pref(ctx, &ctx.base.vs, &ctx.base.model, &z.dpo, &p.examples, &z.train, "zoo-m3-dpo")?;
    let mut simpo_train = z.train.clone();
    simpo_train.schedule.lr = z.simpo_lr;
    let m4 = train_pref(ctx, &ctx.base.vs, &ctx.base.model, &Simpo(z.simpo.clone()), &p.examples, &simpo_train, "zoo-m4-simpo")?;
    let flipped: Vec<Example> = p.examples.iter().map(|e| Example::pair(e.prompt.clone(), e.responses[1].clone(), e.responses[0].clone())).collect();
    let m6 = train_pref(ctx, &ctx.base.vs, &ctx.base.model, &z.dpo, &flipped, &z.train, "zoo-m6-dpo-flipped")?;
    // M5: the base fine-tuned on a wrong-heavy demonstration mix.
    let wh = &z.wrong_heavy;
    let wrong_world = World::new(WorldConfig { demos: wh.mix.clone(), ..ctx.world.cfg.clone() })?;
    let wrong: Vec<SftExample> = wrong_world
        .demos(wh.demos, &mut rng(ctx.seed, "cdr-wrong-heavy"))
        .iter()
        .map(|d| Ok(SftExample { prompt: tok.encode_prompt(&d.prompt.text())?, response: tok.encode_response(&d.response)? }))
        .collect::<Result<_>>()?;
    let (mut vs5, m5) = copy_base()?;
    let c5 = SftConfig { train: TrainConfig { seed: ctx.seed, ..wh.train.clone() }, loss_norm: LossNorm::TokenMean };
    sft::train(&m5, &mut vs5, &wrong, tok.pad, &c5, &dir.join("m5-wrong-heavy"))?;
    let mut e = early.into_iter();
    let zoo = vec![e.next().context("M0")?, e.next().context("M1")?, copy_base()?, m3, m4, (vs5, m5), m6];
    for (name, (vs, _)) in ZOO.iter().zip(&zoo) {
        shared::model::weights::save(vs, &dir.join(format!("{name}.safetensors")))?;
    }
    shared::io::write_json(&done, &p.examples.len())?;
    Ok((zoo, p.examples.len()))
}

/// N samples of M2 per prompt, scored by every configured label source; each source's best vs
/// worst pairs (best vs a random other for `cdr-random-other`), and the oracle's verdict on each.
fn annotate(ctx: &Ctx, zoo: &[(VarStore, Llama)], prompts: &[Prompt]) -> Result<(Vec<(LabelSource, Vec<Example>)>, Records)> {
    let a = &ctx.cfg.annotate;
    let tok = &ctx.base.tok;
    let ids: Vec<Vec<i64>> = prompts.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<_>>()?;
    let gen = GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature: a.sampling.temperature, top_p: a.sampling.top_p, stop_tokens: vec![tok.eos], seed: ctx.seed ^ 0xa770 };
    let samples = sample_groups(&zoo[WEAK].1, &ids, tok.pad, a.sampling.samples, a.sampling.prompts_per_batch, &gen)?;
    let texts: Vec<Vec<String>> = samples.iter().map(|g| g.iter().map(|y| tok.decode_response(y)).collect()).collect();
    let groups: Vec<Example> = ids.iter().zip(&texts).map(|(p, ys)| Ok(Example::new(p.clone(), ys.iter().map(|y| tok.encode_response(y)).collect::<shared::Result<_>>()?))).collect::<Result<_>>()?;
    let k = a.sampling.samples;
    let micro = (a.train.micro_batch / k).max(1);
    let need = |i: usize| a.labels.iter().any(|l| matches!((l, i), (LabelSource::Cdr | LabelSource::CdrRandomOther, STRONG) | (LabelSource::Cdr | LabelSource::CdrRandomOther | LabelSource::CdrSftOverBase, WEAK) | (LabelSource::CdrSftOverBase, EARLY)));
    let mut lp: Vec<Option<Vec<Vec<f64>>>> = vec![None; ZOO.len()];
    for (i, slot) in lp.iter_mut().enumerate() {
        if need(i) {
            *slot = Some(bench::logps(&zoo[i].1, &groups, k, micro, tok.pad)?);
        }
    }
    let oracle: Vec<Vec<f64>> = prompts.iter().zip(&texts).map(|(x, ys)| ys.iter().map(|y| ctx.world.oracle.score(x, y)).collect()).collect();
    let mut out = vec![];
    let mut records = Records::new(&ANNOTATION_METRICS);
    for &src in &a.labels {
        let mut r = rng(ctx.seed, &format!("cdr-labels-{src:?}"));
        let ratio = |s: usize, w: usize, g: usize| -> Vec<f64> {
            let (ls, lw) = (lp[s].as_ref().expect("scored above"), lp[w].as_ref().expect("scored above"));
            (0..k).map(|j| ls[g][j] - lw[g][j]).collect()
        };
        let mut ex = vec![];
        for (g, x) in prompts.iter().enumerate() {
            let scores: Vec<f64> = match src {
                LabelSource::Cdr | LabelSource::CdrRandomOther => ratio(STRONG, WEAK, g),
                LabelSource::CdrSftOverBase => ratio(WEAK, EARLY, g),
                LabelSource::Oracle => oracle[g].clone(),
                // Borda score under the length-biased judge: mean P(y_i ≻ y_j) over the others,
                // both presentation orders averaged.
                LabelSource::Judge => (0..k).map(|i| (0..k).filter(|&j| j != i).map(|j| ctx.world.judge.prob_both_orders(x, &texts[g][i], &texts[g][j])).sum::<f64>() / (k - 1) as f64).collect(),
                LabelSource::Random => (0..k).map(|_| r.gen::<f64>()).collect(),
            };
            let rule = if src == LabelSource::CdrRandomOther { PairRule::BestVsRandom } else { PairRule::BestVsWorst };
            for p in pairs_for_group(&texts[g], &scores, &rule, &mut r) {
                let (oc, or) = (oracle[g][p.chosen], oracle[g][p.rejected]);
                let v = [f64::from(u8::from(oc > or)), f64::from(u8::from(oc == or)), groups[g].responses[p.chosen].len() as f64, groups[g].responses[p.rejected].len() as f64];
                records.push(ctx.seed, src.id(), format!("a{g}"), 0, &v)?;
                ex.push(Example::pair(groups[g].prompt.clone(), groups[g].responses[p.chosen].clone(), groups[g].responses[p.rejected].clone()));
            }
        }
        out.push((src, ex));
    }
    Ok((out, records))
}
