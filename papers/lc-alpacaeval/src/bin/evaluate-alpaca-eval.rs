//! `cargo xtask evaluate alpaca-eval --model-outputs FILE [--judge-url URL --judge-model NAME]`:
//! judge a model's AlpacaEval outputs with upstream's `weighted_alpaca_eval_gpt4_turbo`
//! annotator through an OpenAI-compatible endpoint, write `annotations.json` in upstream's
//! layout, and a leaderboard row (upstream's CSV columns) with LC against the frozen difficulty.

use anyhow::{Context, Result};
use clap::Parser;
use lc_alpacaeval::evaluate::{comparisons, load_outputs, refit_difficulty, score};
use lc_alpacaeval::pipeline::frozen_difficulty_file;
use shared::api::alpaca_judge::{leaderboard_csv, AlpacaJudge, AnnotatorConfig};
use shared::api::world_judge::alpaca_configs_dir;
use shared::api::{Client, ClientConfig};
use shared::eval::alpaca_eval::{self as ae, ANNOTATOR};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "evaluate-alpaca-eval", about = "AlpacaEval 2 (LC) of a model's outputs through an OpenAI-compatible judge")]
struct Args {
    /// The model's outputs: a JSON array of {instruction, output[, generator]} (upstream's model_outputs.json).
    #[arg(long)]
    model_outputs: PathBuf,
    /// The model's name (default: the outputs' `generator`, else the file's folder name).
    #[arg(long)]
    model: Option<String>,
    /// The judge's API root.
    #[arg(long, default_value = "https://api.openai.com/v1")]
    judge_url: String,
    /// The judge's model name (default: the annotator config's, gpt-4-1106-preview).
    #[arg(long)]
    judge_model: Option<String>,
    /// A TOML client config (base_url, concurrency, retries, prices, cache_dir, ...); the flags above override it.
    #[arg(long)]
    client_config: Option<PathBuf>,
    /// Environment variable with the judge's API key.
    #[arg(long, default_value = "OPENAI_API_KEY")]
    api_key_env: String,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The on-disk cache of judge calls (a rerun costs nothing; an interrupted run resumes).
    #[arg(long, default_value = "runs/api-cache")]
    cache: PathBuf,
    /// Where annotations and the leaderboard go.
    #[arg(long, default_value = "results/evaluate/alpaca-eval")]
    out: PathBuf,
    /// Fetched data (`cargo xtask` passes datasets/.cache).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Re-estimate the instruction difficulty with this model included (moves other models' LC);
    /// default: the frozen vector.
    #[arg(long)]
    refit_difficulty: bool,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let data = a.data.clone().or_else(shared::io::data_root).context("no data folder: pass --data or run `cargo xtask fetch alpaca_eval`")?;
    let root = data.join("alpaca_eval");
    let outputs = load_outputs(&a.model_outputs)?;
    let model = a
        .model
        .clone()
        .or_else(|| outputs.first().and_then(|o| o.generator.clone()))
        .or_else(|| a.model_outputs.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().to_string()))
        .context("name the model with --model")?;
    let (items, index) = comparisons(&root, &outputs, &model)?;

    let mut cfg: ClientConfig = match &a.client_config {
        Some(p) => shared::io::read_toml(p)?,
        None => ClientConfig::default(),
    };
    cfg.base_url = a.judge_url.clone();
    cfg.api_key_env = a.api_key_env.clone();
    cfg.max_concurrency = a.concurrency;
    if cfg.cache_dir.is_none() {
        cfg.cache_dir = Some(a.cache.clone());
    }
    let client = Client::new(cfg)?;
    let configs = alpaca_configs_dir(&data);
    let acfg = AnnotatorConfig::load(&configs, ANNOTATOR).with_context(|| format!("the annotator config is fetched by `cargo xtask fetch alpaca_eval_annotator` into {}", configs.display()))?;
    let judge = AlpacaJudge::new(acfg, &client, a.judge_model.as_deref())?;
    eprintln!("judging {} outputs of {model} with {} at {}", items.len(), judge.model, a.judge_url);
    let t0 = std::time::Instant::now();
    let ann = judge.annotate(&items)?;
    let secs = t0.elapsed().as_secs_f64();
    let path = ae::annotations_path(&a.out, &model);
    shared::io::write_json(&path, &ann)?;
    let loaded = ae::load_annotations(&a.out, &model)?;

    let (d, d_source) = if a.refit_difficulty {
        (refit_difficulty(&root, &loaded)?, "refit (joint GLM over the shipped models and this one)".to_string())
    } else {
        let f = frozen_difficulty_file(&data);
        (ae::load_instruction_difficulty(&f)?, format!("frozen ({})", f.display()))
    };
    let (row, lc, gamed) = score(&root, &loaded, &index, &d)?;

    // Merge into the leaderboard of this output folder (one row per model).
    let lb = a.out.join("leaderboard.csv");
    let mut rows = if lb.exists() { ae::load_leaderboard(&lb)? } else { vec![] };
    rows.retain(|r| r.model != model);
    rows.push(row.clone());
    rows.sort_by(|x, y| y.length_controlled_winrate.unwrap_or(f64::NAN).total_cmp(&x.length_controlled_winrate.unwrap_or(f64::NAN)));
    shared::io::write_atomic(&lb, leaderboard_csv(&rows).as_bytes())?;

    println!("{model}: win rate {:.2} ± {:.2}, LC {:.2} ± {:.2} (C = {:?}), avg length {}, {} judged in {secs:.1} s", row.win_rate, row.standard_error, lc.lc_win_rate, lc.lc_standard_error, lc.c, row.avg_length, row.n_total);
    println!("difficulty: {d_source}; gamed baselines: {gamed}");
    println!("{}", client.summary());
    println!("annotations: {}\nleaderboard: {}", path.display(), lb.display());
    Ok(())
}
