//! SimPO's whole miniature pipeline at smoke scale: SFT base, both setups' pairs, every method,
//! the mini AlpacaEval, the tables. Checks that the run is deterministic (same seed, same
//! machine, identical tables) and that the tables keep their shape (insta snapshot of the
//! claims' row labels; the numbers at smoke scale mean nothing and are not snapshotted).

use shared::cli::Scale;
use simpo::{config::config_dir, mini::MiniConfig, pipeline, tables};

fn run_once(tmp: &std::path::Path, tag: &str) -> String {
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    shared::device::set_threads(cfg.threads);
    shared::device::seed_torch(0);
    // A fresh base and fresh runs each time, so the second run recomputes everything.
    std::env::set_var("REPRO_CHECKPOINTS", tmp.join(format!("ckpt-{tag}")));
    let o = pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, &tmp.join(format!("runs-{tag}"))).unwrap();
    assert!(o.base_trained);
    let out = tmp.join(format!("out-{tag}"));
    let cfg_text = toml::to_string(&cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seed: 0, threads: cfg.threads, device: "cpu", config_path: "papers/simpo/configs/smoke.toml", config_toml: &cfg_text };
    tables::save_all(&o, &out, &info).unwrap();
    for f in ["table4_mini.csv", "table4_mini.md", "table5_ablation_mini.md", "claims.md", "pairs.csv", "lc_winrate.svg", "run.md"] {
        assert!(out.join(f).exists(), "{f} written");
    }
    // Every method of the config has a row in each setup.
    assert_eq!(o.results.len(), cfg.methods.len() * cfg.setups.len());
    std::fs::read_to_string(out.join("table4_mini.csv")).unwrap() + &std::fs::read_to_string(out.join("claims.csv")).unwrap()
}

fn pairs_of(tmp: &std::path::Path, tag: &str) -> String {
    std::fs::read_to_string(tmp.join(format!("out-{tag}/pairs.csv"))).unwrap()
}

#[test]
fn smoke_pipeline_is_deterministic_and_keeps_its_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_once(tmp.path(), "a");
    let b = run_once(tmp.path(), "b");
    assert_eq!(a, b, "same seed, same machine: identical tables");
    // The pairs (including the learned reward model's held-out agreement) are deterministic too.
    assert_eq!(pairs_of(tmp.path(), "a"), pairs_of(tmp.path(), "b"));
    assert!(pairs_of(tmp.path(), "a").contains("reward_model"), "the instruct setup is ranked by the learned reward model");
    let shape: Vec<String> = a
        .lines()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    insta::assert_snapshot!(shape.join("\n"));
}
