//! The paper-scale code path on the tiny Hugging Face fixture (`shared/fixtures/tiny-llama`, a
//! Llama-3.1-style checkpoint and tokenizer) with hand-written records in the released format
//! (`tests/fixtures/`): the Alpaca template in the Llama-3 token layout (user turn masked,
//! assistant header + output + `<|eot_id|>` trained), truncation with EOS, the step arithmetic
//! and warm-up rule, SFT epoch by epoch on the shared engine with the per-micro-batch loss, a
//! checkpoint and held-out generations per epoch, the epoch chosen by the judge, and the chosen
//! weights loaded back.
//!
//! The judge: first a closure (the library's contract), then the binary's `--scale paper` with
//! AlpacaEval's annotator (`AlpacaJudge` through the project's OpenAI-compatible client) talking
//! HTTP to a judge on 127.0.0.1 whose preferences the test can recompute; and the errors the
//! binary gives when the judge, the data or the annotator config is missing.

use instruct_skillmix::config::config_dir;
use instruct_skillmix::paper::{alpaca_prompt, encode, load_records, run, schedule, Layout, Recipe, Steps};
use shared::api::server::{invalid, Backend, Job, ServeConfig, Server, Work};
use shared::api::template::{prompt_to_chatml, unfill};
use shared::api::types::*;
use shared::api::world_judge::alpaca_configs_dir;
use shared::model::Pretrained;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn recipe_path() -> PathBuf {
    config_dir().join("paper").join("test").join("tiny-llama.toml")
}

fn recipe() -> Recipe {
    Recipe::load(&recipe_path()).unwrap()
}

#[test]
fn llama3_layout_masks_the_user_turn_and_trains_the_assistant_turn() {
    let r = recipe();
    let pre = Pretrained::load(&r.model, tch::Device::Cpu).unwrap();
    let tok = &pre.tokenizer;
    let rec = &load_records(std::path::Path::new(&r.train_data)).unwrap()[1];
    let ex = encode(tok, Layout::Llama3, rec, 1024).unwrap();
    let prompt = tok.decode(&ex.prompt, false).unwrap();
    let response = tok.decode(&ex.response, false).unwrap();
    assert_eq!(prompt, format!("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>", alpaca_prompt(&rec.instruction).trim()));
    assert_eq!(response, format!("<|start_header_id|>assistant<|end_header_id|>\n\n{}<|eot_id|>", rec.output.trim()));
    // An input field joins the instruction (the released SDA records have input "").
    let with_input = &load_records(std::path::Path::new(&r.train_data)).unwrap()[8];
    assert!(tok.decode(&encode(tok, Layout::Llama3, with_input, 1024).unwrap().prompt, false).unwrap().contains("Budget is tight."));
    // Truncation keeps max_seq_len tokens and ends them with EOS.
    let cut = encode(tok, Layout::Llama3, rec, ex.prompt.len() + 3).unwrap();
    assert_eq!(cut.response.len(), 3);
    assert_eq!(*cut.response.last().unwrap(), tok.token_id("<|end_of_text|>").unwrap());
    assert!(encode(tok, Layout::Llama3, rec, ex.prompt.len()).is_err(), "no room for the output is an error");
    // The sentencepiece layout: BOS + prompt (trailing newline kept), output, EOS; no headers.
    let sp = encode(tok, Layout::Sentencepiece, rec, 1024).unwrap();
    assert!(tok.decode(&sp.prompt, false).unwrap().ends_with("### Response:\n"));
    assert_eq!(*sp.response.last().unwrap(), tok.eos_id().unwrap());
}

#[test]
fn paper_recipe_trains_epoch_by_epoch_and_keeps_the_judges_best_epoch() {
    let r = recipe();
    assert_eq!(r.steps(9), Steps { grad_accum: 2, per_epoch: 2, total: 6, warmup: 2 });
    let mut pre = Pretrained::load(&r.model, tch::Device::Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The stand-in judge prefers epoch 2 and records what it was shown.
    let mut seen = vec![];
    let mut judge = |e: usize, outs: &[serde_json::Value], refs: &[instruct_skillmix::paper::Record]| -> anyhow::Result<f64> {
        assert_eq!(outs.len(), refs.len());
        assert!(outs.iter().all(|o| o["generator"] == format!("epoch-{e}")));
        seen.push(e);
        Ok([10.0, 30.0, 20.0][e - 1])
    };
    let out = run(&mut pre, &r, dir.path(), &mut judge).unwrap();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!((out.steps, out.per_epoch, out.best_epoch), (6, 2, 2));
    for e in 1..=3 {
        assert!(dir.path().join(format!("epoch-{e}/model.safetensors")).exists());
        let outs: Vec<serde_json::Value> = shared::io::read_json(&dir.path().join(format!("epoch-{e}/heldout_outputs.json"))).unwrap();
        assert_eq!(outs.len(), 3);
    }
    // The learning rate of every step is the shared schedule with warm-up int(0.34 · 6) = 2 over all 6 steps.
    let log = std::fs::read_to_string(dir.path().join("train/metrics.csv")).unwrap();
    let head: Vec<&str> = log.lines().next().unwrap().split(',').collect();
    let (si, li) = (head.iter().position(|c| *c == "step").unwrap(), head.iter().position(|c| *c == "lr").unwrap());
    let s = schedule(r.lr, 2, 6);
    let mut steps = vec![];
    for line in log.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (step, lr): (u64, f64) = (f[si].parse().unwrap(), f[li].parse().unwrap());
        assert!((lr - s.lr_at(step - 1, 6)).abs() <= 1e-8 * r.lr, "step {step}: lr {lr}");
        steps.push(step);
    }
    assert_eq!(steps, (1..=6).collect::<Vec<_>>(), "six optimiser steps, resumed at each epoch's end");
    assert_eq!(s.lr_at(0, 6), 0.0);
    // The chosen epoch's weights are the ones loaded.
    let (chosen, _) = Pretrained::load(&r.model, tch::Device::Cpu).map(|p| (p, ())).unwrap();
    shared::model::weights::load_into(&chosen.vs, &[dir.path().join("epoch-2/model.safetensors")], &[]).unwrap();
    let (a, b) = (pre.vs.variables(), chosen.vs.variables());
    let max = a.iter().map(|(k, t)| (t - &b[k]).abs().max().double_value(&[])).fold(0.0, f64::max);
    assert_eq!(max, 0.0);
    let last = Pretrained::load(&r.model, tch::Device::Cpu).unwrap();
    shared::model::weights::load_into(&last.vs, &[dir.path().join("epoch-3/model.safetensors")], &[]).unwrap();
    let moved = a.iter().map(|(k, t)| (t - &last.vs.variables()[k]).abs().max().double_value(&[])).fold(0.0, f64::max);
    assert!(moved > 0.0, "epoch 3 differs from epoch 2");
}

/// A judge's private score of a text (a byte hash spread over [0, 5]); the judge prefers the
/// higher-scored of the two outputs with P = sigmoid(score(first) - score(second)).
fn score(text: &str) -> f64 {
    let h = text.bytes().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    (h % 101) as f64 / 20.0
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// An OpenAI-compatible judge: reads the two outputs back out of the AlpacaEval prompt and answers
/// one token with the top log-probs of `m` (the first output shown is better) and `M`.
struct ScoreJudge {
    user_template: String,
    calls: Arc<AtomicUsize>,
}

impl Backend for ScoreJudge {
    fn models(&self) -> Vec<String> {
        vec!["test-judge".into()]
    }
    fn run(&mut self, jobs: Vec<Job>) {
        for job in jobs {
            let Work::Chat(c) = &job.work else { job.fail(400, invalid("chat only", None)); continue };
            let user = c.messages.last().and_then(|m| m.text()).unwrap_or_default();
            let Some(f) = unfill(&self.user_template, &["{instruction}", "{output_1}", "{output_2}"], &user) else {
                job.fail(400, invalid("not an AlpacaEval prompt", None));
                continue;
            };
            self.calls.fetch_add(1, Ordering::SeqCst);
            let p = sigmoid(score(&f[1].1) - score(&f[2].1));
            let tops = vec![TopLogprob { token: "m".into(), logprob: p.ln(), bytes: None }, TopLogprob { token: "M".into(), logprob: (1.0 - p).ln(), bytes: None }];
            let r = ChatResponse {
                id: "x".into(),
                object: "chat.completion".into(),
                created: 0,
                model: c.model.clone(),
                choices: vec![ChatChoice {
                    index: 0,
                    message: ResponseMessage { role: "assistant".into(), content: Some("m".into()) },
                    logprobs: Some(ChatLogprobs { content: Some(vec![TokenLogprob { token: "m".into(), logprob: p.ln(), bytes: None, top_logprobs: tops }]) }),
                    finish_reason: Some("length".into()),
                }],
                usage: Some(Usage { prompt_tokens: 100, completion_tokens: 1, total_tokens: 101 }),
            };
            job.answer(200, serde_json::to_value(r).unwrap());
        }
    }
}

/// Upstream's annotator config and template when the data folder has them (`cargo xtask fetch
/// alpaca_eval_annotator`; `cargo xtask test` does), else a stand-in written in upstream's layout
/// (same keys, a shorter ChatML template) so the test runs without PyPI.
fn annotator_configs(tmp: &Path) -> (PathBuf, &'static str) {
    if let Some(d) = shared::io::data_root() {
        let dir = alpaca_configs_dir(&d);
        if dir.join("weighted_alpaca_eval_gpt4_turbo/configs.yaml").is_file() {
            return (dir, "upstream's");
        }
    }
    let dir = tmp.join("evaluators_configs");
    std::fs::create_dir_all(dir.join("weighted_alpaca_eval_gpt4_turbo")).unwrap();
    std::fs::create_dir_all(dir.join("alpaca_eval_clf_gpt4_turbo")).unwrap();
    std::fs::write(
        dir.join("weighted_alpaca_eval_gpt4_turbo/configs.yaml"),
        "weighted_alpaca_eval_gpt4_turbo:\n  prompt_template: \"alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt\"\n  fn_completions: \"openai_completions\"\n  completions_kwargs:\n    model_name: \"gpt-4-1106-preview\"\n    max_tokens: 1\n    temperature: 1\n    logprobs: true\n    top_logprobs: 5\n  fn_completion_parser: \"logprob_parser\"\n  completion_parser_kwargs:\n    numerator_token: \"m\"\n    denominator_tokens: [\"m\", \"M\"]\n    is_binarize: false\n  batch_size: 1\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt"),
        "<|im_start|>system\nYou compare two answers to one instruction.\n<|im_end|>\n<|im_start|>user\n## Instruction\n\n{instruction}\n\n## Model m\n\n{output_1}\n\n## Model M\n\n{output_2}\n\nAnswer m or M.\n<|im_end|>\n",
    )
    .unwrap();
    (dir, "a stand-in in upstream's layout")
}

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_instruct-skillmix"));
    c.env("REPRO_QUIET", "1");
    c
}

#[test]
fn paper_scale_judges_every_epoch_through_the_alpacaeval_annotator_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let (configs, which) = annotator_configs(tmp.path());
    eprintln!("annotator config: {which} ({})", configs.display());
    let template = std::fs::read_to_string(configs.join("alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt")).unwrap();
    let user_template = prompt_to_chatml(&template).unwrap().into_iter().filter_map(|m| m.text()).find(|t| t.contains("{instruction}")).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::start(ServeConfig { addr: "127.0.0.1:0".into(), ..Default::default() }, Box::new(ScoreJudge { user_template, calls: calls.clone() })).unwrap();
    let (run_dir, out) = (tmp.path().join("run"), tmp.path().join("out"));
    let run_paper = || {
        let o = binary()
            .args(["--scale", "paper", "--recipe", recipe_path().to_str().unwrap(), "--judge-url", &server.url(), "--judge-model", "test-judge", "--api-key-env", "REPRO_TEST_NO_KEY"])
            .arg("--annotator-configs")
            .arg(&configs)
            .arg("--run-dir")
            .arg(&run_dir)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
        eprintln!("{stdout}");
        stdout
    };
    let stdout = run_paper();

    // Recompute every epoch's held-out win rate from what the run saved: the model's generation
    // against the held-out record's own output, scored by the judge's rule.
    let heldout = load_records(Path::new(&recipe().heldout_data)).unwrap();
    let mut want = vec![];
    let mut distinct = std::collections::BTreeSet::new();
    for e in 1..=3 {
        let ed = run_dir.join(format!("epoch-{e}"));
        assert!(ed.join("model.safetensors").is_file());
        let outs: Vec<serde_json::Value> = shared::io::read_json(&ed.join("heldout_outputs.json")).unwrap();
        let ann: Vec<serde_json::Value> = shared::io::read_json(&ed.join("annotations.json")).unwrap();
        assert_eq!((outs.len(), ann.len()), (3, 3));
        let mut ys = vec![];
        for ((o, a), r) in outs.iter().zip(&ann).zip(&heldout) {
            let model = o["output"].as_str().unwrap();
            let y = sigmoid(score(model) - score(&r.output));
            // Upstream's record: the reference is output_1, the epoch's generation output_2, and
            // the preference (swap undone) is 1 + P(generation better).
            assert_eq!((a["output_1"].as_str(), a["output_2"].as_str(), a["generator_2"].as_str()), (Some(r.output.as_str()), Some(model), Some(format!("epoch-{e}").as_str())));
            assert_eq!(a["annotator"], "weighted_alpaca_eval_gpt4_turbo");
            let got = a["preference"].as_f64().unwrap() - 1.0;
            assert!((got - y).abs() < 1e-9, "epoch {e}, {:?}: preference {got} vs {y} (switched: {})", r.instruction, a["is_switched_outputs"]);
            ys.push(y);
            distinct.insert((r.instruction.clone(), model.to_string()));
        }
        want.push(100.0 * ys.iter().sum::<f64>() / ys.len() as f64);
    }
    // One HTTP call per distinct comparison (a repeated one comes from the client's cache).
    assert_eq!(calls.load(Ordering::SeqCst), distinct.len());
    let summary: serde_json::Value = shared::io::read_json(&out.join("tiny-llama.json")).unwrap();
    let got: Vec<f64> = summary["heldout_win_rate"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.len(), 3);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-9, "win rates {got:?} vs recomputed {want:?}");
    }
    assert!(want.iter().any(|w| (w - want[0]).abs() > 1e-6), "every epoch scored the same ({want:?}): the selection would be vacuous");
    let best = instruct_skillmix::paper::select_epoch(&want).unwrap();
    assert_eq!(summary["best_epoch"].as_u64(), Some(best as u64), "{summary}");
    assert_eq!(summary["best_weights"].as_str().map(PathBuf::from), Some(run_dir.join(format!("epoch-{best}/model.safetensors"))));
    assert_eq!((summary["steps"].as_u64(), summary["judge_model"].as_str()), (Some(6), Some("test-judge")));
    assert!(stdout.contains(&format!("chosen epoch {best} of 3")), "{stdout}");

    // A rerun in the same folder resumes: no training step, no judge call (the client's cache),
    // the same win rates and choice.
    let (sent, log) = (calls.load(Ordering::SeqCst), std::fs::read_to_string(run_dir.join("train/metrics.csv")).unwrap());
    run_paper();
    server.shutdown();
    assert_eq!(calls.load(Ordering::SeqCst), sent);
    assert_eq!(std::fs::read_to_string(run_dir.join("train/metrics.csv")).unwrap(), log);
    let again: serde_json::Value = shared::io::read_json(&out.join("tiny-llama.json")).unwrap();
    assert_eq!((&again["heldout_win_rate"], &again["best_epoch"]), (&summary["heldout_win_rate"], &summary["best_epoch"]));
}

#[test]
fn paper_scale_names_every_missing_piece_instead_of_panicking() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = recipe_path();
    // No judge, no held-out file, no annotator config: one error naming all three, exit 1.
    let o = binary()
        .args(["--scale", "paper", "--recipe", recipe.to_str().unwrap(), "--heldout-data", "nope/ism_sda_heldout_k2_100.json"])
        .arg("--annotator-configs")
        .arg(tmp.path())
        .arg("--run-dir")
        .arg(tmp.path().join("run"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for want in ["cannot start", "a judge endpoint", "--judge-url", "nope/ism_sda_heldout_k2_100.json", "--heldout-data FILE", "cargo xtask fetch alpaca_eval_annotator"] {
        assert!(err.contains(want), "{want:?} not in: {err}");
    }
    assert!(!err.contains("--train-data FILE"), "the training records are there: {err}");
    assert!(!tmp.path().join("run/epoch-1").exists(), "nothing trained");
    // A judge that does not answer: named before the model is loaded.
    let (configs, _) = annotator_configs(tmp.path());
    let o = binary()
        .args(["--scale", "paper", "--recipe", recipe.to_str().unwrap(), "--judge-url", "http://127.0.0.1:1/v1", "--api-key-env", "REPRO_TEST_NO_KEY"])
        .arg("--annotator-configs")
        .arg(&configs)
        .arg("--run-dir")
        .arg(tmp.path().join("run"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("http://127.0.0.1:1/v1 does not answer GET /models") && !err.contains("loading"), "{err}");
    // --dry-run prints the plan without any of them; paper options at mini scale are an error.
    let o = binary().args(["--scale", "paper", "--dry-run"]).output().unwrap();
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && plan.contains("meta-llama/Meta-Llama-3-8B") && plan.contains("not configured (--judge-url URL)"), "{plan}");
    let o = binary().args(["--scale", "smoke", "--judge-url", "http://127.0.0.1:1/v1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("apply to --scale paper only"));
}
