//! Snapshot check: regenerating the tables from the data gives exactly the committed
//! `results/wildbench/` files (and the exact-match claims hold).

use std::path::Path;

#[test]
fn regenerated_tables_equal_the_committed_ones() {
    shared::io::require_fetched("wildbench/leaderboard/data_dir");
    let root = shared::io::require_fetched("wildbench");
    let tmp = tempfile::tempdir().unwrap();
    let s = wildbench::pipeline::run_all(&root, tmp.path(), 0).unwrap();
    assert_eq!(s.table3_matched, (29, 29));
    assert!(s.leaderboard.iter().all(|l| l.4 == 0), "{:?}", s.leaderboard);
    assert_eq!(s.k_violations, 0);
    let m = s.head_mix_k500.map(|x| (x.unwrap() * 1000.0).round() / 1000.0);
    assert_eq!(m, [0.989, 0.975, 0.960, 0.890]);
    let committed = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../results/wildbench"));
    for stem in &s.tables {
        for ext in ["csv", "md"] {
            let name = format!("{stem}.{ext}");
            let new = std::fs::read_to_string(tmp.path().join(&name)).unwrap();
            let old = std::fs::read_to_string(committed.join(&name)).unwrap_or_else(|_| panic!("results/wildbench/{name} is not committed"));
            assert_eq!(new, old, "results/wildbench/{name} changed: rerun `cargo xtask reproduce wildbench` and review the diff");
        }
    }
}
