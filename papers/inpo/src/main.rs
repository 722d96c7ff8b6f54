//! `cargo xtask reproduce inpo [--scale smoke|mini] [--seeds N]`: regenerate the INPO tables.

fn main() {
    shared::driver::main::<shared::nash::family::Nash<inpo::Inpo>>()
}
