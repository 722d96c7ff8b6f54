//! `cargo xtask reproduce instruct-skillmix [--scale smoke|mini|paper] [--seed S --seeds N]`:
//! smoke and mini scale through the shared driver ([`shared::driver::reproduce`]); paper scale
//! through [`instruct_skillmix::paper_cli`], whose options follow `--` on `cargo xtask reproduce`
//! (`--recipe`, `--model`, `--train-data`, `--heldout-data`, `--judge-url`, `--judge-model`, ...).

use clap::{CommandFactory, FromArgMatches, Parser};
use instruct_skillmix::paper_cli::{self, PaperArgs};
use instruct_skillmix::InstructSkillMix;
use shared::cli::{RunArgs, Scale};
use std::path::PathBuf;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Smoke / mini scale: another miniature config (default: configs/<scale>.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    paper: PaperArgs,
}

fn main() {
    let cmd = Args::command().name("instruct-skillmix").about("Reproduce Instruct-SkillMix in miniature, or at paper scale (`cargo xtask reproduce instruct-skillmix`)");
    let args = Args::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit());
    let result = if args.run.scale == Scale::Paper && args.config.is_none() {
        paper_cli::main(&args.run, &args.paper)
    } else if args.paper.any_set() {
        Err(anyhow::anyhow!("--recipe, --model, --train-data, --heldout-data, --judge-* and the other paper options apply to --scale paper only (this is --scale {})", args.run.scale.name()))
    } else {
        shared::driver::reproduce::<InstructSkillMix>(args.run, args.config)
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
