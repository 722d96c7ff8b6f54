//! Parity with transformers: the tiny checkpoints under `shared/fixtures/` were written with their
//! reference outputs by `shared/fixtures/make_tiny_models.py`. Logits must agree within 1e-4 (f32),
//! greedy continuations token for token, and chat renderings id for id.

use shared::model::{generate, sequence_logps, GenerateConfig, Pretrained, TokenBatch};
use shared::tokenize::{Message, ResponseSpan, Tokenizer};
use std::collections::HashMap;
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn reference(name: &str) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(fixture(name).join("reference.safetensors")).unwrap().into_iter().collect()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn rows(t: &Tensor) -> Vec<Vec<i64>> {
    (0..t.size()[0]).map(|r| Vec::<i64>::try_from(t.get(r)).unwrap()).collect()
}

fn check_model(name: &str) {
    let p = Pretrained::load(fixture(name).to_str().unwrap(), Device::Cpu).unwrap();
    let r = reference(name);
    let m = &p.model;
    tch::no_grad(|| {
        let ids = &r["input_ids"];
        let logits = m.forward(ids, &ids.ones_like()).unwrap();
        let d = max_diff(&logits, &r["logits"]);
        eprintln!("{name}: max |Δ logit| = {d:.2e}");
        assert!(d <= 1e-4, "{name}: max |Δ logit| = {d}");

        let (rp_ids, rp_mask) = (&r["rp_ids"], &r["rp_mask"]);
        let got = m.forward(rp_ids, rp_mask).unwrap() * rp_mask.unsqueeze(-1);
        let want = &r["rp_logits"] * rp_mask.unsqueeze(-1);
        let d = max_diff(&got, &want);
        assert!(d <= 1e-4, "{name}: right-padded max |Δ logit| = {d}");

        // SimPO-style response log-probs: sum over the tokens after the prompt.
        let lens = Vec::<i64>::try_from(&r["score_prompt_len"]).unwrap();
        let pairs: Vec<(Vec<i64>, Vec<i64>)> = rows(ids)
            .into_iter()
            .zip(&lens)
            .map(|(row, &l)| (row[..l as usize].to_vec(), row[l as usize..].to_vec()))
            .collect();
        let lp = sequence_logps(m, &TokenBatch::from_pairs(&pairs, 0, Device::Cpu)).unwrap();
        let d = max_diff(&lp.sum, &r["score_sum"]);
        assert!(d <= 1e-4, "{name}: summed log-prob differs by {d}");
    });

    // Greedy continuations of left-padded prompts, as `model.generate(do_sample=False)`.
    let prompts: Vec<Vec<i64>> = rows(&r["gen_prompt_ids"])
        .into_iter()
        .zip(rows(&r["gen_prompt_mask"]))
        .map(|(ids, mask)| ids.into_iter().zip(mask).filter(|(_, k)| *k == 1).map(|(i, _)| i).collect())
        .collect();
    let want = rows(&r["gen_tokens"]);
    let cfg = GenerateConfig { max_new_tokens: want[0].len(), ..Default::default() };
    let got = generate(m, &prompts, p.tokenizer.pad_id(), &cfg).unwrap();
    assert_eq!(got, want, "{name}: greedy tokens differ");
}

#[test]
fn llama_matches_transformers() {
    check_model("tiny-llama");
}

#[test]
fn qwen2_matches_transformers() {
    check_model("tiny-qwen2");
}

#[test]
fn mistral_matches_transformers() {
    check_model("tiny-mistral");
}

#[test]
fn gemma2_matches_transformers() {
    check_model("tiny-gemma2");
}

#[derive(serde::Deserialize)]
struct Rendering {
    messages: Vec<Message>,
    add_generation_prompt: bool,
    text: String,
    ids: Vec<i64>,
}

#[test]
fn chat_templates_match_apply_chat_template() {
    for name in ["tiny-llama", "tiny-qwen2", "tiny-mistral", "tiny-zephyr", "tiny-gemma2"] {
        let dir = fixture(name);
        let tok = Tokenizer::from_source(&shared::hub::resolve(dir.to_str().unwrap()).unwrap()).unwrap();
        let chat = tok.chat.clone().unwrap_or_else(|| panic!("{name}: no chat template detected"));
        let cases: Vec<Rendering> = serde_json::from_str(&std::fs::read_to_string(dir.join("chat.json")).unwrap()).unwrap();
        assert!(cases.len() >= 3, "{name}");
        for c in &cases {
            assert_eq!(chat.render(&c.messages, c.add_generation_prompt).unwrap(), c.text, "{name}: text");
            assert_eq!(tok.encode_chat(&c.messages, c.add_generation_prompt).unwrap(), c.ids, "{name}: ids of {:?}", c.text);
            // Ending on an assistant turn: the prompt/response split concatenates to the same ids.
            if let Some((last, prompt)) = c.messages.split_last() {
                if last.role == "assistant" && !c.add_generation_prompt {
                    for span in [ResponseSpan::WithHeader, ResponseSpan::ContentOnly] {
                        let (p, r) = tok.encode_pair(prompt, &last.content, span).unwrap();
                        assert_eq!([p.clone(), r.clone()].concat(), c.ids, "{name}: split {span:?}");
                        assert!(!p.is_empty() && !r.is_empty());
                    }
                    let (p_head, _) = tok.encode_pair(prompt, &last.content, ResponseSpan::WithHeader).unwrap();
                    let (p_gen, _) = tok.encode_pair(prompt, &last.content, ResponseSpan::ContentOnly).unwrap();
                    assert!(p_gen.len() >= p_head.len(), "{name}: the generation prompt belongs to the prompt");
                }
            }
        }
    }
}

#[test]
fn bf16_load_runs_and_stays_close() {
    let src = shared::hub::resolve(fixture("tiny-llama").to_str().unwrap()).unwrap();
    let p = Pretrained::load_from(&src, Device::Cpu, Kind::BFloat16).unwrap();
    let r = reference("tiny-llama");
    let ids = &r["input_ids"];
    let logits = tch::no_grad(|| p.model.forward(ids, &ids.ones_like())).unwrap().to_kind(Kind::Float);
    let d = max_diff(&logits, &r["logits"]);
    let scale = r["logits"].abs().max().double_value(&[]);
    assert!(d < 0.1 * scale, "bf16 logits drift {d} (scale {scale})");
}
