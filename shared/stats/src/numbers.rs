//! `numbers.csv`: every number of a results folder that a rerun is compared against, with its
//! 95% interval. Format:
//!
//! ```text
//! name,estimate,lo,hi
//! table4/base/SimPO/LC WR %,58.7,55.1,62.3
//! table4/base/SimPO/forward passes,48,,
//! ```
//!
//! `name` is unique in the file (by convention `<table>/<row>/<column>`); `lo`/`hi` are empty for a
//! number that involves no sampling, which a rerun must then match exactly (to the six
//! significant digits the file keeps). `cargo xtask reproduce` reads the committed file before
//! the run and the regenerated one after it ([`crate::compare`]).

use crate::bootstrap::Interval;
use crate::error::{Error, Result};
use crate::files::{csv_rows, csv_text, fmt_num, fmt_opt, parse_num, parse_opt_num, write_atomic};
use std::path::Path;

pub const HEADER: [&str; 4] = ["name", "estimate", "lo", "hi"];

#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    pub name: String,
    pub estimate: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Numbers {
    pub rows: Vec<Number>,
}

impl Numbers {
    pub fn new() -> Self {
        Numbers::default()
    }

    fn add(&mut self, n: Number) -> Result<()> {
        if n.name.is_empty() || self.rows.iter().any(|r| r.name == n.name) {
            return Err(Error::invalid("numbers.csv", format!("name {:?} is empty or used twice", n.name)));
        }
        if !n.estimate.is_finite() || n.lo.is_some_and(|v| !v.is_finite()) || n.hi.is_some_and(|v| !v.is_finite()) || n.lo.is_some() != n.hi.is_some() {
            return Err(Error::invalid(format!("number {:?}", n.name), format!("estimate {} [{:?}, {:?}] must be finite, with both bounds or neither", n.estimate, n.lo, n.hi)));
        }
        self.rows.push(n);
        Ok(())
    }

    /// A number with its bootstrap interval.
    pub fn push(&mut self, name: impl Into<String>, iv: &Interval) -> Result<()> {
        self.add(Number { name: name.into(), estimate: iv.estimate, lo: Some(iv.lo), hi: Some(iv.hi) })
    }

    /// A number that involves no sampling (compared exactly).
    pub fn push_exact(&mut self, name: impl Into<String>, value: f64) -> Result<()> {
        self.add(Number { name: name.into(), estimate: value, lo: None, hi: None })
    }

    pub fn get(&self, name: &str) -> Option<&Number> {
        self.rows.iter().find(|r| r.name == name)
    }

    pub fn to_csv(&self) -> String {
        let rows = self.rows.iter().map(|n| vec![n.name.clone(), fmt_num(n.estimate), fmt_opt(n.lo), fmt_opt(n.hi)]);
        csv_text(std::iter::once(HEADER.map(String::from).to_vec()).chain(rows))
    }

    pub fn from_csv(path: &Path, text: &str) -> Result<Self> {
        let rows = csv_rows(path, text)?;
        match rows.first() {
            Some((_, h)) if h.as_slice() == HEADER.map(String::from).as_slice() => {}
            Some((_, h)) => return Err(Error::csv(path, 1, format!("header {h:?} is not name,estimate,lo,hi"))),
            None => return Err(Error::csv(path, 1, "empty file: expected the header name,estimate,lo,hi")),
        }
        let mut out = Numbers::new();
        for (line, f) in &rows[1..] {
            if f.len() != 4 {
                return Err(Error::csv(path, *line, format!("{} fields, expected 4 (name,estimate,lo,hi)", f.len())));
            }
            let n = Number { name: f[0].clone(), estimate: parse_num(path, *line, "estimate", &f[1])?, lo: parse_opt_num(path, *line, "lo", &f[2])?, hi: parse_opt_num(path, *line, "hi", &f[3])? };
            out.add(n).map_err(|e| Error::csv(path, *line, e.to_string()))?;
        }
        Ok(out)
    }

    /// Write `<dir>/numbers.csv` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join("numbers.csv"), self.to_csv().as_bytes())
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Numbers::from_csv(path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_rows() {
        let mut n = Numbers::new();
        n.add(Number { name: "t/a, b/LC".into(), estimate: 58.71234, lo: Some(55.0), hi: Some(62.0) }).unwrap();
        n.push_exact("t/a/passes", 48.0).unwrap();
        assert!(n.push_exact("t/a/passes", 1.0).is_err(), "duplicate name");
        assert!(n.push_exact("x", f64::NAN).is_err());
        let dir = tempfile::tempdir().unwrap();
        n.save(dir.path()).unwrap();
        let back = Numbers::load(&dir.path().join("numbers.csv")).unwrap();
        assert_eq!(back.get("t/a, b/LC").unwrap().estimate, 58.7123);
        assert_eq!(back.to_csv(), n.to_csv());
        let p = Path::new("results/simpo/numbers.csv");
        for (text, want) in [
            ("name,value\n", "line 1"),
            ("name,estimate,lo,hi\nx,1,0\n", "line 2: 3 fields"),
            ("name,estimate,lo,hi\nx,one,,\n", "estimate \"one\""),
            ("name,estimate,lo,hi\nx,1,0,\n", "both bounds or neither"),
            ("name,estimate,lo,hi\nx,1,,\nx,2,,\n", "line 3"),
        ] {
            let e = Numbers::from_csv(p, text).unwrap_err().to_string();
            assert!(e.contains("results/simpo/numbers.csv") && e.contains(want), "{want}: {e}");
        }
    }
}
