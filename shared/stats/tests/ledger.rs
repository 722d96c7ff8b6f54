//! The committed ledger is what the papers' committed claims give: every `results/*/claims.csv`
//! in the ledger format parses (verdicts recomputed from their numbers), and `results/claims.csv`
//! equals their collection.

use std::path::Path;

#[test]
fn committed_ledger_matches_the_papers_claims() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results");
    let ledger = stats::ledger::collect(&results).unwrap_or_else(|e| panic!("a committed claims.csv is malformed: {e}"));
    let committed = std::fs::read_to_string(results.join("claims.csv")).expect("results/claims.csv is committed (run `cargo xtask claims`)");
    assert_eq!(ledger.to_csv(), committed, "results/claims.csv is stale: run `cargo xtask claims` and commit results/claims.{{csv,md}}");
}
