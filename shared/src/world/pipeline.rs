//! The world's own pipeline (what `cargo xtask world` runs): build or load the cached SFT base,
//! sample from it greedily, at T = 1 and best-of-4 by oracle, and evaluate everything on the mini
//! AlpacaEval against the fixed baseline; then run iterative on-policy DPO from the base
//! ([`super::onpolicy`]). Returns the tables and a few example lines.

use super::alpaca::{EvalRow, MiniAlpacaEval};
use super::base::{self, BaseConfig};
use super::policy::{decoding, sample_texts};
use super::{World, WorldConfig};
use crate::cli::Scale;
use crate::error::Result;
use crate::report::{Cell, Table};
use std::path::Path;

pub struct Outcome {
    pub eval: Table,
    pub base: Table,
    /// (prompt, response, oracle score, judge P(response ≻ baseline)) for a few eval prompts.
    pub examples: Vec<(String, String, f64, f64)>,
    pub base_trained: bool,
    pub sft_seconds: Option<f64>,
    pub base_dir: std::path::PathBuf,
    /// Iterative on-policy DPO from the base (the shared loop's end-to-end check).
    pub onpolicy: Table,
}

/// Prompts evaluated at each scale (smoke evaluates the first 48 of the fixed set).
pub fn eval_size(scale: Scale) -> usize {
    match scale {
        Scale::Smoke => 48,
        _ => usize::MAX,
    }
}

pub fn run(world_cfg: &WorldConfig, scale: Scale, seed: u64, ckpt_root: &Path) -> Result<Outcome> {
    let world = World::new(world_cfg.clone())?;
    let bcfg = BaseConfig::for_scale(scale);
    crate::device::set_threads(bcfg.threads);
    let b = base::ensure(&world, &bcfg, seed, ckpt_root, tch::Device::Cpu)?;
    let mut bench = MiniAlpacaEval::new(&world);
    let n = eval_size(scale).min(bench.prompts.len());
    bench.prompts.truncate(n);
    bench.baseline.truncate(n);
    let batch = 128;
    let greedy = sample_texts(&b.model, &b.tok, &bench.prompts, &decoding(0.0, seed, &b.tok), batch)?;
    let mut samples = vec![];
    for k in 0..4u64 {
        samples.push(sample_texts(&b.model, &b.tok, &bench.prompts, &decoding(1.0, seed.wrapping_add(1000 * (k + 1)), &b.tok), batch)?);
    }
    let best_of_4: Vec<String> = (0..n)
        .map(|i| {
            let x = &bench.prompts[i];
            let mut best = samples[0][i].clone();
            for s in &samples[1..] {
                if world.oracle.score(x, &s[i]) > world.oracle.score(x, &best) {
                    best = s[i].clone();
                }
            }
            best
        })
        .collect();
    let mut rng = super::rng(seed, "mini-alpaca-eval");
    let rows: Vec<EvalRow> = vec![
        bench.evaluate(&world, "baseline (partial oracle)", &bench.baseline.clone(), &mut rng)?,
        bench.evaluate(&world, "SFT base, greedy", &greedy, &mut rng)?,
        bench.evaluate(&world, "SFT base, T=1", &samples[0], &mut rng)?,
        bench.evaluate(&world, "SFT base, best-of-4 by oracle (T=1)", &best_of_4, &mut rng)?,
    ];
    let mut eval = MiniAlpacaEval::table(&format!("Mini AlpacaEval ({n} prompts, scale {}, seed {seed})", scale.name()), &rows);
    // Per-family accuracy of T = 1 samples (where the headroom is).
    let mut fam = Table::new("SFT base accuracy by task family (T=1, mini AlpacaEval prompts)", &["family", "prompts", "accuracy % (T=1)", "accuracy % (greedy)", "oracle (T=1)"]);
    for f in super::task::FAMILIES {
        let idx: Vec<usize> = (0..n).filter(|&i| bench.prompts[i].family == f).collect();
        if idx.is_empty() {
            continue;
        }
        let acc = |ys: &[String]| 100.0 * idx.iter().filter(|&&i| world.oracle.grade(&bench.prompts[i], &ys[i]).correct).count() as f64 / idx.len() as f64;
        let orc = idx.iter().map(|&i| world.oracle.score(&bench.prompts[i], &samples[0][i])).sum::<f64>() / idx.len() as f64;
        fam.push(vec![f.name().into(), Cell::Int(idx.len() as i64), Cell::num(acc(&samples[0]), 1), Cell::num(acc(&greedy), 1), Cell::num(orc, 3)]);
    }
    eval.note(format!("SFT base: {} (cache key folder {}).", if b.trained { "trained in this run" } else { "loaded from the cache" }, b.dir.file_name().unwrap_or_default().to_string_lossy()));
    let onpolicy = super::onpolicy::dpo_check(&world, &b, &bench, scale, seed)?;
    let examples = (0..n.min(12))
        .map(|i| {
            let x = &bench.prompts[i];
            (x.text(), samples[0][i].clone(), world.oracle.score(x, &samples[0][i]), world.judge.prob_both_orders(x, &samples[0][i], &bench.baseline[i]))
        })
        .collect();
    Ok(Outcome { eval, base: fam, examples, base_trained: b.trained, sft_seconds: b.report.as_ref().map(|r| r.seconds), base_dir: b.dir, onpolicy })
}
