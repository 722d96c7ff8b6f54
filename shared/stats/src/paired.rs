//! Paired differences: two methods scored on the same evaluation units (seed, prompt, sample).
//!
//! A comparison between methods A and B is a difference on each shared unit, not a difference of
//! two independent means: the prompt's difficulty (and, within a seed, the shared SFT base and
//! pair data) cancels in `a - b`, which is what makes a paired interval narrow.

use crate::error::{Error, Result};
use crate::records::{Record, Records};
use std::collections::HashMap;

/// Both methods' metric values on one unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub seed: u64,
    pub prompt: String,
    pub sample: u32,
    /// A's values, one per metric of the owning [`Paired`].
    pub a: Vec<f64>,
    /// B's values on the same unit.
    pub b: Vec<f64>,
}

impl Pair {
    /// `a - b` of metric column `m`.
    pub fn diff(&self, m: usize) -> f64 {
        self.a[m] - self.b[m]
    }
}

/// Methods A and B matched unit by unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Paired {
    pub a: String,
    pub b: String,
    pub metrics: Vec<String>,
    /// In the order of A's records.
    pub pairs: Vec<Pair>,
}

impl Paired {
    pub fn metric(&self, name: &str) -> Result<usize> {
        self.metrics.iter().position(|m| m == name).ok_or_else(|| Error::invalid(format!("{} vs {}", self.a, self.b), format!("no metric {name:?} (have {:?})", self.metrics)))
    }
    /// Every unit's `a - b` of a metric.
    pub fn diffs(&self, name: &str) -> Result<Vec<f64>> {
        let m = self.metric(name)?;
        Ok(self.pairs.iter().map(|p| p.diff(m)).collect())
    }
    /// The mean difference `mean(a - b)` of a metric over all units.
    pub fn mean_diff(&self, name: &str) -> Result<f64> {
        let d = self.diffs(name)?;
        Ok(d.iter().sum::<f64>() / d.len() as f64)
    }
}

/// Match A's and B's records unit by unit. Both must cover exactly the same (seed, prompt,
/// sample) units: a unit one method has and the other lacks is an error naming it, since a
/// difference over different prompts or seeds is not paired.
pub fn paired(records: &Records, a: &str, b: &str) -> Result<Paired> {
    let what = || format!("pairing {a} with {b}");
    if a == b {
        return Err(Error::invalid(what(), "a method cannot be paired with itself"));
    }
    let ra = records.of(a)?;
    let rb = records.of(b)?;
    let key = |r: &Record| (r.seed, r.prompt.clone(), r.sample);
    let by_b: HashMap<_, &Record> = rb.iter().map(|r| (key(r), *r)).collect();
    if by_b.len() != rb.len() {
        return Err(Error::invalid(what(), format!("{b} has a unit twice")));
    }
    let mut pairs = Vec::with_capacity(ra.len());
    for r in &ra {
        let other = by_b.get(&key(r)).ok_or_else(|| Error::invalid(what(), format!("{b} has no record for seed {}, prompt {}, sample {} (the methods must be scored on the same units)", r.seed, r.prompt, r.sample)))?;
        pairs.push(Pair { seed: r.seed, prompt: r.prompt.clone(), sample: r.sample, a: r.values.clone(), b: other.values.clone() });
    }
    if rb.len() != ra.len() {
        let in_a: std::collections::HashSet<_> = ra.iter().map(|r| key(r)).collect();
        let extra = rb.iter().find(|r| !in_a.contains(&key(r))).expect("B has more units than A, so one is not in A");
        return Err(Error::invalid(what(), format!("{a} has no record for seed {}, prompt {}, sample {} (the methods must be scored on the same units)", extra.seed, extra.prompt, extra.sample)));
    }
    Ok(Paired { a: a.to_string(), b: b.to_string(), metrics: records.metrics.clone(), pairs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_by_unit_and_refuses_unmatched_units() {
        let mut r = Records::new(&["v"]);
        r.push(0, "A", "p1", 0, &[3.0]).unwrap();
        r.push(0, "A", "p2", 0, &[5.0]).unwrap();
        r.push(0, "B", "p2", 0, &[1.0]).unwrap();
        r.push(0, "B", "p1", 0, &[2.0]).unwrap();
        let p = paired(&r, "A", "B").unwrap();
        assert_eq!(p.diffs("v").unwrap(), vec![1.0, 4.0]);
        assert_eq!(p.mean_diff("v").unwrap(), 2.5);
        r.push(1, "B", "p1", 0, &[2.0]).unwrap();
        let e = paired(&r, "A", "B").unwrap_err().to_string();
        assert!(e.contains("A has no record for seed 1, prompt p1"), "{e}");
        let e = paired(&r, "B", "A").unwrap_err().to_string();
        assert!(e.contains("A has no record for seed 1, prompt p1"), "{e}");
        assert!(paired(&r, "A", "C").unwrap_err().to_string().contains("no records of method \"C\""));
    }
}
