//! Workspace-level tests live in `tests/tests/`: each paper's smoke pipeline run
//! end to end, its tables compared with insta snapshots.
