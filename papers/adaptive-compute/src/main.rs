//! `cargo xtask reproduce adaptive-compute [--scale smoke|mini|paper] [--seed S --seeds N]`.

use adaptive_compute::config::{config_dir, MiniConfig};
use adaptive_compute::paper::Recipe;
use adaptive_compute::{pipeline, tables};
use anyhow::{bail, Context, Result};
use clap::Parser;
use shared::cli::{RunArgs, Scale};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "adaptive-compute", about = "Reproduce adaptive inference-time compute (Manvi et al. 2024) in miniature")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Another config (default: configs/<scale>.toml).
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
    let cfg_path = args.config.unwrap_or_else(|| config_dir().join(format!("{}.toml", a.scale.name())));
    if a.scale == Scale::Paper {
        let r = Recipe::load(&cfg_path)?;
        println!("== adaptive-compute, paper scale; recipe {}\n{}", cfg_path.display(), r.plan());
        if a.dry_run {
            return Ok(());
        }
        bail!("the paper-scale run needs {} (GPU, bf16), the gated {} and the reward model {}, none of which this machine has; the same code path runs on the tiny fixtures in papers/adaptive-compute/tests/paper_path.rs", r.model, r.prompts_dataset, r.reward_model);
    }
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&repo_root(), "adaptive-compute")?;
    println!("== adaptive-compute, {} scale, seeds {:?}; config {}:\n{cfg_text}", a.scale.name(), seeds, cfg_path.display());
    if a.dry_run {
        println!("plan per seed: SFT base (cached); {} prompts x {} samples -> self-eval examples; training; pools of {} samples on {} prompts; replay of every method", cfg.data.prompts, cfg.data.samples, cfg.eval.n_max(), cfg.eval.prompts);
        return Ok(());
    }
    let threads = a.threads.unwrap_or(cfg.threads);
    shared::device::set_threads(threads);
    let device = shared::device::resolve(&a.device)?;
    let runs_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("adaptive-compute");
    let started = std::time::Instant::now();
    let mut runs = vec![];
    for &seed in &seeds {
        shared::device::seed_torch(seed);
        let r = pipeline::run_seed(&cfg, a.scale, seed, device, &runs_root).with_context(|| format!("seed {seed}"))?;
        eprintln!("==> seed {seed} done in {:.1} min", r.seconds / 60.0);
        runs.push(r);
    }
    let config_path = shared::report::relative_display(&cfg_path, &repo_root());
    let info = shared::report::RunInfo { scale: a.scale.name(), seeds: &seeds, threads, device: &a.device, config_path: &config_path, config_toml: &cfg_text };
    let claims = tables::save_all(&cfg, &runs, &out, &info).context("writing the results")?;
    println!("\n{}", claims.to_markdown());
    println!("total {:.1} min; tables in {}", started.elapsed().as_secs_f64() / 60.0, out.display());
    Ok(())
}
