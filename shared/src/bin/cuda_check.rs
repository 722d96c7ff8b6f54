//! The CUDA check for a GPU machine: is CUDA visible to tch (after `shared::device` has loaded
//! `libtorch_cuda.so`), and does the shared model give the same logits on the GPU as on the CPU?
//! Loads `shared/fixtures/tiny-llama` (or the folder given as the first argument), runs it in f32
//! on both devices and in bf16 on CUDA, and prints one line per check; exits non-zero on failure.
//!
//! The GPU machines lent to this project have Python's torch but no Rust toolchain: build here
//! (`cargo build --release -p shared --bin cuda_check`), carry the binary, and run it there with
//! `LD_LIBRARY_PATH` pointing at that machine's `torch/lib`.

use shared::model::Pretrained;
use tch::{Device, Kind, Tensor};

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tiny-llama").to_string());
    let loaded = shared::device::load_cuda_backend();
    let available = tch::Cuda::is_available();
    println!("libtorch_cuda.so loaded: {loaded}; tch::Cuda::is_available(): {available}; devices: {}", tch::Cuda::device_count());
    if !available {
        println!("FAIL: CUDA not visible to tch");
        std::process::exit(1);
    }
    let run = |device: Device, kind: Kind| -> Tensor {
        let p = Pretrained::load_from(&shared::hub::resolve(&dir).expect("fixture folder"), device, kind).expect("loads");
        let ids = Tensor::from_slice(&[1i64, 5, 9, 13, 17, 21, 25, 29]).view([2, 4]);
        tch::no_grad(|| p.model.forward(&ids, &ids.ones_like())).expect("ids fit the fixture").to_kind(Kind::Float).to_device(Device::Cpu)
    };
    let cpu = run(Device::Cpu, Kind::Float);
    let gpu = run(Device::Cuda(0), Kind::Float);
    let bf16 = run(Device::Cuda(0), Kind::BFloat16);
    let d32 = (&cpu - &gpu).abs().max().double_value(&[]);
    let d16 = (&cpu - &bf16).abs().max().double_value(&[]);
    println!("max |Δ logit| CUDA f32 vs CPU: {d32:.2e}; CUDA bf16 vs CPU f32: {d16:.2e}");
    if d32 > 1e-3 || d16 > 0.1 {
        println!("FAIL: logits differ");
        std::process::exit(1);
    }
    println!("OK");
}
