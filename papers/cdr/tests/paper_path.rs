//! The scoring path on the tiny Hugging Face fixtures: two checkpoints with different tokenizers
//! score a RewardBench-format file, every item gets a finite r_DR, the subsets' accuracies become
//! RewardBench's sections; a model over itself gives r_DR = 0 everywhere, which the strict rule
//! counts wrong; the paper config loads.

use cdr::paper::{self, PaperConfig};
use cdr::ratio::Normalise;
use std::path::{Path, PathBuf};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

#[test]
fn two_tiny_checkpoints_score_every_item() {
    let cfg = PaperConfig::load(&configs().join("test/tiny.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(s.items, 8);
    assert_eq!(s.sections.len(), 4, "{s:?}");
    assert!(s.overall.is_some_and(|o| (0.0..=100.0).contains(&o)));
    for f in ["rewardbench.md", "rewardbench.csv", "items.csv", "summary.json"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    // The mean variant changes the scale, not the item count.
    let mean = PaperConfig { normalise: Normalise::Mean, ..cfg.clone() };
    assert_eq!(paper::score(&mean, &paper::load(&mean).unwrap(), tch::Device::Cpu).unwrap().len(), 8);
}

#[test]
fn a_model_over_itself_scores_zero_and_every_item_wrong() {
    let mut cfg = PaperConfig::load(&configs().join("test/tiny.toml")).unwrap();
    cfg.weak = cfg.strong.clone();
    let items = paper::score(&cfg, &paper::load(&cfg).unwrap(), tch::Device::Cpu).unwrap();
    assert!(items.iter().all(|i| i.r_chosen == 0.0 && i.r_rejected == 0.0));
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(s.overall, Some(0.0));
}

#[test]
fn paper_config_loads() {
    let cfg = PaperConfig::load(&configs().join("paper/nous-hermes-over-openhermes.toml")).unwrap();
    assert_eq!((cfg.strong.as_str(), cfg.weak.as_str()), ("NousResearch/Nous-Hermes-2-Mistral-7B-DPO", "teknium/OpenHermes-2.5-Mistral-7B"));
    assert_eq!((cfg.max_prompt_length, cfg.normalise, cfg.include_last_prompt_token), (2048, Normalise::None, true));
}
