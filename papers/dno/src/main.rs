//! `cargo xtask reproduce dno [--scale smoke|mini] [--seeds N]`: regenerate the DNO tables.

use anyhow::{bail, Context, Result};
use clap::Parser;
use dno::config::{config_dir, MiniConfig};
use dno::{pipeline, tables};
use shared::cli::{RunArgs, Scale};
use shared::stats;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "dno", about = "Reproduce DNO (Rosset et al. 2024) in miniature")]
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
        bail!("DNO's paper scale (Orca-2.5 7B, GPT-4-Turbo annotation, 3 x 20k UltraFeedback prompts) is not runnable here; configs/paper.toml records its settings. Run --scale mini or smoke");
    }
    let cfg_path = args.config.unwrap_or_else(|| config_dir().join(format!("{}.toml", a.scale.name())));
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&repo_root(), "dno")?;
    let h = &cfg.harness;
    println!("== DNO, {} scale, seeds {}; config {}:\n{cfg_text}", a.scale.name(), stats::seeds::describe(&seeds), cfg_path.display());
    if a.dry_run {
        println!(
            "plan: per seed, SFT base (cached); {} methods x {} iterations on {} prompts per split, K = {} + gold; evaluation on {} prompts x {} samples after each iteration",
            cfg.methods.len(),
            h.iterations,
            h.prompts_per_split,
            cfg.samples,
            h.eval.prompts,
            h.eval.samples
        );
        return Ok(());
    }
    let threads = a.threads.unwrap_or(h.threads);
    shared::device::set_threads(threads);
    let device = shared::device::resolve(&a.device)?;
    let runs_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("dno");
    let started = std::time::Instant::now();
    let mut outs = vec![];
    for &seed in &seeds {
        shared::device::seed_torch(seed);
        outs.push(pipeline::run(&cfg, a.scale, seed, device, &runs_root)?);
    }
    let config_path = shared::report::relative_display(&cfg_path, &repo_root());
    let info = shared::report::RunInfo { scale: a.scale.name(), seeds: &seeds, threads, device: &a.device, config_path: &config_path, config_toml: &cfg_text };
    let claims = tables::save_all(&outs, &cfg, &out, &info).context("writing the results")?;
    println!("\n{}", claims.to_markdown());
    let trained = outs.iter().filter(|o| o.base_trained).count();
    println!("SFT bases: {trained} trained now, {} loaded from the cache; total {:.1} min; tables in {}", outs.len() - trained, started.elapsed().as_secs_f64() / 60.0, out.display());
    Ok(())
}
