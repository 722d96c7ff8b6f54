//! The miniature (spec "Miniature reproduction (proposal)"), top to bottom:
//!
//! 1. `SFT-direct`: the world's cached base (plain demonstrations only, never saw `<refine>`);
//!    `SFT-both`: that base fine-tuned with EVOLVE's `L_SFT` (Eq. 4) through the world form
//!    `refine` ([`shared::world::forms`]): each pair `(x, y_w = gold, y_l = a worse demonstration)`
//!    gives the direct target `x → y_w` and the refine target `x <prev> y_l <refine> → y_w`,
//!    replayed with as many plain demonstrations (cached under a key of the base and forms config);
//! 2. `iterations` disjoint chunks of `prompts_per_chunk` training prompts, chunk t for round t;
//! 3. every method from the same `SFT-both` on the shared on-policy loop
//!    ([`shared::train::iterate`]; [`EvolveAnnotator`] the data side, [`EvolveObjective`] the
//!    loss, the start-of-round model the reference, pitfall 3):
//!    - iterative DPO: K = N direct samples at (T, top-p), best vs worst by the RM, the direct term
//!      only (= sigmoid DPO);
//!    - EVOLVE: a chain `y_1 ~ π(·|x)`, `y_{k+1} ~ π(·|x, y_k, z)` of N answers (each step sees only
//!      the latest answer, pitfall 5), a pair by the RM or the rule ([`crate::chain::select`]), the
//!      direct and the refine example of `L_EVOLVE`;
//!    the RM is the oracle plus N(0, rm_noise²) noise (pitfall 7), drawn per response;
//! 4. after each round, and for both bases: greedy chains on the held-out prompts, oracle score of
//!    `y_1` (direct) and of `y_{1+k}` (refine@k), and the answers' lengths (pitfall 8).
//!
//! Everything is saved under a run folder keyed by the config and seed; a rerun resumes.

use crate::chain;
use crate::config::{Kind, Method, MiniConfig, RefineNegative, Selection};
use crate::loss::{EvolveObjective, REFINE};
use anyhow::{Context, Result};
use shared::world::judge::rand_distr_normal;
use serde::{Deserialize, Serialize};
use shared::cli::Scale;
use shared::model::generate::GenerateConfig;
use shared::model::Llama;
use shared::train::iterate::{self, Annotation, Annotator, IterateConfig, Reference, Trained};
use shared::train::onpolicy::{sample_groups, with_stop};
use shared::train::{Example, TrainConfig};
use shared::world::base::{self, checkpoints_root, BaseConfig};
use shared::world::forms;
use shared::world::policy::MAX_RESPONSE_TOKENS;
use shared::world::tokenizer::WorldTokenizer;
use shared::world::{rng, Prompt, World, WorldConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;

const TOKENIZER_ID: &str = "world-char-v1";

/// Greedy chains on the held-out prompts: `oracle[k][i]` is the score of `y_{1+k}` on prompt i
/// (k = 0: the direct answer), `length[k][i]` its length in characters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChainEval {
    pub oracle: Vec<Vec<f64>>,
    pub length: Vec<Vec<f64>>,
    /// Share of prompts whose refinement k is the previous answer unchanged (k ≥ 1).
    pub copies: Vec<f64>,
}

/// What a round's data looked like.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RoundData {
    pub prompts: usize,
    /// Pairs kept (each gives one or two examples).
    pub kept: usize,
    pub dropped: usize,
    pub examples: usize,
    /// Mean oracle score of the sampled answers per position in the chain (or sample index).
    pub oracle_by_position: Vec<f64>,
    /// Mean oracle gap `r*(y_w) − r*(y_l)` of the kept pairs, and the share with a positive gap.
    pub oracle_gap: f64,
    pub right_order: f64,
    /// How often the RM picked each position as `y_w` (EVOLVE: where in the chain the winner sits).
    pub winner_position: Vec<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IterRow {
    pub method: String,
    pub kind: Kind,
    /// 0-based round.
    pub iter: usize,
    pub data: RoundData,
    pub eval: ChainEval,
    pub steps: u64,
    pub seconds: f64,
}

pub struct Outcome {
    pub seed: u64,
    /// `("SFT-direct", …)`, `("SFT-both", …)`.
    pub bases: Vec<(String, ChainEval)>,
    pub rows: Vec<IterRow>,
    pub base_trained: bool,
    pub seconds: f64,
}

/// A method after iteration (round) k, 0-based, as named in the records.
pub use shared::train::iterate::at;

pub struct Ctx<'a> {
    pub cfg: &'a MiniConfig,
    pub world: World,
    pub tok: WorldTokenizer,
    pub seed: u64,
    pub chunks: Vec<Vec<Prompt>>,
    pub chunk_ids: Vec<Vec<Vec<i64>>>,
    pub eval_prompts: Vec<Prompt>,
    pub train: TrainConfig,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The refine prompt's ids for `x` and the previous answer's ids.
pub fn refine_ids(tok: &WorldTokenizer, x: &Prompt, prev: &[i64], max_prev_chars: usize) -> shared::Result<Vec<i64>> {
    tok.encode_prompt(&forms::refine_prompt(x, &tok.decode_response(prev), max_prev_chars))
}

/// Chains of `n` answers per prompt: `y_1` to the direct prompt, then each `y_{k+1}` to the refine
/// prompt of the latest answer (`refine(p, y_k)` gives its ids). `[prompt][position]` response
/// ids (stop token stripped).
pub fn chains(model: &Llama, pad: i64, ids: &[Vec<i64>], n: usize, gen: &GenerateConfig, ppb: usize, refine: &dyn Fn(usize, &[i64]) -> shared::Result<Vec<i64>>) -> shared::Result<Vec<Vec<Vec<i64>>>> {
    let first = sample_groups(model, ids, pad, 1, ppb, gen)?;
    let mut out: Vec<Vec<Vec<i64>>> = first.into_iter().map(|mut g| vec![g.remove(0)]).collect();
    for k in 1..n {
        let ctx = out.iter().enumerate().map(|(p, c)| refine(p, c.last().expect("≥ 1"))).collect::<shared::Result<Vec<_>>>()?;
        let g = GenerateConfig { seed: gen.seed.wrapping_add(7919 * k as u64), ..gen.clone() };
        let next = sample_groups(model, &ctx, pad, 1, ppb, &g)?;
        for (c, mut y) in out.iter_mut().zip(next) {
            c.push(y.remove(0));
        }
    }
    Ok(out)
}

/// What the annotator needs from a scale (the miniature's [`Ctx`], the paper's
/// [`crate::paper::PaperSetting`]); the chains, the selection and the examples are
/// [`EvolveAnnotator`]'s, the same at every scale.
pub trait Setting {
    /// Round t's direct prompt ids.
    fn prompt_ids(&self, t: usize) -> &[Vec<i64>];
    /// The refine prompt ids of prompt p of round t with the previous answer `prev`.
    fn refine_ids(&self, t: usize, p: usize, prev: &[i64]) -> shared::Result<Vec<i64>>;
    fn decode(&self, y: &[i64]) -> shared::Result<String>;
    fn pad(&self) -> i64;
    fn gen(&self, seed: u64) -> GenerateConfig;
    fn samples(&self) -> usize;
    fn prompts_per_batch(&self) -> usize;
    fn seed(&self) -> u64;
    /// Reward-model scores of a group of answers to prompt p of round t, and their oracle scores
    /// where the scale has an oracle (NaN otherwise); None: no reward model (rule selection only).
    fn score(&self, t: usize, p: usize, texts: &[String], rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Option<(Vec<f64>, Vec<f64>)>>;
    /// Held-out evaluation of an iterate, if the scale has one.
    fn evaluate(&self, policy: &Llama) -> shared::Result<Option<ChainEval>>;
}

impl Ctx<'_> {
    fn gen(&self, temperature: f64, top_p: f64, seed: u64) -> GenerateConfig {
        GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature, top_p, stop_tokens: vec![self.tok.eos], seed }
    }

    /// Greedy chains of 1 + refine_steps answers on the held-out prompts, scored by the oracle.
    pub fn evaluate(&self, model: &Llama) -> shared::Result<ChainEval> {
        let xs = &self.eval_prompts;
        let ids = xs.iter().map(|x| self.tok.encode_prompt(&x.text())).collect::<shared::Result<Vec<_>>>()?;
        let refine = |p: usize, prev: &[i64]| refine_ids(&self.tok, &xs[p], prev, self.cfg.forms.max_prev_chars);
        let c = chains(model, self.tok.pad, &ids, 1 + self.cfg.eval.refine_steps, &self.gen(0.0, 1.0, self.seed), self.cfg.prompts_per_batch, &refine)?;
        let mut out = ChainEval::default();
        for k in 0..=self.cfg.eval.refine_steps {
            let texts: Vec<String> = c.iter().map(|ch| self.tok.decode_response(&ch[k])).collect();
            out.oracle.push(xs.iter().zip(&texts).map(|(x, y)| self.world.oracle.score(x, y)).collect());
            out.length.push(texts.iter().map(|y| y.chars().count() as f64).collect());
            if k > 0 {
                out.copies.push(mean(&c.iter().map(|ch| f64::from(u8::from(chain::normalise(&self.tok.decode_response(&ch[k])) == chain::normalise(&self.tok.decode_response(&ch[k - 1]))))).collect::<Vec<_>>()));
            }
        }
        Ok(out)
    }
}

impl Setting for Ctx<'_> {
    fn prompt_ids(&self, t: usize) -> &[Vec<i64>] {
        &self.chunk_ids[t]
    }
    fn refine_ids(&self, t: usize, p: usize, prev: &[i64]) -> shared::Result<Vec<i64>> {
        refine_ids(&self.tok, &self.chunks[t][p], prev, self.cfg.forms.max_prev_chars)
    }
    fn decode(&self, y: &[i64]) -> shared::Result<String> {
        Ok(self.tok.decode_response(y))
    }
    fn pad(&self) -> i64 {
        self.tok.pad
    }
    fn gen(&self, seed: u64) -> GenerateConfig {
        Ctx::gen(self, self.cfg.temperature, self.cfg.top_p, seed)
    }
    fn samples(&self) -> usize {
        self.cfg.samples
    }
    fn prompts_per_batch(&self) -> usize {
        self.cfg.prompts_per_batch
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    /// The miniature RM: the oracle plus N(0, rm_noise²), drawn per answer (pitfall 7).
    fn score(&self, t: usize, p: usize, texts: &[String], rng: &mut rand_chacha::ChaCha8Rng) -> shared::Result<Option<(Vec<f64>, Vec<f64>)>> {
        let x = &self.chunks[t][p];
        let oracle: Vec<f64> = texts.iter().map(|y| self.world.oracle.score(x, y)).collect();
        let rm = oracle.iter().map(|o| o + self.cfg.rm_noise * rand_distr_normal(rng)).collect();
        Ok(Some((rm, oracle)))
    }
    fn evaluate(&self, policy: &Llama) -> shared::Result<Option<ChainEval>> {
        Ctx::evaluate(self, policy).map(Some)
    }
}

/// The data side of both methods on the shared on-policy loop, at every scale.
pub struct EvolveAnnotator<'a> {
    pub setting: &'a dyn Setting,
    pub method: Method,
}

impl Annotator for EvolveAnnotator<'_> {
    fn annotate(&mut self, t: usize, policy: &Llama) -> shared::Result<Annotation> {
        let st = self.setting;
        let ids = st.prompt_ids(t);
        // The same stream for every method in round t (they all start from the same base).
        let seed = st.seed() ^ (t as u64 + 1).wrapping_mul(1_000_003);
        let g = st.gen(seed);
        let n = st.samples();
        let groups = match self.method.kind {
            Kind::IterDpo => sample_groups(policy, ids, st.pad(), n, st.prompts_per_batch(), &g)?,
            Kind::Evolve => chains(policy, st.pad(), ids, n, &g, st.prompts_per_batch(), &|p, prev| st.refine_ids(t, p, prev))?,
        };
        let mut noise = rng(seed, "evolve-rm-noise");
        let mut data = RoundData { prompts: ids.len(), winner_position: vec![0; n], ..Default::default() };
        let mut by_pos = vec![vec![]; n];
        let (mut gaps, mut order) = (vec![], vec![]);
        let mut examples = vec![];
        for (p, group) in groups.iter().enumerate() {
            let texts: Vec<String> = group.iter().map(|y| st.decode(y)).collect::<shared::Result<_>>()?;
            let rule = if self.method.kind == Kind::IterDpo { Selection::Rm } else { self.method.selection };
            let (rm, oracle) = match st.score(t, p, &texts, &mut noise)? {
                Some(s) => s,
                None if rule == Selection::Rule => (vec![f64::NAN; texts.len()], vec![f64::NAN; texts.len()]),
                None => return Err(shared::Error::invalid(format!("method {}", self.method.name), "selection by a reward model needs a reward model; this scale has none (use selection = \"rule\")")),
            };
            for (k, o) in oracle.iter().enumerate() {
                by_pos[k].push(*o);
            }
            let Some((w, l)) = chain::select(rule, &rm, &texts) else {
                data.dropped += 1;
                continue;
            };
            data.kept += 1;
            data.winner_position[w] += 1;
            gaps.push(oracle[w] - oracle[l]);
            order.push(f64::from(u8::from(oracle[w] > oracle[l])));
            let (yw, yl) = (with_stop(&group[w], &g), with_stop(&group[l], &g));
            let evolve = self.method.kind == Kind::Evolve;
            if !evolve || self.method.direct_term {
                examples.push(Example::pair(ids[p].clone(), yw.clone(), yl.clone()).with(REFINE, 0.0));
            }
            if evolve && self.method.refine_negative == RefineNegative::SelfCopy {
                // The refine term: both completions under (x, y_l, z); the negative is y_l itself.
                examples.push(Example::pair(st.refine_ids(t, p, &group[l])?, yw, yl).with(REFINE, 1.0));
            }
        }
        data.examples = examples.len();
        data.oracle_by_position = by_pos.iter().map(|v| mean(v)).collect();
        data.oracle_gap = mean(&gaps);
        data.right_order = mean(&order);
        eprintln!(
            "    {:<12} round {t}: {} of {} prompts kept, {} examples, oracle by position {:?}, oracle gap {:+.3} (right order {:.2}), winner positions {:?}",
            self.method.name,
            data.kept,
            data.prompts,
            data.examples,
            data.oracle_by_position.iter().map(|v| (v * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            data.oracle_gap,
            data.right_order,
            data.winner_position
        );
        Ok(Annotation { examples, stats: serde_json::to_value(data).unwrap_or_default() })
    }

    fn evaluate(&mut self, _t: usize, policy: &Llama, _trained: &Trained) -> shared::Result<serde_json::Value> {
        match self.setting.evaluate(policy)? {
            Some(e) => {
                eprintln!("    {:<12} → {}", self.method.name, describe(&e));
                Ok(serde_json::to_value(e).unwrap_or_default())
            }
            None => Ok(serde_json::Value::Null),
        }
    }
}

/// `direct 0.512, refine@1 0.530, …`.
pub fn describe(e: &ChainEval) -> String {
    e.oracle.iter().enumerate().map(|(k, v)| if k == 0 { format!("direct {:.3}", mean(v)) } else { format!("refine@{k} {:.3}", mean(v)) }).collect::<Vec<_>>().join(", ")
}

/// Where a seed's run lives ([`shared::driver::run_dir`]: a hash of the config and the seed).
pub fn run_dir(runs_root: &Path, cfg: &MiniConfig, scale: shared::cli::Scale, seed: u64) -> PathBuf {
    shared::driver::run_dir(runs_root, &toml::to_string(cfg).unwrap_or_default(), scale, seed)
}

pub fn run(cfg: &MiniConfig, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<Outcome> {
    let started = Instant::now();
    let dir = run_dir(runs_root, cfg, scale, seed);
    let world = World::new(WorldConfig::default())?;
    let base_cfg = BaseConfig::for_scale(scale);
    eprintln!("==> SFT-direct: the world's base ({} scale; cached)", scale.name());
    let direct = base::ensure(&world, &base_cfg, seed, &checkpoints_root(), device)?;
    eprintln!("==> SFT-both: L_SFT on the refine form (cached after the first run)");
    let both = forms::ensure(&world, &base_cfg, &cfg.forms, seed, &checkpoints_root(), device)?;
    let base_trained = direct.trained || both.trained || both.report.is_some();
    let tok = both.tok.clone();
    let mut r = rng(seed, "evolve-prompts");
    let chunks: Vec<Vec<Prompt>> = (0..cfg.iterations).map(|_| world.train_prompts(cfg.prompts_per_chunk, &mut r)).collect();
    let chunk_ids = chunks.iter().map(|c| c.iter().map(|x| tok.encode_prompt(&x.text())).collect::<shared::Result<Vec<_>>>()).collect::<shared::Result<Vec<_>>>()?;
    let mut eval_prompts = world.eval_prompts();
    eval_prompts.truncate(cfg.eval.prompts);
    let mut train = cfg.train.clone();
    train.seed = seed;
    let ctx = Ctx { cfg, world, tok: tok.clone(), seed, chunks, chunk_ids, eval_prompts, train };
    let mut bases = vec![];
    for (name, b) in [("SFT-direct", &direct), ("SFT-both", &both)] {
        let e = ctx.evaluate(&b.model)?;
        eprintln!("    {name:<12} → {}", describe(&e));
        bases.push((name.to_string(), e));
    }
    drop(direct);
    let mut rows = vec![];
    for m in &cfg.methods {
        let (mut vs, model) = both.model.copy_with(&both.vs)?;
        let mdir = dir.join(shared::driver::slug(&m.name));
        let icfg = IterateConfig { iterations: cfg.iterations, reference: Reference::Previous, train: ctx.train.clone(), seed_per_iteration: true };
        eprintln!("==> {} ({} rounds)", m.name, cfg.iterations);
        let mut ann = EvolveAnnotator { setting: &ctx, method: m.clone() };
        let recs = iterate::run(&model, &mut vs, &mut ann, &cfg.objective as &EvolveObjective, &icfg, tok.pad, TOKENIZER_ID, &mdir)?;
        for r in &recs {
            rows.push(IterRow {
                method: m.name.clone(),
                kind: m.kind,
                iter: r.iteration - 1,
                data: serde_json::from_value(r.stats.clone()).context("round record: data")?,
                eval: serde_json::from_value(r.evaluation.clone()).context("round record: evaluation")?,
                steps: r.train.steps,
                seconds: r.seconds,
            });
        }
    }
    Ok(Outcome { seed, bases, rows, base_trained, seconds: started.elapsed().as_secs_f64() })
}
