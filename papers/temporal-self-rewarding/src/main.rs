//! `cargo xtask reproduce temporal-self-rewarding [--scale smoke|mini] [--seed S --seeds N]`: regenerate the tables.

fn main() {
    shared::driver::main::<tsr::Tsr>()
}
