//! Property tests: SPPO's TOML config, fed arbitrary bytes, truncated prefixes and lightly
//! edited copies of the committed file, loads and validates or fails with an error naming the
//! file; never a panic.

#[path = "../../../shared/tests/props/mod.rs"]
mod props;

use props::{config, corrupted_text, names};
use proptest::prelude::*;
use sppo::config::MiniConfig;
use std::path::Path;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mini_config(bytes in corrupted_text(&std::fs::read_to_string(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/mini.toml"))).unwrap())) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mini.toml");
        std::fs::write(&file, &bytes).unwrap();
        if let Err(e) = MiniConfig::load(&file) {
            names(&format!("{e:#}"), &file)?;
        }
    }
}
