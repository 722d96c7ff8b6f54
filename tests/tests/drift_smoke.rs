//! DRIFT's whole miniature at smoke scale (fresh SFT base + guided form, deployment log, seed DPO,
//! DRIFT / unguided / IterDPO / SPIN for 2 iterations, evaluation, diversity, tables, claims), run
//! twice with fresh folders: same seed, same machine, identical tables; then resumed from the
//! saved iterates, again identical. The numbers at smoke scale mean nothing; the shape does.

use drift::{config::config_dir, config::MiniConfig, pipeline, tables};
use shared::cli::Scale;

const FILES: [&str; 5] = ["iterations.csv", "diversity.csv", "log.csv", "claims.csv", "numbers.csv"];

fn tables_of(o: pipeline::Outcome, cfg: &MiniConfig, out: &std::path::Path) -> String {
    let cfg_text = toml::to_string(cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: cfg.threads, device: "cpu", config_path: "papers/drift/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    tables::save_all(&[o], cfg, out, &info).unwrap();
    for f in FILES.iter().chain(&["eval.per_prompt.csv", "weights.per_prompt.csv", "dpo_weight.svg", "win_vs_base.svg", "run.md"]) {
        assert!(out.join(f).exists(), "{f} written");
    }
    FILES.iter().map(|f| std::fs::read_to_string(out.join(f)).unwrap()).collect::<Vec<_>>().join("\n")
}

fn run_once(tmp: &std::path::Path, tag: &str) -> String {
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    shared::device::set_threads(cfg.threads);
    shared::device::seed_torch(0);
    std::env::set_var("REPRO_CHECKPOINTS", tmp.join(format!("ckpt-{tag}")));
    let o = pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, &tmp.join(format!("runs-{tag}"))).unwrap();
    assert!(o.base_trained);
    assert_eq!(o.rows.len(), cfg.methods.len() * cfg.iterations);
    assert!(!o.log.dsat.is_empty() && !o.log.sat.is_empty());
    let drift1 = o.rows.iter().find(|r| r.method == "DRIFT" && r.iteration == 1).unwrap();
    // DRIFT trains on every DSAT item but the test split, against the logged reply.
    assert_eq!(drift1.data.pairs + drift1.data.test_pairs, o.log.dsat.len());
    assert!(drift1.eval.dpo_weight_end.iter().all(|w| (0.0..=1.0).contains(w)));
    let text = tables_of(o, &cfg, &tmp.join(format!("out-{tag}")));
    let claims = workspace_tests::ledger_claims(&tmp.join(format!("out-{tag}/claims.csv")));
    for id in ["drift-beats-iterdpo", "drift-beats-spin", "spin-peaks-early", "coverage-vs-iterdpo", "spin-weight-below-drift"] {
        assert!(claims.iter().any(|c| c.id == id && c.seeds == [0]), "{id} missing: {claims:?}");
    }
    text
}

#[test]
fn smoke_pipeline_is_deterministic_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_once(tmp.path(), "a");
    let b = run_once(tmp.path(), "b");
    assert_eq!(a, b, "same seed, same machine: identical tables");
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    std::env::set_var("REPRO_CHECKPOINTS", tmp.path().join("ckpt-a"));
    let runs = tmp.path().join("runs-a");
    assert!(pipeline::run_dir(&runs, &cfg, Scale::Smoke, 0).join("drift/iter-2/done.json").exists());
    let again = pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, &runs).unwrap();
    assert!(!again.base_trained);
    assert_eq!(tables_of(again, &cfg, &tmp.path().join("out-again")), a, "resumed run: identical tables");
}
