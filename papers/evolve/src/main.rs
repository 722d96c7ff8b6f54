//! `cargo xtask reproduce evolve [--scale smoke|mini] [--seed S --seeds N]`: regenerate the tables.

fn main() {
    shared::driver::main::<evolve::Evolve>()
}
