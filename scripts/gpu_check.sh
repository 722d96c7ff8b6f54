#!/usr/bin/env bash
# The prepared GPU check (issue #18). Two halves, because the GPU machines lent to this project
# have Python's torch but no Rust toolchain:
#
#   scripts/gpu_check.sh prepare   # here: build and strip the two binaries into target/gpu-check/ (~8 MB)
#   scripts/gpu_check.sh run       # on the GPU machine, from the repository root, with target/gpu-check/ carried
#
# `run` (under 10 minutes on one H100/H200):
#   1. cuda_check: libtorch_cuda.so loads, tch sees CUDA, tiny-llama's logits on CUDA (f32, bf16) equal the CPU's;
#   2. gpu_step for SimPO and DPO × {full, full + GC, LoRA r=16, LoRA r=16 + GC}, one process each:
#      one bf16 training step of a Qwen2-0.5B-shaped model with random weights at the paper's
#      lengths (2 pairs = 4 rows × 2048 tokens, 1800 prompt + 248 response), printing step time,
#      tokens/s, MFU against the card's bf16 peak, and the process's GPU memory beside the
#      --dry-run estimate (papers/simpo/src/plan.rs).
# It writes results/simpo/paper/gpu_check.md; commit that file once it has run.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/gpu-check

case "${1:-}" in
prepare)
  eval "$(cargo xtask env)"
  cargo build --release -p shared --bin cuda_check -p simpo --bin gpu_step
  mkdir -p "$dir"
  strip -o "$dir/cuda_check" target/release/cuda_check
  strip -o "$dir/gpu_step" target/release/gpu_step
  ls -la "$dir"
  ;;
run)
  py=${REPRO_PYTHON:-$(command -v python3 || command -v python)}
  torch_lib=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  torch_version=$("$py" -c 'import torch; print(torch.__version__)')
  case "$torch_version" in 2.11.0*) ;; *) echo "torch $torch_version at $torch_lib: the binaries were built against 2.11.0" >&2; exit 1 ;; esac
  export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  out=results/simpo/paper/gpu_check.md
  mkdir -p "$(dirname "$out")"
  tmp=$(mktemp)
  {
    echo "# GPU check ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "Card: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1 || echo unknown); torch $torch_version."
    echo
    echo '```'
    timeout 120 "$dir/cuda_check" shared/fixtures/tiny-llama 2>&1 || echo "cuda_check failed (exit $?)"
    echo '```'
    echo
    echo "One bf16 step of a Qwen2-0.5B-shaped model (random weights), 2 pairs = 4 rows × 2048 tokens (1800 prompt + 248 response), AdamW (fp32 master weights and gradient sums), mean of 3 steps after one warm-up step. MFU: 6·N·tokens (LoRA: 4·N·tokens) over the card's dense bf16 peak; GiB: this process per nvidia-smi, and the --dry-run arithmetic."
    echo
    echo "| method | mode | card | step s | tokens/s | model TFLOP/s | MFU | GiB measured | GiB estimated | last loss |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for method in simpo dpo; do
      for mode in full gc lora lora-gc; do
        row=$(timeout 240 "$dir/gpu_step" --method "$method" --mode "$mode" --steps 3 2>&1) || true
        echo "$row" | grep '^|' || echo "| $method | $mode | failed: $(echo "$row" | grep -m1 '^Error' | tr '|' '/') | | | | | | | |"
      done
    done
  } | tee "$tmp"
  mv "$tmp" "$out"
  echo "wrote $out"
  ;;
*)
  echo "usage: scripts/gpu_check.sh prepare|run" >&2
  exit 2
  ;;
esac
