//! A look inside the miniature world: sample prompts and demonstrations, the cached SFT base's
//! answers with oracle scores and judge verdicts, and the mini AlpacaEval table.
//! Run with `cargo xtask world [--seed N]`.

use anyhow::Context;
use clap::Parser;
use shared::cli::Scale;
use shared::world::{self, World, WorldConfig};
use std::path::PathBuf;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value = "mini")]
    scale: Scale,
    /// A world config (TOML); default: the built-in one.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where the tables go (default: `results/world` at mini scale, `target/smoke-results/world`
    /// at smoke scale; smoke tables never go into `results/`).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let repo_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out_dir = shared::cli::results_dir(args.scale, args.out.as_deref(), &repo_root, "world")?;
    let cfg = match &args.config {
        Some(p) => WorldConfig::load(p)?,
        None => WorldConfig::default(),
    };
    println!("# world config ({})\n{}", world::WORLD_VERSION, cfg.to_toml());
    let w = World::new(cfg.clone())?;
    let mut rng = world::rng(args.seed, "look");
    println!("## Sample demonstrations (kind: prompt -> response  [oracle r*])");
    for d in w.demos(12, &mut rng) {
        let g = w.oracle.grade(&d.prompt, &d.response);
        println!("  {:<8} {:<32} -> {:<40} [{:.2}{}]", format!("{:?}", d.kind), d.prompt.text(), d.response, g.score, if g.correct { " correct" } else { "" });
    }
    let x = w.train_prompts(1, &mut rng).remove(0);
    let gold = w.gold(&x);
    let wordy = format!("{gold} as asked hope it helps");
    println!("\n## Judges on one prompt: {}", x.text());
    println!("  gold {gold:?}: r* {:.2}, checklist {:.1}/10", w.oracle.score(&x, &gold), w.checklist.score(&x, &gold));
    println!("  wordy {wordy:?}: r* {:.2}, checklist {:.1}/10, P(wordy > gold) = {:.2} (length bias {})", w.oracle.score(&x, &wordy), w.checklist.score(&x, &wordy), w.judge.prob_both_orders(&x, &wordy, &gold), cfg.judge.length_bias);

    let root = world::base::checkpoints_root();
    println!("\n## SFT base (cache under {})", root.display());
    let t0 = std::time::Instant::now();
    let out = world::pipeline::run(&cfg, args.scale, args.seed, &root).context("running the world pipeline")?;
    match out.sft_seconds {
        Some(s) => println!("  trained in {s:.1} s ({})", out.base_dir.display()),
        None => println!("  loaded from {}", out.base_dir.display()),
    }
    println!("\n## The base's answers (T=1) on mini AlpacaEval prompts");
    for (p, y, s, j) in &out.examples {
        println!("  {p:<32} -> {y:<40} r* {s:.2}  P(beats baseline) {j:.2}");
    }
    println!("\n{}\n{}\n{}", out.eval.to_markdown(), out.base.to_markdown(), out.onpolicy.to_markdown());
    out.eval.save(&out_dir, "mini_alpacaeval")?;
    out.onpolicy.save(&out_dir, "onpolicy_dpo")?;
    out.base.save(&out_dir, "base_by_family")?;
    shared::io::write_atomic(&out_dir.join("world.toml"), cfg.to_toml().as_bytes())?;
    println!("tables written to {} ({:.1} s in all)", out_dir.display(), t0.elapsed().as_secs_f64());
    Ok(())
}
