//! The miniature, one seed, top to bottom (spec "Miniature reproduction (proposal)"):
//!
//! 1. the world's cached SFT base π (the policy and, after training, its own self-evaluator);
//! 2. **self-eval data**: `data.prompts` fresh training prompts, `data.samples` samples each from the
//!    frozen base at T = 1, oracle scores, leave-one-out targets ([`crate::targets`]), one example
//!    per full response and per prefix (t ∈ `data.prefixes`, when `|y| > t`);
//! 3. **training** of a copy of the base with [`crate::selfeval::SelfEval`] (`L_eval + λ L_keep`)
//!    through the shared engine (`shared::train::policy::train`; no loop here);
//! 4. **pools** on the fixed mini AlpacaEval prompts: N_max samples at T_max (pool A), N_max
//!    samples in the adaptive batches at annealed temperatures (pool B, batch 0 greedy), and one
//!    T_max sample of the base before training; every sample gets its oracle score, its judge
//!    preference over the fixed baseline, its length and `p̂` (full, and at each pruning prefix);
//! 5. **replay**: every method (single sample, oracle and self-evaluated best-of-N, adaptive
//!    sampling over τ with and without annealing, pruning) picks one sample per prompt from the
//!    pools ([`crate::select`]); per-prompt records keep what it returned and what it spent.
//!
//! A seed's run folder (`<runs>/<scale>-<hash of config and seed>/`) keeps the trained weights and
//! the per-prompt records; a rerun reuses them, an interrupted training resumes from the engine's
//! checkpoint.

use crate::config::MiniConfig;
use crate::select::{adaptive, anneal, best_of_n, prune, pruned_tokens};
use crate::selfeval::{estimate, Estimate, SelfEval, KEEP, TARGET};
use crate::targets::leave_one_out;
use anyhow::{Context, Result};
use shared::model::generate::GenerateConfig;
use shared::model::Llama;
use shared::stats::Records;
use shared::train::onpolicy::{sample_groups, with_stop};
use shared::train::policy::{self, Refs};
use shared::train::Example;
use shared::world::alpaca::MiniAlpacaEval;
use shared::world::base::{self, Base};
use shared::world::policy::MAX_RESPONSE_TOKENS;
use shared::world::tokenizer::WorldTokenizer;
use shared::world::{rng, Prompt, World};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Metrics of the per-prompt records of the methods: judge preference over the fixed baseline in
/// [0, 1] (order-averaged), oracle score, samples drawn, tokens generated.
pub const METHOD_METRICS: [&str; 4] = ["preference", "oracle", "samples", "tokens"];

/// The reserved tokens of the miniature's self-evaluation.
pub const QUESTION: &str = "<se_q>";
pub const YES: &str = "<yes>";
pub const NO: &str = "<no>";

/// What training did (stored with the seed's records).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainInfo {
    pub examples: usize,
    pub full_examples: usize,
    pub mean_target: f64,
    pub steps: u64,
    pub mean_loss: f64,
    pub final_metrics: Vec<(String, f64)>,
    pub seconds: f64,
}

/// One seed's results.
pub struct SeedRun {
    pub seed: u64,
    /// Per (method, prompt): [`METHOD_METRICS`].
    pub methods: Records,
    /// Per (prompt, pool-A sample): `p̂` full and at each prefix, whether another sample is strictly
    /// better (oracle), the answer tokens' probability mass.
    pub selfeval: Records,
    pub train: TrainInfo,
    pub base_trained: bool,
    pub seconds: f64,
}

/// The metric names of the self-evaluation records for `prefixes`.
pub fn selfeval_metrics(prefixes: &[usize]) -> Vec<String> {
    let mut m = vec!["phat".to_string()];
    m.extend(prefixes.iter().map(|t| format!("phat_prefix{t}")));
    m.extend(["better_exists".to_string(), "answer_mass".to_string()]);
    m
}

/// Where a seed's run lives ([`shared::driver::run_dir`]: a hash of the config and the seed).
pub fn run_dir(runs_root: &Path, cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64) -> PathBuf {
    shared::driver::run_dir(runs_root, &toml::to_string(cfg).unwrap_or_default(), scale, seed)
}

/// The ids of the three reserved tokens.
pub struct Reserved {
    pub question: i64,
    pub yes: i64,
    pub no: i64,
}

impl Reserved {
    pub fn of(tok: &WorldTokenizer) -> Result<Self> {
        let id = |s: &str| tok.id(s).with_context(|| format!("the world tokenizer lacks the reserved token {s}"));
        Ok(Reserved { question: id(QUESTION)?, yes: id(YES)?, no: id(NO)? })
    }
    /// `prompt ‖ ctx ‖ <se_q>`: the self-evaluation context.
    pub fn context(&self, prompt: &[i64], ctx: &[i64]) -> Vec<i64> {
        let mut v = Vec::with_capacity(prompt.len() + ctx.len() + 1);
        v.extend_from_slice(prompt);
        v.extend_from_slice(ctx);
        v.push(self.question);
        v
    }
}

fn gen(tok: &WorldTokenizer, temperature: f64, seed: u64) -> GenerateConfig {
    GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature, top_p: 1.0, stop_tokens: vec![tok.eos], seed }
}

/// Step 2: the self-evaluation examples from the base's own samples.
pub fn training_examples(cfg: &MiniConfig, world: &World, base: &Base, r: &Reserved, seed: u64) -> Result<Vec<Example>> {
    let tok = &base.tok;
    let prompts = world.train_prompts(cfg.data.prompts, &mut rng(seed, "adaptive-compute-train"));
    let ids = prompts.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<Vec<_>>>()?;
    let g = gen(tok, cfg.data.temperature, seed ^ 0xac_da7a);
    let groups = sample_groups(&base.model, &ids, tok.pad, cfg.data.samples, cfg.prompts_per_batch, &g)?;
    let mut out = vec![];
    for ((x, p), group) in prompts.iter().zip(&ids).zip(&groups) {
        let rewards: Vec<f64> = group.iter().map(|y| world.oracle.score(x, &tok.decode_response(y))).collect();
        let targets = leave_one_out(&rewards, cfg.data.eps);
        for (y, (t, _tie)) in group.iter().zip(targets) {
            let mut push = |ctx: &[i64], keep: f64| {
                let mut yes = ctx.to_vec();
                yes.extend([r.question, r.yes]);
                let mut no = ctx.to_vec();
                no.extend([r.question, r.no]);
                out.push(Example::new(p.clone(), vec![yes, no]).with(TARGET, t).with(KEEP, keep));
            };
            push(&with_stop(y, &g), 1.0);
            for &tp in &cfg.data.prefixes {
                if y.len() > tp {
                    push(&y[..tp], 0.0); // a prefix: no EOS before the question
                }
            }
        }
    }
    Ok(out)
}

/// Step 3: train a copy of the base (or load the weights a finished run saved).
fn trained_policy(cfg: &MiniConfig, base: &Base, examples: &[Example], dir: &Path, seed: u64) -> Result<(tch::nn::VarStore, Llama, TrainInfo)> {
    let (mut vs, model) = base.model.copy_with(&base.vs).context("copying the SFT base")?;
    let weights = dir.join("self-eval.safetensors");
    let info_path = dir.join("train.json");
    if weights.exists() && info_path.exists() {
        shared::model::weights::load_into(&vs, &[weights.clone()], &[])?;
        let info: TrainInfo = shared::io::read_json(&info_path)?;
        eprintln!("==> self-evaluation policy loaded from {}", weights.display());
        return Ok((vs, model, info));
    }
    let started = Instant::now();
    let mut train = cfg.train.clone();
    train.seed = seed;
    let objective: &SelfEval = &cfg.objective;
    let summary = policy::train(&model, &mut vs, objective, examples, &Refs::none(&dir.join("refs")), &train, base.tok.pad, &dir.join("train"))?;
    let full: Vec<&Example> = examples.iter().filter(|e| e.side[KEEP] > 0.5).collect();
    let info = TrainInfo {
        examples: examples.len(),
        full_examples: full.len(),
        mean_target: full.iter().map(|e| e.side[TARGET]).sum::<f64>() / full.len().max(1) as f64,
        steps: summary.steps,
        mean_loss: summary.mean_loss,
        final_metrics: summary.final_metrics.clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    shared::model::weights::save(&vs, &weights)?;
    shared::io::write_json(&info_path, &info)?;
    Ok((vs, model, info))
}

/// One sample of a pool, measured.
#[derive(Clone, Debug)]
struct Sample {
    oracle: f64,
    preference: f64,
    tokens: usize,
    full: Estimate,
    /// `p̂` at each pruning prefix (the full estimate when the sample ended before it).
    prefix: Vec<f64>,
}

struct Pools {
    a: Vec<Vec<Sample>>,
    b: Vec<Vec<Sample>>,
    before: Vec<Sample>,
}

/// Judge preference of `y` over the baseline `b`, averaged over both presentation orders.
fn preference(world: &World, x: &Prompt, y: &str, b: &str) -> f64 {
    0.5 * (world.judge.prob(x, y, b) + 1.0 - world.judge.prob(x, b, y))
}

#[allow(clippy::too_many_arguments)]
fn measure(cfg: &MiniConfig, world: &World, tok: &WorldTokenizer, r: &Reserved, model: &Llama, bench: &MiniAlpacaEval, ids: &[Vec<i64>], groups: &[Vec<Vec<i64>>], g: &GenerateConfig, prefixes: &[usize]) -> Result<Vec<Vec<Sample>>> {
    let mut contexts = vec![];
    for (p, group) in ids.iter().zip(groups) {
        for y in group {
            let full = with_stop(y, g);
            contexts.push(r.context(p, &full));
            for &t in prefixes {
                contexts.push(if y.len() > t { r.context(p, &y[..t]) } else { r.context(p, &full) });
            }
        }
    }
    let est = estimate(model, &contexts, r.yes, r.no, tok.pad, cfg.estimate_batch)?;
    let per = 1 + prefixes.len();
    let mut it = est.chunks(per);
    let mut out = vec![];
    for (i, group) in groups.iter().enumerate() {
        let (x, b) = (&bench.prompts[i], &bench.baseline[i]);
        let mut row = vec![];
        for y in group {
            let e = it.next().context("one estimate per context")?;
            let text = tok.decode_response(y);
            row.push(Sample {
                oracle: world.oracle.score(x, &text),
                preference: preference(world, x, &text, b),
                tokens: with_stop(y, g).len(),
                full: e[0],
                prefix: e[1..].iter().map(|e| e.phat).collect(),
            });
        }
        out.push(row);
    }
    Ok(out)
}

/// Step 4: the pools of samples on the evaluation prompts.
fn pools(cfg: &MiniConfig, world: &World, base: &Base, r: &Reserved, model: &Llama, bench: &MiniAlpacaEval, seed: u64) -> Result<Pools> {
    let tok = &base.tok;
    let e = &cfg.eval;
    let ids = bench.prompts.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<Vec<_>>>()?;
    let ga = gen(tok, e.t_max, seed ^ 0xa_9001);
    eprintln!("==> pool A: {} samples per prompt at T = {}", e.n_max(), e.t_max);
    let raw_a = sample_groups(model, &ids, tok.pad, e.n_max(), cfg.prompts_per_batch, &ga)?;
    let a = measure(cfg, world, tok, r, model, bench, &ids, &raw_a, &ga, &e.prune_at)?;
    eprintln!("==> pool B: batches {:?} at annealed temperatures", e.batches);
    let mut b: Vec<Vec<Sample>> = vec![vec![]; ids.len()];
    for (k, &n) in e.batches.iter().enumerate() {
        let gk = gen(tok, anneal(k, e.t_max), seed ^ 0xb_9001 ^ ((k as u64) << 20));
        let raw = sample_groups(model, &ids, tok.pad, n, cfg.prompts_per_batch, &gk)?;
        for (i, s) in measure(cfg, world, tok, r, model, bench, &ids, &raw, &gk, &[])?.into_iter().enumerate() {
            b[i].extend(s);
        }
    }
    // The policy before self-evaluation training, one sample at T_max (assertion 5), scored by the
    // trained self-evaluator only so that the record has the same shape.
    let raw_before = sample_groups(&base.model, &ids, tok.pad, 1, cfg.prompts_per_batch, &ga)?;
    let before = measure(cfg, world, tok, r, model, bench, &ids, &raw_before, &ga, &[])?.into_iter().map(|mut v| v.remove(0)).collect();
    Ok(Pools { a, b, before })
}

/// Method names, shared with the tables.
pub mod names {
    pub const BEFORE: &str = "T=1 x1, before self-eval training";
    pub const SINGLE: &str = "T=1 x1";
    pub const GREEDY: &str = "greedy x1";
    pub fn oracle_bon(n: usize) -> String {
        format!("oracle-BoN@{n}")
    }
    pub fn self_bon(n: usize) -> String {
        format!("self-BoN@{n}")
    }
    pub fn self_bon_annealed(n: usize) -> String {
        format!("self-BoN@{n} annealed")
    }
    pub fn adaptive(tau: f64, anneal: bool) -> String {
        format!("adaptive tau={tau} {}", if anneal { "annealed" } else { "T=1" })
    }
    pub fn prune(t: usize, keep: usize) -> String {
        format!("prune t={t} keep {keep}")
    }
}

/// Step 5: every method's choice on every prompt.
fn replay(cfg: &MiniConfig, seed: u64, p: &Pools) -> Result<(Records, Records)> {
    let e = &cfg.eval;
    let mut m = Records::new(&METHOD_METRICS);
    let rec = |m: &mut Records, name: &str, i: usize, s: &Sample, samples: usize, tokens: usize| m.push(seed, name, i.to_string(), 0, &[s.preference, s.oracle, samples as f64, tokens as f64]);
    for (i, a) in p.a.iter().enumerate() {
        let b = &p.b[i];
        let before = &p.before[i];
        rec(&mut m, names::BEFORE, i, before, 1, before.tokens)?;
        rec(&mut m, names::SINGLE, i, &a[0], 1, a[0].tokens)?;
        rec(&mut m, names::GREEDY, i, &b[0], 1, b[0].tokens)?;
        let tokens = |pool: &[Sample], n: usize| pool[..n].iter().map(|s| s.tokens).sum::<usize>();
        for n in e.bon_sizes() {
            let oracle: Vec<f64> = a[..n].iter().map(|s| -s.oracle).collect(); // argmin of −r: the earliest best
            let o = best_of_n(&oracle).context("empty pool")?;
            rec(&mut m, &names::oracle_bon(n), i, &a[o], n, tokens(a, n))?;
            let phat: Vec<f64> = a[..n].iter().map(|s| s.full.phat).collect();
            let s = best_of_n(&phat).context("empty pool")?;
            rec(&mut m, &names::self_bon(n), i, &a[s], n, tokens(a, n))?;
        }
        let phat_a: Vec<f64> = a.iter().map(|s| s.full.phat).collect();
        let phat_b: Vec<f64> = b.iter().map(|s| s.full.phat).collect();
        let s = best_of_n(&phat_b).context("empty pool")?;
        rec(&mut m, &names::self_bon_annealed(e.n_max()), i, &b[s], e.n_max(), tokens(b, e.n_max()))?;
        for &tau in &e.taus {
            for (annealed, pool, ph) in [(true, b, &phat_b), (false, a, &phat_a)] {
                let r = adaptive(ph, &e.batches, tau);
                rec(&mut m, &names::adaptive(tau, annealed), i, &pool[r.chosen], r.samples, tokens(pool, r.samples))?;
            }
        }
        let lengths: Vec<usize> = a.iter().map(|s| s.tokens).collect();
        for (j, &t) in e.prune_at.iter().enumerate() {
            let prefix_phat: Vec<f64> = a.iter().map(|s| s.prefix[j]).collect();
            for &keep in &e.prune_keep {
                let kept = prune(&prefix_phat, keep);
                let c = kept[best_of_n(&kept.iter().map(|&k| phat_a[k]).collect::<Vec<_>>()).context("nothing kept")?];
                rec(&mut m, &names::prune(t, keep), i, &a[c], e.n_max(), pruned_tokens(&lengths, t, &kept).0)?;
            }
        }
    }
    let metrics = selfeval_metrics(&e.prune_at);
    let mut se = Records::new(&metrics.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, a) in p.a.iter().enumerate() {
        for (j, s) in a.iter().enumerate() {
            let better = a.iter().enumerate().any(|(k, o)| k != j && o.oracle > s.oracle + cfg.data.eps);
            let mut v = vec![s.full.phat];
            v.extend(&s.prefix);
            v.extend([better as u8 as f64, s.full.p_yes + s.full.p_no]);
            se.push(seed, "self-eval", i.to_string(), j as u32, &v)?;
        }
    }
    Ok((m, se))
}

/// Run (or load) one seed.
pub fn run_seed(cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<SeedRun> {
    let started = Instant::now();
    let dir = run_dir(runs_root, cfg, scale, seed);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let done = dir.join("done.json");
    if done.exists() {
        let train: TrainInfo = shared::io::read_json(&dir.join("train.json"))?;
        eprintln!("==> seed {seed}: records loaded from {}", dir.display());
        return Ok(SeedRun { seed, methods: Records::load(&dir, "methods")?, selfeval: Records::load(&dir, "selfeval")?, train, base_trained: false, seconds: 0.0 });
    }
    let (world, base) = base::world_and_base(scale, seed, device)?;
    let r = Reserved::of(&base.tok)?;
    let mut bench = MiniAlpacaEval::new(&world);
    bench.prompts.truncate(cfg.eval.prompts);
    bench.baseline.truncate(cfg.eval.prompts);
    eprintln!("==> seed {seed}: self-evaluation data from {} prompts x {} samples of the base", cfg.data.prompts, cfg.data.samples);
    let examples = training_examples(cfg, &world, &base, &r, seed)?;
    eprintln!("==> training the self-evaluation on {} examples", examples.len());
    let (_vs, model, train) = trained_policy(cfg, &base, &examples, &dir, seed)?;
    let p = pools(cfg, &world, &base, &r, &model, &bench, seed)?;
    let (methods, selfeval) = replay(cfg, seed, &p)?;
    methods.save(&dir, "methods")?;
    selfeval.save(&dir, "selfeval")?;
    shared::io::write_json(&done, &serde_json::json!({ "seed": seed }))?;
    // The tables are built from the records as saved (six significant digits), so a fresh run and
    // a rerun that loads them give identical tables.
    let (methods, selfeval) = (Records::load(&dir, "methods")?, Records::load(&dir, "selfeval")?);
    Ok(SeedRun { seed, methods, selfeval, train, base_trained: base.trained, seconds: started.elapsed().as_secs_f64() })
}
