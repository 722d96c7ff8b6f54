//! The training metric log: one CSV row per logged step, columns fixed when the log is created.
//!
//! Rows are appended with one `write` each and flushed, so a crash loses at most the row being
//! written. Resuming from a checkpoint at step `s` calls [`MetricLog::resume`], which rewrites the
//! file atomically keeping only rows with `step ≤ s`, so a resumed run never duplicates steps.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct MetricLog {
    path: PathBuf,
    columns: Vec<String>,
    file: File,
}

fn fmt(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.8e}")
    }
}

impl MetricLog {
    /// Start a fresh log (the first column is always `step`).
    pub fn create(path: &Path, columns: &[&str]) -> Result<Self> {
        let columns: Vec<String> = std::iter::once("step").chain(columns.iter().copied().filter(|c| *c != "step")).map(String::from).collect();
        crate::io::write_atomic(path, format!("{}\n", columns.join(",")).as_bytes())?;
        Self::open(path, columns)
    }

    fn open(path: &Path, columns: Vec<String>) -> Result<Self> {
        let file = OpenOptions::new().append(true).open(path).map_err(|e| Error::io(path, e))?;
        Ok(MetricLog { path: path.to_path_buf(), columns, file })
    }

    /// Continue a log after resuming at `step`: rows after `step` (from the interrupted run) are dropped.
    /// A missing file or a different header starts a fresh log.
    pub fn resume(path: &Path, columns: &[&str], step: u64) -> Result<Self> {
        let Ok(text) = std::fs::read_to_string(path) else { return Self::create(path, columns) };
        let want: Vec<String> = std::iter::once("step").chain(columns.iter().copied().filter(|c| *c != "step")).map(String::from).collect();
        let mut lines = text.lines();
        if lines.next() != Some(want.join(",").as_str()) {
            return Self::create(path, columns);
        }
        let mut kept = format!("{}\n", want.join(","));
        for line in lines {
            let s = line.split(',').next().and_then(|s| s.parse::<u64>().ok());
            match s {
                Some(s) if s <= step && line.split(',').count() == want.len() => {
                    kept.push_str(line);
                    kept.push('\n');
                }
                _ => {}
            }
        }
        crate::io::write_atomic(path, kept.as_bytes())?;
        Self::open(path, want)
    }

    /// Append one row; `values` must name every column but `step`, in any order.
    pub fn log(&mut self, step: u64, values: &[(&str, f64)]) -> Result<()> {
        let mut row = vec![step.to_string()];
        for col in &self.columns[1..] {
            let v = values.iter().find(|(k, _)| k == col).ok_or_else(|| {
                Error::invalid(self.path.display().to_string(), format!("metric row for step {step} lacks column `{col}`"))
            })?;
            row.push(fmt(v.1));
        }
        if let Some((k, _)) = values.iter().find(|(k, _)| !self.columns.iter().any(|c| c == k)) {
            return Err(Error::invalid(self.path.display().to_string(), format!("metric `{k}` is not a column of this log")));
        }
        let line = format!("{}\n", row.join(","));
        self.file.write_all(line.as_bytes()).map_err(|e| Error::io(&self.path, e))?;
        self.file.flush().map_err(|e| Error::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_then_resume_drops_later_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        let mut log = MetricLog::create(&p, &["loss", "lr"]).unwrap();
        for s in 1..=4 {
            log.log(s, &[("lr", 0.5), ("loss", s as f64 / 4.0)]).unwrap();
        }
        drop(log);
        let mut log = MetricLog::resume(&p, &["loss", "lr"], 2).unwrap();
        log.log(3, &[("loss", 9.0), ("lr", 1e-4)]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "step,loss,lr\n1,2.50000000e-1,5.00000000e-1\n2,5.00000000e-1,5.00000000e-1\n3,9,1.00000000e-4\n");
        let err = log.log(4, &[("loss", 1.0)]).unwrap_err().to_string();
        assert!(err.contains("lacks column `lr`"), "{err}");
        let err = log.log(4, &[("loss", 1.0), ("lr", 1.0), ("acc", 1.0)]).unwrap_err().to_string();
        assert!(err.contains("`acc`"), "{err}");
    }
}
