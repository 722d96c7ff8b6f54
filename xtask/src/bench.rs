//! `cargo xtask bench`: criterion benchmarks next to their Python references.
//!
//! Every criterion benchmark whose id matches a Python reference's name is
//! printed side by side with it. Python references are scripts
//! `shared/benches/*.py` and `papers/*/benches/*.py`; each prints one JSON
//! object per line, `{"name": "<criterion id>", "seconds": <mean seconds per iteration>}`,
//! and may name extra PyPI packages it needs on a line `# requires: pkg1 pkg2`.

use crate::{cargo, libtorch, status};
use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Deserialize)]
struct PyResult {
    name: String,
    seconds: f64,
}

pub fn run(root: &Path, filter: Option<&str>) -> Result<()> {
    let lt = libtorch::ensure(root)?;
    let mut cmd = cargo(root, &lt);
    cmd.args(["bench", "--workspace", "--exclude", "xtask"]);
    cmd.env("REPRO_DATA", root.join("datasets/.cache"));
    if let Some(f) = filter {
        cmd.args(["--", f]);
    }
    status(cmd, "cargo bench")?;

    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    let rust = criterion_means(&target.join("criterion"));
    let mut python: BTreeMap<String, f64> = BTreeMap::new();
    for script in python_scripts(root)? {
        let text = std::fs::read_to_string(&script)?;
        if let Some(reqs) = text.lines().find_map(|l| l.strip_prefix("# requires:")) {
            let pkgs: Vec<&str> = reqs.split_whitespace().collect();
            libtorch::pip_install(&lt, &pkgs)?;
        }
        let py = lt.python.clone().context("Python references need the runner's Python (unset LIBTORCH)")?;
        eprintln!("==> python {}", script.strip_prefix(root).unwrap_or(&script).display());
        let mut c = Command::new(py);
        c.arg(&script).current_dir(root).env("REPRO_DATA", root.join("datasets/.cache"));
        if let Some(f) = filter {
            c.env("REPRO_BENCH_FILTER", f);
        }
        for (k, v) in lt.env() {
            c.env(k, v);
        }
        let out = c.output().with_context(|| format!("running {}", script.display()))?;
        if !out.status.success() {
            eprintln!("warning: {} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
            continue;
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Ok(r) = serde_json::from_str::<PyResult>(line) {
                python.insert(r.name, r.seconds);
            }
        }
    }

    println!("\n{:<48} {:>14} {:>14} {:>9}", "benchmark", "Rust (tch)", "Python", "Py/Rust");
    for (name, secs) in &rust {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let py = python.get(name);
        println!(
            "{:<48} {:>14} {:>14} {:>9}",
            name,
            fmt_time(*secs),
            py.map(|p| fmt_time(*p)).unwrap_or_else(|| "-".into()),
            py.map(|p| format!("{:.2}x", p / secs)).unwrap_or_else(|| "-".into())
        );
    }
    for (name, secs) in python.iter().filter(|(n, _)| !rust.contains_key(*n)) {
        println!("{:<48} {:>14} {:>14} {:>9}", name, "-", fmt_time(*secs), "-");
    }
    println!("(means per iteration; ratio > 1 means the Rust side is faster; one machine, one run)");
    Ok(())
}

fn python_scripts(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = vec![root.join("shared/benches")];
    if let Ok(rd) = std::fs::read_dir(root.join("papers")) {
        for e in rd.flatten() {
            dirs.push(e.path().join("benches"));
        }
    }
    let mut out = vec![];
    for d in dirs {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                // `_name.py` is a helper module the scripts import, not a benchmark.
                if e.path().extension().is_some_and(|x| x == "py") && !e.file_name().to_string_lossy().starts_with('_') {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Mean seconds per iteration of every criterion benchmark, by full id.
fn criterion_means(dir: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "benchmark.json") && p.parent().is_some_and(|q| q.ends_with("new")) {
                let est = p.with_file_name("estimates.json");
                let id = std::fs::read_to_string(&p).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
                let mean = std::fs::read_to_string(&est).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
                if let (Some(id), Some(mean)) = (id, mean) {
                    if let (Some(name), Some(ns)) = (id["full_id"].as_str(), mean["mean"]["point_estimate"].as_f64()) {
                        out.insert(name.to_string(), ns * 1e-9);
                    }
                }
            }
        }
    }
    out
}

fn fmt_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.3} µs", s * 1e6)
    }
}
