//! Seeds of a whole pipeline run: `--seed S --seeds N` means seeds S, S+1, ..., S+N-1, each
//! driving every random number generator of one complete run (pair data, training, sampling at
//! evaluation). [`gather`] runs a per-seed closure over them and joins the per-prompt records.

use crate::error::{Error, Result};
use crate::records::Records;

/// The first seed and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    pub first: u64,
    pub count: u64,
}

impl Seeds {
    pub fn new(first: u64, count: u64) -> Result<Self> {
        if count == 0 {
            return Err(Error::invalid("--seeds", "must be at least 1"));
        }
        if first.checked_add(count - 1).is_none() {
            return Err(Error::invalid("--seeds", format!("seeds {first}.. plus {count} overflow u64")));
        }
        Ok(Seeds { first, count })
    }

    pub fn list(&self) -> Vec<u64> {
        (self.first..=self.first + (self.count - 1)).collect()
    }

    /// For `run.md`: `0` or `0, 1, 2 (3 seeds)`.
    pub fn describe(&self) -> String {
        describe(&self.list())
    }
}

/// `0` for one seed, `0, 1, 2 (3 seeds)` for several.
pub fn describe(seeds: &[u64]) -> String {
    match seeds {
        [one] => one.to_string(),
        many => format!("{} ({} seeds)", many.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "), many.len()),
    }
}

/// Run `run` once per seed, in order, and join the per-prompt records each returns. Every record
/// must carry the seed it was produced under (a record with another seed is an error: it would
/// silently mix runs). Each seed's metrics must be the same.
pub fn gather<E: From<Error>>(seeds: &[u64], mut run: impl FnMut(u64) -> std::result::Result<Records, E>) -> std::result::Result<Records, E> {
    let mut all = Records::default();
    for (i, &seed) in seeds.iter().enumerate() {
        eprintln!("==> seed {seed} ({} of {})", i + 1, seeds.len());
        let r = run(seed)?;
        if let Some(bad) = r.rows.iter().find(|x| x.seed != seed) {
            return Err(Error::invalid(format!("seed {seed}"), format!("the run returned a record of seed {} ({}, prompt {})", bad.seed, bad.method, bad.prompt)).into());
        }
        all.extend(r)?;
    }
    all.validate()?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_from_the_command_line() {
        assert_eq!(Seeds::new(5, 3).unwrap().list(), vec![5, 6, 7]);
        assert_eq!(Seeds::new(0, 1).unwrap().describe(), "0");
        assert_eq!(Seeds::new(0, 3).unwrap().describe(), "0, 1, 2 (3 seeds)");
        assert!(Seeds::new(0, 0).is_err());
        assert!(Seeds::new(u64::MAX, 2).is_err());
        assert_eq!(Seeds::new(u64::MAX, 1).unwrap().list(), vec![u64::MAX]);
    }

    #[test]
    fn gather_joins_and_checks_seeds() {
        let run = |seed: u64| -> Result<Records> {
            let mut r = Records::new(&["v"]);
            r.push(seed, "A", "p1", 0, &[seed as f64])?;
            Ok(r)
        };
        let all = gather(&[3, 4], run).unwrap();
        assert_eq!(all.seeds(), vec![3, 4]);
        let wrong = |_seed: u64| -> Result<Records> {
            let mut r = Records::new(&["v"]);
            r.push(0, "A", "p1", 0, &[1.0])?;
            Ok(r)
        };
        assert!(gather(&[1], wrong).unwrap_err().to_string().contains("returned a record of seed 0"));
    }
}
