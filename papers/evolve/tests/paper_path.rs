//! The paper-scale path (a Hugging Face checkpoint, a prompt file, the chat template, the
//! refinement template as a user turn, the same annotator and the shared on-policy loop) on the
//! tiny Llama fixture, with rule-based selection: two rounds run and resume.

use evolve::config::config_dir;
use evolve::paper::{self, PaperConfig};

#[test]
fn tiny_fixture_runs_evolve_rounds_through_the_paper_path() {
    let cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(s.rounds.len(), 2);
    for r in &s.rounds {
        let st = &r["stats"];
        assert_eq!(st["prompts"], 3, "{r}");
        let (kept, examples) = (st["kept"].as_u64().unwrap(), st["examples"].as_u64().unwrap());
        assert_eq!(examples, 2 * kept, "a direct and a refine example per kept pair: {r}");
        if kept > 0 {
            assert!(r["steps"].as_u64().unwrap() >= 1 && r["mean_loss"].as_f64().unwrap().is_finite(), "{r}");
        }
    }
    assert!(dir.path().join("evolve/iter-2/done.json").exists());
    let again = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(again.rounds.len(), 2, "a rerun resumes from the saved iterates");
}

#[test]
fn rm_selection_without_a_reward_model_is_refused() {
    let mut cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    cfg.selection = evolve::config::Selection::Rm;
    let dir = tempfile::tempdir().unwrap();
    let e = format!("{:#}", paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap_err());
    assert!(e.contains("reward model"), "{e}");
}
