//! `cargo xtask reproduce par [--scale smoke|mini] [--seeds N]`: regenerate PAR's tables.

use anyhow::{bail, Context, Result};
use clap::Parser;
use par::config::{config_dir, MiniConfig};
use par::{pipeline, tables};
use shared::cli::{RunArgs, Scale};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "par", about = "Reproduce PAR (Fu et al. 2025) in miniature")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Another miniature config (default: configs/<scale>.toml).
    #[arg(long)]
    config: Option<PathBuf>,
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
    let a = args.run;
    if a.scale == Scale::Paper && args.config.is_none() {
        bail!("PAR's paper scale (Gemma2-2B / Llama3-8B, DeepSpeed, a DeepSeek-V3 judge) is not run from here; configs/paper/*.toml hold its recipe and run on the tiny fixtures in papers/par/tests");
    }
    let cfg_path = args.config.unwrap_or_else(|| config_dir().join(format!("{}.toml", a.scale.name())));
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&repo_root(), "par")?;
    println!("== PAR, {} scale, seeds {:?}; config {}:\n{cfg_text}", a.scale.name(), seeds, cfg_path.display());
    if a.dry_run {
        println!("plan: SFT base (cached); proxy RM; {} references per prompt; PPO for {} methods over {} prompts x {} passes; {} evaluation prompts", cfg.references, cfg.methods.len(), cfg.prompts, cfg.rl.epochs, cfg.eval_prompts);
        return Ok(());
    }
    let threads = a.threads.unwrap_or(cfg.threads);
    shared::device::set_threads(threads);
    let device = shared::device::resolve(&a.device)?;
    let runs_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("par");
    let started = std::time::Instant::now();
    let mut outcomes = vec![];
    for &seed in &seeds {
        eprintln!("==> seed {seed}");
        shared::device::seed_torch(seed);
        outcomes.push(pipeline::run(&cfg, a.scale, seed, device, &runs_root)?);
    }
    let config_path = shared::report::relative_display(&cfg_path, &repo_root());
    let info = shared::report::RunInfo { scale: a.scale.name(), seeds: &seeds, threads, device: &a.device, config_path: &config_path, config_toml: &cfg_text };
    let claims = tables::save_all(&outcomes, &out, &info).context("writing the results")?;
    println!("\n{}", claims.to_markdown());
    println!("total {:.1} min; tables in {}", started.elapsed().as_secs_f64() / 60.0, out.display());
    Ok(())
}
