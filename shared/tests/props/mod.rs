//! Byte strategies for the loader property tests (shared by the crates' `loader_props.rs`
//! through `#[path]`): arbitrary bytes, truncated prefixes of a valid file, a valid file with a
//! few bytes overwritten, and (for text) a valid file with a few digits changed, which keeps it
//! parseable and moves its numbers into ranges a loader must validate.

#![allow(dead_code)]

use proptest::prelude::*;

/// Cases per property in the suite: few enough that each file runs in seconds.
pub const CASES: u32 = 64;

/// The suite draws the same cases every run (a fixed seed, so a red CI run reproduces). A hunt
/// for new failures draws fresh ones: `PROPTEST_CASES=5000 PROPTEST_RNG_SEED=<any u64> cargo
/// test --release --test loader_props`.
pub fn config() -> ProptestConfig {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    ProptestConfig {
        cases: env("PROPTEST_CASES").map_or(CASES, |c| c as u32),
        rng_seed: proptest::test_runner::RngSeed::Fixed(env("PROPTEST_RNG_SEED").unwrap_or(20_240_601)),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary bytes, truncated prefixes of `valid`, and `valid` with 1–8 bytes overwritten.
pub fn corrupted(valid: Vec<u8>) -> BoxedStrategy<Vec<u8>> {
    let n = valid.len();
    let (a, b) = (valid.clone(), valid);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        (0..=n).prop_map(move |k| a[..k].to_vec()),
        prop::collection::vec((0..n.max(1), any::<u8>()), 1..8).prop_map(move |edits| {
            let mut v = b.clone();
            for (i, x) in edits {
                if i < v.len() {
                    v[i] = x;
                }
            }
            v
        }),
    ]
    .boxed()
}

/// [`corrupted`], plus `valid` with 1–4 of its ASCII digits replaced (a text file that still
/// parses, with numbers out of the usual range: zero sizes, huge counts, flipped signs' digits).
pub fn corrupted_text(valid: &str) -> BoxedStrategy<Vec<u8>> {
    let bytes = valid.as_bytes().to_vec();
    let digits: Vec<usize> = bytes.iter().enumerate().filter(|(_, c)| c.is_ascii_digit()).map(|(i, _)| i).collect();
    if digits.is_empty() {
        return corrupted(bytes);
    }
    let d = digits.len();
    let b = bytes.clone();
    prop_oneof![
        corrupted(bytes),
        prop::collection::vec((0..d, 0u8..10), 1..4).prop_map(move |edits| {
            let mut v = b.clone();
            for (k, x) in edits {
                v[digits[k]] = b'0' + x;
            }
            v
        }),
    ]
    .boxed()
}

/// A loader's error must name the file it read.
pub fn names(err: &impl std::fmt::Display, file: &std::path::Path) -> Result<(), TestCaseError> {
    let e = err.to_string();
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    prop_assert!(e.contains(&name), "the error does not name {name}: {e}");
    Ok(())
}
