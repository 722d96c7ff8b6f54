//! The paper-scale code path (π_sft and the GRPO reference from a Hugging Face folder, the RM
//! trained from π_sft on preference parquet and standardised on π_sft's samples, the LLM verifier
//! over a rule file, GRPO with the rule reward) on the tiny fixtures; the committed paper config
//! loads with the paper's settings; bad rule and template files are named.

use autorule::paper::{self, PaperConfig};
use std::path::{Path, PathBuf};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[test]
fn tiny_fixtures_run_grpo_with_the_llm_verifier() {
    let cfg = PaperConfig::load(&configs().join("test/tiny-llama.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert!(s.rollouts >= 1, "{s:?}");
    // A rerun resumes from the saved state instead of training again.
    let again = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(again.resumed_from, Some(s.rollouts));
}

#[test]
fn paper_config_carries_the_papers_settings() {
    let cfg = PaperConfig::load(&configs().join("paper/llama3-8b-uf.toml")).unwrap();
    assert_eq!((cfg.rl.samples_per_prompt, cfg.rl.prompts_per_rollout, cfg.rl.policy.batch_size), (2, 1024, 128));
    assert_eq!((cfg.rl.policy.schedule.lr, cfg.rl.kl.coef, cfg.rl.reward_clip), (5e-7, 1e-3, Some(10.0)));
    assert_eq!((cfg.rm.schedule.lr, cfg.rm.batch_size, cfg.verifier.yes.as_str()), (5e-6, 256, "[[Yes]]"));
}

#[test]
fn bad_rules_and_templates_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rules.json");
    std::fs::write(&p, "{\"rules\": 1}").unwrap();
    assert!(format!("{:#}", paper::load_rules(&p).unwrap_err()).contains("not a JSON array of strings"));
    std::fs::write(&p, "[]").unwrap();
    assert!(format!("{:#}", paper::load_rules(&p).unwrap_err()).contains("empty"));
    let t = dir.path().join("t.txt");
    std::fs::write(&t, "Rule: {rule}").unwrap();
    assert!(format!("{:#}", paper::load_template(&t).unwrap_err()).contains("{conversation}"));
    assert!(format!("{:#}", paper::load_rules(&dir.path().join("missing.json")).unwrap_err()).contains("missing.json"));
}
