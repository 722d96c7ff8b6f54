//! Choosing where tensors live, and making CUDA visible to tch.
//!
//! The Rust linker drops `libtorch_cuda.so` as unused (nothing in the binary
//! refers to its symbols), and then `tch::Cuda::is_available()` is false even
//! on a GPU machine. Instead of asking every package for `-Wl,--no-as-needed`,
//! [`resolve`] loads the library with `dlopen` before CUDA is first queried, so
//! its static initialisers register the CUDA backend. The libraries are found
//! through `LD_LIBRARY_PATH`, which `cargo xtask` sets.

use crate::error::{Error, Result};

/// Load `libtorch_cuda.so` if it is there; returns whether it loaded.
pub fn load_cuda_backend() -> bool {
    static LOADED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LOADED.get_or_init(|| {
        let name = std::ffi::CString::new("libtorch_cuda.so").unwrap();
        // SAFETY: dlopen with a valid C string; the handle is deliberately leaked
        // so the library stays loaded for the life of the process.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        !handle.is_null()
    })
}

/// Turn `cpu` / `cuda` / `cuda:N` into a tch device, failing clearly when CUDA is absent.
pub fn resolve(spec: &str) -> Result<tch::Device> {
    match spec {
        "cpu" => Ok(tch::Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            load_cuda_backend();
            if !tch::Cuda::is_available() {
                return Err(Error::invalid(
                    "--device cuda",
                    "CUDA is not available to libtorch here (no GPU, or a CPU-only libtorch); use --device cpu",
                ));
            }
            let idx = s.strip_prefix("cuda:").map(|i| i.parse::<usize>()).transpose().map_err(|_| {
                Error::invalid("--device", format!("{s:?} is not cuda:N"))
            })?;
            Ok(tch::Device::Cuda(idx.unwrap_or(0)))
        }
        other => Err(Error::invalid("--device", format!("{other:?} is not cpu, cuda or cuda:N"))),
    }
}

/// The CPU math every run pins, so a seed gives the same bits at any thread count and on any
/// x86 CPU with AVX2, with or without AVX-512: MKL's strict conditional numerical
/// reproducibility on its AVX2 code path (its GEMMs otherwise split their reductions by thread
/// count and pick kernels by CPU), and ATen's AVX2 kernels (its AVX-512 ones round differently).
/// Without it two machines train different models from one seed, and a claim near its
/// threshold can flip between them. A variable the user has set is left alone.
pub const PINNED_CPU_MATH: [(&str, &str); 2] = [("MKL_CBWR", "AVX2,STRICT"), ("ATEN_CPU_CAPABILITY", "avx2")];

/// Set [`PINNED_CPU_MATH`] for this process unless the user (or `cargo xtask`) already did; must
/// run before the first tensor operation (MKL and ATen read these once). [`cpu_math`] says what
/// is in force.
pub fn pin_cpu_math() {
    static PINNED: std::sync::Once = std::sync::Once::new();
    PINNED.call_once(|| {
        for (k, v) in PINNED_CPU_MATH {
            if std::env::var_os(k).is_none() {
                // Called at the start of a run, before libtorch starts any thread.
                std::env::set_var(k, v);
            }
        }
    });
}

/// The CPU math settings in force, for `run.md` (`KEY=value`, or `KEY unset`); reads only.
pub fn cpu_math() -> String {
    PINNED_CPU_MATH
        .iter()
        .map(|(k, _)| match std::env::var(k) {
            Ok(v) => format!("{k}={v}"),
            Err(_) => format!("{k} unset"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fix libtorch's CPU (intra-op) thread count, pinning the CPU math first ([`pin_cpu_math`]):
/// with the pin, results no longer depend on the count, and the run record still states it.
/// Safe to call again later in the same process (inter-op threads are left alone: libtorch
/// refuses to change them once any parallel work has run).
pub fn set_threads(n: i32) {
    pin_cpu_math();
    tch::set_num_threads(n);
}

/// Seed libtorch's generators (CPU and CUDA) from the run's seed.
pub fn seed_torch(seed: u64) {
    tch::manual_seed(seed as i64);
}
