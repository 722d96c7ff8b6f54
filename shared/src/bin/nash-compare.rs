//! The Nash family side by side (`results/nash/`): SPPO, DNO, INPO and the iterative DPO/IPO
//! baselines from the same `π_0`, recomputed from the three crates' committed per-prompt records
//! (see `shared::nash::compare`). Run with `cargo xtask compare nash`.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
struct Args {
    /// The results folder holding `sppo/`, `dno/` and `inpo/` (default: the repository's).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Where the comparison goes (default: `<results>/nash`).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let results = args.results.unwrap_or_else(|| shared::driver::repo_root().join("results"));
    let out = args.out.unwrap_or_else(|| results.join("nash"));
    let c = shared::nash::compare::load(&results)?;
    c.save(&out)?;
    let boot = shared::stats::Bootstrap::default();
    print!("{}", c.summary(&boot)?.to_markdown());
    println!("\nwritten: {} (compare, pairwise, wr_iterations.svg, numbers.csv)", out.display());
    Ok(())
}
