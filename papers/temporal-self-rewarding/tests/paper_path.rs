//! The paper-scale path on the tiny Llama fixture: the SFT stage M_0 = SFT(M_b, IFT ∪ EFT) on
//! tiny IFT/EFT files, then (a prompt file, the chat template, the judge prompt template, the
//! same annotator and the shared on-policy loop) Self-Rewarding, Temporal (with its future model)
//! and Past-only run and resume.

use tsr::config::config_dir;
use tsr::paper::{self, PaperConfig};

#[test]
fn tiny_fixture_runs_every_method_through_the_paper_path() {
    let cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = paper::run(&cfg, tch::Device::Cpu, dir.path()).unwrap();
    // M_0 from the SFT stage: 4 IFT + 3 EFT examples, batch 4 → 2 steps.
    assert_eq!(s.m0, dir.path().join("m0").display().to_string());
    let done: serde_json::Value = shared::io::read_json(&dir.path().join("m0/done.json")).unwrap();
    assert_eq!((done["examples"].as_u64(), done["steps"].as_u64()), (Some(7), Some(2)), "{done}");
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

#[test]
fn eft_judgments_are_trained_under_the_judge_prompt() {
    let cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    let tok = shared::model::Pretrained::load_chat(&cfg.base_model, &cfg.chat_template, &cfg.dtype, tch::Device::Cpu).unwrap().tokenizer;
    let ex = paper::sft_examples(&cfg.sft, &cfg.judge_template().unwrap(), &tok).unwrap();
    assert_eq!(ex.len(), 7);
    let text = |ids: &[i64]| tok.decode(ids, false).unwrap();
    let eft = &ex[4];
    assert!(text(&eft.prompt).contains("Q: sort 3 1 2") && text(&eft.prompt).contains("Score: <n>"), "{}", text(&eft.prompt));
    assert!(text(&eft.response).contains("Score: 5"), "{}", text(&eft.response));
}

#[test]
fn bad_sft_data_is_named() {
    let mut cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let eft = dir.path().join("eft.jsonl");
    std::fs::write(&eft, "{\"question\": \"q\", \"response\": \"r\", \"judgment\": \"fine\"}\n").unwrap();
    cfg.sft.eft = Some(eft.display().to_string());
    let e = format!("{:#}", paper::run(&cfg, tch::Device::Cpu, &dir.path().join("out")).unwrap_err());
    assert!(e.contains("EFT record 1") && e.contains("Score"), "{e}");
    std::fs::write(&eft, "{\"question\": \"q\", \"answer\": \"r\"}\n").unwrap();
    let e = format!("{:#}", paper::run(&cfg, tch::Device::Cpu, &dir.path().join("out")).unwrap_err());
    assert!(e.contains("line 1") && e.contains("EFT"), "{e}");
    assert!(!dir.path().join("out/m0/done.json").exists());
    // No M_0 and nothing to make it from: refused at load.
    let mut c2 = cfg.clone();
    c2.start_model = None;
    c2.sft.ift = None;
    c2.sft.eft = None;
    assert!(c2.validate().unwrap_err().to_string().contains("start_model"));
}
