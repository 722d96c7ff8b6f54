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
    /// The paper-scale config `--scale paper` reads when `--config` names none.
    fn paper_config() -> PathBuf {
        Self::config_dir().join("paper.toml")
    }
    /// `--scale paper` with `config` ([`Miniature::paper_config`] unless `--config` is given): by
    /// default an error carrying [`Miniature::paper_scale_note`]; a paper whose paper-scale path
    /// runs from this binary overrides this (usually with [`run_paper_scale`]).
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
    if a.scale == Scale::Paper {
        return M::paper_scale(&a, &config.unwrap_or_else(M::paper_config));
    }
    let cfg_path = config.clone().unwrap_or_else(|| M::config_dir().join(format!("{}.toml", a.scale.name())));
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

/// `--scale paper` for a paper whose paper-scale path is one call `run(config, device, work_dir)`:
/// load and print the config, stop there on `--dry-run`, else run on `--device`. The stages'
/// checkpoints go to the work folder `runs/<slug>/paper-<config name>/` (`$REPRO_RUNS` for
/// `runs`; every stage there resumes), never into `results/`; the run's `summary.json` and
/// `paper_config.json` are then copied to the results folder (`--out`, default
/// `results/<slug>/paper/`).
pub fn run_paper_scale<C: serde::Serialize, S>(args: &RunArgs, config: &Path, slug: &str, load: impl FnOnce(&Path) -> Result<C>, run: impl FnOnce(&C, tch::Device, &Path) -> Result<S>) -> Result<()> {
    let cfg = load(config).with_context(|| format!("loading the paper-scale config {}", config.display()))?;
    let root = repo_root();
    let stem = config.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "paper".into());
    let work = std::env::var("REPRO_RUNS").map(PathBuf::from).unwrap_or_else(|_| root.join("runs")).join(slug).join(format!("paper-{stem}"));
    let out = args.results_dir(&root, slug)?;
    println!("== {slug}, paper scale; config {}:\n{}", relative_display(config, &root), toml::to_string(&cfg)?);
    if args.dry_run {
        println!("plan: every stage of the paper-scale path in {}, the summary into {}", work.display(), out.display());
        return Ok(());
    }
    let device = crate::device::resolve(&args.device)?;
    let started = Instant::now();
    run(&cfg, device, &work)?;
    for f in ["summary.json", "paper_config.json"] {
        let bytes = std::fs::read(work.join(f)).with_context(|| format!("reading {}", work.join(f).display()))?;
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        crate::io::write_atomic(&out.join(f), &bytes)?;
    }
    println!("paper-scale run finished in {:.1} min; checkpoints in {}, summary in {}", started.elapsed().as_secs_f64() / 60.0, work.display(), out.join("summary.json").display());
    Ok(())
}

/// A folder name and claim-id stem for a method: lower case, one `-` for each run of anything
/// else, none at the ends (`"INPO (PM)"` → `inpo-pm`).
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Where one seed of a miniature caches what it trains (`Miniature::run_seed`'s `runs_root`): `runs_root/<scale>-<hash of the config text and seed>`, so a
/// changed config never reuses a stale iterate.
pub fn run_dir(runs_root: &Path, config_toml: &str, scale: crate::cli::Scale, seed: u64) -> std::path::PathBuf {
    use sha2::{Digest, Sha256};
    let text = format!("{config_toml}{seed}{}", scale.name());
    runs_root.join(format!("{}-{}", scale.name(), &format!("{:x}", Sha256::digest(text.as_bytes()))[..12]))
}
