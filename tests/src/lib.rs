//! Workspace-level tests live in `tests/tests/`: each paper's smoke pipeline run
//! end to end, its tables compared with insta snapshots.

use std::path::Path;

/// The claims of a `claims.csv`, which must be in the ledger format.
pub fn ledger_claims(path: &Path) -> Vec<stats::Claim> {
    match stats::claim::read_claims(path) {
        Ok(stats::claim::ClaimsFile::Ledger(claims)) => claims,
        Ok(_) => panic!("{} is not in the ledger format", path.display()),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// The named files of `out`, each of which must exist, joined: what two runs must agree on.
pub fn joined(out: &Path, files: &[&str]) -> String {
    files.iter().map(|f| std::fs::read_to_string(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))).collect::<Vec<_>>().join("\n")
}
