//! The paper-scale path on the tiny fixtures: the SFT stage (`L_SFT` on the tiny UltraFeedback
//! pairs, both targets) makes SFT-both from the tiny Llama, then two rounds of chains under the
//! chat template and the refinement template, pairs chosen by the rule or by the `[preference]`
//! reward model (the tiny Llama with a seeded score head); every stage resumes.

use evolve::config::{config_dir, Selection};
use evolve::paper::{self, PaperConfig};
use shared::data::preference::load_dataset;
use shared::model::Pretrained;

fn config() -> PaperConfig {
    PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap()
}

fn check_rounds(s: &paper::PaperSummary) {
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
}

#[test]
fn tiny_fixture_runs_the_sft_stage_and_evolve_rounds() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    check_rounds(&s);
    // The SFT stage: 4 pairs, 2 targets each, batch 4 → 2 steps; a loadable model folder.
    let stage = dir.path().join("sft-both");
    assert_eq!(s.sft_both, stage.display().to_string());
    let done: serde_json::Value = shared::io::read_json(&stage.join("done.json")).unwrap();
    assert_eq!((done["examples"].as_u64(), done["steps"].as_u64()), (Some(8), Some(2)), "{done}");
    assert!(Pretrained::load(stage.to_str().unwrap(), tch::Device::Cpu).is_ok());
    assert!(dir.path().join("evolve/iter-2/done.json").exists());
    let again = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    assert_eq!(again.rounds.len(), 2, "a rerun resumes from the saved stage and iterates");
}

#[test]
fn sft_examples_are_both_targets_of_every_pair() {
    let cfg = config();
    let pre = Pretrained::load_chat(&cfg.model, &cfg.chat_template, &cfg.dtype, tch::Device::Cpu).unwrap();
    let pairs = load_dataset(&cfg.sft.dataset, &cfg.sft.files, Some(2)).unwrap();
    let ex = paper::sft_examples(&cfg, &pre.tokenizer, &pairs).unwrap();
    assert_eq!(ex.len(), 4);
    let text = |ids: &[i64]| pre.tokenizer.decode(ids, false).unwrap();
    for (p, two) in pairs.iter().zip(ex.chunks(2)) {
        // The same target y_w under both prompts; the refine prompt carries y_l and the template.
        assert_eq!(two[0].response, two[1].response);
        assert!(text(&two[0].response).contains(p.chosen.trim()), "{}", text(&two[0].response));
        let refine = text(&two[1].prompt);
        assert!(refine.contains("write an improved answer") && refine.contains(p.rejected.trim()), "{refine}");
        assert!(!text(&two[0].prompt).contains("write an improved answer"));
    }
}

#[test]
fn chains_are_scored_by_the_reward_model() {
    let mut cfg = config();
    cfg.selection = Selection::Rm;
    cfg.iterations = 1;
    cfg.prompts_per_iteration = 6;
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    let st = &s.rounds[0]["stats"];
    // The RM gives each answer of a chain a score; a chain is dropped only when they all tie.
    let kept = st["kept"].as_u64().unwrap();
    assert!(kept >= 1, "{st}");
    assert_eq!(st["winner_position"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), kept, "{st}");
}

#[test]
fn rm_selection_without_a_reward_model_is_refused_before_anything_runs() {
    let mut cfg = config();
    cfg.selection = Selection::Rm;
    cfg.preference = None;
    let dir = tempfile::tempdir().unwrap();
    let e = format!("{:#}", paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap_err());
    assert!(e.contains("reward model") && e.contains("[preference]"), "{e}");
    assert!(!dir.path().join("sft-both").exists(), "refused before the SFT stage");
}

#[test]
fn a_missing_sft_file_is_named() {
    let mut cfg = config();
    cfg.sft.files = vec!["data/nope.parquet".into()];
    let dir = tempfile::tempdir().unwrap();
    let e = format!("{:#}", paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap_err());
    assert!(e.contains("nope.parquet") && e.contains("SFT stage"), "{e}");
}

#[test]
fn the_binary_runs_the_paper_scale_from_a_config() {
    let bin = env!("CARGO_BIN_EXE_evolve");
    // The default paper config: printed and planned, never run, under --dry-run.
    let o = std::process::Command::new(bin).args(["--scale", "paper", "--dry-run"]).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("meta-llama/Llama-3.1-8B") && text.contains("plan:"), "{text}{}", String::from_utf8_lossy(&o.stderr));
    // The test config, run for real: checkpoints in the work folder, the summary in --out.
    let (runs, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg = config_dir().join("test/tiny-llama.toml");
    let paper = |args: &[&str]| std::process::Command::new(bin).env("REPRO_RUNS", runs.path()).args(["--scale", "paper"]).args(args).output().unwrap();
    let o = paper(&["--config", cfg.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = shared::io::read_json(&out.path().join("summary.json")).unwrap();
    assert_eq!(s["rounds"].as_array().unwrap().len(), 2, "{s}");
    let work = runs.path().join("evolve/paper-tiny-llama");
    assert!(work.join("sft-both/model.safetensors").is_file() && work.join("evolve/iter-2/done.json").is_file());
    assert!(!out.path().join("sft-both").exists(), "no checkpoints in the results folder");
    // The default config has selection = "rm" and no reward model: refused with the fix named.
    let o = paper(&["--out", out.path().join("x").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("[preference]"), "{err}");
}
