//! The paper-scale code path on the tiny Hugging Face fixture (`shared/fixtures/tiny-llama`, a
//! Llama-3.1-style checkpoint with its chat template): the recipe's question as a new user turn,
//! the answer tokens, training examples from the model's own samples with leave-one-out targets,
//! two optimiser steps of `L_eval + λ L_keep` on the shared engine, the one-forward-pass estimate,
//! and adaptive sampling over the estimates. The reward model is not available here: rewards are a
//! deterministic stand-in (the response's character count), which only the targets' values see.

use adaptive_compute::config::config_dir;
use adaptive_compute::paper::{answer_ids, context, examples, Recipe};
use adaptive_compute::select::adaptive;
use adaptive_compute::selfeval::{estimate, SelfEval};
use shared::model::generate::{generate, GenerateConfig};
use shared::model::Pretrained;
use shared::tokenize::chat::Message;
use shared::train::policy::{self, Refs};
use std::path::Path;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/tiny-llama")
}

#[test]
fn paper_recipe_runs_on_the_tiny_llama() {
    let mut recipe = Recipe::load(&config_dir().join("paper.toml")).unwrap();
    // Fixture-sized: 4 samples, prefixes inside the short responses, two tiny optimiser steps.
    recipe.samples = 4;
    recipe.prefixes = vec![3, 6];
    recipe.train.batch_size = 4;
    recipe.train.micro_batch = 2;
    recipe.train.max_steps = Some(2);
    recipe.train.max_length = None;
    recipe.train.max_prompt_length = None;
    recipe.train.schedule.lr = 1e-3;
    let pre = Pretrained::load(fixture().to_str().unwrap(), tch::Device::Cpu).unwrap();
    let tok = &pre.tokenizer;
    let (yes, no) = answer_ids(tok, &recipe).unwrap();
    assert_ne!(yes, no);

    // The context ends with the question turn and an opened assistant turn.
    let ctx = context(tok, "Name a colour.", "Blue.", &recipe.question).unwrap();
    let text = tok.decode(&ctx, false).unwrap();
    assert!(text.contains("Would you do better if you started over?"), "{text}");
    assert!(text.rfind("Would you").unwrap() > text.rfind("Blue.").unwrap());

    let prompts = ["Name a colour.", "Count to three."];
    let pad = tok.pad_id();
    let mut all = vec![];
    let mut contexts = vec![];
    for (i, x) in prompts.iter().enumerate() {
        let p = tok.encode_chat(&[Message::user(*x)], true).unwrap();
        let g = GenerateConfig { max_new_tokens: 12, temperature: recipe.temperature, top_p: recipe.top_p, stop_tokens: tok.stop_tokens(), seed: 7 + i as u64 };
        let ys = tch::no_grad(|| generate(&pre.model, &vec![p; recipe.samples], pad, &g)).unwrap();
        let texts: Vec<String> = ys.iter().map(|y| tok.decode(y, true).unwrap()).collect();
        let rewards: Vec<f64> = texts.iter().map(|t| t.chars().count() as f64).collect();
        let ex = examples(tok, &recipe, x, &texts, &rewards).unwrap();
        assert!(ex.len() >= recipe.samples, "one example per response at least");
        assert!(ex.iter().all(|e| *e.responses[0].last().unwrap() == yes && *e.responses[1].last().unwrap() == no));
        all.extend(ex);
        contexts.extend(texts.iter().map(|t| context(tok, x, t, &recipe.question).unwrap()));
    }

    let (mut vs, model) = pre.model.copy_with(&pre.vs).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let objective: &SelfEval = &recipe.objective;
    let summary = policy::train(&model, &mut vs, objective, &all, &Refs::none(&dir.path().join("refs")), &recipe.train, pad, &dir.path().join("train")).unwrap();
    assert_eq!(summary.steps, 2);
    assert!(summary.mean_loss.is_finite());

    let est = estimate(&model, &contexts, yes, no, pad, 3).unwrap();
    assert_eq!(est.len(), prompts.len() * recipe.samples);
    assert!(est.iter().all(|e| e.phat > 0.0 && e.phat < 1.0 && e.p_yes + e.p_no <= 1.0 + 1e-9));
    // Batching does not change an estimate.
    let one = estimate(&model, &contexts[..1], yes, no, pad, 1).unwrap();
    assert!((one[0].phat - est[0].phat).abs() < 1e-5);
    let phat: Vec<f64> = est[..recipe.samples].iter().map(|e| e.phat).collect();
    let r = adaptive(&phat, &[1, 1, 2], 0.0);
    assert_eq!(r.samples, 4, "tau = 0 never stops early");
}
