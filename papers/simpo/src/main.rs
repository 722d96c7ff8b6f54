//! `cargo xtask reproduce simpo [--scale smoke|mini|paper]`: regenerate the SimPO tables.

use anyhow::{Context, Result};
use clap::Parser;
use shared::cli::{RunArgs, Scale};
use simpo::config::PaperConfig;
use simpo::paper::{self, Method, PaperRunOptions};
use simpo::{config, leaderboard, mini::MiniConfig, pipeline, tables};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "simpo", about = "Reproduce SimPO (Meng, Xia & Chen 2024)")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Smoke / mini scale: another miniature config (default: configs/<scale>.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Paper scale: a setting (file stem in configs/paper/) or the path of a config TOML.
    #[arg(long, default_value = "llama3-instruct")]
    setting: String,
    /// Paper scale: the objective to train, `simpo` or `dpo` (the setting's `[dpo]` β and learning
    /// rate, the start model as reference).
    #[arg(long, default_value = "simpo")]
    method: String,
    /// Paper scale: train LoRA adapters of this rank on every projection (frozen base) instead of
    /// every weight; saved in PEFT's layout beside the merged model.
    #[arg(long)]
    lora: Option<usize>,
    /// Paper scale: pairs per forward pass (default: the paper's per-device batch, 2); the global
    /// batch is kept by accumulating more micro-batches.
    #[arg(long)]
    micro_batch: Option<usize>,
    /// Paper scale: recompute each decoder layer in the backward pass (gradient checkpointing):
    /// one layer's activations in memory for one extra forward pass, same gradients.
    #[arg(long)]
    gradient_checkpointing: bool,
    /// Paper scale: LoRA's alpha (default 2 × rank).
    #[arg(long)]
    lora_alpha: Option<f64>,
    /// Paper scale: train on the first N pairs only.
    #[arg(long)]
    max_pairs: Option<usize>,
    /// Paper scale: stop after N optimiser steps.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Paper scale: generate AlpacaEval-format outputs for the first N of the 805 instructions.
    #[arg(long)]
    generate: Option<usize>,
    /// Paper scale: write the setting as a TRL + accelerate + DeepSpeed recipe into this folder
    /// instead of training (`cargo xtask export simpo --setting <name>`).
    #[arg(long)]
    export: Option<PathBuf>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: Args) -> Result<()> {
    let a = args.run.clone();
    if a.scale == Scale::Paper {
        return paper_scale(&args);
    }
    let cfg_path = args.config.clone().unwrap_or_else(|| config::config_dir().join(format!("{}.toml", a.scale.name())));
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&repo_root(), "simpo")?;
    let described = shared::stats::seeds::describe(&seeds);
    println!("== SimPO, {} scale, seed{} {described}; config {}:\n{cfg_text}", a.scale.name(), if seeds.len() > 1 { "s" } else { "" }, cfg_path.display());
    if a.dry_run {
        let runs = cfg.setups.iter().map(|s| cfg.methods.iter().map(|m| m.lrs_for(s).len()).sum::<usize>()).sum::<usize>();
        let models = 1 + cfg.methods.len() * cfg.setups.len();
        println!(
            "plan, per seed ({} seed(s)): SFT base (cached per seed), {} setups, {runs} training runs, each evaluated on the {} validation prompts; the selected model of each method and the SFT base ({models} models) on the mini AlpacaEval, {} prompts × {} sample(s)",
            seeds.len(),
            cfg.setups.len(),
            cfg.val_prompts,
            cfg.eval_prompts.map_or("300".to_string(), |n| n.to_string()),
            cfg.eval_samples
        );
        return Ok(());
    }
    let threads = a.threads.unwrap_or(cfg.threads);
    shared::device::set_threads(threads);
    let device = shared::device::resolve(&a.device)?;
    let run_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("simpo").join(a.scale.name());

    // One whole pipeline per seed (its own SFT base, pairs, training, sampling), the per-prompt
    // records joined; every table and claim is pooled over the seeds.
    let started = std::time::Instant::now();
    let mut runs = vec![];
    let records = shared::stats::seeds::gather(&seeds, |seed| -> Result<shared::stats::Records> {
        shared::device::seed_torch(seed);
        let o = pipeline::run(&cfg, a.scale, seed, device, &run_root.join(format!("seed-{seed}")))?;
        eprintln!("==> seed {seed}: SFT base {}; {:.1} min", if o.base_trained { "trained now" } else { "loaded from the cache" }, o.seconds / 60.0);
        let r = tables::per_prompt(&o)?;
        runs.push(o);
        Ok(r)
    })?;

    let config_path = shared::report::relative_display(&cfg_path, &repo_root());
    let reference = a.reference_dir(&repo_root(), "simpo");
    let info = shared::report::RunInfo { scale: a.scale.name(), seeds: &seeds, threads, device: &a.device, config_path: &config_path, config_toml: &cfg_text, reference: reference.as_deref() };
    // A one-seed run's intervals are widened by the spread between the committed seeds.
    let t0 = std::time::Instant::now();
    let (claims, analysis) = tables::save_all(&runs, &records, &out, &info).context("writing the results")?;
    eprintln!("==> tables, claims and intervals in {:.1} s", t0.elapsed().as_secs_f64());
    match a.data.clone().or_else(shared::io::data_root) {
        Some(root) => leaderboard::leaderboard_table(&root)?.save(&out, "leaderboard_check")?,
        None => eprintln!("note: no AlpacaEval data (run `cargo xtask fetch simpo`); leaderboard check skipped"),
    }

    println!("\n{}", claims.to_markdown());
    for (setup, hw) in tables::simpo_dpo_half_widths(&analysis) {
        println!("SimPO − DPO ({}), {setup}: 95% interval half-width {hw:.2} points", analysis.headline.name());
    }
    if seeds.len() == 1 {
        println!("(one seed; the committed tables pool seeds 0, 1, 2: `cargo xtask reproduce simpo --seeds 3`)");
    }
    println!("seeds {described}; total {:.1} min; tables in {}", started.elapsed().as_secs_f64() / 60.0, out.display());
    Ok(())
}

/// `--scale paper`: the paper's settings through the same model, tokenizer, data and trainer code.
fn paper_scale(args: &Args) -> Result<()> {
    let a = &args.run;
    let settings = config::paper_settings()?;
    if a.dry_run {
        println!("{}", paper::dry_run(&settings)?);
        return Ok(());
    }
    let cfg = if Path::new(&args.setting).is_file() {
        PaperConfig::load(Path::new(&args.setting))?
    } else {
        let names: Vec<&str> = settings.iter().map(|(n, _)| n.as_str()).collect();
        settings
            .iter()
            .find(|(n, _)| n == &args.setting)
            .map(|(_, c)| c.clone())
            .with_context(|| format!("--setting {:?} is not one of {names:?} (or a config file)", args.setting))?
    };
    if let Some(dir) = &args.export {
        let opts = PaperRunOptions { max_pairs: args.max_pairs, max_steps: args.max_steps, ..Default::default() };
        let summary = simpo::export::export(&cfg, dir, &opts)?;
        println!("exported {} ({} pairs) to {}: {}", cfg.setting, summary.pairs, dir.display(), summary.recipes.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "));
        println!("train with: {}/launch.sh simpo   (see {}/README.md)", dir.display(), dir.display());
        return Ok(());
    }
    let method = match args.method.as_str() {
        "simpo" => Method::Simpo,
        "dpo" => Method::Dpo,
        other => anyhow::bail!("--method {other:?} must be simpo or dpo"),
    };
    if let Some(t) = a.threads {
        shared::device::set_threads(t);
    }
    shared::device::seed_torch(cfg.train.seed);
    let device = shared::device::resolve(&a.device)?;
    let stem = Path::new(&args.setting).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let run_dir = repo_root().join("runs/simpo/paper").join(format!("{stem}-{}", args.method));
    let lora = args.lora.map(|r| shared::model::LoraConfig::all_projections(r, args.lora_alpha.unwrap_or(2.0 * r as f64)));
    let opts = PaperRunOptions { method, max_pairs: args.max_pairs, max_steps: args.max_steps, generate: args.generate, lora, micro_batch: args.micro_batch, gradient_checkpointing: args.gradient_checkpointing, ..Default::default() };
    println!("== SimPO paper scale: {} ({}), {} on {}", cfg.setting, cfg.model, args.method, a.device);
    let summary = paper::run(&cfg, device, &run_dir, &opts)?;
    let out = a.results_dir(&repo_root(), "simpo")?;
    shared::io::write_json(&out.join(format!("{stem}-{}.json", args.method)), &summary)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
