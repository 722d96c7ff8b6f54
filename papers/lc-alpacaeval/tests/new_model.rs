//! A new model's LC: computed against the frozen instruction difficulty, so adding a model
//! leaves every other model's LC exactly as it was; and the `evaluate alpaca-eval` path
//! (upstream's annotator config and template, a judge behind a real HTTP server on 127.0.0.1,
//! annotations.json, frozen-d LC, leaderboard row) on a shipped model's real outputs.

use lc_alpacaeval::evaluate::{comparisons, load_outputs, score};
use lc_alpacaeval::pipeline::{committed_difficulty_file, Options};
use shared::api::alpaca_judge::{AlpacaJudge, AnnotatorConfig};
use shared::api::server::{invalid, Backend, Job, ServeConfig, Server, Work};
use shared::api::template::{prompt_to_chatml, unfill};
use shared::api::types::*;
use shared::api::world_judge::{alpaca_configs_dir, alpaca_template_path};
use shared::api::{Client, ClientConfig};
use shared::eval::alpaca_eval as ae;
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    let d = shared::io::data_root().expect("no data: run `cargo xtask fetch all` and set REPRO_DATA=datasets/.cache");
    assert!(d.join("alpaca_eval/results/gpt4_1106_preview").is_dir(), "missing {}: run `cargo xtask fetch alpaca_eval`", d.join("alpaca_eval").display());
    d
}

/// A copy of the AlpacaEval folder made of links to the real files.
fn link_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let (s, d) = (e.path(), dst.join(e.file_name()));
        if s.is_dir() {
            link_tree(&s, &d);
        } else {
            std::os::unix::fs::symlink(&s, &d).unwrap();
        }
    }
}

#[test]
fn adding_a_model_leaves_every_other_lc_unchanged() {
    let root = data().join("alpaca_eval");
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("alpaca_eval");
    link_tree(&root, &copy);
    let opt = Options { difficulty_file: Some(committed_difficulty_file()) };
    let before = lc_alpacaeval::run(&copy, &opt).unwrap();
    // A new model: claude-2.1's answers with every judgement moved halfway to a draw.
    let src: serde_json::Value = shared::io::read_json(&ae::annotations_path(&root, "claude-2.1")).unwrap();
    let new: Vec<serde_json::Value> = src
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(p) = r["preference"].as_f64() {
                r["preference"] = serde_json::json!(1.5 + 0.5 * (p - 1.5));
            }
            r["generator_2"] = "new-model".into();
            r
        })
        .collect();
    shared::io::write_json(&ae::annotations_path(&copy, "new-model"), &new).unwrap();
    let after = lc_alpacaeval::run(&copy, &opt).unwrap();
    assert_eq!(after.rows.len(), before.rows.len() + 1);
    assert!(after.get("new-model").is_some());
    for m in &before.rows {
        let a = after.get(&m.model).unwrap();
        assert_eq!(a.lc.lc_win_rate.to_bits(), m.lc.lc_win_rate.to_bits(), "{} moved", m.model);
        assert_eq!(a.lc.weights, m.lc.weights, "{}", m.model);
    }
}

/// A judge that prefers the longer output: P(first better) = sigmoid((len1 - len2) / 400).
struct LengthJudge {
    user_template: String,
}

impl Backend for LengthJudge {
    fn models(&self) -> Vec<String> {
        vec!["length-judge".into()]
    }
    fn run(&mut self, jobs: Vec<Job>) {
        for job in jobs {
            let Work::Chat(c) = &job.work else { job.fail(400, invalid("chat only", None)); continue };
            let user = c.messages.last().and_then(|m| m.text()).unwrap_or_default();
            let Some(f) = unfill(&self.user_template, &["{instruction}", "{output_1}", "{output_2}"], &user) else {
                job.fail(400, invalid("not an AlpacaEval prompt", None));
                continue;
            };
            let z = (f[1].1.chars().count() as f64 - f[2].1.chars().count() as f64) / 400.0;
            let p = 1.0 / (1.0 + (-z).exp());
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

#[test]
fn evaluate_a_shipped_models_outputs_through_an_http_judge() {
    let data = data();
    let root = data.join("alpaca_eval");
    let cfg_dir = alpaca_configs_dir(&data);
    assert!(cfg_dir.is_dir(), "missing {}: run `cargo xtask fetch alpaca_eval_annotator` (PyPI)", cfg_dir.display());
    let template = std::fs::read_to_string(alpaca_template_path(&data)).unwrap();
    let user_template = prompt_to_chatml(&template).unwrap().into_iter().filter_map(|m| m.text()).find(|t| t.contains("{instruction}")).unwrap();
    let server = Server::start(ServeConfig { addr: "127.0.0.1:0".into(), ..Default::default() }, Box::new(LengthJudge { user_template })).unwrap();
    let client = Client::new(ClientConfig { base_url: server.url(), api_key_env: "REPRO_TEST_NO_KEY".into(), max_concurrency: 8, ..Default::default() }).unwrap();
    let judge = AlpacaJudge::new(AnnotatorConfig::load(&cfg_dir, ae::ANNOTATOR).unwrap(), &client, Some("length-judge")).unwrap();

    let outputs = load_outputs(&ae::model_outputs_path(&root, "gpt4_1106_preview_verbose")).unwrap();
    let (items, index) = comparisons(&root, &outputs, "verbose").unwrap();
    assert_eq!(items.len(), 805);
    let ann = judge.annotate(&items).unwrap();
    let out = tempfile::tempdir().unwrap();
    shared::io::write_json(&ae::annotations_path(out.path(), "verbose"), &ann).unwrap();
    let loaded = ae::load_annotations(out.path(), "verbose").unwrap();
    let d = ae::load_instruction_difficulty(&committed_difficulty_file()).unwrap();
    let (row, lc, _) = score(&root, &loaded, &index, &d).unwrap();
    // The verbose outputs are longer than the baseline's: the length-loving judge gives them a
    // high raw win rate, and LC takes most of it back.
    assert!(row.win_rate > 60.0, "{}", row.win_rate);
    assert!(lc.lc_win_rate < row.win_rate - 10.0, "raw {} LC {}", row.win_rate, lc.lc_win_rate);
    assert_eq!((row.n_total, client.stats().sent), (805, 805));
    // A subset of the instructions is judged and scored too (the same instructions' gamed rows).
    let (sub, sub_index) = comparisons(&root, &outputs[..200], "verbose-200").unwrap();
    let ann = judge.annotate(&sub).unwrap();
    shared::io::write_json(&ae::annotations_path(out.path(), "verbose-200"), &ann).unwrap();
    let (row, _, _) = score(&root, &ae::load_annotations(out.path(), "verbose-200").unwrap(), &sub_index, &d).unwrap();
    assert_eq!(row.n_total, 200);
    // The command itself (`cargo xtask evaluate alpaca-eval` runs this binary) on 50 outputs.
    let outs_file = out.path().join("model_outputs.json");
    let recs: Vec<serde_json::Value> = outputs[..50].iter().map(|o| serde_json::json!({"instruction": o.instruction, "output": o.output, "generator": "verbose-50"})).collect();
    shared::io::write_json(&outs_file, &recs).unwrap();
    let res = out.path().join("res");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_evaluate-alpaca-eval"))
        .args(["--data", data.to_str().unwrap(), "--judge-url", &server.url(), "--judge-model", "length-judge", "--api-key-env", "REPRO_TEST_NO_KEY"])
        .arg("--model-outputs").arg(&outs_file)
        .arg("--cache").arg(out.path().join("cache"))
        .arg("--out").arg(&res)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lb = ae::load_leaderboard(&res.join("leaderboard.csv")).unwrap();
    assert_eq!((lb.len(), lb[0].model.as_str(), lb[0].n_total), (1, "verbose-50", 50));
    assert!(lb[0].length_controlled_winrate.is_some());
    assert_eq!(ae::load_annotations(&res, "verbose-50").unwrap().rows.len(), 50);
    // An output for an instruction outside the evaluation set is an error naming it.
    let mut bad = outputs[..2].to_vec();
    bad[1].instruction = "not an AlpacaEval instruction".into();
    assert!(comparisons(&root, &bad, "x").unwrap_err().to_string().contains("not in the AlpacaEval evaluation set"));
    server.shutdown();
}
