//! The paper-scale code path (Hugging Face checkpoint, the SimPO authors' pair format, the RE
//! objective on the engine's policy trainer, η out) on the tiny Qwen2 fixture; the committed
//! paper configs load with the settings they state.

use lcpo::config::MethodObjective;
use lcpo::link::Base;
use lcpo::paper::{self, PaperConfig};
use std::path::{Path, PathBuf};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[test]
fn tiny_fixture_trains_re_dpo_through_the_paper_path() {
    let cfg = PaperConfig::load(&configs().join("test/tiny-qwen2.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(s.pairs, 6);
    assert!(s.steps >= 1 && s.final_loss.is_finite(), "{s:?}");
    assert_eq!(s.eta.len(), 1);
    assert!(s.eta[0] > 0.5 && s.eta[0] < 1.0 && s.eta[0] != 0.9, "η moved from its prior: {:?}", s.eta);
    assert!(s.weights.exists());
    // A rerun finds the finished run and gives the same η.
    let again = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(again.eta, s.eta);
}

#[test]
fn paper_configs_carry_their_settings() {
    let c = PaperConfig::load(&configs().join("paper/mistral-instruct-re-simpo.toml")).unwrap();
    let t = c.train.at(c.method.lr, c.seed);
    assert_eq!((t.batch_size, t.schedule.lr, c.chat_template.as_str()), (128, 5e-7, "mistral-simpo"));
    assert!(matches!(&c.method.objective, MethodObjective::Re(r) if r.eta0 == 0.9 && r.momentum == 0.1 && r.base == Base::Simpo { beta: 2.5, gamma: 0.25 }));
    let c = PaperConfig::load(&configs().join("paper/mistral-instruct-re-dpo.toml")).unwrap();
    assert!(matches!(&c.method.objective, MethodObjective::Re(r) if r.base == Base::Dpo { beta: 0.01 }));
}
