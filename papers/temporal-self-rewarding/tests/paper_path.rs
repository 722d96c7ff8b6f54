//! The paper-scale path (a Hugging Face checkpoint as M_0, a prompt file, the chat template, the
//! judge prompt template, the same annotator and the shared on-policy loop) on the tiny Llama
//! fixture: Self-Rewarding, Temporal (with its future model) and Past-only run and resume.

use tsr::config::config_dir;
use tsr::paper::{self, PaperConfig};

#[test]
fn tiny_fixture_runs_every_method_through_the_paper_path() {
    let cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    let lens: Vec<usize> = s.methods.iter().map(|(_, its)| its.len()).collect();
    assert_eq!(lens, vec![2, 2, 1]);
    for (name, its) in &s.methods {
        for it in its {
            let st = &it["stats"];
            assert_eq!(st["prompts"], 3, "{name}: {it}");
            assert!(st["kept"].as_u64().unwrap() >= 1 && it["steps"].as_u64().unwrap() >= 1, "{name}: {it}");
            assert!(it["mean_loss"].as_f64().unwrap().is_finite());
            if name == "temporal" {
                assert!(st["future_steps"].as_u64().unwrap() >= 1 && st["samples_per_prompt"] == 9, "{it}");
            }
        }
    }
    assert!(dir.path().join("temporal/future-2").exists() && dir.path().join("temporal/iter-2/done.json").exists());
    let again = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(again.methods.len(), 3, "a rerun resumes from the saved iterates");
}
