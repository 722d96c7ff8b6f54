//! The paper-scale code path (`par::paper`) on the tiny Hugging Face fixtures: the RM trained
//! from the pretrained base on the UltraFeedback-format parquet, references sampled from π_sft,
//! PPO with the PAR reward and a critic from the RM; every shaped reward in (0, 1); a rerun
//! resumes the finished run. The paper's own config parses with the same schema.

use par::paper::{run, PaperConfig};
use std::path::Path;

fn configs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[test]
fn paper_config_parses() {
    let c = PaperConfig::load(&configs().join("paper/gemma2-2b-ultrafeedback.toml")).unwrap();
    assert_eq!((c.references, c.rl.replay_buffer, c.rl.kl.coef), (10, 4, 0.005));
}

#[test]
fn tiny_fixtures_run_ppo_with_par_and_resume() {
    let cfg = PaperConfig::load(&configs().join("test/tiny-llama.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(s.rollouts, cfg.rl.total_rollouts(cfg.prompts));
    assert_eq!(s.policy.steps, cfg.rl.optimiser_steps(cfg.prompts, cfg.rl.policy.batch_size));
    let (lo, hi) = s.reward_range.unwrap();
    assert!(lo > 0.0 && hi < 1.0, "PAR rewards in (0, 1): {lo}..{hi}");
    assert!(dir.path().join("rm/metrics.csv").exists() && dir.path().join("ppo/rollouts.csv").exists());
    let again = run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(again.resumed_from, Some(s.rollouts));
}
