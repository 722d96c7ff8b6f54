//! LoRA parity with PEFT: `shared/fixtures/tiny-llama-lora/` holds an adapter for tiny-llama as
//! `PeftModel.save_pretrained` wrote it (PEFT 0.21.2, every projection, r = 4, alpha = 8, random A
//! and B) and the logits PEFT computes with it (`shared/fixtures/make_lora_fixture.py`). The same
//! adapter loaded here must give the same logits (f32, within 1e-4 like the other parity tests),
//! and what this project saves must load back to the same model.

use shared::model::{lora, Pretrained};
use std::collections::HashMap;
use std::path::PathBuf;
use tch::{nn::VarStore, Device, Tensor};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn load() -> (Pretrained, VarStore) {
    let mut p = Pretrained::load(fixture("tiny-llama").to_str().unwrap(), Device::Cpu).unwrap();
    let lvs = VarStore::new(Device::Cpu);
    let cfg = lora::load_adapter(&fixture("tiny-llama-lora"), &mut p.model, &lvs).unwrap();
    assert_eq!((cfg.r, cfg.lora_alpha, cfg.target_modules.len()), (4, 8.0, 7));
    (p, lvs)
}

#[test]
fn peft_adapter_gives_peft_logits() {
    let r: HashMap<String, Tensor> = Tensor::read_safetensors(fixture("tiny-llama-lora").join("reference.safetensors")).unwrap().into_iter().collect();
    let ids = &r["input_ids"];
    let (p, _lvs) = load();
    let got = tch::no_grad(|| p.model.forward(ids, &ids.ones_like()).unwrap());
    let d = (&got - &r["logits"]).abs().max().double_value(&[]);
    eprintln!("tiny-llama + PEFT LoRA: max |Δ logit| = {d:.2e}");
    assert!(d <= 1e-4, "max |Δ logit| = {d}");
    // The adapter matters: without it the logits are far from PEFT's.
    let base = Pretrained::load(fixture("tiny-llama").to_str().unwrap(), Device::Cpu).unwrap();
    let plain = tch::no_grad(|| base.model.forward(ids, &ids.ones_like()).unwrap());
    assert!((&plain - &r["logits"]).abs().max().double_value(&[]) > 0.1);
}

#[test]
fn saved_adapter_round_trips_in_peft_layout() {
    let (p, lvs) = load();
    let dir = tempfile::tempdir().unwrap();
    let cfg = lora::read_adapter_config(&fixture("tiny-llama-lora").join("adapter_config.json")).unwrap();
    lora::save_adapter(dir.path(), &lvs, &cfg, "shared/fixtures/tiny-llama").unwrap();
    // Same tensor names and values as PEFT's own file.
    let ours: HashMap<String, Tensor> = Tensor::read_safetensors(dir.path().join("adapter_model.safetensors")).unwrap().into_iter().collect();
    let peft: HashMap<String, Tensor> = Tensor::read_safetensors(fixture("tiny-llama-lora").join("adapter_model.safetensors")).unwrap().into_iter().collect();
    assert_eq!(ours.len(), peft.len());
    for (k, t) in &peft {
        assert!(ours.get(k).is_some_and(|o| o.equal(t)), "{k}");
    }
    let mut q = Pretrained::load(fixture("tiny-llama").to_str().unwrap(), Device::Cpu).unwrap();
    let lvs2 = VarStore::new(Device::Cpu);
    lora::load_adapter(dir.path(), &mut q.model, &lvs2).unwrap();
    let ids = Tensor::from_slice(&[3i64, 14, 15, 92, 6, 5]).view([1, 6]);
    let (a, b) = tch::no_grad(|| (p.model.forward(&ids, &ids.ones_like()).unwrap(), q.model.forward(&ids, &ids.ones_like()).unwrap()));
    assert!(a.equal(&b));
    // A missing tensor is an error naming it.
    let kept: Vec<(String, Tensor)> = peft.iter().filter(|(k, _)| !k.contains("layers.1.mlp.up_proj.lora_B")).map(|(k, t)| (k.clone(), t.shallow_clone())).collect();
    Tensor::write_safetensors(&kept, dir.path().join("adapter_model.safetensors")).unwrap();
    let mut q = Pretrained::load(fixture("tiny-llama").to_str().unwrap(), Device::Cpu).unwrap();
    let e = lora::load_adapter(dir.path(), &mut q.model, &VarStore::new(Device::Cpu)).unwrap_err().to_string();
    assert!(e.contains("lacks 1 adapter tensor") && e.contains("layers.1.mlp.up_proj.lora_B"), "{e}");
}
