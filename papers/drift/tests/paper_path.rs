//! The paper-scale path (Hugging Face checkpoint, DSAT JSONL, guided prompts, the shared on-policy
//! loop with DPO + RPO) on the tiny Qwen2 fixture; and the committed paper configs load and say
//! what cannot run here.

use drift::config::config_dir;
use drift::paper::{self, PaperConfig};

#[test]
fn tiny_fixture_runs_two_iterations_through_the_paper_path() {
    let cfg = PaperConfig::load(&config_dir().join("test/tiny-qwen2.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(s.iterations.len(), 2);
    for it in &s.iterations {
        assert_eq!(it["stats"]["pairs"], 5, "{it}"); // 6 records, the first held out
        assert!(it["steps"].as_u64().unwrap() >= 1 && it["mean_loss"].as_f64().unwrap().is_finite(), "{it}");
    }
    assert!(s.weights.exists() && dir.path().join("iter-2/done.json").exists());
    // A rerun resumes from the saved iterates.
    let again = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(again.iterations.len(), 2);
}

#[test]
fn paper_configs_load_and_train_with_rmsprop() {
    for name in ["qwen2.5-7b", "qwen2.5-14b"] {
        let cfg = PaperConfig::load(&config_dir().join(format!("paper/{name}.toml"))).unwrap();
        assert_eq!((cfg.objective.beta, cfg.objective.rpo_alpha, cfg.learning_rate), (0.1, 0.001, 5e-7));
        let t = cfg.train_config().unwrap();
        assert_eq!(t.optim.algorithm, shared::train::optim::Algorithm::Rmsprop);
        assert_eq!((t.batch_size, t.micro_batch, t.schedule.lr), (32, 4, 5e-7));
    }
    let mut cfg = PaperConfig::load(&config_dir().join("paper/qwen2.5-7b.toml")).unwrap();
    cfg.train.optimizer = "sgd".into();
    assert!(format!("{:#}", cfg.validate().unwrap_err()).contains("optimizer"));
}

#[test]
fn malformed_dsat_data_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    std::fs::write(&p, "{\"prompt\": [], \"rejected\": [], \"user_preference\": []}\n").unwrap();
    let e = format!("{:#}", paper::load_dsat(&p).unwrap_err());
    assert!(e.contains("line 1"), "{e}");
    let e = format!("{:#}", paper::load_dsat(&dir.path().join("missing.jsonl")).unwrap_err());
    assert!(e.contains("missing.jsonl"), "{e}");
}
