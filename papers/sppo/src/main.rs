//! `cargo xtask reproduce sppo [--scale smoke|mini]`: regenerate the SPPO tables.

fn main() {
    shared::driver::main::<shared::nash::family::Nash<sppo::Sppo>>()
}
