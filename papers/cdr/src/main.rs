//! `cargo xtask reproduce cdr [--scale smoke|mini] [--seed S --seeds N]`: regenerate the CDR
//! miniature's tables, claims and plot in `results/cdr/`.

fn main() {
    shared::driver::main::<cdr::Cdr>()
}
