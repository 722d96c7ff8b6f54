//! How the resolution of the headline comparisons grows with the evaluation: the 95% interval
//! of SimPO − DPO, SimPO − SFT and SimPO − SimPO γ=0 (LC WR) when only the first 300, 600, 1200,
//! 1800 or 2400 prompts of the mini AlpacaEval are kept, over all seeds of the run and over each
//! seed alone. Reads a results folder written by the pipeline (its `table4_mini.per_prompt.csv`).
//!
//! ```sh
//! eval "$(cargo xtask env)"
//! cargo run --release -p simpo --example halfwidths -- results/simpo 2400
//! ```

use anyhow::{Context, Result};
use shared::stats::{Bootstrap, Records};
use shared::world::alpaca::{headline_diff, Headline};
use std::collections::HashSet;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().context("usage: halfwidths <results dir> <eval_prompts of its run>")?);
    let total: usize = args.next().context("usage: halfwidths <results dir> <eval_prompts of its run>")?.parse().context("eval_prompts must be a number")?;
    let r = Records::load(&dir, "table4_mini").with_context(|| format!("reading the per-prompt records in {}", dir.display()))?;
    let world = shared::world::World::new(shared::world::WorldConfig::default())?;
    let bench = simpo::pipeline::benchmark(&world, Some(total))?;
    let ids = simpo::pipeline::prompt_ids(&bench.prompts);
    // Sample numbers run on across repeats of a prompt (one sample per repeat with eval_samples = 1).
    let boot = Bootstrap { replicates: 1000, ..Bootstrap::default() };
    let h = Headline { lc: true };
    let seeds = r.seeds();
    println!("| prompts | distinct | seeds | setup | comparison | estimate | 95% interval | half-width |\n|---|---|---|---|---|---|---|---|");
    for n in [300usize, 600, 1200, 1800, 2400].into_iter().filter(|n| *n <= total) {
        let keep: HashSet<(String, u32)> = ids[..n].iter().cloned().collect();
        let distinct = ids[..n].iter().filter(|(_, k)| *k == 0).count();
        for ss in std::iter::once(seeds.clone()).chain(seeds.iter().map(|s| vec![*s])) {
            let sub = Records { metrics: r.metrics.clone(), rows: r.rows.iter().filter(|x| ss.contains(&x.seed) && keep.contains(&(x.prompt.clone(), x.sample))).cloned().collect() };
            for setup in ["base", "instruct"] {
                for other in ["DPO", "SFT", "SimPO γ=0"] {
                    let b = if other == "SFT" { other.to_string() } else { format!("{setup}/{other}") };
                    let Ok((iv, _)) = headline_diff(&boot, &sub, &format!("{setup}/SimPO"), &b, h) else { continue };
                    let ss_: Vec<String> = ss.iter().map(|s| s.to_string()).collect();
                    println!("| {n} | {distinct} | {} | {setup} | SimPO − {other} | {:.2} | [{:.2}, {:.2}] | {:.2} |", ss_.join(","), iv.estimate, iv.lo, iv.hi, iv.half_width());
                }
            }
        }
    }
    Ok(())
}
