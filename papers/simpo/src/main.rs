//! `cargo xtask reproduce simpo [--scale smoke|mini|paper]`: regenerate the SimPO tables.

use anyhow::{Context, Result};
use clap::Parser;
use shared::cli::{RunArgs, Scale};
use simpo::{config, mini::MiniConfig, pipeline, tables};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "simpo", about = "Reproduce SimPO (Meng, Xia & Chen 2024)")]
struct Args {
    #[command(flatten)]
    run: RunArgs,
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
        anyhow::bail!("paper scale: see papers/simpo/README.md, section 4 (being wired into this binary)");
    }
    let cfg_path = config::config_dir().join(format!("{}.toml", a.scale.name()));
    let cfg = MiniConfig::load(&cfg_path)?;
    let cfg_text = toml::to_string(&cfg)?;
    println!("== SimPO, {} scale, seed {}; config {}:\n{cfg_text}", a.scale.name(), a.seed, cfg_path.display());
    if a.dry_run {
        let runs = cfg.methods.iter().map(|m| m.lrs.len()).sum::<usize>() * cfg.setups.len();
        println!("plan: SFT base (cached), {} setups, {} training runs, each evaluated on the validation prompts; the selected model of each method on the mini AlpacaEval", cfg.setups.len(), runs);
        return Ok(());
    }
    let threads = a.threads.unwrap_or(cfg.threads);
    shared::device::set_threads(threads);
    shared::device::seed_torch(a.seed);
    let device = shared::device::resolve(&a.device)?;
    let out = a.out.clone().unwrap_or_else(|| repo_root().join("results/simpo"));
    let run_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("runs")).join("simpo").join(a.scale.name());

    let o = pipeline::run(&cfg, a.scale, a.seed, device, &run_root)?;

    let info = tables::RunInfo { scale: a.scale.name(), seed: a.seed, threads, device: &a.device, config_toml: &cfg_text };
    let claims = tables::save_all(&o, &out, &info).context("writing the results")?;

    println!("\n{}", claims.to_markdown());
    println!(
        "SFT base {}; total {:.1} min; tables in {}",
        if o.base_trained { "trained now" } else { "loaded from the cache" },
        o.seconds / 60.0,
        out.display()
    );
    Ok(())
}
