//! `cargo xtask reproduce drift [--scale smoke|mini] [--seed S --seeds N]`: regenerate the DRIFT tables.

use anyhow::{bail, Context, Result};
use clap::Parser;
use drift::config::{config_dir, MiniConfig};
use drift::{pipeline, tables};
use shared::cli::{RunArgs, Scale};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "drift", about = "Reproduce DRIFT (Wang et al. 2025) in miniature")]
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
    if a.scale == Scale::Paper {
        bail!("DRIFT's paper scale (Qwen2.5-7B/14B-Instruct, WildFeedback DSAT, RMSprop) is a config (configs/paper/qwen2.5-7b.toml) run by the paper-path test on the tiny fixtures; it needs a GPU and the WildFeedback data for a real run. Run --scale mini or smoke here.");
    }
    let cfg_path = args.config.unwrap_or_else(|| config_dir().join(format!("{}.toml", a.scale.name())));
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&repo_root(), "drift")?;
    println!("== DRIFT, {} scale, seeds {seeds:?}; config {}:\n{cfg_text}", a.scale.name(), cfg_path.display());
    if a.dry_run {
        println!("plan: SFT base + guided form (cached); log of {} prompts; seed DPO; {} methods x {} iterations; evaluation on {} prompts", cfg.log.prompts, cfg.methods.len(), cfg.iterations, cfg.eval.prompts);
        return Ok(());
    }
    let threads = a.threads.unwrap_or(cfg.threads);
    shared::device::set_threads(threads);
    let device = shared::device::resolve(&a.device)?;
    let runs_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("drift");
    let started = std::time::Instant::now();
    let mut outs = vec![];
    for &seed in &seeds {
        eprintln!("==> seed {seed}");
        shared::device::seed_torch(seed);
        outs.push(pipeline::run(&cfg, a.scale, seed, device, &runs_root)?);
    }
    let config_path = shared::report::relative_display(&cfg_path, &repo_root());
    let info = shared::report::RunInfo { scale: a.scale.name(), seeds: &seeds, threads, device: &a.device, config_path: &config_path, config_toml: &cfg_text };
    let claims = tables::save_all(&outs, &cfg, &out, &info).context("writing the results")?;
    println!("\n{}", claims.to_markdown());
    println!("total {:.1} min; tables in {}", started.elapsed().as_secs_f64() / 60.0, out.display());
    Ok(())
}
