//! `cargo xtask`: the one entry point of the project.
//!
//! It never links libtorch itself. It finds (or installs) PyTorch 2.11.0,
//! sets `LIBTORCH`, `LIBTORCH_CXX11_ABI` and `LD_LIBRARY_PATH` for every cargo
//! command it spawns, fetches pinned data, runs a paper's pipeline and compares
//! the regenerated tables with the committed snapshots.

mod bench;
mod fetch;
mod libtorch;
mod papers;
mod snapshot;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Reproduce LLM preference-learning and evaluation papers", long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Scale {
    /// Seconds; what the test suite runs.
    Smoke,
    /// Minutes on a 2-core CPU; regenerates the committed tables in `results/<slug>/`.
    Mini,
    /// The paper's models, data and hyperparameters; needs a GPU and the Hugging Face hub.
    Paper,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Device {
    Cpu,
    Cuda,
}

#[derive(Subcommand)]
enum Cmd {
    /// Reproduce one paper: set up libtorch, fetch its data, run it, compare with the snapshots.
    Reproduce {
        /// The paper's slug (see `cargo xtask list`).
        slug: String,
        #[arg(long, value_enum, default_value = "mini")]
        scale: Scale,
        #[arg(long, value_enum, default_value = "cpu")]
        device: Device,
        /// The one seed that drives every random number generator of the run.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Copy data from this folder (laid out like upstream) instead of downloading it.
        #[arg(long)]
        mirror: Option<PathBuf>,
        /// Print the plan (models, data, memory and time estimates) and stop.
        #[arg(long)]
        dry_run: bool,
        /// Extra arguments passed to the paper's binary after `--`.
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// Fetch the pinned upstream data a paper needs into `datasets/.cache/`.
    Fetch {
        /// A paper slug, a dataset name (a manifest in `datasets/`), or `all`.
        what: String,
        /// Copy from this folder (laid out like upstream) instead of downloading.
        #[arg(long)]
        mirror: Option<PathBuf>,
        /// Print manifest `[[files]]` entries for the files in DIR (maintainers only).
        #[arg(long, value_name = "DIR")]
        write_manifest_from: Option<PathBuf>,
    },
    /// Run the whole test suite (smoke scale) with libtorch set up: what CI runs.
    Test {
        /// Extra arguments for `cargo test`, e.g. `-p simpo` or a test name filter.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Write a paper-scale setting as a recipe for an existing distributed engine (TRL +
    /// accelerate + DeepSpeed): the pairs as the Rust trainer renders them, the trainer settings,
    /// the launch files. For runs that outgrow one GPU.
    Export {
        /// The paper's slug (only `simpo` has paper-scale settings to export).
        slug: String,
        /// A setting (file stem in papers/<slug>/configs/paper/) or a config TOML.
        #[arg(long)]
        setting: String,
        /// Output folder (default: exports/<slug>-<setting>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Export the first N pairs only.
        #[arg(long)]
        max_pairs: Option<usize>,
    },
    /// List every paper with its status.
    List,
    /// Benchmarks: Rust (criterion) next to the PyTorch / Python reference, with the ratio.
    Bench {
        /// Only benchmarks whose name contains this.
        filter: Option<String>,
    },
    /// Print the environment the runner gives cargo (for running cargo by hand).
    Env,
    /// Show the miniature world: prompts, demonstrations, the base model's answers and the judges' verdicts.
    World {
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(last = true)]
        extra: Vec<String>,
    },
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let root = root();
    match cli.cmd {
        Cmd::List => list(&root),
        Cmd::Env => {
            let lt = libtorch::ensure(&root)?;
            for (k, v) in lt.env() {
                println!("export {k}={v:?}");
            }
            Ok(())
        }
        Cmd::Fetch { what, mirror, write_manifest_from } => {
            if let Some(dir) = write_manifest_from {
                print!("{}", fetch::manifest_files_from_mirror(&dir)?);
                return Ok(());
            }
            let names = datasets_for(&root, &what)?;
            for name in names {
                fetch_one(&root, &name, mirror.as_deref())?;
            }
            Ok(())
        }
        Cmd::Test { args } => {
            let lt = libtorch::ensure(&root)?;
            // The parity tests against TRL / PEFT / transformers run these pinned packages.
            libtorch::pip_install(&lt, libtorch::PYTHON_TEST_PACKAGES)?;
            fetch_all(&root)?;
            let mut cmd = cargo(&root, &lt);
            cmd.args(["test", "--release", "--workspace"]).args(&args);
            cmd.env("REPRO_DATA", root.join("datasets/.cache"));
            status(cmd, "cargo test")
        }
        Cmd::Bench { filter } => {
            // The evaluation benches (and their Python references) read the pinned data.
            fetch_all(&root)?;
            bench::run(&root, filter.as_deref())
        }
        Cmd::World { seed, extra } => {
            let lt = libtorch::ensure(&root)?;
            let mut cmd = cargo(&root, &lt);
            cmd.args(["run", "--release", "--quiet", "-p", "shared", "--bin", "world", "--"])
                .arg("--seed")
                .arg(seed.to_string())
                .args(&extra);
            status(cmd, "world")
        }
        Cmd::Export { slug, setting, out, max_pairs } => {
            if slug != "simpo" {
                bail!("export is implemented for simpo (the paper with paper-scale settings); {slug:?} has none");
            }
            let lt = libtorch::ensure(&root)?;
            let stem = Path::new(&setting).file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| setting.clone());
            let out = out.unwrap_or_else(|| root.join("exports").join(format!("{slug}-{stem}")));
            let mut cmd = cargo(&root, &lt);
            cmd.args(["run", "--release", "--quiet", "-p", &slug, "--", "--scale", "paper", "--setting", &setting, "--export"]).arg(&out);
            if let Some(n) = max_pairs {
                cmd.args(["--max-pairs", &n.to_string()]);
            }
            status(cmd, "export")
        }
        Cmd::Reproduce { slug, scale, device, seed, mirror, dry_run, extra } => {
            reproduce(&root, &slug, scale, device, seed, mirror.as_deref(), dry_run, &extra)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn reproduce(
    root: &Path,
    slug: &str,
    scale: Scale,
    device: Device,
    seed: u64,
    mirror: Option<&Path>,
    dry_run: bool,
    extra: &[String],
) -> Result<()> {
    let paper = papers::find(slug).with_context(|| format!("unknown paper {slug:?}; `cargo xtask list` shows the slugs"))?;
    if !papers::implemented(root, slug) {
        bail!("{slug} is not implemented yet (no papers/{slug}/); `cargo xtask list` shows what is");
    }
    let started = std::time::Instant::now();
    let lt = libtorch::ensure(root)?;
    for name in paper.datasets {
        fetch_one(root, name, mirror)?;
    }
    let scale_name = format!("{scale:?}").to_lowercase();
    let out = match scale {
        Scale::Mini => root.join("results").join(slug),
        Scale::Paper => root.join("results").join(slug).join("paper"),
        Scale::Smoke => root.join("target/smoke-results").join(slug),
    };
    let before = snapshot::take(&out);
    let mut cmd = cargo(root, &lt);
    cmd.args(["run", "--release", "--quiet", "-p", slug, "--"])
        .args(["--scale", &scale_name])
        .args(["--device", &format!("{device:?}").to_lowercase()])
        .args(["--seed", &seed.to_string()])
        .arg("--out")
        .arg(&out)
        .arg("--data")
        .arg(root.join("datasets/.cache"));
    if dry_run {
        cmd.arg("--dry-run");
    }
    cmd.args(extra);
    status(cmd, slug)?;
    if dry_run {
        return Ok(());
    }
    let after = snapshot::take(&out);
    println!("\n== {slug} ({scale_name}) against the committed snapshot in {}", out.strip_prefix(root).unwrap_or(&out).display());
    let changed = snapshot::report(&before, &after);
    if changed == 0 {
        println!("  unchanged: every table matches the snapshot");
    } else {
        println!("  {changed} file(s) changed; `git diff results/{slug}` shows all, commit them to update the snapshot");
    }
    println!("  total time {:.1} min", started.elapsed().as_secs_f64() / 60.0);
    Ok(())
}

fn list(root: &Path) -> Result<()> {
    println!("{:<25} {:<13} {:<8} title", "slug", "status", "tables");
    for p in papers::PAPERS {
        let implemented = papers::implemented(root, p.slug);
        let has_results = root.join("results").join(p.slug).join("README.md").exists()
            || std::fs::read_dir(root.join("results").join(p.slug)).map(|mut d| d.next().is_some()).unwrap_or(false);
        let status = if implemented {
            "implemented"
        } else if papers::started(root, p.slug) {
            "in progress"
        } else {
            "planned"
        };
        let tables = if has_results { "yes" } else { "-" };
        println!("{:<25} {:<13} {:<8} {}", p.slug, status, tables, p.title);
    }
    Ok(())
}

fn all_datasets(root: &Path) -> Result<Vec<String>> {
    let mut names = vec![];
    let dir = root.join("datasets");
    if !dir.is_dir() {
        return Ok(names);
    }
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "toml") {
            names.push(p.file_stem().unwrap().to_string_lossy().to_string());
        }
    }
    names.sort();
    Ok(names)
}

fn datasets_for(root: &Path, what: &str) -> Result<Vec<String>> {
    if what == "all" {
        return all_datasets(root);
    }
    if let Some(p) = papers::find(what) {
        if p.datasets.is_empty() {
            println!("{what} needs no external data (its miniature world is generated)");
        }
        return Ok(p.datasets.iter().map(|s| s.to_string()).collect());
    }
    if root.join("datasets").join(format!("{what}.toml")).exists() {
        return Ok(vec![what.to_string()]);
    }
    bail!("{what:?} is neither a paper slug nor a dataset in datasets/ (try `cargo xtask list`)")
}

/// Every dataset of `datasets/`, from the default mirror or by download.
fn fetch_all(root: &Path) -> Result<()> {
    for name in all_datasets(root)? {
        fetch_one(root, &name, None)?;
    }
    Ok(())
}

fn fetch_one(root: &Path, name: &str, mirror: Option<&Path>) -> Result<()> {
    let r = fetch::fetch(root, name, mirror)?;
    eprintln!(
        "    {name}: {} fetched, {} already present{}",
        r.fetched,
        r.cached,
        if r.missing_optional.is_empty() {
            String::new()
        } else {
            format!(", {} optional file(s) not available", r.missing_optional.len())
        }
    );
    Ok(())
}

/// A `cargo` command with the libtorch environment set.
pub(crate) fn cargo(root: &Path, lt: &libtorch::Libtorch) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    for (k, v) in lt.env() {
        cmd.env(k, v);
    }
    cmd
}

pub(crate) fn status(mut cmd: Command, what: &str) -> Result<()> {
    let st = cmd.status().with_context(|| format!("cannot start {what}"))?;
    if !st.success() {
        bail!("{what} failed ({st})");
    }
    Ok(())
}
