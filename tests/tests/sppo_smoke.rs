//! SPPO's whole miniature pipeline at smoke scale (fresh SFT base, 1 iteration, SPPO / DPO / IPO,
//! evaluation, tables), run twice: same seed, same machine, identical tables; then resumed from the
//! saved iterates, again identical. The numbers at smoke scale mean nothing; the shape does.

use shared::cli::Scale;

/// The files two runs of the same seed must agree on.
const COMPARED: &[&str] = &["iterations.csv", "iterations.per_prompt.csv", "pairs.per_prompt.csv", "data.csv", "table1_mini.csv", "alpaca_mini.csv", "claims.csv", "numbers.csv"];
use sppo::{config::config_dir, config::MiniConfig, tables};

fn run_once(tmp: &std::path::Path, tag: &str) -> String {
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    shared::device::set_threads(cfg.harness.threads);
    shared::device::seed_torch(0);
    // A fresh base each time, so the second run recomputes everything.
    std::env::set_var("REPRO_CHECKPOINTS", tmp.join(format!("ckpt-{tag}")));
    let o = cfg.run(Scale::Smoke, 0, tch::Device::Cpu, &tmp.join(format!("runs-{tag}"))).unwrap();
    assert!(o.base_trained);
    assert_eq!(o.methods.len(), cfg.methods.len());
    assert!(o.methods.iter().all(|m| m.iterations.len() == cfg.harness.iterations));
    // Iteration 1 samples pi_0 once: every method trains on the same pairs.
    let pairs: Vec<usize> = o.methods.iter().map(|m| m.iterations[0].record.examples).collect();
    assert!(pairs.iter().all(|&p| p == pairs[0] && p > 0), "{pairs:?}");
    let out = tmp.join(format!("out-{tag}"));
    let cfg_text = toml::to_string(&cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: cfg.harness.threads, device: "cpu", config_path: "papers/sppo/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    tables::save_all(std::slice::from_ref(&o), &cfg, &out, &info).unwrap();
    for f in ["iterations.csv", "iterations.md", "iterations.per_prompt.csv", "pairs.per_prompt.csv", "data.csv", "table1_mini.csv", "alpaca_mini.csv", "claims.csv", "claims.md", "run.md", "numbers.csv", "alpaca_mini.per_prompt.csv"] {
        assert!(out.join(f).exists(), "{f} written");
    }
    let claims = workspace_tests::ledger_claims(&out.join("claims.csv"));
    for id in ["sppo-vs-dpo", "sppo-vs-dpo-alpaca", "sppo-beats-base-iter1", "sppo-raises-winner", "sppo-lowers-loser"] {
        assert!(claims.iter().any(|c| c.id == id && c.lo.is_some() && c.seeds == [0]), "{id}: {claims:?}");
    }
    workspace_tests::joined(&out, COMPARED)
}

#[test]
fn smoke_pipeline_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_once(tmp.path(), "a");
    let b = run_once(tmp.path(), "b");
    assert_eq!(a, b, "same seed, same machine: identical tables");
    assert!(a.contains("SPPO") && a.contains("DPO") && a.contains("IPO"));

    // A rerun in run a's folders loads the cached base and every saved iterate, and rebuilds the
    // same tables. (In this one test: the base cache is chosen by a process-wide variable.)
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    std::env::set_var("REPRO_CHECKPOINTS", tmp.path().join("ckpt-a"));
    let runs = tmp.path().join("runs-a");
    let dir = cfg.run_dir(&runs, Scale::Smoke, 0);
    assert!(dir.join("sppo/iter-1/done.json").exists() && dir.join("sppo/iter-1/model.safetensors").exists(), "{}", dir.display());
    let again = cfg.run(Scale::Smoke, 0, tch::Device::Cpu, &runs).unwrap();
    assert!(!again.base_trained);
    let out = tmp.path().join("out-again");
    let cfg_text = toml::to_string(&cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: cfg.harness.threads, device: "cpu", config_path: "papers/sppo/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    tables::save_all(std::slice::from_ref(&again), &cfg, &out, &info).unwrap();
    let c = workspace_tests::joined(&out, COMPARED);
    assert_eq!(c, a, "resumed run: identical tables");
}
