//! `cargo xtask reproduce tgdpo [--scale smoke|mini] [--seed S --seeds N]`: regenerate the TGDPO
//! tables; the seeds run one after another and their per-prompt records are pooled.

use anyhow::{bail, Context, Result};
use clap::Parser;
use shared::cli::{RunArgs, Scale};
use std::path::{Path, PathBuf};
use tgdpo::config::{config_dir, MiniConfig};
use tgdpo::{pipeline, tables};

#[derive(Parser)]
#[command(name = "tgdpo", about = "Reproduce TGDPO (Zhu et al., ICML 2025) in miniature")]
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
        bail!("TGDPO at paper scale (Llama3-8B-Instruct, 3 models of 8B on 8×80GB) is not run from here: configs/paper/*.toml are checked by `cargo test -p tgdpo` on the tiny fixtures; run --scale mini or smoke");
    }
    let cfg_path = args.config.unwrap_or_else(|| config_dir().join(format!("{}.toml", a.scale.name())));
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&repo_root(), "tgdpo")?;
    println!("== TGDPO, {} scale, seeds {}; config {}:\n{cfg_text}", a.scale.name(), shared::stats::seeds::describe(&seeds), cfg_path.display());
    if a.dry_run {
        println!(
            "plan per seed: SFT base (cached); {} prompts x {} samples -> oracle pairs; π_dpo ({} epochs); {} methods x {} epochs, validated after each; evaluation on the mini AlpacaEval prompts",
            cfg.train_prompts,
            cfg.sampling.samples,
            cfg.reward_model.epochs,
            cfg.methods.len(),
            cfg.train.epochs
        );
        return Ok(());
    }
    let threads = a.threads.unwrap_or(cfg.threads);
    shared::device::set_threads(threads);
    let device = shared::device::resolve(&a.device)?;
    let runs_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("tgdpo").join(a.scale.name());
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
