//! `cargo xtask`: the one entry point of the project.
//!
//! It never links libtorch itself. It finds (or installs) PyTorch 2.11.0,
//! sets `LIBTORCH`, `LIBTORCH_CXX11_ABI` and `LD_LIBRARY_PATH` for every cargo
//! command it spawns, fetches pinned data, runs a paper's pipeline and compares
//! the regenerated tables with the committed snapshots: byte for byte for tables recomputed from
//! published data, within the committed intervals and verdicts for trained miniatures
//! (`stats::compare`). `cargo xtask claims` collects every paper's claims into the ledger.

mod bench;
mod book;
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
        /// The seed that drives every random number generator of the run; with `--seeds N`, the
        /// first of the seeds S, S+1, ..., S+N-1.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// How many seeds of the whole pipeline to run (pair data, training, sampling).
        #[arg(long, default_value_t = 1)]
        seeds: u64,
        /// Copy data from this folder (laid out like upstream) instead of downloading it.
        #[arg(long)]
        mirror: Option<PathBuf>,
        /// Print the plan (models, data, memory and time estimates) and stop.
        #[arg(long)]
        dry_run: bool,
        /// Write the regenerated tables here instead of into `results/<slug>/`, and compare them
        /// with the committed snapshot there (which is left untouched; no ledger rewrite).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Extra arguments passed to the paper's binary after `--`.
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// Compare tables regenerated elsewhere (e.g. `reproduce --out DIR` on another machine or
    /// with another thread count) with the committed snapshot in `results/<slug>/`: number by
    /// number against the committed intervals, and verdict by verdict.
    Diff {
        /// The paper's slug.
        slug: String,
        /// The folder holding the regenerated tables.
        dir: PathBuf,
    },
    /// Build the reading-group book (mdBook) from the walkthroughs and `results/` into
    /// `target/book/html/`; fails on a broken link. Installs mdbook into `target/tools/` once.
    Book {
        /// Also open the front page and one paper chapter in headless Chromium, screenshot them
        /// and fail unless their tables and plots render.
        #[arg(long)]
        check: bool,
        /// The chapter the browser check opens (a paper slug).
        #[arg(long, default_value = "simpo")]
        chapter: String,
        /// Build from this checkout instead of this one (the clean-clone test uses it).
        #[arg(long, hide = true)]
        root: Option<PathBuf>,
        /// Where to build (default: `target/book/` of the checkout).
        #[arg(long)]
        out: Option<PathBuf>,
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
    /// Cross-paper comparisons recomputed from the papers' committed per-prompt records (no
    /// training): `nash` puts SPPO, DNO, INPO and the iterative DPO/IPO baselines side by side
    /// in `results/nash/` (run `reproduce sppo`, `dno` and `inpo` first).
    Compare {
        /// The family: `nash`.
        family: String,
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
    /// Print the claims ledger: every claim of every paper with its verdict, interval and seeds
    /// (collects `results/*/claims.csv` and rewrites `results/claims.{csv,md}`).
    Claims,
    /// Benchmarks: Rust (criterion) next to the PyTorch / Python reference, with the ratio.
    Bench {
        /// Only benchmarks whose name contains this.
        filter: Option<String>,
    },
    /// Print the environment the runner gives cargo (for running cargo by hand).
    Env,
    /// Serve a checkpoint (folder or hub id) over the OpenAI-compatible API (`/v1/models`,
    /// `/v1/chat/completions`, `/v1/completions`); `--world-judge` serves the miniature world's
    /// judge instead. Everything after the command goes to the server (`-- --help` lists it).
    Serve {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Judge a model's outputs through an OpenAI-compatible judge: `alpaca-eval` (annotations,
    /// raw and length-controlled win rates, a leaderboard row) or `wildbench` (WB-Score, WB-Reward).
    Evaluate {
        /// `alpaca-eval` or `wildbench`.
        benchmark: String,
        /// Passed to the evaluator, e.g. `--model-outputs FILE --judge-url URL --judge-model NAME`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Show the miniature world: prompts, demonstrations, the base model's answers and the judges' verdicts.
    World {
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(last = true)]
        extra: Vec<String>,
    },
}

/// The official OpenAI Python client the API tests talk to `serve` with (pinned).
const OPENAI_PYTHON: &str = "openai==3.63.0";

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
        Cmd::Claims => {
            let ledger = write_ledger(&root)?;
            print!("{}", ledger.to_markdown());
            Ok(())
        }
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
            // The book's tests build it with mdbook (installed into target/tools/ once).
            book::ensure_mdbook(&root, true)?;
            // shared::rl's golden test recomputes its fixtures with TRL 0.11.4's PPO (own folder).
            let trl_ppo = root.join(".venv/extra/trl-0.11.4");
            libtorch::pip_install_trl_ppo(&lt, &trl_ppo)?;
            fetch_all(&root)?;
            // The API tests drive `serve` with the official OpenAI Python client.
            libtorch::pip_install(&lt, &[OPENAI_PYTHON])?;
            let mut cmd = cargo(&root, &lt);
            cmd.args(["test", "--release", "--workspace"]).args(&args);
            cmd.env("REPRO_DATA", root.join("datasets/.cache"));
            cmd.env("REPRO_TRL_PPO", &trl_ppo);
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
        Cmd::Serve { args } => {
            let lt = libtorch::ensure(&root)?;
            let mut cmd = cargo(&root, &lt);
            cmd.args(["run", "--release", "--quiet", "-p", "shared", "--bin", "serve", "--"]).args(&args);
            cmd.env("REPRO_DATA", root.join("datasets/.cache"));
            status(cmd, "serve")
        }
        Cmd::Evaluate { benchmark, args } => {
            let (package, bin, datasets): (&str, &str, &[&str]) = match benchmark.as_str() {
                "alpaca-eval" | "alpaca_eval" => ("lc-alpacaeval", "evaluate-alpaca-eval", &["alpaca_eval", "alpaca_eval_hub", "alpaca_eval_annotator"]),
                "wildbench" => ("wildbench", "evaluate-wildbench", &["wildbench", "wildbench_templates"]),
                other => bail!("unknown benchmark {other:?}: `alpaca-eval` or `wildbench`"),
            };
            let lt = libtorch::ensure(&root)?;
            for d in datasets {
                fetch_one(&root, d, None)?;
            }
            let mut cmd = cargo(&root, &lt);
            cmd.args(["run", "--release", "--quiet", "-p", package, "--bin", bin, "--"]).arg("--data").arg(root.join("datasets/.cache")).args(&args);
            status(cmd, "evaluate")
        }
        Cmd::Compare { family } => {
            if family != "nash" {
                bail!("unknown comparison {family:?}: `nash` (SPPO, DNO, INPO side by side)");
            }
            let lt = libtorch::ensure(&root)?;
            let mut cmd = cargo(&root, &lt);
            cmd.args(["run", "--release", "--quiet", "-p", "shared", "--bin", "nash-compare"]);
            status(cmd, "compare nash")
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
        Cmd::Reproduce { slug, scale, device, seed, seeds, mirror, dry_run, out, extra } => {
            let seeds = stats::Seeds::new(seed, seeds)?;
            reproduce(&root, &slug, scale, device, seeds, mirror.as_deref(), dry_run, out.as_deref(), &extra)
        }
        Cmd::Book { check, chapter, root: from, out } => {
            let from = from.unwrap_or_else(|| root.clone());
            let book_dir = out.unwrap_or_else(|| from.join("target/book"));
            let mdbook = book::ensure_mdbook(&root, true)?;
            book::build(&from, &book_dir, &mdbook)?;
            if check {
                book::browser_check(&book_dir, &chapter)?;
            }
            println!("  open it: xdg-open {} (or any browser; no server needed)", book_dir.join("html/index.html").display());
            Ok(())
        }
        Cmd::Diff { slug, dir } => {
            papers::find(&slug).with_context(|| format!("unknown paper {slug:?}; `cargo xtask list` shows the slugs"))?;
            let committed_dir = root.join("results").join(&slug);
            let committed = stats::compare::read_snapshot(&committed_dir).with_context(|| format!("reading the committed snapshot in {}", committed_dir.display()))?;
            let regenerated = stats::compare::read_snapshot(&dir).with_context(|| format!("reading the regenerated tables in {}", dir.display()))?;
            if regenerated.numbers.is_none() && regenerated.claims.is_none() {
                bail!("{} holds no claims.csv or numbers.csv: point at the folder a `reproduce --out DIR` run wrote", dir.display());
            }
            println!("== {slug}: {} against the committed snapshot in results/{slug}", dir.display());
            if let Some(note) = cpu_math_note(&committed_dir, &dir) {
                println!("  note: {note}");
            }
            print!("{}", stats::compare::compare(&committed, &regenerated).render());
            Ok(())
        }
    }
}

/// Where a run without `--out` writes: the snapshot folder, except that a mini run of fewer
/// seeds than the committed tables goes to `target/mini-results/<slug>/` (compared with them, not
/// written over them); the second value says so.
fn default_out(root: &Path, slug: &str, scale: Scale, seeds: u64, snapshot_dir: &Path) -> (PathBuf, Option<String>) {
    if let Some((dir, committed)) = stats::compare::fewer_seeds_dir(root, slug, seeds).filter(|_| scale == Scale::Mini) {
        let why = format!(
            "the committed tables pool seeds {}; this run of {seeds} seed(s) writes to {} and is compared with them (`--seeds {}` regenerates the committed tables)",
            stats::seeds::describe(&committed),
            dir.strip_prefix(root).unwrap_or(&dir).display(),
            committed.len()
        );
        return (dir, Some(why));
    }
    (snapshot_dir.to_path_buf(), None)
}

#[cfg(test)]
mod out_tests {
    use super::*;

    #[test]
    fn a_run_of_fewer_seeds_does_not_overwrite_the_committed_tables() {
        let root = tempfile::tempdir().unwrap();
        let snap = root.path().join("results/simpo");
        std::fs::create_dir_all(&snap).unwrap();
        // No committed claims: the snapshot folder.
        assert_eq!(default_out(root.path(), "simpo", Scale::Mini, 1, &snap), (snap.clone(), None));
        let mut c = stats::Claims::new("simpo", "cargo xtask reproduce simpo --seeds 3");
        let iv = stats::Interval { estimate: 1.0, lo: 0.5, hi: 1.5, se: 0.2, level: 0.95, replicates: 2000, seeds: vec![0, 1, 2], prompts: 10, units: 30, scheme: stats::Scheme::Crossed };
        c.interval("x", "x", "x", stats::Direction::Greater, 0.0, &iv).unwrap();
        c.save(&snap).unwrap();
        let (dir, why) = default_out(root.path(), "simpo", Scale::Mini, 1, &snap);
        assert_eq!(dir, root.path().join("target/mini-results/simpo"));
        assert!(why.unwrap().contains("pool seeds 0, 1, 2 (3 seeds); this run of 1 seed(s) writes to target/mini-results/simpo"));
        assert_eq!(default_out(root.path(), "simpo", Scale::Mini, 3, &snap).0, snap);
        assert_eq!(default_out(root.path(), "simpo", Scale::Smoke, 1, &snap).0, snap);
    }

    #[test]
    fn a_change_of_cpu_math_is_noted() {
        let root = tempfile::tempdir().unwrap();
        let (old, pinned, again) = (root.path().join("old"), root.path().join("pinned"), root.path().join("again"));
        let line = "- CPU math: MKL_CBWR=AVX2,STRICT, ATEN_CPU_CAPABILITY=avx2\n";
        for (dir, text) in [(&old, "- seed: 0\n".to_string()), (&pinned, format!("- seed: 0\n{line}")), (&again, format!("- seed: 1\n{line}"))] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("run.md"), text).unwrap();
        }
        let note = cpu_math_note(&old, &pinned).unwrap();
        assert!(note.contains("committed: not pinned") && note.contains("this run: MKL_CBWR=AVX2,STRICT"), "{note}");
        assert_eq!(cpu_math_note(&pinned, &again), None);
        assert_eq!(cpu_math_note(&pinned, &root.path().join("nothing")), None);
    }
}

#[allow(clippy::too_many_arguments)]
fn reproduce(
    root: &Path,
    slug: &str,
    scale: Scale,
    device: Device,
    seeds: stats::Seeds,
    mirror: Option<&Path>,
    dry_run: bool,
    out_override: Option<&Path>,
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
    // Only a mini or paper run writes into results/ (the committed snapshots).
    let snapshot_dir = match scale {
        Scale::Mini => root.join("results").join(slug),
        Scale::Paper => root.join("results").join(slug).join("paper"),
        Scale::Smoke => root.join("target/smoke-results").join(slug),
    };
    let out = match out_override {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => {
            let (dir, why) = default_out(root, slug, scale, seeds.count, &snapshot_dir);
            if let Some(why) = why {
                println!("== {slug}: {why}");
            }
            dir
        }
    };
    let before = snapshot::take(&snapshot_dir);
    let committed = stats::compare::read_snapshot(&snapshot_dir).context("reading the committed snapshot")?;
    let mut cmd = cargo(root, &lt);
    cmd.args(["run", "--release", "--quiet", "-p", slug, "--"])
        .args(["--scale", &scale_name])
        .args(["--device", &format!("{device:?}").to_lowercase()])
        .args(["--seed", &seeds.first.to_string()])
        .args(["--seeds", &seeds.count.to_string()])
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
    let shown = out.strip_prefix(root).unwrap_or(&out).display().to_string();
    let run = if paper.published_data { "published data".to_string() } else { format!("{scale_name}, seeds {}", seeds.describe()) };
    println!("\n== {slug} ({run}) against the committed snapshot in {shown}");
    if paper.published_data {
        // Recomputed from published data: nothing is sampled, so the files must not change at all.
        let changed = snapshot::report(&before, &after);
        if changed == 0 {
            println!("  reproduced: every table matches the snapshot byte for byte");
        } else {
            println!("  {changed} file(s) changed; `git diff {shown}` shows all, commit them to update the snapshot");
        }
    } else {
        let regenerated = stats::compare::read_snapshot(&out).context("reading the regenerated tables")?;
        for note in committed.notes.iter().chain(&regenerated.notes).cloned().chain(cpu_math_note(&snapshot_dir, &out)) {
            println!("  note: {note}");
        }
        print!("{}", stats::compare::compare(&committed, &regenerated).render());
        let changed = snapshot::changed_files(&before, &after);
        if !changed.is_empty() {
            println!("  files whose bytes changed (expected with other seeds, or against tables made before the CPU math was pinned: see their run.md; `git diff {shown}`): {}", changed.join(", "));
        }
    }
    if scale != Scale::Smoke && out_override.is_none() {
        match write_ledger(root) {
            Ok(l) => println!("  ledger: results/claims.md rewritten ({} claims)", l.rows().count()),
            Err(e) => println!("  ledger not rewritten: {e:#}"),
        }
    }
    println!("  total time {:.1} min", started.elapsed().as_secs_f64() / 60.0);
    Ok(())
}

/// Collect every `results/*/claims.csv` into `results/claims.{csv,md}`; implemented papers that
/// wrote no claims yet are listed in the Markdown.
fn write_ledger(root: &Path) -> Result<stats::ledger::Ledger> {
    let results = root.join("results");
    let mut ledger = stats::ledger::collect(&results)?;
    for p in papers::PAPERS {
        if papers::implemented(root, p.slug) && !results.join(p.slug).join("claims.csv").exists() {
            ledger.other_format.push((format!("results/{}/claims.csv", p.slug), format!("not written yet; run `cargo xtask reproduce {}`", p.slug)));
        }
    }
    ledger.save(&results)?;
    Ok(ledger)
}

fn list(root: &Path) -> Result<()> {
    println!("{:<25} {:<13} {:<8} title", "slug", "status", "tables");
    for p in papers::PAPERS {
        let implemented = papers::implemented(root, p.slug);
        let has_results = root.join("results").join(p.slug).join("README.md").exists()
            || std::fs::read_dir(root.join("results").join(p.slug)).map(|mut d| d.next().is_some()).unwrap_or(false);
        let status = if implemented && has_results {
            "implemented"
        } else if implemented {
            "smoke only"
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

/// The `- CPU math:` line of a results folder's `run.md` (`shared::device::cpu_math`), if any.
fn cpu_math(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("run.md")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("- CPU math: ")).map(str::to_string)
}

/// A note when the committed and the regenerated tables were made with different CPU math (the
/// committed ones before it was pinned, or a user's override): then not even the same seed is
/// expected to give the same numbers.
fn cpu_math_note(committed: &Path, regenerated: &Path) -> Option<String> {
    let (a, b) = (cpu_math(committed), cpu_math(regenerated));
    if a == b || !regenerated.join("run.md").exists() {
        return None;
    }
    let say = |m: Option<String>| m.unwrap_or_else(|| "not pinned (made before the pin)".into());
    Some(format!("CPU math differs (committed: {}; this run: {}): the same seed gives other numbers, so compare within the bands, not bit for bit", say(a), say(b)))
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
