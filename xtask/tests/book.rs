//! The reading-group book builds from a clean clone (committed files only) with no broken link,
//! and renders its tables and plots in a real headless browser.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The mdbook that `cargo xtask test` (or `cargo xtask book`) installed into target/tools/.
fn mdbook() -> PathBuf {
    let bin = std::env::var("REPRO_MDBOOK").map(PathBuf::from).unwrap_or_else(|_| repo_root().join("target/tools/bin/mdbook"));
    assert!(bin.is_file(), "mdbook is missing at {}: run `cargo xtask book` once (it installs it) or test through `cargo xtask test`", bin.display());
    bin
}

fn clean_clone() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let st = Command::new("git").args(["clone", "--quiet"]).arg(repo_root()).arg(d.path().join("repo")).status().expect("git runs");
    assert!(st.success(), "git clone of the checkout failed");
    d
}

fn build(clone: &Path, check: bool) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.arg("book").arg("--root").arg(clone.join("repo")).arg("--out").arg(clone.join("book")).env("REPRO_MDBOOK", mdbook());
    if check {
        c.arg("--check");
    }
    let o = c.output().expect("xtask runs");
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "cargo xtask book failed:\n{out}");
    out
}

#[test]
fn the_book_builds_from_a_clean_clone_without_broken_links() {
    let d = clean_clone();
    let out = build(d.path(), false);
    assert!(out.contains("broken links: 0"), "{out}");
    let html = d.path().join("book/html");
    for page in ["index.html", "running.html", "world.html", "papers/simpo.html", "papers/simpo-results.html", "papers/lc-alpacaeval.html"] {
        assert!(html.join(page).is_file(), "{page} missing from the book:\n{out}");
    }
    let front = std::fs::read_to_string(html.join("index.html")).unwrap();
    assert!(front.contains("The claims ledger") && front.contains("<table"), "the front page lacks the claims ledger");
    let simpo = std::fs::read_to_string(html.join("papers/simpo-results.html")).unwrap();
    assert!(simpo.contains("<table") && simpo.contains("lc_winrate.svg"), "SimPO's results page lacks its table or plot");
}

#[test]
fn the_book_renders_in_headless_chromium() {
    let d = clean_clone();
    let out = build(d.path(), true);
    for shot in ["front.png", "chapter.png"] {
        let p = d.path().join("book/screenshots").join(shot);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{} not written: {e}\n{out}", p.display()));
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{shot} is not a real screenshot ({} bytes)", bytes.len());
    }
    assert!(out.contains("failed to load") && out.contains("(0 failed to load)"), "{out}");
}
