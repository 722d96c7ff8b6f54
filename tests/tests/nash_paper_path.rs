//! The Nash family's paper-scale path (`shared::nash::paper`: a Hugging Face checkpoint as pi_0,
//! one prompt file per iteration, K samples, a reward model behind the oracle channels, the
//! paper's recipe and objective on the shared on-policy loop) on the tiny Qwen2 fixture, for SPPO,
//! DNO and INPO; and each committed `configs/paper.toml` loads with the paper's settings.

use shared::nash::paper::{self, PaperConfig, PaperSummary};
use shared::nash::family::{validate_method, MethodSpec};
use shared::nash::Method;
use shared::train::optim::Algorithm;
use std::path::{Path, PathBuf};

fn configs(slug: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../papers").join(slug).join("configs")
}

/// Two iterations on the tiny fixture, then a rerun that resumes from the saved iterates.
fn run_twice<M: serde::de::DeserializeOwned + serde::Serialize>(slug: &str, build: impl Fn(&PaperConfig<M>) -> Method<'static>) -> PaperSummary {
    let cfg = PaperConfig::<M>::load(&configs(slug).join("test/tiny-qwen2.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, build(&cfg), tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(s.iterations.len(), 2, "{slug}");
    for it in &s.iterations {
        assert!(it["examples"].as_u64().unwrap() >= 1, "{slug}: {it}");
        assert!(it["steps"].as_u64().unwrap() >= 1 && it["mean_loss"].as_f64().unwrap().is_finite(), "{slug}: {it}");
    }
    assert!(s.weights.exists() && dir.path().join("iter-2/done.json").exists(), "{slug}");
    let again = paper::run(&cfg, build(&cfg), tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(again.iterations, s.iterations, "{slug}: the rerun loads the finished iterations");
    s
}

#[test]
fn sppo_runs_through_the_paper_path() {
    let s = run_twice::<sppo::config::Method>("sppo", |c| c.method.build(c.samples, c.train.at(c.method.lr, c.seed)));
    assert!(s.preference.contains("standing for llm-blender/PairRM"), "{}", s.preference);
}

#[test]
fn dno_runs_through_the_paper_path_with_the_teacher_and_the_rubric() {
    let s = run_twice::<dno::config::Method>("dno", |c| c.method.build(c.samples, c.train.at(c.method.lr, c.seed)));
    assert!(s.preference.contains("GPT-4-Turbo"), "{}", s.preference);
}

#[test]
fn inpo_runs_through_the_paper_path() {
    run_twice::<inpo::config::Method>("inpo", |c| c.method.build(c.samples, c.train.at(c.method.lr, c.seed)));
}

#[test]
fn paper_configs_carry_the_papers_settings() {
    let c = PaperConfig::<sppo::config::Method>::load(&configs("sppo").join("paper.toml")).unwrap();
    validate_method(&c.method).unwrap();
    let t = c.train.at(c.method.lr, c.seed);
    assert_eq!((c.model.as_str(), c.iterations, c.samples), ("mistralai/Mistral-7B-Instruct-v0.2", 3, 5));
    assert_eq!((t.batch_size, t.micro_batch, t.schedule.lr, t.optim.algorithm), (64, 8, 5e-7, Algorithm::Rmsprop));
    assert!(matches!(&c.method.objective, sppo::loss::Objective::Sppo(s) if s.eta == 1000.0));

    let c = PaperConfig::<dno::config::Method>::load(&configs("dno").join("paper.toml")).unwrap();
    validate_method(&c.method).unwrap();
    assert_eq!((c.samples, c.method.lr, c.method.recipe.replay), (5, 5e-5, 0.3));
    assert_eq!(c.train.at(c.method.lr, c.seed).batch_size, 64);

    let c = PaperConfig::<inpo::config::Method>::load(&configs("inpo").join("paper.toml")).unwrap();
    validate_method(&c.method).unwrap();
    let t = c.train.at(c.method.lr, c.seed);
    assert_eq!((c.model.as_str(), c.samples, t.batch_size, t.schedule.lr), ("RLHFlow/LLaMA3-SFT", 8, 128, 5e-7));
    assert!(matches!(&c.method.objective, inpo::loss::Objective::Inpo(i) if i.eta == 0.005 && (i.tau - 0.005 / 3.0).abs() < 1e-12));
}

#[test]
fn a_wrong_key_or_too_few_prompt_files_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(configs("sppo").join("test/tiny-qwen2.toml")).unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, text.replace("samples = 3", "samples = 3\nsample_count = 3")).unwrap();
    let e = PaperConfig::<sppo::config::Method>::load(&p).unwrap_err().to_string();
    assert!(e.contains("sample_count"), "{e}");
    std::fs::write(&p, text.replace("iterations = 2", "iterations = 3")).unwrap();
    let e = PaperConfig::<sppo::config::Method>::load(&p).unwrap_err().to_string();
    assert!(e.contains("2 prompt files for 3 iterations"), "{e}");
}
