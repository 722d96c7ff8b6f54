//! CDR's whole miniature pipeline at smoke scale: the seven-model zoo (early stops of the SFT
//! recipe, the base, DPO / SimPO / flipped DPO, a wrong-heavy fine-tune), the mini RewardBench
//! scored by every model, the routed customisation, annotation by every label source, SimPO on
//! each, the tables, claims and plot. Checks every file, the claims ledger, the strong-over-weak
//! arithmetic (a pair and its reverse split the untied items; a model over itself ties
//! everywhere), and that a second run of the same seed gives identical tables (determinism, and
//! the cached zoo reloaded).

use cdr::pipeline::{bench_reward, STRONG, WEAK, ZOO};
use cdr::ratio::Normalise;
use cdr::{config::config_dir, config::MiniConfig, pipeline, tables};
use shared::cli::Scale;

fn run_once(tmp: &std::path::Path, tag: &str, runs: &str) -> String {
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    shared::device::set_threads(cfg.threads);
    shared::device::seed_torch(0);
    std::env::set_var("REPRO_CHECKPOINTS", tmp.join("ckpt"));
    let o = pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, &tmp.join(runs)).unwrap();
    assert_eq!(o.strength.len(), ZOO.len());
    let b = &cfg.bench;
    assert_eq!(o.bench.rows.len(), b.chat + b.chat_hard + b.reasoning);
    for r in &o.bench.rows {
        let v = &r.values;
        let [fwd, rev] = [(STRONG, WEAK), (WEAK, STRONG)].map(|(s, w)| bench_reward(v, s, w, 0, Normalise::None) - bench_reward(v, s, w, 1, Normalise::None));
        assert!((fwd + rev).abs() < 1e-9, "r_DR(M2 over M3) is −r_DR(M3 over M2)");
        assert_eq!(bench_reward(v, WEAK, WEAK, 0, Normalise::None), 0.0, "a model over itself");
    }
    assert_eq!(o.rows.len(), 1 + cfg.annotate.labels.len());
    assert!(o.pairs.iter().all(|(_, n)| *n >= 2));
    let out = tmp.join(format!("out-{tag}"));
    let cfg_text = toml::to_string(&cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: cfg.threads, device: "cpu", config_path: "papers/cdr/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    tables::save_all(&cfg, &[o], &out, &info).unwrap();
    let files = ["zoo.md", "strong_over_weak.csv", "strong_over_weak.md", "rewardbench_mini.csv", "rewardbench_mini.md", "downstream.csv", "downstream.md", "claims.csv", "numbers.csv", "run.md"];
    for f in files.iter().chain(&["claims.md", "gap_vs_accuracy.svg", "rewardbench.per_prompt.csv", "annotation.per_prompt.csv", "eval.per_prompt.csv", "zoo.per_prompt.csv"]) {
        assert!(out.join(f).exists(), "{f} written");
    }
    let pairs = std::fs::read_to_string(out.join("strong_over_weak.csv")).unwrap();
    assert_eq!(pairs.lines().count(), 1 + ZOO.len() * (ZOO.len() - 1), "every ordered pair");
    let claims = workspace_tests::ledger_claims(&out.join("claims.csv"));
    for id in ["rdr-accuracy-above-60", "rdr-beats-reversed-pair", "accuracy-rises-with-gap", "accuracy-rises-with-gap-positive-gaps", "cdr-labels-agree-with-oracle", "simpo-cdr-beats-sft-oracle", "simpo-cdr-beats-sft-lc", "simpo-cdr-beats-random-labels", "simpo-oracle-within-1-of-cdr"] {
        assert!(claims.iter().any(|c| c.id == id && c.seeds == [0]), "claim {id}");
    }
    assert!(std::fs::read_to_string(out.join("rewardbench_mini.md")).unwrap().contains("not reproducible in miniature"));
    workspace_tests::joined(&out, &files)
}

#[test]
fn cdr_smoke_pipeline_writes_every_table_and_claim_deterministically() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let a = run_once(tmp.path(), "a", "runs");
    eprintln!("first run {:.1} s", t0.elapsed().as_secs_f64());
    let b = run_once(tmp.path(), "b", "runs");
    assert_eq!(a, b, "same seed, same machine: identical tables (the second run reloads the cached zoo)");
}
