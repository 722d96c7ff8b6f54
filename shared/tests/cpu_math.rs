//! The pinned CPU math (`shared::device::pin_cpu_math`) makes training independent of the
//! libtorch thread count: the miniature SFT base, trained 60 steps at 1 and at 2 threads in one
//! process, comes out bit-identical. Unpinned, MKL's GEMMs split their reductions by thread
//! count and the two weight files differ after a few steps (measured: 100 steps, different
//! SHA-256). This file holds one test, so the pin runs before any tensor operation of its process.
use sha2::{Digest, Sha256};
use shared::world::base::{ensure, BaseConfig};
use shared::world::{World, WorldConfig};

fn base_hash(threads: i32, dir: &std::path::Path) -> String {
    shared::device::set_threads(threads);
    let world = World::new(WorldConfig::default()).unwrap();
    let mut cfg = BaseConfig::mini();
    cfg.sft.train.steps = Some(60);
    cfg.sft.train.checkpoint_every = 0;
    let base = ensure(&world, &cfg, 0, dir, tch::Device::Cpu).unwrap();
    assert!(base.trained, "a fresh folder must train, not load");
    let bytes = std::fs::read(base.dir.join("model.safetensors")).unwrap();
    format!("{:x}", Sha256::digest(&bytes))
}

#[test]
fn training_is_bit_identical_at_one_and_two_threads() {
    shared::device::pin_cpu_math();
    let tmp = tempfile::tempdir().unwrap();
    let one = base_hash(1, &tmp.path().join("t1"));
    let two = base_hash(2, &tmp.path().join("t2"));
    let math = shared::device::cpu_math();
    assert_eq!(one, two, "weights differ between 1 and 2 threads with {math}");
    assert!(math.contains("MKL_CBWR="), "{math}");
}
