//! `cargo xtask reproduce instruct-skillmix --scale paper [--dry-run] -- [options]`: the paper-scale
//! run through the same code as the tests ([`crate::paper::run`]): full SFT of a Hugging Face
//! checkpoint on the Instruct-SkillMix records, a checkpoint and held-out generations after every
//! epoch, each epoch judged by AlpacaEval's `weighted_alpaca_eval_gpt4_turbo` annotator
//! ([`HeldoutJudge`], through [`shared::api::Client`], any OpenAI-compatible endpoint), and the
//! first best epoch's weights kept.
//!
//! Everything a run needs is checked before the model is loaded (an 8B load takes minutes): the
//! recipe, the training and held-out records, a configured judge endpoint that answers
//! `GET /models`, and upstream's annotator config; each missing piece is an error naming it and
//! the flag or command that supplies it.
//!
//! Writes: `<run dir>/epoch-<e>/{model.safetensors, heldout_outputs.json, annotations.json}` and
//! the optimiser log `<run dir>/train/`; the summary `<out>/<recipe>.json` (`--out`, default
//! `results/instruct-skillmix/paper/`).

use crate::paper::{self, HeldoutJudge, PaperRun, Recipe};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use shared::api::alpaca_judge::{AlpacaJudge, AnnotatorConfig};
use shared::api::world_judge::alpaca_configs_dir;
use shared::api::{Client, ClientConfig};
use shared::cli::RunArgs;
use shared::eval::alpaca_eval::ANNOTATOR;
use shared::model::Pretrained;
use std::path::{Path, PathBuf};

/// The paper-scale options (after `--` on `cargo xtask reproduce`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PaperArgs {
    /// Paper scale: the recipe, a file stem in `configs/paper/` or a TOML path [default: llama-3-8b-sda-4k].
    #[arg(long)]
    pub recipe: Option<String>,
    /// Paper scale: the base model instead of the recipe's (a local folder or a hub id `owner/name[@revision]`).
    #[arg(long)]
    pub model: Option<String>,
    /// Paper scale: the training records (a JSON file, or `owner/name:file` of a Hugging Face dataset) instead of the recipe's.
    #[arg(long)]
    pub train_data: Option<String>,
    /// Paper scale: the held-out records that choose the epoch (a JSON file, or `owner/name:file`) instead of the recipe's.
    #[arg(long)]
    pub heldout_data: Option<String>,
    /// Paper scale: the judge's OpenAI-compatible API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`.
    #[arg(long)]
    pub judge_url: Option<String>,
    /// Paper scale: the judge's model name [default: the annotator config's, gpt-4-1106-preview].
    #[arg(long)]
    pub judge_model: Option<String>,
    /// Paper scale: the environment variable holding the judge's API key [default: OPENAI_API_KEY].
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Paper scale: a TOML client config (base_url, retries, timeouts, prices, cache_dir, ...); the flags above override it.
    #[arg(long)]
    pub client_config: Option<PathBuf>,
    /// Paper scale: judge calls in flight at once [default: 8].
    #[arg(long)]
    pub judge_concurrency: Option<usize>,
    /// Paper scale: the folder of upstream's `evaluators_configs` [default: <data>/alpaca_eval_annotator/alpaca_eval/evaluators_configs].
    #[arg(long)]
    pub annotator_configs: Option<PathBuf>,
    /// Paper scale: where checkpoints, generations and annotations go [default: $REPRO_RUNS or runs/, then instruct-skillmix/paper/<recipe>].
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
}

impl PaperArgs {
    /// Whether any paper-scale option was given (they mean nothing at smoke or mini scale).
    pub fn any_set(&self) -> bool {
        let PaperArgs { recipe, model, train_data, heldout_data, judge_url, judge_model, api_key_env, client_config, judge_concurrency, annotator_configs, run_dir } = self;
        recipe.is_some()
            || model.is_some()
            || train_data.is_some()
            || heldout_data.is_some()
            || judge_url.is_some()
            || judge_model.is_some()
            || api_key_env.is_some()
            || client_config.is_some()
            || judge_concurrency.is_some()
            || annotator_configs.is_some()
            || run_dir.is_some()
    }
}

/// What a paper-scale run wrote into `<out>/<recipe>.json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub recipe: String,
    pub model: String,
    pub train_data: String,
    pub heldout_data: String,
    pub train_records: usize,
    pub heldout_records: usize,
    pub judge_url: String,
    pub judge_model: String,
    pub annotator: String,
    pub run_dir: PathBuf,
    #[serde(flatten)]
    pub run: PaperRun,
    pub judge_calls: String,
    pub minutes: f64,
}

/// The recipe named by `--recipe` (a stem in `configs/paper/` or a file), with the overrides.
pub fn recipe(p: &PaperArgs) -> Result<(PathBuf, Recipe)> {
    let name = p.recipe.as_deref().unwrap_or("llama-3-8b-sda-4k");
    let path = if Path::new(name).is_file() { PathBuf::from(name) } else { crate::config::config_dir().join("paper").join(format!("{name}.toml")) };
    if !path.is_file() {
        let known = std::fs::read_dir(crate::config::config_dir().join("paper"))
            .map(|d| d.flatten().filter_map(|e| e.path().file_stem().filter(|_| e.path().extension().is_some_and(|x| x == "toml")).map(|s| s.to_string_lossy().into_owned())).collect::<Vec<_>>())
            .unwrap_or_default();
        bail!("--recipe {name:?} is neither a file nor one of {known:?} in configs/paper/");
    }
    let mut r = Recipe::load(&path)?;
    if let Some(m) = &p.model {
        r.model = m.clone();
    }
    if let Some(d) = &p.train_data {
        r.train_data = d.clone();
        r.train_source = format!("--train-data {d}");
    }
    if let Some(d) = &p.heldout_data {
        r.heldout_data = d.clone();
        r.heldout_source = format!("--heldout-data {d}");
    }
    Ok((path, r))
}

/// The judge's client settings: `--client-config`, then the flags. None when no endpoint is
/// configured (neither `--judge-url` nor a client config).
pub fn client_config(p: &PaperArgs, run_dir: &Path) -> Result<Option<ClientConfig>> {
    let mut cfg: ClientConfig = match &p.client_config {
        Some(path) => shared::io::read_toml(path).with_context(|| format!("--client-config {}", path.display()))?,
        None if p.judge_url.is_none() => return Ok(None),
        None => ClientConfig::default(),
    };
    if let Some(u) = &p.judge_url {
        cfg.base_url = u.clone();
    }
    if let Some(k) = &p.api_key_env {
        cfg.api_key_env = k.clone();
    }
    if let Some(c) = p.judge_concurrency {
        cfg.max_concurrency = c;
    }
    if cfg.cache_dir.is_none() {
        cfg.cache_dir = Some(run_dir.join("api-cache"));
    }
    cfg.validate().context("the judge's client config")?;
    Ok(Some(cfg))
}

const NO_JUDGE: &str = "a judge endpoint: the paper chooses the epoch with AlpacaEval's weighted_alpaca_eval_gpt4_turbo annotator, so --scale paper needs an OpenAI-compatible judge: pass --judge-url https://api.openai.com/v1 (the paper's gpt-4-1106-preview; the key in OPENAI_API_KEY or the variable named by --api-key-env), or a local endpoint (vLLM, SGLang, `cargo xtask serve`) with --judge-model NAME, or --client-config FILE";

/// Run the paper scale: print the plan; unless `--dry-run`, check every input, train, judge,
/// select, and write the summary.
pub fn main(a: &RunArgs, p: &PaperArgs) -> Result<()> {
    let (path, r) = recipe(p)?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "recipe".into());
    let root = shared::driver::repo_root();
    let run_dir = p.run_dir.clone().unwrap_or_else(|| std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| root.join("runs")).join("instruct-skillmix/paper").join(&stem));
    let data = a.data.clone().or_else(shared::io::data_root);
    let configs = p.annotator_configs.clone().or_else(|| data.as_deref().map(alpaca_configs_dir));
    let client_cfg = client_config(p, &run_dir)?;
    println!("== instruct-skillmix, paper scale; recipe {}\n{}", path.display(), r.plan());
    let judge_line = match &client_cfg {
        Some(c) => format!("{} at {} (key from ${})", p.judge_model.as_deref().unwrap_or("the annotator config's model"), c.base_url, c.api_key_env),
        None => "not configured (--judge-url URL)".into(),
    };
    println!("  judge: {ANNOTATOR}, {judge_line}; annotator config {}", configs.as_deref().map(|c| c.display().to_string()).unwrap_or_else(|| "not found".into()));
    println!("  run folder: {}", run_dir.display());
    if a.dry_run {
        return Ok(());
    }

    // Everything is checked before the model is loaded, and every missing piece is named at once.
    let mut missing = vec![];
    let train = paper::resolve_data(&r.train_data)
        .and_then(|f| Ok((paper::load_records(&f)?, f)))
        .map_err(|e| missing.push(format!("the training records {} ({}): {e:#}; download them and pass --train-data FILE", r.train_data, r.train_source)))
        .ok();
    let heldout = paper::resolve_data(&r.heldout_data)
        .and_then(|f| Ok((paper::load_records(&f)?, f)))
        .map_err(|e| missing.push(format!("the held-out records {} ({}): {e:#}; download them and pass --heldout-data FILE", r.heldout_data, r.heldout_source)))
        .ok();
    if client_cfg.is_none() {
        missing.push(NO_JUDGE.into());
    }
    let acfg = match &configs {
        None => {
            missing.push("upstream's AlpacaEval annotator config: there is no data folder (REPRO_DATA unset, no --data); run `cargo xtask fetch alpaca_eval_annotator` (cargo xtask passes --data datasets/.cache), or pass --annotator-configs DIR".into());
            None
        }
        Some(dir) => AnnotatorConfig::load(dir, ANNOTATOR)
            .map_err(|e| missing.push(format!("upstream's AlpacaEval annotator config ({e}): run `cargo xtask fetch alpaca_eval_annotator` (the pinned alpaca-eval wheel from PyPI), or pass --annotator-configs DIR")))
            .ok(),
    };
    let (Some((train, train_path)), Some((heldout, heldout_path)), Some(client_cfg), Some(acfg)) = (train, heldout, client_cfg, acfg) else {
        bail!("--scale paper cannot start; missing:\n  - {}\n(options go after `--`: `cargo xtask reproduce instruct-skillmix --scale paper -- --judge-url URL ...`; `--dry-run` prints the plan)", missing.join("\n  - "));
    };
    r.train_config(train.len())?;
    let base_url = client_cfg.base_url.clone();
    let key_env = client_cfg.api_key_env.clone();
    let client = Client::new(client_cfg)?;
    let judge = AlpacaJudge::new(acfg, &client, p.judge_model.as_deref())?;
    let served = client.models().with_context(|| format!("the judge endpoint {base_url} does not answer GET /models: check --judge-url, that the server is up, and the API key in ${key_env} (--api-key-env)"))?;
    if !served.is_empty() && !served.contains(&judge.model) {
        eprintln!("warning: {base_url} does not list the judge model {:?} (it lists {} models, e.g. {:?}); pass --judge-model NAME if the calls fail", judge.model, served.len(), served.iter().take(5).collect::<Vec<_>>());
    }

    if let Some(t) = a.threads {
        shared::device::set_threads(t);
    }
    shared::device::seed_torch(r.seed);
    let device = shared::device::resolve(&a.device)?;
    let t0 = std::time::Instant::now();
    eprintln!("loading {} on {}", r.model, a.device);
    let mut pre = Pretrained::load(&r.model, device).with_context(|| format!("loading the base model {} (a folder or hub id; pass --model; a gated hub model needs HF_TOKEN with access)", r.model))?;
    let hj = HeldoutJudge { judge, dir: run_dir.clone() };
    let mut judge_fn = |e: usize, outs: &[serde_json::Value], refs: &[paper::Record]| hj.win_rate(e, outs, refs);
    let run = paper::run(&mut pre, &r, &run_dir, &mut judge_fn)?;
    let summary = Summary {
        recipe: path.display().to_string(),
        model: r.model.clone(),
        train_data: train_path.display().to_string(),
        heldout_data: heldout_path.display().to_string(),
        train_records: train.len(),
        heldout_records: heldout.len(),
        judge_url: base_url,
        judge_model: hj.judge.model.clone(),
        annotator: hj.judge.cfg.name.clone(),
        run_dir: run_dir.clone(),
        run,
        judge_calls: client.summary(),
        minutes: t0.elapsed().as_secs_f64() / 60.0,
    };
    let out = a.results_dir(&root, "instruct-skillmix")?.join(format!("{stem}.json"));
    shared::io::write_json(&out, &summary)?;
    for (i, w) in summary.run.heldout_win_rate.iter().enumerate() {
        println!("  epoch {:>2}: held-out win rate {w:.2}%{}", i + 1, if i + 1 == summary.run.best_epoch { "  <- chosen" } else { "" });
    }
    println!("chosen epoch {} of {}: {}\n{}\nsummary: {}", summary.run.best_epoch, r.epochs, summary.run.best_weights.display(), summary.judge_calls, out.display());
    Ok(())
}
