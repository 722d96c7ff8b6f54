//! `cargo xtask reproduce tgdpo [--scale smoke|mini] [--seed S --seeds N]`: regenerate the TGDPO

fn main() {
    shared::driver::main::<tgdpo::Tgdpo>()
}
