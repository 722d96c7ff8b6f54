//! The ledger: every claim of every paper in one place. Each paper writes
//! `results/<slug>/claims.csv` (a variant of a paper, `results/<slug>/<variant>/claims.csv`);
//! [`collect`] gathers them all and [`Ledger::save`] writes `results/claims.csv` (the same columns
//! with a leading `source`, the folder the row came from) and `results/claims.md`.
//! `cargo xtask claims` does both and prints the Markdown.

use crate::claim::{markdown_rows, read_claims, Claim, ClaimsFile, HEADER, LEGEND};
use crate::error::{Error, Result};
use crate::files::{csv_text, write_atomic};
use crate::verdict::Verdict;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One `claims.csv` folded into the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The folder under `results/`, e.g. `simpo` or `simpo/oracle-ranked`.
    pub folder: String,
    pub claims: Vec<Claim>,
}

#[derive(Debug, Default)]
pub struct Ledger {
    pub sources: Vec<Source>,
    /// `claims.csv` files not in the ledger format, with the reason.
    pub other_format: Vec<(String, String)>,
}

/// Read every `results/*/claims.csv` and `results/*/*/claims.csv` (sorted by folder). A file in
/// the ledger format with a bad row is an error naming the file and line; a file in another format
/// (written before the ledger) is listed in [`Ledger::other_format`].
pub fn collect(results: &Path) -> Result<Ledger> {
    let mut files: Vec<(String, PathBuf)> = vec![];
    for slug in sorted_dirs(results)? {
        let name = slug.file_name().unwrap_or_default().to_string_lossy().to_string();
        if slug.join("claims.csv").is_file() {
            files.push((name.clone(), slug.join("claims.csv")));
        }
        for variant in sorted_dirs(&slug)? {
            if variant.join("claims.csv").is_file() {
                files.push((format!("{name}/{}", variant.file_name().unwrap_or_default().to_string_lossy()), variant.join("claims.csv")));
            }
        }
    }
    let mut ledger = Ledger::default();
    for (folder, path) in files {
        match read_claims(&path)? {
            ClaimsFile::Ledger(claims) => ledger.sources.push(Source { folder, claims }),
            ClaimsFile::OtherFormat { header } => {
                let slug = folder.split('/').next().unwrap_or(&folder).to_string();
                ledger.other_format.push((
                    format!("results/{folder}/claims.csv"),
                    format!("columns {} are not the ledger's (a table from before the ledger, single-run directions without intervals); regenerate it with `cargo xtask reproduce {slug}`", header.join(",")),
                ));
            }
        }
    }
    Ok(ledger)
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = vec![];
    for e in rd {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        if p.is_dir() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

impl Ledger {
    /// Every claim with its source folder.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &Claim)> {
        self.sources.iter().flat_map(|s| s.claims.iter().map(move |c| (s.folder.as_str(), c)))
    }

    /// How many claims have each verdict.
    pub fn counts(&self) -> BTreeMap<Verdict, usize> {
        let mut m = BTreeMap::new();
        for (_, c) in self.rows() {
            *m.entry(c.verdict).or_default() += 1;
        }
        m
    }

    /// `results/claims.csv`: `source` then the claims columns.
    pub fn to_csv(&self) -> String {
        let header = std::iter::once("source".to_string()).chain(HEADER.iter().map(|s| s.to_string())).collect();
        let rows = self.rows().map(|(folder, c)| std::iter::once(folder.to_string()).chain(c.fields()).collect());
        csv_text(std::iter::once(header).chain(rows))
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::from("# The claims ledger\n\nEvery claim of every implemented paper, collected from `results/*/claims.csv` by `cargo xtask claims` (do not edit by hand). How a verdict is decided: `shared/README.md`, \"How claims are decided\".\n\n");
        let counts = self.counts();
        let total: usize = counts.values().sum();
        let parts: Vec<String> = Verdict::ALL.iter().filter_map(|v| counts.get(v).map(|n| format!("{n} {}", v.name()))).collect();
        s.push_str(&format!("{total} claims: {}.\n\n", if parts.is_empty() { "none yet".into() } else { parts.join(", ") }));
        for src in &self.sources {
            let cmd = src.claims.first().map(|c| c.command.as_str()).unwrap_or("");
            s.push_str(&format!("## `{}`\n\nRegenerate: `{cmd}`\n\n{}\n", src.folder, markdown_rows(&src.claims)));
        }
        if !self.other_format.is_empty() {
            s.push_str("## Not in the ledger yet\n\n");
            for (file, why) in &self.other_format {
                s.push_str(&format!("- `{file}`: {why}\n"));
            }
            s.push('\n');
        }
        s.push_str(LEGEND);
        s
    }

    /// Write `<results>/claims.csv` and `<results>/claims.md` atomically.
    pub fn save(&self, results: &Path) -> Result<()> {
        write_atomic(&results.join("claims.csv"), self.to_csv().as_bytes())?;
        write_atomic(&results.join("claims.md"), self.to_markdown().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::Claims;

    #[test]
    fn collects_every_paper_and_reports_other_formats() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let mut a = Claims::new("lc-alpacaeval", "cargo xtask reproduce lc-alpacaeval");
        a.exact("raw", "raw WR equals the leaderboard", "max |diff|", 0.0, 0.0, 0.005).unwrap();
        a.save(&r.join("lc-alpacaeval")).unwrap();
        let mut b = Claims::new("simpo", "cargo xtask reproduce simpo --config x");
        b.exact("x", "a, \"quoted\" claim", "m", 1.0, 2.0, 0.5).unwrap();
        b.save(&r.join("simpo/oracle-ranked")).unwrap();
        std::fs::create_dir_all(r.join("sppo")).unwrap();
        std::fs::write(r.join("sppo/claims.csv"), "claim,paper,miniature,held\nx,y,z,yes\n").unwrap();
        std::fs::create_dir_all(r.join("world")).unwrap();
        let l = collect(r).unwrap();
        assert_eq!(l.sources.iter().map(|s| s.folder.as_str()).collect::<Vec<_>>(), ["lc-alpacaeval", "simpo/oracle-ranked"]);
        assert_eq!(l.other_format.len(), 1);
        assert!(l.other_format[0].0.contains("results/sppo/claims.csv") && l.other_format[0].1.contains("cargo xtask reproduce sppo"));
        l.save(r).unwrap();
        let csv = std::fs::read_to_string(r.join("claims.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("source,paper,id,"));
        assert!(lines[1].starts_with("lc-alpacaeval,lc-alpacaeval,raw,"));
        assert!(lines[2].starts_with("simpo/oracle-ranked,simpo,x,\"a, \"\"quoted\"\" claim\""), "{}", lines[2]);
        let md = std::fs::read_to_string(r.join("claims.md")).unwrap();
        assert!(md.contains("2 claims: 1 reproduced, 1 not reproduced."), "{md}");
        assert!(md.contains("## Not in the ledger yet"));
        // The ledger file itself is not collected as a paper (it sits in results/, not below).
        assert_eq!(collect(r).unwrap().sources.len(), 2);
        // A bad row in a ledger-format file is an error naming it.
        let bad = std::fs::read_to_string(r.join("lc-alpacaeval/claims.csv")).unwrap().replace(",reproduced,", ",held,");
        std::fs::write(r.join("lc-alpacaeval/claims.csv"), bad).unwrap();
        let e = collect(r).unwrap_err().to_string();
        assert!(e.contains("lc-alpacaeval/claims.csv, line 2"), "{e}");
    }
}
