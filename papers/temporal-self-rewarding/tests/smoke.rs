//! The whole miniature at smoke scale (fresh SFT base + judge form, Self-Rewarding / Temporal /
//! Past-only for 2 iterations, evaluation, tables, claims), run twice with fresh folders: same
//! seed, same machine, identical tables; then resumed from the saved iterates, again identical.
//! The numbers at smoke scale mean nothing; the shape does.

use shared::cli::Scale;
use tsr::config::{config_dir, Kind, MiniConfig};
use tsr::{pipeline, tables};

const FILES: [&str; 7] = ["alpaca_mini.csv", "gaps.csv", "judge.csv", "compute.csv", "eft.csv", "claims.csv", "numbers.csv"];

fn tables_of(o: pipeline::Outcome, cfg: &MiniConfig, out: &std::path::Path) -> String {
    let cfg_text = toml::to_string(cfg).unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: cfg.threads, device: "cpu", config_path: "papers/temporal-self-rewarding/configs/smoke.toml", config_toml: &cfg_text, reference: None };
    tables::save_all(&[o], cfg, out, &info).unwrap();
    for f in FILES.iter().chain(&["pairs.per_prompt.csv", "eval.per_prompt.csv", "judge.per_prompt.csv", "score_gap.svg", "oracle_gap.svg", "win_vs_m0.svg", "run.md"]) {
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
    assert_eq!(o.rows.len(), cfg.methods.iter().map(|m| m.iterations).sum::<usize>());
    assert_eq!(o.alpaca.len(), 1 + o.rows.len());
    for r in &o.rows {
        let d = &r.data;
        assert_eq!(d.kept + d.tie_dropped + d.unjudged, d.prompts, "{}@{}: every prompt is kept or dropped", r.method, r.iter);
        assert!(d.judge_gap.iter().all(|g| *g > 0.0), "kept pairs have a positive judge gap");
        assert!(d.cosine.iter().all(|c| (-1.0..=1.0 + 1e-9).contains(c)));
        match r.kind {
            Kind::SelfRewarding => assert!(d.anchored == 0 && d.future_chosen == 0 && d.samples_per_prompt == cfg.samples),
            Kind::PastOnly => assert!(d.future_chosen == 0 && d.samples_per_prompt == 2 * cfg.samples && d.kept == d.phase1_kept),
            Kind::Temporal => assert!(d.samples_per_prompt == 3 * cfg.samples && d.future_steps >= 1),
        }
    }
    let text = tables_of(o, &cfg, &tmp.join(format!("out-{tag}")));
    let claims = std::fs::read_to_string(tmp.join(format!("out-{tag}/claims.csv"))).unwrap();
    for id in ["sr-oracle-gap-collapses", "tsr-gap-preserved", "tsr-beats-sr", "tsr-beats-best-sr-alpaca", "past-only-beats-sr", "compute-matched", "m0-judges-above-chance"] {
        assert!(claims.contains(&format!("temporal-self-rewarding,{id},")), "{id} missing: {claims}");
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
    assert!(pipeline::run_dir(&runs, &cfg, Scale::Smoke, 0).join("temporal/iter-2/done.json").exists());
    let again = pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, &runs).unwrap();
    assert!(!again.base_trained);
    assert_eq!(tables_of(again, &cfg, &tmp.path().join("out-again")), a, "resumed run: identical tables");
}
