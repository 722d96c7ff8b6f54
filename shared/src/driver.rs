//! The driver every trained miniature's binary runs (`cargo xtask reproduce <slug>`): parse the
//! shared command line, load `configs/<scale>.toml`, run the pipeline once per seed, write the
//! tables and claims pooled over the seeds, print the claims and the time. A paper implements
//! [`Miniature`] (its config, one seed of its pipeline, its tables) and its `main` is one line:
//!
//! ```ignore
//! fn main() { shared::driver::main::<dno::Dno>() }
//! ```

use crate::cli::{RunArgs, Scale};
use crate::report::{relative_display, RunInfo};
use anyhow::{Context, Result};
use clap::{CommandFactory, FromArgMatches, Parser};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What a paper's miniature tells the driver; everything else (seeds, threads, device, where the
/// tables go, the run report) is the driver's.
pub trait Miniature {
    /// The miniature's config, as `configs/<scale>.toml` holds it.
    type Config: serde::Serialize;
    /// What one seed of the pipeline produced.
    type Outcome;
    /// The folder under `papers/` and `results/`.
    const SLUG: &'static str;
    /// The paper's name in messages ("DNO", "SPPO").
    const NAME: &'static str;

    /// Where `<scale>.toml` lives: `papers/<slug>/configs`.
    fn config_dir() -> PathBuf {
        repo_root().join("papers").join(Self::SLUG).join("configs")
    }
    fn load(path: &Path) -> Result<Self::Config>;
    /// libtorch threads unless `--threads` says otherwise.
    fn threads(cfg: &Self::Config) -> i32;
    /// What a run does, one line (printed by `--dry-run`).
    fn plan(cfg: &Self::Config) -> String;
    /// One whole seed of the pipeline; `runs_root` is `runs/<slug>` (or `$REPRO_RUNS/<slug>`),
    /// where the pipeline caches what it trains so that a rerun resumes.
    fn run_seed(cfg: &Self::Config, scale: Scale, seed: u64, device: tch::Device, runs_root: &Path) -> Result<Self::Outcome>;
    /// Write every table, record, claim and plot of the seeds' outcomes into `out`.
    fn save_all(cfg: &Self::Config, outs: &[Self::Outcome], out: &Path, info: &RunInfo) -> Result<stats::Claims>;
    /// `--scale paper`: by default an error carrying [`Miniature::paper_scale_note`]; a paper whose
    /// paper-scale recipe has a plan to print overrides this.
    fn paper_scale(args: &RunArgs, config: &Path) -> Result<()> {
        let _ = (args, config);
        anyhow::bail!("{}", Self::paper_scale_note())
    }
    /// Why `--scale paper` is not run by this binary, and where the paper-scale recipe lives.
    fn paper_scale_note() -> String;
}

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Another miniature config (default: configs/<scale>.toml).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The repository root (this crate lives in `<root>/shared`).
pub fn repo_root() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR"));
    shared.parent().map(Path::to_path_buf).unwrap_or_else(|| shared.join(".."))
}

/// A paper binary's `main`: run [`reproduce`] on the command line, print the error chain and
/// exit 1 on failure.
pub fn main<M: Miniature>() {
    let cmd = Args::command().name(M::SLUG).about(format!("Reproduce {} in miniature (`cargo xtask reproduce {}`)", M::NAME, M::SLUG));
    let args = Args::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit());
    if let Err(e) = reproduce::<M>(args.run, args.config) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Run the miniature for every seed of `a` and write its results.
pub fn reproduce<M: Miniature>(a: RunArgs, config: Option<PathBuf>) -> Result<()> {
    let root = repo_root();
    let cfg_path = config.clone().unwrap_or_else(|| M::config_dir().join(format!("{}.toml", a.scale.name())));
    if a.scale == Scale::Paper && config.is_none() {
        return M::paper_scale(&a, &cfg_path);
    }
    let cfg = M::load(&cfg_path).with_context(|| format!("loading {}", cfg_path.display()))?;
    let cfg_text = toml::to_string(&cfg)?;
    let seeds = a.seed_list()?;
    let out = a.results_dir(&root, M::SLUG)?;
    println!("== {}, {} scale, seeds {}; config {}:\n{cfg_text}", M::NAME, a.scale.name(), stats::seeds::describe(&seeds), cfg_path.display());
    if a.dry_run {
        println!("plan: {}", M::plan(&cfg));
        return Ok(());
    }
    let threads = a.threads.unwrap_or(M::threads(&cfg));
    crate::device::set_threads(threads);
    let device = crate::device::resolve(&a.device)?;
    let runs_root = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| root.join("runs")).join(M::SLUG);
    let started = Instant::now();
    let mut outs = vec![];
    for (i, &seed) in seeds.iter().enumerate() {
        eprintln!("==> seed {seed} ({} of {})", i + 1, seeds.len());
        let t = Instant::now();
        crate::device::seed_torch(seed);
        outs.push(M::run_seed(&cfg, a.scale, seed, device, &runs_root).with_context(|| format!("seed {seed}"))?);
        eprintln!("==> seed {seed} done in {:.1} min", t.elapsed().as_secs_f64() / 60.0);
    }
    let config_path = relative_display(&cfg_path, &root);
    let reference = a.reference_dir(&root, M::SLUG);
    let info = RunInfo { scale: a.scale.name(), seeds: &seeds, threads, device: &a.device, config_path: &config_path, config_toml: &cfg_text, reference: reference.as_deref() };
    let claims = M::save_all(&cfg, &outs, &out, &info).context("writing the results")?;
    println!("\n{}", claims.to_markdown());
    println!("total {:.1} min; tables in {}", started.elapsed().as_secs_f64() / 60.0, out.display());
    Ok(())
}
