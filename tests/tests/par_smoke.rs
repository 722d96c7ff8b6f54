//! PAR's whole miniature pipeline at smoke scale (fresh SFT base, hackable proxy, references,
//! PPO for three shapings, evaluation, tables, curves, claims), run twice: same seed, same
//! machine, identical tables; then rerun in the first run's folders: every PPO run resumes as
//! finished and the tables are again identical. The numbers at smoke scale mean nothing.

use par::{config::config_dir, config::MiniConfig, pipeline, tables};
use shared::cli::Scale;

fn tables_of(o: Vec<pipeline::Outcome>, out: &std::path::Path, cfg: &MiniConfig) -> String {
    let cfg_text = toml::to_string(cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: cfg.threads, device: "cpu", config_path: "papers/par/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    tables::save_all(&o, out, &info).unwrap();
    for f in ["table_winrate.csv", "proxy.csv", "winrate.per_prompt.csv", "claims.csv", "numbers.csv", "curve_winrate.svg", "curve_proxy.svg", "run.md"] {
        assert!(out.join(f).exists(), "{f} written");
    }
    let claims = workspace_tests::ledger_claims(&out.join("claims.csv"));
    for id in ["vanilla-proxy-rises", "vanilla-hacked", "par-beats-vanilla-final", "par-drops-less", "par-bounded", "par-m10-not-above-m1", "par-avg-5pts-above-vanilla"] {
        assert!(claims.iter().any(|c| c.id == id), "claim {id} missing: {claims:?}");
    }
    workspace_tests::joined(out, &["table_winrate.csv", "proxy.csv", "claims.csv", "numbers.csv", "curve_winrate.svg"])
}

#[test]
fn smoke_pipeline_is_deterministic_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    shared::device::set_threads(cfg.threads);
    let run = |tag: &str, ckpt: &str| {
        std::env::set_var("REPRO_CHECKPOINTS", tmp.path().join(ckpt));
        shared::device::seed_torch(0);
        let o = pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, &tmp.path().join(format!("runs-{tag}"))).unwrap();
        assert_eq!(o.runs.len(), cfg.methods.len());
        // Evaluations: before training, every 2 rollouts, at the end (4 rollouts).
        assert!(o.runs.iter().all(|r| r.evals.iter().map(|e| e.0).collect::<Vec<_>>() == vec![0, 2, 4]));
        tables_of(vec![o], &tmp.path().join(format!("out-{tag}")), &cfg)
    };
    let a = run("a", "ckpt-a");
    let b = run("b", "ckpt-b");
    assert_eq!(a, b, "same seed, same machine: identical tables");
    let again = run("a", "ckpt-a");
    assert_eq!(again, a, "rerun in the same folders: resumed, identical tables");
}
