//! `cargo xtask reproduce adaptive-compute [--scale smoke|mini|paper] [--seed S --seeds N]`.

fn main() {
    shared::driver::main::<adaptive_compute::AdaptiveCompute>()
}
