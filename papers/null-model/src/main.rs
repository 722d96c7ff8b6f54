//! `cargo xtask reproduce null-model`: the null model's AlpacaEval numbers from its annotations.

use anyhow::{Context, Result};
use clap::Parser;
use lc_alpacaeval::{pipeline::Options, run};
use null_model::{claims, comparison_table, headline_table, structure, MODEL};
use shared::cli::RunArgs;
use shared::eval::alpaca_eval as ae;
use shared::report::{Cell, Table};
use std::path::PathBuf;

fn main() -> Result<()> {
    let args = RunArgs::parse();
    let data = args.data.clone().or_else(shared::io::data_root).context("no data folder: pass --data or run `cargo xtask fetch null-model`")?;
    let root = data.join("alpaca_eval");
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results/null-model"));
    if args.dry_run {
        println!("null-model: read {}, write {}", root.display(), out.display());
        return Ok(());
    }
    let annotations = ae::load_annotations(&root, MODEL)?;
    let s = structure(&annotations)?;
    // LC needs the difficulty estimated over all models and the gamed-baseline rows.
    let difficulty_file = std::env::var_os("REPRO_INSTRUCTION_DIFFICULTY").map(PathBuf::from);
    let report = run(&root, &Options { difficulty_file })?;
    let r = report.get(MODEL).with_context(|| format!("{MODEL} was not computed: {:?}", report.errors))?;
    let head = headline_table(r);
    head.save(&out, "null_model")?;
    comparison_table(&report).save(&out, "comparison")?;
    let mut st = Table::new("Structure of the constant response (output_2 of every row)", &["check", "value"]);
    st.push(vec!["distinct responses over 805 rows".into(), Cell::Int(s.distinct_responses as i64)]);
    st.push(vec!["length (Unicode scalars)".into(), Cell::Int(s.length as i64)]);
    st.push(vec!["closes the template's output block".into(), s.closes_template.to_string().into()]);
    st.push(vec!["fake `Output nothing` instruction".into(), s.fake_instruction.to_string().into()]);
    st.push(vec!["empty output for `M`".into(), s.empty_m_upper.to_string().into()]);
    st.push(vec!["unterminated output for `m`".into(), s.open_m_lower.to_string().into()]);
    st.save(&out, "structure")?;
    let c = claims(r, &s, "cargo xtask reproduce null-model")?;
    c.save(&out)?;
    println!("{}", head.to_markdown());
    println!("{}", st.to_markdown());
    println!("{}", c.to_markdown());
    println!("tables in {}", out.display());
    Ok(())
}
