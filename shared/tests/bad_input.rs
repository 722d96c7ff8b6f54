//! Bad input gives a clear error naming the file or field at fault, never a panic.

use shared::model::{Pretrained, PretrainedReward};
use std::path::{Path, PathBuf};
use tch::Device;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// A writable copy of a fixture model folder.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

fn load_err(dir: &Path) -> String {
    let e = Pretrained::load(dir.to_str().unwrap(), Device::Cpu).unwrap_err().to_string();
    eprintln!("{e}");
    e
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let p = dir.join("config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(v.as_object_mut().unwrap());
    std::fs::write(&p, v.to_string()).unwrap();
}

#[test]
fn truncated_safetensors() {
    let dir = copy_of("tiny-qwen2");
    let p = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 100]).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("model.safetensors") && e.contains("truncated or corrupt"), "{e}");
}

#[test]
fn corrupt_safetensors_header() {
    let dir = copy_of("tiny-qwen2");
    let p = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&p).unwrap();
    for b in bytes.iter_mut().skip(8).take(20) {
        *b = b'#';
    }
    std::fs::write(&p, &bytes).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("model.safetensors") && e.contains("not a readable safetensors"), "{e}");
}

#[test]
fn unsupported_model_type() {
    let dir = copy_of("tiny-llama");
    edit_config(dir.path(), |c| {
        c.insert("model_type".into(), "gpt_neox".into());
    });
    let e = load_err(dir.path());
    assert!(e.contains("config.json") && e.contains("gpt_neox") && e.contains("llama, qwen2, mistral"), "{e}");
}

#[test]
fn config_missing_field() {
    let dir = copy_of("tiny-llama");
    edit_config(dir.path(), |c| {
        c.remove("num_hidden_layers");
    });
    let e = load_err(dir.path());
    assert!(e.contains("config.json") && e.contains("num_hidden_layers"), "{e}");
}

#[test]
fn tokenizer_vocab_larger_than_embedding() {
    let dir = copy_of("tiny-mistral");
    edit_config(dir.path(), |c| {
        c.insert("vocab_size".into(), 100.into());
    });
    let e = load_err(dir.path());
    assert!(e.contains("tokenizer.json") && e.contains("vocab_size = 100"), "{e}");
}

#[test]
fn missing_tokenizer_json() {
    let dir = copy_of("tiny-mistral");
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let e = load_err(dir.path());
    assert!(e.contains("tokenizer.json") && e.contains("missing"), "{e}");
}

#[test]
fn missing_weights_and_mismatched_shapes() {
    let dir = copy_of("tiny-llama");
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    assert!(load_err(dir.path()).contains("model.safetensors"));
    let dir = copy_of("tiny-llama");
    edit_config(dir.path(), |c| {
        c.insert("intermediate_size".into(), 40.into());
    });
    let e = load_err(dir.path());
    assert!(e.contains("mlp") && e.contains("shape"), "{e}");
}

#[test]
fn missing_folder_and_bad_hub_id() {
    let e = Pretrained::load("./no/such/model", Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("no/such/model"), "{e}");
    let e = Pretrained::load("not a hub id", Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("hub id"), "{e}");
}

#[test]
fn reward_model_from_a_causal_lm_gets_a_fresh_head() {
    let r = PretrainedReward::load(fixture("tiny-llama").to_str().unwrap(), Device::Cpu).unwrap();
    assert_eq!(r.report.left_initialised, vec!["score.weight".to_string()]);
    assert_eq!(r.report.ignored, vec!["lm_head.weight".to_string()]);
}
