//! The command line every paper binary shares; `cargo xtask reproduce` fills it in.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Seconds: the same pipeline, tiny, for tests.
    Smoke,
    /// Minutes on a 2-core CPU: the committed tables.
    Mini,
    /// The paper's models, data and hyperparameters (GPU).
    Paper,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Mini => "mini",
            Scale::Paper => "paper",
        }
    }
}

#[derive(Clone, Debug, clap::Parser)]
pub struct RunArgs {
    #[arg(long, value_enum, default_value = "mini")]
    pub scale: Scale,
    /// `cpu` or `cuda` (bf16 on CUDA where the config asks for it).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The seed driving every random number generator of a run; with `--seeds N`, the first of
    /// the seeds S, S+1, ..., S+N-1.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How many seeds of the whole pipeline (pair data, training, sampling at evaluation) to run.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Where the tables go (default: `results/<slug>` at mini scale, `results/<slug>/paper` at
    /// paper scale, `target/smoke-results/<slug>` at smoke scale; smoke never writes into `results/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Root of the fetched data (laid out like `datasets/.cache`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Print the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// CPU threads for libtorch (default: the config's value).
    #[arg(long)]
    pub threads: Option<i32>,
    /// A results folder pooling several seeds of the same miniature, whose spread between seeds
    /// widens the intervals of a one-seed run (`shared::stats::spread`). Default at mini scale:
    /// `results/<slug>/`, the committed snapshot.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Leave a one-seed run's intervals as they are (prompts and samples of this run only).
    #[arg(long)]
    pub no_seed_spread: bool,
}

impl RunArgs {
    /// The seeds of this run: `--seed S --seeds N` → S, S+1, ..., S+N-1.
    pub fn seed_list(&self) -> Result<Vec<u64>> {
        Ok(stats::Seeds::new(self.seed, self.seeds)?.list())
    }

    /// Where this run's tables go ([`results_dir`]), except that a mini run of fewer seeds than
    /// the committed snapshot, with no `--out`, goes to `target/mini-results/<slug>` (it is
    /// compared with the snapshot, not written over it).
    pub fn results_dir(&self, repo_root: &Path, slug: &str) -> Result<PathBuf> {
        if self.out.is_none() && self.scale == Scale::Mini {
            if let Some((dir, _)) = stats::compare::fewer_seeds_dir(repo_root, slug, self.seeds) {
                return Ok(dir);
            }
        }
        results_dir(self.scale, self.out.as_deref(), repo_root, slug)
    }

    /// The folder whose per-prompt records widen a one-seed run's intervals by their spread
    /// between seeds (`shared::stats::spread`): `--reference`, or at mini scale the committed
    /// `results/<slug>/`; `None` for a run of several seeds, with `--no-seed-spread`, or at
    /// another scale without `--reference`. [`crate::report::RunInfo::bootstrap`] checks it.
    pub fn reference_dir(&self, repo_root: &Path, slug: &str) -> Option<PathBuf> {
        if self.seeds != 1 || self.no_seed_spread {
            return None;
        }
        match (&self.reference, self.scale) {
            (Some(d), _) => Some(d.clone()),
            (None, Scale::Mini) => Some(repo_root.join("results").join(slug)),
            _ => None,
        }
    }
}

/// Where a run's tables go: `--out` when given, else `results/<slug>` (mini),
/// `results/<slug>/paper` (paper) or `target/smoke-results/<slug>` (smoke). Only a mini or paper
/// run writes into `results/`, whose files are the committed snapshots: a smoke run pointed
/// there is an error.
pub fn results_dir(scale: Scale, out: Option<&Path>, repo_root: &Path, slug: &str) -> Result<PathBuf> {
    let dir = match (out, scale) {
        (Some(o), _) => o.to_path_buf(),
        (None, Scale::Mini) => repo_root.join("results").join(slug),
        (None, Scale::Paper) => repo_root.join("results").join(slug).join("paper"),
        (None, Scale::Smoke) => repo_root.join("target/smoke-results").join(slug),
    };
    if scale == Scale::Smoke && absolute(&dir).starts_with(absolute(&repo_root.join("results"))) {
        return Err(Error::invalid(
            format!("--out {}", dir.display()),
            "smoke-scale tables never go into results/ (its files are the committed mini and paper snapshots); leave --out out (target/smoke-results/) or pick another folder",
        ));
    }
    Ok(dir)
}

/// `p` made absolute with symbolic links and `..` resolved as far as it exists.
fn absolute(p: &Path) -> PathBuf {
    let p = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    // `..` resolved lexically first, so a path through a folder that does not exist yet compares too.
    let mut lexical = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                lexical.pop();
            }
            std::path::Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    let p = lexical;
    let mut rest = vec![];
    let mut cur = p.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            return rest.iter().rev().fold(c, |acc, part| acc.join(part));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn seeds_and_where_the_tables_go() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("results/simpo")).unwrap();
        let a = RunArgs::try_parse_from(["x", "--seed", "4", "--seeds", "3"]).unwrap();
        assert_eq!(a.seed_list().unwrap(), vec![4, 5, 6]);
        assert!(RunArgs::try_parse_from(["x", "--seeds", "0"]).unwrap().seed_list().is_err());
        assert_eq!(a.results_dir(r, "simpo").unwrap(), r.join("results/simpo"));
        let smoke = RunArgs::try_parse_from(["x", "--scale", "smoke"]).unwrap();
        assert_eq!(smoke.results_dir(r, "simpo").unwrap(), r.join("target/smoke-results/simpo"));
        for bad in [r.join("results/simpo"), r.join("results/new/deeper"), r.join("target/../results/simpo")] {
            let e = results_dir(Scale::Smoke, Some(&bad), r, "simpo").unwrap_err().to_string();
            assert!(e.contains("never go into results/"), "{e}");
        }
        assert!(results_dir(Scale::Smoke, Some(&r.join("results-elsewhere")), r, "simpo").is_ok());
        assert_eq!(results_dir(Scale::Paper, None, r, "simpo").unwrap(), r.join("results/simpo/paper"));
    }
}
