//! `cargo xtask reproduce dno [--scale smoke|mini] [--seeds N]`: regenerate the DNO tables.

fn main() {
    shared::driver::main::<shared::nash::family::Nash<dno::Dno>>()
}
