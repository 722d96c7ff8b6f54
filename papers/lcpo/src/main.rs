//! `cargo xtask reproduce lcpo [--scale smoke|mini] [--seed S --seeds N]`: regenerate the LCPO

fn main() {
    shared::driver::main::<lcpo::Lcpo>()
}
