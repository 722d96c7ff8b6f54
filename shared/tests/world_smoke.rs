//! The world's whole pipeline at smoke scale: SFT base trained and cached, sampled, evaluated.
//! Same seed on the same machine gives identical tables; a second run reuses the cache (the base
//! and the on-policy DPO iterates).

use shared::cli::Scale;
use shared::world::{pipeline, WorldConfig};

#[test]
fn smoke_pipeline_is_deterministic_and_cached() {
    let cfg = WorldConfig::default();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = pipeline::run(&cfg, Scale::Smoke, 0, a.path()).unwrap();
    let second = pipeline::run(&cfg, Scale::Smoke, 0, b.path()).unwrap();
    assert!(first.base_trained && second.base_trained);
    assert_eq!(first.eval.to_csv(), second.eval.to_csv());
    assert_eq!(first.base.to_csv(), second.base.to_csv());
    // Iterative on-policy DPO from the base: one iteration at smoke scale, deterministic.
    assert_eq!(first.onpolicy.rows.len(), 2);
    assert_eq!(first.onpolicy.to_csv(), second.onpolicy.to_csv());
    assert!(first.base_dir.join("done.json").exists() && first.base_dir.join("tokenizer.json").exists());
    // The cache: the same configuration loads instead of training, and gives the same table.
    let again = pipeline::run(&cfg, Scale::Smoke, 0, a.path()).unwrap();
    assert!(!again.base_trained);
    assert_eq!(again.eval.to_csv(), first.eval.to_csv());
    assert_eq!(again.onpolicy.to_csv(), first.onpolicy.to_csv(), "the saved iterate reloads to the same table");
    // The baseline row compares the baseline with itself: about 50%.
    assert_eq!(first.eval.rows.len(), 4);
    // A different seed is a different base (different cache key).
    let other = pipeline::run(&cfg, Scale::Smoke, 1, a.path()).unwrap();
    assert_ne!(other.base_dir, first.base_dir);
}
