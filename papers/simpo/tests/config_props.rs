//! Property tests: SimPO's TOML configs (the miniature's and the paper settings'), fed arbitrary
//! bytes, truncated prefixes and lightly edited copies of the committed files, load and validate
//! or fail with an error naming the file; never a panic.

#[path = "../../../shared/tests/props/mod.rs"]
mod props;

use props::{config, corrupted_text, names};
use proptest::prelude::*;
use simpo::{config::PaperConfig, mini::MiniConfig};
use std::path::Path;

fn committed(rel: &str) -> String {
    std::fs::read_to_string(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/configs")).join(rel)).unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mini_config(bytes in corrupted_text(&committed("smoke.toml"))) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("smoke.toml");
        std::fs::write(&file, &bytes).unwrap();
        if let Err(e) = MiniConfig::load(&file) {
            names(&format!("{e:#}"), &file)?;
        }
    }

    #[test]
    fn paper_config(bytes in corrupted_text(&committed("paper/llama3-instruct.toml"))) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("llama3-instruct.toml");
        std::fs::write(&file, &bytes).unwrap();
        if let Err(e) = PaperConfig::load(&file) {
            names(&format!("{e:#}"), &file)?;
        }
    }
}
