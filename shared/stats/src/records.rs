//! Per-prompt records: one row per (seed, method, prompt, sample) with the metric values of that
//! one response, written beside each table as `<table>.per_prompt.csv` so that every comparison
//! can be recomputed (and re-bootstrapped) from the file alone.
//!
//! Format (header, then one row per response):
//!
//! ```text
//! seed,method,prompt,sample,<metric 1>,<metric 2>,...
//! 0,SimPO,17,0,0.62,0.81,14
//! ```
//!
//! `seed` is the seed of the whole pipeline run (pairs, training, sampling); `prompt` is a stable
//! id of the evaluation prompt (the same id means the same prompt in every seed); `sample` numbers
//! the responses drawn for that prompt. Values are finite numbers in the six-significant-digit
//! format of [`crate::files::fmt_num`]. A file above 2 MB is written gzip-compressed
//! (`.per_prompt.csv.gz`); readers take either.

use crate::error::{Error, Result};
use crate::files::{csv_rows, csv_text, fmt_num, parse_num, read_text_maybe_gz, write_csv_maybe_gz};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// The fixed leading columns of a per-prompt file.
pub const KEY_COLUMNS: [&str; 4] = ["seed", "method", "prompt", "sample"];

/// One response's metric values.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub seed: u64,
    pub method: String,
    pub prompt: String,
    pub sample: u32,
    /// One value per metric of the owning [`Records`], in its order.
    pub values: Vec<f64>,
}

/// A table's per-prompt records: the metric names and the rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Records {
    pub metrics: Vec<String>,
    pub rows: Vec<Record>,
}

/// `<dir>/<table>.per_prompt.csv` (the reader also accepts `.csv.gz`).
pub fn per_prompt_path(dir: &Path, table: &str) -> PathBuf {
    dir.join(format!("{table}.per_prompt.csv"))
}

impl Records {
    pub fn new(metrics: &[&str]) -> Self {
        Records { metrics: metrics.iter().map(|m| m.to_string()).collect(), rows: vec![] }
    }

    /// Add one response. The number of values must match the metrics, values must be finite,
    /// and a (seed, method, prompt, sample) may appear only once (checked by [`Records::validate`]).
    pub fn push(&mut self, seed: u64, method: &str, prompt: impl Into<String>, sample: u32, values: &[f64]) -> Result<()> {
        let prompt = prompt.into();
        let what = || format!("per-prompt record (seed {seed}, {method}, prompt {prompt}, sample {sample})");
        if values.len() != self.metrics.len() {
            return Err(Error::invalid(what(), format!("{} values for {} metrics {:?}", values.len(), self.metrics.len(), self.metrics)));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(what(), format!("{} is {}", self.metrics[i], values[i])));
        }
        if method.is_empty() || prompt.is_empty() {
            return Err(Error::invalid(what(), "method and prompt id must not be empty"));
        }
        self.rows.push(Record { seed, method: method.to_string(), prompt, sample, values: values.to_vec() });
        Ok(())
    }

    /// Append another set of records with the same metrics (e.g. another seed's).
    pub fn extend(&mut self, other: Records) -> Result<()> {
        if self.metrics.is_empty() && self.rows.is_empty() {
            *self = other;
            return Ok(());
        }
        if other.metrics != self.metrics {
            return Err(Error::invalid("per-prompt records", format!("cannot join metrics {:?} with {:?}", other.metrics, self.metrics)));
        }
        self.rows.extend(other.rows);
        Ok(())
    }

    /// The column index of a metric.
    pub fn metric(&self, name: &str) -> Result<usize> {
        self.metrics.iter().position(|m| m == name).ok_or_else(|| Error::invalid("per-prompt records", format!("no metric {name:?} (have {:?})", self.metrics)))
    }

    /// Methods in order of first appearance.
    pub fn methods(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.rows.iter().filter(|r| seen.insert(r.method.as_str())).map(|r| r.method.clone()).collect()
    }

    /// The seeds present, ascending.
    pub fn seeds(&self) -> Vec<u64> {
        self.rows.iter().map(|r| r.seed).collect::<BTreeSet<_>>().into_iter().collect()
    }

    /// The rows of one method (an error naming the method when it has none).
    pub fn of(&self, method: &str) -> Result<Vec<&Record>> {
        let v: Vec<&Record> = self.rows.iter().filter(|r| r.method == method).collect();
        if v.is_empty() {
            return Err(Error::invalid("per-prompt records", format!("no records of method {method:?} (have {:?})", self.methods())));
        }
        Ok(v)
    }

    /// Every (seed, method, prompt, sample) at most once; metric names distinct and not key columns.
    pub fn validate(&self) -> Result<()> {
        let mut names = HashSet::new();
        for m in &self.metrics {
            if m.is_empty() || KEY_COLUMNS.contains(&m.as_str()) || !names.insert(m) {
                return Err(Error::invalid("per-prompt records", format!("metric name {m:?} is empty, repeated or a key column")));
            }
        }
        let mut keys = HashSet::new();
        for r in &self.rows {
            if !keys.insert((r.seed, r.method.as_str(), r.prompt.as_str(), r.sample)) {
                return Err(Error::invalid("per-prompt records", format!("seed {}, {}, prompt {}, sample {} appears twice", r.seed, r.method, r.prompt, r.sample)));
            }
        }
        Ok(())
    }

    pub fn to_csv(&self) -> String {
        let header = KEY_COLUMNS.iter().map(|s| s.to_string()).chain(self.metrics.iter().cloned()).collect::<Vec<_>>();
        let rows = self.rows.iter().map(|r| {
            let mut f = vec![r.seed.to_string(), r.method.clone(), r.prompt.clone(), r.sample.to_string()];
            f.extend(r.values.iter().map(|v| fmt_num(*v)));
            f
        });
        csv_text(std::iter::once(header).chain(rows))
    }

    /// Parse a per-prompt CSV; `path` names the file in errors, which give the line at fault.
    pub fn from_csv(path: &Path, text: &str) -> Result<Self> {
        let rows = csv_rows(path, text)?;
        let Some((_, header)) = rows.first() else {
            return Err(Error::csv(path, 1, "empty file: expected the header seed,method,prompt,sample,<metrics...>"));
        };
        if header.len() < KEY_COLUMNS.len() || header[..4] != KEY_COLUMNS.map(String::from) {
            return Err(Error::csv(path, 1, format!("header {header:?} does not start with seed,method,prompt,sample")));
        }
        let mut out = Records { metrics: header[4..].to_vec(), rows: vec![] };
        out.validate().map_err(|e| Error::csv(path, 1, e.to_string()))?;
        let mut keys = HashSet::new();
        for (line, f) in &rows[1..] {
            let line = *line;
            if f.len() != header.len() {
                return Err(Error::csv(path, line, format!("{} fields, the header has {}", f.len(), header.len())));
            }
            let seed = f[0].trim().parse::<u64>().map_err(|_| Error::csv(path, line, format!("seed {:?} is not a non-negative integer", f[0])))?;
            let sample = f[3].trim().parse::<u32>().map_err(|_| Error::csv(path, line, format!("sample {:?} is not a non-negative integer", f[3])))?;
            if f[1].is_empty() || f[2].is_empty() {
                return Err(Error::csv(path, line, "empty method or prompt id"));
            }
            let values = f[4..].iter().zip(&out.metrics).map(|(s, m)| parse_num(path, line, m, s)).collect::<Result<Vec<_>>>()?;
            if !keys.insert((seed, f[1].clone(), f[2].clone(), sample)) {
                return Err(Error::csv(path, line, format!("seed {seed}, {}, prompt {}, sample {sample} appears twice", f[1], f[2])));
            }
            out.rows.push(Record { seed, method: f[1].clone(), prompt: f[2].clone(), sample, values });
        }
        Ok(out)
    }

    /// Write `<dir>/<table>.per_prompt.csv` atomically (gzip-compressed above 2 MB); returns the
    /// path written.
    pub fn save(&self, dir: &Path, table: &str) -> Result<PathBuf> {
        self.validate()?;
        write_csv_maybe_gz(&per_prompt_path(dir, table), &self.to_csv())
    }

    /// Read `<dir>/<table>.per_prompt.csv` (or its `.gz`).
    pub fn load(dir: &Path, table: &str) -> Result<Self> {
        let (real, text) = read_text_maybe_gz(&per_prompt_path(dir, table))?;
        Records::from_csv(&real, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Records {
        let mut r = Records::new(&["pref", "len"]);
        r.push(0, "A", "p1", 0, &[0.25, 12.0]).unwrap();
        r.push(0, "B, with comma", "p1", 0, &[0.125, 7.0]).unwrap();
        r.push(1, "A", "p2", 3, &[1.0 / 3.0, 9.0]).unwrap();
        r
    }

    #[test]
    fn csv_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let r = demo();
        let path = r.save(dir.path(), "table4").unwrap();
        assert_eq!(path, dir.path().join("table4.per_prompt.csv"));
        let back = Records::load(dir.path(), "table4").unwrap();
        assert_eq!(back.metrics, r.metrics);
        assert_eq!(back.rows.len(), 3);
        assert_eq!(back.rows[1].method, "B, with comma");
        assert_eq!(back.rows[2].values[0], 0.333333);
        assert_eq!(back.to_csv(), r.to_csv(), "writing what was read gives the same text");
        assert_eq!(back.methods(), vec!["A", "B, with comma"]);
        assert_eq!(back.seeds(), vec![0, 1]);
    }

    #[test]
    fn bad_input_names_file_and_line() {
        let p = Path::new("results/x/t.per_prompt.csv");
        let cases = [
            ("", "line 1"),
            ("seed,model,prompt,sample,v\n", "does not start with"),
            ("seed,method,prompt,sample,v\n0,A,p,0,0.5\n0,A,p\n", "line 3: 3 fields"),
            ("seed,method,prompt,sample,v\n-1,A,p,0,0.5\n", "line 2: seed"),
            ("seed,method,prompt,sample,v\n0,A,p,0,abc\n", "line 2: v \"abc\" is not a number"),
            ("seed,method,prompt,sample,v\n0,A,p,0,NaN\n", "not finite"),
            ("seed,method,prompt,sample,v\n0,A,p,0,1\n0,A,p,0,2\n", "line 3: seed 0, A, prompt p, sample 0 appears twice"),
            ("seed,method,prompt,sample,v,v\n", "repeated"),
        ];
        for (text, want) in cases {
            let e = Records::from_csv(p, text).unwrap_err().to_string();
            assert!(e.contains("results/x/t.per_prompt.csv") && e.contains(want), "{text:?}: {e}");
        }
        let mut r = Records::new(&["v"]);
        assert!(r.push(0, "A", "p", 0, &[f64::NAN]).unwrap_err().to_string().contains("NaN"));
        assert!(r.push(0, "A", "p", 0, &[1.0, 2.0]).is_err());
    }
}
