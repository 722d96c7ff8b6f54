//! `results/nash/` is recomputed from the committed per-prompt records of SPPO, DNO and INPO with
//! no training, so a rerun must give the committed files byte for byte. Fails when the records or
//! the comparison are missing (run `cargo xtask reproduce {sppo,dno,inpo} --seeds 3` and
//! `cargo xtask compare nash`).

use std::path::Path;

#[test]
fn nash_comparison_regenerates_the_committed_files() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let c = shared::nash::compare::load(&results).expect("the committed sppo/dno/inpo records");
    assert_eq!(c.iterations, 3);
    assert_eq!(c.seeds, vec![0, 1, 2]);
    let dir = tempfile::tempdir().unwrap();
    c.save(dir.path()).unwrap();
    for f in ["compare.md", "compare.csv", "pairwise.md", "pairwise.csv", "numbers.csv", "wr_iterations.svg"] {
        let fresh = std::fs::read(dir.path().join(f)).unwrap();
        let committed = std::fs::read(results.join("nash").join(f)).unwrap_or_else(|e| panic!("results/nash/{f}: {e} (run `cargo xtask compare nash`)"));
        assert!(fresh == committed, "results/nash/{f} differs from its recomputation; rerun `cargo xtask compare nash` and commit");
    }
}
