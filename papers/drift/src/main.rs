//! `cargo xtask reproduce drift [--scale smoke|mini] [--seed S --seeds N]`: regenerate the DRIFT tables.

fn main() {
    shared::driver::main::<drift::Drift>()
}
