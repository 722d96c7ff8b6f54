//! The paper-scale code path end to end on a tiny Hugging Face-format checkpoint
//! (`shared/fixtures/tiny-llama`) and the tiny UltraFeedback parquet: token ids as the spec's
//! "What is counted in |y|" says, a few SimPO and DPO steps on CPU, the HF-format output reloaded,
//! and AlpacaEval-format outputs written.

use shared::model::{Llama, LlamaConfig};
use shared::tokenize::chat::{ChatTemplate, Message};
use shared::tokenize::Tokenizer;
use simpo::config::{config_dir, PaperConfig};
use simpo::paper::{self, Method, PaperRunOptions};
use std::path::{Path, PathBuf};
use tch::{nn::VarStore, Device};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tiny_config() -> PaperConfig {
    let mut cfg = PaperConfig::load(&config_dir().join("test/tiny-llama.toml")).unwrap();
    cfg.model = crate_dir().join(&cfg.model).to_string_lossy().into_owned();
    cfg.dataset = crate_dir().join(&cfg.dataset).to_string_lossy().into_owned();
    cfg
}

#[test]
fn response_span_holds_the_assistant_header_and_end_of_turn() {
    let cfg = tiny_config();
    let loaded = paper::load_model(&cfg, Device::Cpu).unwrap();
    let tok = &loaded.tokenizer;
    let raw = paper::load_dataset(&cfg, None).unwrap();
    let pairs = paper::encode_pairs(tok, &raw).unwrap();
    assert_eq!(pairs.len(), raw.len());
    let eot = tok.token_id("<|eot_id|>").unwrap();
    let bos = tok.bos_id().unwrap();
    for (p, r) in pairs.iter().zip(&raw) {
        // Prompt: the template over the context, no generation prompt, exactly one BOS.
        let q = &r.context[0].content;
        let prompt_text = format!("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>", q.trim());
        assert_eq!(p.prompt, tok.encode(&prompt_text, false).unwrap());
        assert_eq!(p.prompt.iter().filter(|&&i| i == bos).count(), 1);
        // Response: header + content + <|eot_id|> (= EOS here, so nothing is appended).
        for (ids, text) in [(&p.chosen, &r.chosen), (&p.rejected, &r.rejected)] {
            let header = tok.encode("<|start_header_id|>assistant<|end_header_id|>\n\n", false).unwrap();
            let content = tok.encode(text.trim(), false).unwrap();
            assert_eq!(&ids[..header.len()], &header[..], "the response span starts with the assistant header");
            assert_eq!(*ids.last().unwrap(), eot, "the response span ends with the end-of-turn token");
            assert_eq!(ids.len(), header.len() + content.len() + 1, "|y| = header + content + end-of-turn");
        }
        // Prompt + response is exactly the whole rendered chat.
        let mut all = r.context.clone();
        all.push(Message::assistant(r.chosen.clone()));
        assert_eq!([p.prompt.clone(), p.chosen.clone()].concat(), tok.encode_chat(&all, false).unwrap());
    }
}

fn fixture_tokenizer(name: &str, template: &str) -> Tokenizer {
    let dir = crate_dir().join("../../shared/fixtures").join(name);
    let mut tok = Tokenizer::from_files(&dir.join("tokenizer.json"), Some(&dir.join("tokenizer_config.json")), None).unwrap();
    let (bos, eos) = (tok.bos_token.clone().unwrap_or_default(), tok.eos_token.clone().unwrap_or_default());
    tok.chat = Some(ChatTemplate::from_name(template, &bos, &eos).unwrap());
    tok
}

#[test]
fn mistral_instruct_answers_follow_the_authors_template_stripped_with_one_bos_and_eos() {
    // run_simpo.py's Mistral template: no BOS in the text (the trainer adds the id), user and
    // assistant text stripped, the answer rendered alone as " {answer} </s>"; the empty system
    // turn it inserts leaves no trace.
    let tok = fixture_tokenizer("tiny-mistral", "mistral-simpo");
    let (p, r) = paper::encode_answer(&tok, &[Message::user("  Hi there \n")], "\n Hello you  ").unwrap();
    let (bos, eos) = (tok.bos_id().unwrap(), tok.eos_id().unwrap());
    let prompt_text = "[INST] Hi there [/INST]";
    assert_eq!(p, [vec![bos], tok.encode(prompt_text, false).unwrap()].concat());
    let full = tok.encode(&format!("{prompt_text} Hello you </s>"), false).unwrap();
    assert_eq!(r, full[p.len() - 1..].to_vec(), "the response is the rest of the whole rendering");
    assert_eq!(r.iter().filter(|&&i| i == eos).count(), 1);
    assert_eq!(tok.decode(&r, false).unwrap().trim(), "Hello you </s>");
    // The stock template (no stripping, answer glued to [/INST]) is rejected for a Mistral model path.
    let mut cfg = tiny_config();
    cfg.model = "mistralai/Mistral-7B-Instruct-v0.2".into();
    assert!(cfg.validate().unwrap_err().to_string().contains("mistral-simpo"));
}

#[derive(serde::Deserialize)]
struct Rendered {
    question: String,
    answer: String,
    system_inserted: bool,
    prompt_ids: Vec<i64>,
    response_ids: Vec<i64>,
}

#[test]
fn training_ids_equal_the_authors_pipeline_on_the_models_own_templates() {
    // shared/fixtures/simpo_rendering.json: transformers' apply_chat_template on the Zephyr SFT
    // template (Mistral-Base: an empty system turn, `<|system|>\n</s>\n`, as the evaluation has it)
    // and on the Llama-3 template (no system turn), then the trainer's BOS/EOS rules.
    let path = crate_dir().join("../../shared/fixtures/simpo_rendering.json");
    let all: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (name, template, inserted) in [("tiny-zephyr", "zephyr", true), ("tiny-llama", "llama3", false)] {
        let tok = fixture_tokenizer(name, template);
        let cases: Vec<Rendered> = serde_json::from_value(all["models"][name].clone()).unwrap();
        assert_eq!(cases.len(), 3);
        for c in cases {
            assert_eq!(c.system_inserted, inserted, "{name}");
            let (p, r) = paper::encode_answer(&tok, &[Message::user(c.question.clone())], &c.answer).unwrap();
            assert_eq!((p, r), (c.prompt_ids, c.response_ids), "{name}: {:?}", c.question);
        }
    }
    // Training and evaluation prompts agree: the eval prompt is the training prompt + the generation prompt.
    let tok = fixture_tokenizer("tiny-zephyr", "zephyr");
    let (p, _) = paper::encode_answer(&tok, &[Message::user("Name a colour.")], "Red").unwrap();
    let e = paper::eval_prompt(&tok, "Name a colour.").unwrap();
    assert_eq!(&e[..p.len()], &p[..]);
    assert_eq!(tok.decode(&e[p.len()..], false).unwrap(), "<|assistant|>\n");
}

#[test]
fn dpo_runs_at_its_own_learning_rate_and_beta() {
    let cfg = PaperConfig::load(&config_dir().join("paper/llama3-instruct.toml")).unwrap();
    let simpo = paper::pairwise_config(&cfg, &PaperRunOptions::default());
    let dpo = paper::pairwise_config(&cfg, &PaperRunOptions { method: Method::Dpo, ..Default::default() });
    assert_eq!((simpo.schedule.lr, dpo.schedule.lr), (1e-6, 7e-7));
    assert_eq!(dpo.schedule.warmup_ratio, 0.1);
    // A file-order run (the recipes' `shuffle = false`) trains through the same engine, and the
    // engine's order for it is the file's order in every epoch.
    let mut c = tiny_config();
    c.train.shuffle = false;
    let out = tempfile::tempdir().unwrap();
    paper::run(&c, Device::Cpu, out.path(), &PaperRunOptions::default()).unwrap();
    assert_eq!(shared::train::engine::epoch_order(5, 7, 1, false), vec![0, 1, 2, 3, 4]);
}

fn read_metrics(path: &Path) -> Vec<(f64, f64)> {
    let mut rd = csv::Reader::from_path(path).unwrap();
    let h = rd.headers().unwrap().clone();
    let (l, m) = (h.iter().position(|c| c == "loss").unwrap(), h.iter().position(|c| c == "margin").unwrap());
    rd.records().map(|r| r.unwrap()).map(|r| (r[l].parse().unwrap(), r[m].parse().unwrap())).collect()
}

#[test]
fn simpo_trains_saves_hf_weights_that_reload_and_writes_model_outputs() {
    let cfg = tiny_config();
    let out = tempfile::tempdir().unwrap();
    let instructions = out.path().join("instructions.json");
    std::fs::write(&instructions, r#"[{"instruction": "What is two plus two?", "dataset": "tiny"}, {"instruction": "Name a colour.", "dataset": "tiny"}, {"instruction": "unused"}]"#).unwrap();
    let opts = PaperRunOptions { generate: Some(2), instructions: Some(instructions), max_steps: Some(6), ..Default::default() };
    let s = paper::run(&cfg, Device::Cpu, out.path(), &opts).unwrap();
    assert_eq!((s.steps, s.pairs), (6, 4));
    let m = read_metrics(&out.path().join("train/metrics.csv"));
    assert_eq!(m.len(), 6);
    assert!(s.final_loss < s.first_loss && s.final_margin > s.first_margin, "loss {} → {}, margin {} → {}", s.first_loss, s.final_loss, s.first_margin, s.final_margin);

    // The HF folder: weights under HF names, config and tokenizer files; it reloads.
    let dir = &s.model_dir;
    for f in ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let c = LlamaConfig::from_file(dir.join("config.json")).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let _m = Llama::new(&vs.root(), &c).unwrap();
    shared::model::weights::load_into(&vs, &[dir.join("model.safetensors")], &[]).unwrap();
    let start = VarStore::new(Device::Cpu);
    let _m0 = Llama::new(&start.root(), &c).unwrap();
    shared::model::weights::load_into(&start, &[PathBuf::from(&cfg.model).join("model.safetensors")], &[]).unwrap();
    let name = "model.layers.0.mlp.up_proj.weight";
    assert!(!vs.variables()[name].allclose(&start.variables()[name], 0.0, 0.0, false), "training changed nothing");
    Tokenizer::from_files(&dir.join("tokenizer.json"), Some(&dir.join("tokenizer_config.json")), None).unwrap();

    // AlpacaEval-format outputs for the first two instructions.
    let outputs: Vec<serde_json::Value> = shared::io::read_json(s.model_outputs.as_ref().unwrap()).unwrap();
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[1]["instruction"], "Name a colour.");
    assert!(outputs[0]["output"].is_string() && outputs[0]["generator"].as_str().unwrap().contains("tiny-llama"));
    let summary: serde_json::Value = shared::io::read_json(&out.path().join("summary.json")).unwrap();
    assert_eq!(summary["steps"], 6);
}

#[test]
fn dpo_runs_through_the_same_path_with_cached_reference_logps() {
    let cfg = tiny_config();
    let out = tempfile::tempdir().unwrap();
    let opts = PaperRunOptions { method: Method::Dpo, max_steps: Some(2), max_pairs: Some(2), batch_size: Some(2), ..Default::default() };
    let s = paper::run(&cfg, Device::Cpu, out.path(), &opts).unwrap();
    assert_eq!((s.steps, s.pairs, s.method), (2, 2, Method::Dpo));
    // The first logged learning rate is [dpo]'s (no warm-up in the tiny config).
    let mut rd = csv::Reader::from_path(out.path().join("train/metrics.csv")).unwrap();
    let lr_col = rd.headers().unwrap().iter().position(|c| c == "lr").unwrap();
    let first: f64 = rd.records().next().unwrap().unwrap()[lr_col].parse().unwrap();
    assert_eq!(first, cfg.dpo.learning_rate);
    // At step 1 the policy equals the reference: DPO's loss is log 2 and its margin 0.
    assert!((s.first_loss - std::f64::consts::LN_2).abs() < 1e-4 && s.first_margin.abs() < 1e-4, "{s:?}");
    let cached = std::fs::read_dir(out.path().join("ref-cache")).unwrap().count();
    assert_eq!(cached, 1);
}

#[test]
fn lora_trains_adapters_only_and_saves_them_in_peft_layout() {
    let cfg = tiny_config();
    let out = tempfile::tempdir().unwrap();
    let lc = shared::model::LoraConfig::all_projections(2, 4.0);
    let opts = PaperRunOptions { max_steps: Some(3), lora: Some(lc), ..Default::default() };
    let s = paper::run(&cfg, Device::Cpu, out.path(), &opts).unwrap();
    assert!(s.final_loss < s.first_loss, "loss {} → {}", s.first_loss, s.final_loss);
    let adapter = s.adapter_dir.as_ref().expect("an adapter folder");
    let acfg = shared::model::lora::read_adapter_config(&adapter.join("adapter_config.json")).unwrap();
    assert_eq!((acfg.r, acfg.lora_alpha), (2, 4.0));
    // Base + adapter = the merged model written to model/.
    let c = LlamaConfig::from_file(s.model_dir.join("config.json")).unwrap();
    let base_vs = VarStore::new(Device::Cpu);
    let mut base = Llama::new(&base_vs.root(), &c).unwrap();
    shared::model::weights::load_into(&base_vs, &[PathBuf::from(&cfg.model).join("model.safetensors")], &[]).unwrap();
    let lvs = VarStore::new(Device::Cpu);
    shared::model::lora::load_adapter(adapter, &mut base, &lvs).unwrap();
    let merged_vs = VarStore::new(Device::Cpu);
    let merged = Llama::new(&merged_vs.root(), &c).unwrap();
    shared::model::weights::load_into(&merged_vs, &[s.model_dir.join("model.safetensors")], &[]).unwrap();
    let ids = tch::Tensor::from_slice(&[0i64, 5, 17, 33, 4]).view([1, 5]);
    let (a, b) = tch::no_grad(|| (base.forward(&ids, &ids.ones_like()).unwrap(), merged.forward(&ids, &ids.ones_like()).unwrap()));
    assert!((&a - &b).abs().max().double_value(&[]) < 1e-5);
    // The base weights were frozen: only the adapters' checkpoint was written.
    let ckpt = std::fs::read_dir(out.path().join("train/ckpt")).unwrap().filter_map(|e| e.ok()).find(|e| e.file_name().to_string_lossy().starts_with("step-")).unwrap().path();
    let saved = tch::Tensor::read_safetensors(ckpt.join("model.safetensors")).unwrap();
    assert!(!saved.is_empty() && saved.iter().all(|(n, _)| n.contains("lora_")), "{:?}", saved.iter().map(|(n, _)| n).collect::<Vec<_>>());
}

#[test]
fn a_missing_dataset_file_is_named() {
    let mut cfg = tiny_config();
    cfg.train_files = vec!["data/nope.parquet".into()];
    let e = format!("{:#}", paper::load_dataset(&cfg, None).unwrap_err());
    assert!(e.contains("data/nope.parquet") && e.contains("missing"), "{e}");
}

#[test]
fn gemma2_runs_through_the_same_path() {
    // The Gemma-2 setting's code path on the tiny Gemma-2 checkpoint: Gemma chat template
    // (BOS, `<start_of_turn>model` header and `<end_of_turn>` in |y|), SimPO steps, HF output.
    let mut cfg = tiny_config();
    cfg.model = crate_dir().join("../../shared/fixtures/tiny-gemma2").to_string_lossy().into_owned();
    cfg.chat_template = "gemma".into();
    let loaded = paper::load_model(&cfg, Device::Cpu).unwrap();
    assert!(loaded.config.is_gemma2());
    let raw = paper::load_dataset(&cfg, None).unwrap();
    let (prompt, response) = paper::encode_answer(&loaded.tokenizer, &raw[0].context, &raw[0].chosen).unwrap();
    let text = loaded.tokenizer.decode(&response, false).unwrap();
    assert!(text.starts_with("<start_of_turn>model") && text.contains("<end_of_turn>"), "{text:?}");
    assert_eq!(prompt[0], loaded.tokenizer.bos_id().unwrap());
    let out = tempfile::tempdir().unwrap();
    // With gradient checkpointing, as Gemma-2-9B needs on one 80 GB GPU: the same losses.
    let opts = PaperRunOptions { max_steps: Some(4), ..Default::default() };
    let s = paper::run(&cfg, Device::Cpu, out.path(), &opts).unwrap();
    assert_eq!(s.steps, 4);
    assert!(s.final_loss < s.first_loss, "loss {} → {}", s.first_loss, s.final_loss);
    let gc_out = tempfile::tempdir().unwrap();
    let gc = paper::run(&cfg, Device::Cpu, gc_out.path(), &PaperRunOptions { gradient_checkpointing: true, ..opts }).unwrap();
    assert!((gc.first_loss - s.first_loss).abs() < 1e-5 && (gc.final_loss - s.final_loss).abs() < 1e-4, "GC {} → {}, plain {} → {}", gc.first_loss, gc.final_loss, s.first_loss, s.final_loss);
    let c = LlamaConfig::from_file(s.model_dir.join("config.json")).unwrap();
    assert!(c.is_gemma2() && c.final_logit_softcapping == Some(3.0));
}
