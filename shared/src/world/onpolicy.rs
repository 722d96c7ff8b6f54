//! The on-policy check of the shared loop on the miniature world: iterative DPO from the SFT
//! base on best-vs-worst pairs of its own samples ranked by the oracle, the previous iterate as
//! reference ([`crate::train::iterate`]). After each iteration the policy answers the mini
//! AlpacaEval prompts at T = 1 with the same seed as the base; the table gives the mean oracle
//! score ± s.e. and the paired difference from the base ± s.e. (same prompts, so the paired s.e.
//! is the right yardstick for "better than the base").

use super::alpaca::{mean_and_se, MiniAlpacaEval};
use super::base::Base;
use super::policy::{decoding, sample_texts, MAX_RESPONSE_TOKENS};
use super::{rng, World};
use crate::cli::Scale;
use crate::error::Result;
use crate::model::generate::GenerateConfig;
use crate::objectives::dpo::Dpo;
use crate::report::{Cell, Table};
use crate::train::iterate::{self, GroupAnnotator, IterateConfig, PairStats, Reference};
use crate::train::pairs::PairRule;
use crate::train::schedule::Schedule;
use crate::train::TrainConfig;

/// The loop's settings per scale: (iterations, prompts per iteration, optimiser-step cap).
fn sizes(scale: Scale) -> (usize, usize, Option<u64>) {
    match scale {
        Scale::Smoke => (1, 32, Some(2)),
        _ => (2, 512, None),
    }
}

pub fn config(scale: Scale, seed: u64) -> IterateConfig {
    let (iterations, _, max_steps) = sizes(scale);
    let train = TrainConfig { epochs: 2, seed, keep_checkpoints: 1, max_steps, ..TrainConfig::new(32, 32, Schedule::cosine(3e-4, 0.1)).truncating(128, 72) };
    IterateConfig { iterations, reference: Reference::Previous, train, seed_per_iteration: false }
}

/// How the policy's samples are drawn: 4 per prompt at T = 1.
fn sampling(tok_eos: i64, seed: u64) -> GenerateConfig {
    GenerateConfig { max_new_tokens: MAX_RESPONSE_TOKENS, temperature: 1.0, top_p: 1.0, stop_tokens: vec![tok_eos], seed: seed ^ 0x1d0 }
}

/// Run iterative DPO from a copy of `base` and tabulate the oracle after each iteration. The
/// iterates live beside the cached base, in a folder keyed by the loop's settings, so a rerun
/// reuses (or resumes) them.
pub fn dpo_check(world: &World, base: &Base, bench: &MiniAlpacaEval, scale: Scale, seed: u64) -> Result<Table> {
    let tok = &base.tok;
    let cfg = config(scale, seed);
    let gen = sampling(tok.eos, seed);
    let (_, per_iter, _) = sizes(scale);
    let key = {
        use sha2::{Digest, Sha256};
        let text = format!("{}{}{per_iter}", serde_json::to_string(&cfg).expect("serialisable"), serde_json::to_string(&gen).expect("serialisable"));
        format!("{:x}", Sha256::digest(text.as_bytes()))[..12].to_string()
    };
    let run_dir = &base.dir.join(format!("onpolicy-dpo-{key}"));
    // Fresh prompts per iteration: as prompts (for the oracle) and as token ids (for the policy).
    let mut r = rng(seed, "onpolicy-dpo-prompts");
    let texts: Vec<Vec<super::Prompt>> = (0..cfg.iterations).map(|_| world.train_prompts(per_iter, &mut r)).collect();
    let prompts: Vec<Vec<Vec<i64>>> =
        texts.iter().map(|xs| xs.iter().map(|x| tok.encode_prompt(&x.text())).collect::<Result<Vec<_>>>()).collect::<Result<_>>()?;
    let (mut vs, policy) = base.model.copy_with(&base.vs)?;
    let dpo = Dpo::new(0.1);
    let scores = |y: &[String], xs: &[super::Prompt]| -> Vec<f64> { xs.iter().zip(y).map(|(x, y)| world.oracle.score(x, y)).collect() };
    let eval_gen = decoding(1.0, seed.wrapping_add(1000), tok);
    let base_ys = sample_texts(&base.model, tok, &bench.prompts, &eval_gen, 128)?;
    let base_scores = scores(&base_ys, &bench.prompts);
    let (bm, bse) = mean_and_se(&base_scores);
    let mut t = Table::new(
        "Iterative on-policy DPO on the miniature world (oracle-ranked best vs worst of 4 samples, previous iterate as reference)",
        &["model", "pairs", "oracle chosen / rejected", "oracle (T=1)", "Δ vs SFT base (paired)", "better than base by > 1 s.e."],
    );
    t.push(vec!["SFT base".into(), Cell::Missing, Cell::Missing, Cell::NumSe(bm, bse, 3), Cell::Missing, Cell::Missing]);
    // Train all iterations first (resumable), then evaluate each saved iterate.
    let mut annotator = GroupAnnotator {
        prompts,
        samples: 4,
        prompts_per_batch: 64,
        gen,
        rule: PairRule::BestVsWorst,
        pad: tok.pad,
        seed,
        decode: |ids: &[i64]| tok.decode_response(ids),
        score: |it: usize, i: usize, ys: &[String]| Ok(ys.iter().map(|y| world.oracle.score(&texts[it][i], y)).collect()),
    };
    let reports = iterate::run(&policy, &mut vs, &mut annotator, &dpo, &cfg, 0, "world-char-v1", run_dir)?;
    for rep in &reports {
        let stats: PairStats = serde_json::from_value(rep.stats.clone()).unwrap_or_default();
        crate::model::weights::load_into(&vs, &[run_dir.join(format!("iter-{}/model.safetensors", rep.iteration))], &[])?;
        let ys = sample_texts(&policy, tok, &bench.prompts, &eval_gen, 128)?;
        let s = scores(&ys, &bench.prompts);
        let (m, se) = mean_and_se(&s);
        let diffs: Vec<f64> = s.iter().zip(&base_scores).map(|(a, b)| a - b).collect();
        let (d, dse) = mean_and_se(&diffs);
        t.push(vec![
            format!("DPO iteration {}", rep.iteration).into(),
            Cell::Int(stats.pairs as i64),
            Cell::text(format!("{:.3} / {:.3}", stats.mean_chosen_score, stats.mean_rejected_score)),
            Cell::NumSe(m, se, 3),
            Cell::NumSe(d, dse, 3),
            Cell::text(if d > dse { "yes" } else { "no" }),
        ]);
        if !rep.resumed {
            eprintln!("    on-policy DPO iteration {}: {} pairs, {:.1} s", rep.iteration, stats.pairs, rep.seconds);
        }
    }
    t.note(format!(
        "{} fresh training prompts per iteration, 4 samples each at T = 1; DPO β = 0.1, lr 3e-4 cosine, 2 epochs of batch 32. Evaluation: one T = 1 answer per mini AlpacaEval prompt ({} prompts), the same seed for every model.",
        per_iter,
        bench.prompts.len()
    ));
    Ok(t)
}
