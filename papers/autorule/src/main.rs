//! `cargo xtask reproduce autorule [--scale smoke|mini] [--seeds N]`: regenerate AutoRule's tables.

use anyhow::{bail, Context, Result};
use clap::Parser;
use autorule::config::{config_dir, MiniConfig};
use autorule::{pipeline, tables};
use shared::cli::{RunArgs, Scale};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "autorule", about = "Reproduce AutoRule (Wang & Xiong 2025) in miniature")]
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
        bail!("AutoRule's paper scale (Llama-3-8B, DeepSeek-R1 extraction, a Llama-3-8B-Instruct verifier, OpenRLHF on Ray) is not run from here");
    }
    let cfg_path = args.config.unwrap_or_else(|| config_dir().join(format!("{}.toml", a.scale.name())));
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&repo_root(), "autorule")?;
    println!("== AutoRule, {} scale, seeds {:?}; config {}:\n{cfg_text}", a.scale.name(), seeds, cfg_path.display());
    if a.dry_run {
        println!("plan: SFT base (cached); proxy RM; rules mined from {} pairs; GRPO for {} methods over {} prompts x {} episodes; {} evaluation prompts", cfg.mine_pairs, cfg.methods.len(), cfg.prompts, cfg.rl.epochs, cfg.eval_prompts);
        return Ok(());
    }
    let threads = a.threads.unwrap_or(cfg.threads);
    shared::device::set_threads(threads);
    let device = shared::device::resolve(&a.device)?;
    let runs_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("autorule");
    let started = std::time::Instant::now();
    let mut outcomes = vec![];
    for &seed in &seeds {
        eprintln!("==> seed {seed}");
        shared::device::seed_torch(seed);
        outcomes.push(pipeline::run(&cfg, a.scale, seed, device, &runs_root)?);
    }
    let config_path = shared::report::relative_display(&cfg_path, &repo_root());
    let info = shared::report::RunInfo { scale: a.scale.name(), seeds: &seeds, threads, device: &a.device, config_path: &config_path, config_toml: &cfg_text };
    let oracle = shared::world::WorldConfig::default().oracle;
    let claims = tables::save_all(&outcomes, &oracle, &out, &info).context("writing the results")?;
    println!("\n{}", claims.to_markdown());
    println!("total {:.1} min; tables in {}", started.elapsed().as_secs_f64() / 60.0, out.display());
    Ok(())
}
