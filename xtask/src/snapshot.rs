//! Comparing regenerated tables with the committed snapshots, byte by byte.
//!
//! The committed `results/<slug>/` files are the snapshots. Before a run the
//! runner remembers their text; after it, it prints, file by file, the lines
//! that changed. This is the test for tables recomputed from published data; a
//! trained miniature is compared within its committed intervals and verdicts
//! instead (`stats::compare`), and its changed files are only listed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub type Snapshot = BTreeMap<PathBuf, String>;

/// Text files (CSV, Markdown, JSON, TOML) under `dir`, by relative path.
pub fn take(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("csv" | "md" | "json" | "toml")) {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), text);
                }
            }
        }
    }
    out
}

/// The files whose text differs between two snapshots (new, changed or no longer written).
pub fn changed_files(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out: Vec<String> = after.iter().filter(|(p, new)| before.get(*p) != Some(*new)).map(|(p, _)| p.display().to_string()).collect();
    out.extend(before.keys().filter(|p| !after.contains_key(*p) && p.components().count() == 1).map(|p| format!("{} (no longer written)", p.display())));
    out
}

/// Print what changed between two snapshots; returns the number of changed files.
pub fn report(before: &Snapshot, after: &Snapshot) -> usize {
    let mut changed = 0;
    for (path, new) in after {
        match before.get(path) {
            None => {
                changed += 1;
                println!("  + {} (new)", path.display());
            }
            Some(old) if old != new => {
                changed += 1;
                println!("  ~ {}", path.display());
                let old_lines: Vec<&str> = old.lines().collect();
                let new_lines: Vec<&str> = new.lines().collect();
                let mut shown = 0;
                for i in 0..old_lines.len().max(new_lines.len()) {
                    let (o, n) = (old_lines.get(i), new_lines.get(i));
                    if o != n && shown < 12 {
                        if let Some(o) = o {
                            println!("      - {o}");
                        }
                        if let Some(n) = n {
                            println!("      + {n}");
                        }
                        shown += 1;
                    }
                }
                if shown == 12 {
                    println!("      ... (more lines differ; see `git diff {}`)", path.display());
                }
            }
            _ => {}
        }
    }
    for path in before.keys().filter(|p| !after.contains_key(*p)) {
        if path.components().count() == 1 {
            changed += 1;
            println!("  - {} (no longer written)", path.display());
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_changed_new_and_removed_files() {
        let mut before = Snapshot::new();
        before.insert("a.md".into(), "x\n".into());
        before.insert("b.csv".into(), "1\n".into());
        before.insert("gone.md".into(), "z\n".into());
        let mut after = before.clone();
        after.insert("b.csv".into(), "2\n".into());
        after.insert("new.md".into(), "y\n".into());
        after.remove(Path::new("gone.md"));
        assert_eq!(report(&before, &after), 3);
        assert_eq!(report(&before, &before), 0);
        assert_eq!(changed_files(&before, &after), ["b.csv", "new.md", "gone.md (no longer written)"]);
        assert!(changed_files(&before, &before).is_empty());
    }
}
