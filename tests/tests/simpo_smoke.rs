//! SimPO's whole miniature pipeline at smoke scale: SFT base, both setups' pairs, every method,
//! the mini AlpacaEval, the tables. Checks that the run is deterministic (same seed, same
//! machine, identical tables, claims and numbers) and that the tables keep their shape (insta
//! snapshot of the table and claims row labels; the numbers at smoke scale mean nothing and are
//! not snapshotted).

use shared::cli::Scale;
use simpo::{config::config_dir, mini::MiniConfig, pipeline, tables};

/// The run's tables, claims and numbers as text (for the determinism check) and the part whose
/// row labels are snapshotted (the table and the claims).
fn run_once(tmp: &std::path::Path, tag: &str) -> (String, String) {
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    shared::device::set_threads(cfg.threads);
    shared::device::seed_torch(0);
    // One SFT base for both runs (trained by the first, loaded by the second: the base's own
    // determinism is checked by shared's world smoke test), fresh training runs each time, so the
    // second run recomputes pairs, reward model, training, sampling and tables.
    std::env::set_var("REPRO_CHECKPOINTS", tmp.join("ckpt"));
    let o = pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, &tmp.join(format!("runs-{tag}"))).unwrap();
    assert_eq!(o.base_trained, tag == "a", "run a trains the base, run b loads it from the cache");
    let out = tmp.join(format!("out-{tag}"));
    let cfg_text = toml::to_string(&cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: cfg.threads, device: "cpu", config_path: "papers/simpo/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    let records = stats::seeds::gather(&[0], |_| tables::per_prompt(&o)).unwrap();
    let t0 = std::time::Instant::now();
    tables::save_all(std::slice::from_ref(&o), &records, &out, &info).unwrap();
    eprintln!("tables, claims and numbers written in {:.1} s", t0.elapsed().as_secs_f64());
    for f in ["table4_mini.csv", "table4_mini.md", "table5_ablation_mini.md", "claims.md", "pairs.csv", "lc_winrate.svg", "run.md", "numbers.csv", "table4_mini.per_prompt.csv"] {
        assert!(out.join(f).exists(), "{f} written");
    }
    // The claims are in the ledger format, decided from the per-prompt records; the numbers parse.
    let claims = workspace_tests::ledger_claims(&out.join("claims.csv"));
    // Repeated evaluation prompts are one unit: the claims count distinct prompts.
    let distinct = o.prompt_ids.iter().filter(|(_, earlier)| *earlier == 0).count();
    assert!(claims.iter().any(|c| c.id == "base/simpo-vs-dpo-lc" && c.lo.is_some() && c.seeds == [0] && c.prompts == Some(distinct)));
    let records = stats::Records::load(&out, "table4_mini").unwrap();
    assert_eq!(records.rows.len(), cfg.eval_prompts.unwrap() * cfg.eval_samples * (1 + o.results.len()));
    stats::Numbers::load(&out.join("numbers.csv")).unwrap();
    // Every method of the config has a row in each setup.
    assert_eq!(o.results.len(), cfg.methods.len() * cfg.setups.len());
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let labelled = read("table4_mini.csv") + &read("claims.csv");
    (labelled.clone() + &read("numbers.csv") + &read("table4_mini.per_prompt.csv"), labelled)
}

fn pairs_of(tmp: &std::path::Path, tag: &str) -> String {
    std::fs::read_to_string(tmp.join(format!("out-{tag}/pairs.csv"))).unwrap()
}

#[test]
fn smoke_pipeline_is_deterministic_and_keeps_its_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, labelled) = run_once(tmp.path(), "a");
    let (b, _) = run_once(tmp.path(), "b");
    assert_eq!(a, b, "same seed, same machine: identical tables");
    // The pairs (including the learned reward model's held-out agreement) are deterministic too.
    assert_eq!(pairs_of(tmp.path(), "a"), pairs_of(tmp.path(), "b"));
    assert!(pairs_of(tmp.path(), "a").contains("reward_model"), "the instruct setup is ranked by the learned reward model");
    let shape: Vec<String> = labelled
        .lines()
        .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
        .collect();
    insta::assert_snapshot!(shape.join("\n"));
}
