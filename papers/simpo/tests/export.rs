//! `cargo xtask export simpo`: the exported bundle of the tiny setting (`configs/test/tiny-llama.toml`:
//! tiny-llama, the UltraFeedback-format parquet) runs with TRL on CPU in two processes (torchrun,
//! gloo; the global batch kept by halving the accumulation), and its per-step SimPO and DPO losses
//! equal the Rust paper path's within 1e-4.
//!
//! The tiny setting's batch (2 × 2 accumulation × 1 GPU = 4) is its whole training split, so every
//! step sees the same pairs in both trainers whatever order each draws (both shuffle, with
//! different generators).

mod common;

use common::*;
use simpo::config::{config_dir, PaperConfig};
use simpo::export;
use simpo::paper::{self, Method, PaperRunOptions};
use tch::Device;

fn tiny_config() -> PaperConfig {
    let mut cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    cfg.model = crate_dir().join(&cfg.model).canonicalize().unwrap().to_string_lossy().into_owned();
    cfg.dataset = crate_dir().join(&cfg.dataset).canonicalize().unwrap().to_string_lossy().into_owned();
    cfg
}

#[test]
fn exported_recipe_trains_with_trl_in_two_processes_like_the_rust_trainer() {
    let cfg = tiny_config();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let steps = 3;
    let opts = PaperRunOptions { max_steps: Some(steps), ..Default::default() };
    let summary = export::export(&cfg, &bundle, &opts).unwrap();
    assert_eq!(summary.pairs, 4);
    for f in ["data/train.jsonl", "recipe-simpo.json", "recipe-dpo.json", "train.py", "requirements.txt", "launch.sh", "README.md", "accelerate/deepspeed_zero3.yaml"] {
        assert!(bundle.join(f).exists(), "{f} missing from the bundle");
    }
    // The ids TRL reads are the Rust trainer's own (rendered and truncated by the same code).
    let loaded = paper::load_model(&cfg, Device::Cpu).unwrap();
    let pairs = paper::encode_pairs(&loaded.tokenizer, &paper::load_dataset(&cfg, None).unwrap()).unwrap();
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(bundle.join("data/train.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (p, r) in pairs.iter().zip(&rows) {
        let ids = |k: &str| r[k].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect::<Vec<_>>();
        assert_eq!((ids("prompt_ids"), ids("chosen_ids"), ids("rejected_ids")), (p.prompt.clone(), p.chosen.clone(), p.rejected.clone()));
    }

    // TRL, two CPU processes, both methods in one launch.
    run_python(&bundle, &["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "train.py", "recipe-simpo.json", "recipe-dpo.json"]);

    for method in [Method::Simpo, Method::Dpo] {
        let name = export::method_name(method);
        let out = dir.path().join(format!("rust-{name}"));
        paper::run(&cfg, Device::Cpu, &out, &PaperRunOptions { method, ..opts.clone() }).unwrap();
        let rust = rust_metrics(&out.join("train/metrics.csv"));
        let trl = trl_metrics(&bundle.join(format!("out-{name}/metrics.jsonl")));
        assert_eq!(rust.len() as u64, steps);
        let (dl, dg, dr) = max_step_diffs(&rust, &trl);
        eprintln!("{name}, 2 processes: max |Δ loss| {dl:.1e}, relative |Δ grad norm| {dg:.1e}, |Δ lr| {dr:.1e}; losses {:?}", rust.iter().map(|s| s.loss).collect::<Vec<_>>());
        assert!(dl < 1e-4, "{name}: per-step losses differ by {dl}");
        assert!(dr < 1e-9, "{name}: learning rates differ by {dr}");
        assert!(rust.first().unwrap().loss != rust.last().unwrap().loss, "{name}: the loss did not move");
    }
}
