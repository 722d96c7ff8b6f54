//! The whole EVOLVE pipeline at smoke scale: bases, both methods on the shared loop, the refine@k
//! evaluation, the tables, the claims and the plots.

use evolve::config::{config_dir, MiniConfig};
use shared::cli::Scale;

#[test]
fn smoke_pipeline_writes_tables_claims_and_plots() {
    let ck = tempfile::tempdir().unwrap();
    std::env::set_var("REPRO_CHECKPOINTS", ck.path());
    let cfg = MiniConfig::load(&config_dir().join("smoke.toml")).unwrap();
    let runs = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let o = evolve::pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, runs.path()).unwrap();
    assert_eq!(o.bases.len(), 2);
    assert_eq!(o.rows.len(), cfg.methods.len() * cfg.iterations);
    for r in &o.rows {
        assert_eq!(r.eval.oracle.len(), 1 + cfg.eval.refine_steps);
        assert!(r.eval.oracle.iter().all(|v| v.len() == cfg.eval.prompts));
        if r.kind == evolve::config::Kind::Evolve {
            // Both the direct and the refine example per kept pair.
            assert_eq!(r.data.examples, 2 * r.data.kept, "{}", r.method);
        } else {
            assert_eq!(r.data.examples, r.data.kept);
        }
    }
    let out = tempfile::tempdir().unwrap();
    let info = shared::report::RunInfo { scale: "smoke", seeds: &[0], threads: 2, device: "cpu", config_path: "configs/smoke.toml", config_toml: "", reference: None };
    let c = evolve::tables::save_all(&[o], &cfg, out.path(), &info).unwrap();
    assert!(c.to_csv().contains("evolve-refinement-gain"));
    for f in ["refinement.md", "rounds.md", "reported.md", "claims.csv", "refinement_curves.svg", "rounds.svg"] {
        assert!(out.path().join(f).exists(), "{f}");
    }
    // Resumes from the run folder.
    let o2 = evolve::pipeline::run(&cfg, Scale::Smoke, 0, tch::Device::Cpu, runs.path()).unwrap();
    assert_eq!(o2.rows.len(), cfg.methods.len() * cfg.iterations);
    eprintln!("smoke: {:.1} s", t.elapsed().as_secs_f64());
}
