//! `cargo xtask reproduce lc-alpacaeval`: recompute raw and LC win rates of every model with
//! judge annotations, write the tables to `results/lc-alpacaeval/`, print a one-screen summary.

use anyhow::{Context, Result};
use clap::Parser;
use lc_alpacaeval::{pipeline::Options, run, tables};
use shared::cli::RunArgs;

/// The shared paper arguments plus the explicit refit of the instruction difficulty.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    run: RunArgs,
    /// Re-estimate the instruction difficulty with the joint GLM over every model found (moves
    /// every model's LC when models are added); default: the frozen vector.
    #[arg(long)]
    refit_difficulty: bool,
}
use shared::eval::alpaca_eval as ae;
use shared::report::Table;
use std::path::PathBuf;

fn main() -> Result<()> {
    let Args { run: args, refit_difficulty } = Args::parse();
    let data = args.data.clone().or_else(shared::io::data_root).context("no data folder: pass --data or run `cargo xtask fetch lc-alpacaeval`")?;
    let root = data.join("alpaca_eval");
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results/lc-alpacaeval"));
    // The frozen d (upstream's file when at hand, else the committed estimate) unless a refit is asked for.
    let difficulty_file = (!refit_difficulty).then(|| lc_alpacaeval::pipeline::frozen_difficulty_file(&data));
    if args.dry_run {
        println!("lc-alpacaeval: read {}, difficulty {:?}, write {}", root.display(), difficulty_file, out.display());
        return Ok(());
    }
    let t0 = std::time::Instant::now();
    let report = run(&root, &Options { difficulty_file }).with_context(|| format!("recomputing LC from {}", root.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    let bench = ae::load_benchmarks(&ae::benchmarks_path(&root))?;

    let lc = tables::lc_table(&report);
    let corr = tables::correlation_table(&report, &bench);
    let (game, game_summary) = tables::gameability_table(&report);
    lc.save(&out, "lc_winrates")?;
    corr.save(&out, "arena_correlation")?;
    game.save(&out, "gameability")?;
    game_summary.save(&out, "gameability_summary")?;
    let mut d = Table::new("Instruction difficulty used (d_i by row position)", &["index", "instruction_difficulty"]);
    for (i, v) in report.difficulty.iter().enumerate() {
        d.push(vec![shared::report::Cell::Int(i as i64), shared::report::Cell::num(*v, 6)]);
    }
    d.save(&out, "instruction_difficulty")?;
    let claims = lc_alpacaeval::claims::claims(&report, &bench, "cargo xtask reproduce lc-alpacaeval")?;
    claims.save(&out)?;

    println!("LC AlpacaEval: {} models recomputed in {secs:.1} s ({} skipped)", report.rows.len(), report.errors.len());
    println!("{:<36} {:>8} {:>8} {:>8} {:>8} {:>7}", "model", "raw", "raw(lb)", "LC", "LC(pub)", "diff");
    for r in &report.rows {
        let p = r.published.as_ref();
        let lcp = p.and_then(|p| p.length_controlled_winrate);
        println!(
            "{:<36} {:>8.3} {:>8} {:>8.2} {:>8} {:>7}",
            r.model,
            r.raw.win_rate,
            p.map(|p| format!("{:.3}", p.win_rate)).unwrap_or("-".into()),
            r.lc.lc_win_rate,
            lcp.map(|v| format!("{v:.2}")).unwrap_or("-".into()),
            lcp.map(|v| format!("{:+.2}", r.lc.lc_win_rate - v)).unwrap_or("-".into())
        );
    }
    if let Some((mean, max, n)) = lc_alpacaeval::Report::lc_deviation(report.rows.iter()) {
        println!("|LC - published| over {n} models: mean {mean:.2}, max {max:.2}");
    }
    for row in &corr.rows {
        println!("{:<40} {:<28} Spearman {:>7} Kendall {:>7}", row[0].render(), row[1].render(), row[3].render(), row[4].render());
    }
    for (m, e) in &report.errors {
        println!("skipped {m}: {e}");
    }
    println!("{}", claims.to_markdown());
    println!("tables in {}", out.display());
    Ok(())
}
