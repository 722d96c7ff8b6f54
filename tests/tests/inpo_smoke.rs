//! INPO's whole miniature pipeline at smoke scale (fresh SFT base, 1 iteration, INPO (PM),
//! iterative DPO on the same pairs and SPPO on the same samples, evaluation, tables, claims); then rerun from the saved iterates:
//! identical tables. The numbers at smoke scale mean nothing; the shape does.

use inpo::{config::config_dir, config::MiniConfig, tables};
use shared::cli::Scale;

fn tables_of(o: &shared::nash::Outcome, cfg: &MiniConfig, out: &std::path::Path) -> String {
    let cfg_text = toml::to_string(cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: cfg.harness.threads, device: "cpu", config_path: "papers/inpo/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    tables::save_all(std::slice::from_ref(o), cfg, out, &info).unwrap();
    let files = ["iterations.csv", "iterations.per_prompt.csv", "pairs.per_prompt.csv", "data.csv", "data.per_prompt.csv", "table1_mini.csv", "alpaca_mini.csv", "claims.csv", "numbers.csv"];
    for f in files.iter().chain(&["claims.md", "run.md", "alpaca_mini.per_prompt.csv"]) {
        assert!(out.join(f).exists(), "{f} written");
    }
    files.iter().map(|f| std::fs::read_to_string(out.join(f)).unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn smoke_pipeline_runs_and_resumes_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    shared::device::set_threads(cfg.harness.threads);
    shared::device::seed_torch(0);
    std::env::set_var("REPRO_CHECKPOINTS", tmp.path().join("ckpt"));
    let runs = tmp.path().join("runs");
    let o = cfg.run(Scale::Smoke, 0, tch::Device::Cpu, &runs).unwrap();
    assert!(o.base_trained);
    assert_eq!(o.methods.len(), 3);
    // INPO (PM) and iterative DPO train on the same pairs at iteration 1: one tournament per prompt.
    let (inpo, dpo) = (&o.methods[0].iterations[0], &o.methods[1].iterations[0]);
    let a: inpo::recipe::DataStats = inpo.recipe_stats().unwrap();
    let b: inpo::recipe::DataStats = dpo.recipe_stats().unwrap();
    assert_eq!(a, b);
    assert_eq!(a.comparisons, 11.0);
    assert!(a.pairs > 0 && a.pairs <= cfg.harness.prompts_per_split && inpo.record.examples == a.pairs);
    let a = tables_of(&o, &cfg, &tmp.path().join("out-a"));
    let claims = workspace_tests::ledger_claims(&tmp.path().join("out-a/claims.csv"));
    for id in ["inpo-pm-beats-base-iter1", "inpo-pm-drops-fewer-than-all-iter1", "inpo-pm-vs-iterative-dpo", "inpo-pm-vs-sppo", "inpo-pm-vs-base-alpaca"] {
        assert!(claims.iter().any(|c| c.id == id && c.lo.is_some() && c.seeds == [0]), "{id}: {claims:?}");
    }
    // A rerun loads the cached base and the saved iterates, and rebuilds the same tables.
    let dir = cfg.run_dir(&runs, Scale::Smoke, 0);
    assert!(dir.join("inpo-pm/iter-1/done.json").exists(), "{}", dir.display());
    let again = cfg.run(Scale::Smoke, 0, tch::Device::Cpu, &runs).unwrap();
    assert!(!again.base_trained);
    assert_eq!(tables_of(&again, &cfg, &tmp.path().join("out-b")), a, "resumed run: identical tables");
}
