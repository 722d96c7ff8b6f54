//! `cargo xtask reproduce autorule [--scale smoke|mini] [--seeds N]`: regenerate AutoRule's tables.

fn main() {
    shared::driver::main::<autorule::AutoRule>()
}
