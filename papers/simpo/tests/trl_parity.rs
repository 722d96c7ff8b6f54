//! Parity with TRL 1.16: the Rust pairwise trainer and TRL (through the exported `train.py`:
//! `CPOTrainer` with `loss_type="simpo"`, `cpo_alpha=0` for SimPO, `DPOTrainer` with precomputed
//! reference log-probs for DPO) train tiny-llama from the same weights on the same 16 chat pairs,
//! given the same ids (the SimPO authors' prompt/response boundary). Per step, losses, gradient
//! norms and learning rates must agree, and so must the weights after the last step, for SimPO and
//! DPO, one batch of 4 and 2 × 2 accumulation, constant and cosine-with-warm-up schedules.
//!
//! One Python process runs the four TRL trainings (CPU, f32). Data order: TRL reads the pairs in
//! file order (`shuffle = false`), written in the order the Rust trainer visits them.

mod common;

use common::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use shared::objectives::{dpo::Dpo, PairObjective};
use simpo::config::{config_dir, LrScheduler, PaperConfig};
use simpo::export::{self, Recipe};
use simpo::objective::Simpo;
use simpo::paper::{self, Method, PaperRunOptions};
use shared::train::pairwise;
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Tensor};

struct Case {
    name: &'static str,
    method: Method,
    per_device: usize,
    scheduler: LrScheduler,
    warmup: f64,
}

const CASES: [Case; 4] = [
    Case { name: "simpo-b4-constant", method: Method::Simpo, per_device: 4, scheduler: LrScheduler::Constant, warmup: 0.0 },
    Case { name: "simpo-2x2-cosine", method: Method::Simpo, per_device: 2, scheduler: LrScheduler::Cosine, warmup: 0.25 },
    Case { name: "dpo-b4-cosine", method: Method::Dpo, per_device: 4, scheduler: LrScheduler::Cosine, warmup: 0.25 },
    Case { name: "dpo-2x2-constant", method: Method::Dpo, per_device: 2, scheduler: LrScheduler::Constant, warmup: 0.0 },
];

/// The tiny setting of a case: batch 4 over 16 pairs (4 steps, one epoch), lr 5e-3, no truncation.
fn config(case: &Case) -> PaperConfig {
    let mut cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    cfg.model = crate_dir().join(&cfg.model).canonicalize().unwrap().to_string_lossy().into_owned();
    cfg.train.learning_rate = 5e-3;
    cfg.dpo.learning_rate = 5e-3;
    cfg.train.lr_scheduler_type = case.scheduler;
    cfg.train.warmup_ratio = case.warmup;
    cfg.train.epochs = 1;
    cfg.train.per_device_batch = case.per_device;
    cfg.train.grad_accum = 4 / case.per_device;
    cfg.gpus = 1;
    cfg.train.max_length = 512;
    cfg.train.max_prompt_length = 256;
    cfg.validate().unwrap();
    cfg
}

/// The order in which `pairwise::train` visits `n` pairs in `epoch` (its seeded permutation:
/// ChaCha8 seeded by `seed ^ epoch · 0x9E37_79B9_7F4A_7C15`, a Fisher–Yates shuffle). Replace by
/// the engine's `shuffle = false` once the trainer has it.
fn rust_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    order
}

/// Train `case` with the Rust trainer; (per-step metrics, final weights).
fn rust_run(case: &Case, out: &Path) -> (Vec<StepRow>, HashMap<String, Tensor>) {
    let cfg = config(case);
    let opts = PaperRunOptions { method: case.method, ..Default::default() };
    let mut loaded = paper::load_model(&cfg, Device::Cpu).unwrap();
    let pairs = paper::encode_pairs(&loaded.tokenizer, &chat_pairs()).unwrap();
    let pcfg = paper::pairwise_config(&cfg, &opts);
    let objective: Box<dyn PairObjective> = match case.method {
        Method::Simpo => Box::new(Simpo(cfg.simpo.clone())),
        Method::Dpo => Box::new(Dpo::new(cfg.dpo.beta)),
    };
    let reference = pairwise::reference_for(objective.as_ref(), &loaded.model, &loaded.vs, &pairs, &pcfg, "tiny-llama|llama3", &out.join("ref")).unwrap();
    pairwise::train(&loaded.model, &mut loaded.vs, objective.as_ref(), &pairs, reference.as_ref(), &pcfg, &out.join("train")).unwrap();
    (rust_metrics(&out.join("train/metrics.csv")), loaded.vs.variables().into_iter().collect())
}

#[test]
fn rust_trainer_matches_trl_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    // The data TRL reads: the Rust trainer's rendering, in the Rust trainer's order.
    let cfg0 = config(&CASES[0]);
    let tok = export::load_tokenizer(&cfg0).unwrap();
    let pairs = paper::encode_pairs(&tok, &chat_pairs()).unwrap();
    let order = rust_order(pairs.len(), cfg0.train.seed, 0);
    let ordered: Vec<_> = order.iter().map(|&i| pairs[i].clone()).collect();
    export::write_bundle(&bundle, &cfg0, &[], &tok, &ordered).unwrap();
    let mut recipes = vec![];
    for case in &CASES {
        let mut r = Recipe::new(&config(case), case.method, &PaperRunOptions::default());
        r.shuffle = false;
        r.output_dir = case.name.into();
        let name = format!("recipe-{}.json", case.name);
        shared::io::write_json(&bundle.join(&name), &r).unwrap();
        recipes.push(name);
    }
    let mut args = vec!["train.py"];
    args.extend(recipes.iter().map(String::as_str));
    run_python(&bundle, &args);

    let mut worst = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for case in &CASES {
        let (rust, weights) = rust_run(case, &dir.path().join(case.name));
        let trl = trl_metrics(&bundle.join(case.name).join("metrics.jsonl"));
        assert_eq!(rust.len(), 4, "{}: 16 pairs / batch 4", case.name);
        let (dl, dg, dr) = max_step_diffs(&rust, &trl);
        eprintln!("{}: max |Δ loss| {dl:.1e}, max relative |Δ grad norm| {dg:.1e}, max |Δ lr| {dr:.1e}; losses {:?}", case.name, rust.iter().map(|s| s.loss).collect::<Vec<_>>());
        assert!(dl < 1e-5, "{}: losses differ by {dl}", case.name);
        assert!(dg < 1e-4, "{}: gradient norms differ by {dg} (relative)", case.name);
        assert!(dr < 1e-12, "{}: learning rates differ by {dr}", case.name);
        // The weights after the last step. Adam divides each gradient by its own running RMS, so an
        // element whose gradient is near zero in both runs (cancellation) turns float noise into a
        // visible part of lr: compare the updates as a whole (relative) and bound the largest element.
        let trained: HashMap<String, Tensor> = Tensor::read_safetensors(bundle.join(case.name).join("model.safetensors")).unwrap().into_iter().collect();
        let start = paper::load_model(&config(case), Device::Cpu).unwrap();
        let (mut diff2, mut moved2, mut dw) = (0.0f64, 0.0f64, 0.0f64);
        for (name, w) in &weights {
            let t = trained.get(name).unwrap_or_else(|| panic!("{}: TRL saved no {name}", case.name));
            diff2 += (w - t).square().sum(tch::Kind::Double).double_value(&[]);
            moved2 += (w - &start.vs.variables()[name]).square().sum(tch::Kind::Double).double_value(&[]);
            dw = dw.max((w - t).abs().max().double_value(&[]));
        }
        let rel = (diff2 / moved2).sqrt();
        eprintln!("{}: weights after the last step: |Δ| / |update| = {rel:.1e}, max |Δ| {dw:.1e} (lr 5e-3, update norm {:.2})", case.name, moved2.sqrt());
        assert!(moved2.sqrt() > 0.1, "{}: the weights barely moved", case.name);
        assert!(rel < 1e-3, "{}: the updates differ by {rel} (relative)", case.name);
        assert!(dw < 1e-3, "{}: a weight differs by {dw}", case.name);
        let dw = rel;
        worst = (worst.0.max(dl), worst.1.max(dg), worst.2.max(dr), worst.3.max(dw));
    }
    eprintln!("all cases: max |Δ loss| {:.1e}, relative |Δ grad norm| {:.1e}, |Δ lr| {:.1e}, |Δ weight| {:.1e}", worst.0, worst.1, worst.2, worst.3);
}
