//! `cargo xtask reproduce lcpo [--scale smoke|mini] [--seed S --seeds N]`: regenerate the LCPO
//! tables; the seeds run one after another and their per-prompt records are pooled.

use anyhow::{bail, Context, Result};
use clap::Parser;
use shared::cli::{RunArgs, Scale};
use std::path::{Path, PathBuf};
use lcpo::config::{config_dir, MiniConfig};
use lcpo::{pipeline, tables};

#[derive(Parser)]
#[command(name = "lcpo", about = "Reproduce LCPO / RE-PO (Cao et al. 2025) in miniature")]
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
        bail!("RE-PO at paper scale (Mistral-7B / Llama-3-8B on UltraFeedback, 8×A800) is not run from here; run --scale mini or smoke");
    }
    let cfg_path = args.config.unwrap_or_else(|| config_dir().join(format!("{}.toml", a.scale.name())));
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&repo_root(), "lcpo")?;
    println!("== LCPO, {} scale, seeds {}; config {}:\n{cfg_text}", a.scale.name(), shared::stats::seeds::describe(&seeds), cfg_path.display());
    if a.dry_run {
        println!("plan per seed: SFT base (cached); {} prompts x {} samples -> clean oracle pairs; noise levels {:?}; {} methods x {} epochs each; evaluation on the mini AlpacaEval prompts", cfg.train_prompts, cfg.sampling.samples, cfg.noise, cfg.methods.len(), cfg.train.epochs);
        return Ok(());
    }
    let threads = a.threads.unwrap_or(cfg.threads);
    shared::device::set_threads(threads);
    let device = shared::device::resolve(&a.device)?;
    let runs_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("lcpo").join(a.scale.name());
    let mut outcomes = vec![];
    for &seed in &seeds {
        eprintln!("==> seed {seed}");
        shared::device::seed_torch(seed);
        let o = pipeline::run(&cfg, a.scale, seed, device, &runs_root)?;
        eprintln!("==> seed {seed} done in {:.1} min (SFT base {})", o.seconds / 60.0, if o.base_trained { "trained now" } else { "cached" });
        outcomes.push(o);
    }
    let config_path = shared::report::relative_display(&cfg_path, &repo_root());
    let info = shared::report::RunInfo { scale: a.scale.name(), seeds: &seeds, threads, device: &a.device, config_path: &config_path, config_toml: &cfg_text };
    let claims = tables::save_all(&outcomes, &out, &info).context("writing the results")?;
    println!("\n{}", claims.to_markdown());
    println!("total {:.1} min; tables in {}", outcomes.iter().map(|o| o.seconds).sum::<f64>() / 60.0, out.display());
    Ok(())
}
