//! Adaptive compute's whole miniature pipeline at smoke scale, two seeds (fresh SFT bases, the
//! base's own samples → leave-one-out targets → self-evaluation training on the shared engine →
//! pools on the mini AlpacaEval → every method replayed → claims, numbers, plots), run twice:
//! same seeds, same machine, identical tables. Then a rerun in the first run's folders loads the
//! saved records and rebuilds the same tables. The numbers at smoke scale mean nothing; the shape does.

use adaptive_compute::{config::config_dir, config::MiniConfig, pipeline, tables};
use shared::cli::Scale;

const FILES: [&str; 6] = ["methods.csv", "claims.csv", "numbers.csv", "compute_saved.csv", "paper_vs_mini.csv", "methods.per_prompt.csv"];

fn tables_of(cfg: &MiniConfig, runs: &[pipeline::SeedRun], out: &std::path::Path) -> String {
    let cfg_text = toml::to_string(cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0, 1], threads: cfg.threads, device: "cpu", config_path: "papers/adaptive-compute/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    tables::save_all(cfg, runs, out, &info).unwrap();
    for f in FILES.iter().chain(&["quality_vs_samples.svg", "quality_vs_tokens.svg", "training.md", "selfeval.per_prompt.csv", "run.md"]) {
        assert!(out.join(f).exists(), "{f} written");
    }
    FILES.iter().map(|f| std::fs::read_to_string(out.join(f)).unwrap()).collect::<Vec<_>>().join("\n")
}

fn run_once(tmp: &std::path::Path, tag: &str) -> String {
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    shared::device::set_threads(cfg.threads);
    std::env::set_var("REPRO_CHECKPOINTS", tmp.join(format!("ckpt-{tag}")));
    let runs: Vec<_> = [0u64, 1]
        .iter()
        .map(|&s| {
            shared::device::seed_torch(s);
            pipeline::run_seed(&cfg, Scale::Smoke, s, tch::Device::Cpu, &tmp.join(format!("runs-{tag}"))).unwrap()
        })
        .collect();
    assert!(runs.iter().all(|r| r.base_trained && r.train.steps > 0 && r.train.examples > r.train.full_examples));
    let n = cfg.eval.prompts;
    assert_eq!(runs[0].selfeval.rows.len(), n * cfg.eval.n_max());
    let out = tmp.join(format!("out-{tag}"));
    let text = tables_of(&cfg, &runs, &out);
    let claims = workspace_tests::ledger_claims(&out.join("claims.csv"));
    for id in ["bon16-gain", "bon16-below-oracle", "prune-quality", "prune-tokens", "auroc-full", "auroc-prefix8", "auroc-prefix16", "policy-kept-lower"] {
        assert!(claims.iter().any(|c| c.id == id && c.seeds == [0, 1]), "claim {id} missing: {claims:?}");
    }
    text
}

#[test]
fn smoke_pipeline_is_deterministic_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_once(tmp.path(), "a");
    let b = run_once(tmp.path(), "b");
    assert_eq!(a, b, "same seeds, same machine: identical tables");
    assert!(a.contains("self-BoN@16") && a.contains("adaptive tau=0.3 annealed") && a.contains("prune t=16 keep 8"));

    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    std::env::set_var("REPRO_CHECKPOINTS", tmp.path().join("ckpt-a"));
    let runs: Vec<_> = [0u64, 1].iter().map(|&s| pipeline::run_seed(&cfg, Scale::Smoke, s, tch::Device::Cpu, &tmp.path().join("runs-a")).unwrap()).collect();
    assert!(runs.iter().all(|r| !r.base_trained), "loaded from the saved records");
    assert_eq!(tables_of(&cfg, &runs, &tmp.path().join("out-again")), a, "rebuilt from the saved records: identical tables");
}
