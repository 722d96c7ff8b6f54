//! `cargo xtask reproduce par [--scale smoke|mini] [--seeds N]`: regenerate PAR's tables.

fn main() {
    shared::driver::main::<par::Par>()
}
